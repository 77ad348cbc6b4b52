// Common-subexpression elimination (src/onnx/cse.ts): repeated computations merge (constants compared by
// content, not name), different ones do not, graph outputs and random ops are never merged, and the graph
// computes the same values afterwards.
import { describe, expect, it } from 'vitest';
import '../../src/ops/all.js';
import { GraphBuilder } from '../../src/onnx/builder.js';
import { eliminateCommonSubexpressions } from '../../src/onnx/cse.js';
import { type Graph, tensorFromNumbers } from '../../src/onnx/ir.js';
import { serializeGraph } from '../../src/onnx/serialize.js';
import { Session } from '../../src/runtime/session.js';

function graphWithX(): { graph: Graph; b: GraphBuilder } {
  const graph: Graph = {
    name: 'g',
    nodes: [],
    inputs: [{ name: 'x', dtype: 'float32', shape: [2, 3] }],
    outputs: [],
    initializers: new Map(),
    valueInfo: new Map(),
  };
  const b = new GraphBuilder(graph);
  b.types.set('x', { dtype: 'float32', shape: [2, 3] });
  b.reserve('x');
  return { graph, b };
}

async function run(graph: Graph, x: Float32Array): Promise<Float32Array[]> {
  const s = await Session.create(serializeGraph(graph), { threads: 1 });
  const out = await s.run({ x: { data: x, dims: [2, 3], dtype: 'float32' } });
  await s.release();
  return graph.outputs.map((o) => out[o.name].data as Float32Array);
}

describe('eliminateCommonSubexpressions', () => {
  it('merges a chain repeated with equal constants under different names, keeps different ones, same values', async () => {
    const { graph, b } = graphWithX();
    const chain = (k: number) => {
      const m = b.constant(tensorFromNumbers('float32', [3, 3], [0, 0, 1, 0, 1, 0, k, 0, 0]), 'm');
      return b.emit('Tanh', [b.emit('MatMul', ['x', m])]);
    };
    const a1 = chain(1);
    const a2 = chain(1); // same computation, constant of the same content under another name
    const c = chain(2); // different constant
    const t1 = b.emit('Transpose', [a1], { perm: [1, 0] });
    const t2 = b.emit('Transpose', [a2], { perm: [1, 0] });
    const s1 = b.emit('Softmax', [a1], { axis: 0 });
    const s2 = b.emit('Softmax', [a2], { axis: 1 }); // different attribute
    const sum = b.emit('Sum', [t1, t2]);
    graph.outputs = [sum, c, s1, s2].map((name) => ({ name, dtype: 'float32', shape: b.type(name).shape }));
    const x = Float32Array.from([0.1, -0.2, 0.3, 0.4, 0.5, -0.6]);
    const before = await run(graph, x);
    const n = graph.nodes.length;
    expect(eliminateCommonSubexpressions(graph)).toBe(3); // the second MatMul, Tanh and Transpose
    expect(graph.nodes.length).toBe(n - 3);
    expect(graph.nodes.filter((nd) => nd.opType === 'Softmax')).toHaveLength(2);
    const sumNode = graph.nodes.find((nd) => nd.opType === 'Sum');
    expect(sumNode?.inputs[0]).toBe(sumNode?.inputs[1]);
    expect(await run(graph, x)).toEqual(before);
  });

  it('never merges graph outputs or random ops', () => {
    const { graph, b } = graphWithX();
    const r1 = b.emit('Relu', ['x']);
    const r2 = b.emit('Relu', ['x']);
    graph.nodes.push({ name: 'u1', opType: 'RandomUniformLike', domain: '', inputs: ['x'], outputs: ['u1'], attrs: {} });
    graph.nodes.push({ name: 'u2', opType: 'RandomUniformLike', domain: '', inputs: ['x'], outputs: ['u2'], attrs: {} });
    graph.outputs = [r1, r2, 'u1', 'u2'].map((name) => ({ name, dtype: 'float32', shape: [2, 3] }));
    expect(eliminateCommonSubexpressions(graph)).toBe(0);
  });
});
