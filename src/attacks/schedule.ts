// APGD's step-size checkpoints and SEA's progressive radius reduction stages (sea.md).

/** 0-based iteration indices at which APGD checks whether to halve the step size. */
export function apgdCheckpoints(N: number): number[] {
  const p = apgdParams(N);
  const out: number[] = [];
  let k = p.k0;
  let at = k - 1;
  while (at < N) {
    out.push(at);
    k = Math.max(k - p.decr, p.kmin);
    at += k;
  }
  return out;
}

export function apgdParams(N: number): { k0: number; kmin: number; decr: number; rho: number } {
  return {
    k0: Math.max(Math.trunc(0.22 * N), 1),
    kmin: Math.max(Math.trunc(0.06 * N), 1),
    decr: Math.max(Math.trunc(0.03 * N), 1),
    rho: 0.75,
  };
}

export interface Stage {
  iters: number;
  /** Radius as a multiple of the target eps. */
  scale: number;
}

/** [int(0.3N), int(0.3N), rest] iterations at radii [2eps, 1.5eps, eps]. */
export function prrStages(N: number): Stage[] {
  const n1 = Math.trunc(0.3 * N);
  return [
    { iters: n1, scale: 2 },
    { iters: n1, scale: 1.5 },
    { iters: N - 2 * n1, scale: 1 },
  ].filter((s) => s.iters > 0);
}
