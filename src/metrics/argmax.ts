// Class predictions from logits [N, K, ...spatial] (first maximum on ties, like torch.argmax).

export function argmaxClasses(logits: Float32Array, dims: readonly number[]): Int32Array {
  const [N, K] = dims;
  const P = dims.slice(2).reduce((a, b) => a * b, 1);
  const pred = new Int32Array(N * P);
  for (let n = 0; n < N; n++)
    for (let p = 0; p < P; p++) {
      let best = 0;
      let bv = logits[n * K * P + p];
      for (let k = 1; k < K; k++) {
        const v = logits[(n * K + k) * P + p];
        if (v > bv) {
          bv = v;
          best = k;
        }
      }
      pred[n * P + p] = best;
    }
  return pred;
}
