// Number formatting shared by the tables, captions and plots of the report.

/** A fraction in [0,1] as a percentage with one decimal; '—' when absent or not finite. */
export function pct(x: number | null | undefined): string {
  return typeof x === 'number' && Number.isFinite(x) ? `${(100 * x).toFixed(1)}%` : '—';
}

/** Strips binary floating-point noise (0.30000000000000004 -> 0.3) for display. */
function clean(x: number): string {
  return String(Number(x.toPrecision(6)));
}

/** A radius as the user gave it: '4/255' for the default linf unit, the plain number otherwise. */
export function fmtEps(eps: number, unit: '1/255' | 'abs'): string {
  return unit === '1/255' && eps !== 0 ? `${clean(eps)}/255` : clean(eps);
}

export function fmtSeconds(s: number): string {
  if (!Number.isFinite(s)) return '—';
  if (s < 60) return `${s < 10 ? s.toFixed(2) : s.toFixed(1)} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min ${Math.round(s - 60 * m)} s`;
  return `${Math.floor(m / 60)} h ${m % 60} min`;
}
