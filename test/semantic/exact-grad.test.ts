// Exact gradients of f(u) w.r.t. image-space parameters (src/semantic/transform-graph.ts, exact-grad.ts):
// spec "Gradients of f w.r.t. u" (exact where the transform is differentiable inside the ONNX graph).
// References are independent of the graph: transformImage() (the CPU transforms) for the forward, central
// finite differences of the CPU f (transformImage + model + softmax, via scoreOracle) for the gradient,
// and the FD-gradient robust-region search for findRegion.
import { describe, expect, it } from 'vitest';
import { tensorFromNumbers } from '../../src/onnx/ir.js';
import { RobustModel } from '../../src/runtime/model.js';
import { ExactGradError, exactImageGrad } from '../../src/semantic/exact-grad.js';
import { gaussianKernel, TransformError, transformImage } from '../../src/semantic/image-transform.js';
import { scoreOracle } from '../../src/semantic/map.js';
import { findRegion } from '../../src/semantic/regions.js';
import { imageSpace, SpaceError } from '../../src/semantic/space.js';
import { affineRow, blurMatrix, transformImagesInGraph } from '../../src/semantic/transform-graph.js';
import { Rng } from '../../src/util/random.js';
import { irModel, node } from '../harness/tiny-models.js';

const SHAPE = { channels: 3, height: 12, width: 12 };
const HW = 144;
// Base image in [0.2, 0.8]: brightness <= 1.25 and contrast near 1 never clamp, so f is smooth in them.
const rng = new Rng(5);
const base = Float32Array.from({ length: 3 * HW }, () => 0.2 + 0.6 * rng.next());

/**
 * Tiny position-sensitive classifier: Conv 3->4 (3x3, pad 1), Tanh, Flatten, Gemm -> 3 logits. Smooth, and
 * unlike a global-average-pool model its score depends on where content is, so rotation/translation
 * gradients are not just border effects.
 */
function classifierOnnx() {
  const r = new Rng(7);
  const nodes = [
    node('Conv', ['x', 'cw', 'cb'], ['c'], { pads: { type: 'ints', value: [1, 1, 1, 1] } }),
    node('Tanh', ['c'], ['t']),
    node('Flatten', ['t'], ['flat']),
    node('Gemm', ['flat', 'gw', 'gb'], ['logits'], { transB: { type: 'int', value: 1 } }),
  ];
  return irModel(nodes, ['N', 3, 12, 12], 'logits', [
    [
      'cw',
      tensorFromNumbers(
        'float32',
        [4, 3, 3, 3],
        Array.from({ length: 108 }, () => 0.6 * r.symmetric()),
      ),
    ],
    ['cb', tensorFromNumbers('float32', [4], [0.1, -0.1, 0.2, 0])],
    [
      'gw',
      tensorFromNumbers(
        'float32',
        [3, 4 * HW],
        Array.from({ length: 3 * 4 * HW }, () => 0.3 * r.symmetric()),
      ),
    ],
    ['gb', tensorFromNumbers('float32', [3], [0, 0.5, -0.5])],
  ]);
}
const model = RobustModel.fromOnnx(classifierOnnx(), { threads: 1 });
const TARGET = { score: 'prob', label: 1 } as const;
const cpuScore = scoreOracle(imageSpace(base, SHAPE), model, TARGET, { batchSize: 64 });

const NAMES = ['rotation', 'scale', 'tx', 'ty', 'brightness', 'contrast', 'blur'] as const;
const pt = (...u: number[]) => Float64Array.from(u);
const asTransform = (u: ArrayLike<number>) => ({ rotation: u[0], scale: u[1], tx: u[2], ty: u[3], brightness: u[4], contrast: u[5], blur: u[6] });

// Forward points: the brief's values one at a time, clamping values, a quarter turn and combinations.
const FORWARD_POINTS = [
  pt(0, 1, 0, 0, 1, 1, 0),
  pt(30, 1, 0, 0, 1, 1, 0),
  pt(0, 0.8, 0, 0, 1, 1, 0),
  pt(0, 1, 2.5, 0, 1, 1, 0),
  pt(0, 1, 0, -2.5, 1, 1, 0),
  pt(0, 1, 0, 0, 1.2, 1, 0),
  pt(0, 1, 0, 0, 1, 0.7, 0),
  pt(0, 1, 0, 0, 1.6, 1, 0), // brightness clamps at 1
  pt(0, 1, 0, 0, 1, 2.5, 0), // contrast clamps at 0 and 1
  pt(0, 1, 0, 0, 1, 1, 0.8),
  pt(90, 1, 0, 0, 1, 1, 0),
  pt(30, 0.8, 2.5, 1.5, 1.2, 0.7, 0),
  pt(-33.3, 1.37, -0.41, 3.3, 1.5, 2.1, 2.3),
];

describe('transform subgraph (forward) = transformImage()', () => {
  it('every pixel within 2e-6 at rotation 30, scale 0.8, translation 2.5 px, brightness 1.2, contrast 0.7, blur, clamps', async () => {
    // float32 source coordinates (|x| < 16, ulp ~1e-6) against float64 ones in transformImage: the
    // bilinear interpolation is continuous and 1-Lipschitz in them on [0,1] images, so ~1e-6 agreement.
    const got = await transformImagesInGraph(base, SHAPE, FORWARD_POINTS);
    FORWARD_POINTS.forEach((u, n) => {
      const ref = transformImage(base, SHAPE, asTransform(u));
      let worst = 0;
      for (let i = 0; i < ref.length; i++) worst = Math.max(worst, Math.abs(ref[i] - got[n * ref.length + i]));
      expect(worst, `point ${Array.from(u)}`).toBeLessThan(2e-6);
    });
  });
  it('f of the exact-gradient graph equals the CPU score (transformImage + model + softmax)', async () => {
    const grad = exactImageGrad(base, SHAPE, model, TARGET, { threads: 1 });
    const { f } = await grad(FORWARD_POINTS);
    const ref = await cpuScore(FORWARD_POINTS);
    for (let n = 0; n < f.length; n++) expect(Math.abs(f[n] - ref[n]), `point ${n}`).toBeLessThan(1e-6);
    // The model is not constant: the points differ in f.
    expect(Math.max(...ref) - Math.min(...ref)).toBeGreaterThan(0.05);
  });
});

describe('chain-rule pieces (float64, against finite differences)', () => {
  it('affineRow: the P row maps output pixels as transformImage moves content; its Jacobian matches FD', () => {
    // tx = 2.5 moves content right: output x samples source x - 2.5. A 90 degree turn (CCW on screen)
    // brings the source's right edge to the top: output (x, y) samples ((W-1) - y, x).
    const t = affineRow([0, 1, 2.5, 0, 1, 1, 0], 12, 12).p;
    expect([t[0] * 4 + t[1] * 7 + t[2], t[3] * 4 + t[4] * 7 + t[5]]).toEqual([1.5, 7]);
    const q = affineRow([90, 1, 0, 0, 1, 1, 0], 12, 12).p;
    expect([q[0] * 4 + q[1] * 7 + q[2], q[3] * 4 + q[4] * 7 + q[5]]).toEqual([4, 4]);
    const u = [23.4, 0.87, 1.3, -0.7, 1.1, 0.9, 0.5];
    const { jac } = affineRow(u, 12, 10);
    for (let j = 0; j < 7; j++) {
      const h = 1e-6;
      const up = u.slice();
      const dn = u.slice();
      up[j] += h;
      dn[j] -= h;
      const a = affineRow(up, 12, 10).p;
      const b = affineRow(dn, 12, 10).p;
      for (let i = 0; i < 8; i++) expect(jac[i * 7 + j]).toBeCloseTo((a[i] - b[i]) / (2 * h), 6);
    }
  });
  it('blurMatrix: rows are the clamp-to-edge Gaussian (sum 1), dM/dsigma matches FD, sigma 0 = identity', () => {
    const n = 7;
    const { m, dm } = blurMatrix(0.9, n);
    const k = gaussianKernel(0.9); // radius 3
    expect(m[3 * n + 0]).toBeCloseTo(k[0], 12); // row 3 reads pixel 0 at offset -3
    expect(m[0]).toBeCloseTo(k[0] + k[1] + k[2] + k[3], 12); // row 0: offsets -3..0 clamp to pixel 0
    for (let i = 0; i < n; i++) expect(m.subarray(i * n, (i + 1) * n).reduce((s, x) => s + x, 0)).toBeCloseTo(1, 12);
    const h = 1e-6;
    const a = blurMatrix(0.9 + h, n).m;
    const b = blurMatrix(0.9 - h, n).m;
    for (let i = 0; i < n * n; i++) expect(dm[i]).toBeCloseTo((a[i] - b[i]) / (2 * h), 6);
    const id = blurMatrix(0, 3);
    expect(Array.from(id.m)).toEqual([1, 0, 0, 0, 1, 0, 0, 0, 1]);
    expect(id.dm.every((x) => x === 0)).toBe(true);
  });
});

/** Source coordinates of every output pixel, from the spec's conventions (not from the code under test). */
function sourceCoords(u: ArrayLike<number>): number[] {
  const th = (u[0] * Math.PI) / 180;
  const [c, s] = [Math.cos(th), Math.sin(th)];
  const m = 5.5;
  const out: number[] = [];
  for (let y = 0; y < 12; y++)
    for (let x = 0; x < 12; x++) {
      const dx = x - m - u[2];
      const dy = y - m - u[3];
      out.push(m + (c * dx - s * dy) / u[1], m + (s * dx + c * dy) / u[1]);
    }
  return out;
}

/** True when no source coordinate crosses a pixel row/column, and the blur radius stays, on [u - h e_j, u + h e_j]. */
function kinkFree(u: Float64Array, j: number, h: number): boolean {
  const lo = Float64Array.from(u);
  const hi = Float64Array.from(u);
  lo[j] -= h;
  hi[j] += h;
  if (Math.ceil(3 * lo[6]) !== Math.ceil(3 * hi[6])) return false;
  const [a, b, c] = [sourceCoords(lo), sourceCoords(u), sourceCoords(hi)];
  return a.every((v, i) => Math.floor(v) === Math.floor(b[i]) && Math.floor(b[i]) === Math.floor(c[i]));
}

// Generic points: no clamp bites (base in [0.2, 0.8], brightness and contrast near 1), blur radius fixed.
const GRAD_POINTS = [pt(13.7, 0.93, 0.37, -0.61, 1.07, 0.87, 0.63), pt(-21.3, 1.13, 1.21, 0.43, 0.91, 1.11, 0.41), pt(31.9, 0.81, -2.47, 1.53, 1.17, 0.77, 0)];

describe('exact gradient = central finite differences of the CPU f', () => {
  it('all seven parameters at generic points (FD intervals free of pixel-grid kinks)', async () => {
    const grad = exactImageGrad(base, SHAPE, model, TARGET, { threads: 1 });
    const exact = await grad(GRAD_POINTS);
    for (const [m, u] of GRAD_POINTS.entries()) {
      const g = exact.grad[m];
      const scale = Math.max(...g.map(Math.abs));
      for (let j = 0; j < 7; j++) {
        // Largest step (in the parameter's units; scale moves pixels ~6x faster) whose interval has no kink.
        const steps = [1e-2, 3e-3, 1e-3, 3e-4, 1e-4].map((h) => (j === 1 ? h / 10 : h));
        // blur at 0 sits on its domain's edge: the derivative is one-sided (0, see blurMatrix), checked below.
        if (j === 6 && u[j] === 0) {
          const [f0, f1] = await cpuScore([u, Float64Array.from(u, (x, i) => (i === 6 ? 1e-3 : x))]);
          expect(g[j]).toBe(0);
          expect(Math.abs(f1 - f0)).toBeLessThan(1e-9);
          continue;
        }
        const h = steps.find((s) => kinkFree(u, j, s) && (j < 4 || u[j] - s >= 0));
        expect(h, `${NAMES[j]}: no kink-free step at point ${m}`).toBeDefined();
        const up = Float64Array.from(u);
        const dn = Float64Array.from(u);
        up[j] += h as number;
        dn[j] -= h as number;
        const [fp, fm] = await cpuScore([up, dn]);
        const fd = (fp - fm) / (2 * (h as number));
        // FD error: float32 roundoff of f (~1e-7 through the softmax) over 2h, plus O(h^2) truncation;
        // the exact side is float32 autodiff (relative ~1e-5). Allowed: 1% of the component, 2e-7/h of
        // roundoff, 1e-3 of the gradient's scale. A wrong sign, a missing pi/180 or a dropped term
        // (e.g. the contrast mean's dependence on brightness) is far outside this.
        const tol = 0.01 * Math.abs(fd) + 2e-7 / (h as number) + 1e-3 * scale;
        expect(Math.abs(g[j] - fd), `d f/d ${NAMES[j]} at point ${m}: exact ${g[j]}, FD ${fd} (h ${h})`).toBeLessThan(tol);
      }
      expect(scale).toBeGreaterThan(0.01); // the test has something to compare
    }
  });
  it('a slice of the space (axes + pinned values, pinned blur in-graph) gives the matching components', async () => {
    const u = GRAD_POINTS[0];
    const full = await exactImageGrad(base, SHAPE, model, TARGET, { threads: 1 })([u]);
    const sliced = exactImageGrad(base, SHAPE, model, TARGET, {
      threads: 1,
      axes: ['brightness', 'rot'],
      fixed: { scale: u[1], tx: u[2], ty: u[3], contrast: u[5], sigma: u[6] },
    });
    const r = await sliced([pt(u[4], u[0])]);
    expect(r.f[0]).toBeCloseTo(full.f[0], 7);
    expect(r.grad[0][0]).toBeCloseTo(full.grad[0][4], 6);
    expect(r.grad[0][1]).toBeCloseTo(full.grad[0][0], 6);
  });
});

describe('batching', () => {
  it('a batch of points gives the same f and gradients as one point at a time, also split into runs of 2', async () => {
    const pts = [...GRAD_POINTS, FORWARD_POINTS[11], FORWARD_POINTS[9]];
    const grad = exactImageGrad(base, SHAPE, model, TARGET, { threads: 1 });
    const all = await grad(pts);
    const split = await exactImageGrad(base, SHAPE, model, TARGET, { threads: 1, batchSize: 2 })(pts);
    for (const [n, u] of pts.entries()) {
      const one = await grad([u]);
      for (const r of [one, { f: [split.f[n]], grad: [split.grad[n]] }]) {
        expect(Math.abs(r.f[0] - all.f[n])).toBeLessThan(1e-7);
        for (let j = 0; j < 7; j++) expect(Math.abs(r.grad[0][j] - all.grad[n][j])).toBeLessThan(1e-6 * (1 + Math.abs(all.grad[n][j])));
      }
    }
  });
});

// A smooth off-centre bump and a template-matching classifier (logit0 = k <x, bump - mean>, logit1 = 0):
// f = P(class 0) peaks at the identity and falls off with rotation and darkening, so regions stay inside.
const BUMP = Float32Array.from({ length: 3 * HW }, (_, i) => {
  const [c, y, x] = [Math.floor(i / HW), Math.floor(i / 12) % 12, i % 12];
  return 0.15 + (0.5 + 0.1 * c) * Math.exp(-((x - 9) ** 2 + (y - 3) ** 2) / 6);
});
function matcher(k: number, b0: number) {
  const mean = BUMP.reduce((s, v) => s + v, 0) / BUMP.length;
  const w = [...Array.from(BUMP, (v) => k * (v - mean)), ...new Array(3 * HW).fill(0)];
  const nodes = [node('Flatten', ['x'], ['flat']), node('Gemm', ['flat', 'gw', 'gb'], ['logits'], { transB: { type: 'int', value: 1 } })];
  return RobustModel.fromOnnx(
    irModel(nodes, ['N', 3, 12, 12], 'logits', [
      ['gw', tensorFromNumbers('float32', [2, 3 * HW], w)],
      ['gb', tensorFromNumbers('float32', [2], [b0, 0])],
    ]),
    { threads: 1 },
  );
}
describe('robust regions with the exact GradFn', () => {
  it('OIR_W on (rotation, brightness) finds a region close to the FD-gradient run', async () => {
    const m = matcher(2, -6);
    const T0 = { score: 'prob', label: 0 } as const;
    const axes = ['rotation', 'brightness'];
    const domain: [number, number][] = [
      [-90, 90],
      [0.05, 2],
    ];
    // beta 0.05 (not the spec's 0.0009) so the gradient terms move the region visibly.
    const opts = { method: 'oir_w' as const, start: [5, 1.05], domain, iterations: 200, eta: 5, beta: 0.05 };
    const exactGrad = exactImageGrad(BUMP, SHAPE, m, T0, { threads: 1, axes });
    const exact = await findRegion({ ...opts, grad: exactGrad });
    const fd = await findRegion({ ...opts, score: scoreOracle(imageSpace(BUMP, SHAPE), m, T0, { axes }), fdStep: [1e-2, 1e-4] });
    // The same search with the gradient terms removed, to show they matter at this tolerance.
    const blind = await findRegion({
      ...opts,
      grad: async (p) => {
        const r = await exactGrad(p);
        return { f: r.f, grad: r.grad.map((g) => g.map(() => 0)) };
      },
    });
    // Rotation stops inside the domain (f falls to ~0 past +-60 degrees); brightness reaches its bounds.
    expect(exact.a[0]).toBeGreaterThan(-80);
    expect(exact.b[0]).toBeLessThan(80);
    expect(exact.r[0]).toBeGreaterThan(60);
    for (let i = 0; i < 2; i++) {
      const tol = 1e-3 * exact.r[i];
      expect(Math.abs(exact.a[i] - fd.a[i])).toBeLessThan(tol);
      expect(Math.abs(exact.b[i] - fd.b[i])).toBeLessThan(tol);
    }
    expect(Math.abs(blind.a[0] - exact.a[0]) + Math.abs(blind.b[0] - exact.b[0])).toBeGreaterThan(10 * 1e-3 * exact.r[0]);
  });
});

describe('errors', () => {
  it('segmentation scores, points outside the domain, base images outside [0,1]', async () => {
    expect(() => exactImageGrad(base, SHAPE, model, { score: 'miou' })).toThrow(ExactGradError);
    expect(() => exactImageGrad(base, SHAPE, model, { score: 'pixel-acc' })).toThrow(/only score 'prob'.*finite differences/);
    const grad = exactImageGrad(base, SHAPE, model, TARGET, { threads: 1 });
    await expect(grad([pt(0, -1, 0, 0, 1, 1, 0)])).rejects.toThrow(SpaceError);
    await expect(grad([pt(0, 1)])).rejects.toThrow(/needs 7 values/);
    const bad = Float32Array.from(base);
    bad[5] = 1.5;
    expect(() => exactImageGrad(bad, SHAPE, model, TARGET)).toThrow(TransformError);
    await expect(exactImageGrad(base, SHAPE, model, { score: 'prob', label: 3 }, { threads: 1 })([pt(0, 1, 0, 0, 1, 1, 0)])).rejects.toThrow(/class 3/);
  });
});
