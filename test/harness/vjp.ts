// One generic harness that checks an op's VJP rule against central finite differences.
// Builds a one-node ONNX model (optionally at an older opset, to exercise upgrades), appends the
// probe loss L = sum_o <R_o, y_o> with fixed random R_o, differentiates it with robustscope and
// compares with (L(x+h d) - L(x-h d)) / 2h evaluated by onnxruntime on the forward graph.
import { buildGradients } from '../../src/autodiff/gradient.js';
import { toAttrs } from '../../src/onnx/builder.js';
import { type DType, isFloat, type Model, numel, type Tensor, tensorFromNumbers } from '../../src/onnx/ir.js';
import { prepareGraph } from '../../src/onnx/prepare.js';
import { serializeGraph } from '../../src/onnx/serialize.js';
import type { Attrs } from '../../src/ops/registry.js';
import { type Feed, Session } from '../../src/runtime/session.js';
import { normal, rng } from './rng.js';

export interface InputSpec {
  shape: number[];
  dtype?: DType;
  /** Fixed values (then the input is a constant initializer unless `feed` is set). */
  values?: number[];
  /** Generator for random values (default: standard normal). */
  gen?: (r: () => number) => number;
  /** Differentiate w.r.t. this input (default: true for float inputs without fixed values). */
  wrt?: boolean;
  /** Omitted optional input. */
  omit?: boolean;
}

export interface OpCase {
  op: string;
  attrs?: Attrs;
  inputs: InputSpec[];
  nOutputs?: number;
  /** Which outputs the probe loss uses (default: every float output). */
  probe?: number[];
  opset?: number;
  seed?: number;
  /** Finite-difference step. */
  h?: number;
  /** Allowed error relative to max |analytic gradient| (plus the same absolute floor). */
  tol?: number;
}

export interface VjpReport {
  maxErr: number;
  scale: number;
  checks: number;
}

const f32 = (d: DType) => d === 'float32';

export async function checkVjp(c: OpCase): Promise<VjpReport> {
  const r = rng(c.seed ?? 1);
  const model = oneNodeModel(c);
  const values = new Map<string, Float64Array>();
  const wrt: string[] = [];
  c.inputs.forEach((spec, i) => {
    if (spec.omit) return;
    const dtype = spec.dtype ?? 'float32';
    const name = `in${i}`;
    const n = numel(spec.shape);
    const v = new Float64Array(n);
    for (let k = 0; k < n; k++) v[k] = spec.values ? spec.values[k] : spec.gen ? spec.gen(r) : normal(r);
    const isWrt = spec.wrt ?? (isFloat(dtype) && spec.values === undefined);
    if (isWrt) {
      wrt.push(name);
      values.set(name, v);
      model.graph.inputs.push({ name, dtype, shape: spec.shape });
    } else model.graph.initializers.set(name, tensorFromNumbers(dtype, spec.shape, v));
  });

  const { builder: b, graph } = prepareGraph(model, {});
  // Probe loss over the float outputs.
  const outs = (c.probe ?? graph.outputs.map((_, k) => k)).map((k) => graph.outputs[k].name).filter((o) => isFloat(b.type(o).dtype));
  const terms = outs.map((o) => {
    const t = b.type(o);
    const rv = new Float64Array(numel(t.shape)).map(() => normal(r));
    const R = b.constant(tensorFromNumbers(t.dtype, t.shape, rv), 'probe');
    return b.emit('ReduceSum', [b.emit('Mul', [o, R])], { keepdims: 0 });
  });
  const loss = terms.length === 1 ? terms[0] : b.emit('Sum', terms);
  graph.outputs = [{ name: loss, dtype: 'float32', shape: [] }];
  const fwd = await Session.create(serializeGraph(graph), { threads: 1 });
  const grads = buildGradients({ builder: b, graph, loss, wrt });
  graph.outputs = [
    { name: loss, dtype: 'float32', shape: [] },
    ...wrt.map((w) => ({ name: grads.get(w) as string, dtype: b.type(w).dtype, shape: b.type(w).shape })),
  ];
  const bwd = await Session.create(serializeGraph(graph), { threads: 1 });

  const feeds = (override?: Map<string, Float64Array>) => {
    const f: Record<string, { data: Feed; dims: number[]; dtype: DType }> = {};
    for (const w of wrt) {
      const t = b.type(w);
      const v = override?.get(w) ?? (values.get(w) as Float64Array);
      f[w] = { data: f32(t.dtype) ? Float32Array.from(v) : Float64Array.from(v), dims: t.shape, dtype: t.dtype };
    }
    return f;
  };
  const lossAt = async (override: Map<string, Float64Array>): Promise<number> => {
    const o = await fwd.run(feeds(override));
    return Number((o[loss].data as Float32Array)[0]);
  };
  const res = await bwd.run(feeds());
  const analytic = new Map(wrt.map((w) => [w, Float64Array.from(res[grads.get(w) as string].data as Float32Array)]));

  const h = c.h ?? 1e-3;
  let maxErr = 0;
  let scale = 0;
  let checks = 0;
  for (const a of analytic.values()) for (const v of a) scale = Math.max(scale, Math.abs(v));
  const totalN = wrt.reduce((s, w) => s + (values.get(w) as Float64Array).length, 0);
  // Per-coordinate when small, else random directions.
  const dirs: Map<string, Float64Array>[] = [];
  if (totalN <= 256) {
    for (const w of wrt) {
      const n = (values.get(w) as Float64Array).length;
      for (let k = 0; k < n; k++) {
        const d = new Map(wrt.map((x) => [x, new Float64Array((values.get(x) as Float64Array).length)]));
        (d.get(w) as Float64Array)[k] = 1;
        dirs.push(d);
      }
    }
  } else {
    for (let j = 0; j < 12; j++) {
      const d = new Map(wrt.map((x) => [x, new Float64Array((values.get(x) as Float64Array).length).map(() => (r() < 0.5 ? -1 : 1))]));
      dirs.push(d);
    }
  }
  for (const d of dirs) {
    const plus = new Map<string, Float64Array>();
    const minus = new Map<string, Float64Array>();
    let an = 0;
    let dirScale = 0;
    for (const w of wrt) {
      const v = values.get(w) as Float64Array;
      const dv = d.get(w) as Float64Array;
      plus.set(
        w,
        v.map((x, k) => x + h * dv[k]),
      );
      minus.set(
        w,
        v.map((x, k) => x - h * dv[k]),
      );
      const g = analytic.get(w) as Float64Array;
      for (let k = 0; k < v.length; k++) {
        an += g[k] * dv[k];
        dirScale += Math.abs(g[k] * dv[k]);
      }
    }
    const fd = ((await lossAt(plus)) - (await lossAt(minus))) / (2 * h);
    // Per coordinate: error relative to max(1, max|g|). Per direction: relative to the directional
    // derivative itself (floored to avoid cancellation), so a 1% error in a rule is caught.
    const err = Math.abs(fd - an) / Math.max(totalN <= 256 ? Math.max(1, scale) : Math.max(Math.abs(an), 1e-2 * dirScale));
    maxErr = Math.max(maxErr, err);
    checks++;
  }
  await fwd.release();
  await bwd.release();
  return { maxErr, scale, checks };
}

function oneNodeModel(c: OpCase): Model {
  const nOut = c.nOutputs ?? 1;
  const outputs = Array.from({ length: nOut }, (_, k) => `out${k}`);
  return {
    irVersion: 8,
    opsetImports: new Map([['', c.opset ?? 21]]),
    producerName: 'test',
    producerVersion: '',
    metadata: {},
    graph: {
      name: 'g',
      nodes: [{ name: c.op, opType: c.op, domain: '', inputs: c.inputs.map((s, i) => (s.omit ? '' : `in${i}`)), outputs, attrs: toAttrs(c.attrs) }],
      inputs: [],
      outputs: outputs.map((name) => ({ name, dtype: 'float32', shape: undefined })),
      initializers: new Map<string, Tensor>(),
      valueInfo: new Map(),
    },
  };
}

/** Inputs away from 0 (kinks of Relu/Abs/...): |x| in [0.1, 2]. */
export const awayFromZero = (r: () => number): number => (r() < 0.5 ? -1 : 1) * (0.1 + 1.9 * r());
export const positive = (r: () => number): number => 0.2 + 2 * r();
