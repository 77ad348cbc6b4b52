import { describe, expect, it } from 'vitest';
import { buildGradients } from '../../src/autodiff/gradient.js';
import { GraphBuilder, toAttrs } from '../../src/onnx/builder.js';
import { encodeModel } from '../../src/onnx/codec.js';
import { type Graph, type Model, numel, type Tensor } from '../../src/onnx/ir.js';
import { prepareGraph } from '../../src/onnx/prepare.js';
import { serializeGraph } from '../../src/onnx/serialize.js';
import { axisWindows, canonicalPoolAttrs, type PoolAxis, poolAxes } from '../../src/ops/pool.js';
import type { Attrs } from '../../src/ops/registry.js';
import { Session } from '../../src/runtime/session.js';
import { rng } from '../harness/rng.js';
import { checkVjp } from '../harness/vjp.js';

const TOL = 2e-3;

/** Distinct values (a seeded permutation of 0..n-1, spaced 0.05 apart): no ties in any window. */
function distinct(shape: number[], seed: number, offset = -0.05 * (numel(shape) / 2)): number[] {
  const r = rng(seed);
  const n = numel(shape);
  const v = Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(r() * (i + 1));
    [v[i], v[j]] = [v[j], v[i]];
  }
  return v.map((k) => offset + 0.05 * k);
}

const input = (shape: number[], seed = 1, offset?: number) => ({ shape, values: distinct(shape, seed, offset), wrt: true });

function oneNode(op: string, attrs: Attrs, x: { name: string; shape: number[] }, nOut: number, opset = 21): Model {
  const outputs = Array.from({ length: nOut }, (_, k) => `y${k}`);
  return {
    irVersion: 8,
    opsetImports: new Map([['', opset]]),
    producerName: 'test',
    producerVersion: '',
    metadata: {},
    graph: {
      name: 'g',
      nodes: [{ name: 'n', opType: op, domain: '', inputs: [x.name], outputs, attrs: toAttrs(attrs) }],
      inputs: [{ name: x.name, dtype: 'float32', shape: x.shape }],
      outputs: outputs.map((name, k) => ({ name, dtype: k ? 'int64' : 'float32', shape: undefined })),
      initializers: new Map<string, Tensor>(),
      valueInfo: new Map(),
    },
  };
}

/** Gradient of sum(y0) for a one-node model, plus the backward graph, run by onnxruntime. */
async function gradOfSum(op: string, attrs: Attrs, shape: number[], x: number[], nOut = 1): Promise<{ grad: number[]; graph: Graph }> {
  const { builder: b, graph } = prepareGraph(oneNode(op, attrs, { name: 'x', shape }, nOut));
  const loss = b.emit('ReduceSum', [graph.outputs[0].name], { keepdims: 0 });
  const g = buildGradients({ builder: b, graph, loss, wrt: ['x'] }).get('x') as string;
  graph.outputs = [{ name: g, dtype: 'float32', shape }];
  const s = await Session.create(serializeGraph(graph), { threads: 1 });
  const res = await s.run({ x: { data: Float32Array.from(x), dims: shape, dtype: 'float32' } });
  await s.release();
  return { grad: Array.from(res[g].data as Float32Array), graph };
}

describe('MaxPool VJP vs finite differences', () => {
  it('3x3 stride 2 pad 1 (the ResNet stem): overlapping windows add their gradients', async () => {
    const r = await checkVjp({ op: 'MaxPool', attrs: { kernel_shape: [3, 3], strides: [2, 2], pads: [1, 1, 1, 1] }, inputs: [input([1, 2, 7, 7])] });
    expect(r.maxErr).toBeLessThan(TOL);
  });
  it('2x2 stride 2 on a batch of 2 (flat indices address the whole N*C*H*W tensor)', async () => {
    const r = await checkVjp({ op: 'MaxPool', attrs: { kernel_shape: [2, 2], strides: [2, 2] }, inputs: [input([2, 2, 6, 6], 2)] });
    expect(r.maxErr).toBeLessThan(TOL);
  });
  it('non-overlapping windows (2x2 s2, asymmetric pads, ceil_mode) take the MaxUnpool route', async () => {
    const attrs = { kernel_shape: [2, 2], strides: [2, 2], pads: [1, 0, 0, 1], ceil_mode: 1 };
    const r = await checkVjp({ op: 'MaxPool', attrs, inputs: [input([2, 2, 5, 7], 11)] });
    expect(r.maxErr).toBeLessThan(TOL);
    const { graph } = await gradOfSum('MaxPool', attrs, [2, 2, 5, 7], distinct([2, 2, 5, 7], 11));
    const ops = graph.nodes.map((n) => n.opType);
    expect(ops).toContain('MaxUnpool');
    expect(ops).not.toContain('ScatterND');
  });
  it('3x3 stride 3 with dilation 1 and pads (non-overlapping, inputs left unread at the end)', async () => {
    const r = await checkVjp({ op: 'MaxPool', attrs: { kernel_shape: [3, 3], strides: [3, 3], pads: [1, 1, 0, 0] }, inputs: [input([1, 3, 9, 8], 12)] });
    expect(r.maxErr).toBeLessThan(TOL);
  });
  it('ceil_mode=1: the overhanging last window (6 -> 3 outputs with k3 s2) reads in-range taps only', async () => {
    const r = await checkVjp({ op: 'MaxPool', attrs: { kernel_shape: [3, 3], strides: [2, 2], ceil_mode: 1 }, inputs: [input([1, 2, 6, 6], 3)] });
    expect(r.maxErr).toBeLessThan(TOL);
  });
  it('all-negative inputs with padding: padding is -inf, never a 0 that wins the max', async () => {
    const r = await checkVjp({ op: 'MaxPool', attrs: { kernel_shape: [3, 3], strides: [2, 2], pads: [1, 1, 1, 1] }, inputs: [input([1, 2, 7, 7], 4, -10)] });
    expect(r.maxErr).toBeLessThan(TOL);
  });
  it('dilations 2 with asymmetric pads', async () => {
    const r = await checkVjp({
      op: 'MaxPool',
      attrs: { kernel_shape: [3, 2], strides: [1, 2], dilations: [2, 2], pads: [1, 0, 2, 1] },
      inputs: [input([1, 2, 8, 8], 5)],
    });
    expect(r.maxErr).toBeLessThan(TOL);
  });
  it('1-D MaxPool with auto_pad SAME_UPPER', async () => {
    const r = await checkVjp({ op: 'MaxPool', attrs: { kernel_shape: [4], strides: [3], auto_pad: 'SAME_UPPER' }, inputs: [input([2, 3, 11], 6)] });
    expect(r.maxErr).toBeLessThan(TOL);
  });
  it('Indices output requested by the forward graph: the VJP reuses it (one MaxPool in total)', async () => {
    const attrs = { kernel_shape: [3, 3], strides: [2, 2], pads: [1, 1, 1, 1] };
    const r = await checkVjp({ op: 'MaxPool', attrs, nOutputs: 2, inputs: [input([1, 2, 7, 7], 7)] });
    expect(r.maxErr).toBeLessThan(TOL);
    const { graph } = await gradOfSum('MaxPool', attrs, [1, 2, 7, 7], distinct([1, 2, 7, 7], 7), 2);
    expect(graph.nodes.filter((n) => n.opType === 'MaxPool').length).toBe(1);
  });
  it('column-major Indices (storage_order=1) are not reused: a row-major MaxPool is emitted', async () => {
    const attrs = { kernel_shape: [2, 2], strides: [2, 2], storage_order: 1 };
    const r = await checkVjp({ op: 'MaxPool', attrs, nOutputs: 2, inputs: [input([1, 2, 4, 6], 8)] });
    expect(r.maxErr).toBeLessThan(TOL);
  });
  it('a window of padding taps only (dilation wider than the input) routes nothing and scatters in bounds', async () => {
    // Axis 1: size 2, kernel 2, dilation 3, pads 1+1 -> one window with taps -1 and 2.
    const attrs = { kernel_shape: [2, 2], dilations: [1, 3], pads: [0, 1, 0, 1] };
    const shape = [1, 2, 3, 2];
    const { grad } = await gradOfSum('MaxPool', attrs, shape, distinct(shape, 9));
    expect(grad.every((v) => v === 0)).toBe(true);
  });
});

// onnxruntime's kernel drops a ceil_mode window that would start in the end padding, but the ONNX
// shape inference it runs at session creation keeps it; auto_pad SAME with dilations differs the
// same way. The upgrade rewrites such nodes to explicit pads / floor mode. (prepare.ts calls
// upgrade for opset < 21 only, hence opset 20 here.)
describe('pool nodes where ONNX shape inference and the onnxruntime kernel disagree', () => {
  it('MaxPool ceil_mode whose last window would start in the end padding (4 -> 2, not 3, with k2 s3 p1)', async () => {
    const attrs = { kernel_shape: [2, 2], strides: [3, 3], pads: [1, 1, 1, 1], ceil_mode: 1 };
    const r = await checkVjp({ op: 'MaxPool', attrs, opset: 20, inputs: [input([1, 2, 4, 4], 13)] });
    expect(r.maxErr).toBeLessThan(TOL);
  });
  it('AveragePool count_include_pad=1, same rule: rewritten only when the divisors stay the same', async () => {
    const attrs = { kernel_shape: [2, 2], strides: [3, 3], pads: [1, 1, 1, 1], ceil_mode: 1, count_include_pad: 1 };
    const r = await checkVjp({ op: 'AveragePool', attrs, opset: 20, inputs: [{ shape: [1, 2, 4, 4] }] });
    expect(r.maxErr).toBeLessThan(TOL);
  });
  it('MaxPool auto_pad SAME_UPPER with dilations 2 (onnxruntime pads with the undilated kernel: 7 -> 5)', async () => {
    const attrs = { kernel_shape: [3], dilations: [2], auto_pad: 'SAME_UPPER' };
    const r = await checkVjp({ op: 'MaxPool', attrs, opset: 20, inputs: [input([1, 2, 7], 14)] });
    expect(r.maxErr).toBeLessThan(TOL);
  });
  it('canonicalPoolAttrs: explicit pads for auto_pad; an end pad under which ONNX inference keeps no extra ceil window', () => {
    const node = (attrs: Attrs, opType = 'MaxPool') => ({ name: 'p', opType, domain: '', inputs: ['x'], outputs: ['y'], attrs: toAttrs(attrs) });
    const fail = (m: string): never => {
      throw new Error(m);
    };
    expect(canonicalPoolAttrs(node({ kernel_shape: [3, 3], strides: [2, 2], pads: [1, 1, 1, 1] }), [1, 1, 8, 8], fail)).toBeUndefined();
    expect(canonicalPoolAttrs(node({ kernel_shape: [3], dilations: [2], auto_pad: 'SAME_UPPER' }), [1, 1, 7], fail)).toEqual(
      toAttrs({ kernel_shape: [3], dilations: [2], pads: [1, 1] }),
    );
    expect(canonicalPoolAttrs(node({ kernel_shape: [2], strides: [3], pads: [1, 1], ceil_mode: 1 }), [1, 1, 4], fail)).toEqual(
      toAttrs({ kernel_shape: [2], strides: [3], pads: [1, 0], ceil_mode: 1 }),
    );
    // Axis 0 needs a smaller end pad; axis 1 relies on ceil_mode's clipped divisor, so ceil_mode stays.
    const avg = { kernel_shape: [4, 3], strides: [3, 2], pads: [1, 0, 3, 0], ceil_mode: 1, count_include_pad: 1 };
    expect(canonicalPoolAttrs(node(avg, 'AveragePool'), [1, 1, 7, 6], fail)).toEqual(toAttrs({ ...avg, pads: [1, 0, 2, 0] }));
  });
});

describe('MaxUnpool VJP vs finite differences', () => {
  it('gathers gy at the indices; output_shape given', async () => {
    // Indices as MaxPool 2x2 s2 would give them on a [1,2,4,5] input (global flat positions).
    const I = [0, 3, 11, 12, 20 + 6, 20 + 2, 20 + 15, 20 + 18];
    const r = await checkVjp({
      op: 'MaxUnpool',
      attrs: { kernel_shape: [2, 2], strides: [2, 2] },
      inputs: [{ shape: [1, 2, 2, 2] }, { shape: [1, 2, 2, 2], dtype: 'int64', values: I }, { shape: [4], dtype: 'int64', values: [1, 2, 4, 5] }],
    });
    expect(r.maxErr).toBeLessThan(TOL);
  });
});

describe('AveragePool VJP vs finite differences', () => {
  const avg = (attrs: Attrs, shape: number[], seed = 1, opset?: number) => checkVjp({ op: 'AveragePool', attrs, opset, seed, inputs: [{ shape }] });
  it('count_include_pad=0 with pads: border windows divide by their in-range count', async () => {
    const r = await avg({ kernel_shape: [3, 3], strides: [2, 2], pads: [1, 1, 1, 1], count_include_pad: 0 }, [1, 2, 7, 7]);
    expect(r.maxErr).toBeLessThan(TOL);
  });
  it('count_include_pad=1 with pads: every window divides by the full kernel', async () => {
    const r = await avg({ kernel_shape: [3, 3], strides: [2, 2], pads: [1, 1, 1, 1], count_include_pad: 1 }, [1, 2, 7, 7], 2);
    expect(r.maxErr).toBeLessThan(TOL);
  });
  it('ceil_mode=1 with count_include_pad=1: the overhanging window divides by its count clipped to size + pad_end', async () => {
    const r = await avg({ kernel_shape: [3, 3], strides: [2, 2], pads: [1, 1, 1, 1], ceil_mode: 1, count_include_pad: 1 }, [1, 2, 6, 6], 3);
    expect(r.maxErr).toBeLessThan(TOL);
  });
  it('ceil_mode=1 with count_include_pad=0 and no pads', async () => {
    const r = await avg({ kernel_shape: [2, 3], strides: [2, 2], ceil_mode: 1 }, [1, 2, 5, 6], 4);
    expect(r.maxErr).toBeLessThan(TOL);
  });
  it('3x3 stride 1 pad 1 (same-size smoothing)', async () => {
    const r = await avg({ kernel_shape: [3, 3], strides: [1, 1], pads: [1, 1, 1, 1] }, [2, 2, 6, 6], 5);
    expect(r.maxErr).toBeLessThan(TOL);
  });
  it('floor mode leaving trailing inputs unread (7 -> 3 with k2 s2): their gradient is 0 (output_padding)', async () => {
    const r = await avg({ kernel_shape: [2, 2], strides: [2, 2] }, [1, 3, 7, 5], 6);
    expect(r.maxErr).toBeLessThan(TOL);
  });
  it('dilations 2 (opset 19) with count_include_pad=1 and pads', async () => {
    const r = await avg({ kernel_shape: [3, 2], strides: [2, 1], dilations: [2, 2], pads: [2, 1, 1, 0], count_include_pad: 1 }, [1, 2, 8, 7], 7);
    expect(r.maxErr).toBeLessThan(TOL);
  });
  it('auto_pad SAME_LOWER, 1-D, from an opset-11 model', async () => {
    const r = await avg({ kernel_shape: [4], strides: [2], auto_pad: 'SAME_LOWER', count_include_pad: 1 }, [2, 3, 9], 8, 11);
    expect(r.maxErr).toBeLessThan(TOL);
  });
});

describe('global pooling VJPs', () => {
  it('GlobalAveragePool spreads g / (H*W) over the plane', async () => {
    const r = await checkVjp({ op: 'GlobalAveragePool', inputs: [{ shape: [2, 3, 4, 5] }] });
    expect(r.maxErr).toBeLessThan(TOL);
  });
  it('GlobalMaxPool routes g to the maximum', async () => {
    const r = await checkVjp({ op: 'GlobalMaxPool', inputs: [input([2, 3, 4, 5], 10)] });
    expect(r.maxErr).toBeLessThan(TOL);
  });
  it('GlobalMaxPool shares g equally among tied maxima (as torch.amax)', async () => {
    const x = [1, 3, 2, 3, 0, -1, 5, 5, 5];
    const { grad } = await gradOfSum('GlobalMaxPool', {}, [1, 1, 3, 3], x);
    expect(grad.map((v) => Math.round(v * 1000) / 1000)).toEqual([0, 0, 0, 0, 0, 0, 0.333, 0.333, 0.333]);
  });
});

// ---- Shape inference and window geometry against onnxruntime over a seeded sweep. ----

/** Reference forward from our geometry: max (lowest float for an empty window), or sum / divisor. */
function reference(axes: PoolAxis[], x: number[], kind: 'max' | 'avg0' | 'avg1'): { y: number[]; idx: number[] } {
  const wins = axes.map((a) => axisWindows(a, kind !== 'max'));
  const outSp = axes.map((a) => a.out);
  const inSp = axes.map((a) => a.size);
  const y: number[] = [];
  const idx: number[] = [];
  for (let p = 0; p < numel(outSp); p++) {
    const o = outSp.map((_, k) => Math.floor(p / numel(outSp.slice(k + 1))) % outSp[k]);
    let flat: number[] = [0];
    o.forEach((j, k) => {
      flat = flat.flatMap((f) => wins[k].taps[j].map((t) => f * inSp[k] + t));
    });
    if (kind === 'max') {
      let best = -3.4028234663852886e38;
      let bi = -1;
      for (const f of flat)
        if (x[f] > best) {
          best = x[f];
          bi = f;
        }
      y.push(best);
      idx.push(bi);
    } else {
      const div = kind === 'avg1' ? o.reduce((a, j, k) => a * wins[k].padCount[j], 1) : flat.length;
      y.push(flat.length ? flat.reduce((a, f) => a + x[f], 0) / div : 0);
    }
  }
  return { y, idx };
}

async function runOrt(nodes: { op: string; attrs: Attrs; nOut: number }[], shape: number[], x: number[], opset: number) {
  const outs: { name: string; dtype: 'float32' | 'int64'; shape: undefined }[] = [];
  const gn = nodes.map((n, i) => {
    const o = Array.from({ length: n.nOut }, (_, k) => `y${i}_${k}`);
    o.forEach((name, k) => {
      outs.push({ name, dtype: k ? 'int64' : 'float32', shape: undefined });
    });
    return { name: `n${i}`, opType: n.op, domain: '', inputs: ['x'], outputs: o, attrs: toAttrs(n.attrs) };
  });
  const model: Model = {
    irVersion: 8,
    opsetImports: new Map([['', opset]]),
    producerName: 'test',
    producerVersion: '',
    metadata: {},
    graph: { name: 'g', nodes: gn, inputs: [{ name: 'x', dtype: 'float32', shape }], outputs: outs, initializers: new Map(), valueInfo: new Map() },
  };
  const s = await Session.create(encodeModel(model), { threads: 1 });
  const r = await s.run({ x: { data: Float32Array.from(x), dims: shape, dtype: 'float32' } });
  await s.release();
  return outs.map((o) => ({ dims: r[o.name].dims, data: Array.from(r[o.name].data as Float32Array, Number) }));
}

describe('pool geometry matches onnxruntime', () => {
  it('output shapes, windows, indices and divisors over 250 seeded configurations (1-D/2-D, C=2 and C=16 for NCHWc)', async () => {
    const r = rng(7);
    const ri = (a: number, b: number) => a + Math.floor(r() * (b - a + 1));
    const problems: string[] = [];
    let checked = 0;
    for (let t = 0; t < 250; t++) {
      const nd = r() < 0.25 ? 1 : 2;
      const C = r() < 0.5 ? 2 : 16;
      const kernel = Array.from({ length: nd }, () => ri(1, 4));
      const strides = Array.from({ length: nd }, () => ri(1, 3));
      const dilations = Array.from({ length: nd }, () => (r() < 0.7 ? 1 : ri(2, 3)));
      const pads = [...kernel, ...kernel].map((k) => ri(0, k - 1));
      const autoPad = r() < 0.8 ? 'NOTSET' : ['VALID', 'SAME_UPPER', 'SAME_LOWER'][ri(0, 2)];
      const attrs: Attrs = {
        kernel_shape: kernel,
        strides,
        dilations,
        ceil_mode: r() < 0.5 ? 1 : 0,
        auto_pad: autoPad,
        pads: autoPad === 'NOTSET' ? pads : undefined,
      };
      const shape = [1, C, ...kernel.map(() => ri(3, 10))];
      let axes: PoolAxis[];
      try {
        axes = poolAxes({ name: 'n', opType: 'MaxPool', domain: '', inputs: ['x'], outputs: ['y'], attrs: toAttrs(attrs) }, shape, (m) => {
          throw new Error(m);
        });
      } catch {
        continue; // configurations we reject on purpose (empty output, negative SAME padding)
      }
      checked++;
      const x = Array.from({ length: numel(shape) }, () => Math.round((r() * 2 - 1) * 1000) / 100);
      const res = await runOrt(
        [
          { op: 'MaxPool', attrs, nOut: 1 },
          { op: 'MaxPool', attrs, nOut: 2 },
          { op: 'AveragePool', attrs: { ...attrs, count_include_pad: 0 }, nOut: 1 },
          { op: 'AveragePool', attrs: { ...attrs, count_include_pad: 1 }, nOut: 1 },
        ],
        shape,
        x,
        21,
      );
      const want = [1, C, ...axes.map((a) => a.out)];
      const label = `${JSON.stringify(attrs)} x[${shape}]`;
      if (res.some((q) => q.dims.join() !== want.join())) {
        problems.push(`${label}: shapes ${res.map((q) => `[${q.dims}]`).join(' ')} vs ours [${want}]`);
        continue;
      }
      const inPer = numel(shape.slice(2));
      const outPer = numel(want.slice(2));
      for (let ch = 0; ch < C && problems.length < 5; ch++) {
        const xc = x.slice(ch * inPer, (ch + 1) * inPer);
        const m = reference(axes, xc, 'max');
        const a0 = reference(axes, xc, 'avg0');
        const a1 = reference(axes, xc, 'avg1');
        for (let p = 0; p < outPer; p++) {
          const q = ch * outPer + p;
          const close = (u: number, v: number) => Math.abs(u - v) <= 1e-4 * Math.max(1, Math.abs(v));
          if (!close(res[0].data[q], m.y[p]) || !close(res[1].data[q], m.y[p])) problems.push(`${label}: max at ${q}`);
          else if (m.idx[p] >= 0 && res[2].data[q] !== m.idx[p] + ch * inPer) problems.push(`${label}: index at ${q}`);
          else if (!close(res[3].data[q], a0.y[p])) problems.push(`${label}: count_include_pad=0 at ${q}: ${res[3].data[q]} vs ${a0.y[p]}`);
          else if (!close(res[4].data[q], a1.y[p])) problems.push(`${label}: count_include_pad=1 at ${q}: ${res[4].data[q]} vs ${a1.y[p]}`);
          else continue;
          break;
        }
      }
    }
    expect(problems).toEqual([]);
    expect(checked).toBeGreaterThan(150);
  });

  it('rejects what onnxruntime cannot run or runs ambiguously; applies the ceil_mode last-window rule', () => {
    const fail = (m: string): never => {
      throw new Error(m);
    };
    const geom = (attrs: Attrs, shape: number[]) => () =>
      poolAxes({ name: 'p', opType: 'MaxPool', domain: '', inputs: ['x'], outputs: ['y'], attrs: toAttrs(attrs) }, shape, fail);
    expect(geom({ kernel_shape: [3, 3], pads: [3, 0, 0, 0] }, [1, 1, 8, 8])).toThrow(/smaller than the kernel/);
    expect(geom({ kernel_shape: [5] }, [1, 1, 4])).toThrow(/output would be empty/);
    expect(geom({ kernel_shape: [2], strides: [3], auto_pad: 'SAME_UPPER' }, [1, 1, 6])).toThrow(/negative padding/);
    expect(geom({ kernel_shape: [3, 3] }, [1, 1, 8])).toThrow(/rank/);
    // The ceil_mode rule: in=4, k=2, s=3, pads 1+1 -> 3 windows by the formula, the third would start in the end padding.
    expect(geom({ kernel_shape: [2], strides: [3], pads: [1, 1], ceil_mode: 1 }, [1, 1, 4])()[0].out).toBe(2);
  });
});

describe('pool VJPs over seeded random configurations', () => {
  it('MaxPool and AveragePool (both count_include_pad) match finite differences on 36 random 1-D/2-D configurations', async () => {
    const r = rng(11);
    const ri = (a: number, b: number) => a + Math.floor(r() * (b - a + 1));
    const bad: string[] = [];
    let done = 0;
    for (let t = 0; done < 36 && t < 400; t++) {
      const nd = r() < 0.3 ? 1 : 2;
      const kernel = Array.from({ length: nd }, () => ri(1, 4));
      const attrs: Attrs = {
        kernel_shape: kernel,
        strides: kernel.map(() => ri(1, 3)),
        dilations: kernel.map(() => (r() < 0.7 ? 1 : 2)),
        pads: [...kernel, ...kernel].map((k) => ri(0, k - 1)),
        ceil_mode: r() < 0.5 ? 1 : 0,
      };
      const shape = [1, 2, ...kernel.map(() => ri(3, nd === 1 ? 12 : 7))];
      const node = { name: 'n', opType: 'MaxPool', domain: '', inputs: ['x'], outputs: ['y'], attrs: toAttrs(attrs) };
      const fail = (m: string): never => {
        throw new Error(m);
      };
      let opset = 21;
      try {
        // Nodes that need canonicalising run through the upgrade, i.e. an opset < 21 (see above).
        if (canonicalPoolAttrs(node, shape, fail)) opset = 20;
      } catch {
        continue; // rejected on purpose (empty output)
      }
      done++;
      const op = done % 3 === 0 ? 'MaxPool' : 'AveragePool';
      const a = op === 'AveragePool' ? { ...attrs, count_include_pad: done % 2 } : attrs;
      const label = `${op} ${JSON.stringify(a)} x[${shape}] opset ${opset}`;
      try {
        const res = await checkVjp({ op, attrs: a, opset, inputs: [input(shape, t)] });
        if (!(res.maxErr < TOL)) bad.push(`${label}: ${res.maxErr}`);
      } catch (e) {
        bad.push(`${label}: ${String(e).slice(0, 160)}`);
      }
    }
    expect(bad).toEqual([]);
    expect(done).toBe(36);
  });
});

describe('ScatterElements / ScatterND type inference', () => {
  const builder = () => {
    const g: Graph = { name: 'g', nodes: [], inputs: [], outputs: [], initializers: new Map(), valueInfo: new Map() };
    const b = new GraphBuilder(g);
    b.types.set('data', { dtype: 'float32', shape: [4, 5] });
    return b;
  };
  it('ScatterElements: output is data; indices and updates must agree', () => {
    const b = builder();
    b.types.set('i', { dtype: 'int64', shape: [2, 5] });
    b.types.set('u', { dtype: 'float32', shape: [2, 5] });
    b.types.set('bad', { dtype: 'float32', shape: [2, 4] });
    expect(b.type(b.emit('ScatterElements', ['data', 'i', 'u'], { axis: 0, reduction: 'add' }))).toEqual({ dtype: 'float32', shape: [4, 5] });
    expect(() => b.emit('ScatterElements', ['data', 'i', 'bad'])).toThrow(/updates shape/);
    expect(() => b.emit('ScatterElements', ['data', 'i', 'u'], { axis: 2 })).toThrow(/axis/);
  });
  it('ScatterND: updates shape = indices.shape[:-1] + data.shape[k:]', () => {
    const b = builder();
    b.types.set('i', { dtype: 'int64', shape: [3, 1] });
    b.types.set('u', { dtype: 'float32', shape: [3, 5] });
    b.types.set('bad', { dtype: 'float32', shape: [3] });
    expect(b.type(b.emit('ScatterND', ['data', 'i', 'u']))).toEqual({ dtype: 'float32', shape: [4, 5] });
    expect(() => b.emit('ScatterND', ['data', 'i', 'bad'])).toThrow(/should be \[3,5\]/);
  });
});
