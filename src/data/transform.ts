// The evaluation transform of sea.md "Data", bit-exact with the reference pipeline (PIL):
//   short side -> `crop` (long side truncated: int(w * crop / h)), image BILINEAR, label NEAREST,
//   centre crop crop x crop at (int(round((w - crop) / 2)), ...), Python rounding (half to even).
// Done in TypeScript rather than by libvips: libvips' upsampling differs from PIL's by several grey
// levels on average (VOC images are upsampled: 375 -> 473), and PIL's 8-bit fixed-point
// arithmetic is easy to reproduce exactly.

export class TransformError extends Error {}

/** Size after resizing the short side to `short`, as the reference computes it (truncating). */
export function shortSideSize(width: number, height: number, short: number): { width: number; height: number } {
  if (!(width > 0 && height > 0)) throw new TransformError(`cannot resize an image of size ${width}x${height}`);
  if (!Number.isInteger(short) || short < 1) throw new TransformError(`crop size must be a positive integer, got ${short}`);
  // Same expression and evaluation order as Python's int(1.0 * w * oh / h) (IEEE doubles either way).
  if (width > height) return { width: Math.trunc((width * short) / height), height: short };
  return { width: short, height: Math.trunc((height * short) / width) };
}

/** Python's round() (half to even) of d / 2 for an integer d >= 0: the centre-crop offset. */
export function centreOffset(size: number, crop: number): number {
  const d = size - crop;
  if (d < 0) throw new TransformError(`cannot crop ${crop} pixels out of ${size}`);
  if (d % 2 === 0) return d / 2;
  const lo = (d - 1) / 2;
  return lo % 2 === 0 ? lo : lo + 1;
}

/** Crop window of the eval transform in the resized image. */
export function evalWindow(width: number, height: number, crop: number): { width: number; height: number; left: number; top: number } {
  const r = shortSideSize(width, height, crop);
  return { ...r, left: centreOffset(r.width, crop), top: centreOffset(r.height, crop) };
}

// PIL's Resample.c: 8-bit fixed point with 22 fractional bits, horizontal pass first, both passes
// rounded and clipped to 8 bits.
const PRECISION_BITS = 22;
const ONE = 2 ** PRECISION_BITS;
const HALF = 2 ** (PRECISION_BITS - 1);

interface Taps {
  /** First source index per output index. */
  start: Int32Array;
  /** Number of taps per output index. */
  count: Int32Array;
  /** Fixed-point weights, `ksize` per output index. */
  weights: Float64Array;
  ksize: number;
}

/** Triangle-filter coefficients, antialiased when downsampling (support scales with the ratio). */
function bilinearTaps(inSize: number, outSize: number): Taps {
  const scale = inSize / outSize;
  const filterscale = Math.max(scale, 1);
  const support = filterscale; // bilinear support 1.0 times the filter scale
  const ksize = Math.ceil(support) * 2 + 1;
  const start = new Int32Array(outSize);
  const count = new Int32Array(outSize);
  const weights = new Float64Array(outSize * ksize);
  const ss = 1 / filterscale;
  const k = new Float64Array(ksize);
  for (let xx = 0; xx < outSize; xx++) {
    const center = (xx + 0.5) * scale;
    // (int) in C truncates toward zero; the arguments here are > -1, so trunc, then clamp.
    const xmin = Math.max(Math.trunc(center - support + 0.5), 0);
    const xmax = Math.min(Math.trunc(center + support + 0.5), inSize) - xmin;
    let ww = 0;
    for (let x = 0; x < xmax; x++) {
      const t = Math.abs((x + xmin - center + 0.5) * ss);
      k[x] = t < 1 ? 1 - t : 0;
      ww += k[x];
    }
    for (let x = 0; x < xmax; x++) {
      const w = ww !== 0 ? k[x] / ww : k[x];
      weights[xx * ksize + x] = w < 0 ? Math.trunc(-0.5 + w * ONE) : Math.trunc(0.5 + w * ONE);
    }
    start[xx] = xmin;
    count[xx] = xmax;
  }
  return { start, count, weights, ksize };
}

function clip8(v: number): number {
  if (v >= ONE * 256) return 255;
  if (v <= 0) return 0;
  return Math.floor(v / ONE);
}

/**
 * PIL-exact BILINEAR resize of an interleaved 8-bit image (HWC, `channels` per pixel) to
 * outW x outH, evaluating only the window [left, left+winW) x [top, top+winH) of the output.
 */
export function resizeBilinearU8(
  src: Uint8Array,
  width: number,
  height: number,
  channels: number,
  outW: number,
  outH: number,
  win: { left: number; top: number; width: number; height: number } = { left: 0, top: 0, width: outW, height: outH },
): Uint8Array {
  if (src.length !== width * height * channels) throw new TransformError(`resize: ${src.length} bytes for ${width}x${height}x${channels}`);
  if (win.left < 0 || win.top < 0 || win.left + win.width > outW || win.top + win.height > outH)
    throw new TransformError(`resize: window ${win.width}x${win.height}+${win.left}+${win.top} outside ${outW}x${outH}`);
  const C = channels;
  const needH = outW !== width;
  const needV = outH !== height;
  // Source rows the vertical pass reads (all rows of the window when there is no vertical pass).
  const ty = needV ? bilinearTaps(height, outH) : undefined;
  let y0 = win.top;
  let y1 = win.top + win.height;
  if (ty) {
    y0 = ty.start[win.top];
    y1 = 0;
    for (let y = win.top; y < win.top + win.height; y++) y1 = Math.max(y1, ty.start[y] + ty.count[y]);
  }
  // Horizontal pass over rows y0..y1-1, window columns only (each output column is independent).
  const rows = y1 - y0;
  let mid: Uint8Array;
  let midW: number;
  let midX0: number;
  if (needH) {
    const tx = bilinearTaps(width, outW);
    midW = win.width;
    midX0 = win.left;
    mid = new Uint8Array(rows * midW * C);
    for (let y = 0; y < rows; y++) {
      const srow = (y0 + y) * width * C;
      for (let x = 0; x < midW; x++) {
        const xx = x + win.left;
        const s = tx.start[xx];
        const n = tx.count[xx];
        const wo = xx * tx.ksize;
        for (let c = 0; c < C; c++) {
          let acc = HALF;
          for (let j = 0; j < n; j++) acc += src[srow + (s + j) * C + c] * tx.weights[wo + j];
          mid[(y * midW + x) * C + c] = clip8(acc);
        }
      }
    }
  } else {
    // No horizontal pass: read the source directly.
    midW = width;
    midX0 = 0;
    mid = src.subarray(y0 * width * C, y1 * width * C);
  }
  const out = new Uint8Array(win.width * win.height * C);
  const colOf = (x: number) => x + win.left - midX0; // window column -> column in `mid`
  if (!ty) {
    for (let y = 0; y < win.height; y++)
      for (let x = 0; x < win.width; x++) for (let c = 0; c < C; c++) out[(y * win.width + x) * C + c] = mid[((y + win.top - y0) * midW + colOf(x)) * C + c];
    return out;
  }
  for (let y = 0; y < win.height; y++) {
    const yy = y + win.top;
    const s = ty.start[yy] - y0;
    const n = ty.count[yy];
    const wo = yy * ty.ksize;
    for (let x = 0; x < win.width; x++) {
      const mx = colOf(x);
      for (let c = 0; c < C; c++) {
        let acc = HALF;
        for (let j = 0; j < n; j++) acc += mid[((s + j) * midW + mx) * C + c] * ty.weights[wo + j];
        out[(y * win.width + x) * C + c] = clip8(acc);
      }
    }
  }
  return out;
}

/**
 * PIL-exact NEAREST resize of a single-channel map, window only. PIL (Geometry.c, affine scaling)
 * walks the source position incrementally, xo = 0.5 * in/out, then xo += in/out per pixel, and takes
 * trunc(xo): the accumulated rounding matters where (x + 0.5) * in/out is an integer (30 -> 37 px:
 * output 18 reads source 14, not 15). Values are copied, never blended.
 */
export function resizeNearest<T extends Uint8Array | Int32Array>(
  src: T,
  width: number,
  height: number,
  outW: number,
  outH: number,
  win: { left: number; top: number; width: number; height: number } = { left: 0, top: 0, width: outW, height: outH },
): T {
  if (src.length !== width * height) throw new TransformError(`resize: ${src.length} values for ${width}x${height}`);
  if (win.left < 0 || win.top < 0 || win.left + win.width > outW || win.top + win.height > outH)
    throw new TransformError(`resize: window ${win.width}x${win.height}+${win.left}+${win.top} outside ${outW}x${outH}`);
  const table = (inSize: number, outSize: number): Int32Array => {
    const a = inSize / outSize;
    const t = new Int32Array(outSize);
    let xo = a * 0.5;
    for (let x = 0; x < outSize; x++) {
      const i = xo < 0 ? -1 : Math.trunc(xo);
      t[x] = i < inSize ? i : -1; // PIL leaves such pixels at the fill value 0; never seen in practice
      xo += a;
    }
    return t;
  };
  const xs = table(width, outW);
  const ys = table(height, outH);
  const out = (src instanceof Int32Array ? new Int32Array(win.width * win.height) : new Uint8Array(win.width * win.height)) as T;
  for (let y = 0; y < win.height; y++) {
    const sy = ys[y + win.top];
    if (sy < 0) continue;
    for (let x = 0; x < win.width; x++) {
      const sx = xs[x + win.left];
      if (sx >= 0) out[y * win.width + x] = src[sy * width + sx];
    }
  }
  return out;
}

/** Eval transform of an interleaved RGB (or any channel count) 8-bit image. */
export function evalTransformImage(src: Uint8Array, width: number, height: number, channels: number, crop: number): Uint8Array {
  const w = evalWindow(width, height, crop);
  return resizeBilinearU8(src, width, height, channels, w.width, w.height, { left: w.left, top: w.top, width: crop, height: crop });
}

/** Eval transform of a label map (nearest: class ids stay class ids). */
export function evalTransformLabel<T extends Uint8Array | Int32Array>(src: T, width: number, height: number, crop: number): T {
  const w = evalWindow(width, height, crop);
  return resizeNearest(src, width, height, w.width, w.height, { left: w.left, top: w.top, width: crop, height: crop });
}

/** 8-bit interleaved RGB (HWC) -> float32 CHW in [0,1] (x / 255, as torchvision's ToTensor). */
export function hwcToChw01(src: Uint8Array, width: number, height: number): Float32Array {
  const n = width * height;
  if (src.length !== 3 * n) throw new TransformError(`expected ${3 * n} bytes of RGB for ${width}x${height}, got ${src.length}`);
  const out = new Float32Array(3 * n);
  for (let p = 0; p < n; p++) {
    out[p] = src[3 * p] / 255;
    out[n + p] = src[3 * p + 1] / 255;
    out[2 * n + p] = src[3 * p + 2] / 255;
  }
  return out;
}
