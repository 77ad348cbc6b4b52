// Convolutions and matrix products: Conv, ConvTranspose, Gemm, MatMul.
//
// Conv and ConvTranspose are adjoint to each other, so both VJPs are built from one "conv view":
// a convolution from a BIG spatial tensor (conv input / transposed-conv output) to a SMALL one
// (conv output / transposed-conv input) with explicit pads. Every auto_pad / output_shape /
// output_padding variant is resolved to that view at build time (shapes are static), so the
// backward graph only ever holds explicit pads:
//   d small -> big  (Conv input grad):          ConvTranspose, output_padding = rows never read
//   d big -> small  (ConvTranspose input grad):  Conv, end pad trimmed by the extra rows
//   d weight:  Conv of the big tensor (batch<->channel swapped) with the small one as the kernel,
//              stride<->dilation exchanged, cropped to the kernel size when rows were never read.
import { attrFloat, attrInt, attrInts, attrString, type Node, tensorFromNumbers } from '../onnx/ir.js';
import { float, type OpCtx, type OpDef, registerOps, type TypeInfo, type VjpCtx } from './registry.js';
import { broadcastShapes, need } from './util.js';

type Fail = (msg: string) => never;

/** Geometry of a convolution between a big and a small spatial extent (per spatial axis). */
interface ConvView {
  kernel: number[];
  strides: number[];
  dilations: number[];
  padsBegin: number[];
  padsEnd: number[];
  group: number;
  /** Spatial dims of the conv input (Conv: x; ConvTranspose: y). */
  big: number[];
  /** Spatial dims of the conv output (Conv: y; ConvTranspose: x). */
  small: number[];
  /** Rows of the padded big extent that no output reads: big + pb + pe - dk - s*(small-1) >= 0. */
  extra: number[];
}

const dilated = (k: number, d: number): number => d * (k - 1) + 1;

function spatialAttr(node: Node, name: string, rank: number, dflt: number, fail: Fail): number[] {
  const v = attrInts(node, name);
  if (v === undefined || v.length === 0) return new Array<number>(rank).fill(dflt);
  if (v.length !== rank) fail(`${name} has ${v.length} values, expected ${rank}`);
  return v;
}

function explicitPads(node: Node, rank: number, fail: Fail): { pb: number[]; pe: number[] } {
  const p = attrInts(node, 'pads');
  if (p === undefined || p.length === 0) return { pb: new Array<number>(rank).fill(0), pe: new Array<number>(rank).fill(0) };
  if (p.length !== 2 * rank) fail(`pads has ${p.length} values, expected ${2 * rank}`);
  if (p.some((v) => v < 0)) fail(`negative pads [${p}] are not supported`);
  return { pb: p.slice(0, rank), pe: p.slice(rank) };
}

/** Checks x/w ranks and the kernel_shape attribute; returns the kernel. */
function kernelOf(node: Node, x: TypeInfo, w: TypeInfo, fail: Fail): number[] {
  if (x.shape.length < 3) fail(`input must be [N, C, spatial...], got [${x.shape}]`);
  if (w.shape.length !== x.shape.length) fail(`weight rank ${w.shape.length} differs from input rank ${x.shape.length}`);
  const kernel = w.shape.slice(2);
  const ks = attrInts(node, 'kernel_shape');
  if (ks && ks.length && (ks.length !== kernel.length || ks.some((k, i) => k !== kernel[i])))
    fail(`kernel_shape [${ks}] does not match the weight's spatial dims [${kernel}]`);
  return kernel;
}

/** Conv geometry as onnxruntime computes it (auto_pad resolved to explicit pads). */
function convGeometry(node: Node, x: TypeInfo, w: TypeInfo, fail: Fail): ConvView {
  const kernel = kernelOf(node, x, w, fail);
  const rank = kernel.length;
  const strides = spatialAttr(node, 'strides', rank, 1, fail);
  const dilations = spatialAttr(node, 'dilations', rank, 1, fail);
  const group = attrInt(node, 'group', 1);
  const autoPad = attrString(node, 'auto_pad', 'NOTSET');
  const big = x.shape.slice(2);
  let { pb, pe } = explicitPads(node, rank, fail);
  if (autoPad === 'VALID') {
    pb = pb.map(() => 0);
    pe = pe.map(() => 0);
  } else if (autoPad === 'SAME_UPPER' || autoPad === 'SAME_LOWER') {
    big.forEach((n, i) => {
      const out = Math.ceil(n / strides[i]);
      const total = Math.max(0, (out - 1) * strides[i] + dilated(kernel[i], dilations[i]) - n);
      // The odd pad row goes to the end for SAME_UPPER, to the beginning for SAME_LOWER.
      pb[i] = autoPad === 'SAME_UPPER' ? Math.floor(total / 2) : Math.ceil(total / 2);
      pe[i] = total - pb[i];
    });
  } else if (autoPad !== 'NOTSET') fail(`unknown auto_pad '${autoPad}'`);
  const small = big.map((n, i) => Math.floor((n + pb[i] + pe[i] - dilated(kernel[i], dilations[i])) / strides[i]) + 1);
  if (small.some((d) => d < 1)) fail(`input [${x.shape}] is smaller than the (dilated, padded) kernel [${kernel}]`);
  const extra = big.map((n, i) => n + pb[i] + pe[i] - dilated(kernel[i], dilations[i]) - strides[i] * (small[i] - 1));
  return { kernel, strides, dilations, padsBegin: pb, padsEnd: pe, group, big, small, extra };
}

/**
 * ConvTranspose geometry as onnxruntime (1.30) computes it: with output_shape (or SAME_*), the total pad
 * is max(0, s*(in-1) + output_padding + dk - out), split with the odd row at the END for SAME_UPPER and
 * at the BEGINNING otherwise (explicit pads are then ignored). Probed in test/ops/conv.test.ts.
 */
function convTransposeGeometry(node: Node, x: TypeInfo, w: TypeInfo, fail: Fail): ConvView {
  const kernel = kernelOf(node, x, w, fail);
  const rank = kernel.length;
  const strides = spatialAttr(node, 'strides', rank, 1, fail);
  const dilations = spatialAttr(node, 'dilations', rank, 1, fail);
  const outPad = spatialAttr(node, 'output_padding', rank, 0, fail);
  const group = attrInt(node, 'group', 1);
  const autoPad = attrString(node, 'auto_pad', 'NOTSET');
  if (!['NOTSET', 'VALID', 'SAME_UPPER', 'SAME_LOWER'].includes(autoPad)) fail(`unknown auto_pad '${autoPad}'`);
  const small = x.shape.slice(2);
  const full = small.map((n, i) => strides[i] * (n - 1) + outPad[i] + dilated(kernel[i], dilations[i]));
  let { pb, pe } = explicitPads(node, rank, fail);
  let big: number[];
  const os = attrInts(node, 'output_shape');
  const distribute = (total: number[]): void => {
    total.forEach((t, i) => {
      pb[i] = autoPad === 'SAME_UPPER' ? Math.floor(t / 2) : Math.ceil(t / 2);
      pe[i] = t - pb[i];
    });
  };
  if (os && os.length) {
    if (os.length !== rank && os.length !== rank + 2) fail(`output_shape has ${os.length} values, expected ${rank} or ${rank + 2}`);
    big = os.slice(os.length - rank);
    pb = pb.map(() => 0);
    pe = pe.map(() => 0);
    distribute(full.map((f, i) => Math.max(0, f - big[i])));
  } else {
    if (autoPad === 'SAME_UPPER' || autoPad === 'SAME_LOWER') distribute(full.map((f, i) => Math.max(0, f - small[i] * strides[i])));
    else if (autoPad === 'VALID') {
      pb = pb.map(() => 0);
      pe = pe.map(() => 0);
    }
    big = full.map((f, i) => f - pb[i] - pe[i]);
  }
  if (big.some((d) => d < 1)) fail(`output spatial size [${big}] is empty`);
  // output_padding, and an output_shape larger than the natural size, add rows no input reaches.
  const extra = big.map((n, i) => n + pb[i] + pe[i] - dilated(kernel[i], dilations[i]) - strides[i] * (small[i] - 1));
  // onnxruntime rejects shapes a strided conv of the output could not map back to the input.
  extra.forEach((e, i) => {
    if (e >= strides[i]) fail(`output size ${big[i]} leaves ${e} rows no input reaches (output_padding/output_shape too large for stride ${strides[i]})`);
  });
  return { kernel, strides, dilations, padsBegin: pb, padsEnd: pe, group, big, small, extra };
}

function checkBias(ctx: OpCtx, channels: number): void {
  const b = ctx.type(2);
  if (b && (b.shape.length !== 1 || b.shape[0] !== channels)) ctx.fail(`bias must have shape [${channels}], got [${b.shape}]`);
}

function inferConv(ctx: OpCtx): TypeInfo[] {
  const x = need(ctx, 0);
  const w = need(ctx, 1);
  const v = convGeometry(ctx.node, x, w, ctx.fail);
  const [O, cg] = w.shape;
  if (v.group < 1 || x.shape[1] !== cg * v.group) ctx.fail(`input has ${x.shape[1]} channels, weight expects ${cg} x group ${v.group}`);
  if (O % v.group !== 0) ctx.fail(`${O} output channels are not divisible by group ${v.group}`);
  checkBias(ctx, O);
  return [{ dtype: x.dtype, shape: [x.shape[0], O, ...v.small] }];
}

function inferConvTranspose(ctx: OpCtx): TypeInfo[] {
  const x = need(ctx, 0);
  const w = need(ctx, 1);
  const v = convTransposeGeometry(ctx.node, x, w, ctx.fail);
  if (v.group < 1 || w.shape[0] !== x.shape[1] || x.shape[1] % v.group !== 0)
    ctx.fail(`input has ${x.shape[1]} channels; weight [${w.shape}] with group ${v.group} does not fit`);
  const O = w.shape[1] * v.group;
  checkBias(ctx, O);
  return [{ dtype: x.dtype, shape: [x.shape[0], O, ...v.big] }];
}

// ---------- graph helpers ----------

/**
 * Transpose that degrades to a Reshape when it only moves size-1 axes (e.g. batch 1 <-> channels),
 * which costs nothing in onnxruntime.
 */
function permute(c: VjpCtx, t: string, perm: number[]): string {
  const shape = c.type(t).shape;
  if (perm.every((p, i) => p === i)) return t;
  const big = perm.filter((p) => shape[p] !== 1);
  const out = perm.map((p) => shape[p]);
  if (big.every((p, i) => i === 0 || big[i - 1] < p)) return c.emit('Reshape', [t, c.ints(out)]);
  return c.emit('Transpose', [t], { perm });
}

function reshapeTo(c: VjpCtx, t: string, shape: number[]): string {
  const cur = c.type(t).shape;
  if (cur.length === shape.length && cur.every((d, i) => d === shape[i])) return t;
  return c.emit('Reshape', [t, c.ints(shape)]);
}

/** Slices t to `sizes` along the spatial axes (from index 0), when larger. */
function cropSpatial(c: VjpCtx, t: string, sizes: number[]): string {
  const shape = c.type(t).shape;
  const axes: number[] = [];
  const ends: number[] = [];
  sizes.forEach((s, i) => {
    if (shape[i + 2] !== s) {
      axes.push(i + 2);
      ends.push(s);
    }
  });
  if (!axes.length) return t;
  return c.emit('Slice', [t, c.ints(axes.map(() => 0)), c.ints(ends), c.ints(axes)]);
}

/** small -> big: the adjoint of the conv view (Conv's input gradient). */
function smallToBig(c: VjpCtx, g: string, w: string, v: ConvView): string {
  if (v.extra.some((e, i) => e >= v.strides[i])) c.fail('internal: output_padding would reach the stride');
  return c.emit('ConvTranspose', [g, w], {
    strides: v.strides,
    dilations: v.dilations,
    pads: [...v.padsBegin, ...v.padsEnd],
    output_padding: v.extra.some((e) => e > 0) ? v.extra : undefined,
    group: v.group > 1 ? v.group : undefined,
  });
}

/** big -> small: the conv view itself (ConvTranspose's input gradient). Unread trailing rows are trimmed off the end pad. */
function bigToSmall(c: VjpCtx, g: string, w: string, v: ConvView): string {
  const pe = v.padsEnd.map((p, i) => Math.max(0, p - v.extra[i]));
  const y = c.emit('Conv', [g, w], {
    strides: v.strides,
    dilations: v.dilations,
    pads: [...v.padsBegin, ...pe],
    group: v.group > 1 ? v.group : undefined,
  });
  return cropSpatial(c, y, v.small);
}

/**
 * Below this many output positions per image the one-hot im2col Conv's overhead outweighs the GEMM's
 * gain (measured at batch 8: 8x8 outputs are slower than the Conv rule, 16x16 and up 1.5-3x faster).
 */
const IM2COL_MIN_POSITIONS = 128;

const numel = (dims: number[]): number => dims.reduce((a, b) => a * b, 1);

/** A 1x1, stride-1, unpadded view: the conv input is its own im2col. */
const isIdentityView = (v: ConvView): boolean =>
  v.kernel.every((k) => k === 1) && v.strides.every((s) => s === 1) && v.padsBegin.every((p) => p === 0) && v.padsEnd.every((p, i) => p - v.extra[i] <= 0);

/**
 * Weight gradient of the conv view: dW[o, ci, k] = sum_{n, p} big_pad[n, g*Cg+ci, p*s + k*d] * small[n, o, p].
 * Ungrouped float convs go through im2col + GEMM (im2colWeightGrad); the rest as one Conv: batch = Cg,
 * channels = (group, N), kernel = small with channels (group, Og) x N, stride = d, dilation = s, same pads
 * (end pad trimmed by the unread rows), then [Cg, O, k] -> [O, Cg, k].
 */
function weightGrad(c: VjpCtx, big: string, small: string, v: ConvView, wShape: number[]): string {
  const bs = c.type(big).shape;
  const ss = c.type(small).shape;
  const N = bs[0];
  const G = v.group;
  const cg = bs[1] / G;
  const og = ss[1] / G;
  const bSp = bs.slice(2);
  const sSp = ss.slice(2);
  const sp = (k: number): number[] => bSp.map((_, i) => i + k);
  const dt = c.type(big).dtype;
  if (G === 1 && (dt === 'float32' || dt === 'float64') && (isIdentityView(v) || numel(sSp) >= IM2COL_MIN_POSITIONS))
    return im2colWeightGrad(c, big, small, v, wShape);
  // big [N, G*Cg, S] -> [Cg, G*N, S]
  const b5 = reshapeTo(c, big, [N, G, cg, ...bSp]);
  const bT = reshapeTo(c, permute(c, b5, [2, 1, 0, ...sp(3)]), [cg, G * N, ...bSp]);
  // small [N, G*Og, s] -> [G*Og, N, s]
  const s5 = reshapeTo(c, small, [N, G, og, ...sSp]);
  const sT = reshapeTo(c, permute(c, s5, [1, 2, 0, ...sp(3)]), [G * og, N, ...sSp]);
  const pe = v.padsEnd.map((p, i) => Math.max(0, p - v.extra[i]));
  const dw = c.emit('Conv', [bT, sT], {
    strides: v.dilations,
    dilations: v.strides,
    pads: [...v.padsBegin, ...pe],
    group: G > 1 ? G : undefined,
  });
  const out = permute(c, cropSpatial(c, dw, v.kernel), [1, 0, ...sp(2)]);
  const got = c.type(out).shape;
  if (got.some((d, i) => d !== wShape[i])) c.fail(`internal: weight gradient [${got}] for weight [${wShape}]`);
  return out;
}

/**
 * Ungrouped weight gradient as im2col + GEMM, the forward's GEMM cost (the Conv formulation above runs a
 * thin GEMM behind a huge-kernel im2col, measured ~2.5x slower on 3x3 layers):
 *   cols[n, ci*K + k, p] = big_pad[n, ci, p*s + k*d]   (one depthwise Conv with fixed one-hot kernels,
 *                                                       the view's geometry; x itself for 1x1/stride 1/no pad)
 *   dW^T[ci*K + k, o] = sum_n cols[n] . small[n]^T      (batched MatMul, then a sum over the batch)
 * Same products and sums as the definition, only the summation order differs (float rounding).
 */
function im2colWeightGrad(c: VjpCtx, big: string, small: string, v: ConvView, wShape: number[]): string {
  const { dtype, shape: bs } = c.type(big);
  const ss = c.type(small).shape;
  const [N, C] = bs;
  const O = ss[1];
  const K = numel(v.kernel);
  const P = numel(ss.slice(2));
  const pe = v.padsEnd.map((p, i) => Math.max(0, p - v.extra[i]));
  let cols: string;
  if (isIdentityView(v)) cols = big;
  else {
    const hot = new Array<number>(C * K * K).fill(0);
    for (let ci = 0; ci < C; ci++) for (let k = 0; k < K; k++) hot[(ci * K + k) * K + k] = 1;
    const kernel = c.constant(tensorFromNumbers(dtype, [C * K, 1, ...v.kernel], hot), 'conv_im2col');
    cols = c.emit('Conv', [big, kernel], {
      strides: v.strides,
      dilations: v.dilations,
      pads: [...v.padsBegin, ...pe],
      group: C > 1 ? C : undefined,
    });
  }
  const got = c.type(cols).shape.slice(2);
  if (got.some((d, i) => d !== ss[i + 2])) c.fail(`internal: im2col [${got}] does not match the gradient's spatial dims [${ss.slice(2)}]`);
  const smallT = c.emit('Transpose', [reshapeTo(c, small, [N, O, P])], { perm: [0, 2, 1] });
  const prod = c.emit('MatMul', [reshapeTo(c, cols, [N, C * K, P]), smallT]);
  const summed = N > 1 ? c.emit('ReduceSum', [prod, c.ints([0])], { keepdims: 0 }) : reshapeTo(c, prod, [C * K, O]);
  return reshapeTo(c, c.emit('Transpose', [summed], { perm: [1, 0] }), wShape);
}

function biasGrad(c: VjpCtx, g: string): string {
  const rank = c.type(g).shape.length;
  const axes = [0, ...Array.from({ length: rank - 2 }, (_, i) => i + 2)];
  return c.emit('ReduceSum', [g, c.ints(axes)], { keepdims: 0 });
}

/**
 * Stride-1 Conv input gradient as a plain Conv with the weights flipped and in/out channels swapped.
 * onnxruntime runs Conv much faster than ConvTranspose (NCHWc kernels): measured 2-3x on 3x3 layers,
 * ~5x on depthwise, 3x grouped; with runtime weights (training: the flip is a small MatMul and a
 * Transpose, then the NCHWc rewrite of runtime/nchwc.ts) 1.7x on 8x8 maps. Constant weights (attacks)
 * are flipped at build time.
 */
function flippedConvInputGrad(c: VjpCtx, g: string, w: string, v: ConvView): string | undefined {
  const { dtype, shape } = c.type(w);
  if (v.strides.some((s) => s !== 1) || (dtype !== 'float32' && dtype !== 'float64')) return undefined;
  const dk = v.kernel.map((k, i) => dilated(k, v.dilations[i]));
  // Pads of the adjoint are dk-1-p; a pad beyond the dilated kernel would need a negative one.
  if (v.padsBegin.some((p, i) => p > dk[i] - 1) || v.padsEnd.some((p, i) => p > dk[i] - 1)) return undefined;
  const [O, cg] = shape;
  const G = v.group;
  const og = O / G;
  // Weights that receive a gradient are trained: never bake their current value into the graph.
  const wt = c.wants(1) ? undefined : c.value(w);
  let flipped: string;
  if (wt) {
    const K = numel(v.kernel);
    const src = wt.data as Float32Array | Float64Array;
    const dst = new (src.constructor as Float32ArrayConstructor | Float64ArrayConstructor)(src.length);
    // Reversing the flattened spatial index flips every spatial axis at once.
    for (let gi = 0; gi < G; gi++)
      for (let o = 0; o < og; o++)
        for (let ci = 0; ci < cg; ci++) {
          const from = ((gi * og + o) * cg + ci) * K;
          const to = ((gi * cg + ci) * og + o) * K;
          for (let k = 0; k < K; k++) dst[to + K - 1 - k] = src[from + k];
        }
    flipped = c.constant({ dtype: wt.dtype, dims: [G * cg, og, ...v.kernel], data: dst }, 'conv_wflip');
  } else {
    // The flip as a product with the exchange matrix over the flattened spatial index (exact: one 1 per
    // column): onnxruntime's Slice with negative steps copies element by element, measured 3-4x slower.
    const K = numel(v.kernel);
    const J = new Array<number>(K * K).fill(0);
    for (let k = 0; k < K; k++) J[k * K + K - 1 - k] = 1;
    const rev = c.emit('MatMul', [reshapeTo(c, w, [O * cg, K]), c.constant(tensorFromNumbers(dtype, [K, K], J), 'conv_flip')]);
    // [G*og, cg, K] -> [G, og, cg, K] -> [G, cg, og, K] -> [G*cg, og, k]
    const w4 = reshapeTo(c, rev, [G, og, cg, K]);
    flipped = reshapeTo(c, permute(c, w4, [0, 2, 1, 3]), [G * cg, og, ...v.kernel]);
  }
  return c.emit('Conv', [g, flipped], {
    dilations: v.dilations,
    pads: [...v.padsBegin.map((p, i) => dk[i] - 1 - p), ...v.padsEnd.map((p, i) => dk[i] - 1 - p)],
    group: G > 1 ? G : undefined,
  });
}

function convVjp(c: VjpCtx): (string | undefined)[] {
  const g = c.gy(0) as string;
  const v = convGeometry(c.node, c.type(c.x(0)), c.type(c.x(1)), c.fail);
  return [
    c.wants(0) ? (flippedConvInputGrad(c, g, c.x(1), v) ?? smallToBig(c, g, c.x(1), v)) : undefined,
    c.wants(1) ? weightGrad(c, c.x(0), g, v, c.type(c.x(1)).shape) : undefined,
    c.wants(2) ? biasGrad(c, g) : undefined,
  ];
}

function convTransposeVjp(c: VjpCtx): (string | undefined)[] {
  const g = c.gy(0) as string;
  const v = convTransposeGeometry(c.node, c.type(c.x(0)), c.type(c.x(1)), c.fail);
  return [
    c.wants(0) ? bigToSmall(c, g, c.x(1), v) : undefined,
    // The transposed conv's weight [C, O/G, k] is laid out like the conv view's weight [C_small, C_big/G, k].
    c.wants(1) ? weightGrad(c, g, c.x(0), v, c.type(c.x(1)).shape) : undefined,
    c.wants(2) ? biasGrad(c, g) : undefined,
  ];
}

// ---------- Gemm / MatMul ----------

function inferGemm(ctx: OpCtx): TypeInfo[] {
  const a = need(ctx, 0);
  const b = need(ctx, 1);
  if (a.shape.length !== 2 || b.shape.length !== 2) ctx.fail(`A and B must be 2-D, got [${a.shape}] and [${b.shape}]`);
  const ta = attrInt(ctx.node, 'transA', 0) !== 0;
  const tb = attrInt(ctx.node, 'transB', 0) !== 0;
  const [M, K] = ta ? [a.shape[1], a.shape[0]] : a.shape;
  const [K2, N] = tb ? [b.shape[1], b.shape[0]] : b.shape;
  if (K !== K2) ctx.fail(`inner dimensions differ: A' is [${M}, ${K}], B' is [${K2}, ${N}]`);
  const cT = ctx.type(2);
  if (cT) {
    const bc = broadcastShapes([[M, N], cT.shape], ctx.fail);
    if (bc.length !== 2 || bc[0] !== M || bc[1] !== N) ctx.fail(`C [${cT.shape}] does not broadcast to [${M}, ${N}]`);
  }
  return [{ dtype: a.dtype, shape: [M, N] }];
}

function gemmVjp(c: VjpCtx): (string | undefined)[] {
  const g = c.gy(0) as string;
  const ta = attrInt(c.node, 'transA', 0) !== 0;
  const tb = attrInt(c.node, 'transB', 0) !== 0;
  const alpha = attrFloat(c.node, 'alpha', 1);
  const beta = attrFloat(c.node, 'beta', 1);
  const [A, B] = [c.x(0), c.x(1)];
  const al = alpha === 1 ? undefined : float(alpha);
  // With A' = op(A), B' = op(B): dA' = alpha g B'^T, dB' = alpha A'^T g; one Gemm each, no Transpose.
  let gA: string | undefined;
  if (c.wants(0))
    gA = ta
      ? c.emit('Gemm', [B, g], { alpha: al, transA: tb ? 1 : undefined, transB: 1 }) // dA = alpha B' g^T
      : c.emit('Gemm', [g, B], { alpha: al, transB: tb ? undefined : 1 }); // dA = alpha g B'^T
  let gB: string | undefined;
  if (c.wants(1))
    gB = tb
      ? c.emit('Gemm', [g, A], { alpha: al, transA: 1, transB: ta ? 1 : undefined }) // dB = alpha g^T A'
      : c.emit('Gemm', [A, g], { alpha: al, transA: ta ? undefined : 1 }); // dB = alpha A'^T g
  let gC: string | undefined;
  if (c.wants(2)) {
    const cShape = c.type(c.x(2)).shape;
    const scaled = beta === 1 ? g : c.emit('Mul', [g, c.scalar(beta, c.type(g).dtype)]);
    gC = c.reduceTo(scaled, cShape);
  }
  return [gA, gB, gC];
}

function inferMatMul(ctx: OpCtx): TypeInfo[] {
  const a = need(ctx, 0);
  const b = need(ctx, 1);
  if (a.shape.length === 0 || b.shape.length === 0) ctx.fail('operands must have rank >= 1');
  const a2 = a.shape.length === 1 ? [1, a.shape[0]] : a.shape;
  const b2 = b.shape.length === 1 ? [b.shape[0], 1] : b.shape;
  const K = a2[a2.length - 1];
  if (b2[b2.length - 2] !== K) ctx.fail(`inner dimensions differ: [${a.shape}] x [${b.shape}]`);
  const batch = broadcastShapes([a2.slice(0, -2), b2.slice(0, -2)], ctx.fail);
  const out = [...batch];
  if (a.shape.length > 1) out.push(a2[a2.length - 2]);
  if (b.shape.length > 1) out.push(b2[b2.length - 1]);
  return [{ dtype: a.dtype, shape: out }];
}

/** Swaps the last two axes (a Reshape when one of them is 1). */
function swapLast2(c: VjpCtx, t: string): string {
  const r = c.type(t).shape.length;
  return permute(c, t, [...Array.from({ length: r - 2 }, (_, i) => i), r - 1, r - 2]);
}

function matMulVjp(c: VjpCtx): (string | undefined)[] {
  const g = c.gy(0) as string;
  const aS = c.type(c.x(0)).shape;
  const bS = c.type(c.x(1)).shape;
  // Lift 1-D operands to matrices as numpy does ([K] -> [1, K] on the left, [K, 1] on the right).
  const a2S = aS.length === 1 ? [1, aS[0]] : aS;
  const b2S = bS.length === 1 ? [bS[0], 1] : bS;
  const A = reshapeTo(c, c.x(0), a2S);
  const B = reshapeTo(c, c.x(1), b2S);
  const batch = broadcastShapes([a2S.slice(0, -2), b2S.slice(0, -2)], c.fail);
  const [M, K] = a2S.slice(-2);
  const N = b2S[b2S.length - 1];
  const G = reshapeTo(c, g, [...batch, M, N]);
  const flat = a2S.length === 2 && b2S.length === 2;

  let gA: string | undefined;
  if (c.wants(0)) {
    const d = flat ? c.emit('Gemm', [G, B], { transB: 1 }) : c.emit('MatMul', [G, swapLast2(c, B)]);
    gA = reshapeTo(c, c.reduceTo(d, a2S), aS);
  }
  let gB: string | undefined;
  if (c.wants(1)) {
    let d: string;
    if (b2S.length === 2) {
      // A shared weight matrix: fold A's batch into its rows, one GEMM sums over the batch.
      const rows = a2S.slice(0, -1).reduce((p, q) => p * q, 1);
      const Af = reshapeTo(c, A, [rows, K]);
      const Gf = reshapeTo(c, G, [rows, N]);
      d = c.emit('Gemm', [Af, Gf], { transA: 1 });
    } else d = c.reduceTo(c.emit('MatMul', [swapLast2(c, A), G]), b2S);
    gB = reshapeTo(c, d, bS);
  }
  return [gA, gB];
}

const ops: OpDef[] = [
  // Conv and ConvTranspose read the same in opsets 1-21 (kernel_shape optional, explicit or auto pads).
  { type: 'Conv', infer: inferConv, vjp: convVjp },
  { type: 'ConvTranspose', infer: inferConvTranspose, vjp: convTransposeVjp },
  // Gemm 7-10 required C; 11+ makes it optional: the canonical form covers both.
  { type: 'Gemm', infer: inferGemm, vjp: gemmVjp },
  { type: 'MatMul', infer: inferMatMul, vjp: matMulVjp },
];

registerOps(ops);
