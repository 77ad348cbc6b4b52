// Seeded weights: every float parameter of a fixture model is a pure function of its name and shape, so the
// architecture fixtures (test/fixtures/arch) carry no weights. Bit-for-bit twin of tools/fixtures/seeded.py:
//   seed  = FNV-1a 32-bit hash of the UTF-8 name
//   u_k   = mulberry32 in counter form (a_k = seed + (k+1)*0x6D2B79F5 mod 2^32, mixed, / 2^32)
//   value = 0.5 + u (name ends with 'running_var') | (2u-1)*sqrt(3/fan_in) (rank >= 2, fan_in = prod(dims[1:]))
//         | 1 + 0.2*(2u-1) (rank <= 1, name ends with 'weight') | 0.1*(2u-1) (everything else)
// Arithmetic is float64, rounded to float32 once by the Float32Array store, as numpy's astype(float32).
import type { Model } from '../../src/onnx/ir.js';

export function fnv1a32(name: string): number {
  let h = 0x811c9dc5;
  for (const b of new TextEncoder().encode(name)) h = Math.imul(h ^ b, 0x01000193) >>> 0;
  return h;
}

/** u_0..u_{n-1} in [0, 1). */
export function seededUniform(name: string, n: number): Float64Array {
  const seed = fnv1a32(name);
  const u = new Float64Array(n);
  for (let k = 0; k < n; k++) {
    const a = (seed + Math.imul(k + 1, 0x6d2b79f5)) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), a | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    u[k] = ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  return u;
}

export function seededValues(name: string, dims: readonly number[]): Float32Array {
  const n = dims.reduce((a, b) => a * b, 1);
  const u = seededUniform(name, n);
  const out = new Float32Array(n);
  let f: (u: number) => number;
  if (name.endsWith('running_var')) f = (v) => 0.5 + v;
  else if (dims.length >= 2) {
    const s = Math.sqrt(3 / dims.slice(1).reduce((a, b) => a * b, 1));
    f = (v) => (2 * v - 1) * s;
  } else if (name.endsWith('weight')) f = (v) => 1 + 0.2 * (2 * v - 1);
  else f = (v) => 0.1 * (2 * v - 1);
  for (let k = 0; k < n; k++) out[k] = f(u[k]);
  return out;
}

export interface SeededInitializer {
  name: string;
  dims: number[];
  dtype: string;
}

/** Puts the seeded tensors back as initializers of a model whose weights were stripped at export. */
export function addSeededInitializers(model: Model, list: readonly SeededInitializer[]): void {
  for (const s of list) {
    if (s.dtype !== 'float32') throw new Error(`seeded initializer '${s.name}' has dtype ${s.dtype}; only float32 is seeded`);
    if (model.graph.initializers.has(s.name)) throw new Error(`initializer '${s.name}' is already in the model`);
    model.graph.initializers.set(s.name, { dtype: 'float32', dims: [...s.dims], data: seededValues(s.name, s.dims) });
  }
}
