// Elementwise ops (numpy broadcasting). VJP rules prefer the forward OUTPUT where the derivative
// can be written with it (Relu, Sigmoid, Tanh, Exp, Sqrt), so ORT can still fuse the forward.
import { type DType, dtypeFromCode, isFloat, type Tensor, toNumbers } from '../onnx/ir.js';
import { type OpCtx, type OpDef, registerOps, type TypeInfo, type VjpCtx } from './registry.js';
import { broadcastShapes, foldElementwise, need, smallEnough } from './util.js';

function inferBroadcast(ctx: OpCtx, outDtype?: DType): TypeInfo[] {
  const ts: TypeInfo[] = [];
  for (let i = 0; i < ctx.nInputs; i++) {
    const t = ctx.type(i);
    if (t) ts.push(t);
  }
  if (ts.length === 0) ctx.fail('needs at least one input');
  const shape = broadcastShapes(
    ts.map((t) => t.shape),
    ctx.fail,
  );
  return [{ dtype: outDtype ?? ts[0].dtype, shape }];
}

function foldWith(f: (...v: number[]) => number, outDtype?: DType) {
  return (ctx: OpCtx): Tensor[] | undefined => {
    const vs: Tensor[] = [];
    for (let i = 0; i < ctx.nInputs; i++) {
      const v = ctx.value(i);
      if (!v) return undefined;
      vs.push(v);
    }
    if (!smallEnough(...vs)) return undefined;
    const dtype = outDtype ?? vs[0].dtype;
    if (dtype === 'float16' || vs.some((v) => v.dtype === 'float16')) return undefined;
    return [foldElementwise(vs, dtype, f, ctx.fail)];
  };
}

const intDiv = (a: number, b: number): number => (b === 0 ? 0 : Math.trunc(a / b));

function binary(type: string, f: (a: number, b: number) => number, vjp: OpDef['vjp'], intF?: (a: number, b: number) => number): OpDef {
  return {
    type,
    infer: (ctx) => inferBroadcast(ctx),
    fold: (ctx) => {
      const t = ctx.value(0);
      const useInt = t && !isFloat(t.dtype) && intF;
      return foldWith(useInt ? intF : f)(ctx);
    },
    vjp,
  };
}

function unary(type: string, f: ((x: number) => number) | undefined, vjp: ((c: VjpCtx, g: string) => string) | undefined, extra: Partial<OpDef> = {}): OpDef {
  return {
    type,
    infer: (ctx) => [need(ctx, 0)],
    fold: f ? foldWith(f) : undefined,
    vjp: vjp
      ? (c) => {
          const g = c.gy(0);
          return [g === undefined ? undefined : vjp(c, g)];
        }
      : undefined,
    ...extra,
  };
}

/** Comparison / logic ops: bool output, no gradient. */
function predicate(type: string, f: (...v: number[]) => number): OpDef {
  return { type, infer: (ctx) => inferBroadcast(ctx, 'bool'), fold: foldWith(f, 'bool') };
}

/** Zero almost everywhere: gradient paths through these are valid and carry nothing. */
function stepFn(type: string, f: (x: number) => number): OpDef {
  return unary(type, f, undefined, { vjp: () => [undefined] });
}

function dtypeOf(c: VjpCtx, name: string): DType {
  return c.type(name).dtype;
}

function scalarLike(c: VjpCtx, name: string, v: number): string {
  return c.scalar(v, dtypeOf(c, name));
}

const zeroLike = (c: VjpCtx, name: string): string => scalarLike(c, name, 0);

const ops: OpDef[] = [
  binary(
    'Add',
    (a, b) => a + b,
    (c) => {
      const g = c.gy(0) as string;
      return [c.wants(0) ? c.reduceTo(g, c.type(c.x(0)).shape) : undefined, c.wants(1) ? c.reduceTo(g, c.type(c.x(1)).shape) : undefined];
    },
  ),
  binary(
    'Sub',
    (a, b) => a - b,
    (c) => {
      const g = c.gy(0) as string;
      return [c.wants(0) ? c.reduceTo(g, c.type(c.x(0)).shape) : undefined, c.wants(1) ? c.reduceTo(c.emit('Neg', [g]), c.type(c.x(1)).shape) : undefined];
    },
  ),
  binary(
    'Mul',
    (a, b) => a * b,
    (c) => {
      const g = c.gy(0) as string;
      return [
        c.wants(0) ? c.reduceTo(c.emit('Mul', [g, c.x(1)]), c.type(c.x(0)).shape) : undefined,
        c.wants(1) ? c.reduceTo(c.emit('Mul', [g, c.x(0)]), c.type(c.x(1)).shape) : undefined,
      ];
    },
  ),
  binary(
    'Div',
    (a, b) => a / b,
    (c) => {
      const g = c.gy(0) as string;
      // d(a/b)/db = -y/b
      return [
        c.wants(0) ? c.reduceTo(c.emit('Div', [g, c.x(1)]), c.type(c.x(0)).shape) : undefined,
        c.wants(1) ? c.reduceTo(c.emit('Neg', [c.emit('Div', [c.emit('Mul', [g, c.y(0)]), c.x(1)])]), c.type(c.x(1)).shape) : undefined,
      ];
    },
    intDiv,
  ),
  binary(
    'Pow',
    (a, b) => a ** b,
    (c) => {
      const g = c.gy(0) as string;
      const a = c.x(0);
      const b = c.x(1);
      let ga: string | undefined;
      if (c.wants(0)) {
        const bm1 = c.emit('Sub', [b, scalarLike(c, b, 1)]);
        const expo = dtypeOf(c, b) === dtypeOf(c, a) ? bm1 : c.emit('Cast', [bm1], { to: dtypeCode(dtypeOf(c, a)) });
        const bA = dtypeOf(c, b) === dtypeOf(c, a) ? b : c.emit('Cast', [b], { to: dtypeCode(dtypeOf(c, a)) });
        ga = c.reduceTo(c.emit('Mul', [g, c.emit('Mul', [bA, c.emit('Pow', [a, expo])])]), c.type(a).shape);
      }
      let gb: string | undefined;
      if (c.wants(1)) gb = c.reduceTo(c.emit('Mul', [g, c.emit('Mul', [c.y(0), c.emit('Log', [a])])]), c.type(b).shape);
      return [ga, gb];
    },
  ),
  {
    type: 'Sum',
    infer: (ctx) => inferBroadcast(ctx),
    fold: foldWith((...v) => v.reduce((s, x) => s + x, 0)),
    vjp: (c) => c.node.inputs.map((x, k) => (c.wants(k) ? c.reduceTo(c.gy(0) as string, c.type(x).shape) : undefined)),
  },
  binary('Max', Math.max, (c) => minMaxVjp(c, 'Greater')),
  binary('Min', Math.min, (c) => minMaxVjp(c, 'Less')),
  unary(
    'Neg',
    (x) => -x,
    (c, g) => c.emit('Neg', [g]),
  ),
  unary('Abs', Math.abs, (c, g) => c.emit('Mul', [g, c.emit('Sign', [c.x(0)])])),
  unary('Sqrt', Math.sqrt, (c, g) => c.emit('Div', [g, c.emit('Mul', [c.y(0), scalarLike(c, g, 2)])])),
  unary(
    'Reciprocal',
    (x) => 1 / x,
    (c, g) => c.emit('Neg', [c.emit('Mul', [g, c.emit('Mul', [c.y(0), c.y(0)])])]),
  ),
  unary('Exp', Math.exp, (c, g) => c.emit('Mul', [g, c.y(0)])),
  unary('Log', Math.log, (c, g) => c.emit('Div', [g, c.x(0)])),
  unary('Tanh', Math.tanh, (c, g) => c.emit('Mul', [g, c.emit('Sub', [scalarLike(c, g, 1), c.emit('Mul', [c.y(0), c.y(0)])])])),
  unary(
    'Sigmoid',
    (x) => 1 / (1 + Math.exp(-x)),
    (c, g) => c.emit('Mul', [g, c.emit('Mul', [c.y(0), c.emit('Sub', [scalarLike(c, g, 1), c.y(0)])])]),
  ),
  unary(
    'Relu',
    (x) => Math.max(0, x),
    (c, g) => c.emit('Where', [c.emit('Greater', [c.y(0), zeroLike(c, g)]), g, zeroLike(c, g)]),
  ),
  unary('LeakyRelu', undefined, (c, g) => {
    const alpha = attrF(c, 'alpha', 0.01);
    return c.emit('Where', [c.emit('Greater', [c.x(0), zeroLike(c, g)]), g, c.emit('Mul', [g, scalarLike(c, g, alpha)])]);
  }),
  unary('Elu', undefined, (c, g) => {
    const alpha = attrF(c, 'alpha', 1);
    const inner = c.emit('Mul', [g, c.emit('Add', [c.y(0), scalarLike(c, g, alpha)])]);
    return c.emit('Where', [c.emit('Greater', [c.x(0), zeroLike(c, g)]), g, inner]);
  }),
  {
    type: 'Clip',
    upgrade: (c) => {
      // opset < 11: min/max were attributes.
      if (c.opset >= 11) return;
      const dt = c.type(c.node.inputs[0]).dtype;
      const lo = c.node.attrs.min;
      const hi = c.node.attrs.max;
      c.node.inputs = [c.node.inputs[0], lo ? c.scalar(Number(lo.value), dt) : '', hi ? c.scalar(Number(hi.value), dt) : ''];
      delete c.node.attrs.min;
      delete c.node.attrs.max;
    },
    infer: (ctx) => [need(ctx, 0)],
    fold: (ctx) => {
      const x = ctx.value(0);
      if (!x || !smallEnough(x)) return undefined;
      const lo = ctx.value(1);
      const hi = ctx.value(2);
      if ((ctx.node.inputs[1] && !lo) || (ctx.node.inputs[2] && !hi)) return undefined;
      const l = lo ? toNumbers(lo)[0] : -Infinity;
      const h = hi ? toNumbers(hi)[0] : Infinity;
      return [foldElementwise([x], x.dtype, (v) => Math.min(Math.max(v, l), h), ctx.fail)];
    },
    nondiff: [1, 2],
    vjp: (c) => {
      // Like torch.clamp: the gradient passes where min <= x <= max (bounds inclusive).
      const g = c.gy(0) as string;
      let mask: string | undefined;
      if (c.x(1)) mask = c.emit('GreaterOrEqual', [c.x(0), c.x(1)]);
      if (c.x(2)) {
        const m2 = c.emit('LessOrEqual', [c.x(0), c.x(2)]);
        mask = mask ? c.emit('And', [mask, m2]) : m2;
      }
      return [mask ? c.emit('Where', [mask, g, zeroLike(c, g)]) : g];
    },
  },
  unary('HardSigmoid', undefined, (c, g) => {
    // y = clip(alpha*x + beta, 0, 1) has slope alpha exactly where 0 < y < 1: read that off the forward
    // output instead of recomputing alpha*x + beta (two fewer full-size passes).
    const alpha = attrF(c, 'alpha', 0.2);
    const y = c.y(0);
    const inside = c.emit('And', [c.emit('Greater', [y, zeroLike(c, g)]), c.emit('Less', [y, scalarLike(c, g, 1)])]);
    return c.emit('Where', [inside, c.emit('Mul', [g, scalarLike(c, g, alpha)]), zeroLike(c, g)]);
  }),
  unary('HardSwish', undefined, (c, g) => {
    // As torch: 0 below -3, g*(x/3 + 1/2) on [-3, 3], g above.
    const x = c.x(0);
    const mid = c.emit('Mul', [g, c.emit('Add', [c.emit('Div', [x, scalarLike(c, g, 3)]), scalarLike(c, g, 0.5)])]);
    const upper = c.emit('Where', [c.emit('LessOrEqual', [x, scalarLike(c, g, 3)]), mid, g]);
    return c.emit('Where', [c.emit('Less', [x, scalarLike(c, g, -3)]), zeroLike(c, g), upper]);
  }),
  unary('Erf', undefined, (c, g) => {
    // 2/sqrt(pi) * exp(-x^2) as exp(ln(2/sqrt(pi)) - x^2): the constant rides in the exponent (one pass less).
    const x = c.x(0);
    const e = c.emit('Exp', [c.emit('Sub', [scalarLike(c, g, Math.log(2 / Math.sqrt(Math.PI))), c.emit('Mul', [x, x])])]);
    return c.emit('Mul', [g, e]);
  }),
  unary('Gelu', undefined, (c, g) => {
    const x = c.x(0);
    const approx = c.node.attrs.approximate?.value ?? 'none';
    const s = (v: number): string => scalarLike(c, g, v);
    if (approx === 'tanh') {
      const k = Math.sqrt(2 / Math.PI);
      const x2 = c.emit('Mul', [x, x]);
      const inner = c.emit('Mul', [c.emit('Mul', [x, c.emit('Add', [s(1), c.emit('Mul', [x2, s(0.044715)])])]), s(k)]);
      const t = c.emit('Tanh', [inner]);
      const dinner = c.emit('Mul', [c.emit('Add', [s(1), c.emit('Mul', [x2, s(3 * 0.044715)])]), s(k)]);
      const a = c.emit('Mul', [s(0.5), c.emit('Add', [s(1), t])]);
      const b = c.emit('Mul', [c.emit('Mul', [c.emit('Mul', [s(0.5), x]), c.emit('Sub', [s(1), c.emit('Mul', [t, t])])]), dinner]);
      return c.emit('Mul', [g, c.emit('Add', [a, b])]);
    }
    // d/dx [x Phi(x)] = Phi(x) + x phi(x)
    const phiBig = c.emit('Mul', [s(0.5), c.emit('Add', [s(1), c.emit('Erf', [c.emit('Mul', [x, s(Math.SQRT1_2)])])])]);
    const phi = c.emit('Mul', [c.emit('Exp', [c.emit('Mul', [c.emit('Mul', [x, x]), s(-0.5)])]), s(1 / Math.sqrt(2 * Math.PI))]);
    return c.emit('Mul', [g, c.emit('Add', [phiBig, c.emit('Mul', [x, phi])])]);
  }),
  unary(
    'Softplus',
    (x) => Math.log1p(Math.exp(x)),
    (c, g) => c.emit('Mul', [g, c.emit('Sigmoid', [c.x(0)])]),
  ),
  unary(
    'Identity',
    (x) => x,
    (_c, g) => g,
    { fold: (ctx) => (ctx.value(0) ? [ctx.value(0) as Tensor] : undefined) },
  ),
  {
    type: 'Dropout',
    // Opsets 7-11 held the ratio as an attribute (and is_test before 7); opset 12 made it an input.
    upgrade: (c) => {
      if (c.opset >= 12) return;
      const r = c.node.attrs.ratio;
      c.node.inputs = [c.node.inputs[0], r ? c.scalar(Number(r.value), c.type(c.node.inputs[0]).dtype) : ''];
      delete c.node.attrs.ratio;
      delete c.node.attrs.is_test;
    },
    // Without training_mode (or with a constant false) the op is the identity and its mask all ones.
    infer: (ctx) => [need(ctx, 0), { dtype: 'bool', shape: need(ctx, 0).shape }],
    nondiff: [1, 2],
    vjp: dropoutVjp,
  },
  {
    type: 'Cast',
    infer: (ctx) => {
      const to = dtypeFromCode(Number(ctx.node.attrs.to?.value));
      if (!to) return ctx.fail(`unsupported target type ${String(ctx.node.attrs.to?.value)}`);
      return [{ dtype: to, shape: need(ctx, 0).shape }];
    },
    fold: (ctx) => {
      const v = ctx.value(0);
      const to = dtypeFromCode(Number(ctx.node.attrs.to?.value));
      if (!v || !to || !smallEnough(v) || to === 'float16' || v.dtype === 'float16') return undefined;
      return [foldElementwise([v], to, (x) => x, ctx.fail)];
    },
    vjp: (c) => {
      const src = c.type(c.x(0)).dtype;
      const g = c.gy(0) as string;
      return [isFloat(src) ? (c.type(g).dtype === src ? g : c.emit('Cast', [g], { to: dtypeCode(src) })) : undefined];
    },
  },
  {
    type: 'Where',
    infer: (ctx) => [{ dtype: need(ctx, 1).dtype, shape: inferBroadcast(ctx)[0].shape }],
    // The output takes X's dtype, not the bool condition's.
    fold: (ctx) => (ctx.value(1) ? foldWith((cnd, a, b) => (cnd ? a : b), (ctx.value(1) as Tensor).dtype)(ctx) : undefined),
    nondiff: [0],
    vjp: (c) => {
      const g = c.gy(0) as string;
      const z = zeroLike(c, g);
      return [
        undefined,
        c.wants(1) ? c.reduceTo(c.emit('Where', [c.x(0), g, z]), c.type(c.x(1)).shape) : undefined,
        c.wants(2) ? c.reduceTo(c.emit('Where', [c.x(0), z, g]), c.type(c.x(2)).shape) : undefined,
      ];
    },
  },
  predicate('Equal', (a, b) => (a === b ? 1 : 0)),
  predicate('Greater', (a, b) => (a > b ? 1 : 0)),
  predicate('Less', (a, b) => (a < b ? 1 : 0)),
  predicate('GreaterOrEqual', (a, b) => (a >= b ? 1 : 0)),
  predicate('LessOrEqual', (a, b) => (a <= b ? 1 : 0)),
  predicate('And', (a, b) => (a && b ? 1 : 0)),
  predicate('Or', (a, b) => (a || b ? 1 : 0)),
  predicate('Xor', (a, b) => ((a ? 1 : 0) !== (b ? 1 : 0) ? 1 : 0)),
  predicate('Not', (a) => (a ? 0 : 1)),
  predicate('IsNaN', (a) => (Number.isNaN(a) ? 1 : 0)),
  predicate('IsInf', (a) => (Number.isFinite(a) || Number.isNaN(a) ? 0 : 1)),
  stepFn('Floor', Math.floor),
  stepFn('Ceil', Math.ceil),
  stepFn('Round', (x) => {
    // round half to even, as ONNX
    const r = Math.round(x);
    return Math.abs(x % 1) === 0.5 ? 2 * Math.round(x / 2) : r;
  }),
  stepFn('Sign', Math.sign),
];

function minMaxVjp(c: VjpCtx, cmp: 'Greater' | 'Less'): (string | undefined)[] {
  if (c.node.inputs.length !== 2) c.fail('gradient implemented for two inputs');
  const g = c.gy(0) as string;
  const a = c.x(0);
  const b = c.x(1);
  // Ties split the gradient in half, as torch.maximum/minimum do.
  const half = c.emit('Mul', [g, scalarLike(c, g, 0.5)]);
  const z = zeroLike(c, g);
  const tie = c.emit('Equal', [a, b]);
  const ga = c.emit('Where', [tie, half, c.emit('Where', [c.emit(cmp, [a, b]), g, z])]);
  const gb = c.emit('Where', [tie, half, c.emit('Where', [c.emit(cmp, [b, a]), g, z])]);
  return [c.wants(0) ? c.reduceTo(ga, c.type(a).shape) : undefined, c.wants(1) ? c.reduceTo(gb, c.type(b).shape) : undefined];
}

/**
 * Training-mode Dropout: y = x * mask / (1 - ratio), so dX = g * mask / (1 - ratio), from the node's
 * own mask output (the forward draws the mask; nothing else can reproduce it). Identity otherwise.
 */
function dropoutVjp(c: VjpCtx): (string | undefined)[] {
  const g = c.gy(0) as string;
  const tm = c.node.inputs[2];
  if (!tm) return [g];
  const tv = c.value(tm);
  if (tv && toNumbers(tv).every((v) => v === 0)) return [g];
  const mask = c.node.outputs[1];
  if (!mask) c.fail('the gradient of training-mode Dropout needs its mask output (add a second output to the node, or run it with training_mode false)');
  const dt = dtypeOf(c, g);
  const rIn = c.node.inputs[1];
  const rv = rIn ? c.value(rIn) : undefined;
  let scale: string;
  if (!rIn) scale = c.scalar(2, dt);
  else if (rv) {
    const r = toNumbers(rv)[0];
    if (!(r >= 0 && r < 1)) c.fail(`ratio must be in [0, 1) for a gradient, got ${r}`);
    scale = c.scalar(1 / (1 - r), dt);
  } else scale = c.emit('Reciprocal', [c.emit('Sub', [c.scalar(1, dt), castIfNeeded(c, rIn, dt)])]);
  // A runtime training_mode: false gives mask = ones and y = x, so the scale only applies when it is true.
  if (!tv) scale = c.emit('Where', [tm, scale, c.scalar(1, dt)]);
  return [c.emit('Mul', [c.emit('Mul', [g, c.emit('Cast', [mask], { to: dtypeCode(dt) })]), scale])];
}

function castIfNeeded(c: VjpCtx, name: string, dt: DType): string {
  return c.type(name).dtype === dt ? name : c.emit('Cast', [name], { to: dtypeCode(dt) });
}

function attrF(c: VjpCtx, name: string, dflt: number): number {
  const a = c.node.attrs[name];
  return a && (a.type === 'float' || a.type === 'int') ? a.value : dflt;
}

function dtypeCode(d: DType): number {
  return { float32: 1, float64: 11, float16: 10 }[d as 'float32'] ?? 1;
}

registerOps(ops);
