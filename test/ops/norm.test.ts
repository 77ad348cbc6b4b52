import { describe, expect, it } from 'vitest';
import { buildGradients } from '../../src/autodiff/gradient.js';
import { toAttrs } from '../../src/onnx/builder.js';
import { encodeModel } from '../../src/onnx/codec.js';
import { type Model, numel, type Tensor, tensorFromNumbers, toNumbers } from '../../src/onnx/ir.js';
import { prepareGraph } from '../../src/onnx/prepare.js';
import { serializeGraph } from '../../src/onnx/serialize.js';
import { type Attrs, float } from '../../src/ops/registry.js';
import { Session } from '../../src/runtime/session.js';
import { normal, rng } from '../harness/rng.js';
import { checkVjp, positive } from '../harness/vjp.js';

const TOL = 2e-3;

// ---------- forward-value helpers (the VJP harness only checks gradients against our own forward) ----------

interface FwdInput {
  shape: number[];
  data: number[];
  /** Fed at run time (else an initializer). */
  feed?: boolean;
}

function model(op: string, attrs: Attrs, opset: number, inputs: FwdInput[], nOutputs = 1): Model {
  const outputs = Array.from({ length: nOutputs }, (_, k) => `out${k}`);
  const initializers = new Map<string, Tensor>();
  inputs.forEach((s, i) => {
    if (!s.feed) initializers.set(`in${i}`, tensorFromNumbers('float32', s.shape, s.data));
  });
  return {
    irVersion: 8,
    opsetImports: new Map([['', opset]]),
    producerName: 'test',
    producerVersion: '',
    metadata: {},
    graph: {
      name: 'g',
      nodes: [{ name: op, opType: op, domain: '', inputs: inputs.map((_, i) => `in${i}`), outputs, attrs: toAttrs(attrs) }],
      inputs: inputs.flatMap((s, i) => (s.feed ? [{ name: `in${i}`, dtype: 'float32' as const, shape: s.shape }] : [])),
      outputs: outputs.map((name) => ({ name, dtype: 'float32' as const, shape: undefined })),
      initializers,
      valueInfo: new Map(),
    },
  };
}

function feeds(inputs: FwdInput[]) {
  return Object.fromEntries(
    inputs.flatMap((s, i) => (s.feed ? [[`in${i}`, { data: Float32Array.from(s.data), dims: s.shape, dtype: 'float32' as const }]] : [])),
  );
}

/** Output 0 of the model after robustscope's upgrade to opset 21. */
async function ourForward(m: Model, inputs: FwdInput[]): Promise<number[]> {
  const { graph } = prepareGraph(m);
  const s = await Session.create(serializeGraph(graph), { threads: 1 });
  const out = await s.run(feeds(inputs));
  await s.release();
  return Array.from(out[graph.outputs[0].name].data as Float32Array);
}

/** Output 0 of the ORIGINAL (older-opset) model, as onnxruntime itself interprets it. */
async function ortForward(m: Model, inputs: FwdInput[]): Promise<number[]> {
  const s = await Session.create(encodeModel(m), { threads: 1 });
  const out = await s.run(feeds(inputs));
  await s.release();
  return Array.from(out.out0.data as Float32Array);
}

function randn(n: number, seed: number): number[] {
  const r = rng(seed);
  return Array.from({ length: n }, () => normal(r));
}

const maxAbsDiff = (a: number[], b: number[]): number => {
  expect(a.length).toBe(b.length);
  return a.reduce((m, v, k) => Math.max(m, Math.abs(v - b[k])), 0);
};

/** Pre-opset-13 (Log)Softmax: the input viewed as [prod(dims[:axis]), prod(dims[axis:])], normalised per row. */
function oldSoftmax(x: number[], shape: number[], axis: number, log: boolean): number[] {
  const cols = numel(shape.slice(axis));
  const out = new Array<number>(x.length);
  for (let r = 0; r < x.length / cols; r++) {
    const row = x.slice(r * cols, (r + 1) * cols);
    const m = Math.max(...row);
    const z = row.reduce((s, v) => s + Math.exp(v - m), 0);
    row.forEach((v, k) => {
      out[r * cols + k] = log ? v - m - Math.log(z) : Math.exp(v - m) / z;
    });
  }
  return out;
}

// ---------- Softmax / LogSoftmax ----------

describe('Softmax / LogSoftmax VJPs', () => {
  it('Softmax axis 1 on [2,4,3,3] (segmentation logits: the class axis is not the last)', async () => {
    const r = await checkVjp({ op: 'Softmax', attrs: { axis: 1 }, inputs: [{ shape: [2, 4, 3, 3] }] });
    expect(r.maxErr).toBeLessThan(TOL);
  });
  it('Softmax with the default axis (-1 since opset 13)', async () => {
    const r = await checkVjp({ op: 'Softmax', inputs: [{ shape: [3, 2, 5] }] });
    expect(r.maxErr).toBeLessThan(TOL);
  });
  it('LogSoftmax axis 1 on [2,4,3,3]', async () => {
    const r = await checkVjp({ op: 'LogSoftmax', attrs: { axis: 1 }, inputs: [{ shape: [2, 4, 3, 3] }] });
    expect(r.maxErr).toBeLessThan(TOL);
  });
  it('LogSoftmax axis -1', async () => {
    const r = await checkVjp({ op: 'LogSoftmax', attrs: { axis: -1 }, inputs: [{ shape: [4, 6] }] });
    expect(r.maxErr).toBeLessThan(TOL);
  });

  for (const op of ['Softmax', 'LogSoftmax']) {
    it(`${op} opset 11, axis 1 on rank 3: the old flatten-from-axis semantics (Reshape -> ${op}(-1) -> Reshape)`, async () => {
      const shape = [2, 3, 4];
      const r = await checkVjp({ op, opset: 11, attrs: { axis: 1 }, inputs: [{ shape }] });
      expect(r.maxErr).toBeLessThan(TOL);
      const x = randn(numel(shape), 7);
      const inputs = [{ shape, data: x, feed: true }];
      const m = model(op, { axis: 1 }, 11, inputs);
      const ours = await ourForward(m, inputs);
      const want = oldSoftmax(x, shape, 1, op === 'LogSoftmax');
      expect(maxAbsDiff(ours, want)).toBeLessThan(1e-5);
      // Each row of 12 sums to one: NOT a per-axis-1 softmax (whose 4 groups of 3 would each sum to 1).
      if (op === 'Softmax') expect(ours.slice(0, 12).reduce((s, v) => s + v, 0)).toBeCloseTo(1, 5);
      expect(maxAbsDiff(ours, await ortForward(m, inputs))).toBeLessThan(1e-5);
    });
  }

  it('Softmax opset 11 without axis on [2,3,2,2]: the old default axis is 1 (flatten C*H*W), not -1', async () => {
    const shape = [2, 3, 2, 2];
    const x = randn(numel(shape), 3);
    const inputs = [{ shape, data: x, feed: true }];
    const m = model('Softmax', {}, 11, inputs);
    expect(maxAbsDiff(await ourForward(m, inputs), oldSoftmax(x, shape, 1, false))).toBeLessThan(1e-5);
    const r = await checkVjp({ op: 'Softmax', opset: 11, inputs: [{ shape }] });
    expect(r.maxErr).toBeLessThan(TOL);
  });

  it('Softmax opset 11 axis 1 on [2,5,1,1] (classifier head) becomes a plain single-axis softmax', async () => {
    const shape = [2, 5, 1, 1];
    const x = randn(numel(shape), 4);
    const inputs = [{ shape, data: x, feed: true }];
    const m = model('Softmax', { axis: 1 }, 11, inputs);
    const { graph } = prepareGraph(m);
    expect(graph.nodes.map((n) => n.opType)).toEqual(['Softmax']);
    expect(maxAbsDiff(await ourForward(m, inputs), oldSoftmax(x, shape, 1, false))).toBeLessThan(1e-5);
  });
});

// ---------- LayerNormalization ----------

describe('LayerNormalization VJP', () => {
  it('axis -1 on [2,5,8] (ViT tokens), gradients for X, Scale and B', async () => {
    const r = await checkVjp({
      op: 'LayerNormalization',
      attrs: { axis: -1, epsilon: float(1e-5) },
      inputs: [{ shape: [2, 5, 8] }, { shape: [8] }, { shape: [8] }],
    });
    expect(r.maxErr).toBeLessThan(TOL);
  });
  it('axis 1 on [2,4,3,3]: normalises over C,H,W; Scale/B of shape [4,3,3] summed over N only', async () => {
    const r = await checkVjp({
      op: 'LayerNormalization',
      attrs: { axis: 1, epsilon: float(1e-3) },
      inputs: [{ shape: [2, 4, 3, 3] }, { shape: [4, 3, 3] }, { shape: [4, 3, 3] }],
    });
    expect(r.maxErr).toBeLessThan(TOL);
  });
  it('axis -1 on an NHWC-permuted tensor [2,3,3,4] (ConvNeXt channels-last LayerNorm), Scale/B summed over N,H,W', async () => {
    const r = await checkVjp({
      op: 'LayerNormalization',
      attrs: { axis: -1 },
      inputs: [{ shape: [2, 3, 3, 4] }, { shape: [4] }, { shape: [4] }],
    });
    expect(r.maxErr).toBeLessThan(TOL);
  });
  it('B omitted, X-only gradient with a constant Scale', async () => {
    const r = await checkVjp({
      op: 'LayerNormalization',
      inputs: [{ shape: [3, 6] }, { shape: [6], values: [0.5, 1.5, -1, 2, 0.7, 1.1] }, { shape: [6], omit: true }],
    });
    expect(r.maxErr).toBeLessThan(TOL);
  });
  it('Mean and InvStdDev outputs: shapes [2,1,1] for axis 1 on [2,3,4], and gradients through them', async () => {
    const r = await checkVjp({
      op: 'LayerNormalization',
      attrs: { axis: 1 },
      nOutputs: 3,
      inputs: [{ shape: [2, 3, 4] }, { shape: [3, 4] }, { shape: [3, 4] }],
    });
    expect(r.maxErr).toBeLessThan(TOL);
    const { builder, graph } = prepareGraph(
      model(
        'LayerNormalization',
        { axis: 1 },
        21,
        [{ shape: [2, 3, 4], data: randn(24, 1), feed: true }, ...[1, 2].map(() => ({ shape: [3, 4], data: randn(12, 2) }))],
        3,
      ),
    );
    expect(graph.outputs.map((o) => builder.type(o.name).shape)).toEqual([
      [2, 3, 4],
      [2, 1, 1],
      [2, 1, 1],
    ]);
  });
});

// ---------- BatchNormalization ----------

const C = 3;
const bnConsts = {
  scale: [0.8, -1.3, 2.1],
  bias: [0.1, -0.4, 0.3],
  mean: [0.2, -0.5, 1.1],
  var: [0.6, 2.5, 0.09],
};

describe('BatchNormalization (inference) VJP', () => {
  it('constant stats: X gradient only', async () => {
    const r = await checkVjp({
      op: 'BatchNormalization',
      attrs: { epsilon: float(1e-3) },
      inputs: [
        { shape: [2, C, 4, 3] },
        { shape: [C], values: bnConsts.scale },
        { shape: [C], values: bnConsts.bias },
        { shape: [C], values: bnConsts.mean },
        { shape: [C], values: bnConsts.var },
      ],
    });
    expect(r.maxErr).toBeLessThan(TOL);
  });

  it('constant scale/var: the X gradient is ONE Mul by a build-time [C,1,1] constant scale/sqrt(var+eps)', async () => {
    const eps = 1e-3;
    const m = model('BatchNormalization', { epsilon: float(eps) }, 21, [
      { shape: [2, C, 4, 3], data: randn(72, 5), feed: true },
      { shape: [C], data: bnConsts.scale },
      { shape: [C], data: bnConsts.bias },
      { shape: [C], data: bnConsts.mean },
      { shape: [C], data: bnConsts.var },
    ]);
    const { builder: b, graph } = prepareGraph(m);
    // y*y keeps the incoming gradient non-constant (a plain sum would fold the whole backward away).
    const y = graph.outputs[0].name;
    const loss = b.emit('ReduceSum', [b.emit('Mul', [y, y])], { keepdims: 0 });
    const gx = buildGradients({ builder: b, graph, loss, wrt: ['in0'] }).get('in0') as string;
    // The BN rule adds exactly one node: the Mul producing the input gradient.
    const bnGrad = graph.nodes.filter((n) => n.inputs.some((i) => b.value(i)?.dims.join() === [C, 1, 1].join()));
    expect(bnGrad.map((n) => n.opType)).toEqual(['Mul']);
    const mul = graph.nodes.find((n) => n.outputs[0] === gx);
    expect(mul?.opType).toBe('Mul');
    const k = b.value(mul?.inputs[1] as string) as Tensor;
    expect(k.dims).toEqual([C, 1, 1]);
    toNumbers(k).forEach((v, j) => {
      expect(v).toBeCloseTo(bnConsts.scale[j] / Math.sqrt(bnConsts.var[j] + eps), 5);
    });
  });

  it('scale and B as differentiated inputs (constant mean/var), 2-D input [N,C]', async () => {
    const r = await checkVjp({
      op: 'BatchNormalization',
      inputs: [{ shape: [5, C] }, { shape: [C] }, { shape: [C] }, { shape: [C], values: bnConsts.mean }, { shape: [C], values: bnConsts.var }],
    });
    expect(r.maxErr).toBeLessThan(TOL);
  });

  it('all five inputs differentiated (non-constant var: the factor is emitted as ops)', async () => {
    const r = await checkVjp({
      op: 'BatchNormalization',
      attrs: { epsilon: float(1e-2) },
      inputs: [{ shape: [2, C, 3, 2] }, { shape: [C] }, { shape: [C] }, { shape: [C] }, { shape: [C], gen: positive }],
    });
    expect(r.maxErr).toBeLessThan(TOL);
  });

  it('opset 7 `spatial=1` attribute is dropped (opset 21 rejects it)', async () => {
    const r = await checkVjp({
      op: 'BatchNormalization',
      opset: 7,
      attrs: { spatial: 1 },
      inputs: [
        { shape: [2, C, 2, 2] },
        { shape: [C], values: bnConsts.scale },
        { shape: [C], values: bnConsts.bias },
        { shape: [C], values: bnConsts.mean },
        { shape: [C], values: bnConsts.var },
      ],
    });
    expect(r.maxErr).toBeLessThan(TOL);
  });

  it('opset 7 spatial=0 with per-activation stats [C,H,W]: rewritten to elementwise ops, forward value and gradient', async () => {
    const xs = [2, C, 2, 2];
    const ss = [C, 2, 2];
    const n = numel(ss);
    const stats = [randn(n, 11), randn(n, 12), randn(n, 13), randn(n, 14).map((v) => 0.2 + v * v)];
    const x = randn(numel(xs), 15);
    const inputs = [{ shape: xs, data: x, feed: true }, ...stats.map((data) => ({ shape: ss, data }))];
    const ours = await ourForward(model('BatchNormalization', { spatial: 0, epsilon: float(1e-5) }, 7, inputs), inputs);
    const want = x.map((v, i) => {
      const j = i % n;
      return ((v - stats[2][j]) / Math.sqrt(stats[3][j] + 1e-5)) * stats[0][j] + stats[1][j];
    });
    expect(maxAbsDiff(ours, want)).toBeLessThan(1e-5);
    const r = await checkVjp({
      op: 'BatchNormalization',
      opset: 7,
      attrs: { spatial: 0 },
      inputs: [{ shape: xs }, ...stats.map((values) => ({ shape: ss, values }))],
    });
    expect(r.maxErr).toBeLessThan(TOL);
  });

  it('training_mode=1 fails with a clear message', () => {
    const m = model('BatchNormalization', { training_mode: 1 }, 15, [
      { shape: [2, C], data: randn(6, 1), feed: true },
      ...[bnConsts.scale, bnConsts.bias, bnConsts.mean, bnConsts.var].map((data) => ({ shape: [C], data })),
    ]);
    expect(() => prepareGraph(m)).toThrow(/training-mode BatchNormalization.*training engine/);
  });
});

// ---------- InstanceNormalization / LpNormalization ----------

describe('InstanceNormalization / LpNormalization VJPs', () => {
  it('InstanceNormalization on [2,3,4,3]: per-(n,c) stats over H,W; gradients for X, scale, B', async () => {
    const r = await checkVjp({
      op: 'InstanceNormalization',
      attrs: { epsilon: float(1e-4) },
      inputs: [{ shape: [2, 3, 4, 3] }, { shape: [3] }, { shape: [3] }],
    });
    expect(r.maxErr).toBeLessThan(TOL);
  });
  it('InstanceNormalization on rank 3 [2,2,5]', async () => {
    const r = await checkVjp({ op: 'InstanceNormalization', inputs: [{ shape: [2, 2, 5] }, { shape: [2] }, { shape: [2] }] });
    expect(r.maxErr).toBeLessThan(TOL);
  });
  it('LpNormalization p=2 along axis 1 (embedding heads)', async () => {
    const r = await checkVjp({ op: 'LpNormalization', attrs: { axis: 1, p: 2 }, inputs: [{ shape: [3, 5, 2] }] });
    expect(r.maxErr).toBeLessThan(TOL);
  });
  it('LpNormalization p=1 along the default last axis (inputs away from 0: |x| has a kink there)', async () => {
    const r = await checkVjp({
      op: 'LpNormalization',
      attrs: { p: 1 },
      inputs: [{ shape: [3, 4], gen: (rr) => (rr() < 0.5 ? -1 : 1) * (0.3 + rr()) }],
    });
    expect(r.maxErr).toBeLessThan(TOL);
  });
});
