// Convolutions with runtime weights on onnxruntime's blocked-channel (NCHWc) kernels.
//
// onnxruntime rewrites a Conv into its fast NCHWc form only when the weights are an initializer: it
// reorders them once, at load time. The graphs robustscope trains with feed the weights as inputs (they
// change every step), so every Conv there ran on the plain im2col kernel: measured 1.3-1.9x slower on one
// thread and hardly faster on two (bench/train-step/results.notes.md). This pass does onnxruntime's rewrite
// itself, with the weight reorder as graph ops evaluated every run (small identity products, see reorderFilter;
// repeated reorders of one weight are merged afterwards by src/onnx/cse.ts):
//
//   Conv(x, W, b)  ->  ReorderOutput(nchwc.Conv(ReorderInput(x), reorder(W), pad(b)), channels = O)
//
// The filter layouts are MLAS's (onnxruntime/core/mlas/lib/reorder.cpp), B = the NCHWc block size:
//   OIHWBiBo (input channels a multiple of B):  Wr[ob, ib, kh, kw, bi, bo] = W[ob*B + bo, ib*B + bi, kh, kw]
//   OIHWBo   (fewer than B input channels, read straight from NCHW; depthwise):
//                                               Wr[ob, i, kh, kw, bo] = W[ob*B + bo, i, kh, kw]
// with the output channels zero-padded to a multiple of B (ReorderOutput drops the padding).
import type { GraphBuilder } from '../onnx/builder.js';
import { type Graph, type Node, scalarI64, type Tensor } from '../onnx/ir.js';
import { serializeGraph } from '../onnx/serialize.js';
import type { TypeInfo } from '../ops/registry.js';
import { Session } from './session.js';

export const NCHWC_DOMAIN = 'com.microsoft.nchwc';
const MS_DOMAIN = 'com.microsoft';

/** Names and shapes the pass needs from the graph's builder. */
export interface NchwcContext {
  type(name: string): TypeInfo;
  fresh(hint: string): string;
  /** Adds an initializer and returns its name. */
  constant(t: Tensor, hint: string): string;
  isConstant(name: string): boolean;
}

/** The context of a GraphBuilder's graph. */
export function nchwcContext(b: GraphBuilder): NchwcContext {
  return { type: (t) => b.type(t), fresh: (h) => b.fresh(h), constant: (t, h) => b.constant(t, h), isConstant: (t) => b.value(t) !== undefined };
}

let probed: Promise<number> | undefined;

/**
 * onnxruntime's NCHWc block size on this CPU (8 with AVX2, 16 with AVX-512), or 0 where it has no NCHWc
 * kernels: ReorderInput pads 4 channels up to one block, so the output's channel count is the block size.
 */
export function nchwcBlockSize(): Promise<number> {
  probed ??= probeBlockSize().catch(() => 0);
  return probed;
}

async function probeBlockSize(): Promise<number> {
  const graph: Graph = {
    name: 'nchwc_probe',
    nodes: [{ name: 'r', opType: 'ReorderInput', domain: NCHWC_DOMAIN, inputs: ['x'], outputs: ['y'], attrs: {} }],
    inputs: [{ name: 'x', dtype: 'float32', shape: [1, 4, 1, 1] }],
    outputs: [{ name: 'y', dtype: 'float32', shape: undefined }],
    initializers: new Map(),
    valueInfo: new Map(),
  };
  const bytes = serializeGraph(graph);
  const s = await Session.create(bytes, { threads: 1 });
  try {
    const out = await s.run({ x: { data: new Float32Array(4), dims: [1, 4, 1, 1], dtype: 'float32' } });
    const b = out.y.dims[1];
    // A block of 4 (or 1) means MLAS has no NCHWc kernels here.
    return b >= 8 && (b & (b - 1)) === 0 ? b : 0;
  } finally {
    await s.release();
  }
}

/**
 * Rewrites every float 2-D Conv whose weights are computed or fed at run time (not initializers: those
 * onnxruntime rewrites itself) into the NCHWc form above, where MLAS supports its channel layout.
 * Returns how many Convs were rewritten. Run it last: the new nodes carry no types.
 */
export function useNchwcConvs(graph: Graph, c: NchwcContext, block: number): number {
  if (block < 8) return 0;
  const out: Node[] = [];
  let rewritten = 0;
  for (const node of graph.nodes) {
    const repl = node.opType === 'Conv' && node.domain === '' ? rewriteConv(node, c, block) : undefined;
    if (repl) {
      out.push(...repl);
      rewritten++;
    } else out.push(node);
  }
  graph.nodes = out;
  return rewritten;
}

function rewriteConv(node: Node, c: NchwcContext, B: number): Node[] | undefined {
  const [x, w, bias] = node.inputs;
  if (c.isConstant(w)) return undefined;
  const xt = c.type(x);
  const wt = c.type(w);
  if (xt.dtype !== 'float32' || xt.shape.length !== 4 || wt.shape.length !== 4) return undefined;
  const autoPad = node.attrs.auto_pad;
  if (autoPad && autoPad.type === 'string' && autoPad.value !== 'NOTSET') return undefined;
  const [O, I, kh, kw] = wt.shape;
  const C = xt.shape[1];
  const G = node.attrs.group?.type === 'int' ? node.attrs.group.value : 1;
  let blockedInput: boolean;
  if (G === 1) {
    if (I < B) blockedInput = false;
    else if (I % B === 0) blockedInput = true;
    else return undefined;
  } else {
    if (O % B !== 0) return undefined;
    const depthwise = I === 1 && O === G && C === G;
    if (!depthwise && (I % B !== 0 || (O / G) % B !== 0)) return undefined;
    // Depthwise: OIHWBo filter on blocked input (ReorderInput needs a multiple of 4 channels).
    if (depthwise && C % 4 !== 0) return undefined;
    blockedInput = true;
  }
  const Op = Math.ceil(O / B) * B;
  const nodes: Node[] = [];
  const add = (opType: string, inputs: string[], hint: string, attrs: Node['attrs'] = {}, domain = ''): string => {
    const o = c.fresh(hint);
    nodes.push({ name: o, opType, domain, inputs, outputs: [o], attrs });
    return o;
  };
  const ints = (v: number[]): string => c.constant(scalarI64(v), 'nchwc_shape');
  const eye = (n: number): string => {
    const e = new Float32Array(n * n);
    for (let i = 0; i < n; i++) e[i * n + i] = 1;
    return c.constant({ dtype: 'float32', dims: [n, n], data: e }, 'nchwc_eye');
  };
  // Zero output channels up to Op: Pad on axis 0 of the filter (and of the bias).
  const padTo = (t: string, rank: number): string =>
    Op === O ? t : add('Pad', [t, ints([0, ...new Array(rank - 1).fill(0), Op - O, ...new Array(rank - 1).fill(0)])], 'nchwc_pad');
  const wf = reorderFilter(add, ints, eye, padTo(w, 4), { Op, I, kh, kw, B });
  const xin = blockedInput ? add('ReorderInput', [x], 'nchwc_x', {}, NCHWC_DOMAIN) : x;
  const inputs = [xin, wf];
  if (bias) inputs.push(padTo(bias, 1));
  const attrs: Node['attrs'] = {};
  for (const a of ['dilations', 'group', 'pads', 'strides', 'kernel_shape'] as const) if (node.attrs[a]) attrs[a] = node.attrs[a];
  const y = add('Conv', inputs, 'nchwc_conv', attrs, NCHWC_DOMAIN);
  nodes.push({
    name: node.name,
    opType: 'ReorderOutput',
    domain: NCHWC_DOMAIN,
    inputs: [y],
    outputs: [node.outputs[0]],
    attrs: { channels: { type: 'int', value: O } },
  });
  return nodes;
}

type Add = (opType: string, inputs: string[], hint: string, attrs?: Node['attrs'], domain?: string) => string;

/**
 * The filter in MLAS's order for its layout (see the top of the file), as graph ops. Each axis move is a
 * batched product with an identity matrix on the transposed operand (com.microsoft FusedMatMul, transA):
 * exact, and on two threads onnxruntime's Transpose of these small tensors was measured up to 8x slower
 * than on one (its parallel split); the GEMM stays on one thread at this size.
 */
function reorderFilter(
  add: Add,
  ints: (v: number[]) => string,
  eye: (n: number) => string,
  wp: string,
  d: { Op: number; I: number; kh: number; kw: number; B: number },
): string {
  const { Op, I, kh, kw, B } = d;
  const k = kh * kw;
  // [..., m, n] -> [..., n, m]
  const swap = (t: string, dims: number[]): string =>
    add('FusedMatMul', [add('Reshape', [t, ints(dims)], 'nchwc_w'), eye(dims[dims.length - 2])], 'nchwc_w', { transA: { type: 'int', value: 1 } }, MS_DOMAIN);
  let w = wp;
  // OIHWBiBo: [Op, I/B, bi, k] -> [Op, I/B, k, bi] first.
  if (I % B === 0) w = swap(w, [Op * (I / B), B, k]);
  // Then bo innermost: [Op/B, bo, rest] -> [Op/B, rest, bo].
  w = swap(w, [Op / B, B, I * k]);
  return add('Reshape', [w, ints([Op, I, kh, kw])], 'nchwc_w');
}
