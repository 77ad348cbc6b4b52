// Shared pieces of op definitions: broadcasting, attribute access, simple constant evaluation.
import { type DType, isFloat, numel, type Tensor, tensorFromNumbers, toNumbers } from '../onnx/ir.js';
import type { OpCtx, TypeInfo } from './registry.js';

export function broadcastShapes(shapes: number[][], fail: (msg: string) => never): number[] {
  const rank = Math.max(...shapes.map((s) => s.length));
  const out = new Array<number>(rank).fill(1);
  for (const s of shapes) {
    const off = rank - s.length;
    s.forEach((d, k) => {
      const cur = out[off + k];
      if (cur === 1) out[off + k] = d;
      else if (d !== 1 && d !== cur) fail(`shapes ${shapes.map((x) => `[${x.join(', ')}]`).join(' and ')} do not broadcast`);
    });
  }
  return out;
}

/** Type of input i, failing clearly when the input is missing. */
export function need(ctx: OpCtx, i: number): TypeInfo {
  const t = ctx.type(i);
  if (!t) ctx.fail(`input ${i} is required`);
  return t;
}

export function normAxis(axis: number, rank: number, fail: (msg: string) => never): number {
  const a = axis < 0 ? axis + rank : axis;
  if (a < 0 || a >= rank) fail(`axis ${axis} is out of range for rank ${rank}`);
  return a;
}

/** Constant int64 input as numbers (axes, shapes, pads...). */
export function constInts(ctx: OpCtx, i: number, what: string): number[] | undefined {
  if (!ctx.node.inputs[i]) return undefined;
  const v = ctx.value(i);
  if (!v) ctx.fail(`${what} (input ${i}) must be a constant for robustscope to compile the graph`);
  return toNumbers(v);
}

/** Strides of a row-major shape. */
export function strides(shape: readonly number[]): number[] {
  const s = new Array<number>(shape.length);
  let acc = 1;
  for (let k = shape.length - 1; k >= 0; k--) {
    s[k] = acc;
    acc *= shape[k];
  }
  return s;
}

/** Folding is for shape arithmetic: skip large float tensors (ORT folds those itself). */
export const FOLD_LIMIT = 4096;

export function smallEnough(...ts: (Tensor | undefined)[]): boolean {
  return ts.every((t) => !t || (numel(t.dims) <= FOLD_LIMIT && t.dtype !== 'string'));
}

/** Evaluates an n-ary broadcasting elementwise function on constant tensors. */
export function foldElementwise(ts: Tensor[], outDtype: DType, f: (...v: number[]) => number, fail: (msg: string) => never): Tensor {
  const shape = broadcastShapes(
    ts.map((t) => t.dims),
    fail,
  );
  const n = numel(shape);
  const vals = ts.map((t) => toNumbers(t));
  const st = ts.map((t) => {
    const s = strides(t.dims);
    const off = shape.length - t.dims.length;
    return shape.map((_, k) => (k < off || t.dims[k - off] === 1 ? 0 : s[k - off]));
  });
  const outStr = strides(shape);
  const out = new Array<number>(n);
  const args = new Array<number>(ts.length);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < ts.length; j++) {
      let idx = 0;
      let rem = i;
      for (let k = 0; k < shape.length; k++) {
        const c = Math.floor(rem / outStr[k]);
        rem -= c * outStr[k];
        idx += c * st[j][k];
      }
      args[j] = vals[j][idx];
    }
    let r = f(...args);
    if (!isFloat(outDtype)) r = outDtype === 'bool' ? (r ? 1 : 0) : Math.trunc(r);
    out[i] = r;
  }
  return tensorFromNumbers(outDtype, shape, out);
}
