import { it } from 'vitest';
import { encodeModel } from '../../src/onnx/codec.js';
import { toAttrs } from '../../src/onnx/builder.js';
import { type DType, type Tensor, tensorFromNumbers } from '../../src/onnx/ir.js';
import type { Attrs } from '../../src/ops/registry.js';
import { Session } from '../../src/runtime/session.js';

interface In { name: string; dtype: DType; shape: number[]; data: Float32Array | BigInt64Array }
async function mk(nodes: { op: string; inputs: string[]; outputs: string[]; attrs?: Attrs }[], ins: In[], outs: string[], inits: [string, Tensor][] = []) {
  const bytes = encodeModel({ irVersion: 8, opsetImports: new Map([['', 21]]), producerName: 'p', producerVersion: '', metadata: {},
    graph: { name: 'g', nodes: nodes.map((n, i) => ({ name: `n${i}`, opType: n.op, domain: '', inputs: n.inputs, outputs: n.outputs, attrs: toAttrs(n.attrs) })),
      inputs: ins.map((i) => ({ name: i.name, dtype: i.dtype, shape: i.shape })), outputs: outs.map((o) => ({ name: o, dtype: 'float32', shape: undefined })),
      initializers: new Map(inits), valueInfo: new Map() } });
  const s = await Session.create(bytes, { threads: 2 });
  const feed: Record<string, { data: Float32Array | BigInt64Array; dims: number[]; dtype: DType }> = {};
  for (const i of ins) feed[i.name] = { data: i.data, dims: i.shape, dtype: i.dtype };
  return async () => { await s.run(feed); };
}
const f32 = (shape: number[]) => Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => Math.random());

it('micro', async () => {
  const X = [8, 64, 112, 112]; const Y = [8, 64, 56, 56];
  const nx = X.reduce((a, b) => a * b); const ny = Y.reduce((a, b) => a * b);
  const idx = BigInt64Array.from({ length: ny }, (_, i) => BigInt(Math.floor(Math.random() * nx)));
  const mp = { kernel_shape: [3, 3], strides: [2, 2], pads: [1, 1, 1, 1] };
  const cases: [string, () => Promise<void>][] = [
    ['maxpool1 mlas', await mk([{ op: 'MaxPool', inputs: ['x'], outputs: ['y'], attrs: mp }], [{ name: 'x', dtype: 'float32', shape: X, data: f32(X) }], ['y'])],
    ['maxpool2 idx', await mk([{ op: 'MaxPool', inputs: ['x'], outputs: ['y', 'i'], attrs: mp }], [{ name: 'x', dtype: 'float32', shape: X, data: f32(X) }], ['y'])],
    ['scatterEl add', await mk([{ op: 'ScatterElements', inputs: ['z', 'i', 'u'], outputs: ['y'], attrs: { axis: 0, reduction: 'add' } }],
      [{ name: 'z', dtype: 'float32', shape: [nx], data: new Float32Array(nx) }, { name: 'i', dtype: 'int64', shape: [ny], data: idx }, { name: 'u', dtype: 'float32', shape: [ny], data: f32([ny]) }], ['y'])],
    ['scatterND add', await mk([{ op: 'ScatterND', inputs: ['z', 'i', 'u'], outputs: ['y'], attrs: { reduction: 'add' } }],
      [{ name: 'z', dtype: 'float32', shape: [nx], data: new Float32Array(nx) }, { name: 'i', dtype: 'int64', shape: [ny, 1], data: idx }, { name: 'u', dtype: 'float32', shape: [ny], data: f32([ny]) }], ['y'])],
    ['maxunpool', await mk([{ op: 'MaxUnpool', inputs: ['g', 'i'], outputs: ['y'], attrs: { kernel_shape: [2, 2], strides: [2, 2] } }],
      [{ name: 'g', dtype: 'float32', shape: Y, data: f32(Y) }, { name: 'i', dtype: 'int64', shape: Y, data: idx }], ['y'])],
    ['convT dw k3s2', await mk([{ op: 'ConvTranspose', inputs: ['g', 'w'], outputs: ['y'], attrs: { group: 64, kernel_shape: [3, 3], strides: [2, 2], pads: [1, 1, 0, 0] } }],
      [{ name: 'g', dtype: 'float32', shape: Y, data: f32(Y) }], ['y'], [['w', tensorFromNumbers('float32', [64, 1, 3, 3], new Array(576).fill(1))]])],
    ['resize nearest x2', await mk([{ op: 'Resize', inputs: ['g', '', 's'], outputs: ['y'], attrs: { mode: 'nearest' } }],
      [{ name: 'g', dtype: 'float32', shape: Y, data: f32(Y) }], ['y'], [['s', tensorFromNumbers('float32', [4], [1, 1, 2, 2])]])],
    ['expand upsample', await mk([{ op: 'Reshape', inputs: ['g', 's1'], outputs: ['a'] }, { op: 'Expand', inputs: ['a', 's2'], outputs: ['b'] }, { op: 'Reshape', inputs: ['b', 's3'], outputs: ['y'] }],
      [{ name: 'g', dtype: 'float32', shape: Y, data: f32(Y) }], ['y'], [['s1', tensorFromNumbers('int64', [6], [8, 64, 56, 1, 56, 1])], ['s2', tensorFromNumbers('int64', [6], [8, 64, 56, 2, 56, 2])], ['s3', tensorFromNumbers('int64', [4], X)]])],
    ['slice step2', await mk([{ op: 'Slice', inputs: ['x', 'st', 'en', 'ax', 'sp'], outputs: ['y'] }],
      [{ name: 'x', dtype: 'float32', shape: X, data: f32(X) }], ['y'], [['st', tensorFromNumbers('int64', [2], [1, 1])], ['en', tensorFromNumbers('int64', [2], [112, 112])], ['ax', tensorFromNumbers('int64', [2], [2, 3])], ['sp', tensorFromNumbers('int64', [2], [2, 2])]])],
    ['equal+cast+mul Y', await mk([{ op: 'Equal', inputs: ['a', 'b'], outputs: ['e'] }, { op: 'Cast', inputs: ['e'], outputs: ['c'], attrs: { to: 1 } }, { op: 'Mul', inputs: ['c', 'b'], outputs: ['y'] }],
      [{ name: 'a', dtype: 'float32', shape: Y, data: f32(Y) }, { name: 'b', dtype: 'float32', shape: Y, data: f32(Y) }], ['y'])],
    ['pad X', await mk([{ op: 'Pad', inputs: ['x', 'p'], outputs: ['y'] }],
      [{ name: 'x', dtype: 'float32', shape: X, data: f32(X) }], ['y'], [['p', tensorFromNumbers('int64', [8], [0, 0, 1, 1, 0, 0, 1, 1])]])],
    ['avgpool k3s1p1 X', await mk([{ op: 'AveragePool', inputs: ['x'], outputs: ['y'], attrs: { kernel_shape: [3, 3], pads: [1, 1, 1, 1], count_include_pad: 1 } }],
      [{ name: 'x', dtype: 'float32', shape: X, data: f32(X) }], ['y'])],
    ['add X', await mk([{ op: 'Add', inputs: ['x', 'x'], outputs: ['y'] }], [{ name: 'x', dtype: 'float32', shape: X, data: f32(X) }], ['y'])],
  ];
  const times = new Map<string, number[]>();
  for (let rep = 0; rep < 8; rep++) for (const [name, run] of cases) {
    const t = performance.now(); await run(); const dt = performance.now() - t;
    if (rep > 0) times.set(name, [...(times.get(name) ?? []), dt]);
  }
  for (const [name, ts] of times) { ts.sort((a, b) => a - b); console.log(name.padEnd(20), 'median ms', ts[Math.floor(ts.length / 2)].toFixed(2), 'min', ts[0].toFixed(2)); }
});
