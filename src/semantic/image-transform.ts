// Image-space semantic transforms for any image model on dataset images (CHW float images in [0,1]).
// Fixed order, each stage giving a valid image in [0,1]:
//   1. geometry: one affine warp, scale then rotation about the image centre, then translation;
//      bilinear sampling, pixels sampled from outside the image count as 0 (zero fill);
//   2. blur: separable Gaussian of std `blur` pixels (radius ceil(3 sigma)), clamp-to-edge;
//   3. brightness: x * b, clamped to [0,1];
//   4. contrast: (x - mean) * c + mean with `mean` the mean of the whole image (all channels) after step 3,
//      clamped to [0,1].
// Geometry first because it models the scene/camera pose; blur is the lens; brightness and contrast are
// the sensor and processing. Label maps follow the same geometry with nearest-neighbour sampling and
// pixels from outside the image set to the ignore index.
// Coordinates: pixel (r, c) has its centre at (c, r); the centre of rotation and scale is
// ((W-1)/2, (H-1)/2). Positive rotation turns the content counter-clockwise as seen on screen (as
// PIL/torchvision); scale > 1 enlarges; tx > 0 moves content right, ty > 0 moves it down.

export class TransformError extends Error {}

export interface ImageTransform {
  /** Degrees, counter-clockwise on screen, about the image centre (default 0). */
  rotation?: number;
  /** Zoom factor about the image centre, > 0 (default 1). */
  scale?: number;
  /** Translation in pixels, right (default 0). */
  tx?: number;
  /** Translation in pixels, down (default 0). */
  ty?: number;
  /** Multiplier, >= 0 (default 1). */
  brightness?: number;
  /** Blend factor with the image mean, >= 0 (default 1). */
  contrast?: number;
  /** Gaussian std in pixels, >= 0 (default 0 = none). */
  blur?: number;
}

export interface ImageShape {
  channels: number;
  height: number;
  width: number;
}

/** Exact cos/sin of whole multiples of 90 degrees, so quarter turns are exact pixel permutations. */
export function cosSinDeg(deg: number): [number, number] {
  const q = deg / 90;
  if (Number.isInteger(q)) {
    const k = ((q % 4) + 4) % 4;
    return (
      [
        [1, 0],
        [0, 1],
        [-1, 0],
        [0, -1],
      ] as [number, number][]
    )[k];
  }
  const r = (deg * Math.PI) / 180;
  return [Math.cos(r), Math.sin(r)];
}

function checkTransform(t: ImageTransform): Required<ImageTransform> {
  const v = {
    rotation: t.rotation ?? 0,
    scale: t.scale ?? 1,
    tx: t.tx ?? 0,
    ty: t.ty ?? 0,
    brightness: t.brightness ?? 1,
    contrast: t.contrast ?? 1,
    blur: t.blur ?? 0,
  };
  for (const [k, x] of Object.entries(v)) if (!Number.isFinite(x)) throw new TransformError(`image transform: ${k} must be a finite number, got ${x}`);
  if (!(v.scale > 0)) throw new TransformError(`image transform: scale must be > 0, got ${v.scale}`);
  if (v.brightness < 0) throw new TransformError(`image transform: brightness must be >= 0, got ${v.brightness}`);
  if (v.contrast < 0) throw new TransformError(`image transform: contrast must be >= 0, got ${v.contrast}`);
  if (v.blur < 0) throw new TransformError(`image transform: blur must be >= 0, got ${v.blur}`);
  return v;
}

function checkShape(s: ImageShape, length: number, what: string): void {
  const { channels: C, height: H, width: W } = s;
  if (![C, H, W].every((d) => Number.isInteger(d) && d > 0)) throw new TransformError(`${what}: shape ${C}x${H}x${W} must be positive integers`);
  if (length !== C * H * W) throw new TransformError(`${what}: ${length} values do not make a ${C}x${H}x${W} image`);
}

/**
 * The inverse geometric map: output pixel (x, y) samples the source at (ax x + bx y + cx, ay x + by y + cy).
 * Forward: p' = R S (p - centre) + centre + t, so p = S^-1 R^-1 (p' - centre - t) + centre.
 */
function inverseAffine(
  t: Required<ImageTransform>,
  H: number,
  W: number,
): { ax: number; bx: number; cx: number; ay: number; by: number; cy: number; identity: boolean } {
  const [cos, sin] = cosSinDeg(t.rotation);
  const s = t.scale;
  const mx = (W - 1) / 2;
  const my = (H - 1) / 2;
  // Counter-clockwise on screen with y down: forward dx' = cos dx + sin dy, dy' = -sin dx + cos dy.
  // Inverse (transpose), divided by the scale.
  const ax = cos / s;
  const bx = -sin / s;
  const ay = sin / s;
  const by = cos / s;
  const ox = -mx - t.tx;
  const oy = -my - t.ty;
  const cx = ax * ox + bx * oy + mx;
  const cy = ay * ox + by * oy + my;
  const identity = ax === 1 && bx === 0 && ay === 0 && by === 1 && cx === 0 && cy === 0;
  return { ax, bx, cx, ay, by, cy, identity };
}

function warpBilinear(src: Float32Array, dst: Float32Array, dOff: number, shape: ImageShape, m: ReturnType<typeof inverseAffine>): void {
  const { channels: C, height: H, width: W } = shape;
  const plane = H * W;
  if (m.identity) {
    dst.set(src, dOff);
    return;
  }
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) {
      const sx = m.ax * x + m.bx * y + m.cx;
      const sy = m.ay * x + m.by * y + m.cy;
      const x0 = Math.floor(sx);
      const y0 = Math.floor(sy);
      const fx = sx - x0;
      const fy = sy - y0;
      // Weights of the four neighbours; neighbours outside the image contribute 0 (zero fill).
      const in00 = x0 >= 0 && x0 < W && y0 >= 0 && y0 < H;
      const in10 = x0 + 1 >= 0 && x0 + 1 < W && y0 >= 0 && y0 < H;
      const in01 = x0 >= 0 && x0 < W && y0 + 1 >= 0 && y0 + 1 < H;
      const in11 = x0 + 1 >= 0 && x0 + 1 < W && y0 + 1 >= 0 && y0 + 1 < H;
      const w00 = in00 ? (1 - fx) * (1 - fy) : 0;
      const w10 = in10 ? fx * (1 - fy) : 0;
      const w01 = in01 ? (1 - fx) * fy : 0;
      const w11 = in11 ? fx * fy : 0;
      const i00 = y0 * W + x0;
      const o = dOff + y * W + x;
      for (let c = 0; c < C; c++) {
        const p = c * plane + i00;
        let v = 0;
        if (w00 !== 0) v += w00 * src[p];
        if (w10 !== 0) v += w10 * src[p + 1];
        if (w01 !== 0) v += w01 * src[p + W];
        if (w11 !== 0) v += w11 * src[p + W + 1];
        dst[o + c * plane] = v;
      }
    }
  }
}

/** Normalised Gaussian taps exp(-k^2 / (2 sigma^2)), k = -R..R with R = ceil(3 sigma) (at least 1). */
export function gaussianKernel(sigma: number): Float64Array {
  if (!(sigma > 0)) return Float64Array.of(1);
  const R = Math.max(1, Math.ceil(3 * sigma));
  const k = new Float64Array(2 * R + 1);
  let sum = 0;
  for (let i = -R; i <= R; i++) {
    k[i + R] = Math.exp(-(i * i) / (2 * sigma * sigma));
    sum += k[i + R];
  }
  for (let i = 0; i < k.length; i++) k[i] /= sum;
  return k;
}

/** Separable Gaussian blur in place on the image at buf[off...], clamp-to-edge. */
function blurInPlace(buf: Float32Array, off: number, shape: ImageShape, sigma: number): void {
  const k = gaussianKernel(sigma);
  if (k.length === 1) return;
  const R = (k.length - 1) / 2;
  const { channels: C, height: H, width: W } = shape;
  const line = new Float64Array(Math.max(H, W));
  for (let c = 0; c < C; c++) {
    const p = off + c * H * W;
    for (let y = 0; y < H; y++) {
      const row = p + y * W;
      for (let x = 0; x < W; x++) line[x] = buf[row + x];
      for (let x = 0; x < W; x++) {
        let v = 0;
        for (let j = -R; j <= R; j++) v += k[j + R] * line[Math.min(W - 1, Math.max(0, x + j))];
        buf[row + x] = v;
      }
    }
    for (let x = 0; x < W; x++) {
      for (let y = 0; y < H; y++) line[y] = buf[p + y * W + x];
      for (let y = 0; y < H; y++) {
        let v = 0;
        for (let j = -R; j <= R; j++) v += k[j + R] * line[Math.min(H - 1, Math.max(0, y + j))];
        buf[p + y * W + x] = v;
      }
    }
  }
}

const clamp01 = (x: number): number => (x < 0 ? 0 : x > 1 ? 1 : x);

/**
 * Applies `t` to the CHW image `src` (values in [0,1]) and writes the result at out[offset...]
 * (default: a new array). Returns `out`. `src` and the output region must not overlap.
 */
export function transformImage(src: Float32Array, shape: ImageShape, t: ImageTransform, out?: Float32Array, offset = 0): Float32Array {
  checkShape(shape, src.length, 'transformImage');
  const v = checkTransform(t);
  const n = src.length;
  const dst = out ?? new Float32Array(n);
  if (!Number.isInteger(offset) || offset < 0 || offset + n > dst.length)
    throw new TransformError(`transformImage: cannot write ${n} values at offset ${offset} of a buffer of ${dst.length}`);
  warpBilinear(src, dst, offset, shape, inverseAffine(v, shape.height, shape.width));
  if (v.blur > 0) blurInPlace(dst, offset, shape, v.blur);
  if (v.brightness !== 1) for (let i = offset; i < offset + n; i++) dst[i] = clamp01(dst[i] * v.brightness);
  if (v.contrast !== 1) {
    let mean = 0;
    for (let i = offset; i < offset + n; i++) mean += dst[i];
    mean /= n;
    for (let i = offset; i < offset + n; i++) dst[i] = clamp01((dst[i] - mean) * v.contrast + mean);
  }
  return dst;
}

/** A label map (H x W, class indices) under the geometric part of `t`: nearest neighbour, outside = ignoreIndex. */
export function transformLabels(
  labels: ArrayLike<number>,
  height: number,
  width: number,
  t: ImageTransform,
  ignoreIndex = 255,
  out?: Int32Array,
  offset = 0,
): Int32Array {
  checkShape({ channels: 1, height, width }, labels.length, 'transformLabels');
  const m = inverseAffine(checkTransform(t), height, width);
  const n = height * width;
  const dst = out ?? new Int32Array(n);
  if (!Number.isInteger(offset) || offset < 0 || offset + n > dst.length)
    throw new TransformError(`transformLabels: cannot write ${n} labels at offset ${offset} of a buffer of ${dst.length}`);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      // Nearest pixel centre; ties (exact halves) round up, consistently for every pixel.
      const sx = Math.floor(m.ax * x + m.bx * y + m.cx + 0.5);
      const sy = Math.floor(m.ay * x + m.by * y + m.cy + 0.5);
      dst[offset + y * width + x] = sx >= 0 && sx < width && sy >= 0 && sy < height ? labels[sy * width + sx] : ignoreIndex;
    }
  }
  return dst;
}
