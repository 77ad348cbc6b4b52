// Shape and data-movement ops. Static shapes make every shape-arithmetic chain PyTorch exports
// (Shape -> Gather -> Unsqueeze -> Concat -> Reshape, ConstantOfShape, Range, Slice ...) foldable,
// so each op here folds small constant inputs. The VJPs are data movements themselves: they
// move the gradient back with Pad/Slice/Concat/Gather/ScatterND, using build-time index tables.
import { allocData, attrInt, attrInts, attrString, DTYPE_CODES, type DType, numel, type Tensor, tensorFromNumbers, toNumbers } from '../onnx/ir.js';
import { type OpCtx, type OpDef, registerOps, type TypeInfo, type UpgradeCtx, type VjpCtx } from './registry.js';
import { broadcastShapes, constInts, FOLD_LIMIT, need, normAxis, smallEnough, strides } from './util.js';

type Fail = (msg: string) => never;

const same = (t: Tensor, dims: number[]): Tensor => ({ dtype: t.dtype, dims, data: t.data });
const range = (a: number, b: number): number[] => Array.from({ length: Math.max(0, b - a) }, (_, k) => a + k);
const prod = (xs: readonly number[]): number => xs.reduce((a, b) => a * b, 1);

/** Element access on any TensorData without caring whether cells are numbers, bigints or strings. */
type Cells = { [i: number]: number | bigint | string; length: number };

/**
 * Builds a tensor of `shape` whose element at multi-index idx is src[at(idx)] (a flat index),
 * or `fill` where at() returns -1. The generic evaluator behind the data-movement folds.
 */
function mapTensor(src: Tensor, shape: number[], at: (idx: number[]) => number, fill = 0): Tensor {
  const n = numel(shape);
  const data = allocData(src.dtype, n);
  const out = data as unknown as Cells;
  const s = src.data as unknown as Cells;
  const big = data instanceof BigInt64Array || data instanceof BigUint64Array;
  const fillV = big ? BigInt(Math.trunc(fill)) : fill;
  const idx = new Array<number>(shape.length).fill(0);
  for (let i = 0; i < n; i++) {
    const j = at(idx);
    if (j >= 0) out[i] = s[j];
    else if (fill !== 0) out[i] = fillV;
    for (let k = shape.length - 1; k >= 0; k--) {
      if (++idx[k] < shape[k]) break;
      idx[k] = 0;
    }
  }
  return { dtype: src.dtype, dims: shape, data };
}

/** Flat index of a multi-index under the given strides. */
const flat = (idx: number[], st: number[]): number => idx.reduce((a, v, k) => a + v * st[k], 0);

// ---------- VJP graph helpers ----------

/** Transpose that degrades to a free Reshape when it only moves size-1 axes. */
function permute(c: VjpCtx, t: string, perm: number[]): string {
  if (perm.every((p, i) => p === i)) return t;
  const shape = c.type(t).shape;
  const big = perm.filter((p) => shape[p] !== 1);
  if (big.every((p, i) => i === 0 || big[i - 1] < p)) return c.emit('Reshape', [t, c.ints(perm.map((p) => shape[p]))]);
  return c.emit('Transpose', [t], { perm });
}

function reshapeTo(c: VjpCtx, t: string, shape: number[]): string {
  const cur = c.type(t).shape;
  if (cur.length === shape.length && cur.every((d, i) => d === shape[i])) return t;
  return c.emit('Reshape', [t, c.ints(shape)]);
}

/** Zeros of a shape without materialising them as an initializer (Expand folds when small). */
function zeros(c: VjpCtx, shape: number[], dtype: DType): string {
  return c.emit('Expand', [c.scalar(0, dtype), c.ints(shape)]);
}

/** Constant-mode Pad with per-axis begin/end amounts (negative = crop); a no-op when all zero. */
function padBy(c: VjpCtx, t: string, begin: number[], end: number[]): string {
  if (begin.every((v) => v === 0) && end.every((v) => v === 0)) return t;
  return c.emit('Pad', [t, c.ints([...begin, ...end])]);
}

/** Constant-mode Pad along one axis. */
function padAxis(c: VjpCtx, t: string, axis: number, before: number, after: number): string {
  const r = c.type(t).shape.length;
  const b = new Array<number>(r).fill(0);
  const e = new Array<number>(r).fill(0);
  b[axis] = before;
  e[axis] = after;
  return padBy(c, t, b, e);
}

/** Slice [start, end) along one axis (step 1). */
function sliceAxis(c: VjpCtx, t: string, axis: number, start: number, end: number): string {
  const d = c.type(t).shape[axis];
  if (start === 0 && end === d) return t;
  return c.emit('Slice', [t, c.ints([start]), c.ints([end]), c.ints([axis])]);
}

/** Elements [lo, hi) along one axis in reverse order. */
function reverseRange(c: VjpCtx, t: string, axis: number, lo: number, hi: number): string {
  // ends = lo - 1 would read as "from the back" when lo = 0, so go past the front explicitly.
  const end = lo === 0 ? -(c.type(t).shape[axis] + 1) : lo - 1;
  return c.emit('Slice', [t, c.ints([hi - 1]), c.ints([end]), c.ints([axis]), c.ints([-1])]);
}

/** Indices normalised to [0, dim) as int64: at build time when constant, else with Where. */
function normIndices(c: VjpCtx, ind: string, dim: number): string {
  const v = c.value(ind);
  if (v)
    return c.constant(
      tensorFromNumbers(
        'int64',
        v.dims,
        toNumbers(v).map((i) => (i < 0 ? i + dim : i)),
      ),
      'indices',
    );
  const i64 = c.type(ind).dtype === 'int64' ? ind : c.emit('Cast', [ind], { to: DTYPE_CODES.int64 });
  return c.emit('Where', [c.emit('Less', [i64, c.scalar(0, 'int64')]), c.emit('Add', [i64, c.scalar(dim, 'int64')]), i64]);
}

// ---------- Reshape ----------

function reshapeTarget(inShape: number[], spec: number[], allowZero: boolean, fail: Fail): number[] {
  const out = spec.map((d, k) => {
    if (d !== 0 || allowZero) return d;
    if (k >= inShape.length) fail(`target shape [${spec}] copies dimension ${k} (0) that the input [${inShape}] does not have`);
    return inShape[k];
  });
  const neg = out.filter((d) => d === -1).length;
  if (neg > 1) fail('more than one -1 in the target shape');
  if (out.some((d) => d < -1)) fail(`invalid target shape [${spec}]`);
  const known = out.filter((d) => d !== -1).reduce((a, b) => a * b, 1);
  const n = numel(inShape);
  if (neg === 1) {
    if (known === 0 || n % known !== 0) fail(`cannot reshape [${inShape}] to [${spec}]`);
    out[out.indexOf(-1)] = n / known;
  } else if (known !== n) fail(`cannot reshape [${inShape}] (${n} elements) to [${spec}]`);
  return out;
}

/** Moves an `axes` attribute (opset < 13 Squeeze/Unsqueeze) to the input. */
function axesToInput(c: UpgradeCtx): void {
  if (c.opset >= 13) return;
  const a = c.node.attrs.axes;
  if (a?.type === 'ints') c.node.inputs = [c.node.inputs[0], c.ints(a.value)];
  delete c.node.attrs.axes;
}

function inferUnsqueeze(ctx: OpCtx): TypeInfo[] {
  const x = need(ctx, 0);
  const axes = constInts(ctx, 1, 'axes');
  if (!axes) ctx.fail('axes are required');
  const rank = x.shape.length + axes.length;
  const norm = axes.map((a) => normAxis(a, rank, ctx.fail));
  if (new Set(norm).size !== norm.length) ctx.fail(`repeated axes [${axes}]`);
  const out: number[] = [];
  let j = 0;
  for (let k = 0; k < rank; k++) out.push(norm.includes(k) ? 1 : x.shape[j++]);
  return [{ dtype: x.dtype, shape: out }];
}

function inferSqueeze(ctx: OpCtx): TypeInfo[] {
  const x = need(ctx, 0);
  const given = constInts(ctx, 1, 'axes');
  const axes = given ? given.map((a) => normAxis(a, x.shape.length, ctx.fail)) : x.shape.flatMap((d, k) => (d === 1 ? [k] : []));
  for (const a of axes) if (x.shape[a] !== 1) ctx.fail(`cannot squeeze axis ${a} of size ${x.shape[a]}`);
  return [{ dtype: x.dtype, shape: x.shape.filter((_, k) => !axes.includes(k)) }];
}

/** Folds an op that only relabels the shape of input 0 (same data order). */
function foldRelabel(infer: (ctx: OpCtx) => TypeInfo[], big = false) {
  return (ctx: OpCtx): Tensor[] | undefined => {
    const v = ctx.value(0);
    if (!v || (!big && !smallEnough(v))) return undefined;
    for (let i = 1; i < ctx.nInputs; i++) if (ctx.node.inputs[i] && !ctx.value(i)) return undefined;
    return [same(v, infer(ctx)[0].shape)];
  };
}

/** Gradient of a pure relabelling: reshape back to the input's shape. */
const reshapeBack = (c: VjpCtx): (string | undefined)[] => [reshapeTo(c, c.gy(0) as string, c.type(c.x(0)).shape)];

// ---------- Concat / Split ----------

function concatAxis(ctx: OpCtx): { axis: number; ts: TypeInfo[] } {
  if (ctx.nInputs === 0) ctx.fail('needs at least one input');
  const ts = ctx.node.inputs.map((_, i) => need(ctx, i));
  const rank = ts[0].shape.length;
  if (rank === 0) ctx.fail('cannot concatenate scalars');
  const a = ctx.node.attrs.axis;
  if (a === undefined) ctx.fail('attribute axis is required');
  const axis = normAxis(Number(a.value), rank, ctx.fail);
  for (const t of ts) {
    if (t.dtype !== ts[0].dtype) ctx.fail(`inputs have different types (${ts[0].dtype} and ${t.dtype})`);
    if (t.shape.length !== rank || t.shape.some((d, k) => k !== axis && d !== ts[0].shape[k]))
      ctx.fail(`input shapes ${ts.map((x) => `[${x.shape}]`).join(', ')} differ off the concatenation axis ${axis}`);
  }
  return { axis, ts };
}

function inferConcat(ctx: OpCtx): TypeInfo[] {
  const { axis, ts } = concatAxis(ctx);
  const shape = [...ts[0].shape];
  shape[axis] = ts.reduce((s, t) => s + t.shape[axis], 0);
  return [{ dtype: ts[0].dtype, shape }];
}

function foldConcat(ctx: OpCtx): Tensor[] | undefined {
  const vs: Tensor[] = [];
  for (let i = 0; i < ctx.nInputs; i++) {
    const v = ctx.value(i);
    if (!v) return undefined;
    vs.push(v);
  }
  if (!smallEnough(...vs)) return undefined;
  const { axis } = concatAxis(ctx);
  const shape = inferConcat(ctx)[0].shape;
  const outer = prod(shape.slice(0, axis));
  const inner = prod(shape.slice(axis + 1));
  const data = allocData(vs[0].dtype, numel(shape));
  const out = data as unknown as Cells;
  let o = 0;
  for (let p = 0; p < outer; p++)
    for (const v of vs) {
      const chunk = v.dims[axis] * inner;
      const s = v.data as unknown as Cells;
      for (let k = 0; k < chunk; k++) out[o++] = s[p * chunk + k];
    }
  return [{ dtype: vs[0].dtype, dims: shape, data }];
}

function concatVjp(c: VjpCtx): (string | undefined)[] {
  const g = c.gy(0) as string;
  const rank = c.type(g).shape.length;
  const axis = normAxis(attrInt(c.node, 'axis', 0), rank, c.fail);
  const sizes = c.node.inputs.map((x) => c.type(x).shape[axis]);
  const wanted = c.node.inputs.map((_, k) => c.wants(k));
  // Every part wanted: one Split. Otherwise slice out only the wanted parts (less copying).
  if (wanted.every(Boolean) && sizes.length > 1) return c.emitN('Split', [g, c.ints(sizes)], sizes.length, { axis });
  let off = 0;
  return sizes.map((s, k) => {
    const start = off;
    off += s;
    return wanted[k] ? sliceAxis(c, g, axis, start, start + s) : undefined;
  });
}

/** Split sizes: the split input, num_outputs (ceil-sized chunks, last one smaller) or equal parts. */
function splitSizes(ctx: OpCtx): { axis: number; sizes: number[]; x: TypeInfo } {
  const x = need(ctx, 0);
  if (x.shape.length === 0) ctx.fail('cannot split a scalar');
  const axis = normAxis(attrInt(ctx.node, 'axis', 0), x.shape.length, ctx.fail);
  const dim = x.shape[axis];
  const nOut = ctx.node.outputs.length;
  let sizes = constInts(ctx, 1, 'split');
  if (!sizes) {
    const n = attrInt(ctx.node, 'num_outputs', nOut);
    if (n !== nOut) ctx.fail(`num_outputs is ${n} but the node has ${nOut} outputs`);
    const chunk = Math.ceil(dim / n);
    sizes = range(0, n).map((k) => (k < n - 1 ? chunk : dim - chunk * (n - 1)));
    if (sizes[n - 1] < 0 || (n > 1 && sizes[n - 1] === 0 && chunk > 0))
      ctx.fail(`cannot split a dimension of ${dim} into ${n} chunks of ${chunk} (last chunk would be ${sizes[n - 1]})`);
  }
  if (sizes.length !== nOut) ctx.fail(`split has ${sizes.length} sizes for ${nOut} outputs`);
  if (sizes.some((s) => s < 0) || sizes.reduce((a, b) => a + b, 0) !== dim) ctx.fail(`split sizes [${sizes}] do not add up to the dimension ${dim}`);
  return { axis, sizes, x };
}

function upgradeSplit(c: UpgradeCtx): void {
  if (c.opset < 13) {
    const s = c.node.attrs.split;
    if (s?.type === 'ints') c.node.inputs = [c.node.inputs[0], c.ints(s.value)];
    delete c.node.attrs.split;
  }
  // Before opset 18 no split meant equal parts; opset 18+ needs split or num_outputs. Be explicit.
  if (c.opset < 18 && !c.node.inputs[1]) {
    const shape = c.type(c.node.inputs[0]).shape;
    const axis = normAxis(attrInt(c.node, 'axis', 0), shape.length, c.fail);
    const n = c.node.outputs.length;
    if (shape[axis] % n !== 0) c.fail(`cannot split a dimension of ${shape[axis]} into ${n} equal parts`);
    c.node.inputs = [c.node.inputs[0], c.ints(new Array<number>(n).fill(shape[axis] / n))];
  }
}

function foldSplit(ctx: OpCtx): Tensor[] | undefined {
  const v = ctx.value(0);
  if (!v || !smallEnough(v) || (ctx.node.inputs[1] && !ctx.value(1))) return undefined;
  const { axis, sizes } = splitSizes(ctx);
  const st = strides(v.dims);
  let off = 0;
  return sizes.map((s) => {
    const start = off;
    off += s;
    const shape = [...v.dims];
    shape[axis] = s;
    return mapTensor(v, shape, (idx) => flat(idx, st) + start * st[axis]);
  });
}

function splitVjp(c: VjpCtx): (string | undefined)[] {
  const x = c.type(c.x(0));
  const axis = normAxis(attrInt(c.node, 'axis', 0), x.shape.length, c.fail);
  const gs = c.node.outputs.map((_, k) => c.gy(k));
  const sizes = c.node.outputs.map((o) => c.type(o).shape[axis]);
  const live = gs.flatMap((g, k) => (g ? [k] : []));
  // One live output: pad it into place (one op, no zero blocks).
  if (live.length === 1) {
    const k = live[0];
    const before = sizes.slice(0, k).reduce((a, b) => a + b, 0);
    return [padAxis(c, gs[k] as string, axis, before, x.shape[axis] - before - sizes[k])];
  }
  const parts = gs.flatMap((g, k) => {
    if (sizes[k] === 0) return [];
    if (g) return [g];
    const shape = [...x.shape];
    shape[axis] = sizes[k];
    return [zeros(c, shape, x.dtype)];
  });
  return [parts.length === 1 ? parts[0] : c.emit('Concat', parts, { axis })];
}

// ---------- Slice ----------

interface SliceAxis {
  start: number;
  step: number;
  count: number;
}

/** Per-axis start/step/count of a Slice, with ONNX clamping (INT64_MAX ends, negative steps). */
function sliceParams(shape: number[], starts: number[], ends: number[], axes: number[] | undefined, steps: number[] | undefined, fail: Fail): SliceAxis[] {
  const r = shape.length;
  const out: SliceAxis[] = shape.map((d) => ({ start: 0, step: 1, count: d }));
  const ax = axes ?? range(0, starts.length);
  if (starts.length !== ends.length || ax.length !== starts.length || (steps && steps.length !== starts.length))
    fail(`starts, ends, axes and steps have different lengths (${starts.length}, ${ends.length}, ${ax.length}, ${steps?.length ?? '-'})`);
  const seen = new Set<number>();
  ax.forEach((a0, i) => {
    const a = normAxis(a0, r, fail);
    if (seen.has(a)) fail(`axis ${a} is sliced twice`);
    seen.add(a);
    const d = shape[a];
    const step = steps ? steps[i] : 1;
    if (step === 0) fail('slice step 0');
    let s = starts[i] < 0 ? starts[i] + d : starts[i];
    let e = ends[i] < 0 ? ends[i] + d : ends[i];
    if (step > 0) {
      s = Math.min(Math.max(s, 0), d);
      e = Math.min(Math.max(e, 0), d);
    } else {
      s = Math.min(Math.max(s, 0), d - 1);
      e = Math.min(Math.max(e, -1), d - 1);
    }
    const count = step > 0 ? Math.max(0, Math.ceil((e - s) / step)) : Math.max(0, Math.ceil((s - e) / -step));
    out[a] = { start: s, step, count };
  });
  return out;
}

function sliceOf(ctx: OpCtx): { x: TypeInfo; p: SliceAxis[] } {
  const x = need(ctx, 0);
  const starts = constInts(ctx, 1, 'starts');
  const ends = constInts(ctx, 2, 'ends');
  if (!starts || !ends) ctx.fail('starts and ends are required');
  return { x, p: sliceParams(x.shape, starts, ends, constInts(ctx, 3, 'axes'), constInts(ctx, 4, 'steps'), ctx.fail) };
}

function upgradeSlice(c: UpgradeCtx): void {
  if (c.opset >= 10) return;
  const at = (k: string) => attrInts(c.node, k);
  const starts = at('starts');
  const ends = at('ends');
  if (!starts || !ends) c.fail('starts and ends attributes are required');
  const axes = at('axes');
  c.node.inputs = [c.node.inputs[0], c.ints(starts), c.ints(ends), ...(axes ? [c.ints(axes)] : [])];
  for (const k of ['starts', 'ends', 'axes']) delete c.node.attrs[k];
}

function sliceVjp(c: VjpCtx): (string | undefined)[] {
  let g = c.gy(0) as string;
  const x = c.type(c.x(0));
  const v = (i: number) => (c.node.inputs[i] ? toNumbers(c.value(c.node.inputs[i]) as Tensor) : undefined);
  const p = sliceParams(x.shape, v(1) as number[], v(2) as number[], v(3), v(4), c.fail);
  if (p.some((q) => q.count === 0)) return [zeros(c, x.shape, x.dtype)];
  // Negative steps: reverse g on those axes; it is then a positive-step slice from the lowest index.
  const rev = p.flatMap((q, a) => (q.step < 0 && q.count > 1 ? [a] : []));
  if (rev.length) {
    const dims = c.type(g).shape;
    g = c.emit('Slice', [g, c.ints(rev.map(() => -1)), c.ints(rev.map((a) => -(dims[a] + 1))), c.ints(rev), c.ints(rev.map(() => -1))]);
  }
  const q = p.map((s) => (s.step < 0 ? { start: s.start + (s.count - 1) * s.step, step: -s.step, count: s.count } : s));
  // Steps > 1: interleave (step-1) zeros after each element: [.., n, ..] -> [.., n, 1, ..] -> pad -> [.., n*step, ..].
  const strided = q.map((s) => s.step > 1 && s.count > 1);
  if (strided.some(Boolean)) {
    const split = q.flatMap((s, a) => (strided[a] ? [s.count, 1] : [s.count]));
    const u = reshapeTo(c, g, split);
    const b = split.map(() => 0);
    const e = q.flatMap((s, a) => (strided[a] ? [0, s.step - 1] : [0]));
    g = reshapeTo(
      c,
      padBy(c, u, b, e),
      q.map((s, a) => (strided[a] ? s.count * s.step : s.count)),
    );
  }
  // Place the block at the start; a negative end pad crops the trailing zeros of the last stride.
  const len = c.type(g).shape;
  return [
    padBy(
      c,
      g,
      q.map((s) => s.start),
      q.map((s, a) => x.shape[a] - s.start - len[a]),
    ),
  ];
}

// ---------- Gather / GatherElements ----------

function gatherInfo(ctx: OpCtx): { data: TypeInfo; ind: TypeInfo; axis: number; shape: number[] } {
  const data = need(ctx, 0);
  const ind = need(ctx, 1);
  if (ind.dtype !== 'int64' && ind.dtype !== 'int32') ctx.fail(`indices must be int32 or int64, got ${ind.dtype}`);
  if (data.shape.length === 0) ctx.fail('cannot gather from a scalar');
  const axis = normAxis(attrInt(ctx.node, 'axis', 0), data.shape.length, ctx.fail);
  return { data, ind, axis, shape: [...data.shape.slice(0, axis), ...ind.shape, ...data.shape.slice(axis + 1)] };
}

function checkedIndices(t: Tensor, dim: number, fail: Fail): number[] {
  return toNumbers(t).map((i) => {
    if (i < -dim || i >= dim) fail(`index ${i} is out of range for a dimension of ${dim}`);
    return i < 0 ? i + dim : i;
  });
}

function foldGather(ctx: OpCtx): Tensor[] | undefined {
  const v = ctx.value(0);
  const iv = ctx.value(1);
  if (!v || !iv || !smallEnough(v, iv)) return undefined;
  const { axis, shape, ind } = gatherInfo(ctx);
  if (numel(shape) > FOLD_LIMIT) return undefined;
  const idx = checkedIndices(iv, v.dims[axis], ctx.fail);
  const st = strides(v.dims);
  const ist = strides(ind.shape);
  const q = ind.shape.length;
  return [
    mapTensor(v, shape, (o) => {
      const i = idx[flat(o.slice(axis, axis + q), ist)];
      return flat([...o.slice(0, axis), i, ...o.slice(axis + q)], st);
    }),
  ];
}

function gatherVjp(c: VjpCtx): (string | undefined)[] {
  const g = c.gy(0) as string;
  const data = c.type(c.x(0));
  const indName = c.x(1);
  const indT = c.type(indName);
  const axis = normAxis(attrInt(c.node, 'axis', 0), data.shape.length, c.fail);
  const dim = data.shape[axis];
  const pre = data.shape.slice(0, axis);
  const post = data.shape.slice(axis + 1);
  const iv = c.value(indName);
  if (iv) {
    const idx = checkedIndices(iv, dim, c.fail);
    const n = idx.length;
    if (new Set(idx).size === n) {
      const g3 = reshapeTo(c, g, [...pre, n, ...post]);
      // A contiguous run (a scalar index such as ViT's class token, or x[:, a:b]): pad it into place.
      if (idx.every((i, k) => i === idx[0] + k)) return [padAxis(c, g3, axis, idx[0], dim - idx[0] - n)];
      // Distinct indices: every data row receives at most one gradient row, so gather them back
      // through the inverse permutation, pointing rows never read at an appended zero row.
      const inv = new Array<number>(dim).fill(n);
      idx.forEach((i, k) => {
        inv[i] = k;
      });
      const src = n < dim ? padAxis(c, g3, axis, 0, 1) : g3;
      return [c.emit('Gather', [src, c.ints(inv)], { axis })];
    }
  }
  // Repeated (or runtime) indices: scatter-add with the gathered axis moved to the front.
  const q = indT.shape.length;
  const rank = c.type(g).shape.length;
  const gT = permute(c, g, [...range(axis, axis + q), ...range(0, axis), ...range(axis + q, rank)]);
  const ind = normIndices(c, indName, dim);
  const ind1 = c.emit('Unsqueeze', [ind, c.ints([q])]);
  const acc = c.emit('ScatterND', [zeros(c, [dim, ...pre, ...post], data.dtype), ind1, gT], { reduction: 'add' });
  return [permute(c, acc, [...range(1, axis + 1), 0, ...range(axis + 1, data.shape.length)])];
}

function gatherElementsInfo(ctx: OpCtx): { data: TypeInfo; ind: TypeInfo; axis: number } {
  const data = need(ctx, 0);
  const ind = need(ctx, 1);
  if (ind.dtype !== 'int64' && ind.dtype !== 'int32') ctx.fail(`indices must be int32 or int64, got ${ind.dtype}`);
  if (ind.shape.length !== data.shape.length || data.shape.length === 0)
    ctx.fail(`indices rank ${ind.shape.length} must equal data rank ${data.shape.length} (>= 1)`);
  const axis = normAxis(attrInt(ctx.node, 'axis', 0), data.shape.length, ctx.fail);
  ind.shape.forEach((d, k) => {
    if (k !== axis && d > data.shape[k]) ctx.fail(`indices shape [${ind.shape}] exceeds data shape [${data.shape}] off the axis`);
  });
  return { data, ind, axis };
}

function foldGatherElements(ctx: OpCtx): Tensor[] | undefined {
  const v = ctx.value(0);
  const iv = ctx.value(1);
  if (!v || !iv || !smallEnough(v, iv)) return undefined;
  const { axis, ind } = gatherElementsInfo(ctx);
  const idx = checkedIndices(iv, v.dims[axis], ctx.fail);
  const st = strides(v.dims);
  const ist = strides(ind.shape);
  return [
    mapTensor(v, ind.shape, (o) => {
      const src = [...o];
      src[axis] = idx[flat(o, ist)];
      return flat(src, st);
    }),
  ];
}

// ---------- Pad ----------

const PAD_MODES = ['constant', 'reflect', 'edge', 'wrap'];

/** Full per-axis begin/end pads from the pads input (and the opset-18 axes input). */
function padAmounts(ctx: OpCtx): { x: TypeInfo; pb: number[]; pe: number[]; mode: string } {
  const x = need(ctx, 0);
  const r = x.shape.length;
  const pads = constInts(ctx, 1, 'pads');
  if (!pads) ctx.fail('pads are required');
  const axes = (constInts(ctx, 3, 'axes') ?? range(0, r)).map((a) => normAxis(a, r, ctx.fail));
  if (pads.length !== 2 * axes.length) ctx.fail(`pads has ${pads.length} values for ${axes.length} axes`);
  const pb = new Array<number>(r).fill(0);
  const pe = new Array<number>(r).fill(0);
  axes.forEach((a, i) => {
    pb[a] = pads[i];
    pe[a] = pads[axes.length + i];
  });
  const mode = attrString(ctx.node, 'mode', 'constant');
  if (!PAD_MODES.includes(mode)) ctx.fail(`unknown mode '${mode}'`);
  x.shape.forEach((d, a) => {
    const kept = d - Math.max(0, -pb[a]) - Math.max(0, -pe[a]);
    if (kept < 0 || d + pb[a] + pe[a] < 0) ctx.fail(`pads [${pads}] crop more than axis ${a} holds (${d})`);
    const padded = pb[a] > 0 || pe[a] > 0;
    if (padded && mode !== 'constant' && kept === 0) ctx.fail(`mode ${mode} cannot pad an empty axis ${a}`);
    if (padded && mode === 'reflect' && Math.max(pb[a], pe[a]) >= kept) ctx.fail(`reflect pads [${pb[a]}, ${pe[a]}] must be smaller than axis ${a} (${kept})`);
  });
  return { x, pb, pe, mode };
}

function upgradePad(c: UpgradeCtx): void {
  if (c.opset >= 11) return;
  const pads = attrInts(c.node, 'pads') ?? attrInts(c.node, 'paddings');
  if (!pads) c.fail('pads attribute is required');
  const value = c.node.attrs.value;
  const v = value && (value.type === 'float' || value.type === 'int') ? value.value : 0;
  const dt = c.type(c.node.inputs[0]).dtype;
  c.node.inputs = [c.node.inputs[0], c.ints(pads), ...(v !== 0 ? [c.scalar(v, dt)] : [])];
  for (const k of ['pads', 'paddings', 'value']) delete c.node.attrs[k];
}

/** Source index along one axis for output position o (forward Pad semantics: crop, then pad). */
function padSource(o: number, d: number, pb: number, pe: number, mode: string): number {
  const lo = Math.max(0, -pb);
  const m = d - lo - Math.max(0, -pe);
  const t = o - Math.max(0, pb);
  if (t >= 0 && t < m) return lo + t;
  if (mode === 'constant') return -1;
  if (mode === 'edge') return lo + (t < 0 ? 0 : m - 1);
  if (mode === 'wrap') return lo + (((t % m) + m) % m);
  // reflect (pads < m, so a single bounce)
  return lo + (t < 0 ? -t : 2 * (m - 1) - t);
}

function foldPad(ctx: OpCtx): Tensor[] | undefined {
  const v = ctx.value(0);
  if (!v || !smallEnough(v)) return undefined;
  for (const i of [1, 2, 3]) if (ctx.node.inputs[i] && !ctx.value(i)) return undefined;
  const { pb, pe, mode } = padAmounts(ctx);
  const cv = ctx.value(2);
  const fill = cv && mode === 'constant' ? toNumbers(cv)[0] : 0;
  if (fill !== 0 && v.dtype === 'float16') return undefined;
  const shape = v.dims.map((d, a) => d + pb[a] + pe[a]);
  if (numel(shape) > FOLD_LIMIT) return undefined;
  const st = strides(v.dims);
  return [
    mapTensor(
      v,
      shape,
      (o) => {
        let j = 0;
        for (let a = 0; a < o.length; a++) {
          const s = padSource(o[a], v.dims[a], pb[a], pe[a], mode);
          if (s < 0) return -1;
          j += s * st[a];
        }
        return j;
      },
      fill,
    ),
  ];
}

function padVjp(c: VjpCtx): (string | undefined)[] {
  const g = c.gy(0) as string;
  const node = c.node;
  const x = c.type(c.x(0));
  const r = x.shape.length;
  const pads = toNumbers(c.value(node.inputs[1]) as Tensor);
  const axes = node.inputs[3] ? toNumbers(c.value(node.inputs[3]) as Tensor).map((a) => (a < 0 ? a + r : a)) : range(0, r);
  const pb = new Array<number>(r).fill(0);
  const pe = new Array<number>(r).fill(0);
  axes.forEach((a, i) => {
    pb[a] = pads[i];
    pe[a] = pads[axes.length + i];
  });
  const mode = attrString(node, 'mode', 'constant');
  if (mode === 'constant') {
    // All pads >= 0: the gradient is the interior. Negative pads (crops) become zero pads.
    if (pb.every((v) => v >= 0) && pe.every((v) => v >= 0)) {
      const ax = range(0, r).filter((a) => pb[a] > 0 || pe[a] > 0);
      if (!ax.length) return [g];
      return [c.emit('Slice', [g, c.ints(ax.map((a) => pb[a])), c.ints(ax.map((a) => pb[a] + x.shape[a])), c.ints(ax)])];
    }
    return [
      padBy(
        c,
        g,
        pb.map((v) => -v),
        pe.map((v) => -v),
      ),
    ];
  }
  if (mode !== 'reflect' && mode !== 'edge') c.fail(`no gradient rule for Pad mode '${mode}'`);
  // Separable per axis: the adjoint of each axis' padding folds the border strips back onto the
  // (cropped) interior; the crops (negative pads) then come back as zero pads.
  let t = g;
  for (let a = 0; a < r; a++) {
    const b = Math.max(0, pb[a]);
    const e = Math.max(0, pe[a]);
    if (b === 0 && e === 0) continue;
    const m = x.shape[a] - Math.max(0, -pb[a]) - Math.max(0, -pe[a]);
    const parts = [sliceAxis(c, t, a, b, b + m)];
    if (mode === 'reflect') {
      // out[b - k] = in[k] (k = 1..b) and out[b + m - 1 + k] = in[m - 1 - k] (k = 1..e).
      if (b > 0) parts.push(padAxis(c, reverseRange(c, t, a, 0, b), a, 1, m - 1 - b));
      if (e > 0) parts.push(padAxis(c, reverseRange(c, t, a, b + m, b + m + e), a, m - 1 - e, 1));
    } else {
      // edge: every border element is a copy of the first / last interior element.
      const sum = (lo: number, hi: number) => c.emit('ReduceSum', [sliceAxis(c, t, a, lo, hi), c.ints([a])], { keepdims: 1 });
      if (b > 0) parts.push(padAxis(c, sum(0, b), a, 0, m - 1));
      if (e > 0) parts.push(padAxis(c, sum(b + m, b + m + e), a, m - 1, 0));
    }
    t = parts.length === 1 ? parts[0] : c.emit('Sum', parts);
  }
  return [
    padBy(
      c,
      t,
      pb.map((v) => Math.max(0, -v)),
      pe.map((v) => Math.max(0, -v)),
    ),
  ];
}

// ---------- Transpose / Flatten / Tile ----------

function transposePerm(ctx: OpCtx): { x: TypeInfo; perm: number[] } {
  const x = need(ctx, 0);
  const r = x.shape.length;
  const perm = attrInts(ctx.node, 'perm') ?? range(0, r).reverse();
  const norm = perm.map((p) => normAxis(p, r, ctx.fail));
  if (perm.length !== r || new Set(norm).size !== r) ctx.fail(`perm [${perm}] is not a permutation of ${r} axes`);
  return { x, perm: norm };
}

function foldTranspose(ctx: OpCtx): Tensor[] | undefined {
  const v = ctx.value(0);
  if (!v || !smallEnough(v)) return undefined;
  const { perm } = transposePerm(ctx);
  const st = strides(v.dims);
  return [
    mapTensor(
      v,
      perm.map((p) => v.dims[p]),
      (o) => o.reduce((a, i, k) => a + i * st[perm[k]], 0),
    ),
  ];
}

function flattenShape(ctx: OpCtx): TypeInfo[] {
  const x = need(ctx, 0);
  const r = x.shape.length;
  let axis = attrInt(ctx.node, 'axis', 1);
  if (axis < 0) axis += r;
  if (axis < 0 || axis > r) ctx.fail(`axis ${attrInt(ctx.node, 'axis', 1)} is out of range for rank ${r}`);
  return [{ dtype: x.dtype, shape: [prod(x.shape.slice(0, axis)), prod(x.shape.slice(axis))] }];
}

function tileRepeats(ctx: OpCtx): { x: TypeInfo; reps: number[] } {
  const x = need(ctx, 0);
  const reps = constInts(ctx, 1, 'repeats');
  if (!reps || reps.length !== x.shape.length) ctx.fail(`repeats must have one value per axis (${x.shape.length})`);
  if (reps.some((v) => v < 0)) ctx.fail(`negative repeats [${reps}]`);
  return { x, reps };
}

function foldTile(ctx: OpCtx): Tensor[] | undefined {
  const v = ctx.value(0);
  if (!v || !ctx.value(1) || !smallEnough(v)) return undefined;
  const { reps } = tileRepeats(ctx);
  const shape = v.dims.map((d, k) => d * reps[k]);
  if (numel(shape) > FOLD_LIMIT) return undefined;
  const st = strides(v.dims);
  return [mapTensor(v, shape, (o) => o.reduce((a, i, k) => a + (i % v.dims[k]) * st[k], 0))];
}

function tileVjp(c: VjpCtx): (string | undefined)[] {
  const g = c.gy(0) as string;
  const x = c.type(c.x(0));
  const reps = toNumbers(c.value(c.x(1)) as Tensor);
  // [r0*d0, r1*d1, ..] -> [r0, d0, r1, d1, ..] (repeated axes only), then sum the repeat axes.
  const split: number[] = [];
  const sumAxes: number[] = [];
  x.shape.forEach((d, k) => {
    if (reps[k] !== 1) {
      sumAxes.push(split.length);
      split.push(reps[k]);
    }
    split.push(d);
  });
  if (!sumAxes.length) return [g];
  return [c.emit('ReduceSum', [reshapeTo(c, g, split), c.ints(sumAxes)], { keepdims: 0 })];
}

// ---------- DepthToSpace / SpaceToDepth ----------

function blockInfo(ctx: OpCtx): { x: TypeInfo; b: number } {
  const x = need(ctx, 0);
  if (x.shape.length !== 4) ctx.fail(`expects a 4-D input, got [${x.shape}]`);
  const b = attrInt(ctx.node, 'blocksize', 0);
  if (b < 1) ctx.fail('blocksize must be >= 1');
  return { x, b };
}

/** Inverse of DepthToSpace in CRD mode (for its VJP): [N, C, H*b, W*b] -> [N, C*b*b, H, W]. */
function crdInverse(c: VjpCtx, g: string, b: number): string {
  const [n, cc, hb, wb] = c.type(g).shape;
  const h = hb / b;
  const w = wb / b;
  const t = c.emit('Transpose', [reshapeTo(c, g, [n, cc, h, b, w, b])], { perm: [0, 1, 3, 5, 2, 4] });
  return reshapeTo(c, t, [n, cc * b * b, h, w]);
}

// ---------- Constant / ConstantOfShape / Range / Size ----------

function constantValue(ctx: OpCtx): Tensor {
  const a = ctx.node.attrs;
  const keys = Object.keys(a);
  if (keys.length !== 1) ctx.fail(`needs exactly one value attribute, got ${keys.length ? keys.join(', ') : 'none'}`);
  const v = a[keys[0]];
  switch (keys[0]) {
    case 'value':
      if (v.type === 'tensor') return v.value;
      break;
    case 'value_float':
      if (v.type === 'float' || v.type === 'int') return tensorFromNumbers('float32', [], [v.value]);
      break;
    case 'value_floats':
      if (v.type === 'floats' || v.type === 'ints') return tensorFromNumbers('float32', [v.value.length], v.value);
      break;
    case 'value_int':
      if (v.type === 'int') return tensorFromNumbers('int64', [], [v.value]);
      break;
    case 'value_ints':
      if (v.type === 'ints') return tensorFromNumbers('int64', [v.value.length], v.value);
      break;
  }
  return ctx.fail(`attribute ${keys[0]} (${v.type}) is not supported`);
}

function constantOfShape(ctx: OpCtx): { shape: number[]; value: Tensor } {
  const shape = constInts(ctx, 0, 'shape');
  if (!shape) ctx.fail('shape is required');
  if (shape.some((d) => d < 0)) ctx.fail(`negative dimension in [${shape}]`);
  const a = ctx.node.attrs.value;
  const value = a?.type === 'tensor' ? a.value : tensorFromNumbers('float32', [1], [0]);
  if (numel(value.dims) !== 1) ctx.fail('value must hold one element');
  return { shape, value };
}

function rangeInfo(ctx: OpCtx): { dtype: DType; start: number; delta: number; n: number } {
  const ts = [0, 1, 2].map((i) => need(ctx, i));
  for (const t of ts) if (t.dtype !== ts[0].dtype || numel(t.shape) !== 1) ctx.fail('start, limit and delta must be scalars of one type');
  const vs = [0, 1, 2].map((i) => ctx.value(i));
  if (!vs[0] || !vs[1] || !vs[2]) ctx.fail('start, limit and delta must be constants for robustscope to compile the graph');
  const [start, limit, delta] = vs.map((v) => toNumbers(v as Tensor)[0]);
  if (delta === 0) ctx.fail('delta is 0');
  return { dtype: ts[0].dtype, start, delta, n: Math.max(0, Math.ceil((limit - start) / delta)) };
}

// ---------- the op table ----------

const ops: OpDef[] = [
  {
    type: 'Reshape',
    infer: (ctx) => {
      const x = need(ctx, 0);
      const spec = constInts(ctx, 1, 'shape');
      if (!spec) return ctx.fail('shape is required');
      return [{ dtype: x.dtype, shape: reshapeTarget(x.shape, spec, attrInt(ctx.node, 'allowzero', 0) === 1, ctx.fail) }];
    },
    // Shares the data buffer, so even large constants (reshaped weights) fold for free.
    fold: (ctx) => {
      const v = ctx.value(0);
      const s = ctx.value(1);
      if (!v || !s) return undefined;
      return [same(v, reshapeTarget(v.dims, toNumbers(s), attrInt(ctx.node, 'allowzero', 0) === 1, ctx.fail))];
    },
    nondiff: [1],
    vjp: reshapeBack,
  },
  {
    type: 'Expand',
    infer: (ctx) => {
      const x = need(ctx, 0);
      const spec = constInts(ctx, 1, 'shape');
      if (!spec) return ctx.fail('shape is required');
      return [{ dtype: x.dtype, shape: broadcastShapes([x.shape, spec], ctx.fail) }];
    },
    fold: (ctx) => {
      const v = ctx.value(0);
      const s = ctx.value(1);
      if (!v || !s || !smallEnough(v)) return undefined;
      const shape = broadcastShapes([v.dims, toNumbers(s)], ctx.fail);
      if (numel(shape) > FOLD_LIMIT) return undefined;
      const off = shape.length - v.dims.length;
      const st = strides(v.dims);
      return [mapTensor(v, shape, (o) => v.dims.reduce((a, d, k) => a + (d === 1 ? 0 : o[k + off] * st[k]), 0))];
    },
    nondiff: [1],
    vjp: (c) => [c.reduceTo(c.gy(0) as string, c.type(c.x(0)).shape)],
  },
  {
    type: 'Unsqueeze',
    upgrade: axesToInput,
    infer: inferUnsqueeze,
    fold: foldRelabel(inferUnsqueeze, true),
    nondiff: [1],
    vjp: reshapeBack,
  },
  {
    type: 'Squeeze',
    upgrade: axesToInput,
    infer: inferSqueeze,
    fold: foldRelabel(inferSqueeze, true),
    nondiff: [1],
    vjp: reshapeBack,
  },
  {
    type: 'Flatten',
    infer: flattenShape,
    fold: foldRelabel(flattenShape, true),
    vjp: reshapeBack,
  },
  {
    type: 'Shape',
    // Shapes are static once the input shape is bound, so Shape folds from its input's type.
    foldsFromTypes: true,
    infer: (ctx) => {
      const x = need(ctx, 0);
      return [{ dtype: 'int64', shape: [sliceRange(ctx.node.attrs, x.shape.length).length] }];
    },
    fold: (ctx) => {
      const x = need(ctx, 0);
      const r = sliceRange(ctx.node.attrs, x.shape.length);
      return [
        tensorFromNumbers(
          'int64',
          [r.length],
          r.map((k) => x.shape[k]),
        ),
      ];
    },
  },
  {
    type: 'Size',
    foldsFromTypes: true,
    infer: () => [{ dtype: 'int64', shape: [] }],
    fold: (ctx) => [tensorFromNumbers('int64', [], [numel(need(ctx, 0).shape)])],
  },
  {
    type: 'Concat',
    infer: inferConcat,
    fold: foldConcat,
    vjp: concatVjp,
  },
  {
    type: 'Split',
    upgrade: upgradeSplit,
    infer: (ctx) => {
      const { axis, sizes, x } = splitSizes(ctx);
      return sizes.map((s) => {
        const shape = [...x.shape];
        shape[axis] = s;
        return { dtype: x.dtype, shape };
      });
    },
    fold: foldSplit,
    nondiff: [1],
    vjp: splitVjp,
  },
  {
    type: 'Slice',
    upgrade: upgradeSlice,
    infer: (ctx) => {
      const { x, p } = sliceOf(ctx);
      return [{ dtype: x.dtype, shape: p.map((q) => q.count) }];
    },
    fold: (ctx) => {
      const v = ctx.value(0);
      if (!v || !smallEnough(v)) return undefined;
      for (let i = 1; i < ctx.nInputs; i++) if (ctx.node.inputs[i] && !ctx.value(i)) return undefined;
      const { p } = sliceOf(ctx);
      const st = strides(v.dims);
      return [
        mapTensor(
          v,
          p.map((q) => q.count),
          (o) => o.reduce((a, i, k) => a + (p[k].start + i * p[k].step) * st[k], 0),
        ),
      ];
    },
    nondiff: [1, 2, 3, 4],
    vjp: sliceVjp,
  },
  {
    type: 'Gather',
    infer: (ctx) => {
      const { data, shape } = gatherInfo(ctx);
      return [{ dtype: data.dtype, shape }];
    },
    fold: foldGather,
    nondiff: [1],
    vjp: gatherVjp,
  },
  {
    type: 'GatherElements',
    infer: (ctx) => {
      const { data, ind } = gatherElementsInfo(ctx);
      return [{ dtype: data.dtype, shape: ind.shape }];
    },
    fold: foldGatherElements,
    nondiff: [1],
    vjp: (c) => {
      const data = c.type(c.x(0));
      const axis = normAxis(attrInt(c.node, 'axis', 0), data.shape.length, c.fail);
      const ind = normIndices(c, c.x(1), data.shape[axis]);
      return [c.emit('ScatterElements', [zeros(c, data.shape, data.dtype), ind, c.gy(0) as string], { axis, reduction: 'add' })];
    },
  },
  {
    type: 'Transpose',
    infer: (ctx) => {
      const { x, perm } = transposePerm(ctx);
      return [{ dtype: x.dtype, shape: perm.map((p) => x.shape[p]) }];
    },
    fold: foldTranspose,
    vjp: (c) => {
      const r = c.type(c.x(0)).shape.length;
      const perm = (attrInts(c.node, 'perm') ?? range(0, r).reverse()).map((p) => (p < 0 ? p + r : p));
      const inv = new Array<number>(r);
      perm.forEach((p, k) => {
        inv[p] = k;
      });
      return [permute(c, c.gy(0) as string, inv)];
    },
  },
  {
    type: 'Tile',
    infer: (ctx) => {
      const { x, reps } = tileRepeats(ctx);
      return [{ dtype: x.dtype, shape: x.shape.map((d, k) => d * reps[k]) }];
    },
    fold: foldTile,
    nondiff: [1],
    vjp: tileVjp,
  },
  {
    type: 'Pad',
    upgrade: upgradePad,
    infer: (ctx) => {
      const { x, pb, pe } = padAmounts(ctx);
      const cv = ctx.type(2);
      if (cv && (cv.dtype !== x.dtype || numel(cv.shape) !== 1)) ctx.fail(`constant_value must be one ${x.dtype} value`);
      return [{ dtype: x.dtype, shape: x.shape.map((d, a) => d + pb[a] + pe[a]) }];
    },
    fold: foldPad,
    nondiff: [1, 2, 3],
    vjp: padVjp,
  },
  {
    type: 'DepthToSpace',
    infer: (ctx) => {
      const { x, b } = blockInfo(ctx);
      const [n, ch, h, w] = x.shape;
      if (ch % (b * b) !== 0) ctx.fail(`channels ${ch} are not divisible by blocksize^2 (${b * b})`);
      const mode = attrString(ctx.node, 'mode', 'DCR');
      if (mode !== 'DCR' && mode !== 'CRD') ctx.fail(`unknown mode '${mode}'`);
      return [{ dtype: x.dtype, shape: [n, ch / (b * b), h * b, w * b] }];
    },
    // DCR is exactly inverted by SpaceToDepth; CRD by its own reshape/transpose.
    vjp: (c) => {
      const b = attrInt(c.node, 'blocksize', 0);
      const g = c.gy(0) as string;
      return [attrString(c.node, 'mode', 'DCR') === 'DCR' ? c.emit('SpaceToDepth', [g], { blocksize: b }) : crdInverse(c, g, b)];
    },
  },
  {
    type: 'SpaceToDepth',
    infer: (ctx) => {
      const { x, b } = blockInfo(ctx);
      const [n, ch, h, w] = x.shape;
      if (h % b !== 0 || w % b !== 0) ctx.fail(`spatial size ${h}x${w} is not divisible by blocksize ${b}`);
      return [{ dtype: x.dtype, shape: [n, ch * b * b, h / b, w / b] }];
    },
    vjp: (c) => [c.emit('DepthToSpace', [c.gy(0) as string], { blocksize: attrInt(c.node, 'blocksize', 0), mode: 'DCR' })],
  },
  {
    type: 'Constant',
    infer: (ctx) => {
      const v = constantValue(ctx);
      return [{ dtype: v.dtype, shape: v.dims }];
    },
    fold: (ctx) => [constantValue(ctx)],
  },
  {
    type: 'ConstantOfShape',
    infer: (ctx) => {
      const { shape, value } = constantOfShape(ctx);
      return [{ dtype: value.dtype, shape }];
    },
    // Large fills (zeros of an image's size) stay ops: ORT builds them faster than we serialise them.
    fold: (ctx) => {
      const { shape, value } = constantOfShape(ctx);
      if (numel(shape) > FOLD_LIMIT || value.dtype === 'string') return undefined;
      return [mapTensor(value, shape, () => 0)];
    },
    nondiff: [0],
  },
  {
    type: 'Range',
    infer: (ctx) => {
      const { dtype, n } = rangeInfo(ctx);
      return [{ dtype, shape: [n] }];
    },
    fold: (ctx) => {
      const { dtype, start, delta, n } = rangeInfo(ctx);
      if (n > FOLD_LIMIT || dtype === 'float16') return undefined;
      return [
        tensorFromNumbers(
          dtype,
          [n],
          range(0, n).map((k) => start + k * delta),
        ),
      ];
    },
    nondiff: [0, 1, 2],
  },
];

function sliceRange(attrs: Record<string, { value: unknown }>, rank: number): number[] {
  const clampAxis = (a: number) => Math.min(Math.max(a < 0 ? a + rank : a, 0), rank);
  const s = clampAxis(Number(attrs.start?.value ?? 0));
  const e = clampAxis(attrs.end === undefined ? rank : Number(attrs.end.value));
  return range(s, e);
}

registerOps(ops);
