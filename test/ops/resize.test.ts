// Resize / Upsample: every case pins two things.
// 1. The forward matrices: Ah·X·Awᵀ computed in TypeScript (the matrices the VJP emits) equals what
//    onnxruntime computes for the canonical graph we emit and for the ORIGINAL model (its own opset,
//    before our upgrade; skipped only where noted). Nearest is exact.
// 2. The VJP against finite differences (checkVjp).
import { describe, expect, it } from 'vitest';
import { toAttrs } from '../../src/onnx/builder.js';
import { encodeModel } from '../../src/onnx/codec.js';
import { type DType, type Model, numel, type Tensor, tensorFromNumbers } from '../../src/onnx/ir.js';
import { prepareGraph } from '../../src/onnx/prepare.js';
import { serializeGraph } from '../../src/onnx/serialize.js';
import { type Attrs, float } from '../../src/ops/registry.js';
import { axisMatrix, type ResizeSpec, resizeSpec } from '../../src/ops/resize.js';
import { Session } from '../../src/runtime/session.js';
import { normal, rng } from '../harness/rng.js';
import { checkVjp, type InputSpec, type OpCase } from '../harness/vjp.js';

const TOL = 2e-3;
/** Matrix forward vs onnxruntime: float32 rounding only (nearest is exact). */
const FWD_TOL = 2e-6;

interface ResizeArgs {
  scales?: number[];
  sizes?: number[];
  roi?: number[];
  opset?: number;
  /** opset 11/12: roi and scales are required inputs, given as empty tensors. */
  emptyRequired?: boolean;
  seed?: number;
}

const omitted: InputSpec = { shape: [0], omit: true };
const empty: InputSpec = { shape: [0], values: [] };

function resize(shape: number[], attrs: Attrs, a: ResizeArgs): OpCase {
  const fill = a.emptyRequired ? empty : omitted;
  const inputs: InputSpec[] = [
    { shape },
    a.roi ? { shape: [a.roi.length], values: a.roi } : fill,
    a.scales ? { shape: [a.scales.length], values: a.scales } : fill,
  ];
  if (a.sizes) inputs.push({ shape: [a.sizes.length], dtype: 'int64', values: a.sizes });
  return { op: 'Resize', attrs, inputs, opset: a.opset, seed: a.seed };
}

const irFor = (opset: number) => (opset <= 12 ? 7 : opset <= 18 ? 8 : opset <= 20 ? 9 : 10);

/** The one-node model at the case's own opset (no upgrade), X as the graph input. */
function originalModel(c: OpCase): Model {
  const opset = c.opset ?? 21;
  const initializers = new Map<string, Tensor>();
  c.inputs.forEach((s, i) => {
    if (i > 0 && !s.omit) initializers.set(`in${i}`, tensorFromNumbers((s.dtype ?? 'float32') as DType, s.shape, s.values ?? []));
  });
  return {
    irVersion: irFor(opset),
    opsetImports: new Map([['', opset]]),
    producerName: 'test',
    producerVersion: '',
    metadata: {},
    graph: {
      name: 'g',
      nodes: [{ name: c.op, opType: c.op, domain: '', inputs: c.inputs.map((s, i) => (s.omit ? '' : `in${i}`)), outputs: ['out0'], attrs: toAttrs(c.attrs) }],
      inputs: [{ name: 'in0', dtype: 'float32', shape: c.inputs[0].shape }],
      outputs: [{ name: 'out0', dtype: 'float32', shape: undefined }],
      initializers,
      valueInfo: new Map(),
    },
  };
}

/** The separable forward with our matrices, axis by axis, then extrapolation_value on outside rows. */
function applyMatrices(spec: ResizeSpec, x: Float32Array): Float64Array {
  let cur = Float64Array.from(x);
  const shape = [...spec.inShape];
  const mats = spec.inShape.map((_, d) => axisMatrix(spec, d));
  mats.forEach((mt, d) => {
    const outer = numel(shape.slice(0, d));
    const inner = numel(shape.slice(d + 1));
    const next = new Float64Array(outer * mt.nOut * inner);
    for (let o = 0; o < outer; o++)
      for (let i = 0; i < mt.nOut; i++)
        for (let k = 0; k < mt.nIn; k++) {
          const w = mt.m[i * mt.nIn + k];
          if (w === 0) continue;
          for (let j = 0; j < inner; j++) next[(o * mt.nOut + i) * inner + j] += w * cur[(o * mt.nIn + k) * inner + j];
        }
    cur = next;
    shape[d] = mt.nOut;
  });
  if (mats.some((mt) => mt.outside.some((v) => v))) {
    for (let idx = 0; idx < cur.length; idx++) {
      let rem = idx;
      for (let d = shape.length - 1; d >= 0; d--) {
        const p = rem % shape[d];
        rem = Math.floor(rem / shape[d]);
        if (mats[d].outside[p]) cur[idx] = spec.extrapolation;
      }
    }
  }
  return cur;
}

async function runOrt(bytes: Uint8Array, x: Float32Array, dims: number[], out: string) {
  const sess = await Session.create(bytes, { threads: 1 });
  const y = (await sess.run({ in0: { data: x, dims, dtype: 'float32' } }))[out];
  await sess.release();
  return y;
}

/**
 * Max |ours - onnxruntime| relative to max |y|, against onnxruntime on the canonical graph we emit and
 * (unless skipOriginal) on the original model; also checks the inferred output shape.
 */
async function forwardError(c: OpCase, skipOriginal = false): Promise<number> {
  const model = originalModel(c);
  const r = rng(c.seed ?? 5);
  const dims = c.inputs[0].shape;
  const x = Float32Array.from({ length: numel(dims) }, () => normal(r));
  const { builder: b, graph } = prepareGraph(model, {});
  const node = graph.nodes.find((n) => n.opType === 'Resize');
  if (!node) throw new Error('no Resize node after prepare');
  const spec = resizeSpec(b.opCtx(node));
  const ours = applyMatrices(spec, x);
  const runs = [runOrt(serializeGraph(graph), x, dims, graph.outputs[0].name)];
  if (!skipOriginal) runs.push(runOrt(encodeModel(model), x, dims, 'out0'));
  let err = 0;
  for (const y of await Promise.all(runs)) {
    expect(y.dims).toEqual(spec.outShape);
    const theirs = y.data as Float32Array;
    let e = 0;
    let scale = 1;
    for (let i = 0; i < theirs.length; i++) {
      e = Math.max(e, Math.abs(ours[i] - theirs[i]));
      scale = Math.max(scale, Math.abs(theirs[i]));
    }
    err = Math.max(err, e / scale);
  }
  return err;
}

async function pin(c: OpCase, skipOriginal = false): Promise<void> {
  expect(await forwardError(c, skipOriginal)).toBeLessThan(FWD_TOL);
  const r = await checkVjp(c);
  expect(r.scale).toBeGreaterThan(0);
  expect(r.maxErr).toBeLessThan(TOL);
}

const lin = (transform: string, extra: Attrs = {}): Attrs => ({ mode: 'linear', coordinate_transformation_mode: transform, ...extra });
const nn = (transform: string, nearest: string): Attrs => ({ mode: 'nearest', coordinate_transformation_mode: transform, nearest_mode: nearest });

describe('Resize: forward matrices match onnxruntime and the VJP matches finite differences', () => {
  it('bilinear half_pixel x2 (border rows clamp the coordinate -0.25 to 0)', async () => {
    await pin(resize([1, 2, 3, 4], lin('half_pixel'), { scales: [1, 1, 2, 2] }));
  });
  it('bilinear half_pixel x4', async () => {
    await pin(resize([1, 1, 3, 4], lin('half_pixel'), { scales: [1, 1, 4, 4] }));
  });
  it('bilinear pytorch_half_pixel x2 (PyTorch F.interpolate align_corners=False export)', async () => {
    await pin(resize([2, 1, 3, 4], lin('pytorch_half_pixel'), { scales: [1, 1, 2, 2] }));
  });
  it('pytorch_half_pixel with output size 1: the coordinate is 0, not -0.5 + in/2', async () => {
    await pin(resize([1, 2, 4, 5], lin('pytorch_half_pixel'), { sizes: [1, 2, 1, 3] }));
  });
  it('align_corners up-sampling 3x4 -> 7x9 (corners map to corners)', async () => {
    await pin(resize([1, 2, 3, 4], lin('align_corners'), { sizes: [1, 2, 7, 9] }));
  });
  it('align_corners DOWN-sampling 7x9 -> 3x4', async () => {
    await pin(resize([1, 2, 7, 9], lin('align_corners'), { sizes: [1, 2, 3, 4] }));
  });
  it('bilinear asymmetric x2 and x1.5 (last output rows clamp at in-1)', async () => {
    await pin(resize([1, 1, 4, 4], lin('asymmetric'), { scales: [1, 1, 2, 1.5] }));
  });
  it('bilinear down-sampling by 0.5 (half_pixel: each output averages a 2x2 block)', async () => {
    await pin(resize([1, 2, 8, 6], lin('half_pixel'), { scales: [1, 1, 0.5, 0.5] }));
  });
  for (const nearest of ['round_prefer_floor', 'round_prefer_ceil', 'floor', 'ceil']) {
    it(`nearest ${nearest}, 5 -> 8 and 8 -> 5 (not integer multiples; asymmetric 4/1.6 lands exactly on a .5 tie)`, async () => {
      await pin(resize([1, 1, 5, 8], nn('asymmetric', nearest), { sizes: [1, 1, 8, 5] }));
      await pin(resize([1, 1, 8, 5], nn('half_pixel', nearest), { sizes: [1, 1, 5, 8] }));
    });
  }
  it('nearest default (round_prefer_floor, half_pixel) x2 on NCHW: block sum as AveragePool x k^2', async () => {
    await pin(resize([1, 2, 3, 3], { mode: 'nearest' }, { scales: [1, 1, 2, 2] }));
    await pin(resize([2, 2, 3, 4], nn('asymmetric', 'floor'), { scales: [1, 1, 3, 1] }));
  });
  it('nearest x2 of a rank-3 input with 48-long axes: block adjoint (one Reshape + ReduceSum over both axes)', async () => {
    await pin(resize([1, 48, 50], nn('asymmetric', 'floor'), { scales: [1, 2, 2] }));
  });
  it('nearest x2 on short axes of a rank-3 input: 0/1 matrices through MatMul', async () => {
    await pin(resize([2, 3, 5], nn('asymmetric', 'floor'), { scales: [1, 2, 2] }));
  });
  it('nearest x3 on a 48-long W with x1.5 on H: block adjoint on one axis, MatMul on the other', async () => {
    await pin(resize([1, 1, 3, 48], nn('asymmetric', 'floor'), { scales: [1, 1, 1.5, 3] }));
  });
  it('nearest x2 on the channel axis: the block adjoint works on any axis', async () => {
    await pin(resize([1, 2, 3, 3], nn('asymmetric', 'floor'), { scales: [1, 2, 1, 1] }));
  });
  it('opset 11 with an roi input present (ignored outside tf_crop_and_resize) and empty scales with sizes', async () => {
    await pin(resize([1, 1, 4, 5], lin('half_pixel'), { roi: [0, 0, 0.1, 0.2, 1, 1, 0.9, 0.7], scales: [1, 1, 1.5, 2], opset: 11 }));
    await pin(resize([1, 1, 4, 5], lin('align_corners'), { sizes: [1, 1, 6, 3], opset: 11, emptyRequired: true }));
  });
  it('opset 11 tf_crop_and_resize: roi crop, extrapolation_value outside, zero gradient there', async () => {
    const attrs = lin('tf_crop_and_resize', { extrapolation_value: float(0.7) });
    await pin(resize([1, 1, 4, 5], attrs, { roi: [0, 0, -0.2, 0.1, 1, 1, 0.8, 1.3], sizes: [1, 1, 5, 6], opset: 11, emptyRequired: true }));
    await pin(
      resize(
        [1, 1, 4, 5],
        { ...nn('tf_crop_and_resize', 'round_prefer_ceil') },
        { roi: [0, 0, -0.2, 0.1, 1, 1, 0.8, 1.3], sizes: [1, 1, 5, 6], opset: 11, emptyRequired: true },
      ),
    );
  });
  it('opset 13 with sizes (roi and scales omitted)', async () => {
    await pin(resize([1, 3, 4, 6], lin('pytorch_half_pixel'), { sizes: [1, 3, 9, 4], opset: 13 }));
  });
  it('opset 18 axes with sizes and keep_aspect_ratio_policy (scale = min/max ratio, round; negative axes normalised)', async () => {
    await pin(resize([1, 2, 4, 6], { ...lin('half_pixel'), axes: [2, 3], keep_aspect_ratio_policy: 'not_larger' }, { sizes: [7, 9], opset: 18 }));
    // onnxruntime ignores the negative axis under a policy (output stays 6 wide); the spec and our
    // canonical node (axes normalised) give 9.
    await pin(resize([1, 2, 4, 6], { ...lin('half_pixel'), axes: [-1], keep_aspect_ratio_policy: 'not_smaller' }, { sizes: [9], opset: 18 }), true);
  });
  it('opset 19 half_pixel_symmetric (centre-preserving offset)', async () => {
    await pin(resize([1, 1, 4, 5], lin('half_pixel_symmetric'), { sizes: [1, 1, 7, 8], opset: 19 }));
  });
  it('tf_half_pixel_for_nn nearest (opset 11)', async () => {
    await pin(resize([1, 1, 4, 5], nn('tf_half_pixel_for_nn', 'round_prefer_floor'), { scales: [1, 1, 1.5, 2.5], opset: 11, emptyRequired: true }));
  });
  it('1-D resize of the last axis of a rank-3 input (trilinear kernel with unit outer scales)', async () => {
    await pin(resize([2, 3, 5], lin('half_pixel'), { sizes: [2, 3, 9] }));
    await pin(resize([2, 3, 5], nn('asymmetric', 'floor'), { scales: [1, 1, 2.5] }));
  });
  it('only the H axis resized (W identity): one MatMul', async () => {
    await pin(resize([1, 2, 4, 5], lin('half_pixel'), { sizes: [1, 2, 7, 5] }));
  });
  it('bicubic (Keys a=-0.75, border taps clamp) and with exclude_outside renormalising', async () => {
    await pin(resize([1, 1, 4, 5], { mode: 'cubic' }, { scales: [1, 1, 2, 1.6] }));
    await pin(resize([1, 1, 6, 5], { mode: 'cubic', cubic_coeff_a: float(-0.5), exclude_outside: 1 }, { sizes: [1, 1, 4, 8] }));
  });
  it('antialias=1 (opset 18) linear and cubic down-sampling: widened filter, taps beyond the border fold onto it', async () => {
    await pin(resize([1, 1, 9, 8], { ...lin('half_pixel'), antialias: 1 }, { sizes: [1, 1, 4, 3], opset: 18 }));
    await pin(resize([1, 1, 9, 8], { mode: 'cubic', antialias: 1 }, { sizes: [1, 1, 5, 3], opset: 18 }));
  });
  it('antialias=1 with exclude_outside (taps beyond the border dropped, weights renormalised) and up-sampling', async () => {
    await pin(resize([1, 1, 9, 8], { mode: 'cubic', antialias: 1, exclude_outside: 1 }, { sizes: [1, 1, 4, 3], opset: 18 }));
    await pin(resize([1, 1, 3, 4], { ...lin('align_corners'), antialias: 1 }, { sizes: [1, 1, 7, 6], opset: 18 }));
  });
  it('antialias=1 with tf_crop_and_resize and axes: the roi crops (onnxruntime fails if it extrapolates)', async () => {
    const attrs = { ...lin('tf_crop_and_resize'), antialias: 1, axes: [2, 3] };
    await pin(resize([1, 1, 8, 9], attrs, { roi: [0.1, 0.2, 0.9, 0.8], sizes: [4, 3], opset: 18 }));
  });
  it('Resize-10 nearest (asymmetric; legacy rounding truncates up-sampling, ceils down-sampling) is upgraded faithfully', async () => {
    await pin({ op: 'Resize', opset: 10, attrs: { mode: 'nearest' }, inputs: [{ shape: [1, 1, 3, 4] }, { shape: [4], values: [1, 1, 2.5, 1.5] }] });
    await pin({ op: 'Resize', opset: 10, attrs: { mode: 'nearest' }, inputs: [{ shape: [1, 1, 9, 7] }, { shape: [4], values: [1, 1, 0.6, 0.45] }] });
    await pin({ op: 'Resize', opset: 10, attrs: { mode: 'linear' }, inputs: [{ shape: [1, 1, 3, 4] }, { shape: [4], values: [1, 1, 2.5, 0.75] }] });
  });
  it('Upsample at opset 9 (scales input) becomes Resize linear asymmetric', async () => {
    await pin({ op: 'Upsample', opset: 9, attrs: { mode: 'linear' }, inputs: [{ shape: [1, 2, 3, 4] }, { shape: [4], values: [1, 1, 2, 3] }] });
    await pin({ op: 'Upsample', opset: 9, attrs: { mode: 'nearest' }, inputs: [{ shape: [1, 2, 3, 4] }, { shape: [4], values: [1, 1, 2, 2.5] }] });
  });
  it('Upsample at opset 7 (scales attribute)', async () => {
    await pin({ op: 'Upsample', opset: 7, attrs: { mode: 'nearest', scales: { type: 'floats', value: [1, 1, 3, 2] } }, inputs: [{ shape: [1, 1, 2, 3] }] });
  });
});

describe('Resize: forward matrices over a sweep of configurations', () => {
  // Every mode x coordinate transform x nearest_mode on awkward lengths (1, primes, non-multiples),
  // through scales (float32 products and truncation) and sizes (float32 ratios).
  const transforms = ['half_pixel', 'half_pixel_symmetric', 'pytorch_half_pixel', 'align_corners', 'asymmetric', 'tf_half_pixel_for_nn', 'tf_crop_and_resize'];
  const lengths: [number, number][] = [
    [1, 3],
    [3, 1],
    [2, 5],
    [5, 2],
    [5, 8],
    [8, 5],
    [7, 3],
    [4, 9],
  ];
  const scaleList = [0.5, 0.6, 0.75, 1 / 3, 1.3, 1.5, 1.6, 2, 2.5, 3];
  const kinds: Attrs[] = [
    ...['round_prefer_floor', 'round_prefer_ceil', 'floor', 'ceil'].map((m) => ({ mode: 'nearest', nearest_mode: m })),
    { mode: 'linear' },
    { mode: 'cubic' },
    { mode: 'cubic', exclude_outside: 1, cubic_coeff_a: float(-0.5) },
    { mode: 'linear', antialias: 1 },
    { mode: 'cubic', antialias: 1 },
    { mode: 'linear', antialias: 1, exclude_outside: 1 },
  ];
  for (const kind of kinds) {
    it(`${JSON.stringify(kind)} under every coordinate transform`, async () => {
      let k = 0;
      for (const t of transforms) {
        // onnxruntime rejects antialias with an roi that extrapolates.
        const roi = t === 'tf_crop_and_resize' ? (kind.antialias ? [0.1, 0.05, 0.8, 0.9] : [-0.15, 0.1, 0.8, 1.2]) : undefined;
        for (const [hIn, hOut] of lengths) {
          const wIn = lengths[(k + 3) % lengths.length][0] + 1;
          const ws = scaleList[k % scaleList.length];
          k++;
          // H by sizes, W by scales, both through axes (opset 18+ form).
          const attrs: Attrs = { ...kind, coordinate_transformation_mode: t, axes: [2, 3], extrapolation_value: float(0.25) };
          const viaSizes: OpCase = resize([1, 2, hIn, wIn], attrs, { roi, sizes: [hOut, Math.max(1, Math.trunc(Math.fround(ws) * wIn))], seed: k });
          const viaScales: OpCase = resize([1, 2, hIn, wIn], attrs, { roi, scales: [hOut / hIn, ws], seed: k });
          for (const c of [viaSizes, viaScales]) {
            const err = await forwardError(c, true);
            if (!(err < FWD_TOL)) throw new Error(`${JSON.stringify(c.attrs)} ${JSON.stringify(c.inputs.map((i) => i.values))}: error ${err}`);
          }
        }
      }
    });
  }
});

describe('Resize: clear failures', () => {
  it('non-constant scales are rejected at prepare time', async () => {
    await expect(checkVjp({ op: 'Resize', attrs: lin('half_pixel'), inputs: [{ shape: [1, 1, 2, 2] }, omitted, { shape: [4] }] })).rejects.toThrow(
      /scales \(input 2\) must be a constant/,
    );
  });
  it('resizing the channel axis has no gradient rule and says so', async () => {
    await expect(checkVjp(resize([1, 2, 3, 3], nn('asymmetric', 'floor'), { scales: [1, 1.5, 1, 1] }))).rejects.toThrow(/last two axes only.*; axis 1/);
  });
});
