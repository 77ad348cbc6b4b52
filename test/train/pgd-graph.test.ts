// The training adversary unrolled in one graph (src/train/pgd-graph.ts) against its definition run step by
// step: model.inputGrad (eval mode, per-image CE summed, main head only) and the JS linf step and projection
// of src/attacks/threat.ts. Pins pirat.md's recipe details: zero init (the first gradient is taken at the
// clean image), sign step of the given size, projection onto the eps-ball and [0,1] after every step, last
// iterate returned, eval mode (running statistics used and not updated), auxiliary heads ignored.
import { describe, expect, it } from 'vitest';
import { buildArch } from '../../src/arch/registry.js';
import { projectImage, stepImage } from '../../src/attacks/threat.js';
import type { ImageBatch, LabelBatch } from '../../src/runtime/model.js';
import { adversarialBatch } from '../../src/train/adversary.js';
import { PGD_MAX_UNROLL } from '../../src/train/pgd-graph.js';
import { TrainableModel } from '../../src/train/trainable.js';
import { tinyBatch, tinyModel } from './tiny.js';

async function reference(
  model: TrainableModel,
  x: ImageBatch,
  labels: LabelBatch,
  adv: { eps: number; steps: number; stepSize: number },
  ignoreIndex?: number,
): Promise<Float32Array> {
  const [B] = x.dims;
  const P = x.data.length / B;
  const cur = Float32Array.from(x.data);
  const next = new Float32Array(cur.length);
  for (let s = 0; s < adv.steps; s++) {
    const r = await model.inputGrad({ data: cur, dims: x.dims }, labels, { loss: 'ce-avg', ignoreIndex });
    for (let b = 0; b < B; b++) {
      // The graph computes x + fround(eta) * sign(g) in float32, as PyTorch does.
      stepImage(next, cur, r.grad, Math.fround(adv.stepSize), b, P, 'linf');
      projectImage(next, x.data, b, P, { norm: 'linf', eps: Math.fround(adv.eps) });
    }
    cur.set(next);
  }
  return cur;
}

function maxDiff(a: Float32Array, b: Float32Array): { max: number; differ: number } {
  let max = 0;
  let differ = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i] - b[i]);
    max = Math.max(max, d);
    if (d > 0) differ++;
  }
  return { max, differ };
}

describe('PGD unrolled in one graph (the training adversary)', () => {
  for (const steps of [1, 2, 3, PGD_MAX_UNROLL + 3])
    it(`equals the step-by-step definition (${steps} step${steps > 1 ? 's' : ''}${steps > PGD_MAX_UNROLL ? ': two chunks' : ''}, resnet-tiny-fcn, ignore band)`, async () => {
      const model = TrainableModel.fromOnnx(buildArch('resnet-tiny-fcn', { classes: 6, seed: 1 }), { threads: 1 });
      const B = 2;
      const H = 32;
      const x = { data: Float32Array.from({ length: B * 3 * H * H }, (_, i) => 0.5 + 0.45 * Math.sin(i * 0.37)), dims: [B, 3, H, H] };
      // Labels with an ignored band (255): those pixels contribute no gradient.
      const labels = { data: Int32Array.from({ length: B * H * H }, (_, i) => (i % H < 3 ? 255 : (i >> 6) % 6)), dims: [B, H, H] };
      const adv = { eps: 4 / 255, steps, stepSize: 0.01 };
      const stats = new Map([...model.buffers()].map(([k, v]) => [k, Float32Array.from(v)]));
      const got = await model.signPgd(x, labels, adv, { ignoreIndex: 255 });
      const want = await reference(model, x, labels, adv, 255);
      // Same arithmetic; the sums inside the two onnxruntime graphs may round differently, which can flip the
      // sign of a near-zero gradient entry: allow a handful of pixels to take the other step.
      const d = maxDiff(got, want);
      expect(d.differ).toBeLessThanOrEqual(Math.ceil(got.length * 1e-3));
      for (let i = 0; i < got.length; i++) {
        expect(Math.abs(got[i] - x.data[i])).toBeLessThanOrEqual(Math.fround(adv.eps) + 1e-7);
        expect(got[i]).toBeGreaterThanOrEqual(0);
        expect(got[i]).toBeLessThanOrEqual(1);
      }
      // Eval mode: the running statistics are untouched.
      for (const [k, v] of model.buffers()) expect(v).toEqual(stats.get(k));
      // adversarialBatch is this attack.
      expect(await adversarialBatch(model, x, labels, adv, { ignoreIndex: 255 })).toEqual(got);
      await model.release();
    });

  it('attacks the main head only (a model with an auxiliary head), with int64 labels', async () => {
    const model = TrainableModel.fromOnnx(tinyModel({ seed: 4 }), { threads: 1 });
    const { x, labels } = tinyBatch(3, 5);
    const adv = { eps: 8 / 255, steps: 2, stepSize: 0.02 };
    const got = await model.signPgd(x, labels, adv);
    const want = await reference(model, x, labels, adv);
    expect(maxDiff(got, want).differ).toBeLessThanOrEqual(Math.ceil(got.length * 1e-3));
    await model.release();
  });

  it('eps 0 or 0 steps return the clean image', async () => {
    const model = TrainableModel.fromOnnx(tinyModel({ seed: 4 }), { threads: 1 });
    const { x, labels } = tinyBatch(2, 5);
    expect(await adversarialBatch(model, x, labels, { eps: 0, steps: 2, stepSize: 0.01 })).toEqual(x.data);
    expect(await adversarialBatch(model, x, labels, { eps: 4 / 255, steps: 0, stepSize: 0.01 })).toEqual(x.data);
    await expect(model.signPgd(x, labels, { eps: 4 / 255, steps: 1.5, stepSize: 0.01 })).rejects.toThrow(/positive integer/);
    await model.release();
  });
});

describe('a training step with an adversary (attack and training pass in one onnxruntime run)', () => {
  const cases = [
    { name: 'resnet-tiny-fcn (BatchNorm), batch-mean CE', make: () => buildArch('resnet-tiny-fcn', { classes: 6, seed: 2 }), seg: true },
    { name: 'tiny model with dropout and an auxiliary head (CE + 0.4 x aux)', make: () => tinyModel({ seed: 6, dropout: 0.3 }), seg: false },
    { name: 'resnet-tiny-cls (a classifier: labels [N])', make: () => buildArch('resnet-tiny-cls', { classes: 5, seed: 4 }), seg: false, cls: true },
  ];
  for (const c of cases)
    it(`equals adversarialBatch then step, for ${c.name}: same attacked batch, loss, gradients and running statistics`, async () => {
      const fused = TrainableModel.fromOnnx(c.make(), { threads: 1, seed: 3 });
      const split = TrainableModel.fromOnnx(c.make(), { threads: 1, seed: 3 });
      let x: ImageBatch;
      let labels: LabelBatch;
      if (c.seg) {
        const B = 2;
        const H = 32;
        x = { data: Float32Array.from({ length: B * 3 * H * H }, (_, i) => 0.5 + 0.45 * Math.cos(i * 0.21)), dims: [B, 3, H, H] };
        labels = { data: Int32Array.from({ length: B * H * H }, (_, i) => (i % 7 === 0 ? 255 : (i >> 5) % 6)), dims: [B, H, H] };
      } else if (c.cls) {
        x = { data: Float32Array.from({ length: 4 * 3 * 32 * 32 }, (_, i) => 0.5 + 0.4 * Math.sin(i * 0.13)), dims: [4, 3, 32, 32] };
        labels = { data: Int32Array.from([0, 3, 1, 4]), dims: [4] };
      } else ({ x, labels } = tinyBatch(3, 8));
      const adv = { eps: 4 / 255, steps: 2, stepSize: 0.01 };
      const aux = c.seg || c.cls ? [] : [{ output: 'aux', weight: 0.4 }];
      const opts = { reduction: 'mean' as const, aux, ignoreIndex: 255, dropoutSeed: 17 };
      const r = await fused.step(x, labels, { ...opts, adversary: adv });
      const xa = await adversarialBatch(split, x, labels, adv, { ignoreIndex: 255 });
      const s = await split.step({ data: xa, dims: x.dims }, labels, opts);
      expect(r.adversarial).toEqual(xa);
      expect(Math.abs(r.loss - s.loss)).toBeLessThanOrEqual(1e-6 * Math.abs(s.loss));
      for (const [name, g] of s.grads) {
        const got = r.grads.get(name) as Float32Array;
        const scale = Math.max(1e-12, ...g.map(Math.abs));
        let d = 0;
        for (let i = 0; i < g.length; i++) d = Math.max(d, Math.abs(got[i] - g[i]));
        expect(d, name).toBeLessThanOrEqual(1e-5 * scale);
      }
      for (const [name, v] of split.buffers()) {
        const got = fused.buffers().get(name) as Float32Array;
        for (let i = 0; i < v.length; i++) expect(Math.abs(got[i] - v[i])).toBeLessThanOrEqual(1e-6 * Math.max(1, Math.abs(v[i])));
      }
      // eps 0: the clean batch, no attack graph.
      const clean = await fused.step(x, labels, { ...opts, adversary: { ...adv, eps: 0 } });
      expect(clean.adversarial).toEqual(x.data);
      await expect(fused.step(x, labels, { ...opts, adversary: adv, inputGrad: true })).rejects.toThrow(/does not return the input gradient/);
      await fused.release();
      await split.release();
    });

  it(`an attack longer than ${PGD_MAX_UNROLL} steps runs in chunks before the step, with the same result`, async () => {
    const make = () => TrainableModel.fromOnnx(tinyModel({ seed: 9 }), { threads: 1, seed: 1 });
    const fused = make();
    const split = make();
    const { x, labels } = tinyBatch(2, 4);
    const adv = { eps: 8 / 255, steps: PGD_MAX_UNROLL + 2, stepSize: 0.004 };
    const opts = { reduction: 'mean' as const, ignoreIndex: 255 };
    const r = await fused.step(x, labels, { ...opts, adversary: adv });
    const xa = await reference(split, x, labels, adv, 255);
    const s = await split.step({ data: xa, dims: x.dims }, labels, opts);
    expect(maxDiff(r.adversarial as Float32Array, xa).differ).toBeLessThanOrEqual(Math.ceil(xa.length * 1e-3));
    expect(Math.abs(r.loss - s.loss)).toBeLessThanOrEqual(1e-5 * Math.abs(s.loss));
    await fused.release();
    await split.release();
  });
});
