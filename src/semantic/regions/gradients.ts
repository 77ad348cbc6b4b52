// The update directions gA, gB of the four robust-region methods, general n, exactly as spec "Robust-region
// algorithms" writes them. Every S/r_i factor is computed as P_i = prod_{j != i} r_j / 2^n (identical
// algebra, no division), so a collapsed side r_i = 0 gives finite numbers instead of 0/0.
import { RegionError } from './box.js';
import { cornerBit } from './corners.js';

export type RegionMethod = 'naive' | 'oir_b' | 'oir_w' | 'trap';

export interface GradientInput {
  /** Side lengths r = b - a. */
  r: ArrayLike<number>;
  /** f at the 2^n corners of [a, b], spec corner order. */
  fD: ArrayLike<number>;
  /** f at the 2^n corners of the outer region [A, B] (oir_b only). */
  fC?: ArrayLike<number>;
  /** G_{k,j} = df/du_j at corner k (oir_w and trap). Callers pass the sign they intend (see referenceQuirks). */
  G?: readonly ArrayLike<number>[];
  alpha: number;
  beta: number;
  lambda: number;
}

export interface RegionGradients {
  gA: Float64Array;
  gB: Float64Array;
}

/** S = prod(r) / 2^n and P_i = S / r_i computed without dividing. */
function volumeFactors(r: ArrayLike<number>): { S: number; P: Float64Array } {
  const n = r.length;
  const scale = 2 ** -n;
  const P = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let p = scale;
    for (let j = 0; j < n; j++) if (j !== i) p *= r[j];
    P[i] = p;
  }
  let S = scale;
  for (let j = 0; j < n; j++) S *= r[j];
  return { S, P };
}

/** Sums of v over LO_i and HI_i. */
function faceSums(v: ArrayLike<number>, i: number, n: number): { lo: number; hi: number } {
  let lo = 0;
  let hi = 0;
  for (let k = 0; k < 1 << n; k++) {
    if (cornerBit(i, k, n)) hi += v[k];
    else lo += v[k];
  }
  return { lo, hi };
}

function need<T>(v: T | undefined, what: string, method: RegionMethod): T {
  if (v === undefined) throw new RegionError(`regionGradients(${method}): ${what} is required`);
  return v;
}

export function regionGradients(method: RegionMethod, input: GradientInput): RegionGradients {
  const { r, fD, alpha, beta, lambda } = input;
  const n = r.length;
  const N = 1 << n;
  const { S, P } = volumeFactors(r);
  const gA = new Float64Array(n);
  const gB = new Float64Array(n);
  switch (method) {
    case 'naive':
      for (let i = 0; i < n; i++) {
        const D = faceSums(fD, i, n);
        gA[i] = 2 * P[i] * D.lo - lambda * r[i];
        gB[i] = -2 * P[i] * D.hi + lambda * r[i];
      }
      break;
    case 'oir_b': {
      const fC = need(input.fC, 'fC', method);
      const c = (1 + alpha) ** (n - 1);
      for (let i = 0; i < n; i++) {
        const D = faceSums(fD, i, n);
        const C = faceSums(fC, i, n);
        gA[i] = 2 * P[i] * (2 * D.lo - c * ((1 + alpha / 2) * C.lo + (alpha / 2) * C.hi));
        gB[i] = 2 * P[i] * (-2 * D.hi + c * ((1 + alpha / 2) * C.hi + (alpha / 2) * C.lo));
      }
      break;
    }
    case 'oir_w': {
      const G = need(input.G, 'G', method);
      const w = 2 - (2 * n - 1) * beta;
      for (let i = 0; i < n; i++) {
        const D = faceSums(fD, i, n);
        let gLo = 0; // sum_{LO_i} G_{k,i}
        let gHi = 0;
        let sc = 0; // r_i * sc_i = sum_{j != i} r_j sum_{LO_i} (1 - 2 bit(j,k)) G_{k,j}
        let s = 0; // r_i * s_i, over HI_i with (2 bit(j,k) - 1)
        for (let k = 0; k < N; k++) {
          const hi = cornerBit(i, k, n) === 1;
          if (hi) gHi += G[k][i];
          else gLo += G[k][i];
          for (let j = 0; j < n; j++) {
            if (j === i) continue;
            const sign = 2 * cornerBit(j, k, n) - 1;
            if (hi) s += r[j] * sign * G[k][j];
            else sc -= r[j] * sign * G[k][j];
          }
        }
        gA[i] = P[i] * (w * D.lo - beta * D.hi) + beta * S * gLo + beta * P[i] * sc;
        gB[i] = -P[i] * (w * D.hi - beta * D.lo) + beta * S * gHi + beta * P[i] * s;
      }
      break;
    }
    case 'trap': {
      const G = need(input.G, 'G', method);
      let sum = 0;
      for (let k = 0; k < N; k++) sum += fD[k];
      for (let i = 0; i < n; i++) {
        const g = faceSums(
          G.map((gk) => gk[i]),
          i,
          n,
        );
        gA[i] = S * -g.lo + P[i] * sum - lambda * r[i];
        gB[i] = S * -g.hi - P[i] * sum + lambda * r[i];
      }
      break;
    }
  }
  return { gA, gB };
}

/**
 * The objective each method descends, for the trace (reference definitions): naive and trap
 * -S sum fD + lambda ||r||; oir_b S ((1+alpha)^n sum fC - 2 sum fD). oir_w has none here (the
 * reference's needs the outer corners, which OIR_W does not otherwise evaluate).
 */
export function regionLoss(method: RegionMethod, input: GradientInput): number | undefined {
  const { r, fD } = input;
  const n = r.length;
  const { S } = volumeFactors(r);
  const sum = (v: ArrayLike<number>): number => Array.from(v).reduce((x, y) => x + y, 0);
  switch (method) {
    case 'naive':
    case 'trap':
      return -S * sum(fD) + input.lambda * Math.hypot(...Array.from(r));
    case 'oir_b':
      return S * ((1 + input.alpha) ** n * sum(need(input.fC, 'fC', method)) - 2 * sum(fD));
    case 'oir_w':
      return undefined;
  }
}
