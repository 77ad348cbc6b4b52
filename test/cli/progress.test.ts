import { describe, expect, it } from 'vitest';
import { fmtTime, Progress } from '../../src/cli/progress.js';

function sink(isTTY: boolean) {
  const out: string[] = [];
  return { out, stream: { isTTY, columns: 100, write: (s: string) => out.push(s) } };
}

describe('progress', () => {
  it('plain mode writes periodic log lines with done/total, ETA and the stats', () => {
    const s = sink(false);
    const p = new Progress(s.stream, 'auto', 0);
    p.update({ phase: 'eps 4/255', done: 2, total: 8, stats: { 'worst acc': '41.0%' } });
    expect(s.out.join('')).toMatch(/eps 4\/255: 2\/8 · \d+s elapsed · ETA \d+s · worst acc 41\.0%\n$/);
  });
  it('a TTY gets one rewritten bar line, ended by finish()', () => {
    const s = sink(true);
    const p = new Progress(s.stream, 'auto');
    p.update({ phase: 'x', done: 4, total: 8 }, true);
    expect(s.out[0]).toMatch(/^\rx \[#{12}\.{12}\] 4\/8/);
    p.finish();
    expect(s.out[s.out.length - 1]).toBe('\n');
  });
  it('--json writes one JSON object per update; --quiet nothing', () => {
    const s = sink(true);
    new Progress(s.stream, 'json', 0).update({ phase: 'p', done: 1, total: 4 });
    expect(JSON.parse(s.out[0])).toMatchObject({ event: 'progress', phase: 'p', done: 1, total: 4 });
    const q = sink(true);
    const qp = new Progress(q.stream, 'quiet');
    qp.update({ phase: 'p', done: 1, total: 4 }, true);
    qp.log('hello');
    expect(q.out).toEqual([]);
  });
  it('formats durations', () => {
    expect(fmtTime(42)).toBe('42s');
    expect(fmtTime(125)).toBe('2m05s');
    expect(fmtTime(3 * 3600 + 600)).toBe('3h10m');
  });
});
