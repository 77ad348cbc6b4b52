// Corner indexing of a region (spec "Robust-region algorithms"): k = 0..2^n-1, bit(i,k) = (k >> (n-1-i)) & 1,
// corner c_k = lo + bit(., k) * side. LO_i = corners with bit i = 0, HI_i = the rest.

export function cornerBit(i: number, k: number, n: number): number {
  return (k >> (n - 1 - i)) & 1;
}

/** The 2^n corners of the box with lower corner `lo` and side lengths `side`, in spec order. */
export function cornerPoints(lo: ArrayLike<number>, side: ArrayLike<number>): Float64Array[] {
  const n = lo.length;
  const out: Float64Array[] = [];
  for (let k = 0; k < 1 << n; k++) {
    const c = new Float64Array(n);
    for (let i = 0; i < n; i++) c[i] = lo[i] + cornerBit(i, k, n) * side[i];
    out.push(c);
  }
  return out;
}
