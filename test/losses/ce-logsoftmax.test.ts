// Cross-entropy's log-softmax is built from ReduceMax / Exp / ReduceSum / Log on the class axis, not
// onnxruntime's LogSoftmax (whose axis-1 kernel transposes and was ~10x slower): pinned are the graph
// shape, exact values at logits where a naive exp overflows, and the analytic gradient softmax - onehot.
import { describe, expect, it } from 'vitest';
import '../../src/losses/index.js';
import { getLoss } from '../../src/losses/loss.js';
import { GraphBuilder } from '../../src/onnx/builder.js';
import type { Graph } from '../../src/onnx/ir.js';
import { identityModel } from '../harness/tiny-models.js';

describe('ce-avg log-softmax construction', () => {
  it('emits no LogSoftmax node', () => {
    const graph: Graph = { name: 'g', nodes: [], inputs: [], outputs: [], initializers: new Map(), valueInfo: new Map() };
    const b = new GraphBuilder(graph);
    b.types.set('u', { dtype: 'float32', shape: [2, 3, 4, 4] });
    b.types.set('y', { dtype: 'int64', shape: [2, 4, 4] });
    getLoss('ce-avg').build(b, 'u', 'y', { ignoreIndex: 255 });
    const types = graph.nodes.map((n) => n.opType);
    expect(types).not.toContain('LogSoftmax');
    expect(types).toContain('ReduceMax');
  });

  it('values and gradient at logits of +-1e4 (exp would overflow without the max shift) and an ignored pixel', async () => {
    // One image, K=3, 1x3 pixels; pixel 2 ignored.
    const u = Float32Array.of(1e4, 0, 2, -1e4, 0, 1, 0, 0, 3);
    const res = await identityModel().lossAndGrad(
      { data: u, dims: [1, 3, 1, 3] },
      { data: BigInt64Array.of(1n, 2n, 255n), dims: [1, 1, 3] },
      { loss: 'ce-avg' },
    );
    // Pixel 0: logits (1e4, -1e4, 0), label 1: CE = 2e4 exactly in float32. Pixel 1: (0, 0, 0), label 2: log 3.
    expect(res.losses[0]).toBeCloseTo((2e4 + Math.log(3)) / 3, 2);
    const g = res.grad;
    // d/du of CE/3 = (softmax - onehot)/3; pixel 0 softmax = (1, 0, 0); pixel 1 = 1/3 each; pixel 2 ignored.
    const want = [1 / 3, 1 / 9, 0, -1 / 3, 1 / 9, 0, 0, (1 / 3 - 1) / 3, 0];
    want.forEach((v, i) => {
      expect(g[i]).toBeCloseTo(v, 6);
    });
  });
});
