// Pooling: MaxPool (+ Indices), MaxUnpool, AveragePool, GlobalAveragePool, GlobalMaxPool.
// Output sizes and window contents follow onnxruntime's CPU kernels (pool_attributes.h,
// pool_functors.h) exactly, since that is what runs the graph; VJP rules compute their
// window tables at build time from the same geometry.
import { type AttrValue, attrInt, attrInts, attrString, DTYPE_CODES, type Node, numel, tensorFromNumbers } from '../onnx/ir.js';
import { type OpCtx, type OpDef, registerOps, type TypeInfo, type UpgradeCtx, type VjpCtx } from './registry.js';
import { constInts, need, normAxis } from './util.js';

/** One spatial axis of a pooling window grid, with auto_pad resolved. */
export interface PoolAxis {
  size: number;
  kernel: number;
  stride: number;
  dilation: number;
  /** Actual pads (auto_pad resolved). */
  padBegin: number;
  padEnd: number;
  out: number;
}

type Fail = (msg: string) => never;

/** Window geometry of a MaxPool / AveragePool node for input shape xShape (N, C, spatial...). */
export function poolAxes(node: Node, xShape: number[], fail: Fail): PoolAxis[] {
  const kernel = attrInts(node, 'kernel_shape');
  if (!kernel || kernel.length === 0) fail('kernel_shape is required');
  const nd = kernel.length;
  if (xShape.length !== nd + 2) fail(`input of rank ${xShape.length} does not match a ${nd}-D kernel_shape (rank ${nd + 2} expected)`);
  const strides = attrInts(node, 'strides') ?? [];
  const dilations = attrInts(node, 'dilations') ?? [];
  const pads = attrInts(node, 'pads') ?? [];
  const ceil = attrInt(node, 'ceil_mode', 0) !== 0;
  const autoPad = attrString(node, 'auto_pad', 'NOTSET') || 'NOTSET';
  if (!['NOTSET', 'VALID', 'SAME_UPPER', 'SAME_LOWER'].includes(autoPad)) fail(`unknown auto_pad '${autoPad}'`);
  if (strides.length && strides.length !== nd) fail(`strides has ${strides.length} values for a ${nd}-D kernel`);
  if (dilations.length && dilations.length !== nd) fail(`dilations has ${dilations.length} values for a ${nd}-D kernel`);
  if (pads.length && pads.length !== 2 * nd) fail(`pads has ${pads.length} values, ${2 * nd} expected`);
  return kernel.map((k, i) => {
    const size = xShape[i + 2];
    const s = strides[i] ?? 1;
    const d = dilations[i] ?? 1;
    if (k <= 0 || s <= 0 || d <= 0) fail('kernel_shape, strides and dilations must be positive');
    let pb = pads[i] ?? 0;
    let pe = pads[i + nd] ?? 0;
    if (pb < 0 || pe < 0) fail('pads must be non-negative');
    // onnxruntime rejects pads >= kernel even when auto_pad overrides them.
    if (pb >= k || pe >= k) fail(`pads (${pb}, ${pe}) must be smaller than the kernel (${k})`);
    if (autoPad === 'VALID') pb = pe = 0;
    else if (autoPad !== 'NOTSET') {
      // Legacy SAME: onnxruntime sizes the padding with the undilated kernel; C++ integer division.
      const target = Math.trunc((size + s - 1) / s);
      const needed = (target - 1) * s + k - size;
      pb = autoPad === 'SAME_LOWER' ? Math.trunc((needed + 1) / 2) : Math.trunc(needed / 2);
      pe = needed - pb;
      // onnxruntime's MLAS kernels reject this (stride > kernel); refuse it for every variant.
      if (pb < 0 || pe < 0) fail(`auto_pad ${autoPad} gives negative padding (stride ${s} > kernel ${k} on spatial axis ${i}), which onnxruntime rejects`);
    }
    const num = size + pb + pe - d * (k - 1) - 1;
    // onnxruntime's truncating division would give one window larger than the padded input, and
    // its kernels disagree on that window's divisor; ONNX's floor gives an empty output.
    if (num < 0)
      fail(`input size ${size} on spatial axis ${i} is smaller than the window (kernel ${k}, dilation ${d}, pads ${pb}+${pe}): the output would be empty`);
    let out = Math.floor(num / s) + 1;
    if (ceil) {
      out = Math.ceil(num / s) + 1;
      // The last window must start inside the input or the leading padding (onnx/onnx#5741).
      if ((out - 1) * s >= size + pb) out--;
    }
    if (out < 1)
      fail(`input size ${size} on spatial axis ${i} is too small for the window (kernel ${k}, dilation ${d}, pads ${pb}+${pe}): the output would be empty`);
    return { size, kernel: k, stride: s, dilation: d, padBegin: pb, padEnd: pe, out };
  });
}

/**
 * Per output position j along one axis: the input positions its window reads, and the
 * count_include_pad divisor. MaxPool windows read every in-range tap; AveragePool (opset-19
 * kernel) first clips the window end to size + padEnd.
 */
export function axisWindows(a: PoolAxis, average: boolean): { taps: number[][]; padCount: number[] } {
  const taps: number[][] = [];
  const padCount: number[] = [];
  for (let j = 0; j < a.out; j++) {
    const start = j * a.stride - a.padBegin;
    let end = start + a.kernel * a.dilation;
    if (average) end = Math.min(end, a.size + a.padEnd);
    const t: number[] = [];
    for (let p = start; p < end; p += a.dilation) if (p >= 0 && p < a.size) t.push(p);
    taps.push(t);
    padCount.push(1 + Math.trunc((end - start - 1) / a.dilation));
  }
  return { taps, padCount };
}

/**
 * Rewrites a MaxPool / AveragePool node's attributes so that ONNX static shape inference (which
 * onnxruntime runs at session creation) agrees with onnxruntime's kernel: auto_pad becomes the
 * explicit pads the kernel uses (ONNX sizes SAME with the dilated kernel, the kernel does not),
 * and where the kernel's "last window starts inside" rule drops a ceil_mode window that ONNX
 * inference keeps, another end pad (or floor mode) gives the same windows and divisors. Without
 * this, a constant of the true shape downstream (a loss, a VJP divisor map) makes session creation
 * fail. Returns undefined when nothing needs to change or no equivalent form exists.
 */
export function canonicalPoolAttrs(node: Node, xShape: number[], fail: Fail): Record<string, AttrValue> | undefined {
  const axes = poolAxes(node, xShape, fail);
  const includePad = node.opType === 'AveragePool' && attrInt(node, 'count_include_pad', 0) !== 0;
  const autoPad = attrString(node, 'auto_pad', 'NOTSET') || 'NOTSET';
  const ceil = attrInt(node, 'ceil_mode', 0) !== 0;
  // End pad for this axis under which ONNX inference, the kernel and (count_include_pad) the
  // divisors all agree with the original; only the end pad is free (windows start at -padBegin).
  const endPad = (a: PoolAxis, ceilMode: boolean): number | undefined => {
    const divisors = axisWindows(a, true).padCount;
    for (const pe of [a.padEnd, ...Array.from({ length: a.kernel }, (_, v) => v)]) {
      const num = a.size + a.padBegin + pe - (a.kernel - 1) * a.dilation - 1;
      if (num < 0) continue;
      const onnx = (ceilMode ? Math.ceil(num / a.stride) : Math.floor(num / a.stride)) + 1;
      const kernel = ceilMode && (onnx - 1) * a.stride >= a.size + a.padBegin ? onnx - 1 : onnx;
      if (onnx !== a.out || kernel !== a.out) continue;
      const d = axisWindows({ ...a, padEnd: pe }, true).padCount;
      if (includePad && d.some((v, j) => v !== divisors[j])) continue;
      return pe;
    }
    return undefined;
  };
  for (const ceilMode of ceil ? [true, false] : [false]) {
    const pe = axes.map((a) => endPad(a, ceilMode));
    if (pe.some((v) => v === undefined)) continue;
    if (autoPad === 'NOTSET' && ceilMode === ceil && pe.every((v, i) => v === axes[i].padEnd)) return undefined;
    const attrs: Record<string, AttrValue> = { ...node.attrs, pads: { type: 'ints', value: [...axes.map((a) => a.padBegin), ...(pe as number[])] } };
    delete attrs.auto_pad;
    if (ceil) attrs.ceil_mode = { type: 'int', value: ceilMode ? 1 : 0 };
    return attrs;
  }
  return undefined;
}

function upgradePool(c: UpgradeCtx): void {
  const attrs = canonicalPoolAttrs(c.node, c.type(c.node.inputs[0]).shape, c.fail);
  if (attrs) c.node.attrs = attrs;
}

/** Row-major outer product of per-axis factors (maps over the output's spatial grid). */
function separableProduct(factors: number[][]): Float64Array {
  let acc = Float64Array.of(1);
  for (const f of factors) {
    const next = new Float64Array(acc.length * f.length);
    for (let i = 0; i < acc.length; i++) for (let j = 0; j < f.length; j++) next[i * f.length + j] = acc[i] * f[j];
    acc = next;
  }
  return acc;
}

function inferPool(ctx: OpCtx, withIndices: boolean): TypeInfo[] {
  const x = need(ctx, 0);
  const axes = poolAxes(ctx.node, x.shape, ctx.fail);
  const shape = [x.shape[0], x.shape[1], ...axes.map((a) => a.out)];
  return withIndices
    ? [
        { dtype: x.dtype, shape },
        { dtype: 'int64', shape },
      ]
    : [{ dtype: x.dtype, shape }];
}

function inferGlobal(ctx: OpCtx): TypeInfo[] {
  const x = need(ctx, 0);
  if (x.shape.length < 3) ctx.fail(`input must have rank >= 3 (N, C, spatial...), got [${x.shape}]`);
  return [{ dtype: x.dtype, shape: [x.shape[0], x.shape[1], ...x.shape.slice(2).map(() => 1)] }];
}

/**
 * MaxPool: route each output gradient to its argmax, using the flat Indices (storage_order 0),
 * which address the whole N*C*spatial tensor. onnxruntime never selects a padding tap, so
 * negative inputs are exact. Windows that overlap can share an argmax, so the general route is a
 * scatter-add on the flattened tensor; when no two windows overlap, MaxUnpool does the same
 * placement several times faster in onnxruntime.
 */
function maxPoolVjp(c: VjpCtx): (string | undefined)[] {
  const g = c.gy(0);
  if (g === undefined || !c.wants(0)) return [undefined];
  const x = c.type(c.x(0));
  const axes = poolAxes(c.node, x.shape, c.fail);
  // A window of padding taps only happens when it is the axis' single window (dilation wider
  // than the input); then every output is the constant lowest float and nothing flows back.
  if (axes.some((a) => axisWindows(a, false).taps.some((t) => t.length === 0))) return [undefined];
  const rowMajor = attrInt(c.node, 'storage_order', 0) === 0;
  // Reuse the forward Indices when the model asks for them; otherwise a second MaxPool
  // computes them (the VJP cannot add an output to the forward node).
  const own = canonicalPoolAttrs(c.node, x.shape, c.fail) ?? c.node.attrs;
  const idx = c.node.outputs[1] && rowMajor ? c.y(1) : c.emitN('MaxPool', [c.x(0)], 2, { ...own, storage_order: 0 })[1];
  if (axes.every((a) => a.stride >= (a.kernel - 1) * a.dilation + 1)) {
    return [
      c.emit('MaxUnpool', [g, idx, c.ints(x.shape)], {
        kernel_shape: axes.map((a) => a.kernel),
        strides: axes.map((a) => a.stride),
        pads: [...axes.map((a) => a.padBegin), ...axes.map((a) => a.padEnd)],
      }),
    ];
  }
  // ScatterND(add) on the flat tensor: same result as ScatterElements, about twice as fast in onnxruntime.
  const zeros = c.emit('Expand', [c.scalar(0, x.dtype), c.ints([numel(x.shape)])]);
  const sum = c.emit('ScatterND', [zeros, c.emit('Reshape', [idx, c.ints([-1, 1])]), c.emit('Reshape', [g, c.ints([-1])])], { reduction: 'add' });
  return [c.emit('Reshape', [sum, c.ints(x.shape)])];
}

/**
 * MaxUnpool: X's values are written at the flat positions I of a zero tensor, so X's gradient
 * gathers gy at I. (Colliding indices, possible only after overlapping MaxPool windows, keep
 * one of the writes; this rule then gives the gradient to every colliding X element, which is
 * not exact.)
 */
function inferMaxUnpool(ctx: OpCtx): TypeInfo[] {
  const x = need(ctx, 0);
  const ind = need(ctx, 1);
  if (ind.dtype !== 'int64') ctx.fail(`indices must be int64, got ${ind.dtype}`);
  if (ind.shape.length !== x.shape.length || ind.shape.some((d, k) => d !== x.shape[k])) ctx.fail(`indices shape [${ind.shape}] differs from X [${x.shape}]`);
  const given = constInts(ctx, 2, 'output_shape');
  if (given) {
    if (given.length !== x.shape.length) ctx.fail(`output_shape [${given}] has the wrong rank for X [${x.shape}]`);
    return [{ dtype: x.dtype, shape: given }];
  }
  const kernel = attrInts(ctx.node, 'kernel_shape');
  if (!kernel || kernel.length !== x.shape.length - 2) ctx.fail('kernel_shape is required and must match the spatial rank');
  const strides = attrInts(ctx.node, 'strides') ?? [];
  const pads = attrInts(ctx.node, 'pads') ?? [];
  const sp = kernel.map((k, i) => (x.shape[i + 2] - 1) * (strides[i] ?? 1) + k - (pads[i] ?? 0) - (pads[i + kernel.length] ?? 0));
  return [{ dtype: x.dtype, shape: [x.shape[0], x.shape[1], ...sp] }];
}

/**
 * AveragePool: scale g by 1/divisor per output position (a build-time constant), then apply the
 * adjoint of the window sum: a depthwise ConvTranspose with an all-ones kernel, whose pads crop
 * the leading padding and trailing overhang and whose output_padding restores input positions
 * no window reaches.
 */
function averagePoolVjp(c: VjpCtx): (string | undefined)[] {
  const g = c.gy(0);
  if (g === undefined || !c.wants(0)) return [undefined];
  const x = c.type(c.x(0));
  const axes = poolAxes(c.node, x.shape, c.fail);
  const includePad = attrInt(c.node, 'count_include_pad', 0) !== 0;
  const wins = axes.map((a) => axisWindows(a, true));

  // Divisor map over the output's spatial shape: separable, a product of per-axis factors.
  // A window with no input tap yields 0 in onnxruntime (no division) and routes nothing back.
  const outSp = axes.map((a) => a.out);
  const taps = separableProduct(wins.map((w) => w.taps.map((t) => t.length)));
  const div = separableProduct(wins.map((w) => (includePad ? w.padCount : w.taps.map((t) => t.length)).map((v, j) => (w.taps[j].length ? v : 1))));
  const inv = div.map((d, p) => (taps[p] === 0 ? 0 : 1 / d));
  const uniform = inv.every((v) => v === inv[0]);
  const scale = uniform ? c.scalar(inv[0], x.dtype) : c.constant(tensorFromNumbers(x.dtype, outSp, inv), 'avgpool_inv_divisor');
  const gs = c.emit('Mul', [g, scale]);

  const C = x.shape[1];
  const ones = c.constant(
    tensorFromNumbers(x.dtype, [C, 1, ...axes.map((a) => a.kernel)], new Float64Array(C * numel(axes.map((a) => a.kernel))).fill(1)),
    'avgpool_ones',
  );
  const cropBegin: number[] = [];
  const cropEnd: number[] = [];
  const outPad: number[] = [];
  for (const a of axes) {
    // Full adjoint covers padded coordinates [-padBegin, -padBegin + span).
    const span = (a.out - 1) * a.stride + (a.kernel - 1) * a.dilation + 1;
    const extra = span - a.padBegin - a.size;
    cropBegin.push(a.padBegin);
    cropEnd.push(Math.max(0, extra));
    outPad.push(Math.max(0, -extra));
  }
  const gx = c.emit('ConvTranspose', [gs, ones], {
    group: C,
    kernel_shape: axes.map((a) => a.kernel),
    strides: axes.map((a) => a.stride),
    dilations: axes.map((a) => a.dilation),
    pads: [...cropBegin, ...cropEnd],
    output_padding: outPad.some((v) => v > 0) ? outPad : undefined,
  });
  return [gx];
}

const ops: OpDef[] = [
  {
    type: 'MaxPool',
    upgrade: upgradePool,
    infer: (ctx) => inferPool(ctx, true),
    vjp: maxPoolVjp,
  },
  {
    type: 'MaxUnpool',
    infer: inferMaxUnpool,
    nondiff: [1, 2],
    vjp: (c) => {
      const g = c.gy(0);
      if (g === undefined || !c.wants(0)) return [undefined];
      const flat = c.ints([-1]);
      const picked = c.emit('GatherElements', [c.emit('Reshape', [g, flat]), c.emit('Reshape', [c.x(1), flat])], { axis: 0 });
      return [c.emit('Reshape', [picked, c.ints(c.type(c.x(0)).shape)])];
    },
  },
  {
    type: 'AveragePool',
    upgrade: upgradePool,
    infer: (ctx) => inferPool(ctx, false),
    vjp: averagePoolVjp,
  },
  {
    type: 'GlobalAveragePool',
    infer: inferGlobal,
    vjp: (c) => {
      const g = c.gy(0);
      if (g === undefined || !c.wants(0)) return [undefined];
      const x = c.type(c.x(0));
      const n = numel(x.shape.slice(2));
      return [c.emit('Expand', [c.emit('Mul', [g, c.scalar(1 / n, x.dtype)]), c.ints(x.shape)])];
    },
  },
  {
    type: 'GlobalMaxPool',
    infer: inferGlobal,
    // Tied maxima share the gradient equally (as torch.amax).
    vjp: (c) => {
      const g = c.gy(0);
      if (g === undefined || !c.wants(0)) return [undefined];
      const x = c.type(c.x(0));
      const mask = c.emit('Cast', [c.emit('Equal', [c.x(0), c.y(0)])], { to: DTYPE_CODES[x.dtype] });
      const count = c.emit('ReduceSum', [mask, c.ints(x.shape.slice(2).map((_, k) => k + 2))], { keepdims: 1 });
      return [c.emit('Mul', [mask, c.emit('Div', [g, count])])];
    },
  },

  // ---- Scatter ops (type inference only; the MaxPool VJP emits ScatterND). ----
  {
    type: 'ScatterElements',
    infer: (ctx) => {
      const data = need(ctx, 0);
      const ind = need(ctx, 1);
      const upd = need(ctx, 2);
      if (ind.dtype !== 'int64' && ind.dtype !== 'int32') ctx.fail(`indices must be int32 or int64, got ${ind.dtype}`);
      if (upd.dtype !== data.dtype) ctx.fail(`updates (${upd.dtype}) and data (${data.dtype}) types differ`);
      if (ind.shape.length !== data.shape.length) ctx.fail(`indices rank ${ind.shape.length} differs from data rank ${data.shape.length}`);
      if (ind.shape.length !== upd.shape.length || ind.shape.some((d, k) => d !== upd.shape[k]))
        ctx.fail(`updates shape [${upd.shape}] differs from indices shape [${ind.shape}]`);
      normAxis(attrInt(ctx.node, 'axis', 0), data.shape.length, ctx.fail);
      return [data];
    },
  },
  {
    type: 'ScatterND',
    infer: (ctx) => {
      const data = need(ctx, 0);
      const ind = need(ctx, 1);
      const upd = need(ctx, 2);
      if (ind.dtype !== 'int64') ctx.fail(`indices must be int64, got ${ind.dtype}`);
      if (upd.dtype !== data.dtype) ctx.fail(`updates (${upd.dtype}) and data (${data.dtype}) types differ`);
      const q = ind.shape.length;
      const k = ind.shape[q - 1];
      if (q < 1 || k > data.shape.length) ctx.fail(`indices shape [${ind.shape}] does not index data of rank ${data.shape.length}`);
      const want = [...ind.shape.slice(0, -1), ...data.shape.slice(k)];
      if (want.length !== upd.shape.length || want.some((d, j) => d !== upd.shape[j]))
        ctx.fail(`updates shape [${upd.shape}] should be [${want}] for indices [${ind.shape}] and data [${data.shape}]`);
      return [data];
    },
  },
];

registerOps(ops);
