import { describe, expect, it } from 'vitest';
import type { Model, Node } from '../../src/onnx/ir.js';
import { prepareGraph, UnsupportedOpsError } from '../../src/onnx/prepare.js';

const node = (name: string, opType: string, inputs: string[], outputs: string[], domain = ''): Node => ({ name, opType, domain, inputs, outputs, attrs: {} });

function model(nodes: Node[], shape: (number | string)[] = [1, 3, 4, 4]): Model {
  return {
    irVersion: 8,
    opsetImports: new Map([['', 13]]),
    producerName: '',
    producerVersion: '',
    metadata: {},
    graph: {
      name: 'g',
      nodes,
      inputs: [{ name: 'x', dtype: 'float32', shape }],
      outputs: [{ name: nodes[nodes.length - 1].outputs[0], dtype: 'float32', shape: undefined }],
      initializers: new Map(),
      valueInfo: new Map(),
    },
  };
}

describe('prepareGraph', () => {
  it('lists every unsupported op type with its node names, before any work', () => {
    const m = model([
      node('a', 'Relu', ['x'], ['a']),
      node('nms1', 'NonMaxSuppression', ['a'], ['b']),
      node('fg', 'FusedGemm', ['b'], ['c'], 'com.microsoft'),
      node('nms2', 'NonMaxSuppression', ['c'], ['d']),
    ]);
    try {
      prepareGraph(m);
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(UnsupportedOpsError);
      const msg = (e as Error).message;
      expect(msg).toMatch(/2 unsupported op types/);
      expect(msg).toMatch(/NonMaxSuppression: nms1, nms2/);
      expect(msg).toMatch(/com\.microsoft::FusedGemm: fg/);
    }
  });

  it('needs a static shape for dynamic inputs and checks given shapes against fixed dims', () => {
    const m = model([node('a', 'Relu', ['x'], ['a'])], ['N', 3, 4, 4]);
    expect(() => prepareGraph(m)).toThrow(/input 'x' has a dynamic shape \[N, 3, 4, 4\]/);
    expect(() => prepareGraph(m, { inputShapes: { x: [2, 4, 4, 4] } })).toThrow(/dimension 1 fixed to 3 by the model, but 4 was given/);
    expect(() => prepareGraph(m, { inputShapes: { x: [2, 3, 4] } })).toThrow(/rank 4/);
    const { builder } = prepareGraph(m, { inputShapes: { x: [2, 3, 4, 4] } });
    expect(builder.type('a').shape).toEqual([2, 3, 4, 4]);
  });

  it('orders nodes topologically even when the file does not, and detects cycles', () => {
    const m = model([node('b', 'Neg', ['a'], ['b']), node('a', 'Relu', ['x'], ['a'])]);
    m.graph.outputs[0].name = 'b';
    const { graph } = prepareGraph(m);
    expect(graph.nodes.map((n) => n.name)).toEqual(['a', 'b']);
    const cyc = model([node('a', 'Add', ['x', 'b'], ['a']), node('b', 'Neg', ['a'], ['b'])]);
    expect(() => prepareGraph(cyc)).toThrow(/cycle/);
  });

  it('reports an elementwise shape mismatch naming the node', () => {
    const m = model([node('add1', 'Add', ['x', 'w'], ['y'])]);
    m.graph.initializers.set('w', { dtype: 'float32', dims: [5], data: new Float32Array(5) });
    expect(() => prepareGraph(m)).toThrow(/Add node 'add1': shapes \[1, 3, 4, 4\] and \[5\] do not broadcast/);
  });
});
