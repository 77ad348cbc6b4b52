import { describe, expect, it } from 'vitest';
import { buildGradients } from '../../src/autodiff/gradient.js';
import { toAttrs } from '../../src/onnx/builder.js';
import { type DType, type Graph, type Model, type Node, type Tensor, tensorFromNumbers, toNumbers } from '../../src/onnx/ir.js';
import { prepareGraph } from '../../src/onnx/prepare.js';
import { serializeGraph } from '../../src/onnx/serialize.js';
import type { Attrs } from '../../src/ops/registry.js';
import { Session } from '../../src/runtime/session.js';
import { checkVjp, type InputSpec, type OpCase } from '../harness/vjp.js';

const TOL = 2e-3;
const i64 = (values: number[], shape: number[] = [values.length]): InputSpec => ({ shape, dtype: 'int64', values });
const expectVjp = async (c: OpCase): Promise<void> => {
  const r = await checkVjp(c);
  expect(r.checks).toBeGreaterThan(0);
  expect(r.maxErr).toBeLessThan(TOL);
};

const INT64_MAX = 9223372036854775807n;
const INT64_MIN = -9223372036854775808n;
const big = (vs: bigint[]): Tensor => ({ dtype: 'int64', dims: [vs.length], data: BigInt64Array.from(vs) });
const ints = (vs: number[], dims: number[] = [vs.length]): Tensor => tensorFromNumbers('int64', dims, vs);
const mk = (opType: string, inputs: string[], outputs: string[], attrs: Attrs = {}): Node => ({
  name: outputs[0],
  opType,
  domain: '',
  inputs,
  outputs,
  attrs: toAttrs(attrs),
});

function model(
  nodes: Node[],
  inputs: { name: string; shape: (number | string)[]; dtype?: DType }[],
  outputs: string[],
  inits: [string, Tensor][] = [],
  opset = 17,
): Model {
  return {
    irVersion: 8,
    opsetImports: new Map([['', opset]]),
    producerName: 'test',
    producerVersion: '',
    metadata: {},
    graph: {
      name: 'g',
      nodes,
      inputs: inputs.map((i) => ({ name: i.name, dtype: i.dtype ?? 'float32', shape: i.shape })),
      outputs: outputs.map((name) => ({ name, dtype: 'float32', shape: undefined })),
      initializers: new Map(inits),
      valueInfo: new Map(),
    },
  };
}

/** Op types of the backward graph of a one-node model whose float inputs 'in0'.. are all differentiated. */
function gradOps(op: string, attrs: Attrs, inputs: { shape: number[]; value?: Tensor }[]): string[] {
  const names = inputs.map((_, i) => `in${i}`);
  const m = model(
    [mk(op, names, ['out0'], attrs)],
    inputs.flatMap((s, i) => (s.value ? [] : [{ name: names[i], shape: s.shape }])),
    ['out0'],
    inputs.flatMap((s, i) => (s.value ? [[names[i], s.value] as [string, Tensor]] : [])),
    21,
  );
  const { builder: b, graph } = prepareGraph(m);
  const n0 = graph.nodes.length;
  const loss = b.emit('ReduceSum', [b.emit('Mul', [graph.outputs[0].name, graph.outputs[0].name])], { keepdims: 0 });
  buildGradients({ builder: b, graph, loss, wrt: graph.inputs.map((i) => i.name) });
  // Skip the loss (Mul, ReduceSum) and its own backward (Mul, Mul, Sum).
  return graph.nodes.slice(n0 + 5).map((n) => n.opType);
}

describe('Concat / Split VJPs', () => {
  it('Concat of 3 inputs on axis 1 with only inputs 0 and 2 differentiated (slices only the wanted parts)', async () => {
    await expectVjp({ op: 'Concat', attrs: { axis: 1 }, inputs: [{ shape: [2, 2, 3] }, { shape: [2, 3, 3], wrt: false }, { shape: [2, 1, 3] }] });
    expect(
      gradOps('Concat', { axis: 1 }, [
        { shape: [2, 2, 3] },
        { shape: [2, 3, 3], value: tensorFromNumbers('float32', [2, 3, 3], new Array(18).fill(0)) },
        { shape: [2, 1, 3] },
      ]),
    ).not.toContain('Split');
  });
  it('Concat with every input differentiated on a negative axis (one Split)', async () => {
    await expectVjp({ op: 'Concat', attrs: { axis: -1 }, inputs: [{ shape: [2, 3, 1] }, { shape: [2, 3, 4] }, { shape: [2, 3, 2] }] });
    expect(gradOps('Concat', { axis: -1 }, [{ shape: [2, 3, 1] }, { shape: [2, 3, 4] }])).toEqual(['Split']);
  });
  it('Split at opset 18 with num_outputs=3 on a dimension of 7: uneven last chunk (3, 3, 1)', async () => {
    await expectVjp({ op: 'Split', opset: 18, attrs: { axis: 1, num_outputs: 3 }, nOutputs: 3, inputs: [{ shape: [2, 7, 2] }] });
  });
  it('Split at opset 11: split sizes as an attribute become the split input', async () => {
    await expectVjp({ op: 'Split', opset: 11, attrs: { axis: 1, split: [2, 3, 1] }, nOutputs: 3, inputs: [{ shape: [2, 6, 2] }] });
  });
  it('Split at opset 11 without sizes: equal parts, written out explicitly for opset 21', async () => {
    await expectVjp({ op: 'Split', opset: 11, attrs: { axis: -1 }, nOutputs: 2, inputs: [{ shape: [3, 4] }] });
  });
  it('Split where only the middle output carries gradient (padded into place)', async () => {
    await expectVjp({ op: 'Split', inputs: [{ shape: [2, 6] }, i64([2, 3, 1])], attrs: { axis: 1 }, nOutputs: 3, probe: [1] });
  });
  it('Split where outputs 0 and 2 carry gradient (zero block for output 1 in the Concat)', async () => {
    await expectVjp({ op: 'Split', inputs: [{ shape: [2, 6] }, i64([2, 3, 1])], attrs: { axis: 1 }, nOutputs: 3, probe: [0, 2] });
  });
});

describe('Slice VJP', () => {
  it('steps 2 and -1 with negative starts and a huge end (clamped)', async () => {
    // axis 2: start -5 = 1, step 2, end 2^62 -> clamped to 7: rows 1, 3, 5; axis 1: start -1, step -1 (reverse)
    await expectVjp({
      op: 'Slice',
      inputs: [{ shape: [2, 3, 7] }, i64([-1, -5]), i64([-4, 2 ** 62]), i64([1, 2]), i64([-1, 2])],
    });
  });
  it('step -2 from a clamped start and a step 3 whose last stride overruns the end (crop of the interleave)', async () => {
    await expectVjp({ op: 'Slice', inputs: [{ shape: [9, 8] }, i64([100, 1]), i64([-100, 8]), i64([0, 1]), i64([-2, 3])] });
  });
  it('opset 9: starts/ends/axes attributes become inputs', async () => {
    await expectVjp({ op: 'Slice', opset: 9, attrs: { starts: [1, -3], ends: [3, 1000], axes: [0, 2] }, inputs: [{ shape: [4, 2, 5] }] });
  });
  it('an empty slice gives a zero gradient', async () => {
    await expectVjp({ op: 'Slice', inputs: [{ shape: [3, 4] }, i64([3]), i64([1]), i64([1])] });
  });
  it('infers INT64_MAX ends (PyTorch x[:, 2:]) and INT64_MIN ends with step -1 (torch.flip) exactly', () => {
    const m = model(
      [mk('Slice', ['x', 's', 'e', 'a'], ['y']), mk('Slice', ['x', 's2', 'e2', 'a', 'st'], ['z'])],
      [{ name: 'x', shape: [2, 6, 3] }],
      ['y', 'z'],
      [
        ['s', ints([2])],
        ['e', big([INT64_MAX])],
        ['a', ints([1])],
        ['s2', ints([-1])],
        ['e2', big([INT64_MIN])],
        ['st', ints([-1])],
      ],
    );
    const { builder } = prepareGraph(m);
    expect(builder.type('y').shape).toEqual([2, 4, 3]);
    expect(builder.type('z').shape).toEqual([2, 6, 3]);
  });
});

describe('Gather / GatherElements VJPs', () => {
  it('Gather axis 1 with a rank-0 index (ViT class token x[:, 0]): padded into place, no scatter', async () => {
    await expectVjp({ op: 'Gather', attrs: { axis: 1 }, inputs: [{ shape: [2, 5, 4] }, i64([0], [])] });
    expect(gradOps('Gather', { axis: 1 }, [{ shape: [2, 5, 4] }, { shape: [], value: ints([0], []) }])).toEqual(['Reshape', 'Pad']);
  });
  it('Gather axis 1 with repeated and negative indices (scatter-add)', async () => {
    await expectVjp({ op: 'Gather', attrs: { axis: 1 }, inputs: [{ shape: [2, 5, 3] }, i64([3, 1, 3, -1, -2, 1], [2, 3])] });
    expect(gradOps('Gather', { axis: 1 }, [{ shape: [2, 5, 3] }, { shape: [3], value: ints([3, 1, 3]) }])).toContain('ScatterND');
  });
  it('Gather on the last axis with distinct unordered indices (inverse-permutation Gather)', async () => {
    await expectVjp({ op: 'Gather', attrs: { axis: -1 }, inputs: [{ shape: [2, 3, 5] }, i64([4, 0, -3], [1, 3])] });
    expect(gradOps('Gather', { axis: -1 }, [{ shape: [2, 3, 5] }, { shape: [3], value: ints([4, 0, 2]) }])).not.toContain('ScatterND');
  });
  it('Gather axis 0 with a contiguous index run', async () => {
    await expectVjp({ op: 'Gather', inputs: [{ shape: [5, 3] }, i64([1, 2, 3])] });
  });
  it('GatherElements axis 1 with repeated and negative indices (ScatterElements add)', async () => {
    await expectVjp({ op: 'GatherElements', attrs: { axis: 1 }, inputs: [{ shape: [2, 4] }, i64([0, 3, 3, -1, 1, 1, 0, -4], [2, 4])] });
  });
  it('GatherElements with indices smaller than the data off the axis', async () => {
    await expectVjp({ op: 'GatherElements', attrs: { axis: 0 }, inputs: [{ shape: [3, 4] }, i64([2, 0, 2, 1, 1, 1], [2, 3])] });
  });
});

describe('Transpose / Flatten / Tile / DepthToSpace VJPs', () => {
  it('Transpose with perm [2, 0, 1]', async () => {
    await expectVjp({ op: 'Transpose', attrs: { perm: [2, 0, 1] }, inputs: [{ shape: [2, 3, 4] }] });
  });
  it('Transpose without perm reverses the axes', async () => {
    await expectVjp({ op: 'Transpose', inputs: [{ shape: [2, 3, 4] }] });
  });
  it('Flatten at axis 2', async () => {
    await expectVjp({ op: 'Flatten', attrs: { axis: 2 }, inputs: [{ shape: [2, 3, 2, 2] }] });
  });
  it('Tile [2, 1, 3]: repeat axes summed out', async () => {
    await expectVjp({ op: 'Tile', inputs: [{ shape: [2, 3, 2] }, i64([2, 1, 3])] });
  });
  it('DepthToSpace DCR (vjp = SpaceToDepth)', async () => {
    await expectVjp({ op: 'DepthToSpace', attrs: { blocksize: 2 }, inputs: [{ shape: [1, 8, 2, 3] }] });
  });
  it('DepthToSpace CRD', async () => {
    await expectVjp({ op: 'DepthToSpace', attrs: { blocksize: 2, mode: 'CRD' }, inputs: [{ shape: [1, 8, 2, 3] }] });
  });
  it('SpaceToDepth', async () => {
    await expectVjp({ op: 'SpaceToDepth', attrs: { blocksize: 2 }, inputs: [{ shape: [1, 2, 4, 6] }] });
  });
});

describe('Pad VJPs', () => {
  const x = { shape: [1, 2, 5, 6] };
  // Asymmetric on both spatial axes: H (1, 2), W (3, 1).
  const pads = i64([0, 0, 1, 3, 0, 0, 2, 1]);
  it('constant mode with a constant_value (gradient = the interior)', async () => {
    await expectVjp({ op: 'Pad', inputs: [x, pads, { shape: [], values: [0.5] }] });
  });
  it('reflect mode: mirrored border strips folded back onto the interior', async () => {
    await expectVjp({ op: 'Pad', attrs: { mode: 'reflect' }, inputs: [x, pads] });
  });
  it('reflect mode with pads of size - 1 (the largest allowed)', async () => {
    await expectVjp({ op: 'Pad', attrs: { mode: 'reflect' }, inputs: [{ shape: [1, 1, 3, 4] }, i64([0, 0, 2, 3, 0, 0, 2, 3])] });
  });
  it('edge mode: summed border strips added onto the first / last element', async () => {
    await expectVjp({ op: 'Pad', attrs: { mode: 'edge' }, inputs: [x, pads] });
  });
  it('edge mode on an axis of length 1 (both strips land on the same element)', async () => {
    await expectVjp({ op: 'Pad', attrs: { mode: 'edge' }, inputs: [{ shape: [2, 1, 3] }, i64([0, 2, 0, 0, 3, 1])] });
  });
  it('negative pads crop (constant mode)', async () => {
    await expectVjp({ op: 'Pad', inputs: [x, i64([0, 0, -1, 2, 0, 0, 1, -2])] });
  });
  it('negative pads with reflect and edge: crop first, then pad the cropped extent', async () => {
    await expectVjp({ op: 'Pad', attrs: { mode: 'reflect' }, inputs: [x, i64([0, 0, -1, 2, 0, 0, 2, -2])] });
    await expectVjp({ op: 'Pad', attrs: { mode: 'edge' }, inputs: [x, i64([0, 0, 2, -2, 0, 0, -1, 3])] });
  });
  it('opset 10: pads/value attributes (reflect, and constant with a value)', async () => {
    await expectVjp({ op: 'Pad', opset: 10, attrs: { mode: 'reflect', pads: [0, 0, 1, 3, 0, 0, 2, 1] }, inputs: [x] });
    await expectVjp({ op: 'Pad', opset: 10, attrs: { pads: [0, 1, 0, 2], value: { type: 'float', value: 1.5 } }, inputs: [{ shape: [3, 4] }] });
  });
  it('opset 18 axes input (negative axes) selects the padded axes', async () => {
    await expectVjp({ op: 'Pad', attrs: { mode: 'edge' }, inputs: [x, i64([1, 2, 2, 0]), { shape: [], omit: true }, i64([-1, 2])] });
  });
  it('infers wrap mode (no gradient rule)', () => {
    const m = model([mk('Pad', ['x', 'p'], ['y'], { mode: 'wrap' })], [{ name: 'x', shape: [1, 2, 3] }], ['y'], [['p', ints([0, 0, 2, 0, 1, 4])]], 21);
    expect(prepareGraph(m).builder.type('y').shape).toEqual([1, 3, 9]);
  });
  it('folds small constant pads in every mode (reflect / edge / wrap / constant with a value)', () => {
    const v = ints([1, 2, 3]);
    const fold = (mode: string, p: number[], cv?: number): number[] => {
      const inits: [string, Tensor][] = [
        ['v', v],
        ['p', ints(p)],
      ];
      if (cv !== undefined) inits.push(['cv', ints([cv], [])]);
      const m = model([mk('Pad', ['v', 'p', ...(cv !== undefined ? ['cv'] : [])], ['y'], { mode })], [], ['y'], inits, 21);
      const { builder } = prepareGraph(m);
      return toNumbers(builder.value('y') as Tensor);
    };
    expect(fold('reflect', [2, 2])).toEqual([3, 2, 1, 2, 3, 2, 1]);
    expect(fold('edge', [1, 2])).toEqual([1, 1, 2, 3, 3, 3]);
    expect(fold('wrap', [2, 1])).toEqual([2, 3, 1, 2, 3, 1]);
    expect(fold('constant', [1, -1], 7)).toEqual([7, 1, 2]);
  });
});

describe('Reshape family at opset 11', () => {
  it('Expand [3, 1] -> [2, 3, 4] (rank-growing broadcast reduced back)', async () => {
    await expectVjp({ op: 'Expand', opset: 11, inputs: [{ shape: [3, 1] }, i64([2, 1, 4])] });
  });
  it('Reshape with 0 (copy) and -1 (infer)', async () => {
    await expectVjp({ op: 'Reshape', opset: 11, inputs: [{ shape: [2, 3, 4] }, i64([0, -1, 2])] });
  });
  it('Squeeze with an axes attribute', async () => {
    await expectVjp({ op: 'Squeeze', opset: 11, attrs: { axes: [1, -1] }, inputs: [{ shape: [2, 1, 3, 1] }] });
  });
  it('Squeeze without axes removes every 1', async () => {
    await expectVjp({ op: 'Squeeze', opset: 11, inputs: [{ shape: [1, 3, 1, 2] }] });
  });
  it('Unsqueeze with negative axes in the attribute', async () => {
    await expectVjp({ op: 'Unsqueeze', opset: 11, attrs: { axes: [0, -1] }, inputs: [{ shape: [2, 3] }] });
  });
});

describe('constant ops', () => {
  const foldedValue = (nodes: Node[], out: string, inits: [string, Tensor][] = []): Tensor => {
    const { builder } = prepareGraph(model(nodes, [], [out], inits, 21));
    return builder.value(out) as Tensor;
  };
  it('Constant folds every value_* form to an initializer', () => {
    const c = (attrs: Attrs) => foldedValue([mk('Constant', [], ['c'], attrs)], 'c');
    const t = c({ value: { type: 'tensor', value: ints([4, 5], [1, 2]) } });
    expect([t.dtype, t.dims, toNumbers(t)]).toEqual(['int64', [1, 2], [4, 5]]);
    const f = c({ value_float: { type: 'float', value: 2.5 } });
    expect([f.dtype, f.dims, toNumbers(f)]).toEqual(['float32', [], [2.5]]);
    const fs = c({ value_floats: { type: 'floats', value: [1, 0.5] } });
    expect([fs.dtype, fs.dims, toNumbers(fs)]).toEqual(['float32', [2], [1, 0.5]]);
    const i = c({ value_int: 7 });
    expect([i.dtype, i.dims, toNumbers(i)]).toEqual(['int64', [], [7]]);
    const is = c({ value_ints: [1, -2, 3] });
    expect([is.dtype, is.dims, toNumbers(is)]).toEqual(['int64', [3], [1, -2, 3]]);
    expect(() => c({ value_string: 'a' })).toThrow(/value_string/);
  });
  it('ConstantOfShape (default float 0 and an int64 value), Range (int and float) and Size fold', () => {
    const z = foldedValue([mk('ConstantOfShape', ['s'], ['z'])], 'z', [['s', ints([2, 3])]]);
    expect([z.dtype, z.dims, toNumbers(z)]).toEqual(['float32', [2, 3], [0, 0, 0, 0, 0, 0]]);
    const o = foldedValue([mk('ConstantOfShape', ['s'], ['o'], { value: { type: 'tensor', value: ints([1]) } })], 'o', [['s', ints([3])]]);
    expect([o.dtype, toNumbers(o)]).toEqual(['int64', [1, 1, 1]]);
    const r = foldedValue([mk('Range', ['a', 'b', 'd'], ['r'])], 'r', [
      ['a', ints([5], [])],
      ['b', ints([-2], [])],
      ['d', ints([-3], [])],
    ]);
    expect(toNumbers(r)).toEqual([5, 2, -1]);
    const f = (v: number) => tensorFromNumbers('float32', [], [v]);
    const rf = foldedValue([mk('Range', ['a', 'b', 'd'], ['r'])], 'r', [
      ['a', f(0)],
      ['b', f(1)],
      ['d', f(0.25)],
    ]);
    expect([rf.dtype, toNumbers(rf)]).toEqual(['float32', [0, 0.25, 0.5, 0.75]]);
    const { builder } = prepareGraph(model([mk('Size', ['x'], ['n'])], [{ name: 'x', shape: [2, 3, 4] }], ['n'], [], 17));
    expect(toNumbers(builder.value('n') as Tensor)).toEqual([24]);
  });
  it('folds Split, Transpose, Tile, Concat, Gather and GatherElements on small constants', () => {
    const v = ints([0, 1, 2, 3, 4, 5], [2, 3]);
    const run = (nodes: Node[], out: string, extra: [string, Tensor][] = []) => toNumbers(foldedValue(nodes, out, [['v', v], ...extra]));
    expect(run([mk('Split', ['v'], ['a', 'b'], { axis: 1, num_outputs: 2 })], 'b')).toEqual([2, 5]);
    expect(run([mk('Transpose', ['v'], ['t'])], 't')).toEqual([0, 3, 1, 4, 2, 5]);
    expect(run([mk('Tile', ['v', 'r'], ['t'])], 't', [['r', ints([1, 2])]])).toEqual([0, 1, 2, 0, 1, 2, 3, 4, 5, 3, 4, 5]);
    expect(run([mk('Concat', ['v', 'v'], ['t'], { axis: 1 })], 't')).toEqual([0, 1, 2, 0, 1, 2, 3, 4, 5, 3, 4, 5]);
    expect(run([mk('Gather', ['v', 'i'], ['t'], { axis: 1 })], 't', [['i', ints([-1, 0])]])).toEqual([2, 0, 5, 3]);
    expect(run([mk('GatherElements', ['v', 'i'], ['t'], { axis: 1 })], 't', [['i', ints([2, 2, 0, 1], [2, 2])]])).toEqual([2, 2, 3, 4]);
    expect(
      run([mk('Slice', ['v', 's', 'e', 'a', 'st'], ['t'])], 't', [
        ['s', ints([-1])],
        ['e', big([INT64_MIN])],
        ['a', ints([1])],
        ['st', ints([-2])],
      ]),
    ).toEqual([2, 0, 5, 3]);
  });
});

describe('shape arithmetic folding', () => {
  it.each([17, 21])(
    'opset %i: prepareGraph folds PyTorch shape chains (view(x.size(0), -1), interpolate to size of y, expand, Range) to constants',
    async (opset) => {
      const scalar = (v: number): Attrs => ({ value: { type: 'tensor', value: ints([v], []) } });
      const nodes: Node[] = [
        // x.view(x.size(0), -1)
        mk('Shape', ['x'], ['sx']),
        mk('Constant', [], ['c0'], scalar(0)),
        mk('Gather', ['sx', 'c0'], ['n'], { axis: 0 }),
        mk('Unsqueeze', ['n', 'zero'], ['n1']),
        mk('Constant', [], ['cm1'], { value: { type: 'tensor', value: ints([-1]) } }),
        mk('Concat', ['n1', 'cm1'], ['vshape'], { axis: 0 }),
        mk('Reshape', ['x', 'vshape'], ['flat']),
        // F.interpolate(x, size=y.shape[2:])
        mk('Shape', ['y'], ['sy']),
        mk('Slice', ['sy', 'two', 'imax', 'zero'], ['hw']),
        mk('Slice', ['sx', 'zero', 'two', 'zero'], ['nc']),
        mk('Concat', ['nc', 'hw'], ['sizes'], { axis: 0 }),
        mk('Resize', ['x', '', '', 'sizes'], ['up'], { mode: 'linear' }),
        // x.expand(n, -1, 1, 1)-style target: ConstantOfShape / Mul / Equal / Where on int64
        mk('Constant', [], ['c311'], { value: { type: 'tensor', value: ints([-1, 1, 1]) } }),
        mk('Concat', ['n1', 'c311'], ['tgt'], { axis: 0 }),
        mk('Shape', ['tgt'], ['stgt']),
        mk('ConstantOfShape', ['stgt'], ['ones'], { value: { type: 'tensor', value: ints([1]) } }),
        mk('Constant', [], ['cneg'], scalar(-1)),
        mk('Mul', ['ones', 'cneg'], ['negs']),
        mk('Equal', ['tgt', 'negs'], ['isneg']),
        mk('Where', ['isneg', 'ones', 'tgt'], ['eshape']),
        mk('Expand', ['bias', 'eshape'], ['bexp']),
        // x[:, torch.arange(x.size(1))] with a Cast round trip on the length
        mk('Gather', ['sx', 'one'], ['c']),
        mk('Cast', ['c'], ['cf'], { to: 1 }),
        mk('Cast', ['cf'], ['ci'], { to: 7 }),
        mk('Range', ['zeroS', 'ci', 'oneS'], ['idx']),
        mk('Size', ['x'], ['numel']),
        mk('Div', ['numel', 'n'], ['per']),
        mk('Unsqueeze', ['per', 'zero'], ['per1']),
        mk('Concat', ['n1', 'per1'], ['fshape'], { axis: 0 }),
        mk('Gather', ['x', 'idx'], ['xg'], { axis: 1 }),
        mk('Add', ['xg', 'bexp'], ['sum']),
        mk('Reshape', ['sum', 'fshape'], ['flat2']),
      ];
      const inits: [string, Tensor][] = [
        ['two', ints([2])],
        ['zero', ints([0])],
        ['imax', big([INT64_MAX])],
        ['one', ints([1], [])],
        ['zeroS', ints([0], [])],
        ['oneS', ints([1], [])],
        ['bias', tensorFromNumbers('float32', [1, 3, 1, 1], [1, 2, 3])],
      ];
      const m = model(
        nodes,
        [
          { name: 'x', shape: ['N', 3, 8, 8] },
          { name: 'y', shape: ['N', 5, 'H', 'W'] },
        ],
        ['flat', 'up', 'flat2'],
        inits,
        opset,
      );
      const { builder: b, graph } = prepareGraph(m, { inputShapes: { x: [2, 3, 8, 8], y: [2, 5, 16, 12] } });
      // Only data ops remain, and all their shape-like inputs are constants.
      expect(graph.nodes.map((n) => n.opType).sort()).toEqual(['Add', 'Gather', 'Reshape', 'Reshape', 'Resize']);
      for (const n of graph.nodes) for (const i of n.inputs.slice(1)) if (i && n.opType !== 'Add') expect(b.value(i), `${n.opType} input ${i}`).toBeDefined();
      expect(b.type('flat').shape).toEqual([2, 192]);
      expect(b.type('up').shape).toEqual([2, 3, 16, 12]);
      expect(b.type('flat2').shape).toEqual([2, 192]);
      // The folded graph runs in onnxruntime.
      const sess = await Session.create(serializeGraph(graph as Graph), { threads: 1 });
      const feed = (shape: number[]) => ({ data: new Float32Array(shape.reduce((a, d) => a * d, 1)).fill(1), dims: shape, dtype: 'float32' as const });
      const out = await sess.run({ x: feed([2, 3, 8, 8]), y: feed([2, 5, 16, 12]) });
      expect(out.up.dims).toEqual([2, 3, 16, 12]);
      expect(Array.from((out.flat2.data as Float32Array).slice(0, 3))).toEqual([2, 2, 2]);
      await sess.release();
    },
  );
});
