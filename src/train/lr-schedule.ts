// Iteration-based learning-rate schedules: poly decay after a warm-up, as mmcv/mmseg's PolyLrUpdaterHook
// (by_epoch=False) computes it, which the PIR-AT recipes use. `t` is the 0-based iteration index, i.e.
// the number of optimizer steps already taken; the lr of t is used for step t+1.
//
//   regular(t) = (base - min) * (1 - t/T)^power + min           (t clamped to T; T = totalIters, warm-up included)
//   warm-up, t < W, mmcv 'linear' convention (default, warmupOf 'regular'):
//     lr(t) = regular(t) * (1 - (1 - t/W) * (1 - ratio))        (starts at ratio*regular(0) = ratio*base)
//   warmupOf 'base' applies the same factor to the base lr instead: lr(t) = base * (1 - (1 - t/W) * (1 - ratio)).
//   'constant' warm-up: lr(t) = ratio * regular(t) (resp. ratio * base) for t < W.
//   From t = W on, lr(t) = regular(t).

export class ScheduleError extends Error {}

export interface LrSchedule {
  /** Learning rate for iteration t (0-based). */
  at(t: number): number;
  readonly totalIters: number;
}

export interface PolyScheduleOptions {
  baseLr: number;
  /** T: total iterations of the run, warm-up included. */
  totalIters: number;
  /** Decay exponent (default 1.0; mmseg uses 0.9). */
  power?: number;
  /** lr reached at T (default 0). */
  minLr?: number;
  /** W: warm-up iterations (default 0: none). */
  warmupIters?: number;
  /** The warm-up starts at ratio * lr (default 1e-6, mmseg's). */
  warmupRatio?: number;
  /** Default 'linear'. */
  warmup?: 'linear' | 'constant';
  /** What the warm-up factor multiplies: the poly lr at t (mmcv, default) or the base lr. */
  warmupOf?: 'regular' | 'base';
}

function need(ok: boolean, what: string): void {
  if (!ok) throw new ScheduleError(`poly schedule: ${what}`);
}

export function polySchedule(o: PolyScheduleOptions): LrSchedule {
  const power = o.power ?? 1;
  const minLr = o.minLr ?? 0;
  const W = o.warmupIters ?? 0;
  const ratio = o.warmupRatio ?? 1e-6;
  const kind = o.warmup ?? 'linear';
  const of = o.warmupOf ?? 'regular';
  const T = o.totalIters;
  need(Number.isFinite(o.baseLr) && o.baseLr >= 0, `baseLr must be >= 0, got ${o.baseLr}`);
  need(Number.isInteger(T) && T > 0, `totalIters must be a positive integer, got ${T}`);
  need(Number.isFinite(power) && power > 0, `power must be > 0, got ${power}`);
  need(Number.isFinite(minLr) && minLr >= 0 && minLr <= o.baseLr, `minLr must be in [0, baseLr], got ${minLr}`);
  need(Number.isInteger(W) && W >= 0 && W <= T, `warmupIters must be an integer in [0, totalIters], got ${W}`);
  need(Number.isFinite(ratio) && ratio > 0 && ratio <= 1, `warmupRatio must be in (0, 1], got ${ratio}`);
  need(kind === 'linear' || kind === 'constant', `unknown warm-up '${kind}'`);
  need(of === 'regular' || of === 'base', `unknown warmupOf '${of}'`);
  const regular = (t: number): number => (o.baseLr - minLr) * (1 - Math.min(t, T) / T) ** power + minLr;
  return {
    totalIters: T,
    at(t: number): number {
      need(Number.isInteger(t) && t >= 0, `iteration must be an integer >= 0, got ${t}`);
      const r = regular(t);
      if (t >= W) return r;
      const factor = kind === 'constant' ? ratio : 1 - (1 - t / W) * (1 - ratio);
      return (of === 'regular' ? r : o.baseLr) * factor;
    },
  };
}

/** A constant lr (e.g. for tests and fine-tuning). */
export function constantSchedule(lr: number, totalIters: number): LrSchedule {
  if (!(Number.isFinite(lr) && lr >= 0)) throw new ScheduleError(`constant schedule: lr must be >= 0, got ${lr}`);
  return { totalIters, at: () => lr };
}
