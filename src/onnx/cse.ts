// Common-subexpression elimination over a graph's nodes: a node computing the same op, with the same
// attributes, on the same values as an earlier node is dropped and its outputs read from the earlier one.
// Constants are compared by content, so two emissions of the same small constant (a shape, an exchange
// matrix) count as one value. Where it matters: the unrolled PGD graph (src/train/pgd-graph.ts) repeats
// every weight-only computation of the backward pass (flipped and reordered filters) once per step.
// onnxruntime's own pass compares initializers by name only.
import { createHash } from 'node:crypto';
import type { AttrValue, Graph, Node, Tensor } from './ir.js';

/** Ops whose outputs are not a function of their inputs and attributes. */
const NONDETERMINISTIC = new Set(['RandomNormal', 'RandomNormalLike', 'RandomUniform', 'RandomUniformLike', 'Multinomial', 'Bernoulli', 'Dropout']);

/** Removes repeated computations in place; returns how many nodes were removed. */
export function eliminateCommonSubexpressions(graph: Graph): number {
  // A constant's identity is its content: equal constants under different names are one value.
  const valueId = new Map<string, string>();
  for (const [name, t] of graph.initializers) valueId.set(name, `c:${constantKey(t)}`);
  const idOf = (name: string): string => valueId.get(name) ?? `v:${name}`;
  const outputs = new Set(graph.outputs.map((o) => o.name));
  const seen = new Map<string, string[]>();
  const rename = new Map<string, string>();
  const kept: Node[] = [];
  for (const node of graph.nodes) {
    const inputs = node.inputs.map((i) => rename.get(i) ?? i);
    const n = inputs.some((i, k) => i !== node.inputs[k]) ? { ...node, inputs } : node;
    if (NONDETERMINISTIC.has(n.opType) || n.outputs.some((o) => outputs.has(o))) {
      kept.push(n);
      continue;
    }
    const key = `${n.domain}|${n.opType}|${attrKey(n.attrs)}|${n.outputs.length}|${inputs.map(idOf).join(',')}`;
    const earlier = seen.get(key);
    if (earlier) {
      n.outputs.forEach((o, k) => {
        if (o) rename.set(o, earlier[k]);
      });
      continue;
    }
    seen.set(key, n.outputs);
    kept.push(n);
  }
  const removed = graph.nodes.length - kept.length;
  graph.nodes = kept;
  return removed;
}

function constantKey(t: Tensor): string {
  const d = t.data;
  const h = createHash('sha256');
  if (Array.isArray(d)) h.update(JSON.stringify(d));
  else h.update(new Uint8Array(d.buffer, d.byteOffset, d.byteLength));
  return `${t.dtype}[${t.dims.join(',')}]${h.digest('hex')}`;
}

let subgraphs = 0;

function attrKey(attrs: Record<string, AttrValue>): string {
  return Object.keys(attrs)
    .sort()
    .map((k) => {
      const a = attrs[k];
      if (a.type === 'tensor') return `${k}=t:${constantKey(a.value)}`;
      // Subgraphs are never compared: each one is its own value.
      if (a.type === 'graph') return `${k}=g:${subgraphs++}`;
      return `${k}=${JSON.stringify(a.value)}`;
    })
    .join(';');
}
