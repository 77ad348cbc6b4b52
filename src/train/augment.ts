// Training augmentation of pirat.md "Augmentation", seeded (same Rng seed, same output):
//   random scale: the short side becomes round(base * r), r ~ U(0.5, 2) (base: `baseSize`, default the
//     image's own short side), long side round(long * short' / short); image BILINEAR (half-pixel centres,
//     align_corners=False, no antialiasing: torch.nn.functional.interpolate / cv2 INTER_LINEAR, as mmseg),
//     labels NEAREST with the same half-pixel centres (src = floor((dst + 0.5) * in / out), PIL's NEAREST),
//     so labels stay aligned with the image;
//   random crop of min(crop, size) per axis at a uniform offset (mmseg's RandomCrop, without cat_max_ratio);
//   Gaussian blur with probability 0.5, sigma ("radius", as PIL's GaussianBlur(radius)) ~ U(0, 1), a true
//     separable Gaussian truncated at ceil(3 sigma), edges replicated; applied to the scaled image (the
//     crop plus a margin, so crop borders see their real neighbours), never to labels;
//   horizontal flip with probability 0.5;
//   padding to the crop size at the bottom/right (as mmseg), image 0, labels the ignore index 255.
// Every draw is made whatever the options (six uniforms per image, fixed order: flip, scale, top, left,
// blur, sigma), so switching one step off leaves the others' randomness unchanged.
// Images are CHW Float32Array in [0, 1]; labels HW Uint8Array / Int32Array; batches NCHW / NHW (Int32).
import type { ImageBatch } from '../runtime/model.js';
import { Rng } from '../util/random.js';

export class AugmentError extends Error {}

export interface AugmentOptions {
  /** Output size: crop x crop, or [height, width]. */
  crop: number | readonly [number, number];
  /** Short side that scale 1 maps to (default: the image's own short side). */
  baseSize?: number;
  /** Range of the scale ratio r (default [0.5, 2]). */
  scaleRange?: readonly [number, number];
  /** Horizontal flip probability (default 0.5). */
  flipP?: number;
  /** Blur probability (default 0.5). */
  blurP?: number;
  /** Range of the blur sigma (default [0, 1]). */
  blurSigma?: readonly [number, number];
  /** Label of padded pixels (default 255). */
  ignoreIndex?: number;
  /** Image value of padded pixels (default 0). */
  padValue?: number;
}

/** What was drawn for one image. */
export interface AugmentDraw {
  flip: boolean;
  /** Scale ratio r. */
  scale: number;
  /** Size after scaling. */
  height: number;
  width: number;
  /** Crop offset in the scaled image. */
  top: number;
  left: number;
  /** Blur sigma, 0 when not blurred. */
  blurSigma: number;
}

export interface AugmentedImage {
  image: Float32Array;
  /** [C, cropH, cropW]. */
  dims: number[];
  draw: AugmentDraw;
}

export interface AugmentedSample extends AugmentedImage {
  /** [cropH * cropW], padded with the ignore index. */
  label: Int32Array;
}

export interface ImageSample {
  image: Float32Array;
  /** [C, H, W]. */
  dims: readonly number[];
}

export interface SegSample extends ImageSample {
  /** [H * W]. */
  label: Uint8Array | Int32Array;
}

function chw(dims: readonly number[], len: number, where: string): [number, number, number] {
  if (dims.length !== 3 || !dims.every((d) => Number.isInteger(d) && d > 0))
    throw new AugmentError(`${where}: image dims must be [C, H, W] of positive integers, got [${dims.join(', ')}]`);
  const [c, h, w] = dims;
  if (len !== c * h * w) throw new AugmentError(`${where}: image has ${len} values, dims [${dims.join(', ')}] need ${c * h * w}`);
  return [c, h, w];
}

function prob(v: number, what: string): number {
  if (!(v >= 0 && v <= 1)) throw new AugmentError(`augment: ${what} must be in [0, 1], got ${v}`);
  return v;
}

function range(v: readonly [number, number], what: string, min: number): readonly [number, number] {
  if (!(Number.isFinite(v[0]) && Number.isFinite(v[1]) && v[0] >= min && v[1] >= v[0]))
    throw new AugmentError(`augment: ${what} must be [lo, hi] with ${min} <= lo <= hi, got [${v.join(', ')}]`);
  return v;
}

function cropSize(c: AugmentOptions['crop']): [number, number] {
  const [h, w] = typeof c === 'number' ? [c, c] : c;
  if (!(Number.isInteger(h) && Number.isInteger(w) && h > 0 && w > 0)) throw new AugmentError(`augment: crop must be positive integers, got ${String(c)}`);
  return [h, w];
}

// ---------- resampling ----------

interface Taps {
  i0: Int32Array;
  i1: Int32Array;
  w: Float64Array;
}

/** Bilinear source taps of output indices [from, from + n) of a resize inSize -> outSize (half-pixel, align_corners=False). */
function bilinearTaps(inSize: number, outSize: number, from: number, n: number): Taps {
  const scale = inSize / outSize;
  const t: Taps = { i0: new Int32Array(n), i1: new Int32Array(n), w: new Float64Array(n) };
  for (let k = 0; k < n; k++) {
    const s = Math.max((from + k + 0.5) * scale - 0.5, 0);
    const i0 = Math.min(Math.floor(s), inSize - 1);
    t.i0[k] = i0;
    t.i1[k] = Math.min(i0 + 1, inSize - 1);
    t.w[k] = s - i0;
  }
  return t;
}

function nearestIndex(inSize: number, outSize: number, o: number): number {
  return Math.min(Math.floor(((o + 0.5) * inSize) / outSize), inSize - 1);
}

/** Rows [top, top+h) x columns [left, left+w) of the bilinear resize of a CHW image to oh x ow. */
function resizeBilinearWindow(
  src: Float32Array,
  c: number,
  ih: number,
  iw: number,
  oh: number,
  ow: number,
  top: number,
  left: number,
  h: number,
  w: number,
): Float32Array {
  const ty = bilinearTaps(ih, oh, top, h);
  const tx = bilinearTaps(iw, ow, left, w);
  const out = new Float32Array(c * h * w);
  for (let ch = 0; ch < c; ch++) {
    const base = ch * ih * iw;
    for (let y = 0; y < h; y++) {
      const r0 = base + ty.i0[y] * iw;
      const r1 = base + ty.i1[y] * iw;
      const wy = ty.w[y];
      const o = (ch * h + y) * w;
      for (let x = 0; x < w; x++) {
        const a = tx.i0[x];
        const b = tx.i1[x];
        const wx = tx.w[x];
        const top0 = src[r0 + a] + wx * (src[r0 + b] - src[r0 + a]);
        const bot0 = src[r1 + a] + wx * (src[r1 + b] - src[r1 + a]);
        out[o + x] = top0 + wy * (bot0 - top0);
      }
    }
  }
  return out;
}

function resizeNearestWindow(
  src: Uint8Array | Int32Array,
  ih: number,
  iw: number,
  oh: number,
  ow: number,
  top: number,
  left: number,
  h: number,
  w: number,
): Int32Array {
  const out = new Int32Array(h * w);
  const xs = Int32Array.from({ length: w }, (_, x) => nearestIndex(iw, ow, left + x));
  for (let y = 0; y < h; y++) {
    const r = nearestIndex(ih, oh, top + y) * iw;
    for (let x = 0; x < w; x++) out[y * w + x] = src[r + xs[x]];
  }
  return out;
}

/** Bilinear resize of a CHW image (half-pixel centres, align_corners=False, no antialiasing). */
export function resizeBilinear(image: Float32Array, dims: readonly number[], oh: number, ow: number): Float32Array {
  const [c, h, w] = chw(dims, image.length, 'resizeBilinear');
  return resizeBilinearWindow(image, c, h, w, oh, ow, 0, 0, oh, ow);
}

/** Nearest resize of an HW label map (src = floor((dst + 0.5) * in / out)). */
export function resizeNearest(label: Uint8Array | Int32Array, h: number, w: number, oh: number, ow: number): Int32Array {
  if (label.length !== h * w) throw new AugmentError(`resizeNearest: label has ${label.length} values, ${h}x${w} needs ${h * w}`);
  return resizeNearestWindow(label, h, w, oh, ow, 0, 0, oh, ow);
}

function gaussianKernel(sigma: number): Float64Array {
  const r = Math.max(1, Math.ceil(3 * sigma));
  const k = new Float64Array(2 * r + 1);
  let sum = 0;
  for (let i = -r; i <= r; i++) {
    k[i + r] = Math.exp(-(i * i) / (2 * sigma * sigma));
    sum += k[i + r];
  }
  for (let i = 0; i < k.length; i++) k[i] /= sum;
  return k;
}

/** Separable Gaussian blur of a CHW image (edges replicated); sigma <= 0 returns a copy. */
export function gaussianBlur(image: Float32Array, dims: readonly number[], sigma: number): Float32Array {
  const [c, h, w] = chw(dims, image.length, 'gaussianBlur');
  if (!(sigma > 0)) return Float32Array.from(image);
  const k = gaussianKernel(sigma);
  const r = (k.length - 1) / 2;
  const tmp = new Float64Array(h * w);
  const out = new Float32Array(image.length);
  for (let ch = 0; ch < c; ch++) {
    const base = ch * h * w;
    for (let y = 0; y < h; y++)
      for (let x = 0; x < w; x++) {
        let s = 0;
        for (let i = -r; i <= r; i++) s += k[i + r] * image[base + y * w + Math.min(Math.max(x + i, 0), w - 1)];
        tmp[y * w + x] = s;
      }
    for (let y = 0; y < h; y++)
      for (let x = 0; x < w; x++) {
        let s = 0;
        for (let i = -r; i <= r; i++) s += k[i + r] * tmp[Math.min(Math.max(y + i, 0), h - 1) * w + x];
        out[base + y * w + x] = s;
      }
  }
  return out;
}

/** Horizontal flip of a CHW image. */
export function hflip(image: Float32Array, dims: readonly number[]): Float32Array {
  const [c, h, w] = chw(dims, image.length, 'hflip');
  const out = new Float32Array(image.length);
  for (let row = 0; row < c * h; row++) for (let x = 0; x < w; x++) out[row * w + x] = image[row * w + w - 1 - x];
  return out;
}

/** Horizontal flip of an HW label map. */
export function hflipLabel<T extends Uint8Array | Int32Array>(label: T, h: number, w: number): T {
  if (label.length !== h * w) throw new AugmentError(`hflipLabel: label has ${label.length} values, ${h}x${w} needs ${h * w}`);
  const out = label.slice() as T;
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) out[y * w + x] = label[y * w + w - 1 - x];
  return out;
}

// ---------- the pipeline ----------

function augment(
  image: Float32Array,
  dims: readonly number[],
  label: Uint8Array | Int32Array | undefined,
  o: AugmentOptions,
  rng: Rng,
): AugmentedImage & { label?: Int32Array } {
  const [c, ih, iw] = chw(dims, image.length, 'augment');
  if (label && label.length !== ih * iw) throw new AugmentError(`augment: label has ${label.length} values, the image is ${ih}x${iw}`);
  const [cropH, cropW] = cropSize(o.crop);
  const [s0, s1] = range(o.scaleRange ?? [0.5, 2], 'scaleRange', Number.MIN_VALUE);
  const [b0, b1] = range(o.blurSigma ?? [0, 1], 'blurSigma', 0);
  const flipP = prob(o.flipP ?? 0.5, 'flipP');
  const blurP = prob(o.blurP ?? 0.5, 'blurP');
  const baseSize = o.baseSize ?? Math.min(ih, iw);
  if (!(baseSize > 0)) throw new AugmentError(`augment: baseSize must be > 0, got ${baseSize}`);
  const ignore = o.ignoreIndex ?? 255;
  const pad = o.padValue ?? 0;

  const u = Array.from({ length: 6 }, () => rng.next());
  const flip = u[0] < flipP;
  const r = s0 + (s1 - s0) * u[1];
  const short = Math.max(1, Math.round(baseSize * r));
  const oh = ih <= iw ? short : Math.max(1, Math.round((ih * short) / iw));
  const ow = ih <= iw ? Math.max(1, Math.round((iw * short) / ih)) : short;
  const ch = Math.min(cropH, oh);
  const cw = Math.min(cropW, ow);
  const top = Math.floor(u[2] * (oh - ch + 1));
  const left = Math.floor(u[3] * (ow - cw + 1));
  const sigma = u[4] < blurP ? b0 + (b1 - b0) * u[5] : 0;

  // Only the crop (plus the blur's reach) of the scaled image is computed.
  const m = sigma > 0 ? (gaussianKernel(sigma).length - 1) / 2 : 0;
  const wy0 = Math.max(0, top - m);
  const wx0 = Math.max(0, left - m);
  const wh = Math.min(oh, top + ch + m) - wy0;
  const ww = Math.min(ow, left + cw + m) - wx0;
  let win = resizeBilinearWindow(image, c, ih, iw, oh, ow, wy0, wx0, wh, ww);
  if (sigma > 0) win = gaussianBlur(win, [c, wh, ww], sigma);

  const out = new Float32Array(c * cropH * cropW).fill(pad);
  for (let k = 0; k < c; k++)
    for (let y = 0; y < ch; y++) {
      const src = (k * wh + top - wy0 + y) * ww + left - wx0;
      const dst = (k * cropH + y) * cropW;
      for (let x = 0; x < cw; x++) out[dst + x] = win[src + (flip ? cw - 1 - x : x)];
    }
  let lab: Int32Array | undefined;
  if (label) {
    const l = resizeNearestWindow(label, ih, iw, oh, ow, top, left, ch, cw);
    lab = new Int32Array(cropH * cropW).fill(ignore);
    for (let y = 0; y < ch; y++) for (let x = 0; x < cw; x++) lab[y * cropW + x] = l[y * cw + (flip ? cw - 1 - x : x)];
  }
  return { image: out, dims: [c, cropH, cropW], label: lab, draw: { flip, scale: r, height: oh, width: ow, top, left, blurSigma: sigma } };
}

/** One segmentation training sample: image and label transformed with the same draws. */
export function augmentSegmentation(sample: SegSample, opts: AugmentOptions, rng: Rng): AugmentedSample {
  const r = augment(sample.image, sample.dims, sample.label, opts, rng);
  return { image: r.image, dims: r.dims, draw: r.draw, label: r.label as Int32Array };
}

/** The classification variant: flip, scale, crop/pad and blur of an image alone. */
export function augmentClassification(sample: ImageSample, opts: AugmentOptions, rng: Rng): AugmentedImage {
  const r = augment(sample.image, sample.dims, undefined, opts, rng);
  return { image: r.image, dims: r.dims, draw: r.draw };
}

function stack(items: AugmentedImage[], where: string): ImageBatch {
  const [c, h, w] = items[0].dims;
  const data = new Float32Array(items.length * c * h * w);
  items.forEach((it, i) => {
    if (it.dims[0] !== c) throw new AugmentError(`${where}: image ${i} has ${it.dims[0]} channels, image 0 has ${c}`);
    data.set(it.image, i * c * h * w);
  });
  return { data, dims: [items.length, c, h, w] };
}

/**
 * A segmentation batch: image i is augmented with Rng.derive(seed, 'augment', i), so vary `seed` per
 * iteration (e.g. Rng.derive(runSeed, 'batch', iter).int(2 ** 32)).
 */
export function augmentSegmentationBatch(
  samples: readonly SegSample[],
  opts: AugmentOptions,
  seed: number,
): { images: ImageBatch; labels: { data: Int32Array; dims: number[] }; draws: AugmentDraw[] } {
  if (samples.length === 0) throw new AugmentError('augmentSegmentationBatch: no samples');
  const items = samples.map((s, i) => augmentSegmentation(s, opts, Rng.derive(seed, 'augment', i)));
  const [, h, w] = items[0].dims;
  const labels = new Int32Array(items.length * h * w);
  items.forEach((it, i) => {
    labels.set(it.label, i * h * w);
  });
  return { images: stack(items, 'augmentSegmentationBatch'), labels: { data: labels, dims: [items.length, h, w] }, draws: items.map((it) => it.draw) };
}

/** A classification batch, seeded like augmentSegmentationBatch. */
export function augmentClassificationBatch(samples: readonly ImageSample[], opts: AugmentOptions, seed: number): { images: ImageBatch; draws: AugmentDraw[] } {
  if (samples.length === 0) throw new AugmentError('augmentClassificationBatch: no samples');
  const items = samples.map((s, i) => augmentClassification(s, opts, Rng.derive(seed, 'augment', i)));
  return { images: stack(items, 'augmentClassificationBatch'), draws: items.map((it) => it.draw) };
}
