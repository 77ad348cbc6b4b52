// Axis-aligned boxes in parameter space: the search domain, clipping and volumes (spec "Metric").
export class RegionError extends Error {}

/** Per-dimension [lo, hi] of the parameter space (e.g. azimuth [0, 360), elevation [-10, 90)). */
export type Domain = readonly (readonly [number, number])[];

/** A region [a, b] (a_i <= b_i when valid; an inverted dimension is an empty region). */
export interface Box {
  a: ArrayLike<number>;
  b: ArrayLike<number>;
}

/** Throws unless every dimension is a finite [lo, hi] with hi - lo >= minWidth. */
export function validateDomain(domain: Domain, where: string, minWidth = 0): void {
  if (!Array.isArray(domain) || domain.length === 0) throw new RegionError(`${where}: domain must be a non-empty list of [lo, hi] pairs`);
  domain.forEach((d, i) => {
    if (!Array.isArray(d) || d.length !== 2 || !Number.isFinite(d[0]) || !Number.isFinite(d[1]) || !(d[1] > d[0]))
      throw new RegionError(`${where}: domain[${i}] must be [lo, hi] with finite lo < hi, got ${JSON.stringify(d)}`);
    if (d[1] - d[0] < minWidth) throw new RegionError(`${where}: domain[${i}] = [${d[0]}, ${d[1]}] is narrower than rMin = ${minWidth}`);
  });
}

export function domainVolume(domain: Domain): number {
  return domain.reduce((v, [lo, hi]) => v * (hi - lo), 1);
}

/** Volume of [a, b] intersected with the domain (0 when they do not overlap or the box is inverted). */
export function clippedVolume(box: Box, domain: Domain): number {
  let v = 1;
  for (let i = 0; i < domain.length; i++) v *= Math.max(0, Math.min(box.b[i], domain[i][1]) - Math.max(box.a[i], domain[i][0]));
  return v;
}

/**
 * Makes [a, b] a valid region inside the domain, in place: each a_i, b_i is clamped into [lo_i, hi_i];
 * if that leaves b_i - a_i < rMin (the update shrank, inverted or pushed the interval off the domain), the
 * interval becomes [m - rMin/2, m + rMin/2] around its unclipped midpoint m, itself clamped so that the
 * interval stays inside the domain. Only the region is clipped: outer corners and finite-difference
 * points may lie slightly outside the domain, so the oracle must accept such points.
 */
export function projectRegion(a: Float64Array, b: Float64Array, domain: Domain, rMin: number): void {
  for (let i = 0; i < a.length; i++) {
    const [lo, hi] = domain[i];
    const ai = Math.min(Math.max(a[i], lo), hi);
    const bi = Math.min(Math.max(b[i], lo), hi);
    if (bi - ai >= rMin) {
      a[i] = ai;
      b[i] = bi;
    } else {
      const m = Math.min(Math.max((a[i] + b[i]) / 2, lo + rMin / 2), hi - rMin / 2);
      a[i] = m - rMin / 2;
      b[i] = m + rMin / 2;
    }
  }
}
