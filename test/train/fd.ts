// Finite-difference check for graphs built directly with the GraphBuilder (the one-node harness of
// test/harness/vjp.ts goes through prepareGraph, which rejects training-mode nodes in imported models).
// Probe loss L = sum_o <R_o, out_o> with fixed random R_o; our gradient vs (L(v+hd) - L(v-hd)) / 2h.
import { buildGradients } from '../../src/autodiff/gradient.js';
import { GraphBuilder } from '../../src/onnx/builder.js';
import { type Graph, numel, tensorFromNumbers } from '../../src/onnx/ir.js';
import { serializeGraph } from '../../src/onnx/serialize.js';
import { Session } from '../../src/runtime/session.js';
import { normal, rng } from '../harness/rng.js';

export interface FdInput {
  name: string;
  shape: number[];
  gen?: (r: () => number) => number;
}

export interface FdCase {
  inputs: FdInput[];
  /** Emits the graph; returns the float outputs the probe loss reads. */
  build: (b: GraphBuilder) => string[];
  /** Applied after the backward pass is built (e.g. a lowering pass); FD and gradient both use its result. */
  post?: (b: GraphBuilder, graph: Graph) => void;
  seed?: number;
  h?: number;
}

export interface FdReport {
  maxErr: number;
  scale: number;
  checks: number;
  /** Forward values of the probed outputs at the unperturbed point. */
  values: Float32Array[];
  /** The point (input values) and our gradient there. */
  point: Map<string, Float64Array>;
  grads: Map<string, Float64Array>;
}

export async function fdCheck(c: FdCase): Promise<FdReport> {
  const r = rng(c.seed ?? 7);
  const graph: Graph = { name: 'fd', nodes: [], inputs: [], outputs: [], initializers: new Map(), valueInfo: new Map() };
  const b = new GraphBuilder(graph);
  const values = new Map<string, Float64Array>();
  for (const i of c.inputs) {
    graph.inputs.push({ name: i.name, dtype: 'float32', shape: i.shape });
    b.types.set(i.name, { dtype: 'float32', shape: i.shape });
    b.reserve(i.name);
    values.set(
      i.name,
      new Float64Array(numel(i.shape)).map(() => (i.gen ? i.gen(r) : normal(r))),
    );
  }
  const outs = c.build(b);
  const terms = outs.map((o) => {
    const t = b.type(o);
    const R = b.constant(
      tensorFromNumbers(
        t.dtype,
        t.shape,
        new Float64Array(numel(t.shape)).map(() => normal(r)),
      ),
      'probe',
    );
    return b.emit('ReduceSum', [b.emit('Mul', [o, R])], { keepdims: 0 });
  });
  const loss = terms.length === 1 ? terms[0] : b.emit('Sum', terms);
  const wrt = c.inputs.map((i) => i.name);
  const grads = buildGradients({ builder: b, graph, loss, wrt });
  c.post?.(b, graph);
  graph.outputs = [loss, ...outs, ...wrt.map((w) => grads.get(w) as string)].map((name) => ({ name, dtype: 'float32', shape: b.type(name).shape }));
  const s = await Session.create(serializeGraph(graph), { threads: 1 });
  const run = async (v: Map<string, Float64Array>) => {
    const feeds = Object.fromEntries(
      wrt.map((w) => [w, { data: Float32Array.from(v.get(w) as Float64Array), dims: b.type(w).shape, dtype: 'float32' as const }]),
    );
    return s.run(feeds);
  };
  const base = await run(values);
  const analytic = new Map(wrt.map((w) => [w, Float64Array.from(base[grads.get(w) as string].data as Float32Array)]));
  let scale = 0;
  for (const a of analytic.values()) for (const v of a) scale = Math.max(scale, Math.abs(v));
  const totalN = wrt.reduce((s, w) => s + (values.get(w) as Float64Array).length, 0);
  const dirs: Map<string, Float64Array>[] = [];
  if (totalN <= 256) {
    for (const w of wrt)
      for (let k = 0; k < (values.get(w) as Float64Array).length; k++) {
        const d = new Map(wrt.map((x) => [x, new Float64Array((values.get(x) as Float64Array).length)]));
        (d.get(w) as Float64Array)[k] = 1;
        dirs.push(d);
      }
  } else
    for (let j = 0; j < 12; j++)
      dirs.push(new Map(wrt.map((x) => [x, new Float64Array((values.get(x) as Float64Array).length).map(() => (r() < 0.5 ? -1 : 1))])));
  const h = c.h ?? 1e-3;
  let maxErr = 0;
  for (const d of dirs) {
    const shifted = (sgn: number) => new Map(wrt.map((w) => [w, (values.get(w) as Float64Array).map((v, k) => v + sgn * h * (d.get(w) as Float64Array)[k])]));
    const lp = (await run(shifted(1)))[loss].data as Float32Array;
    const lm = (await run(shifted(-1)))[loss].data as Float32Array;
    const fd = (lp[0] - lm[0]) / (2 * h);
    let an = 0;
    let dirScale = 0;
    for (const w of wrt) {
      const g = analytic.get(w) as Float64Array;
      const dv = d.get(w) as Float64Array;
      for (let k = 0; k < g.length; k++) {
        an += g[k] * dv[k];
        dirScale += Math.abs(g[k] * dv[k]);
      }
    }
    const err = Math.abs(fd - an) / (totalN <= 256 ? Math.max(1, scale) : Math.max(Math.abs(an), 1e-2 * dirScale));
    maxErr = Math.max(maxErr, err);
  }
  await s.release();
  return { maxErr, scale, checks: dirs.length, values: outs.map((o) => base[o].data as Float32Array), point: values, grads: analytic };
}
