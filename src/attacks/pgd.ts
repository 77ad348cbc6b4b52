// Plain PGD baselines of the paper's protocol (PGD-CE, SegPGD, CosPGD): fixed step, the iterate
// with the highest attacked loss is returned per image.
import { Rng } from '../util/random.js';
import type { Oracle } from './oracle.js';
import { projectImage, randomStart, stepImage, type Threat } from './threat.js';

/** The paper's step sizes for radii given in /255 units. */
const PAPER_STEPS: [number, number][] = [
  [0.25, 8e-4],
  [0.5, 9e-4],
  [1, 1e-3],
  [2, 2e-3],
  [4, 3e-3],
  [8, 5e-3],
  [12, 6e-3],
];

/**
 * Step size for linf radius eps (image units): the paper's table at its radii, linear interpolation
 * between them, clamped outside. l2: 2.5 * eps / iters (the usual PGD heuristic).
 */
export function pgdStepSize(t: Threat, iters: number): number {
  if (t.norm === 'l2') return (2.5 * t.eps) / iters;
  const e = t.eps * 255;
  if (e <= PAPER_STEPS[0][0]) return PAPER_STEPS[0][1];
  for (let k = 1; k < PAPER_STEPS.length; k++) {
    const [e1, s1] = PAPER_STEPS[k];
    if (e <= e1) {
      const [e0, s0] = PAPER_STEPS[k - 1];
      return s0 + ((s1 - s0) * (e - e0)) / (e1 - e0);
    }
  }
  return PAPER_STEPS[PAPER_STEPS.length - 1][1];
}

export interface PgdOptions extends Threat {
  iters: number;
  step?: number;
  /** 'random' (uniform in the eps-ball, default) or 'zero' (start at the clean image). */
  init?: 'random' | 'zero';
  seed: number;
  ids: string[];
  tag: string;
  onIteration?: () => void;
}

export interface PgdResult {
  xAdv: Float32Array;
  acc: Float64Array;
  bestLoss: Float32Array;
}

export async function pgd(oracle: Oracle, x0: Float32Array, opts: PgdOptions): Promise<PgdResult> {
  const B = oracle.batch;
  const P = oracle.pixelsPerImage;
  const N = opts.iters;
  const step = opts.step ?? pgdStepSize(opts, N);
  const x =
    opts.init === 'zero' ? Float32Array.from(x0) : randomStart(x0, B, P, opts.norm, opts.eps, (b) => Rng.derive(opts.seed, opts.ids[b], opts.tag, 'start'));
  for (let b = 0; b < B; b++) projectImage(x, x0, b, P, opts);
  const xAdv = Float32Array.from(x);
  const bestLoss = new Float32Array(B).fill(-Infinity);
  const acc = new Float64Array(B);
  const z = new Float32Array(x.length);
  for (let i = 0; i <= N; i++) {
    // Iterate i is evaluated at t = i. The last one's gradient is unused, but its attacked-loss
    // value is needed and comes from the same compiled graph (1 extra backward in N).
    const r = await oracle.withGrad(x, i, N);
    for (let b = 0; b < B; b++) {
      const o = b * P;
      if (r.loss[b] > bestLoss[b]) {
        bestLoss[b] = r.loss[b];
        acc[b] = r.acc[b];
        xAdv.set(x.subarray(o, o + P), o);
      }
    }
    if (i === N) break;
    for (let b = 0; b < B; b++) {
      stepImage(z, x, r.grad, step, b, P, opts.norm);
      projectImage(z, x0, b, P, opts);
    }
    x.set(z);
    opts.onIteration?.();
  }
  return { xAdv, acc, bestLoss };
}
