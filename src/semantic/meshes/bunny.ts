// The Stanford bunny from the public-domain `bunny` npm package (3674 triangles, y up).
import { createRequire } from 'node:module';
import type { Mesh } from '../mesh.js';

interface BunnyData {
  positions: number[][];
  cells: number[][];
}

export function bunnyMesh(): Mesh {
  // The package is CommonJS without type declarations: load it through require and state its shape.
  const data = createRequire(import.meta.url)('bunny') as BunnyData;
  return { name: 'bunny', positions: Float32Array.from(data.positions.flat()), faces: Uint32Array.from(data.cells.flat()) };
}
