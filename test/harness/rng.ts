// Deterministic PRNG for tests: the project's own Rng (mulberry32) as a plain function.
import { Rng } from '../../src/util/random.js';

export function rng(seed: number): () => number {
  const r = new Rng(seed);
  return () => r.next();
}

export function normal(r: () => number): number {
  const u = Math.max(r(), 1e-12);
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * r());
}
