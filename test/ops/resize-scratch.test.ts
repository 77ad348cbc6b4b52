import { it } from 'vitest';
import { toAttrs } from '../../src/onnx/builder.js';
import { encodeModel } from '../../src/onnx/codec.js';
import { type Model, type Node, type Tensor, tensorFromNumbers } from '../../src/onnx/ir.js';
import { Session } from '../../src/runtime/session.js';

function model(nodes: Node[], inits: Map<string, Tensor>, gShape: number[]): Model {
  return { irVersion: 10, opsetImports: new Map([['', 21]]), producerName: 't', producerVersion: '', metadata: {},
    graph: { name: 'g', nodes, inputs: [{ name: 'g', dtype: 'float32', shape: gShape }], outputs: [{ name: 'out', dtype: 'float32', shape: undefined }], initializers: inits, valueInfo: new Map() } };
}
const node = (op: string, inputs: string[], out: string, attrs = {}): Node => ({ name: out, opType: op, domain: '', inputs, outputs: [out], attrs: toAttrs(attrs) });
it('bench', async () => {
  const [N, C, iH, iW, k] = (process.env.RS_DIMS ?? '4,256,32,32,2').split(',').map(Number);
  const [oH, oW] = [iH * k, iW * k];
  const gShape = [N, C, oH, oW];
  const aw = new Float32Array(oW * iW); for (let o = 0; o < oW; o++) aw[o * iW + Math.floor(o / k)] = 1;
  const aht = new Float32Array(iH * oH); for (let o = 0; o < oH; o++) aht[Math.floor(o / k) * oH + o] = 1;
  const i64 = (v: number[]) => tensorFromNumbers('int64', [v.length], v);
  const variants: Record<string, Model> = {
    matmul: model([node('MatMul', ['g', 'aw'], 't'), node('MatMul', ['aht', 't'], 'out')], new Map([['aw', { dtype: 'float32', dims: [oW, iW], data: aw }], ['aht', { dtype: 'float32', dims: [iH, oH], data: aht }]]), gShape),
    reduce2: model([node('Reshape', ['g', 's1'], 'r1'), node('ReduceSum', ['r1', 'a1'], 't', { keepdims: 0 }), node('Reshape', ['t', 's2'], 'r2'), node('ReduceSum', ['r2', 'a2'], 'out', { keepdims: 0 })],
      new Map([['s1', i64([N, C, oH, iW, k])], ['a1', i64([4])], ['s2', i64([N, C, iH, k, iW])], ['a2', i64([3])]]), gShape),
    reduce1: model([node('Reshape', ['g', 's1'], 'r1'), node('ReduceSum', ['r1', 'a1'], 'out', { keepdims: 0 })],
      new Map([['s1', i64([N, C, iH, k, iW, k])], ['a1', i64([3, 5])]]), gShape),
    avgpool: model([node('AveragePool', ['g'], 'p', { kernel_shape: [k, k], strides: [k, k] }), node('Mul', ['p', 'kk'], 'out')], new Map([['kk', tensorFromNumbers('float32', [], [k * k])]]), gShape),
  };
  const sessions = Object.fromEntries(await Promise.all(Object.entries(variants).map(async ([n, m]) => [n, await Session.create(encodeModel(m))] as const)));
  const g = new Float32Array(N * C * oH * oW).map(() => Math.random());
  const feed = { g: { data: g, dims: gShape, dtype: 'float32' as const } };
  const times: Record<string, number[]> = {};
  for (let rep = 0; rep < 15; rep++)
    for (const [n, s] of Object.entries(sessions)) {
      const t0 = performance.now(); await s.run(feed); (times[n] ??= []).push(performance.now() - t0);
    }
  for (const [n, t] of Object.entries(times)) { t.sort((a, b) => a - b); console.log(n, 'median', t[7].toFixed(2), 'min', t[0].toFixed(2)); }
});
