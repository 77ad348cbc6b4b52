// Normalisations: Softmax, LogSoftmax, LayerNormalization, BatchNormalization (inference, and
// training mode as emitted by the training engine), InstanceNormalization, LpNormalization.
//
// The backward passes of LayerNormalization and InstanceNormalization need xhat = (x - mean) / sigma
// and 1/sigma. Both come from ONE extra LayerNormalization node with unit scale (its outputs 0 and
// 2), a single fused ORT kernel, instead of the ~7 small ops of the textbook formula.
import { DTYPE_CODES, type DType, dtypeFromCode, isFloat, numel, type Tensor, tensorFromNumbers, toNumbers } from '../onnx/ir.js';
import { type Emitter, float, type OpCtx, type OpDef, registerOps, type TypeInfo, type UpgradeCtx, type VjpCtx } from './registry.js';
import { broadcastShapes, need, normAxis } from './util.js';

// ---------- small helpers ----------

function attrNum(attrs: OpCtx['node']['attrs'], name: string, dflt: number): number {
  const a = attrs[name];
  return a && (a.type === 'int' || a.type === 'float') ? a.value : dflt;
}

const range = (from: number, to: number): number[] => Array.from({ length: Math.max(0, to - from) }, (_, k) => from + k);

/** A constant of ones; float16 stored as its bit pattern. */
function ones(dtype: DType, dims: number[]): Tensor {
  return tensorFromNumbers(dtype, dims, new Array<number>(numel(dims)).fill(dtype === 'float16' ? 0x3c00 : 1));
}

function castTo(c: Emitter, name: string, dtype: DType): string {
  return c.type(name).dtype === dtype ? name : c.emit('Cast', [name], { to: DTYPE_CODES[dtype] });
}

/** Float values of a constant input, when known and exactly representable as JS numbers (not float16). */
function constFloats(c: VjpCtx, name: string): number[] | undefined {
  const v = name ? c.value(name) : undefined;
  return v && (v.dtype === 'float32' || v.dtype === 'float64') ? toNumbers(v) : undefined;
}

/** Adds gradient contributions that may be absent. */
function addAll(c: Emitter, parts: (string | undefined)[]): string | undefined {
  const ps = parts.filter((p): p is string => p !== undefined);
  if (ps.length === 0) return undefined;
  return ps.length === 1 ? ps[0] : c.emit('Sum', ps);
}

/**
 * xhat and 1/sigma over axes [axis, rank) via one LayerNormalization with unit scale.
 * inv has the reduced shape (ones from axis on) and x's dtype.
 */
function standardize(c: VjpCtx, x: string, axis: number, eps: number, stash: number): { xhat: string; inv: string } {
  const t = c.type(x);
  const unit = c.constant(ones(t.dtype, t.shape.slice(axis)), 'ones');
  const [xhat, , inv] = c.emitN('LayerNormalization', [x, unit], 3, { axis, epsilon: float(eps), stash_type: stash });
  return { xhat, inv: castTo(c, inv, t.dtype) };
}

/**
 * Input gradient of xhat = standardize(x) over `axes`, given gxhat = dL/dxhat:
 * inv * (gxhat - mean(gxhat) - xhat * mean(gxhat * xhat)).
 */
function standardizeVjp(c: VjpCtx, gxhat: string, xhat: string, inv: string, axes: number[]): string {
  const ax = c.ints(axes);
  const m1 = c.emit('ReduceMean', [gxhat, ax], { keepdims: 1 });
  const m2 = c.emit('ReduceMean', [c.emit('Mul', [gxhat, xhat]), ax], { keepdims: 1 });
  const inner = c.emit('Sub', [c.emit('Sub', [gxhat, m1]), c.emit('Mul', [xhat, m2])]);
  return c.emit('Mul', [inner, inv]);
}

// ---------- Softmax / LogSoftmax ----------

function softmaxAxis(node: OpCtx['node'], rank: number, fail: (m: string) => never): number {
  return normAxis(attrNum(node.attrs, 'axis', -1), rank, fail);
}

/**
 * Before opset 13, (Log)Softmax coerced the input to 2-D at `axis` (default 1) and normalised over
 * all dims from `axis` on. When at most one of those dims is not 1 that is a single-axis softmax;
 * otherwise rewrite as Reshape -> (Log)Softmax(axis=-1) -> Reshape (this node becomes the last Reshape).
 */
function upgradeSoftmax(c: UpgradeCtx): void {
  if (c.opset >= 13) return;
  const x = c.type(c.node.inputs[0]);
  const rank = x.shape.length;
  const axis = normAxis(attrNum(c.node.attrs, 'axis', 1), rank, c.fail);
  const big = range(axis, rank).filter((k) => x.shape[k] !== 1);
  if (big.length <= 1) {
    c.node.attrs = { axis: { type: 'int', value: big.length ? big[0] : rank - 1 } };
    return;
  }
  const flat = c.emit('Reshape', [c.node.inputs[0], c.ints([...x.shape.slice(0, axis), numel(x.shape.slice(axis))])]);
  const sm = c.emit(c.node.opType, [flat], { axis: -1 });
  c.node.opType = 'Reshape';
  c.node.inputs = [sm, c.ints(x.shape)];
  c.node.attrs = {};
}

function inferSoftmax(ctx: OpCtx): TypeInfo[] {
  const x = need(ctx, 0);
  if (!isFloat(x.dtype)) ctx.fail(`input must be float, got ${x.dtype}`);
  softmaxAxis(ctx.node, x.shape.length, ctx.fail);
  return [x];
}

// ---------- LayerNormalization ----------

function layerNormInfo(node: OpCtx['node'], rank: number, fail: (m: string) => never) {
  const axis = normAxis(attrNum(node.attrs, 'axis', -1), rank, fail);
  return { axis, eps: attrNum(node.attrs, 'epsilon', 1e-5), stash: attrNum(node.attrs, 'stash_type', 1) };
}

function inferLayerNorm(ctx: OpCtx): TypeInfo[] {
  const x = need(ctx, 0);
  const scale = need(ctx, 1);
  if (!isFloat(x.dtype)) ctx.fail(`X must be float, got ${x.dtype}`);
  const { axis, stash } = layerNormInfo(ctx.node, x.shape.length, ctx.fail);
  const normShape = x.shape.slice(axis);
  for (const [i, what] of [
    [1, 'Scale'],
    [2, 'B'],
  ] as const) {
    const t = ctx.type(i);
    if (!t) continue;
    // Scale and B broadcast against the normalised dims (ORT wants them to match those dims).
    const b = broadcastShapes([normShape, t.shape], ctx.fail);
    if (b.length !== normShape.length || b.some((d, k) => d !== normShape[k]))
      ctx.fail(`${what} of shape [${t.shape}] does not broadcast to the normalised shape [${normShape}]`);
  }
  if (scale.dtype !== x.dtype) ctx.fail(`Scale must have X's type ${x.dtype}, got ${scale.dtype}`);
  const u = dtypeFromCode(stash);
  if (!u || !isFloat(u)) ctx.fail(`stash_type ${stash} is not a float type`);
  const reduced = x.shape.map((d, k) => (k < axis ? d : 1));
  return [x, { dtype: u, shape: reduced }, { dtype: u, shape: reduced }];
}

function layerNormVjp(c: VjpCtx): (string | undefined)[] {
  const x = c.x(0);
  const t = c.type(x);
  const rank = t.shape.length;
  const { axis, eps, stash } = layerNormInfo(c.node, rank, c.fail);
  const axes = range(axis, rank);
  const n = numel(t.shape.slice(axis));
  const g = c.gy(0);
  const gMean = c.gy(1);
  const gInv = c.gy(2);
  // Only the B gradient can do without the statistics.
  const { xhat, inv } = c.wants(0) || c.wants(1) ? standardize(c, x, axis, eps, stash) : { xhat: '', inv: '' };
  let gx: string | undefined;
  if (c.wants(0)) {
    const parts: (string | undefined)[] = [];
    if (g) parts.push(standardizeVjp(c, c.emit('Mul', [g, c.x(1)]), xhat, inv, axes));
    // Rarely used: gradients reaching the Mean / InvStdDev outputs.
    // dMean/dx = 1/n; dInv/dx = -inv^2 * xhat / n.
    if (gMean) parts.push(c.emit('Expand', [c.emit('Mul', [castTo(c, gMean, t.dtype), c.scalar(1 / n, t.dtype)]), c.ints(t.shape)]));
    if (gInv) {
      const k = c.emit('Mul', [c.emit('Mul', [castTo(c, gInv, t.dtype), c.emit('Mul', [inv, inv])]), c.scalar(-1 / n, t.dtype)]);
      parts.push(c.emit('Mul', [xhat, k]));
    }
    gx = addAll(c, parts);
  }
  const gScale = c.wants(1) && g ? c.reduceTo(c.emit('Mul', [g, xhat]), c.type(c.x(1)).shape) : undefined;
  const gB = c.wants(2) && g ? c.reduceTo(g, c.type(c.x(2)).shape) : undefined;
  return [gx, gScale, gB];
}

// ---------- BatchNormalization (inference mode) ----------

const TRAINING_MSG =
  'training-mode BatchNormalization (batch statistics, running mean/var outputs) in an imported model is not supported: export the model in eval mode; the training engine (TrainableModel) switches BatchNormalization to batch statistics itself';

const isTraining = (node: OpCtx['node']): boolean => attrNum(node.attrs, 'training_mode', 0) !== 0;

/**
 * Older variants: `is_test` (opset 6) and `spatial` (opsets 6-8) are dropped. spatial=0 with
 * per-activation statistics ([C, D1, ...]) has no opset-21 equivalent and is rewritten into
 * elementwise ops (this node becomes the final Add).
 */
function upgradeBatchNorm(c: UpgradeCtx): void {
  // Imported models run in inference mode (a model whose BN uses batch statistics would make attack
  // results depend on the batch); only graphs built by the training engine hold training-mode nodes.
  if (isTraining(c.node) || c.node.outputs.slice(1).some((o) => o !== '')) c.fail(TRAINING_MSG);
  if (c.opset >= 14) return;
  const spatial = attrNum(c.node.attrs, 'spatial', 1);
  delete c.node.attrs.spatial;
  delete c.node.attrs.is_test;
  const [x, scale, b, mean, vr] = c.node.inputs;
  if (spatial !== 0 || c.type(scale).shape.length <= 1) return;
  const eps = attrNum(c.node.attrs, 'epsilon', 1e-5);
  const dt = c.type(x).dtype;
  const factor = c.emit('Div', [scale, c.emit('Sqrt', [c.emit('Add', [vr, c.scalar(eps, dt)])])]);
  const scaled = c.emit('Mul', [c.emit('Sub', [x, mean]), factor]);
  c.node.opType = 'Add';
  c.node.inputs = [scaled, b];
  c.node.attrs = {};
}

function inferBatchNorm(ctx: OpCtx): TypeInfo[] {
  const training = isTraining(ctx.node);
  if (!training && ctx.node.outputs.slice(1).some((o) => o !== '')) ctx.fail('running_mean/running_var outputs need training_mode=1');
  if (ctx.node.outputs.length > 3) ctx.fail(`has ${ctx.node.outputs.length} outputs; opset 15+ defines at most 3 (Y, running_mean, running_var)`);
  const x = need(ctx, 0);
  if (!isFloat(x.dtype)) ctx.fail(`X must be float, got ${x.dtype}`);
  if (x.shape.length < 2) ctx.fail(`X must be [N, C, ...], got [${x.shape}]`);
  const ch = x.shape[1];
  const names = ['scale', 'B', 'input_mean', 'input_var'];
  names.forEach((what, k) => {
    const t = need(ctx, k + 1);
    if (t.shape.length !== 1 || t.shape[0] !== ch) ctx.fail(`${what} must have shape [${ch}] (the channels of X), got [${t.shape}]`);
  });
  if (!training) return [x];
  if (x.shape[0] * numel(x.shape.slice(2)) < 2) ctx.fail(`training mode needs more than one value per channel, X is [${x.shape}]`);
  const stat = { dtype: need(ctx, 3).dtype, shape: [ch] };
  return [x, stat, stat];
}

function batchNormVjp(c: VjpCtx): (string | undefined)[] {
  if (isTraining(c.node)) return batchNormTrainingVjp(c);
  const g = c.gy(0) as string;
  const [x, scale, , mean, vr] = c.node.inputs;
  const t = c.type(x);
  const dt = t.dtype;
  const ch = t.shape[1];
  const bshape = [ch, ...t.shape.slice(2).map(() => 1)];
  const axes = [0, ...range(2, t.shape.length)];
  const eps = attrNum(c.node.attrs, 'epsilon', 1e-5);
  const perChannel = (name: string): string => c.emit('Reshape', [castTo(c, name, dt), c.ints(bshape)]);
  const back = (name: string, to: string): string => castTo(c, name, c.type(to).dtype);

  // Per-channel 1/sqrt(var+eps) and scale/sqrt(var+eps), as build-time constants when possible.
  const sv = constFloats(c, scale);
  const vv = constFloats(c, vr);
  const constOk = (dt === 'float32' || dt === 'float64') && vv !== undefined;
  let invC: string | undefined;
  const inv = (): string => {
    if (invC) return invC;
    invC = constOk
      ? c.constant(
          tensorFromNumbers(
            dt,
            [ch],
            (vv as number[]).map((v) => 1 / Math.sqrt(v + eps)),
          ),
          'bn_inv',
        )
      : c.emit('Reciprocal', [c.emit('Sqrt', [c.emit('Add', [castTo(c, vr, dt), c.scalar(eps, dt)])])]);
    return invC;
  };
  const factorB = (): string => {
    if (constOk && sv) {
      const f = sv.map((s, k) => s / Math.sqrt((vv as number[])[k] + eps));
      return c.constant(tensorFromNumbers(dt, bshape, f), 'bn_factor');
    }
    return c.emit('Reshape', [c.emit('Mul', [castTo(c, scale, dt), inv()]), c.ints(bshape)]);
  };

  const gx = c.wants(0) ? c.emit('Mul', [g, factorB()]) : undefined;
  let sumGC: string | undefined;
  const sumG = (): string => {
    sumGC ??= c.emit('ReduceSum', [g, c.ints(axes)], { keepdims: 0 });
    return sumGC;
  };
  const gB = c.wants(2) ? back(sumG(), c.x(2)) : undefined;
  // S = sum(g * (x - mean)) per channel serves both the scale and the variance gradient.
  let sC: string | undefined;
  const S = (): string => {
    sC ??= c.emit('ReduceSum', [c.emit('Mul', [g, c.emit('Sub', [x, perChannel(mean)])]), c.ints(axes)], { keepdims: 0 });
    return sC;
  };
  const gScale = c.wants(1) ? back(c.emit('Mul', [S(), inv()]), scale) : undefined;
  const gMean = c.wants(3) ? back(c.emit('Neg', [c.emit('Mul', [sumG(), c.emit('Mul', [castTo(c, scale, dt), inv()])])]), mean) : undefined;
  let gVar: string | undefined;
  if (c.wants(4)) {
    // dy/dvar = -1/2 * scale * (x - mean) * inv^3
    const i = inv();
    const k = c.emit('Mul', [c.emit('Mul', [castTo(c, scale, dt), c.emit('Mul', [i, c.emit('Mul', [i, i])])]), c.scalar(-0.5, dt)]);
    gVar = back(c.emit('Mul', [S(), k]), vr);
  }
  return [gx, gScale, gB, gMean, gVar];
}

/**
 * Training mode (ONNX semantics, as onnxruntime runs it): with the batch statistics over (N, spatial)
 *   mean = E[x], var = E[(x - mean)^2] (biased), inv = 1/sqrt(var + eps), xhat = (x - mean) * inv,
 *   Y = xhat * scale + B, running_mean = input_mean * m + mean * (1 - m), running_var = input_var * m + var * (1 - m).
 * The full VJP goes through the batch statistics:
 *   dX = a * (gY - E[gY] - xhat * E[gY * xhat]) + (1-m)/n * gRm + 2(1-m)/n * gRv * (x - mean),   a = scale * inv
 *   dscale = sum(gY * xhat), dB = sum(gY), dinput_mean = m * gRm, dinput_var = m * gRv.
 * With momentum 0 the running outputs ARE the batch statistics (the training engine emits it so, and
 * computes the running update itself): the rule then reuses them instead of recomputing.
 */
function batchNormTrainingVjp(c: VjpCtx): (string | undefined)[] {
  const [x, scale] = c.node.inputs;
  const t = c.type(x);
  const dt = t.dtype;
  const ch = t.shape[1];
  const rank = t.shape.length;
  const axes = [0, ...range(2, rank)];
  const n = numel(t.shape) / ch;
  const eps = attrNum(c.node.attrs, 'epsilon', 1e-5);
  const m = attrNum(c.node.attrs, 'momentum', 0.9);
  const bshape = [ch, ...range(2, rank).map(() => 1)];
  const g = c.gy(0);
  const gRm = c.gy(1) === undefined ? undefined : castTo(c, c.gy(1) as string, dt);
  const gRv = c.gy(2) === undefined ? undefined : castTo(c, c.gy(2) as string, dt);
  const ax = (): string => c.ints(axes);
  const perChannel = (name: string): string => c.emit('Reshape', [name, c.ints(bshape)]);

  let mean: string;
  let vr: string;
  if (m === 0 && c.y(1) && c.y(2)) {
    mean = castTo(c, c.y(1), dt);
    vr = castTo(c, c.y(2), dt);
  } else {
    mean = c.emit('ReduceMean', [x, ax()], { keepdims: 0 });
    const xc = c.emit('Sub', [x, perChannel(mean)]);
    vr = c.emit('ReduceMean', [c.emit('Mul', [xc, xc]), ax()], { keepdims: 0 });
  }
  const zeros = c.constant(tensorFromNumbers(dt, [ch], new Array<number>(ch).fill(0)), 'zeros');
  const onesC = c.constant(ones(dt, [ch]), 'ones');
  // xhat in one fused pass: inference BN with unit scale and the batch statistics.
  let xhatC: string | undefined;
  const xhat = (): string => {
    xhatC ??= c.emit('BatchNormalization', [x, onesC, zeros, mean, vr], { epsilon: float(eps) });
    return xhatC;
  };
  let sdC: string | undefined;
  const sd = (): string => {
    sdC ??= c.emit('Sqrt', [c.emit('Add', [vr, c.scalar(eps, dt)])]);
    return sdC;
  };
  const sgx = g && (c.wants(0) || c.wants(1)) ? c.emit('ReduceSum', [c.emit('Mul', [g, xhat()]), ax()], { keepdims: 0 }) : undefined;
  const sg = g && (c.wants(0) || c.wants(2)) ? c.emit('ReduceSum', [g, ax()], { keepdims: 0 }) : undefined;

  let gx: string | undefined;
  if (c.wants(0)) {
    // dX = a * gY + c1 + xhat * c2 with per-channel a, c1, c2.
    const c1: string[] = [];
    const c2: string[] = [];
    let a: string | undefined;
    if (g) {
      a = c.emit('Div', [castTo(c, scale, dt), sd()]);
      const an = c.emit('Mul', [a, c.scalar(-1 / n, dt)]);
      c1.push(c.emit('Mul', [an, sg as string]));
      c2.push(c.emit('Mul', [an, sgx as string]));
    }
    if (gRm && m !== 1) c1.push(c.emit('Mul', [gRm, c.scalar((1 - m) / n, dt)]));
    if (gRv && m !== 1) c2.push(c.emit('Mul', [c.emit('Mul', [gRv, sd()]), c.scalar((2 * (1 - m)) / n, dt)]));
    const k1 = addAll(c, c1);
    const k2 = addAll(c, c2);
    const parts: string[] = [];
    // a * gY + c1 as ONE inference BN (mean 0, var 1, epsilon 0: an exact per-channel affine map).
    if (a) parts.push(c.emit('BatchNormalization', [g as string, a, k1 ?? zeros, zeros, onesC], { epsilon: float(0) }));
    else if (k1) parts.push(c.emit('Expand', [perChannel(k1), c.ints(t.shape)]));
    if (k2) parts.push(c.emit('Mul', [xhat(), perChannel(k2)]));
    gx = addAll(c, parts);
  }
  const back = (name: string | undefined, to: string): string | undefined => (name === undefined ? undefined : castTo(c, name, c.type(to).dtype));
  const gScale = c.wants(1) ? back(sgx, scale) : undefined;
  const gB = c.wants(2) ? back(sg, c.x(2)) : undefined;
  const gIm = c.wants(3) && gRm && m !== 0 ? back(c.emit('Mul', [gRm, c.scalar(m, dt)]), c.x(3)) : undefined;
  const gIv = c.wants(4) && gRv && m !== 0 ? back(c.emit('Mul', [gRv, c.scalar(m, dt)]), c.x(4)) : undefined;
  return [gx, gScale, gB, gIm, gIv];
}

// ---------- InstanceNormalization ----------

function inferInstanceNorm(ctx: OpCtx): TypeInfo[] {
  const x = need(ctx, 0);
  if (!isFloat(x.dtype)) ctx.fail(`X must be float, got ${x.dtype}`);
  if (x.shape.length < 3) ctx.fail(`X must be [N, C, D1, ...] (rank >= 3), got [${x.shape}]`);
  const ch = x.shape[1];
  for (const [i, what] of [
    [1, 'scale'],
    [2, 'B'],
  ] as const) {
    const s = need(ctx, i);
    if (s.shape.length !== 1 || s.shape[0] !== ch) ctx.fail(`${what} must have shape [${ch}], got [${s.shape}]`);
  }
  return [x];
}

function instanceNormVjp(c: VjpCtx): (string | undefined)[] {
  const g = c.gy(0) as string;
  const x = c.x(0);
  const t = c.type(x);
  const ch = t.shape[1];
  const spatial = range(2, t.shape.length);
  const eps = attrNum(c.node.attrs, 'epsilon', 1e-5);
  // Per-(n, c) statistics over the spatial dims = LayerNormalization from axis 2.
  const stash = t.dtype === 'float64' ? DTYPE_CODES.float64 : DTYPE_CODES.float32;
  const { xhat, inv } = c.wants(0) || c.wants(1) ? standardize(c, x, 2, eps, stash) : { xhat: '', inv: '' };
  const bshape = [ch, ...spatial.map(() => 1)];
  const gx = c.wants(0) ? standardizeVjp(c, c.emit('Mul', [g, c.emit('Reshape', [c.x(1), c.ints(bshape)])]), xhat, inv, spatial) : undefined;
  const axes = c.ints([0, ...spatial]);
  const gScale = c.wants(1) ? c.emit('ReduceSum', [c.emit('Mul', [g, xhat]), axes], { keepdims: 0 }) : undefined;
  const gB = c.wants(2) ? c.emit('ReduceSum', [g, axes], { keepdims: 0 }) : undefined;
  return [gx, gScale, gB];
}

// ---------- LpNormalization ----------

function lpInfo(node: OpCtx['node'], rank: number, fail: (m: string) => never) {
  const p = attrNum(node.attrs, 'p', 2);
  if (p !== 1 && p !== 2) fail(`p must be 1 or 2, got ${p}`);
  return { axis: normAxis(attrNum(node.attrs, 'axis', -1), rank, fail), p };
}

function lpVjp(c: VjpCtx): (string | undefined)[] {
  // y = x / n(x) with n = ||x||_p along axis: gx = (g - dn * sum(g * y)) / n, dn = y (p=2) or sign(x) (p=1).
  const g = c.gy(0) as string;
  const x = c.x(0);
  const y = c.y(0);
  const { axis, p } = lpInfo(c.node, c.type(x).shape.length, c.fail);
  const ax = c.ints([axis]);
  const norm = p === 2 ? c.emit('ReduceL2', [x, ax], { keepdims: 1 }) : c.emit('ReduceSum', [c.emit('Abs', [x]), ax], { keepdims: 1 });
  const s = c.emit('ReduceSum', [c.emit('Mul', [g, y]), ax], { keepdims: 1 });
  const dn = p === 2 ? y : c.emit('Sign', [x]);
  return [c.emit('Div', [c.emit('Sub', [g, c.emit('Mul', [dn, s])]), norm])];
}

// ---------- registry ----------

const ops: OpDef[] = [
  {
    type: 'Softmax',
    upgrade: upgradeSoftmax,
    infer: inferSoftmax,
    vjp: (c) => {
      // gx = y * (g - sum(g * y))
      const g = c.gy(0) as string;
      const y = c.y(0);
      const ax = c.ints([softmaxAxis(c.node, c.type(y).shape.length, c.fail)]);
      const s = c.emit('ReduceSum', [c.emit('Mul', [g, y]), ax], { keepdims: 1 });
      return [c.emit('Mul', [y, c.emit('Sub', [g, s])])];
    },
  },
  {
    type: 'LogSoftmax',
    upgrade: upgradeSoftmax,
    infer: inferSoftmax,
    vjp: (c) => {
      // gx = g - exp(y) * sum(g)
      const g = c.gy(0) as string;
      const y = c.y(0);
      const ax = c.ints([softmaxAxis(c.node, c.type(y).shape.length, c.fail)]);
      const s = c.emit('ReduceSum', [g, ax], { keepdims: 1 });
      return [c.emit('Sub', [g, c.emit('Mul', [c.emit('Exp', [y]), s])])];
    },
  },
  { type: 'LayerNormalization', infer: inferLayerNorm, vjp: layerNormVjp },
  { type: 'BatchNormalization', upgrade: upgradeBatchNorm, infer: inferBatchNorm, vjp: batchNormVjp },
  { type: 'InstanceNormalization', infer: inferInstanceNorm, vjp: instanceNormVjp },
  {
    type: 'LpNormalization',
    infer: (ctx) => {
      const x = need(ctx, 0);
      if (!isFloat(x.dtype)) ctx.fail(`input must be float, got ${x.dtype}`);
      lpInfo(ctx.node, x.shape.length, ctx.fail);
      return [x];
    },
    vjp: lpVjp,
  },
];

registerOps(ops);
