// Reductions. Canonical form (opset 18+): axes as an optional int64 input.
import { numel, type Tensor, tensorFromNumbers, toNumbers } from '../onnx/ir.js';
import { type OpCtx, type OpDef, registerOps, type TypeInfo, type UpgradeCtx, type VjpCtx } from './registry.js';
import { constInts, need, normAxis, smallEnough, strides } from './util.js';

/** Axes as an input since opset 13 (ReduceSum) / 18 (the others). */
function upgradeAxes(since: number) {
  return (c: UpgradeCtx): void => {
    if (c.opset >= since) return;
    const a = c.node.attrs.axes;
    if (a && a.type === 'ints') c.node.inputs = [c.node.inputs[0], c.ints(a.value)];
    delete c.node.attrs.axes;
  };
}

function reducedAxes(ctx: OpCtx): { axes: number[]; keep: boolean; shape: number[] } {
  const x = need(ctx, 0);
  const keep = Number(ctx.node.attrs.keepdims?.value ?? 1) === 1;
  const noop = Number(ctx.node.attrs.noop_with_empty_axes?.value ?? 0) === 1;
  let axes = constInts(ctx, 1, 'axes');
  if (!axes || axes.length === 0) axes = noop ? [] : x.shape.map((_, k) => k);
  axes = [...new Set(axes.map((a) => normAxis(a, x.shape.length, ctx.fail)))].sort((p, q) => p - q);
  return { axes, keep, shape: x.shape };
}

function inferReduce(ctx: OpCtx): TypeInfo[] {
  const { axes, keep, shape } = reducedAxes(ctx);
  const out: number[] = [];
  shape.forEach((d, k) => {
    if (!axes.includes(k)) out.push(d);
    else if (keep) out.push(1);
  });
  return [{ dtype: need(ctx, 0).dtype, shape: out }];
}

function foldReduce(init: number, f: (acc: number, v: number) => number, fin?: (acc: number, n: number) => number) {
  return (ctx: OpCtx): Tensor[] | undefined => {
    const v = ctx.value(0);
    if (!v || !smallEnough(v) || (ctx.node.inputs[1] && !ctx.value(1))) return undefined;
    const { axes, shape } = reducedAxes(ctx);
    const outT = inferReduce(ctx)[0];
    const vals = toNumbers(v);
    const st = strides(shape);
    const keptShape = shape.map((d, k) => (axes.includes(k) ? 1 : d));
    const kst = strides(keptShape);
    const out = new Array<number>(numel(keptShape)).fill(init);
    const cnt = numel(shape) / Math.max(1, numel(keptShape));
    for (let i = 0; i < vals.length; i++) {
      let o = 0;
      let rem = i;
      for (let k = 0; k < shape.length; k++) {
        const c = Math.floor(rem / st[k]);
        rem -= c * st[k];
        if (!axes.includes(k)) o += c * kst[k];
      }
      out[o] = f(out[o], vals[i]);
    }
    return [tensorFromNumbers(v.dtype, outT.shape, fin ? out.map((a) => fin(a, cnt)) : out)];
  };
}

/** Shape of the reduced gradient with kept dims, so it broadcasts back over the input. */
function keptGrad(c: VjpCtx, g: string, axes: number[], keep: boolean): string {
  if (keep || axes.length === 0) return g;
  return c.emit('Unsqueeze', [g, c.ints(axes)]);
}

function vjpInfo(c: VjpCtx) {
  const x = c.type(c.x(0));
  const keep = Number(c.node.attrs.keepdims?.value ?? 1) === 1;
  const noop = Number(c.node.attrs.noop_with_empty_axes?.value ?? 0) === 1;
  const av = c.node.inputs[1] ? c.value(c.node.inputs[1]) : undefined;
  let axes = av ? toNumbers(av) : [];
  if (axes.length === 0) axes = noop ? [] : x.shape.map((_, k) => k);
  axes = [...new Set(axes.map((a) => (a < 0 ? a + x.shape.length : a)))].sort((p, q) => p - q);
  return { x, keep, axes };
}

const ops: OpDef[] = [
  {
    type: 'ReduceSum',
    upgrade: upgradeAxes(13),
    infer: inferReduce,
    fold: foldReduce(0, (a, v) => a + v),
    nondiff: [1],
    vjp: (c) => {
      const { x, keep, axes } = vjpInfo(c);
      return [c.emit('Expand', [keptGrad(c, c.gy(0) as string, axes, keep), c.ints(x.shape)])];
    },
  },
  {
    type: 'ReduceMean',
    upgrade: upgradeAxes(18),
    infer: inferReduce,
    fold: foldReduce(
      0,
      (a, v) => a + v,
      (a, n) => a / n,
    ),
    nondiff: [1],
    vjp: (c) => {
      const { x, keep, axes } = vjpInfo(c);
      const n = axes.reduce((s, a) => s * x.shape[a], 1);
      const g = c.emit('Mul', [c.gy(0) as string, c.scalar(1 / n, x.dtype)]);
      return [c.emit('Expand', [keptGrad(c, g, axes, keep), c.ints(x.shape)])];
    },
  },
  {
    type: 'ReduceSumSquare',
    upgrade: upgradeAxes(18),
    infer: inferReduce,
    fold: foldReduce(0, (a, v) => a + v * v),
    nondiff: [1],
    vjp: (c) => {
      // d sum(x^2) / dx = 2x
      const { x, keep, axes } = vjpInfo(c);
      const g = c.emit('Expand', [keptGrad(c, c.gy(0) as string, axes, keep), c.ints(x.shape)]);
      return [c.emit('Mul', [g, c.emit('Mul', [c.x(0), c.scalar(2, x.dtype)])])];
    },
  },
  {
    type: 'ReduceMax',
    upgrade: upgradeAxes(18),
    infer: inferReduce,
    fold: foldReduce(-Infinity, Math.max),
    nondiff: [1],
    vjp: (c) => extremumVjp(c),
  },
  {
    type: 'ReduceMin',
    upgrade: upgradeAxes(18),
    infer: inferReduce,
    fold: foldReduce(Infinity, Math.min),
    nondiff: [1],
    vjp: (c) => extremumVjp(c),
  },
  {
    type: 'ReduceProd',
    upgrade: upgradeAxes(18),
    infer: inferReduce,
    fold: foldReduce(1, (a, v) => a * v),
  },
  {
    type: 'ReduceL2',
    upgrade: upgradeAxes(18),
    infer: inferReduce,
    nondiff: [1],
    vjp: (c) => {
      // d||x|| / dx = x / ||x||
      const { x, keep, axes } = vjpInfo(c);
      const y = keptGrad(c, c.y(0), axes, keep);
      const g = keptGrad(c, c.gy(0) as string, axes, keep);
      return [c.emit('Mul', [c.emit('Div', [c.x(0), y]), c.emit('Expand', [g, c.ints(x.shape)])])];
    },
  },
  ...['ArgMax', 'ArgMin'].map(
    (type): OpDef => ({
      type,
      infer: (ctx) => {
        const x = need(ctx, 0);
        const axis = normAxis(Number(ctx.node.attrs.axis?.value ?? 0), x.shape.length, ctx.fail);
        const keep = Number(ctx.node.attrs.keepdims?.value ?? 1) === 1;
        const shape = keep ? x.shape.map((d, k) => (k === axis ? 1 : d)) : x.shape.filter((_, k) => k !== axis);
        return [{ dtype: 'int64', shape }];
      },
    }),
  ),
];

/** Max/min: the gradient is shared equally among tied extremal elements (as torch.amax). */
function extremumVjp(c: VjpCtx): (string | undefined)[] {
  const { x, keep, axes } = vjpInfo(c);
  const y = c.emit('Expand', [keptGrad(c, c.y(0), axes, keep), c.ints(x.shape)]);
  const mask = c.emit('Cast', [c.emit('Equal', [c.x(0), y])], { to: 1 });
  const count = c.emit('ReduceSum', [mask, c.ints(axes)], { keepdims: 1 });
  const g = keptGrad(c, c.gy(0) as string, axes, keep);
  return [c.emit('Mul', [mask, c.emit('Div', [g, count])])];
}

registerOps(ops);
