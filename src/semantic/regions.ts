// Robust-region search (spec "Robust-region algorithms"): from a start point u0, grow a box [a, b] in
// parameter space where the score f stays high, by gradient descent on integral bounds of f evaluated at
// the box corners. Methods: naive, OIR_B (black box), OIR_W (white box, uses df/du), trap.
//
// Corrected behaviour (default) vs referenceQuirks (reproduces the public reference):
// - default: after every update (and at init) the region is projected into the domain and every side
//   kept >= rMin (see projectRegion in regions/box.ts for exactly what is clipped); G = +grad f.
// - quirks: G = -grad f for OIR_W and trap (the reference differentiates a cross-entropy loss); no
//   clipping and no r clamp at all. No clamp is needed against division by zero: the update formulas
//   are evaluated with S/r_i = prod_{j != i} r_j / 2^n (regions/gradients.ts), which never divides, so
//   r_i -> 0 (or an inverted region) stays finite where the reference would produce 0/0.

import { finiteDifferenceGrad } from './fd-gradient.js';
import { type Box, clippedVolume, type Domain, domainVolume, projectRegion, RegionError, validateDomain } from './regions/box.js';
import { cornerPoints } from './regions/corners.js';
import { type RegionMethod, regionGradients, regionLoss } from './regions/gradients.js';
import { checkScoreAndGrad, checkScores, type GradFn, type ScoreFn } from './regions/oracle.js';

export { type Box, clippedVolume, type Domain, domainVolume, RegionError } from './regions/box.js';
export { cornerBit, cornerPoints } from './regions/corners.js';
export { type GradientInput, type RegionGradients, type RegionMethod, regionGradients, regionLoss } from './regions/gradients.js';
export type { GradFn, ScoreAndGrad, ScoreFn } from './regions/oracle.js';

export const REGION_METHODS: readonly RegionMethod[] = ['naive', 'oir_b', 'oir_w', 'trap'];

/** Reference domain: azimuth [0, 360), elevation [-10, 90), degrees. */
export const REFERENCE_DOMAIN: Domain = [
  [0, 360],
  [-10, 90],
];

/** Reference start points (azimuth, elevation), degrees. */
export const REFERENCE_START_POINTS: readonly (readonly [number, number])[] = [
  [130, 30],
  [50, 20],
  [200, 15],
  [310, 50],
];

/** Spec defaults (the published runs used 600 iterations). */
export const REGION_DEFAULTS = { eta: 0.1, alpha: 0.05, beta: 0.0009, lambda: 0.1, iterations: 800, rMin: 1e-6, fdStep: 1 } as const;

/** Half-width of the initial region around u0. */
export const INITIAL_HALF_WIDTH = 1e-5;

export interface RegionStep {
  /** 0-based iteration; a and b are the region evaluated in it (before its update). */
  iteration: number;
  a: Float64Array;
  b: Float64Array;
  /** The method's objective at [a, b] (regionLoss; absent for oir_w). */
  loss?: number;
}

export interface FindRegionOptions {
  method: RegionMethod;
  /** Batched score oracle; required for naive and oir_b, and for oir_w/trap when `grad` is absent. */
  score?: ScoreFn;
  /** Exact gradients for oir_w and trap; default finiteDifferenceGrad(score, fdStep). */
  grad?: GradFn;
  /** Finite-difference step in parameter units (default 1). */
  fdStep?: number | readonly number[];
  /** Start point u0 (n values, inside the domain). */
  start: ArrayLike<number>;
  domain: Domain;
  eta?: number;
  alpha?: number;
  beta?: number;
  lambda?: number;
  iterations?: number;
  /** Smallest side length kept in the corrected mode (default 1e-6). */
  rMin?: number;
  /** Reproduce the reference's defects (G = -grad f, no clipping, no clamp). Default false. */
  referenceQuirks?: boolean;
  /** Start from this region instead of [u0 - 1e-5, u0 + 1e-5] (e.g. to resume). */
  initialRegion?: Box;
  /** Record every iteration in the result's `trace`. */
  trace?: boolean;
  /** Called after every iteration's evaluation, before its update (e.g. progress). */
  onIteration?: (step: RegionStep) => void;
}

export interface RegionResult {
  method: RegionMethod;
  a: Float64Array;
  b: Float64Array;
  r: Float64Array;
  /** prod max(0, r_i): the region's own volume, unclipped. */
  volume: number;
  /** Vol(region clipped to the domain) / Vol(domain). */
  volumeRatio: number;
  iterations: number;
  /** Points evaluated by the oracles (each finite-difference shift counts). */
  evaluations: number;
  /** Batched oracle calls (one per iteration). */
  oracleCalls: number;
  trace?: RegionStep[];
}

function numberOption(name: string, v: number | undefined, fallback: number, ok: (x: number) => boolean, rule: string): number {
  const x = v ?? fallback;
  if (typeof x !== 'number' || !ok(x)) throw new RegionError(`findRegion: ${name} must be ${rule}, got ${x}`);
  return x;
}

function vectorOption(name: string, v: ArrayLike<number>, n: number): Float64Array {
  if (v === null || typeof v !== 'object' || typeof v.length !== 'number') throw new RegionError(`findRegion: ${name} must be an array of numbers`);
  if (v.length !== n) throw new RegionError(`findRegion: ${name} has ${v.length} dimensions but the domain has ${n}`);
  const out = Float64Array.from(v);
  out.forEach((x, i) => {
    if (!Number.isFinite(x)) throw new RegionError(`findRegion: ${name}[${i}] = ${v[i]} is not a finite number`);
  });
  return out;
}

/** Searches the robust region around opts.start; see the file comment for default vs quirks behaviour. */
export async function findRegion(opts: FindRegionOptions): Promise<RegionResult> {
  const { method, domain } = opts;
  if (!REGION_METHODS.includes(method)) throw new RegionError(`findRegion: unknown method '${method}' (expected ${REGION_METHODS.join(', ')})`);
  const eta = numberOption('eta', opts.eta, REGION_DEFAULTS.eta, (x) => Number.isFinite(x) && x > 0, 'finite and > 0');
  const alpha = numberOption('alpha', opts.alpha, REGION_DEFAULTS.alpha, (x) => Number.isFinite(x) && x >= 0, 'finite and >= 0');
  const beta = numberOption('beta', opts.beta, REGION_DEFAULTS.beta, (x) => Number.isFinite(x) && x >= 0, 'finite and >= 0');
  const lambda = numberOption('lambda', opts.lambda, REGION_DEFAULTS.lambda, (x) => Number.isFinite(x) && x >= 0, 'finite and >= 0');
  const iterations = numberOption('iterations', opts.iterations, REGION_DEFAULTS.iterations, (x) => Number.isInteger(x) && x > 0, 'a positive integer');
  const rMin = numberOption('rMin', opts.rMin, REGION_DEFAULTS.rMin, (x) => Number.isFinite(x) && x > 0, 'finite and > 0');
  const quirks = opts.referenceQuirks ?? false;
  validateDomain(domain, 'findRegion', quirks ? 0 : rMin);
  const n = domain.length;
  // 2^n corners per evaluation: beyond ~16 dimensions the method is not practical anyway.
  if (n > 16) throw new RegionError(`findRegion: ${n} dimensions is too many (2^n corners per iteration; at most 16)`);
  const u0 = vectorOption('start', opts.start, n);
  u0.forEach((x, i) => {
    const [lo, hi] = domain[i];
    if (x < lo || x > hi) throw new RegionError(`findRegion: start[${i}] = ${x} is outside the domain [${lo}, ${hi}]`);
  });

  const where = `findRegion(${method})`;
  let evaluations = 0;
  let oracleCalls = 0;
  const rawScore = opts.score;
  const score: ScoreFn | undefined = rawScore
    ? async (points) => {
        evaluations += points.length;
        return rawScore(points);
      }
    : undefined;
  const needsGrad = method === 'oir_w' || method === 'trap';
  let grad: GradFn | undefined;
  if (needsGrad) {
    const exact = opts.grad;
    if (exact) {
      grad = async (points) => {
        evaluations += points.length;
        return exact(points);
      };
    } else if (score) grad = finiteDifferenceGrad(score, opts.fdStep ?? REGION_DEFAULTS.fdStep);
    else throw new RegionError(`${where}: needs a score or a grad oracle`);
  } else if (!score) throw new RegionError(`${where}: needs a score oracle`);

  let a: Float64Array;
  let b: Float64Array;
  if (opts.initialRegion) {
    a = vectorOption('initialRegion.a', opts.initialRegion.a, n);
    b = vectorOption('initialRegion.b', opts.initialRegion.b, n);
  } else {
    a = u0.map((x) => x - INITIAL_HALF_WIDTH);
    b = u0.map((x) => x + INITIAL_HALF_WIDTH);
  }
  if (!quirks) projectRegion(a, b, domain, rMin);

  const trace: RegionStep[] | undefined = opts.trace ? [] : undefined;
  const N = 1 << n;
  for (let t = 0; t < iterations; t++) {
    const r = b.map((bi, i) => bi - a[i]);
    const corners = cornerPoints(a, r);
    const at = `${where} iteration ${t}`;
    let fD: Float64Array;
    let fC: Float64Array | undefined;
    let G: Float64Array[] | undefined;
    oracleCalls++;
    if (method === 'naive') {
      fD = await score!(corners);
      checkScores(at, corners, fD);
    } else if (method === 'oir_b') {
      const A = a.map((ai, i) => ai - (alpha / 2) * r[i]);
      const B = b.map((bi, i) => bi + (alpha / 2) * r[i]);
      const points = corners.concat(
        cornerPoints(
          A,
          B.map((Bi, i) => Bi - A[i]),
        ),
      );
      const f = await score!(points);
      checkScores(at, points, f);
      fD = f.subarray(0, N);
      fC = f.subarray(N);
    } else {
      const out = await grad!(corners);
      checkScoreAndGrad(at, corners, out);
      fD = out.f;
      G = quirks ? out.grad.map((g) => g.map((x) => -x)) : out.grad;
    }
    const input = { r, fD, fC, G, alpha, beta, lambda };
    if (trace || opts.onIteration) {
      const step: RegionStep = { iteration: t, a: a.slice(), b: b.slice() };
      const loss = regionLoss(method, input);
      if (loss !== undefined) step.loss = loss;
      trace?.push(step);
      opts.onIteration?.(step);
    }
    const { gA, gB } = regionGradients(method, input);
    // Simultaneous update: both gradients were computed at the same region.
    for (let i = 0; i < n; i++) {
      a[i] -= eta * gA[i];
      b[i] -= eta * gB[i];
    }
    if (!quirks) projectRegion(a, b, domain, rMin);
    for (let i = 0; i < n; i++)
      if (!Number.isFinite(a[i]) || !Number.isFinite(b[i]))
        throw new RegionError(`${at}: the region diverged (a[${i}] = ${a[i]}, b[${i}] = ${b[i]}); lower eta`);
  }
  const r = b.map((bi, i) => bi - a[i]);
  const result: RegionResult = {
    method,
    a,
    b,
    r,
    volume: r.reduce((v, x) => v * Math.max(0, x), 1),
    volumeRatio: clippedVolume({ a, b }, domain) / domainVolume(domain),
    iterations,
    evaluations,
    oracleCalls,
  };
  if (trace) result.trace = trace;
  return result;
}
