// Progress for long commands: a one-line bar with ETA and the running robust accuracy on a TTY,
// plain periodic log lines otherwise, one JSON object per update with --json, nothing with --quiet.
import type { Out } from './common.js';

export type ProgressMode = 'auto' | 'quiet' | 'json';

export interface ProgressState {
  /** What is being done, e.g. 'eps 4/255 apgd-prr:js-avg'. */
  phase: string;
  done: number;
  total: number;
  /** Extra figures shown after the bar, e.g. { 'robust acc': '41.2%' }. */
  stats?: Record<string, string | number>;
}

export class Progress {
  private readonly start = Date.now();
  private lastPrint = 0;
  private lastLen = 0;
  private readonly tty: boolean;

  constructor(
    private readonly out: Out & { isTTY?: boolean; columns?: number },
    private readonly mode: ProgressMode = 'auto',
    /** Minimum milliseconds between plain log lines. */
    private readonly interval = 10_000,
  ) {
    this.tty = mode === 'auto' && out.isTTY === true;
  }

  update(s: ProgressState, force = false): void {
    if (this.mode === 'quiet') return;
    const now = Date.now();
    const elapsed = (now - this.start) / 1000;
    const frac = s.total > 0 ? Math.min(1, s.done / s.total) : 0;
    const eta = frac > 0 ? (elapsed / frac) * (1 - frac) : Number.NaN;
    if (this.mode === 'json') {
      if (!force && now - this.lastPrint < this.interval) return;
      this.lastPrint = now;
      this.out.write(
        `${JSON.stringify({ event: 'progress', phase: s.phase, done: s.done, total: s.total, elapsedSeconds: round(elapsed), etaSeconds: Number.isFinite(eta) ? round(eta) : null, ...s.stats })}\n`,
      );
      return;
    }
    const stats = Object.entries(s.stats ?? {})
      .map(([k, v]) => `${k} ${v}`)
      .join(' · ');
    const tail = `${s.done}/${s.total} · ${fmtTime(elapsed)} elapsed · ETA ${Number.isFinite(eta) ? fmtTime(eta) : '?'}${stats ? ` · ${stats}` : ''}`;
    if (this.tty) {
      if (!force && now - this.lastPrint < 100) return;
      this.lastPrint = now;
      const width = 24;
      const filled = Math.round(frac * width);
      const line = `${s.phase} [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${tail}`.slice(0, (this.out.columns ?? 120) - 1);
      this.out.write(`\r${line}${' '.repeat(Math.max(0, this.lastLen - line.length))}`);
      this.lastLen = line.length;
      return;
    }
    if (!force && now - this.lastPrint < this.interval) return;
    this.lastPrint = now;
    this.out.write(`[${new Date(now).toISOString().slice(11, 19)}] ${s.phase}: ${tail}\n`);
  }

  /** Ends the bar line (TTY) so later output starts on a new line. */
  finish(): void {
    if (this.tty && this.lastLen > 0) this.out.write('\n');
    this.lastLen = 0;
  }

  /** A message that should not be mangled by the bar. */
  log(msg: string): void {
    if (this.mode === 'quiet') return;
    if (this.mode === 'json') {
      this.out.write(`${JSON.stringify({ event: 'log', message: msg })}\n`);
      return;
    }
    this.finish();
    this.out.write(`${msg}\n`);
  }
}

function round(x: number): number {
  return Math.round(x * 10) / 10;
}

export function fmtTime(sec: number): string {
  if (sec < 60) return `${sec.toFixed(0)}s`;
  if (sec < 3600) return `${Math.floor(sec / 60)}m${String(Math.floor(sec % 60)).padStart(2, '0')}s`;
  return `${Math.floor(sec / 3600)}h${String(Math.floor((sec % 3600) / 60)).padStart(2, '0')}m`;
}
