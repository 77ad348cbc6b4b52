// APGD as SEA uses it (sea.md "APGD as used by SEA"), per image state over a batch:
// momentum steps of size eta, a TRACK loss (ce-avg) that drives the step-size checkpoints,
// and the lowest-accuracy iterate as the returned point.
import type { Oracle } from './oracle.js';
import { apgdParams } from './schedule.js';
import { projectImage, stepImage, type Threat } from './threat.js';

export interface ApgdOptions extends Threat {
  iters: number;
  /** Stop when every image of the batch has 0 accuracy (default true). */
  earlyStop?: boolean;
  /** Called after each iteration (progress reporting). */
  onIteration?: (i: number) => void;
}

export interface ApgdResult {
  /** The returned point: per image, the iterate with the lowest accuracy (latest on ties). */
  xBestAdv: Float32Array;
  accBest: Float64Array;
  /** Highest track loss reached and its point (drives the step size). */
  trackBest: Float32Array;
  /** Final per-image step sizes and the iterations actually run (early stop). */
  eta: Float64Array;
  itersRun: number;
  /** Per image, at which iterations the step size was halved (for tests and diagnostics). */
  halvedAt: number[][];
}

export async function apgd(oracle: Oracle, x0: Float32Array, xInit: Float32Array, opts: ApgdOptions): Promise<ApgdResult> {
  const B = oracle.batch;
  const P = oracle.pixelsPerImage;
  const N = opts.iters;
  const { k0, kmin, decr, rho } = apgdParams(N);
  const earlyStop = opts.earlyStop ?? true;

  const x = Float32Array.from(xInit);
  for (let b = 0; b < B; b++) projectImage(x, x0, b, P, opts);
  const first = await oracle.withGrad(x, 0, N);
  let g = first.grad;
  const xBest = Float32Array.from(x);
  const gBest = Float32Array.from(g);
  const trackBest = Float32Array.from(first.track);
  const xBestAdv = Float32Array.from(x);
  const accBest = Float64Array.from(first.acc);
  const eta = new Float64Array(B).fill(2 * opts.eps);
  // hist[m] = track loss at iterate m (0 = the starting point).
  const hist: Float32Array[] = [Float32Array.from(first.track)];
  const reducedLast = new Uint8Array(B).fill(1);
  const trackBestLastCheck = Float32Array.from(trackBest);
  const halvedAt: number[][] = Array.from({ length: B }, () => []);
  let xPrev = Float32Array.from(x);
  const z = new Float32Array(x.length);
  let k = k0;
  let counter = 0;
  let itersRun = 0;

  for (let i = 0; i < N; i++) {
    if (earlyStop && accBest.every((a) => a === 0)) break;
    const a = i === 0 ? 1 : rho;
    const xNew = new Float32Array(x.length);
    for (let b = 0; b < B; b++) {
      stepImage(z, x, g, eta[b], b, P, opts.norm);
      projectImage(z, x0, b, P, opts);
      const o = b * P;
      for (let p = o; p < o + P; p++) xNew[p] = x[p] + a * (z[p] - x[p]) + (1 - a) * (x[p] - xPrev[p]);
      projectImage(xNew, x0, b, P, opts);
    }
    xPrev = Float32Array.from(x);
    x.set(xNew);
    // No gradient is needed after the last step.
    const last = i === N - 1;
    const r = last ? await oracle.noGrad(x, i + 1, N) : await oracle.withGrad(x, i + 1, N);
    itersRun = i + 1;
    hist.push(Float32Array.from(r.track));
    for (let b = 0; b < B; b++) {
      const o = b * P;
      if (r.acc[b] <= accBest[b]) {
        accBest[b] = r.acc[b];
        xBestAdv.set(x.subarray(o, o + P), o);
      }
      if (r.track[b] > trackBest[b]) {
        trackBest[b] = r.track[b];
        xBest.set(x.subarray(o, o + P), o);
        if (r.grad) gBest.set(r.grad.subarray(o, o + P), o);
      }
    }
    if (r.grad) g = r.grad;
    opts.onIteration?.(i);
    if (++counter === k) {
      for (let b = 0; b < B; b++) {
        let increased = 0;
        for (let m = i - k + 1; m <= i; m++) if (hist[m + 1][b] > hist[m][b]) increased++;
        const oscillating = increased <= rho * k;
        const stalled = reducedLast[b] === 0 && trackBestLastCheck[b] >= trackBest[b];
        const reduce = oscillating || stalled;
        reducedLast[b] = reduce ? 1 : 0;
        trackBestLastCheck[b] = trackBest[b];
        if (reduce) {
          eta[b] /= 2;
          halvedAt[b].push(i);
          const o = b * P;
          x.set(xBest.subarray(o, o + P), o);
          if (!last) {
            if (g === r.grad) g = Float32Array.from(g);
            g.set(gBest.subarray(o, o + P), o);
          }
        }
      }
      k = Math.max(k - decr, kmin);
      counter = 0;
    }
  }
  return { xBestAdv, accBest, trackBest, eta, itersRun, halvedAt };
}
