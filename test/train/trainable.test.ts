// TrainableModel (src/train/trainable.ts) on a tiny model: which initializers are parameters, weight
// gradients against finite differences (training mode with batch statistics and seeded dropout, and eval
// mode), the running-statistics update, dropout seeding, reductions, auxiliary heads, the eval-mode
// input gradient, and the exported ONNX model re-loaded by RobustModel and by plain onnxruntime.
import { describe, expect, it } from 'vitest';
import { encodeModel } from '../../src/onnx/codec.js';
import { RobustModel } from '../../src/runtime/model.js';
import { Session } from '../../src/runtime/session.js';
import { dropoutMask } from '../../src/train/graph.js';
import { type StepOptions, TrainableModel } from '../../src/train/trainable.js';
import { Rng } from '../../src/util/random.js';
import { maxAbsDiff } from '../harness/compare.js';
import { tinyBatch, tinyModel } from './tiny.js';

function maxAbs(a: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]));
  return m;
}

/** Random +-1 directions over all parameters: central differences of the objective vs sum <grad, d>. */
async function fdWeights(model: TrainableModel, opts: StepOptions, seed: number, dirs = 6, h = 2e-3): Promise<number> {
  const { x, labels } = tinyBatch(3);
  const params = model.parameters();
  const base = await model.step(x, labels, opts);
  const r = new Rng(seed);
  let worst = 0;
  for (let j = 0; j < dirs; j++) {
    const d = new Map([...params].map(([k, v]) => [k, Float32Array.from(v, () => (r.next() < 0.5 ? -1 : 1))]));
    const orig = new Map([...params].map(([k, v]) => [k, Float32Array.from(v)]));
    const at = async (s: number) => {
      for (const [k, v] of params) {
        const o = orig.get(k) as Float32Array;
        const dk = d.get(k) as Float32Array;
        for (let i = 0; i < v.length; i++) v[i] = o[i] + s * h * dk[i];
      }
      return (await model.step(x, labels, opts)).loss;
    };
    const fd = ((await at(1)) - (await at(-1))) / (2 * h);
    for (const [k, v] of params) v.set(orig.get(k) as Float32Array);
    let an = 0;
    let scale = 0;
    for (const [k, g] of base.grads) {
      const dk = d.get(k) as Float32Array;
      for (let i = 0; i < g.length; i++) {
        an += g[i] * dk[i];
        scale += Math.abs(g[i]);
      }
    }
    worst = Math.max(worst, Math.abs(fd - an) / Math.max(Math.abs(an), 1e-2 * scale));
  }
  return worst;
}

describe('TrainableModel: parameters and buffers', () => {
  it('float initializers feeding differentiable inputs are parameters (with roles); running stats are buffers; scalars, int shapes and the dropout ratio are not', () => {
    const m = TrainableModel.fromOnnx(tinyModel());
    const info = m.parameterInfo();
    expect(info.map((p) => `${p.name}:${p.role}`).sort()).toEqual(
      [
        'aux.weight:weight',
        'bn0.bias:norm',
        'bn0.weight:norm',
        'bn1.bias:norm',
        'bn1.weight:norm',
        'conv1.bias:bias',
        'conv1.weight:weight',
        'head.bias:bias',
        'head.weight:weight',
      ].sort(),
    );
    expect([...m.buffers().keys()].sort()).toEqual(['bn0.running_mean', 'bn0.running_var', 'bn1.running_mean', 'bn1.running_var']);
    expect(m.parameters().get('conv1.weight')?.length).toBe(6 * 27);
  });

  it('`trainable` freezes candidates (they stay constants and get no gradient)', async () => {
    const m = TrainableModel.fromOnnx(tinyModel(), { trainable: (name) => !name.startsWith('bn0.') });
    expect(m.parameterInfo().some((p) => p.name.startsWith('bn0.'))).toBe(false);
    const { x, labels } = tinyBatch(2);
    const r = await m.step(x, labels, { dropoutSeed: 1 });
    expect([...r.grads.keys()].sort()).toEqual([...m.parameters().keys()].sort());
  });

  it('parameters() are owned copies: the source model is not modified by training', async () => {
    const src = tinyModel();
    const before = Float32Array.from(src.graph.initializers.get('conv1.weight')?.data as Float32Array);
    const m = TrainableModel.fromOnnx(src);
    (m.parameters().get('conv1.weight') as Float32Array)[0] += 1;
    expect(Array.from(src.graph.initializers.get('conv1.weight')?.data as Float32Array)).toEqual(Array.from(before));
  });
});

describe('TrainableModel: weight gradients vs finite differences', () => {
  it('training mode: batch-statistics BatchNormalization (on the input and after a conv) and seeded dropout, sum reduction', async () => {
    const m = TrainableModel.fromOnnx(tinyModel({ act: 'Tanh' }), { threads: 1 });
    const err = await fdWeights(m, { dropoutSeed: 42, updateStats: false }, 1);
    expect(err).toBeLessThan(5e-3);
  });

  it('eval mode: running statistics, dropout identity, mean reduction, auxiliary head weight 0.4', async () => {
    const m = TrainableModel.fromOnnx(tinyModel({ act: 'Tanh' }), { threads: 1 });
    const err = await fdWeights(m, { training: false, reduction: 'mean', aux: [{ output: 'aux', weight: 0.4 }] }, 2);
    expect(err).toBeLessThan(5e-3);
  });

  it('training mode with the input gradient too (one run): d/dx vs finite differences along a random direction', async () => {
    const m = TrainableModel.fromOnnx(tinyModel({ act: 'Tanh' }), { threads: 1 });
    const { x, labels } = tinyBatch(3);
    const opts: StepOptions = { dropoutSeed: 9, updateStats: false, inputGrad: true };
    const r = await m.step(x, labels, opts);
    const g = r.inputGrad as Float32Array;
    const rr = new Rng(4);
    const d = Float32Array.from(x.data, () => (rr.next() < 0.5 ? -1 : 1));
    const h = 1e-3;
    const at = async (s: number) => (await m.step({ data: Float32Array.from(x.data, (v, i) => v + s * h * d[i]), dims: x.dims }, labels, opts)).loss;
    const fd = ((await at(1)) - (await at(-1))) / (2 * h);
    let an = 0;
    for (let i = 0; i < g.length; i++) an += g[i] * d[i];
    expect(Math.abs(fd - an) / Math.abs(an)).toBeLessThan(5e-3);
  });
});

describe('TrainableModel: BatchNormalization running statistics', () => {
  it('a training step updates them like PyTorch: momentum 0.1, UNBIASED batch variance (bn0 sees x itself)', async () => {
    const m = TrainableModel.fromOnnx(tinyModel());
    const { x, labels } = tinyBatch(3);
    const rm0 = Float32Array.from(m.buffers().get('bn0.running_mean') as Float32Array);
    const rv0 = Float32Array.from(m.buffers().get('bn0.running_var') as Float32Array);
    const bn1 = Float32Array.from(m.buffers().get('bn1.running_var') as Float32Array);
    await m.step(x, labels, { dropoutSeed: 1 });
    const mom = Math.fround(0.9);
    const n = 3 * 64;
    for (let c = 0; c < 3; c++) {
      let s = 0;
      for (let i = 0; i < 3; i++) for (let k = 0; k < 64; k++) s += x.data[(i * 3 + c) * 64 + k];
      const mean = s / n;
      let q = 0;
      for (let i = 0; i < 3; i++) for (let k = 0; k < 64; k++) q += (x.data[(i * 3 + c) * 64 + k] - mean) ** 2;
      const unbiased = q / (n - 1);
      expect((m.buffers().get('bn0.running_mean') as Float32Array)[c]).toBeCloseTo(rm0[c] * mom + mean * (1 - mom), 6);
      expect((m.buffers().get('bn0.running_var') as Float32Array)[c]).toBeCloseTo(rv0[c] * mom + unbiased * (1 - mom), 6);
    }
    expect(maxAbsDiff(m.buffers().get('bn1.running_var') as Float32Array, bn1)).toBeGreaterThan(1e-4);
  });

  it("runningVar: 'biased' folds the population variance (the ONNX spec); updateStats: false and eval steps leave them alone", async () => {
    const m = TrainableModel.fromOnnx(tinyModel(), { runningVar: 'biased' });
    const { x, labels } = tinyBatch(2);
    const rv0 = Float32Array.from(m.buffers().get('bn0.running_var') as Float32Array);
    await m.step(x, labels, { updateStats: false });
    await m.step(x, labels, { training: false });
    await m.inputGrad(x, labels);
    expect(Array.from(m.buffers().get('bn0.running_var') as Float32Array)).toEqual(Array.from(rv0));
    await m.step(x, labels);
    const n = 2 * 64;
    let s = 0;
    for (let i = 0; i < 2; i++) for (let k = 0; k < 64; k++) s += x.data[i * 3 * 64 + k];
    const mean = s / n;
    let q = 0;
    for (let i = 0; i < 2; i++) for (let k = 0; k < 64; k++) q += (x.data[i * 3 * 64 + k] - mean) ** 2;
    const mom = Math.fround(0.9);
    expect((m.buffers().get('bn0.running_var') as Float32Array)[0]).toBeCloseTo(rv0[0] * mom + (q / n) * (1 - mom), 6);
  });

  it('forward in training mode (BN recalibration) updates the statistics; eval forward does not', async () => {
    const m = TrainableModel.fromOnnx(tinyModel());
    const { x } = tinyBatch(2);
    const rm0 = Float32Array.from(m.buffers().get('bn1.running_mean') as Float32Array);
    await m.forward(x);
    expect(Array.from(m.buffers().get('bn1.running_mean') as Float32Array)).toEqual(Array.from(rm0));
    await m.forward(x, { training: true, dropoutSeed: 3 });
    expect(maxAbsDiff(m.buffers().get('bn1.running_mean') as Float32Array, rm0)).toBeGreaterThan(1e-5);
  });
});

describe('TrainableModel: dropout', () => {
  it('the same seed gives the same masks (identical losses and gradients), another seed different ones; eval mode is deterministic and dropout-free', async () => {
    const m = TrainableModel.fromOnnx(tinyModel({ dropout: 0.5 }));
    const { x, labels } = tinyBatch(2);
    const o = { updateStats: false, logits: true };
    const a = await m.step(x, labels, { ...o, dropoutSeed: 7 });
    const b = await m.step(x, labels, { ...o, dropoutSeed: 7 });
    const c = await m.step(x, labels, { ...o, dropoutSeed: 8 });
    expect(Array.from(b.losses)).toEqual(Array.from(a.losses));
    expect(Array.from(b.grads.get('conv1.weight') as Float32Array)).toEqual(Array.from(a.grads.get('conv1.weight') as Float32Array));
    expect(maxAbsDiff(c.losses, a.losses)).toBeGreaterThan(1e-4);
    // Default seeds advance per step: two default steps differ.
    const d1 = await m.step(x, labels, o);
    const d2 = await m.step(x, labels, o);
    expect(maxAbsDiff(d1.losses, d2.losses)).toBeGreaterThan(1e-4);
    // Eval: the head sees 0.5 * relu(bn(conv)) without dropout; same as forward().
    const e1 = await m.step(x, labels, { training: false, logits: true });
    const f = await m.forward(x);
    expect(maxAbsDiff(e1.logits as Float32Array, f.logits)).toBeLessThan(1e-6);
  });

  it('masks: a fraction `ratio` dropped, the kept values exactly 1/(1-ratio); in the graph, logits averaged over seeds converge to the dropout-free ones', async () => {
    const mask = dropoutMask({ input: 'm', dims: [100, 1000], ratio: 0.3, index: 0 }, 5);
    let zeros = 0;
    for (const v of mask) {
      if (v === 0) zeros++;
      else expect(v).toBe(Math.fround(1 / 0.7));
    }
    expect(Math.abs(zeros / mask.length - 0.3)).toBeLessThan(0.005);
    // The head is linear in the dropped activations, so E[logits] = dropout-free logits.
    const m = TrainableModel.fromOnnx(tinyModel({ dropout: 0.5 }));
    const { x, labels } = tinyBatch(1);
    const ref = (await TrainableModel.fromOnnx(tinyModel({ dropout: 0 })).step(x, labels, { updateStats: false, logits: true })).logits as Float32Array;
    const S = 100;
    const sum = new Float64Array(ref.length);
    const sq = new Float64Array(ref.length);
    for (let s = 0; s < S; s++) {
      const l = (await m.step(x, labels, { updateStats: false, logits: true, dropoutSeed: s })).logits as Float32Array;
      for (let i = 0; i < l.length; i++) {
        sum[i] += l[i];
        sq[i] += l[i] * l[i];
      }
    }
    let spread = 0;
    for (let i = 0; i < ref.length; i++) {
      const mean = sum[i] / S;
      const sd = Math.sqrt(Math.max(0, sq[i] / S - mean * mean));
      spread = Math.max(spread, sd);
      expect(Math.abs(mean - ref[i]), `logit ${i}`).toBeLessThanOrEqual((5 * sd) / Math.sqrt(S) + 1e-6);
    }
    expect(spread).toBeGreaterThan(1e-3);
  });
});

describe('TrainableModel: reductions, heads, input gradient, evaluate', () => {
  it("'mean' is the 'sum' objective and gradients divided by N", async () => {
    const m = TrainableModel.fromOnnx(tinyModel());
    const { x, labels } = tinyBatch(3);
    const s = await m.step(x, labels, { dropoutSeed: 1, updateStats: false });
    const a = await m.step(x, labels, { dropoutSeed: 1, updateStats: false, reduction: 'mean' });
    expect(a.loss).toBeCloseTo(s.loss / 3, 5);
    expect(Array.from(a.losses)).toEqual(Array.from(s.losses));
    const gs = s.grads.get('head.weight') as Float32Array;
    expect(
      maxAbsDiff(
        a.grads.get('head.weight') as Float32Array,
        Float32Array.from(gs, (v) => v / 3),
      ),
    ).toBeLessThan(1e-6 * maxAbs(gs) + 1e-9);
  });

  it('auxiliary head: objective = main + 0.4 aux; aux-only parameters get 0.4 x their aux gradient', async () => {
    const m = TrainableModel.fromOnnx(tinyModel());
    const auxModel = TrainableModel.fromOnnx(tinyModel(), { output: 'aux' });
    const { x, labels } = tinyBatch(2);
    const o: StepOptions = { training: false };
    const main = await m.step(x, labels, o);
    const both = await m.step(x, labels, { ...o, aux: [{ output: 'aux', weight: 0.4 }] });
    const aux = await auxModel.step(x, labels, o);
    expect(both.loss).toBeCloseTo(main.loss + 0.4 * aux.loss, 5);
    expect(maxAbs(main.grads.get('aux.weight') as Float32Array)).toBe(0);
    const ga = aux.grads.get('aux.weight') as Float32Array;
    expect(
      maxAbsDiff(
        both.grads.get('aux.weight') as Float32Array,
        Float32Array.from(ga, (v) => 0.4 * v),
      ),
    ).toBeLessThan(1e-6 * maxAbs(ga));
    const gm = main.grads.get('conv1.weight') as Float32Array;
    const gx = aux.grads.get('conv1.weight') as Float32Array;
    const want = Float32Array.from(gm, (v, i) => v + 0.4 * gx[i]);
    expect(maxAbsDiff(both.grads.get('conv1.weight') as Float32Array, want)).toBeLessThan(1e-5 * maxAbs(want));
  });

  it('inputGrad (eval mode, current weights) equals RobustModel.lossAndGrad on the exported model; evaluate() equals RobustModel.evaluate', async () => {
    const m = TrainableModel.fromOnnx(tinyModel());
    const { x, labels } = tinyBatch(2);
    // Change the weights and statistics first: the graphs must read the current values.
    for (let k = 0; k < 2; k++) {
      const r = await m.step(x, labels, { dropoutSeed: k });
      for (const [name, g] of r.grads) {
        const p = m.parameters().get(name) as Float32Array;
        for (let i = 0; i < p.length; i++) p[i] -= 0.5 * g[i];
      }
    }
    const ours = await m.inputGrad(x, labels, { loss: 'ce-avg' });
    const robust = RobustModel.fromOnnx(m.toOnnx());
    const ref = await robust.lossAndGrad(x, labels, { loss: 'ce-avg' });
    expect(maxAbsDiff(ours.logits, ref.logits)).toBeLessThan(1e-5);
    expect(maxAbsDiff(ours.losses, ref.losses)).toBeLessThan(1e-6);
    expect(maxAbsDiff(ours.grad, ref.grad)).toBeLessThan(1e-5 * maxAbs(ref.grad));
    const spec = { loss: { loss: 'ce-avg' }, track: true, accuracy: true, pred: true, logits: true };
    const e1 = await m.evaluate(x, labels, spec);
    const e2 = await robust.evaluate(x, labels, spec);
    for (const k of ['losses', 'grad', 'track', 'correct', 'labelled', 'logits'] as const)
      expect(maxAbsDiff(e1[k] as Float32Array, e2[k] as Float32Array), k).toBeLessThan(1e-5 * Math.max(1, maxAbs(e2[k] as Float32Array)));
    expect(Array.from(e1.pred as BigInt64Array)).toEqual(Array.from(e2.pred as BigInt64Array));
  });
});

describe('TrainableModel: export', () => {
  it('toOnnx after SGD steps: plain inference ONNX with the current weights and running statistics; RobustModel and bare onnxruntime give our eval logits', async () => {
    const m = TrainableModel.fromOnnx(tinyModel());
    const { x, labels } = tinyBatch(4);
    const probe: StepOptions = { dropoutSeed: 0, updateStats: false, reduction: 'mean' };
    const before = (await m.step(x, labels, probe)).loss;
    for (let k = 0; k < 10; k++) {
      const r = await m.step(x, labels, { dropoutSeed: k, reduction: 'mean' });
      for (const [name, g] of r.grads) {
        const p = m.parameters().get(name) as Float32Array;
        for (let i = 0; i < p.length; i++) p[i] -= 0.5 * g[i];
      }
    }
    // Sanity: training on a fixed batch lowers its (same-mask) loss.
    expect((await m.step(x, labels, probe)).loss).toBeLessThan(0.95 * before);
    const ours = await m.forward(x);
    const onnx = m.toOnnx();
    expect(onnx.graph.nodes.some((n) => n.attrs.training_mode)).toBe(false);
    expect(onnx.graph.inputs.map((i) => i.name)).toEqual(['x']);
    expect(Array.from(onnx.graph.initializers.get('bn1.running_mean')?.data as Float32Array)).toEqual(
      Array.from(m.buffers().get('bn1.running_mean') as Float32Array),
    );
    // Later training does not alter an exported model.
    const snapshot = Float32Array.from(onnx.graph.initializers.get('conv1.weight')?.data as Float32Array);
    (m.parameters().get('conv1.weight') as Float32Array)[0] += 1;
    expect(Array.from(onnx.graph.initializers.get('conv1.weight')?.data as Float32Array)).toEqual(Array.from(snapshot));
    const viaRobust = await RobustModel.fromOnnx(onnx).forward(x);
    expect(maxAbsDiff(viaRobust.logits, ours.logits)).toBeLessThan(1e-5);
    const s = await Session.create(encodeModel(onnx), { threads: 1 });
    const raw = await s.run({ x: { data: x.data, dims: x.dims, dtype: 'float32' } }, ['logits']);
    await s.release();
    expect(maxAbsDiff(raw.logits.data as Float32Array, ours.logits)).toBeLessThan(1e-5);
  });

  it('a PyTorch TRAINING-mode export (BN training_mode=1 with running-stat outputs) is taken in inference form', async () => {
    const m = TrainableModel.fromOnnx(tinyModel({ trainingExport: true }));
    const plain = TrainableModel.fromOnnx(tinyModel());
    const { x, labels } = tinyBatch(2);
    const a = await m.step(x, labels, { dropoutSeed: 2, updateStats: false });
    const b = await plain.step(x, labels, { dropoutSeed: 2, updateStats: false });
    expect(a.loss).toBeCloseTo(b.loss, 6);
    expect(
      m
        .toOnnx()
        .graph.nodes.filter((n) => n.opType === 'BatchNormalization')
        .every((n) => n.outputs.length === 1 && !n.attrs.training_mode),
    ).toBe(true);
  });
});
