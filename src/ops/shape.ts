// Shape and data-movement ops.
import { numel, type Tensor, tensorFromNumbers, toNumbers } from '../onnx/ir.js';
import { type OpDef, registerOps } from './registry.js';
import { broadcastShapes, constInts, need, normAxis, smallEnough } from './util.js';

const same = (t: Tensor, dims: number[]): Tensor => ({ dtype: t.dtype, dims, data: t.data });

function reshapeTarget(inShape: number[], spec: number[], allowZero: boolean, fail: (m: string) => never): number[] {
  const out = spec.map((d, k) => (d === 0 && !allowZero ? inShape[k] : d));
  const neg = out.filter((d) => d === -1).length;
  if (neg > 1) fail('more than one -1 in the target shape');
  const known = out.filter((d) => d !== -1).reduce((a, b) => a * b, 1);
  const n = numel(inShape);
  if (neg === 1) {
    if (known === 0 || n % known !== 0) fail(`cannot reshape [${inShape}] to [${spec}]`);
    out[out.indexOf(-1)] = n / known;
  } else if (known !== n) fail(`cannot reshape [${inShape}] (${n} elements) to [${spec}]`);
  return out;
}

const ops: OpDef[] = [
  {
    type: 'Reshape',
    infer: (ctx) => {
      const x = need(ctx, 0);
      const spec = constInts(ctx, 1, 'shape') as number[];
      return [{ dtype: x.dtype, shape: reshapeTarget(x.shape, spec, Number(ctx.node.attrs.allowzero?.value ?? 0) === 1, ctx.fail) }];
    },
    fold: (ctx) => {
      const v = ctx.value(0);
      if (!v || !ctx.value(1)) return undefined;
      const spec = toNumbers(ctx.value(1) as Tensor);
      return [same(v, reshapeTarget(v.dims, spec, Number(ctx.node.attrs.allowzero?.value ?? 0) === 1, ctx.fail))];
    },
    nondiff: [1],
    vjp: (c) => [c.emit('Reshape', [c.gy(0) as string, c.ints(c.type(c.x(0)).shape)])],
  },
  {
    type: 'Expand',
    infer: (ctx) => {
      const x = need(ctx, 0);
      const spec = constInts(ctx, 1, 'shape') as number[];
      return [{ dtype: x.dtype, shape: broadcastShapes([x.shape, spec], ctx.fail) }];
    },
    nondiff: [1],
    vjp: (c) => [c.reduceTo(c.gy(0) as string, c.type(c.x(0)).shape)],
  },
  {
    type: 'Unsqueeze',
    upgrade: (c) => {
      if (c.opset >= 13) return;
      const a = c.node.attrs.axes;
      if (a?.type === 'ints') c.node.inputs = [c.node.inputs[0], c.ints(a.value)];
      delete c.node.attrs.axes;
    },
    infer: (ctx) => {
      const x = need(ctx, 0);
      const axes = constInts(ctx, 1, 'axes') as number[];
      const rank = x.shape.length + axes.length;
      const norm = axes.map((a) => normAxis(a, rank, ctx.fail));
      const out: number[] = [];
      let j = 0;
      for (let k = 0; k < rank; k++) out.push(norm.includes(k) ? 1 : x.shape[j++]);
      return [{ dtype: x.dtype, shape: out }];
    },
    fold: (ctx) => {
      const v = ctx.value(0);
      if (!v || !ctx.value(1) || !smallEnough(v)) return undefined;
      const t = ops.find((o) => o.type === 'Unsqueeze')?.infer(ctx)[0];
      return t ? [same(v, t.shape)] : undefined;
    },
    nondiff: [1],
    vjp: (c) => [c.emit('Reshape', [c.gy(0) as string, c.ints(c.type(c.x(0)).shape)])],
  },
  {
    type: 'Squeeze',
    upgrade: (c) => {
      if (c.opset >= 13) return;
      const a = c.node.attrs.axes;
      if (a?.type === 'ints') c.node.inputs = [c.node.inputs[0], c.ints(a.value)];
      delete c.node.attrs.axes;
    },
    infer: (ctx) => {
      const x = need(ctx, 0);
      const given = constInts(ctx, 1, 'axes');
      const axes = given ? given.map((a) => normAxis(a, x.shape.length, ctx.fail)) : x.shape.flatMap((d, k) => (d === 1 ? [k] : []));
      for (const a of axes) if (x.shape[a] !== 1) ctx.fail(`cannot squeeze axis ${a} of size ${x.shape[a]}`);
      return [{ dtype: x.dtype, shape: x.shape.filter((_, k) => !axes.includes(k)) }];
    },
    fold: (ctx) => {
      const v = ctx.value(0);
      if (!v || (ctx.node.inputs[1] && !ctx.value(1)) || !smallEnough(v)) return undefined;
      const t = ops.find((o) => o.type === 'Squeeze')?.infer(ctx)[0];
      return t ? [same(v, t.shape)] : undefined;
    },
    nondiff: [1],
    vjp: (c) => [c.emit('Reshape', [c.gy(0) as string, c.ints(c.type(c.x(0)).shape)])],
  },
  {
    type: 'Shape',
    infer: (ctx) => {
      const x = need(ctx, 0);
      return [{ dtype: 'int64', shape: [sliceRange(ctx.node.attrs, x.shape.length).length] }];
    },
    // Shapes are static after binding the input shape, so Shape always folds.
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
];

function sliceRange(attrs: Record<string, { value: unknown }>, rank: number): number[] {
  const clampAxis = (a: number) => Math.min(Math.max(a < 0 ? a + rank : a, 0), rank);
  const s = clampAxis(Number(attrs.start?.value ?? 0));
  const e = clampAxis(attrs.end === undefined ? rank : Number(attrs.end.value));
  const out: number[] = [];
  for (let k = s; k < e; k++) out.push(k);
  return out;
}

registerOps(ops);
