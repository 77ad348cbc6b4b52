// Each SEA loss against an independent double-precision implementation of sea.md's formulas
// (JS through the full sum with m = (p+q)/2 and xlogy, not robustscope's closed form), values
// and gradients w.r.t. the logits (finite differences of the reference, detached factors frozen).
import { describe, expect, it } from 'vitest';
import { normal, rng } from '../harness/rng.js';
import { identityModel } from '../harness/tiny-models.js';

const N = 2;
const K = 4;
const H = 3;
const W = 3;
const IGN = 255;

type PixelLoss = (u: number[], y: number, frozen: number[] | undefined, ctx: { t: number; T: number; w: number[] }) => number;

function softmax(u: number[]): number[] {
  const m = Math.max(...u);
  const e = u.map((v) => Math.exp(v - m));
  const s = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / s);
}
const ce = (u: number[], y: number) => -Math.log(softmax(u)[y]);
const argmax = (u: number[]) => u.indexOf(Math.max(...u));
const xlogy = (x: number, y: number) => (x === 0 ? 0 : x * Math.log(y));

const REF: Record<string, PixelLoss> = {
  'ce-avg': (u, y) => ce(u, y),
  'mask-ce-avg': (u, y, f) => (f as number[])[0] * ce(u, y),
  'mask-ce-bal': (u, y, f, c) => (f as number[])[0] * c.w[y] * ce(u, y),
  'js-avg': (u, y) => {
    const p = softmax(u);
    const q = p.map((_, k) => (k === y ? 1 : 0));
    const m = p.map((v, k) => (v + q[k]) / 2);
    let s = 0;
    for (let k = 0; k < K; k++) s += xlogy(p[k], p[k] / m[k]) + xlogy(q[k], q[k] / m[k]);
    return 0.5 * s;
  },
  'segpgd-loss': (u, y, f, c) => {
    const lam = c.t / (2 * c.T);
    const corr = (f as number[])[0];
    return ((1 - lam) * corr + lam * (1 - corr)) * ce(u, y);
  },
  'mask-norm-corrlog-avg': (u, y, f) => {
    const n = Math.sqrt(u.reduce((a, v) => a + v * v, 0));
    return -(u[y] / n) * (f as number[])[0];
  },
  'cospgd-loss': (u, y, f) => (f as number[])[1] * ce(u, y),
};

/** Detached quantities at the base point: [correct mask, cosine(softmax, onehot)]. */
function frozen(u: number[], y: number): number[] {
  const p = softmax(u);
  const norm = Math.sqrt(p.reduce((a, v) => a + v * v, 0));
  return [argmax(u) === y ? 1 : 0, p[y] / norm];
}

function pixel(logits: Float32Array | Float64Array, n: number, h: number, w: number): number[] {
  return Array.from({ length: K }, (_, k) => logits[((n * K + k) * H + h) * W + w]);
}

function refPerImage(name: string, logits: Float64Array, labels: BigInt64Array, fr: number[][][], ctx: { t: number; T: number; w: number[] }): number[] {
  const out: number[] = [];
  for (let n = 0; n < N; n++) {
    let s = 0;
    for (let h = 0; h < H; h++)
      for (let w = 0; w < W; w++) {
        const y = Number(labels[(n * H + h) * W + w]);
        if (y === IGN) continue;
        s += REF[name](pixel(logits, n, h, w), y, fr[n][h * W + w], ctx);
      }
    out.push(s / (H * W)); // divisor: ALL pixels, ignored ones included
  }
  return out;
}

describe('SEA losses vs an independent reference', () => {
  const r = rng(7);
  const logits = new Float64Array(N * K * H * W).map(() => 2 * normal(r));
  // Make some pixels surely correct, some surely wrong, and one with a vanishing true-class probability.
  const labels = new BigInt64Array(N * H * W).map(() => BigInt(Math.floor(r() * K)));
  labels[2] = BigInt(IGN);
  labels[N * H * W - 1] = BigInt(IGN);
  const y0 = Number(labels[0]);
  for (let k = 0; k < K; k++) logits[(0 * K + k) * H * W] = k === y0 ? -60 : 40; // p_y underflows in float32
  const fr = Array.from({ length: N }, (_, n) =>
    Array.from({ length: H * W }, (_, p) => frozen(pixel(logits, n, Math.floor(p / W), p % W), Number(labels[n * H * W + p]))),
  );
  const ctx = { t: 3, T: 10, w: [0.1, 0.2, 0.3, 0.4] };
  const model = identityModel();

  for (const name of Object.keys(REF)) {
    it(`${name}: per-image values (mean over ALL pixels, ignore = 0) and gradient`, async () => {
      const extra =
        name === 'segpgd-loss'
          ? { 'robustscope/segpgd_lambda': { data: Float32Array.of(ctx.t / (2 * ctx.T)), dims: [], dtype: 'float32' as const } }
          : undefined;
      const res = await model.lossAndGrad(
        { data: Float32Array.from(logits), dims: [N, K, H, W] },
        { data: labels, dims: [N, H, W] },
        { loss: name, classWeights: ctx.w, extra },
      );
      const want = refPerImage(name, logits, labels, fr, ctx);
      for (let n = 0; n < N; n++) expect(res.losses[n]).toBeCloseTo(want[n], 4);
      expect(res.grad.every(Number.isFinite)).toBe(true);
      // Gradient: central differences of the reference with the detached factors frozen.
      let maxErr = 0;
      let scale = 0;
      const h = 1e-5;
      for (let i = 0; i < logits.length; i++) {
        const up = Float64Array.from(logits);
        const dn = Float64Array.from(logits);
        up[i] += h;
        dn[i] -= h;
        const s = (v: number[]) => v.reduce((a, b) => a + b, 0);
        const fd = (s(refPerImage(name, up, labels, fr, ctx)) - s(refPerImage(name, dn, labels, fr, ctx))) / (2 * h);
        maxErr = Math.max(maxErr, Math.abs(fd - res.grad[i]));
        scale = Math.max(scale, Math.abs(fd));
      }
      expect(maxErr).toBeLessThan(1e-4 * Math.max(1, scale) + 1e-6);
    });
  }

  it('js-avg stays finite where softmax underflows (pixel 0 has p_y = exp(-100))', async () => {
    const res = await model.lossAndGrad({ data: Float32Array.from(logits), dims: [N, K, H, W] }, { data: labels, dims: [N, H, W] }, { loss: 'js-avg' });
    expect(Number.isFinite(res.losses[0])).toBe(true);
    for (let k = 0; k < K; k++) expect(Number.isFinite(res.grad[k * H * W])).toBe(true);
  });

  it('classification ce-avg is the sum over images of CE', async () => {
    const u = Float32Array.of(1, 2, 0.5, -1, 0, 3);
    const res = await identityModel().lossAndGrad({ data: u, dims: [2, 3, 1, 1] }, { data: BigInt64Array.of(1n, 2n), dims: [2, 1, 1] }, { loss: 'ce-avg' });
    expect(res.losses[0]).toBeCloseTo(ce([1, 2, 0.5], 1), 5);
    expect(res.losses[1]).toBeCloseTo(ce([-1, 0, 3], 2), 5);
  });
});
