// The ONNX Dropout op itself (src/ops/elementwise.ts) in training mode: its VJP must reuse the node's own
// mask (onnxruntime draws it; a finite-difference check cannot, since every run draws a new one), so the
// tests compare, in ONE run, the gradient with g * mask / (1 - ratio). Plus the identity cases.
import { describe, expect, it } from 'vitest';
import { buildGradients } from '../../src/autodiff/gradient.js';
import { GraphBuilder } from '../../src/onnx/builder.js';
import { type Graph, tensorFromNumbers } from '../../src/onnx/ir.js';
import { serializeGraph } from '../../src/onnx/serialize.js';
import { Session } from '../../src/runtime/session.js';
import { normal, rng } from '../harness/rng.js';
import { checkVjp } from '../harness/vjp.js';

const SHAPE = [4, 50];
const N = 200;

interface Built {
  b: GraphBuilder;
  graph: Graph;
  y: string;
  mask?: string;
  gx: string;
  R: Float32Array;
}

/** x -> Dropout(x, ratio, training) -> L = sum(y * R); returns the names to fetch. */
function build(ratio: number | undefined, training: 'true' | 'false' | 'input' | 'absent', withMask: boolean): Built {
  const graph: Graph = {
    name: 'd',
    nodes: [],
    inputs: [{ name: 'x', dtype: 'float32', shape: SHAPE }],
    outputs: [],
    initializers: new Map(),
    valueInfo: new Map(),
  };
  const b = new GraphBuilder(graph);
  b.types.set('x', { dtype: 'float32', shape: SHAPE });
  let tm = '';
  if (training === 'input') {
    graph.inputs.push({ name: 'tm', dtype: 'bool', shape: [] });
    b.types.set('tm', { dtype: 'bool', shape: [] });
    tm = 'tm';
  } else if (training !== 'absent') tm = b.constant(tensorFromNumbers('bool', [], [training === 'true' ? 1 : 0]));
  const inputs = ['x', ratio === undefined ? '' : b.scalar(ratio), tm];
  while (inputs.length && inputs[inputs.length - 1] === '') inputs.pop();
  const outs = b.emitN('Dropout', inputs, withMask ? 2 : 1, { seed: 3 });
  const r = rng(5);
  const R = Float32Array.from({ length: N }, () => normal(r));
  const loss = b.emit('ReduceSum', [b.emit('Mul', [outs[0], b.constant({ dtype: 'float32', dims: SHAPE, data: R })])], { keepdims: 0 });
  const gx = buildGradients({ builder: b, graph, loss, wrt: ['x'] }).get('x') as string;
  return { b, graph, y: outs[0], mask: outs[1], gx, R };
}

async function run(t: Built, feedTraining?: boolean) {
  t.graph.outputs = [t.y, t.gx, ...(t.mask ? [t.mask] : [])].map((name) => ({ name, dtype: t.b.type(name).dtype, shape: t.b.type(name).shape }));
  const s = await Session.create(serializeGraph(t.graph), { threads: 1 });
  const x = Float32Array.from({ length: N }, (_, i) => 1 + (i % 7));
  const feeds: Parameters<Session['run']>[0] = { x: { data: x, dims: SHAPE, dtype: 'float32' } };
  if (feedTraining !== undefined) feeds.tm = { data: Uint8Array.of(feedTraining ? 1 : 0), dims: [], dtype: 'bool' };
  const o = await s.run(feeds);
  await s.release();
  return { x, y: o[t.y].data as Float32Array, gx: o[t.gx].data as Float32Array, mask: t.mask ? (o[t.mask].data as Uint8Array) : undefined };
}

describe('ONNX Dropout in training mode: VJP = g * mask / (1 - ratio) from the node mask', () => {
  it('constant training_mode true, ratio 0.4: y = x * mask / 0.6 and dX = R * mask / 0.6, with about 40% dropped', async () => {
    const t = build(0.4, 'true', true);
    const { x, y, gx, mask } = await run(t);
    const m = mask as Uint8Array;
    let dropped = 0;
    for (let i = 0; i < N; i++) {
      const k = m[i] ? 1 / 0.6 : 0;
      if (!m[i]) dropped++;
      expect(y[i]).toBeCloseTo(x[i] * k, 5);
      expect(gx[i]).toBeCloseTo(t.R[i] * k, 5);
    }
    expect(dropped).toBeGreaterThan(0.25 * N);
    expect(dropped).toBeLessThan(0.55 * N);
  });

  it('runtime training_mode input: true drops and scales, false is the identity (mask all ones, no 1/(1-ratio))', async () => {
    const t = build(0.5, 'input', true);
    const on = await run(t, true);
    const m = on.mask as Uint8Array;
    expect(m.some((v) => v === 0)).toBe(true);
    for (let i = 0; i < N; i++) expect(on.gx[i]).toBeCloseTo(t.R[i] * (m[i] ? 2 : 0), 5);
    const off = await run(build(0.5, 'input', true), false);
    for (let i = 0; i < N; i++) expect(off.gx[i]).toBeCloseTo(t.R[i], 6);
  });

  it('training mode without the mask output fails with a clear message', () => {
    expect(() => build(0.4, 'true', false)).toThrow(/needs its mask output/);
  });

  it('inference forms are the identity: training_mode absent or constant false', async () => {
    for (const mode of ['absent', 'false'] as const) {
      const t = build(0.4, mode, false);
      const { x, y, gx } = await run(t);
      expect(Array.from(y)).toEqual(Array.from(x));
      expect(Array.from(gx)).toEqual(Array.from(t.R));
    }
  });

  it('opset 10 (ratio as an attribute) is upgraded to the opset-12 input form: identity forward and gradient', async () => {
    const r = await checkVjp({ op: 'Dropout', opset: 10, attrs: { ratio: { type: 'float', value: 0.3 } }, inputs: [{ shape: [3, 4] }] });
    expect(r.maxErr).toBeLessThan(1e-3);
  });
});
