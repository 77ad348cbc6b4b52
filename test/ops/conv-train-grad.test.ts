// The training-time Conv / ConvTranspose gradient rules (trained weights, i.e. runtime weight inputs):
// ungrouped weight gradients as im2col (one-hot depthwise Conv) + batched MatMul, stride-1 input
// gradients as a Conv with the weights flipped at run time. Pinned against finite differences and,
// for the weight gradient, against a direct double-precision evaluation of the definition.
import { describe, expect, it } from 'vitest';
import { buildGradients } from '../../src/autodiff/gradient.js';
import { toAttrs } from '../../src/onnx/builder.js';
import { type Model, numel } from '../../src/onnx/ir.js';
import { prepareGraph } from '../../src/onnx/prepare.js';
import { serializeGraph } from '../../src/onnx/serialize.js';
import type { Attrs } from '../../src/ops/registry.js';
import { Session } from '../../src/runtime/session.js';
import { normal, rng } from '../harness/rng.js';
import { checkVjp, type OpCase } from '../harness/vjp.js';

const wrt = (shape: number[]) => ({ shape, wrt: true });

function graphOf(op: string, x: number[], w: number[], attrs: Attrs): Model {
  return {
    irVersion: 10,
    opsetImports: new Map([['', 21]]),
    producerName: 'test',
    producerVersion: '',
    metadata: {},
    graph: {
      name: 'g',
      nodes: [{ name: op, opType: op, domain: '', inputs: ['x', 'w'], outputs: ['y'], attrs: toAttrs(attrs) }],
      inputs: [
        { name: 'x', dtype: 'float32', shape: x },
        { name: 'w', dtype: 'float32', shape: w },
      ],
      outputs: [{ name: 'y', dtype: 'float32', shape: undefined }],
      initializers: new Map(),
      valueInfo: new Map(),
    },
  };
}

/** Backward op types and dL/dx, dL/dw of L = sum(y * R) evaluated by onnxruntime. */
async function gradients(op: string, x: number[], w: number[], attrs: Attrs, seed: number) {
  const { builder: b, graph } = prepareGraph(graphOf(op, x, w, attrs));
  const yShape = b.type('y').shape;
  const r = rng(seed);
  const R = Float32Array.from({ length: numel(yShape) }, () => normal(r));
  graph.inputs.push({ name: 'R', dtype: 'float32', shape: yShape });
  b.types.set('R', { dtype: 'float32', shape: yShape });
  const n0 = graph.nodes.length;
  const loss = b.emit('ReduceSum', [b.emit('Mul', ['y', 'R'])], { keepdims: 0 });
  const g = buildGradients({ builder: b, graph, loss, wrt: ['x', 'w'] });
  const back = graph.nodes.slice(n0 + 2);
  const ops = back.map((n) => n.opType);
  const convKernels = back.filter((n) => n.opType === 'Conv').map((n) => b.type(n.inputs[1]).shape.slice(2));
  graph.outputs = ['x', 'w'].map((k) => ({ name: g.get(k) as string, dtype: 'float32' as const, shape: b.type(g.get(k) as string).shape }));
  const xv = Float32Array.from({ length: numel(x) }, () => normal(r));
  const wv = Float32Array.from({ length: numel(w) }, () => normal(r));
  const s = await Session.create(serializeGraph(graph), { threads: 1 });
  const res = await s.run({
    x: { data: xv, dims: x, dtype: 'float32' },
    w: { data: wv, dims: w, dtype: 'float32' },
    R: { data: R, dims: yShape, dtype: 'float32' },
  });
  await s.release();
  return { ops, convKernels, xv, R, yShape, gx: res[g.get('x') as string].data as Float32Array, gw: res[g.get('w') as string].data as Float32Array };
}

/** dW of a 2-D Conv (group 1) straight from the definition, in double precision. */
function convWeightGradRef(x: Float32Array, xs: number[], R: Float32Array, ys: number[], w: number[], s: number[], d: number[], pb: number[]): Float64Array {
  const [N, C, H, W] = xs;
  const [, O, Ho, Wo] = ys;
  const [kh, kw] = w.slice(2);
  const out = new Float64Array(numel(w));
  for (let o = 0; o < O; o++)
    for (let c = 0; c < C; c++)
      for (let i = 0; i < kh; i++)
        for (let j = 0; j < kw; j++) {
          let acc = 0;
          for (let n = 0; n < N; n++)
            for (let p = 0; p < Ho; p++)
              for (let q = 0; q < Wo; q++) {
                const h = p * s[0] + i * d[0] - pb[0];
                const v = q * s[1] + j * d[1] - pb[1];
                if (h < 0 || h >= H || v < 0 || v >= W) continue;
                acc += x[((n * C + c) * H + h) * W + v] * R[((n * O + o) * Ho + p) * Wo + q];
              }
          out[((o * C + c) * kh + i) * kw + j] = acc;
        }
  return out;
}

function maxRelErr(got: Float32Array, want: Float64Array): number {
  let err = 0;
  let scale = 0;
  for (let i = 0; i < want.length; i++) {
    err = Math.max(err, Math.abs(got[i] - want[i]));
    scale = Math.max(scale, Math.abs(want[i]));
  }
  return err / scale;
}

describe('Conv weight gradient as im2col + MatMul (ungrouped, >= 128 output positions)', () => {
  const cases: [string, number[], number[], Attrs, number[], number[], number[]][] = [
    ['3x3, pad 1, batch 3', [3, 4, 12, 12], [5, 4, 3, 3], { pads: [1, 1, 1, 1] }, [1, 1], [1, 1], [1, 1]],
    ['asymmetric pads, even kernel', [2, 3, 13, 11], [4, 3, 2, 4], { pads: [1, 0, 0, 2] }, [1, 1], [1, 1], [1, 0]],
    ['stride 2 with a row never read', [2, 3, 26, 25], [4, 3, 3, 3], { strides: [2, 2], pads: [1, 0, 0, 0] }, [2, 2], [1, 1], [1, 0]],
    ['dilation 2, pads 2', [2, 3, 12, 12], [3, 3, 3, 3], { dilations: [2, 2], pads: [2, 2, 2, 2] }, [1, 1], [2, 2], [2, 2]],
    ['1x1 (the input is its own im2col)', [2, 6, 12, 12], [4, 6, 1, 1], {}, [1, 1], [1, 1], [0, 0]],
    ['1x1 stride 2', [2, 6, 24, 24], [4, 6, 1, 1], { strides: [2, 2] }, [2, 2], [1, 1], [0, 0]],
  ];
  for (const [name, x, w, attrs, s, d, pb] of cases)
    it(`${name}: matches the definition to float32 rounding, no batch-as-channels Conv`, async () => {
      const r = await gradients('Conv', x, w, attrs, 3);
      expect(r.ops).toContain('MatMul');
      // The old rule's Conv took the output gradient as its kernel: no Conv here has a kernel wider than w.
      for (const k of r.convKernels) expect(k.every((v, i) => v <= w[i + 2])).toBe(true);
      const ref = convWeightGradRef(r.xv, x, r.R, r.yShape, w, s, d, pb);
      expect(maxRelErr(r.gw, ref)).toBeLessThan(1e-5);
    });

  it('SAME_UPPER, stride 2, and a 3-D conv: finite differences', async () => {
    const cases: OpCase[] = [
      { op: 'Conv', attrs: { auto_pad: 'SAME_UPPER', strides: [2, 2] }, inputs: [wrt([1, 2, 24, 23]), wrt([3, 2, 4, 3]), wrt([3])] },
      { op: 'Conv', attrs: { pads: [1, 0, 1, 1, 0, 1] }, inputs: [wrt([1, 2, 6, 6, 5]), wrt([2, 2, 3, 2, 3]), wrt([2])] },
      { op: 'Conv', attrs: { pads: [2, 1], dilations: [2] }, inputs: [wrt([2, 3, 140]), wrt([2, 3, 3]), wrt([2])] },
    ];
    for (const c of cases) {
      const rep = await checkVjp(c);
      expect(rep.scale).toBeGreaterThan(0);
      expect(rep.maxErr).toBeLessThan(2e-3);
    }
  });

  it('ConvTranspose weight gradient (stride 1 and stride 2 with output_padding): finite differences', async () => {
    for (const c of [
      { op: 'ConvTranspose', attrs: { pads: [1, 1, 1, 1] }, inputs: [wrt([2, 3, 12, 12]), wrt([3, 2, 3, 3]), wrt([2])] },
      { op: 'ConvTranspose', attrs: { strides: [2, 2], pads: [1, 0, 1, 1], output_padding: [1, 1] }, inputs: [wrt([1, 3, 12, 12]), wrt([3, 2, 3, 3])] },
    ] as OpCase[]) {
      const rep = await checkVjp(c);
      expect(rep.scale).toBeGreaterThan(0);
      expect(rep.maxErr).toBeLessThan(2e-3);
    }
  });
});

describe('Conv input gradient with trained weights (stride 1: Conv with the kernel flipped at run time)', () => {
  it('3x3 pad 1 on 12x12: no ConvTranspose, finite differences hold for input and weights', async () => {
    const r = await gradients('Conv', [2, 3, 12, 12], [4, 3, 3, 3], { pads: [1, 1, 1, 1] }, 5);
    expect(r.ops).not.toContain('ConvTranspose');
    const rep = await checkVjp({ op: 'Conv', attrs: { pads: [1, 1, 1, 1] }, inputs: [wrt([2, 3, 12, 12]), wrt([4, 3, 3, 3]), wrt([4])] });
    expect(rep.maxErr).toBeLessThan(2e-3);
  });
  for (const [name, c] of [
    ['asymmetric pads, dilation 2', { op: 'Conv', attrs: { pads: [2, 1, 1, 0], dilations: [2, 1] }, inputs: [wrt([1, 2, 13, 12]), wrt([3, 2, 3, 3])] }],
    ['groups=2, 2 outputs per group', { op: 'Conv', attrs: { group: 2, pads: [1, 1, 1, 1] }, inputs: [wrt([2, 4, 12, 12]), wrt([4, 2, 3, 3])] }],
    ['depthwise with channel multiplier 2', { op: 'Conv', attrs: { group: 3, pads: [1, 1, 1, 1] }, inputs: [wrt([1, 3, 12, 12]), wrt([6, 1, 3, 3])] }],
    ['3-D', { op: 'Conv', attrs: { pads: [1, 0, 1, 0, 1, 1] }, inputs: [wrt([1, 2, 6, 5, 6]), wrt([2, 2, 2, 2, 3])] }],
  ] as [string, OpCase][])
    it(`${name}: finite differences`, async () => {
      const rep = await checkVjp(c);
      expect(rep.scale).toBeGreaterThan(0);
      expect(rep.maxErr).toBeLessThan(2e-3);
    });
});
