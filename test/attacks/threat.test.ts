// The linf step and projection (src/attacks/threat.ts) against their definitions: z = x + eta * sign(g)
// with torch/Math.sign semantics (sign(+-0) = 0: a zero gradient does not move the pixel; NaN stays NaN),
// then the projection onto the eps-ball around x0 intersected with [0, 1].
import { describe, expect, it } from 'vitest';
import { projectImage, stepImage } from '../../src/attacks/threat.js';
import { normal, rng } from '../harness/rng.js';

describe('linf step and projection', () => {
  it('steps by eta * Math.sign(g) exactly, including +-0 and NaN gradients, image by image', () => {
    const r = rng(3);
    const B = 3;
    const P = 257;
    const x = Float32Array.from({ length: B * P }, () => r());
    const g = Float32Array.from({ length: B * P }, () => normal(r));
    g[0] = 0;
    g[1] = -0;
    g[2] = Number.NaN;
    g[3] = 1e-30;
    g[4] = -1e-30;
    g[5] = Number.POSITIVE_INFINITY;
    g[6] = Number.NEGATIVE_INFINITY;
    const out = new Float32Array(B * P).fill(-7);
    stepImage(out, x, g, 0.01, 1, P, 'linf');
    // Only image 1 is written.
    for (let p = 0; p < P; p++) expect(out[p]).toBe(-7);
    for (let p = 2 * P; p < 3 * P; p++) expect(out[p]).toBe(-7);
    for (let b = 0; b < B; b++) stepImage(out, x, g, 0.01, b, P, 'linf');
    for (let p = 0; p < B * P; p++) expect(Object.is(out[p], Math.fround(x[p] + 0.01 * Math.sign(g[p])))).toBe(true);
    expect(out[0]).toBe(x[0]);
    expect(out[1]).toBe(x[1]);
    expect(Number.isNaN(out[2])).toBe(true);
    expect(out[3]).toBe(Math.fround(x[3] + 0.01));
    expect(out[4]).toBe(Math.fround(x[4] - 0.01));
  });

  it('projects onto the eps-ball around x0 and [0, 1]', () => {
    const x0 = Float32Array.from([0, 0.5, 1, 0.01, 0.99, 0.5]);
    const v = Float32Array.from([-1, 0.6, 2, 0.5, 0.9, 0.49]);
    projectImage(v, x0, 0, 6, { norm: 'linf', eps: 0.05 });
    expect([...v].map((z) => Math.round(z * 1e6) / 1e6)).toEqual([0, 0.55, 1, 0.06, 0.94, 0.49]);
  });
});
