// The Utah teapot, tessellated from Newell's bicubic Bezier patches (teapot-data.ts).
import type { Mesh } from '../mesh.js';
import { MeshBuilder, type Vec3 } from './builder.js';
import { TEAPOT_PATCHES, TEAPOT_POINTS } from './teapot-data.js';

function bernstein(t: number): [number, number, number, number] {
  const s = 1 - t;
  return [s * s * s, 3 * t * s * s, 3 * t * t * s, t * t * t];
}

/** Teapot with each of the 32 patches cut into n x n quads (about 64 n^2 triangles after welding). */
export function teapot(n = 10): Mesh {
  const b = new MeshBuilder();
  for (let p = 0; p < TEAPOT_PATCHES.length; p += 16) {
    const cp = TEAPOT_PATCHES.slice(p, p + 16);
    b.surface(n, n, (u, v) => {
      const bu = bernstein(u);
      const bv = bernstein(v);
      const q: Vec3 = [0, 0, 0];
      for (let i = 0; i < 4; i++)
        for (let j = 0; j < 4; j++) {
          const w = bu[i] * bv[j];
          const c = 3 * cp[i * 4 + j];
          for (let k = 0; k < 3; k++) q[k] += w * TEAPOT_POINTS[c + k];
        }
      // The data is z-up; the renderer's world is y-up (a rotation, so the spout stays on +x).
      return [q[0], q[2], -q[1]];
    });
  }
  return b.build('teapot');
}
