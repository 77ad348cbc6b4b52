// Resize, and the deprecated Upsample (upgraded to Resize).
// Resize is linear and separable: along each axis, out = A · x with an interpolation matrix A [out, in].
// We compute A at build time exactly as onnxruntime's CPU kernel does (float32 coordinate arithmetic,
// border clamping, nearest rounding, cubic/antialias weights), so the adjoint of a resize of the last
// two axes is gX = Ahᵀ · g · Aw: two MatMuls with constant matrices that broadcast over N, C.
import { type Node, numel, type Tensor, tensorFromNumbers, toNumbers } from '../onnx/ir.js';
import { type OpCtx, type OpDef, registerOps, type TypeInfo, type UpgradeCtx, type VjpCtx } from './registry.js';
import { need, normAxis } from './util.js';

/** onnxruntime computes coordinates in float32: every step rounds. */
const f = Math.fround;

export type ResizeMode = 'nearest' | 'linear' | 'cubic';
const MODES = ['nearest', 'linear', 'cubic'];
const TRANSFORMS = ['half_pixel', 'half_pixel_symmetric', 'pytorch_half_pixel', 'align_corners', 'asymmetric', 'tf_half_pixel_for_nn', 'tf_crop_and_resize'];
const NEAREST_MODES = ['round_prefer_floor', 'round_prefer_ceil', 'floor', 'ceil'];
const POLICIES = ['stretch', 'not_larger', 'not_smaller'];

/** Everything that determines a Resize node's output, resolved to per-axis values. */
export interface ResizeSpec {
  mode: ResizeMode;
  transform: string;
  nearestMode: string;
  cubicA: number;
  excludeOutside: boolean;
  antialias: boolean;
  extrapolation: number;
  inShape: number[];
  outShape: number[];
  /** Per-axis float32 scale as onnxruntime uses it in the coordinate transform (1 on untouched axes). */
  scales: number[];
  /** Per-axis roi (used by tf_crop_and_resize only; else 0 and 1). */
  roiStart: number[];
  roiEnd: number[];
}

type SpecCtx = Pick<OpCtx, 'node' | 'type' | 'value' | 'fail'>;

function strAttr(node: Node, name: string, dflt: string, allowed: string[], fail: (m: string) => never): string {
  const a = node.attrs[name];
  if (a === undefined) return dflt;
  if (a.type !== 'string') fail(`attribute ${name} must be a string`);
  if (!allowed.includes(a.value)) fail(`${name}='${a.value}' is not supported (expected one of ${allowed.join(', ')})`);
  return a.value;
}

function numAttr(node: Node, name: string, dflt: number, fail: (m: string) => never): number {
  const a = node.attrs[name];
  if (a === undefined) return dflt;
  if (a.type !== 'float' && a.type !== 'int') fail(`attribute ${name} must be a number`);
  return a.value;
}

/** std::round: halves away from zero. */
const roundAway = (x: number): number => (x < 0 ? -Math.round(-x) : Math.round(x));

/** Resolves attributes, scales/sizes/roi (which must be constants) and the output shape, as onnxruntime does. */
export function resizeSpec(ctx: SpecCtx): ResizeSpec {
  const { node, fail } = ctx;
  const x = ctx.type(0) ?? fail('input 0 is required');
  const rank = x.shape.length;
  if (rank === 0) fail('input must have rank >= 1');
  const mode = strAttr(node, 'mode', 'nearest', MODES, fail) as ResizeMode;
  const transform = strAttr(node, 'coordinate_transformation_mode', 'half_pixel', TRANSFORMS, fail);
  const nearestMode = strAttr(node, 'nearest_mode', 'round_prefer_floor', NEAREST_MODES, fail);
  const policy = strAttr(node, 'keep_aspect_ratio_policy', 'stretch', POLICIES, fail);
  const antialias = numAttr(node, 'antialias', 0, fail) !== 0;
  const excludeOutside = numAttr(node, 'exclude_outside', 0, fail) !== 0;
  if (antialias && mode === 'nearest') fail('antialias=1 requires mode linear or cubic');
  if (excludeOutside && mode !== 'cubic' && !(antialias && mode === 'linear')) fail('exclude_outside=1 requires mode cubic (or linear with antialias=1)');

  const axesAttr = node.attrs.axes;
  let axes = x.shape.map((_, k) => k);
  if (axesAttr !== undefined) {
    if (axesAttr.type !== 'ints') return fail('attribute axes must be a list of ints');
    axes = axesAttr.value.map((a) => normAxis(a, rank, fail));
    if (new Set(axes).size !== axes.length) fail(`axes [${axesAttr.value}] has duplicates`);
    // onnxruntime ignores negative axes under keep_aspect_ratio_policy: store them normalised.
    if (axesAttr.value.some((a) => a < 0)) node.attrs.axes = { type: 'ints', value: axes };
  }

  // Empty tensors stand for omitted inputs (exporters give roi/scales as [] at opset 11-12).
  const given = (i: number): Tensor | undefined => {
    if (!node.inputs[i]) return undefined;
    const t = ctx.type(i);
    if (!t || numel(t.shape) === 0) return undefined;
    const v = ctx.value(i);
    if (!v) fail(`${['', 'roi', 'scales', 'sizes'][i]} (input ${i}) must be a constant for robustscope to compile the graph`);
    return v;
  };
  const scalesT = given(2);
  const sizesT = given(3);
  if (scalesT && sizesT) fail('give either scales or sizes, not both');
  if (!scalesT && !sizesT) fail('needs scales or sizes');
  const inShape = [...x.shape];
  const outShape = [...x.shape];
  const scales = x.shape.map(() => 1);
  if (scalesT) {
    const v = toNumbers(scalesT).map(f);
    if (v.length !== axes.length) fail(`scales has ${v.length} values for ${axes.length} axes`);
    axes.forEach((a, k) => {
      if (!(v[k] > 0)) fail(`scale ${v[k]} must be positive`);
      scales[a] = v[k];
    });
    // onnxruntime: static_cast<int64_t>(float scale * dim).
    for (let d = 0; d < rank; d++) outShape[d] = Math.trunc(f(scales[d] * inShape[d]));
  } else {
    const v = toNumbers(sizesT as Tensor);
    if (v.length !== axes.length) fail(`sizes has ${v.length} values for ${axes.length} axes`);
    axes.forEach((a, k) => {
      if (!(v[k] >= 0)) fail(`size ${v[k]} must be non-negative`);
      outShape[a] = v[k];
    });
    for (let d = 0; d < rank; d++) scales[d] = inShape[d] === 0 ? 1 : f(outShape[d] / inShape[d]);
    if (policy !== 'stretch') {
      const picked = axes.map((a) => scales[a]);
      const s = policy === 'not_larger' ? Math.min(...picked) : Math.max(...picked);
      for (let d = 0; d < rank; d++) {
        if (axes.includes(d)) {
          scales[d] = s;
          outShape[d] = roundAway(f(s * inShape[d]));
        } else {
          scales[d] = 1;
          outShape[d] = inShape[d];
        }
      }
    }
  }
  const roiStart = x.shape.map(() => 0);
  const roiEnd = x.shape.map(() => 1);
  if (transform === 'tf_crop_and_resize') {
    const roiT = given(1);
    if (roiT) {
      const v = toNumbers(roiT).map(f);
      if (v.length !== 2 * axes.length) fail(`roi has ${v.length} values, expected ${2 * axes.length}`);
      axes.forEach((a, k) => {
        roiStart[a] = v[k];
        roiEnd[a] = v[axes.length + k];
      });
    }
  }
  return {
    mode,
    transform,
    nearestMode,
    cubicA: f(numAttr(node, 'cubic_coeff_a', -0.75, fail)),
    excludeOutside,
    antialias,
    extrapolation: numAttr(node, 'extrapolation_value', 0, fail),
    inShape,
    outShape,
    scales,
    roiStart,
    roiEnd,
  };
}

/** Output coordinate -> input coordinate, in onnxruntime's float32 arithmetic. */
function originalCoordinate(t: string, x: number, s: number, lenOut: number, lenIn: number, r0: number, r1: number): number {
  switch (t) {
    case 'asymmetric':
      return f(x / s);
    case 'pytorch_half_pixel':
      return lenOut > 1 ? f(f(f(x + 0.5) / s) - 0.5) : 0;
    case 'tf_half_pixel_for_nn':
      return f(f(x + 0.5) / s);
    case 'align_corners':
      return lenOut === 1 ? 0 : f(f(x * (lenIn - 1)) / (lenOut - 1));
    case 'tf_crop_and_resize':
      return lenOut > 1 ? f(f(r0 * (lenIn - 1)) + f(f(f(x * f(r1 - r0)) * (lenIn - 1)) / (lenOut - 1))) : f(0.5 * f(r0 + r1) * (lenIn - 1));
    case 'half_pixel_symmetric': {
      // This one is evaluated partly in double precision by onnxruntime.
      const adjustment = f(lenOut / f(s * lenIn));
      const offset = f(f(lenIn / 2) * f(1 - adjustment));
      return f(offset + (x + 0.5) / s - 0.5);
    }
    default: // half_pixel
      return f(f(f(x + 0.5) / s) - 0.5);
  }
}

function nearestPixel(mode: string, x: number): number {
  switch (mode) {
    case 'round_prefer_ceil':
      return roundAway(x);
    case 'floor':
      return Math.floor(x);
    case 'ceil':
      return Math.ceil(x);
    default: // round_prefer_floor: halves go down
      return x === f(Math.trunc(x) + 0.5) ? Math.floor(x) : roundAway(x);
  }
}

/** Keys cubic convolution weights for the 4 taps around a point at fractional offset s. */
function cubicCoeffs(s: number, a: number): number[] {
  const t = f(Math.abs(s));
  const t1 = f(t + 1);
  const u = f(1 - t);
  const u1 = f(2 - t);
  const outer = (v: number) => f(f(f(f(f(f(a * v) - f(5 * a)) * v) + f(8 * a)) * v) - f(4 * a));
  const inner = (v: number) => f(f(f(f(f(f(a + 2) * v) - f(a + 3)) * v) * v) + 1);
  return [outer(t1), inner(t), inner(u), outer(u1)];
}

/** The interpolation matrix of one axis, and which output rows take extrapolation_value instead. */
export interface AxisMatrix {
  nOut: number;
  nIn: number;
  /** Row-major [nOut, nIn]. */
  m: Float64Array;
  /** Rows replaced by extrapolation_value (tf_crop_and_resize outside the input). */
  outside: Uint8Array;
  identity: boolean;
}

export function axisMatrix(spec: ResizeSpec, d: number): AxisMatrix {
  const nIn = spec.inShape[d];
  const nOut = spec.outShape[d];
  const s = spec.scales[d];
  const m = new Float64Array(nOut * nIn);
  const outside = new Uint8Array(nOut);
  const sameShape = spec.inShape.every((v, k) => v === spec.outShape[k]);
  const extrapolate = spec.transform === 'tf_crop_and_resize';
  const coord = (i: number) => originalCoordinate(spec.transform, i, s, nOut, nIn, spec.roiStart[d], spec.roiEnd[d]);
  // onnxruntime copies the input when no dimension changes, skips the transform on scale-1 axes and,
  // with antialias, copies along any axis whose length does not change.
  if (sameShape || s === 1 || (spec.antialias && nOut === nIn)) {
    for (let i = 0; i < Math.min(nOut, nIn); i++) m[i * nIn + i] = 1;
    return { nOut, nIn, m, outside, identity: nOut === nIn };
  }
  if (spec.antialias) {
    antialiasRows(spec, nIn, nOut, s, coord, m, outside);
    return { nOut, nIn, m, outside, identity: false };
  }
  for (let i = 0; i < nOut; i++) {
    const c = coord(i);
    if (extrapolate && (c < 0 || c > nIn - 1)) {
      outside[i] = 1;
      continue;
    }
    const row = i * nIn;
    if (spec.mode === 'nearest') {
      const k = Math.min(Math.max(nearestPixel(spec.nearestMode, c), 0), nIn - 1);
      m[row + k] = 1;
    } else if (spec.mode === 'linear') {
      const v = Math.max(0, Math.min(c, nIn - 1));
      const k1 = Math.min(Math.trunc(v), nIn - 1);
      const k2 = Math.min(k1 + 1, nIn - 1);
      // onnxruntime weighs k1 by |v - k2| and k2 by |v - k1| (0.5 each when they coincide).
      const w1 = k1 === k2 ? 0.5 : f(Math.abs(f(v - k2)));
      const w2 = k1 === k2 ? 0.5 : f(Math.abs(f(v - k1)));
      m[row + k1] += w1;
      m[row + k2] += w2;
    } else {
      const base = Math.floor(c);
      const coeffs = cubicCoeffs(f(c - base), spec.cubicA);
      let sum = 1;
      if (spec.excludeOutside) {
        sum = 0;
        for (let j = 0; j < 4; j++) {
          const k = base - 1 + j;
          if (k < 0 || k >= nIn) coeffs[j] = 0;
          sum = f(sum + coeffs[j]);
        }
      }
      coeffs.forEach((w, j) => {
        const k = Math.min(Math.max(base - 1 + j, 0), nIn - 1);
        m[row + k] += f(w / sum);
      });
    }
  }
  return { nOut, nIn, m, outside, identity: false };
}

/** onnxruntime's antialiasing filter weights (Pillow-style, float32), one row per output index. */
function antialiasRows(spec: ResizeSpec, nIn: number, nOut: number, rscale: number, coord: (i: number) => number, m: Float64Array, outside: Uint8Array): void {
  const extrapolate = spec.transform === 'tf_crop_and_resize';
  const a = spec.cubicA;
  const filter =
    spec.mode === 'linear'
      ? (x: number) => {
          const t = Math.abs(x);
          return t < 1 ? f(1 - t) : 0;
        }
      : (x: number) => {
          const t = Math.abs(x);
          if (t < 1) return f(f(f(f(f(f(a + 2) * t) - f(a + 3)) * t) * t) + 1);
          if (t < 2) return f(f(f(f(f(f(t - 5) * t) + 8) * t) - 4) * a);
          return 0;
        };
  const supportSize = spec.mode === 'linear' ? 2 : 4;
  const scale = f(1 / rscale);
  const support = scale >= 1 ? f(supportSize * 0.5 * scale) : supportSize * 0.5;
  const invScale = scale >= 1 ? f(1 / scale) : 1;
  for (let i = 0; i < nOut; i++) {
    const center = f(0.5 + (scale === 1 ? i : coord(i)));
    const c = f(center - 0.5);
    if (extrapolate && (c < 0 || c > nIn - 1)) outside[i] = 1;
    const loReal = Math.floor(f(f(center - support) + 0.5));
    const hiReal = Math.floor(f(f(center + support) + 0.5));
    const loCut = Math.max(loReal, 0);
    const hiCut = Math.min(hiReal, nIn);
    const lo = spec.excludeOutside ? loCut : loReal;
    const n = (spec.excludeOutside ? hiCut : hiReal) - lo;
    const w = new Float64Array(Math.max(n, 0));
    let total = 0;
    for (let k = 0; k < n; k++) {
      w[k] = filter(f(f(f(k + lo - center) + 0.5) * invScale));
      total = f(total + w[k]);
    }
    // Without exclude_outside, taps beyond the border fold onto the border pixel (replicate padding).
    let taps = w;
    if (!spec.excludeOutside) {
      const neg = lo < 0 ? -lo : 0;
      for (let k = 0; k < neg; k++) w[neg] = f(w[neg] + w[k]);
      const over = n + lo > nIn ? n + lo - nIn : 0;
      for (let k = n - over; k < n; k++) w[n - over - 1] = f(w[n - over - 1] + w[k]);
      taps = w.slice(neg, neg + hiCut - loCut);
    }
    const inv = total === 0 ? 1 : f(1 / total);
    for (let k = 0; k < hiCut - loCut; k++) m[i * nIn + loCut + k] += f(taps[k] * inv);
  }
}

function vjpResize(c: VjpCtx): (string | undefined)[] {
  const g = c.gy(0);
  if (!c.wants(0) || g === undefined) return [];
  const spec = resizeSpec({
    node: c.node,
    type: (i) => (c.x(i) ? c.type(c.x(i)) : undefined),
    value: (i) => (c.x(i) ? c.value(c.x(i)) : undefined),
    fail: c.fail,
  });
  const { dtype } = c.type(c.x(0));
  // onnxruntime copies the input when no dimension changes.
  if (spec.inShape.every((v, k) => v === spec.outShape[k])) return [g];
  if (dtype !== 'float32' && dtype !== 'float64') c.fail(`gradient of ${dtype} Resize is not supported (float32/float64 only)`);
  const rank = spec.inShape.length;
  const mats = spec.inShape.map((_, d) => axisMatrix(spec, d));
  const active = mats.flatMap((mt, d) => (mt.identity ? [] : [d]));
  // Nearest up-sampling by an integer factor k repeats each input k times: its adjoint sums blocks of k.
  const allBlocks = new Map(active.map((d) => [d, blockFactor(mats[d])]));
  // The common NCHW case (YOLO/FPN "Upsample x2"): an AveragePool with kernel = stride = k, times the
  // block size, is the fastest block sum in onnxruntime.
  if (rank === 4 && active.every((d) => d >= 2 && allBlocks.get(d) !== undefined)) {
    const kernel = [2, 3].map((d) => allBlocks.get(d) ?? 1);
    const pooled = c.emit('AveragePool', [g], { kernel_shape: kernel, strides: kernel });
    return [c.emit('Mul', [pooled, c.scalar(kernel[0] * kernel[1], dtype)])];
  }
  // Elsewhere one Reshape + ReduceSum sums the blocks of all such axes: on onnxruntime CPU that beats a
  // MatMul with the 0/1 matrix once the axis has BLOCK_MIN inputs; on outer axes it is the only way.
  const blocks = new Map<number, number>();
  for (const [d, k] of allBlocks) if (k !== undefined && (mats[d].nIn >= BLOCK_MIN || d < rank - 2)) blocks.set(d, k);
  const viaMatMul = active.filter((d) => !blocks.has(d));
  const bad = viaMatMul.filter((d) => d < rank - 2);
  if (bad.length)
    c.fail(
      `the gradient supports resizing the last two axes only (or nearest by an integer factor); axis ${bad[0]} is resized (${spec.inShape[bad[0]]} -> ${spec.outShape[bad[0]]}, scale ${spec.scales[bad[0]]})`,
    );
  let t = g;
  if (blocks.size) {
    const split: number[] = [];
    const sumAxes: number[] = [];
    spec.outShape.forEach((n, d) => {
      const k = blocks.get(d);
      if (k === undefined) split.push(n);
      else {
        split.push(n / k, k);
        sumAxes.push(split.length - 1);
      }
    });
    t = c.emit('ReduceSum', [c.emit('Reshape', [g, c.ints(split)]), c.ints(sumAxes)], { keepdims: 0 });
  }
  const alongW = (u: string) => {
    const mt = mats[rank - 1];
    return c.emit('MatMul', [u, c.constant(tensorFromNumbers(dtype, [mt.nOut, mt.nIn], mt.m), 'resize_aw')]);
  };
  const alongH = (u: string) => {
    const mt = mats[rank - 2];
    const tr = new Float64Array(mt.nIn * mt.nOut);
    for (let o = 0; o < mt.nOut; o++) for (let i = 0; i < mt.nIn; i++) tr[i * mt.nOut + o] = mt.m[o * mt.nIn + i];
    return c.emit('MatMul', [c.constant(tensorFromNumbers(dtype, [mt.nIn, mt.nOut], tr), 'resize_aht'), u]);
  };
  if (viaMatMul.length === 0) return [t];
  if (viaMatMul.length === 1) return [viaMatMul[0] === rank - 1 ? alongW(t) : alongH(t)];
  // Contract first the axis whose contraction saves the most work.
  const [oh, ow, ih, iw] = [spec.outShape[rank - 2], spec.outShape[rank - 1], spec.inShape[rank - 2], spec.inShape[rank - 1]];
  const wFirst = oh * ow * iw + ih * oh * iw;
  const hFirst = ih * oh * ow + ih * ow * iw;
  return [wFirst <= hFirst ? alongH(alongW(t)) : alongW(alongH(t))];
}

/** Input length from which the block adjoint of nearest up-sampling beats MatMul (measured, 2-core CPU). */
const BLOCK_MIN = 48;

/** k when the matrix maps output o to input floor(o / k) (nearest up-sampling by the integer k). */
function blockFactor(mt: AxisMatrix): number | undefined {
  if (mt.nOut % mt.nIn !== 0 || mt.outside.some((v) => v)) return undefined;
  const k = mt.nOut / mt.nIn;
  for (let o = 0; o < mt.nOut; o++) for (let i = 0; i < mt.nIn; i++) if (mt.m[o * mt.nIn + i] !== (Math.floor(o / k) === i ? 1 : 0)) return undefined;
  return k;
}

/** Resize-10: [X, scales], asymmetric coordinates, onnxruntime's legacy nearest rounding. */
function upgradeResize(c: UpgradeCtx): void {
  const n = c.node;
  if (c.opset < 11) {
    const scales = n.inputs[1];
    n.inputs = [n.inputs[0], '', scales];
    n.attrs.coordinate_transformation_mode = { type: 'string', value: 'asymmetric' };
    const mode = n.attrs.mode;
    if (mode === undefined || (mode.type === 'string' && mode.value === 'nearest')) n.attrs.nearest_mode = legacyNearest(c, scales);
  }
  // Empty optional inputs (exporters write [] for roi and scales) become omitted ones.
  for (let i = 1; i < n.inputs.length; i++) if (n.inputs[i] && numel(c.type(n.inputs[i]).shape) === 0) n.inputs[i] = '';
  while (n.inputs.length > 1 && n.inputs[n.inputs.length - 1] === '') n.inputs.pop();
}

/** Opset < 11 nearest: truncate when upsampling, ceil when downsampling (per axis in onnxruntime). */
function legacyNearest(c: UpgradeCtx, scalesName: string): { type: 'string'; value: string } {
  const v = scalesName ? c.value(scalesName) : undefined;
  if (!v) c.fail('scales must be a constant for robustscope to compile the graph');
  const s = toNumbers(v).map(f);
  const down = s.some((x) => x < 1);
  if (down && s.some((x) => x > 1)) c.fail('nearest resize that upsamples some axes and downsamples others is not supported at opset < 11');
  return { type: 'string', value: down ? 'ceil' : 'floor' };
}

function upgradeUpsample(c: UpgradeCtx): void {
  const n = c.node;
  const mode = strAttr(n, 'mode', 'nearest', ['nearest', 'linear'], c.fail);
  let scales: number[];
  if (n.inputs[1]) {
    const v = c.value(n.inputs[1]);
    if (!v) c.fail('scales (input 1) must be a constant for robustscope to compile the graph');
    scales = toNumbers(v);
  } else {
    const a = n.attrs.scales;
    if (a?.type !== 'floats') c.fail('needs a scales attribute');
    scales = a.value;
  }
  if (scales.some((s) => !(s >= 1))) c.fail(`Upsample scales must be >= 1, got [${scales}]`);
  // Upsample's nearest truncates the asymmetric coordinate: floor for non-negative coordinates.
  n.opType = 'Resize';
  n.inputs = [n.inputs[0], '', c.constant(tensorFromNumbers('float32', [scales.length], scales), 'scales')];
  n.attrs = {
    mode: { type: 'string', value: mode },
    coordinate_transformation_mode: { type: 'string', value: 'asymmetric' },
    ...(mode === 'nearest' ? { nearest_mode: { type: 'string', value: 'floor' } } : {}),
  };
}

const ops: OpDef[] = [
  {
    type: 'Resize',
    upgrade: upgradeResize,
    infer: (ctx): TypeInfo[] => {
      const spec = resizeSpec(ctx);
      return [{ dtype: need(ctx, 0).dtype, shape: spec.outShape }];
    },
    nondiff: [1, 2, 3],
    vjp: vjpResize,
  },
  {
    type: 'Upsample',
    upgrade: upgradeUpsample,
    // Only reached when the model's opset is current: Upsample no longer exists there.
    infer: (ctx) => ctx.fail('Upsample is deprecated since opset 10; use Resize'),
  },
];

registerOps(ops);
