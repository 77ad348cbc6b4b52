// From a decoded model to a canonical, statically typed graph: support check (all problems
// in one error, before any work), opset upgrade, Constant -> initializer, topological order,
// type inference and constant folding of shape arithmetic, dead-node removal.
import { getOp, OpError, type UpgradeCtx } from '../ops/registry.js';
import '../ops/all.js';
import { GraphBuilder } from './builder.js';
import { CANONICAL_OPSET, type Graph, isStatic, type Model, type Node, nodeLabel, type ValueInfo } from './ir.js';

export class UnsupportedOpsError extends Error {
  constructor(readonly ops: Map<string, string[]>) {
    const lines = [...ops].map(([op, nodes]) => `  ${op}: ${nodes.slice(0, 5).join(', ')}${nodes.length > 5 ? ` and ${nodes.length - 5} more` : ''}`);
    super(`the model uses ${ops.size} unsupported op type${ops.size > 1 ? 's' : ''}:\n${lines.join('\n')}`);
  }
}

/** Lists every node whose op robustscope cannot run or differentiate, grouped by op type. */
export function findUnsupported(graph: Graph): Map<string, string[]> {
  const bad = new Map<string, string[]>();
  for (const n of graph.nodes) {
    const key = n.domain && n.domain !== 'ai.onnx' ? `${n.domain}::${n.opType}` : n.opType;
    if (n.domain === '' && getOp(n.opType)) continue;
    if (!bad.has(key)) bad.set(key, []);
    bad.get(key)?.push(n.name || n.outputs[0]);
  }
  return bad;
}

export function assertSupported(graph: Graph): void {
  const bad = findUnsupported(graph);
  if (bad.size) throw new UnsupportedOpsError(bad);
}

export function topoSort(graph: Graph): Node[] {
  const producer = new Map<string, number>();
  graph.nodes.forEach((n, i) => {
    for (const o of n.outputs) if (o) producer.set(o, i);
  });
  const state = new Uint8Array(graph.nodes.length); // 0 new, 1 visiting, 2 done
  const order: Node[] = [];
  const visit = (root: number): void => {
    // Iterative DFS: exported graphs can be thousands of nodes deep.
    const stack: [number, number][] = [[root, 0]];
    while (stack.length) {
      const top = stack[stack.length - 1];
      const [i, k] = top;
      const n = graph.nodes[i];
      if (k === 0) {
        if (state[i] === 2) {
          stack.pop();
          continue;
        }
        state[i] = 1;
      }
      if (k < n.inputs.length) {
        top[1]++;
        const p = producer.get(n.inputs[k]);
        if (p === undefined || state[p] === 2) continue;
        if (state[p] === 1) throw new OpError(`the graph has a cycle through ${nodeLabel(graph.nodes[p])}`);
        stack.push([p, 0]);
      } else {
        state[i] = 2;
        order.push(n);
        stack.pop();
      }
    }
  };
  for (let i = 0; i < graph.nodes.length; i++) visit(i);
  return order;
}

export interface PrepareOptions {
  /** Static shape for each graph input (symbolic dims are bound from these). */
  inputShapes?: Record<string, number[]>;
  /** Outputs to keep (default: the model's outputs). */
  outputs?: string[];
}

export interface PreparedGraph {
  builder: GraphBuilder;
  graph: Graph;
}

/** Canonicalises and types the model's graph for the given input shapes. The model is not modified. */
export function prepareGraph(model: Model, opts: PrepareOptions = {}): PreparedGraph {
  const src = model.graph;
  assertSupported(src);
  const opset = model.opsetImports.get('') ?? CANONICAL_OPSET;
  if (opset < 7) throw new OpError(`model opset ${opset} is older than robustscope supports (7+; tested 11-21)`);
  const inputs: ValueInfo[] = src.inputs.map((vi) => {
    const given = opts.inputShapes?.[vi.name];
    let shape = vi.shape;
    if (given) {
      if (shape && shape.length !== given.length)
        throw new OpError(
          `input '${vi.name}' has rank ${shape.length} ([${shape.join(', ')}]) but a rank-${given.length} shape [${given.join(', ')}] was given`,
        );
      shape?.forEach((d, k) => {
        if (typeof d === 'number' && d !== given[k])
          throw new OpError(`input '${vi.name}' has dimension ${k} fixed to ${d} by the model, but ${given[k]} was given`);
      });
      shape = given;
    }
    if (!isStatic(shape)) throw new OpError(`input '${vi.name}' has a dynamic shape [${(shape ?? ['?']).join(', ')}]; give its static shape`);
    return { name: vi.name, dtype: vi.dtype, shape };
  });
  const graph: Graph = { name: src.name, nodes: [], inputs, outputs: [], initializers: new Map(src.initializers), valueInfo: new Map() };
  const b = new GraphBuilder(graph, 'rs');
  for (const i of inputs) b.types.set(i.name, { dtype: i.dtype, shape: i.shape as number[] });
  for (const n of src.nodes) for (const o of n.outputs) b.reserve(o);

  for (const orig of topoSort(src)) {
    const node: Node = { ...orig, inputs: [...orig.inputs], outputs: [...orig.outputs], attrs: { ...orig.attrs } };
    const def = getOp(node.opType);
    if (!def) throw new OpError(`${nodeLabel(node)}: unsupported`);
    // Upgrades run at every opset: each checks ctx.opset itself, and some canonicalise opset-21 forms too.
    if (def.upgrade) {
      const ctx: UpgradeCtx = {
        ...b.emitter(),
        node,
        opset,
        fail: (msg: string): never => {
          throw new OpError(`${nodeLabel(node)}: ${msg}`);
        },
      };
      def.upgrade(ctx);
    }
    b.add(node);
  }

  const wanted = opts.outputs ?? src.outputs.map((o) => o.name);
  graph.outputs = wanted.map((name) => {
    const t = b.types.get(name);
    if (!t) throw new OpError(`output '${name}' is not produced by the graph`);
    return { name, dtype: t.dtype, shape: t.shape };
  });
  pruneDead(graph);
  return { builder: b, graph };
}

/** Removes nodes that no graph output depends on (keeps initializers that are still used). */
export function pruneDead(graph: Graph): void {
  const live = new Set(graph.outputs.map((o) => o.name));
  const keep: Node[] = [];
  for (let i = graph.nodes.length - 1; i >= 0; i--) {
    const n = graph.nodes[i];
    if (n.outputs.some((o) => live.has(o))) {
      keep.push(n);
      for (const x of n.inputs) if (x) live.add(x);
    }
  }
  graph.nodes = keep.reverse();
  for (const k of [...graph.initializers.keys()]) if (!live.has(k)) graph.initializers.delete(k);
}
