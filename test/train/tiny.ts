// A tiny segmentation model for the trainer tests, written as ONNX IR: BatchNormalization on the input
// (its batch statistics are those of x, computable here), Conv, BatchNormalization, Relu, Dropout, a rank-0
// constant factor, an identity Reshape with an int64 shape constant, a 1x1 Conv head and an auxiliary head.
import { toAttrs } from '../../src/onnx/builder.js';
import { type Model, type Node, type Tensor, tensorFromNumbers } from '../../src/onnx/ir.js';
import { type Attrs, float } from '../../src/ops/registry.js';
import { Rng } from '../../src/util/random.js';

export const K = 4;
export const C1 = 6;

const node = (opType: string, inputs: string[], outputs: string[], attrs?: Attrs): Node => ({
  name: outputs[0],
  opType,
  domain: '',
  inputs,
  outputs,
  attrs: toAttrs(attrs),
});

export interface TinyOptions {
  seed?: number;
  opset?: number;
  dropout?: number;
  /** Export-style training-mode BatchNormalization (training_mode=1 and running-stat outputs). */
  trainingExport?: boolean;
  /** Activation (default Relu; finite-difference tests use a smooth one, the kinks of Relu dominate their error). */
  act?: 'Relu' | 'Tanh';
}

export function tinyModel(o: TinyOptions = {}): Model {
  const r = new Rng(o.seed ?? 11);
  const inits = new Map<string, Tensor>();
  const w = (name: string, dims: number[], f: () => number) => {
    const n = dims.reduce((a, b) => a * b, 1);
    inits.set(name, tensorFromNumbers('float32', dims, Array.from({ length: n }, f)));
  };
  const fan = (k: number) => () => r.symmetric() * Math.sqrt(3 / k);
  w('bn0.weight', [3], () => 1 + 0.2 * r.symmetric());
  w('bn0.bias', [3], () => 0.1 * r.symmetric());
  w('bn0.running_mean', [3], () => 0.1 * r.symmetric());
  w('bn0.running_var', [3], () => 0.5 + r.next());
  w('conv1.weight', [C1, 3, 3, 3], fan(27));
  w('conv1.bias', [C1], () => 0.1 * r.symmetric());
  w('bn1.weight', [C1], () => 1 + 0.2 * r.symmetric());
  w('bn1.bias', [C1], () => 0.1 * r.symmetric());
  w('bn1.running_mean', [C1], () => 0.1 * r.symmetric());
  w('bn1.running_var', [C1], () => 0.5 + r.next());
  w('head.weight', [K, C1, 1, 1], fan(C1));
  w('head.bias', [K], () => 0.1 * r.symmetric());
  w('aux.weight', [K, C1, 1, 1], fan(C1));
  inits.set('half', tensorFromNumbers('float32', [], [0.5]));
  inits.set('ratio', tensorFromNumbers('float32', [], [o.dropout ?? 0.25]));
  inits.set('shape', tensorFromNumbers('int64', [4], [0, K, 8, 8]));
  const bnAttrs = { epsilon: float(1e-5), momentum: float(0.9), ...(o.trainingExport ? { training_mode: 1 } : {}) };
  const bnOuts = (y: string, p: string) => (o.trainingExport ? [y, `${p}.rm_out`, `${p}.rv_out`] : [y]);
  const nodes: Node[] = [
    node('BatchNormalization', ['x', 'bn0.weight', 'bn0.bias', 'bn0.running_mean', 'bn0.running_var'], bnOuts('a', 'bn0'), bnAttrs),
    node('Conv', ['a', 'conv1.weight', 'conv1.bias'], ['c1'], { pads: [1, 1, 1, 1] }),
    node('BatchNormalization', ['c1', 'bn1.weight', 'bn1.bias', 'bn1.running_mean', 'bn1.running_var'], bnOuts('b1', 'bn1'), bnAttrs),
    node(o.act ?? 'Relu', ['b1'], ['r1']),
    node('Dropout', ['r1', 'ratio'], ['d1'], { seed: 5 }),
    node('Mul', ['d1', 'half'], ['m1']),
    node('Conv', ['m1', 'head.weight', 'head.bias'], ['h1']),
    node('Reshape', ['h1', 'shape'], ['logits']),
    node('Conv', ['r1', 'aux.weight'], ['aux']),
  ];
  return {
    irVersion: 8,
    opsetImports: new Map([['', o.opset ?? 17]]),
    producerName: 'test',
    producerVersion: '',
    metadata: {},
    graph: {
      name: 'tiny',
      nodes,
      inputs: [{ name: 'x', dtype: 'float32', shape: ['N', 3, 8, 8] }],
      outputs: [
        { name: 'logits', dtype: 'float32', shape: ['N', K, 8, 8] },
        { name: 'aux', dtype: 'float32', shape: ['N', K, 8, 8] },
      ],
      initializers: inits,
      valueInfo: new Map(),
    },
  };
}

export function tinyBatch(n: number, seed = 3): { x: { data: Float32Array; dims: number[] }; labels: { data: BigInt64Array; dims: number[] } } {
  const r = new Rng(seed);
  const x = Float32Array.from({ length: n * 3 * 64 }, () => r.next());
  const labels = BigInt64Array.from({ length: n * 64 }, () => BigInt(r.next() < 0.1 ? 255 : r.int(K)));
  return { x: { data: x, dims: [n, 3, 8, 8] }, labels: { data: labels, dims: [n, 8, 8] } };
}
