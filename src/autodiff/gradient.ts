// Reverse-mode autodiff over the IR: walks the graph backwards from a scalar loss and appends,
// for every node on a path from the differentiated tensors to the loss, the ONNX nodes of its
// VJP rule. Contributions to a tensor used several times are summed.
import type { GraphBuilder } from '../onnx/builder.js';
import { type Graph, isFloat, type Node, nodeLabel, tensorFromNumbers } from '../onnx/ir.js';
import { getOp, OpError, type VjpCtx } from '../ops/registry.js';

export class NoGradientError extends Error {}

export interface GradientRequest {
  builder: GraphBuilder;
  graph: Graph;
  /** Name of a scalar float tensor. */
  loss: string;
  /** Tensors to differentiate with respect to (graph inputs or initializers). */
  wrt: string[];
}

export function buildGradients(req: GradientRequest): Map<string, string> {
  const { builder: b, graph, loss, wrt } = req;
  const nodes = [...graph.nodes];
  const lossType = b.type(loss);
  if (!isFloat(lossType.dtype) || lossType.shape.length !== 0)
    throw new OpError(`loss '${loss}' must be a float scalar, got ${lossType.dtype}[${lossType.shape}]`);

  // Forward: which tensors depend differentiably on wrt.
  const requires = new Set(wrt);
  const blocked: Node[] = [];
  for (const n of nodes) {
    const def = getOp(n.opType);
    const nondiff = new Set(def?.nondiff ?? []);
    const hit = n.inputs.some((x, i) => x !== '' && requires.has(x) && !nondiff.has(i));
    if (!hit) continue;
    const live = n.outputs.filter((o) => o && isFloat(b.type(o).dtype) && !b.detached.has(o));
    if (!def?.vjp) {
      if (live.length) blocked.push(n);
      continue;
    }
    for (const o of live) requires.add(o);
  }
  // Backward reachability from the loss.
  const reaches = new Set([loss]);
  for (let i = nodes.length - 1; i >= 0; i--) {
    const n = nodes[i];
    if (n.outputs.some((o) => reaches.has(o))) for (const x of n.inputs) if (x) reaches.add(x);
  }
  const stuck = blocked.filter((n) => n.outputs.some((o) => reaches.has(o)));
  if (stuck.length) {
    const list = stuck.map((n) => nodeLabel(n)).join(', ');
    throw new NoGradientError(`no gradient rule for ${list}: the gradient of '${loss}' flows through ${stuck.length > 1 ? 'them' : 'it'}`);
  }

  const contrib = new Map<string, string[]>();
  const push = (name: string, g: string): void => {
    const list = contrib.get(name);
    if (list) list.push(g);
    else contrib.set(name, [g]);
  };
  const total = (name: string): string | undefined => {
    const list = contrib.get(name);
    if (!list || list.length === 0) return undefined;
    if (list.length === 1) return list[0];
    const s = b.emit('Sum', list);
    contrib.set(name, [s]);
    return s;
  };
  push(loss, b.constant(tensorFromNumbers(lossType.dtype, [], [1]), 'seed'));

  for (let i = nodes.length - 1; i >= 0; i--) {
    const node = nodes[i];
    if (!node.outputs.some((o) => reaches.has(o) && requires.has(o))) continue;
    const def = getOp(node.opType);
    if (!def?.vjp) continue;
    const nondiff = new Set(def.nondiff ?? []);
    const wants = node.inputs.map((x, k) => x !== '' && requires.has(x) && !nondiff.has(k) && reaches.has(x));
    if (!wants.some(Boolean)) continue;
    const gys = node.outputs.map((o) => (o ? total(o) : undefined));
    if (gys.every((g) => g === undefined)) continue;
    const fail = (msg: string): never => {
      throw new OpError(`gradient of ${nodeLabel(node)}: ${msg}`);
    };
    const ctx: VjpCtx = {
      ...b.emitter(),
      node,
      x: (k) => node.inputs[k],
      y: (k) => node.outputs[k],
      gy: (k) => gys[k],
      wants: (k) => wants[k] === true,
      reduceTo: (g, shape) => reduceTo(b, g, shape),
      fail,
    };
    const grads = def.vjp(ctx);
    node.inputs.forEach((x, k) => {
      const g = grads[k];
      if (!wants[k] || g === undefined) return;
      const want = b.type(x).shape;
      const got = b.type(g).shape;
      if (want.length !== got.length || want.some((d, j) => d !== got[j]))
        fail(`rule returned a gradient of shape [${got}] for input ${k} of shape [${want}] (internal error)`);
      push(x, g);
    });
  }

  const out = new Map<string, string>();
  for (const w of wrt) {
    const g = total(w);
    if (g !== undefined) out.set(w, g);
    else {
      const t = b.type(w);
      out.set(w, b.constant(tensorFromNumbers(t.dtype, t.shape, new Float32Array(t.shape.reduce((a, c) => a * c, 1))), 'zero_grad'));
    }
  }
  return out;
}

/** Sum-reduces g (broadcast result) to `shape`. */
export function reduceTo(b: GraphBuilder, g: string, shape: number[]): string {
  const gs = b.type(g).shape;
  const lead = gs.length - shape.length;
  if (lead < 0) throw new OpError(`internal: cannot reduce [${gs}] to larger rank [${shape}]`);
  const axes: number[] = [];
  for (let k = 0; k < gs.length; k++) {
    if (k < lead) axes.push(k);
    else if (shape[k - lead] === 1 && gs[k] !== 1) axes.push(k);
    else if (shape[k - lead] !== gs[k]) throw new OpError(`internal: [${gs}] does not broadcast from [${shape}]`);
  }
  let r = g;
  if (axes.length) r = b.emit('ReduceSum', [g, b.ints(axes)], { keepdims: 1 });
  if (lead > 0 || axes.length === 0) {
    if (lead > 0) r = b.emit('Reshape', [r, b.ints(shape)]);
  }
  return r;
}
