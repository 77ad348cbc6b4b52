// The score oracle of the robust-region search (spec "The function f"): batched and async, so a caller can
// evaluate every corner of an iteration (and every finite-difference shift) in ONE model run.
import { RegionError } from './box.js';

/** f at each point (e.g. the true-class probability of the image rendered with those parameters). */
export type ScoreFn = (points: readonly Float64Array[]) => Promise<Float64Array>;

export interface ScoreAndGrad {
  /** f at each point. */
  f: Float64Array;
  /** df/du at each point (one n-vector per point). */
  grad: Float64Array[];
}

/** f and its gradient with respect to the parameters at each point. */
export type GradFn = (points: readonly Float64Array[]) => Promise<ScoreAndGrad>;

const show = (p: ArrayLike<number>): string => `(${Array.from(p).join(', ')})`;

/** Throws unless the oracle returned one finite score per point; `where` names the caller. */
export function checkScores(where: string, points: readonly Float64Array[], f: unknown): asserts f is Float64Array {
  if (!(f instanceof Float64Array)) throw new RegionError(`${where}: the score oracle must return a Float64Array, got ${typeof f}`);
  if (f.length !== points.length) throw new RegionError(`${where}: the score oracle returned ${f.length} scores for ${points.length} points`);
  for (let k = 0; k < f.length; k++)
    if (!Number.isFinite(f[k])) throw new RegionError(`${where}: the score oracle returned ${f[k]} at point ${show(points[k])}`);
}

/** Throws unless the gradient oracle returned finite scores and one finite n-vector per point. */
export function checkScoreAndGrad(where: string, points: readonly Float64Array[], out: ScoreAndGrad): void {
  checkScores(where, points, out?.f);
  const { grad } = out;
  if (!Array.isArray(grad) || grad.length !== points.length)
    throw new RegionError(`${where}: the gradient oracle returned ${Array.isArray(grad) ? grad.length : 'no'} gradients for ${points.length} points`);
  for (let k = 0; k < grad.length; k++) {
    const g = grad[k];
    if (g?.length !== points[k].length)
      throw new RegionError(`${where}: the gradient at point ${show(points[k])} has ${g?.length} entries, expected ${points[k].length}`);
    for (let j = 0; j < g.length; j++)
      if (!Number.isFinite(g[j])) throw new RegionError(`${where}: the gradient oracle returned ${g[j]} for df/du${j} at point ${show(points[k])}`);
  }
}
