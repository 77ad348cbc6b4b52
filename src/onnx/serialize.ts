// Turns a prepared (canonical, typed) graph into ONNX bytes for onnxruntime.
import { encodeModel } from './codec.js';
import { CANONICAL_IR_VERSION, CANONICAL_OPSET, type Graph, type Model } from './ir.js';

export function canonicalModel(graph: Graph, metadata: Record<string, string> = {}): Model {
  const opsetImports = new Map([['', CANONICAL_OPSET]]);
  // Internal graphs may use onnxruntime's contrib domains (runtime/nchwc.ts): version 1 of each.
  for (const n of graph.nodes) if (n.domain && n.domain !== 'ai.onnx' && !opsetImports.has(n.domain)) opsetImports.set(n.domain, 1);
  return {
    irVersion: CANONICAL_IR_VERSION,
    opsetImports,
    producerName: 'robustscope',
    producerVersion: '0.1.0',
    graph,
    metadata,
  };
}

/** Serialises the graph, leaving out initializers no node or output uses. */
export function serializeGraph(graph: Graph): Uint8Array {
  const used = new Set<string>(graph.outputs.map((o) => o.name));
  for (const n of graph.nodes) for (const i of n.inputs) used.add(i);
  const initializers = new Map([...graph.initializers].filter(([k]) => used.has(k)));
  // Trailing omitted optional inputs are written as absent, not as '': some onnxruntime kernels
  // (LayerNormalization, onnxruntime#18967) crash on an explicit empty name.
  const nodes = graph.nodes.map((n) => {
    let k = n.inputs.length;
    while (k > 0 && n.inputs[k - 1] === '') k--;
    return k === n.inputs.length ? n : { ...n, inputs: n.inputs.slice(0, k) };
  });
  return encodeModel(canonicalModel({ ...graph, nodes, initializers }));
}
