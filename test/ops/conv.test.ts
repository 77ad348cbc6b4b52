import { describe, expect, it } from 'vitest';
import { buildGradients } from '../../src/autodiff/gradient.js';
import { toAttrs } from '../../src/onnx/builder.js';
import { type Model, tensorFromNumbers } from '../../src/onnx/ir.js';
import { prepareGraph } from '../../src/onnx/prepare.js';
import { getOp, registerOps } from '../../src/ops/registry.js';
import { constInts, need } from '../../src/ops/util.js';
import { checkVjp, type InputSpec, type OpCase } from '../harness/vjp.js';

// The conv/matmul gradients emit Transpose and Slice. Until shape.ts defines them, register
// minimal shape-only stand-ins (skipped as soon as the real definitions exist).
if (!getOp('Transpose'))
  registerOps([
    {
      type: 'Transpose',
      infer: (ctx) => {
        const x = need(ctx, 0);
        const a = ctx.node.attrs.perm;
        const perm = a?.type === 'ints' ? a.value : x.shape.map((_, i) => x.shape.length - 1 - i);
        return [{ dtype: x.dtype, shape: perm.map((p) => x.shape[p]) }];
      },
    },
  ]);
if (!getOp('Slice'))
  registerOps([
    {
      type: 'Slice',
      nondiff: [1, 2, 3, 4],
      infer: (ctx) => {
        const x = need(ctx, 0);
        const starts = constInts(ctx, 1, 'starts') as number[];
        const ends = constInts(ctx, 2, 'ends') as number[];
        const axes = constInts(ctx, 3, 'axes') ?? starts.map((_, i) => i);
        const steps = constInts(ctx, 4, 'steps') ?? starts.map(() => 1);
        const shape = [...x.shape];
        axes.forEach((a0, i) => {
          const a = a0 < 0 ? a0 + shape.length : a0;
          const n = x.shape[a];
          const clamp = (v: number, lo: number, hi: number) => Math.min(Math.max(v < 0 ? v + n : v, lo), hi);
          const st = steps[i];
          const s = st > 0 ? clamp(starts[i], 0, n) : clamp(starts[i], -1, n - 1);
          const e = st > 0 ? clamp(ends[i], 0, n) : clamp(ends[i], -1, n - 1);
          shape[a] = Math.max(0, Math.ceil((e - s) / st));
        });
        return [{ dtype: x.dtype, shape }];
      },
    },
  ]);

const TOL = 2e-3;
const wrt = (shape: number[]): InputSpec => ({ shape, wrt: true });

async function expectVjp(c: OpCase): Promise<void> {
  const r = await checkVjp(c);
  expect(r.scale).toBeGreaterThan(0);
  expect(r.maxErr).toBeLessThan(TOL);
}

const conv = (x: number[], w: number[], attrs: OpCase['attrs'], bias = true): OpCase => ({
  op: 'Conv',
  attrs,
  inputs: [wrt(x), wrt(w), bias ? wrt([w[0]]) : { shape: [w[0]], omit: true }],
});

describe('Conv VJP (input, weight and bias gradients) vs finite differences', () => {
  it('stride 2 with asymmetric pads (output_padding restores the input size)', async () => {
    await expectVjp(conv([1, 2, 7, 6], [3, 2, 3, 3], { strides: [2, 2], pads: [1, 0, 2, 1] }));
  });
  it('stride whose last input row is never read (H=8, k=3, s=2, p=0): zero input grad there, weight grad cropped', async () => {
    await expectVjp(conv([1, 2, 8, 8], [2, 2, 3, 3], { strides: [2, 2] }));
  });
  it('batch 2 (batch/channel swap is a real Transpose) with stride 3 and unread rows beyond the end pad', async () => {
    // H: 10 rows, 3 outputs read 8 (output_padding 2, weight grad cropped by 2); W: 8 + pads 1/1, 2 unread, 1 of them a pad.
    await expectVjp(conv([2, 1, 10, 8], [2, 1, 2, 2], { strides: [3, 3], pads: [0, 1, 0, 1] }));
  });
  it('dilation 2 with pads', async () => {
    await expectVjp(conv([1, 2, 7, 8], [2, 2, 3, 3], { dilations: [2, 2], pads: [2, 1, 1, 2] }));
  });
  it('dilation 2 and stride 2 together (stride<->dilation roles exchange in the weight grad)', async () => {
    await expectVjp(conv([2, 2, 8, 7], [2, 2, 2, 3], { dilations: [2, 2], strides: [2, 2], pads: [1, 0, 0, 1] }));
  });
  it('groups=2 with batch 2', async () => {
    await expectVjp(conv([2, 4, 5, 4], [4, 2, 3, 3], { group: 2, pads: [1, 1, 1, 1] }));
  });
  it('groups=2 with 2 output channels per group, stride 2', async () => {
    await expectVjp(conv([2, 4, 5, 5], [6, 2, 2, 2], { group: 2, strides: [2, 2] }, false));
  });
  it('depthwise (group = C), stride 2, pad 1', async () => {
    await expectVjp(conv([2, 3, 6, 6], [3, 1, 3, 3], { group: 3, strides: [2, 2], pads: [1, 1, 1, 1] }));
  });
  it('depthwise with a channel multiplier (group = C, 2 outputs per channel)', async () => {
    await expectVjp(conv([1, 3, 6, 5], [6, 1, 3, 3], { group: 3, pads: [1, 1, 1, 1] }));
  });
  it('auto_pad SAME_UPPER, even kernel, stride 2 (odd pad row at the end)', async () => {
    await expectVjp(conv([1, 2, 7, 7], [2, 2, 4, 4], { auto_pad: 'SAME_UPPER', strides: [2, 2] }));
  });
  it('auto_pad SAME_LOWER, even kernel, stride 2 (odd pad row at the beginning)', async () => {
    await expectVjp(conv([1, 2, 7, 7], [2, 2, 4, 4], { auto_pad: 'SAME_LOWER', strides: [2, 2] }));
  });
  it('auto_pad SAME_UPPER where no pad is needed (k=1, s=2)', async () => {
    await expectVjp(conv([1, 2, 7, 6], [3, 2, 1, 1], { auto_pad: 'SAME_UPPER', strides: [2, 2] }));
  });
  it('auto_pad VALID ignores nothing it should not (stride 2, one unread row)', async () => {
    await expectVjp(conv([1, 2, 7, 7], [2, 2, 4, 4], { auto_pad: 'VALID', strides: [2, 2] }));
  });
  it('1x1 conv, stride 2, no bias', async () => {
    await expectVjp(conv([2, 3, 5, 4], [4, 3, 1, 1], { strides: [2, 2] }, false));
  });
  it('kernel_shape attribute given, no bias', async () => {
    await expectVjp(conv([2, 3, 4, 4], [2, 3, 3, 3], { kernel_shape: [3, 3], pads: [1, 1, 1, 1] }, false));
  });
  it('1-D conv with stride 2 and asymmetric pads', async () => {
    await expectVjp(conv([2, 3, 9], [4, 3, 3], { strides: [2], pads: [1, 0] }));
  });
  it('3-D conv with stride 2 and asymmetric pads (3-D ConvTranspose in onnxruntime)', async () => {
    await expectVjp(conv([1, 2, 5, 4, 4], [2, 2, 2, 2, 2], { strides: [2, 2, 2], pads: [1, 0, 0, 0, 1, 0] }));
  });
  it('input gradient only (constant weights) at opset 11', async () => {
    await expectVjp({
      op: 'Conv',
      opset: 11,
      attrs: { strides: [2, 2], pads: [1, 1, 1, 1] },
      inputs: [wrt([1, 3, 9, 9]), { shape: [4, 3, 3, 3], values: Array.from({ length: 108 }, (_, i) => Math.sin(i)) }],
    });
  });
  it('rejects a weight whose channels do not match the input', async () => {
    await expect(checkVjp(conv([1, 4, 5, 5], [2, 3, 3, 3], {}))).rejects.toThrow(/channels/);
  });
});

/** Conv with constant (initializer) weights: only the input gradient is built. */
const convConstW = (x: number[], w: number[], attrs: OpCase['attrs']): OpCase => ({
  op: 'Conv',
  attrs,
  inputs: [wrt(x), { shape: w, values: Array.from({ length: w.reduce((a, b) => a * b, 1) }, (_, i) => Math.sin(1.7 * i + 0.3)) }],
});

/** Op types of the backward part of the graph the harness would build for this case. */
function backwardOps(c: OpCase): string[] {
  const model: Model = {
    irVersion: 10,
    opsetImports: new Map([['', 21]]),
    producerName: 'test',
    producerVersion: '',
    metadata: {},
    graph: {
      name: 'g',
      nodes: [{ name: c.op, opType: c.op, domain: '', inputs: ['x', 'w'], outputs: ['y'], attrs: toAttrs(c.attrs) }],
      inputs: [{ name: 'x', dtype: 'float32', shape: c.inputs[0].shape }],
      outputs: [{ name: 'y', dtype: 'float32', shape: undefined }],
      initializers: new Map([['w', tensorFromNumbers('float32', c.inputs[1].shape, c.inputs[1].values as number[])]]),
      valueInfo: new Map(),
    },
  };
  const { builder: b, graph } = prepareGraph(model);
  const n0 = graph.nodes.length;
  const loss = b.emit('ReduceSum', ['y'], { keepdims: 0 });
  buildGradients({ builder: b, graph, loss, wrt: ['x'] });
  return graph.nodes.slice(n0 + 1).map((n) => n.opType);
}

describe('Conv input gradient with constant weights (stride 1: Conv with build-time flipped kernel)', () => {
  const cases: [string, OpCase, boolean][] = [
    ['3x3, asymmetric pads', convConstW([1, 2, 5, 6], [3, 2, 3, 3], { pads: [1, 0, 2, 1] }), true],
    ['dilation 2, pads', convConstW([1, 2, 7, 8], [2, 2, 3, 3], { dilations: [2, 1], pads: [2, 1, 1, 0] }), true],
    ['groups=2, 2 outputs per group', convConstW([2, 4, 5, 4], [4, 2, 3, 3], { group: 2, pads: [1, 1, 1, 1] }), true],
    ['depthwise with channel multiplier 2', convConstW([1, 3, 5, 5], [6, 1, 3, 3], { group: 3, pads: [1, 1, 1, 1] }), true],
    ['SAME_UPPER with an even kernel', convConstW([1, 2, 5, 5], [2, 2, 4, 2], { auto_pad: 'SAME_UPPER' }), true],
    ['1-D', convConstW([2, 3, 7], [2, 3, 3], { pads: [2, 0] }), true],
    ['3-D', convConstW([1, 2, 4, 3, 4], [2, 2, 2, 2, 3], { pads: [1, 0, 1, 0, 1, 1] }), true],
    ['pad wider than the kernel reach (falls back to ConvTranspose)', convConstW([1, 2, 4, 4], [2, 2, 1, 1], { pads: [1, 1, 1, 1] }), false],
    ['stride 2 (ConvTranspose)', convConstW([1, 2, 7, 7], [2, 2, 3, 3], { strides: [2, 2], pads: [1, 1, 1, 1] }), false],
  ];
  for (const [name, c, flipped] of cases)
    it(`${name}: ${flipped ? 'flipped-kernel Conv' : 'ConvTranspose'}`, async () => {
      const ops = backwardOps(c);
      expect(ops.includes('ConvTranspose')).toBe(!flipped);
      expect(ops.includes('Conv')).toBe(flipped);
      await expectVjp(c);
    });
});

const convT = (x: number[], w: number[], attrs: OpCase['attrs'], bias = true): OpCase => ({
  op: 'ConvTranspose',
  attrs,
  inputs: [wrt(x), wrt(w), bias ? wrt([w[1] * Number(attrs?.group ?? 1)]) : { shape: [1], omit: true }],
});

describe('ConvTranspose VJP vs finite differences', () => {
  it('stride 2, output_padding 1, asymmetric pads', async () => {
    await expectVjp(convT([1, 3, 4, 4], [3, 2, 3, 3], { strides: [2, 2], output_padding: [1, 1], pads: [1, 0, 1, 1] }));
  });
  it('group 2, stride 2, pad 1, batch 2', async () => {
    await expectVjp(convT([2, 4, 3, 3], [4, 3, 3, 3], { group: 2, strides: [2, 2], pads: [1, 1, 1, 1] }));
  });
  it('dilation 2, stride 2', async () => {
    await expectVjp(convT([2, 2, 3, 4], [2, 3, 2, 3], { dilations: [2, 2], strides: [2, 2], pads: [1, 0, 0, 1] }, false));
  });
  it('auto_pad SAME_UPPER with an odd total pad (the odd row is cropped at the end)', async () => {
    await expectVjp(convT([1, 2, 3, 3], [2, 2, 3, 3], { auto_pad: 'SAME_UPPER', strides: [2, 2] }));
  });
  it('auto_pad SAME_LOWER with an odd total pad (the odd row is cropped at the beginning)', async () => {
    await expectVjp(convT([1, 2, 3, 3], [2, 2, 3, 3], { auto_pad: 'SAME_LOWER', strides: [2, 2] }));
  });
  it('output_shape smaller than the natural size: pads derived from it (odd row at the beginning), pads attr ignored', async () => {
    await expectVjp(convT([1, 2, 3, 3], [2, 2, 3, 3], { output_shape: [6, 4], pads: [0, 0, 1, 1], strides: [2, 2] }));
  });
  it('output_shape with SAME_UPPER: odd row at the end', async () => {
    await expectVjp(convT([1, 2, 3, 3], [2, 2, 3, 3], { output_shape: [4, 6], auto_pad: 'SAME_UPPER', strides: [2, 2] }));
  });
  it('output_shape one row larger than the natural size (a row no input reaches)', async () => {
    await expectVjp(convT([1, 2, 3, 3], [2, 2, 3, 3], { output_shape: [8, 7], strides: [2, 2] }));
  });
  it('rejects an output_shape that exceeds the natural size by the stride', async () => {
    await expect(checkVjp(convT([1, 2, 3, 3], [2, 2, 3, 3], { output_shape: [9, 7], strides: [2, 2] }))).rejects.toThrow(/no input reaches/);
  });
  it('1-D, stride 3, output_padding 2', async () => {
    await expectVjp(convT([2, 2, 4], [2, 3, 3], { strides: [3], output_padding: [2], pads: [1, 0] }));
  });
  it('3-D, stride 2, asymmetric pads', async () => {
    await expectVjp(convT([1, 2, 3, 3, 2], [2, 2, 2, 2, 2], { strides: [2, 2, 2], pads: [1, 0, 0, 0, 1, 0] }));
  });
});

describe('Gemm VJP vs finite differences', () => {
  const gemm = (a: number[], b: number[], c: number[] | undefined, attrs: OpCase['attrs']): OpCase => ({
    op: 'Gemm',
    attrs,
    inputs: [wrt(a), wrt(b), c ? wrt(c) : { shape: [1], omit: true }],
  });
  const alphaBeta = { alpha: { type: 'float' as const, value: 0.7 }, beta: { type: 'float' as const, value: -1.3 } };
  it('plain, C of shape [N]', async () => {
    await expectVjp(gemm([3, 4], [4, 5], [5], {}));
  });
  it('transA, alpha/beta, C of shape [1, N]', async () => {
    await expectVjp(gemm([4, 3], [4, 5], [1, 5], { transA: 1, ...alphaBeta }));
  });
  it('transB, alpha/beta, scalar C', async () => {
    await expectVjp(gemm([3, 4], [5, 4], [], { transB: 1, ...alphaBeta }));
  });
  it('transA and transB, alpha/beta, C of shape [M, 1]', async () => {
    await expectVjp(gemm([4, 3], [5, 4], [3, 1], { transA: 1, transB: 1, ...alphaBeta }));
  });
  it('full C [M, N], alpha only', async () => {
    await expectVjp(gemm([3, 4], [4, 5], [3, 5], { alpha: { type: 'float', value: 2.5 } }));
  });
  it('no C (opset 11+), transB', async () => {
    await expectVjp(gemm([3, 4], [5, 4], undefined, { transB: 1 }));
  });
  it('C required at opset 9, C of shape [1]', async () => {
    await expectVjp({ ...gemm([3, 4], [4, 2], [1], alphaBeta), opset: 9 });
  });
});

describe('MatMul VJP vs finite differences', () => {
  const mm = (a: number[], b: number[]): OpCase => ({ op: 'MatMul', inputs: [wrt(a), wrt(b)] });
  it('2-D x 2-D', async () => expectVjp(mm([3, 4], [4, 5])));
  it('batched 3-D x 2-D (weight grad folds the batch into one GEMM)', async () => expectVjp(mm([2, 3, 4], [4, 5])));
  it('2-D x batched 3-D (left grad summed over the batch)', async () => expectVjp(mm([3, 4], [2, 4, 5])));
  it('broadcast batch [2,1,3,4] x [3,4,5]', async () => expectVjp(mm([2, 1, 3, 4], [3, 4, 5])));
  it('1-D x 2-D', async () => expectVjp(mm([4], [4, 5])));
  it('2-D x 1-D', async () => expectVjp(mm([3, 4], [4])));
  it('1-D x batched 3-D', async () => expectVjp(mm([4], [2, 4, 3])));
  it('batched 3-D x 1-D', async () => expectVjp(mm([2, 3, 4], [4])));
  it('1-D x 1-D (dot product)', async () => expectVjp(mm([5], [5])));
  it('rejects mismatched inner dimensions', async () => {
    await expect(checkVjp(mm([3, 4], [5, 2]))).rejects.toThrow(/inner dimensions/);
  });
});
