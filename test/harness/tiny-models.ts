// Small IR models built in code for tests.
import type { Model, Node, Tensor } from '../../src/onnx/ir.js';
import { tensorFromNumbers } from '../../src/onnx/ir.js';
import { RobustModel } from '../../src/runtime/model.js';

export function irModel(nodes: Node[], inputShape: (number | string)[], output: string, initializers: [string, Tensor][] = [], opset = 17): Model {
  return {
    irVersion: 8,
    opsetImports: new Map([['', opset]]),
    producerName: 'test',
    producerVersion: '',
    metadata: {},
    graph: {
      name: 'tiny',
      nodes,
      inputs: [{ name: 'x', dtype: 'float32', shape: inputShape }],
      outputs: [{ name: output, dtype: 'float32', shape: undefined }],
      initializers: new Map(initializers),
      valueInfo: new Map(),
    },
  };
}

export const node = (opType: string, inputs: string[], outputs: string[], attrs: Node['attrs'] = {}): Node => ({
  name: outputs[0],
  opType,
  domain: '',
  inputs,
  outputs,
  attrs,
});

/** The identity "model": its logits are its input, so losses can be checked on chosen logits. */
export function identityModel(): RobustModel {
  return RobustModel.fromOnnx(irModel([node('Identity', ['x'], ['logits'])], ['N', 'K', 'H', 'W'], 'logits'), { threads: 1 });
}

/**
 * A per-pixel linear segmentation model: logits[k] = sum_c W[k,c] * x[c] + b[k] + a 3x3 blur term,
 * written with ops whose rules are in elementwise/reduce/shape (no Conv), for attack tests.
 */
export function pixelLinearModel(weights: number[][], bias: number[]): RobustModel {
  return RobustModel.fromOnnx(pixelLinearOnnx(weights, bias), { threads: 1 });
}

/** The IR model behind pixelLinearModel (to write to a file for CLI tests). */
export function pixelLinearOnnx(weights: number[][], bias: number[]): Model {
  const K = weights.length;
  const C = weights[0].length;
  const W = tensorFromNumbers('float32', [1, K, C, 1, 1], weights.flat());
  const B = tensorFromNumbers('float32', [1, K, 1, 1], bias);
  const nodes = [
    node('Unsqueeze', ['x', 'ax1'], ['xu']),
    node('Mul', ['xu', 'W'], ['prod']),
    node('ReduceSum', ['prod', 'ax2'], ['lin'], { keepdims: { type: 'int', value: 0 } }),
    node('Add', ['lin', 'B'], ['logits']),
  ];
  return irModel(nodes, ['N', C, 'H', 'W'], 'logits', [
    ['W', W],
    ['B', B],
    ['ax1', tensorFromNumbers('int64', [1], [1])],
    ['ax2', tensorFromNumbers('int64', [1], [2])],
  ]);
}
