import { it } from 'vitest';
import { toAttrs } from '../../src/onnx/builder.js';
import { type Model, type Node, type Tensor, tensorFromNumbers, toNumbers } from '../../src/onnx/ir.js';
import { prepareGraph } from '../../src/onnx/prepare.js';
const ints = (vs: number[], dims: number[] = [vs.length]): Tensor => tensorFromNumbers('int64', dims, vs);
const mk = (opType: string, inputs: string[], outputs: string[]): Node => ({ name: outputs[0], opType, domain: '', inputs, outputs, attrs: toAttrs({}) });
it('dbg', () => {
  const m: Model = { irVersion: 8, opsetImports: new Map([['', 17]]), producerName: '', producerVersion: '', metadata: {}, graph: { name: 'g', nodes: [mk('Where', ['c', 'a', 'b'], ['w'])], inputs: [], outputs: [{ name: 'w', dtype: 'int64', shape: undefined }], initializers: new Map([['c', tensorFromNumbers('bool', [3], [0, 1, 1])], ['a', ints([1, 1, 1])], ['b', ints([2, -1, -1])]]), valueInfo: new Map() } };
  const { builder } = prepareGraph(m);
  const w = builder.value('w') as Tensor;
  console.log(w.dtype, toNumbers(w));
});
