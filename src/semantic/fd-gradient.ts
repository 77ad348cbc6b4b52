// Gradients of the score with respect to the semantic parameters by central finite differences (spec
// "Gradients of f w.r.t. u": robustscope's default where the transform is not differentiable in-graph).
import { RegionError } from './regions/box.js';
import { checkScores, type GradFn, type ScoreFn } from './regions/oracle.js';

/**
 * A GradFn from a ScoreFn: df/du_j ~ (f(u + h_j e_j) - f(u - h_j e_j)) / (2 h_j), h in parameter units
 * (degrees for viewpoints; one number for every dimension or one per dimension). For m points in n
 * dimensions the score is called ONCE with m (2n + 1) points: for each point, the point itself, then
 * +h e_0, -h e_0, +h e_1, ... (f itself is returned too, so the search needs no extra call).
 */
export function finiteDifferenceGrad(score: ScoreFn, h: number | readonly number[] = 1): GradFn {
  const steps = typeof h === 'number' ? [h] : h;
  if (steps.length === 0 || !steps.every((s) => Number.isFinite(s) && s > 0))
    throw new RegionError(`finiteDifferenceGrad: step h must be finite and > 0, got ${JSON.stringify(h)}`);
  const stepOf = (j: number, n: number): number => {
    if (typeof h === 'number') return h;
    if (steps.length !== n) throw new RegionError(`finiteDifferenceGrad: ${steps.length} steps h given for ${n}-dimensional points`);
    return steps[j];
  };
  return async (points) => {
    if (points.length === 0) return { f: new Float64Array(0), grad: [] };
    const n = points[0].length;
    const batch: Float64Array[] = [];
    for (const p of points) {
      if (p.length !== n) throw new RegionError(`finiteDifferenceGrad: points have ${p.length} and ${n} dimensions`);
      batch.push(p);
      for (let j = 0; j < n; j++) {
        for (const sign of [1, -1]) {
          const q = Float64Array.from(p);
          q[j] += sign * stepOf(j, n);
          batch.push(q);
        }
      }
    }
    const s = await score(batch);
    checkScores('finiteDifferenceGrad', batch, s);
    const stride = 2 * n + 1;
    const f = new Float64Array(points.length);
    const grad = points.map((_, m) => {
      f[m] = s[m * stride];
      const g = new Float64Array(n);
      for (let j = 0; j < n; j++) g[j] = (s[m * stride + 1 + 2 * j] - s[m * stride + 2 + 2 * j]) / (2 * stepOf(j, n));
      return g;
    });
    return { f, grad };
  };
}
