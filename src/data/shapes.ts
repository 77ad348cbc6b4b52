// A procedural, deterministic "shapes" dataset for the demo and for tests: several shape classes on
// textured backgrounds, rasterised in plain TypeScript from signed distance functions (SDFs).
// Design goals: a model must use SHAPE, not colour (every shape's colour and the background colours come
// from one shared distribution), labels are exact (derived from the same SDF as the anti-aliased image),
// and every image depends only on (seed, task, index), so any subset can be regenerated bit-identically.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import { Rng } from '../util/random.js';

export type ShapesTask = 'segmentation' | 'classification';

export interface ShapesOptions {
  /** Output directory (created if missing; existing files with the same names are overwritten). */
  out: string;
  /** Number of images. */
  n: number;
  /** Image side in pixels (square images). */
  size: number;
  seed: number;
  task: ShapesTask;
  /** Called after each written image (for progress bars). */
  onProgress?: (done: number, total: number) => void;
}

export interface ShapesSummary {
  out: string;
  task: ShapesTask;
  n: number;
  size: number;
  seed: number;
  /** Class names as written to classes.json. */
  names: string[];
  /** Images per class id (segmentation: images containing the class; classification: images of it). */
  imagesPerClass: number[];
}

/** Segmentation class ids: 0 is background, 1..5 are shapes. */
export const SHAPE_CLASS_NAMES = ['background', 'disc', 'square', 'triangle', 'ring', 'cross'] as const;
export const SHAPE_PALETTE: readonly (readonly [number, number, number])[] = [
  [0, 0, 0],
  [230, 25, 75],
  [60, 180, 75],
  [255, 225, 25],
  [0, 130, 200],
  [245, 130, 48],
];
export const SHAPES_IGNORE_INDEX = 255;
/** Half-width (px) of the ignore band around every visible boundary. >= 0.5 guarantees (SDFs are
 * 1-Lipschitz) that two different classes are never 4-adjacent: every transition passes through 255. */
export const IGNORE_HALF_WIDTH = 0.6;

const NUM_SHAPES = SHAPE_CLASS_NAMES.length - 1;

export interface SegmentationSample {
  /** RGB, row-major HWC, size*size*3 bytes. */
  image: Uint8Array;
  /** Class ids (0..5) and 255 on boundaries, size*size bytes. */
  label: Uint8Array;
}

export interface ClassificationSample {
  image: Uint8Array;
  /** Segmentation class id of the shape (1..5). */
  classId: number;
}

type Vec3 = [number, number, number];

interface Shape {
  cls: number;
  cx: number;
  cy: number;
  /** Scale: every shape fits in a circle of radius about s. */
  s: number;
  cos: number;
  sin: number;
  /** Shape-specific proportion (ring hole, cross arm thickness). */
  aux: number;
}

const SQRT3 = Math.sqrt(3);

/** Signed distance (px, negative inside) of the point (px,py), already in the shape's frame. */
function sdf(shape: Shape, px: number, py: number): number {
  const s = shape.s;
  switch (shape.cls) {
    case 1: // disc
      return Math.hypot(px, py) - 0.85 * s;
    case 2: // square
      return sdBox(px, py, 0.72 * s, 0.72 * s);
    case 3: {
      // equilateral triangle, centroid at the origin, circumradius 1.05 s
      const r = (1.05 * s * SQRT3) / 2; // half the side
      let x = Math.abs(px) - r;
      let y = py + r / SQRT3;
      if (x + SQRT3 * y > 0) {
        const nx = (x - SQRT3 * y) / 2;
        const ny = (-SQRT3 * x - y) / 2;
        x = nx;
        y = ny;
      }
      x -= Math.min(Math.max(x, -2 * r), 0);
      return -Math.hypot(x, y) * Math.sign(y);
    }
    case 4: {
      // ring: outer radius 0.9 s, inner radius aux * outer
      const outer = 0.9 * s;
      const inner = shape.aux * outer;
      return Math.abs(Math.hypot(px, py) - (outer + inner) / 2) - (outer - inner) / 2;
    }
    case 5: {
      // cross (plus sign): union of two bars
      const arm = 0.95 * s;
      const half = shape.aux * s;
      return Math.min(sdBox(px, py, arm, half), sdBox(px, py, half, arm));
    }
    default:
      throw new Error(`shapes: unknown class ${shape.cls}`);
  }
}

function sdBox(px: number, py: number, bx: number, by: number): number {
  const qx = Math.abs(px) - bx;
  const qy = Math.abs(py) - by;
  return Math.hypot(Math.max(qx, 0), Math.max(qy, 0)) + Math.min(Math.max(qx, qy), 0);
}

/** The colour distribution shared by background and every class: uniform in the RGB cube. */
function randomColour(rng: Rng): Vec3 {
  return [rng.next(), rng.next(), rng.next()];
}

const clamp01 = (v: number): number => Math.min(1, Math.max(0, v));

/** Float HWC RGB canvas with a smooth gradient, low-frequency value noise and a few stripes. */
function paintBackground(rng: Rng, size: number): Float32Array {
  const img = new Float32Array(size * size * 3);
  const c0 = randomColour(rng);
  const c1 = randomColour(rng);
  const ang = rng.next() * 2 * Math.PI;
  const gx = Math.cos(ang) / size;
  const gy = Math.sin(ang) / size;
  // Value noise on a (G+1)x(G+1) lattice, smoothstep-interpolated: blotches a few shapes wide.
  const G = 3 + rng.int(3);
  const amp = 0.1 + 0.2 * rng.next();
  const lattice = new Float32Array((G + 1) * (G + 1) * 3);
  for (let i = 0; i < lattice.length; i++) lattice[i] = amp * rng.symmetric();
  for (let y = 0; y < size; y++) {
    const fy = ((y + 0.5) / size) * G;
    const iy = Math.min(Math.floor(fy), G - 1);
    let ty = fy - iy;
    ty = ty * ty * (3 - 2 * ty);
    for (let x = 0; x < size; x++) {
      const fx = ((x + 0.5) / size) * G;
      const ix = Math.min(Math.floor(fx), G - 1);
      let tx = fx - ix;
      tx = tx * tx * (3 - 2 * tx);
      const t = clamp01(0.5 + (x + 0.5 - size / 2) * gx + (y + 0.5 - size / 2) * gy);
      const o = (y * size + x) * 3;
      const l00 = (iy * (G + 1) + ix) * 3;
      const l01 = l00 + 3;
      const l10 = l00 + (G + 1) * 3;
      const l11 = l10 + 3;
      for (let ch = 0; ch < 3; ch++) {
        const top = lattice[l00 + ch] * (1 - tx) + lattice[l01 + ch] * tx;
        const bot = lattice[l10 + ch] * (1 - tx) + lattice[l11 + ch] * tx;
        img[o + ch] = c0[ch] * (1 - t) + c1[ch] * t + top * (1 - ty) + bot * ty;
      }
    }
  }
  // Straight stripes: hard edges and corners in the background, so "has an edge" is not "is a shape".
  const stripes = rng.int(4);
  for (let k = 0; k < stripes; k++) {
    const col = randomColour(rng);
    const alpha = 0.4 + 0.5 * rng.next();
    const a = rng.next() * Math.PI;
    const nx = Math.cos(a);
    const ny = Math.sin(a);
    const offset = rng.symmetric() * 0.45 * size;
    const halfW = 0.5 * (1.5 + rng.next() * 0.08 * size);
    for (let y = 0; y < size; y++) {
      for (let x = 0; x < size; x++) {
        const d = Math.abs((x + 0.5 - size / 2) * nx + (y + 0.5 - size / 2) * ny - offset);
        const cov = clamp01(halfW + 0.5 - d) * alpha;
        if (cov <= 0) continue;
        const o = (y * size + x) * 3;
        for (let ch = 0; ch < 3; ch++) img[o + ch] = img[o + ch] * (1 - cov) + col[ch] * cov;
      }
    }
  }
  return img;
}

/** A shape colour that stands out from the canvas under the shape's centre (class-independent rule). */
function shapeColour(rng: Rng, img: Float32Array, size: number, cx: number, cy: number): Vec3 {
  const px = Math.min(size - 1, Math.max(0, Math.floor(cx)));
  const py = Math.min(size - 1, Math.max(0, Math.floor(cy)));
  const o = (py * size + px) * 3;
  let best: Vec3 = randomColour(rng);
  let bestDist = -1;
  for (let tries = 0; tries < 16; tries++) {
    const c = tries === 0 ? best : randomColour(rng);
    const dist = Math.hypot(c[0] - img[o], c[1] - img[o + 1], c[2] - img[o + 2]);
    if (dist > bestDist) {
      best = c;
      bestDist = dist;
    }
    if (dist >= 0.15) break;
  }
  return best;
}

function randomShape(rng: Rng, cls: number, cx: number, cy: number, s: number): Shape {
  const rot = rng.next() * 2 * Math.PI;
  const aux = cls === 4 ? 0.45 + 0.15 * rng.next() : cls === 5 ? 0.24 + 0.1 * rng.next() : 0;
  return { cls, cx, cy, s, cos: Math.cos(rot), sin: Math.sin(rot), aux };
}

/** Composites one shape (anti-aliased, shaded) onto img and, if given, writes its labels. */
function drawShape(rng: Rng, img: Float32Array, label: Uint8Array | undefined, size: number, shape: Shape): void {
  const col = shapeColour(rng, img, size, shape.cx, shape.cy);
  // Linear shading across the shape so that a flat colour is not a cue either.
  const shadeAng = rng.next() * 2 * Math.PI;
  const shade = (0.05 + 0.15 * rng.next()) / shape.s;
  const sx = Math.cos(shadeAng) * shade;
  const sy = Math.sin(shadeAng) * shade;
  const reach = 1.1 * shape.s + 2;
  const x0 = Math.max(0, Math.floor(shape.cx - reach));
  const x1 = Math.min(size - 1, Math.ceil(shape.cx + reach));
  const y0 = Math.max(0, Math.floor(shape.cy - reach));
  const y1 = Math.min(size - 1, Math.ceil(shape.cy + reach));
  for (let y = y0; y <= y1; y++) {
    const dy = y + 0.5 - shape.cy;
    for (let x = x0; x <= x1; x++) {
      const dx = x + 0.5 - shape.cx;
      // Into the shape's frame (rotate by -angle).
      const lx = shape.cos * dx + shape.sin * dy;
      const ly = -shape.sin * dx + shape.cos * dy;
      const d = sdf(shape, lx, ly);
      const p = y * size + x;
      if (label) {
        if (Math.abs(d) < IGNORE_HALF_WIDTH) label[p] = SHAPES_IGNORE_INDEX;
        else if (d < 0) label[p] = shape.cls;
      }
      const cov = clamp01(0.5 - d);
      if (cov <= 0) continue;
      const f = 1 + dx * sx + dy * sy;
      const o = p * 3;
      for (let ch = 0; ch < 3; ch++) img[o + ch] = img[o + ch] * (1 - cov) + col[ch] * f * cov;
    }
  }
}

/** Pixel noise, then quantisation to 8 bits. */
function finish(rng: Rng, img: Float32Array): Uint8Array {
  const sigma = 0.006 * rng.next();
  const out = new Uint8Array(img.length);
  for (let i = 0; i < img.length; i++) out[i] = Math.round(clamp01(img[i] + sigma * rng.symmetric()) * 255);
  return out;
}

function checkSize(size: number): void {
  if (!Number.isInteger(size) || size < 16 || size > 4096) throw new Error(`shapes: size must be an integer in [16, 4096], got ${size}`);
}

/** Image `index` of the segmentation dataset with this seed: 2-4 shapes, later ones on top. */
export function renderSegmentationSample(seed: number, index: number, size: number): SegmentationSample {
  checkSize(size);
  const rng = Rng.derive(seed, 'shapes-seg', index);
  const img = paintBackground(rng, size);
  const label = new Uint8Array(size * size);
  const count = 2 + rng.int(3);
  const placed: Shape[] = [];
  for (let k = 0; k < count; k++) {
    const cls = 1 + rng.int(NUM_SHAPES);
    const s = (0.1 + 0.1 * rng.next()) * size;
    // Partial overlaps are allowed, deep ones are not (a shape mostly hidden is not recognisable).
    for (let tries = 0; tries < 20; tries++) {
      const cx = s * 0.6 + rng.next() * (size - 1.2 * s);
      const cy = s * 0.6 + rng.next() * (size - 1.2 * s);
      if (placed.some((q) => Math.hypot(q.cx - cx, q.cy - cy) < 0.75 * (q.s + s))) continue;
      const shape = randomShape(rng, cls, cx, cy, s);
      placed.push(shape);
      drawShape(rng, img, label, size, shape);
      break;
    }
  }
  return { image: finish(rng, img), label };
}

/** Image `index` of the classification dataset: one shape near the centre; classes cycle 1..5. */
export function renderClassificationSample(seed: number, index: number, size: number): ClassificationSample {
  checkSize(size);
  const rng = Rng.derive(seed, 'shapes-cls', index);
  const img = paintBackground(rng, size);
  const classId = 1 + (index % NUM_SHAPES);
  const s = (0.22 + 0.12 * rng.next()) * size;
  const cx = size / 2 + rng.symmetric() * 0.1 * size;
  const cy = size / 2 + rng.symmetric() * 0.1 * size;
  drawShape(rng, img, undefined, size, randomShape(rng, classId, cx, cy, s));
  return { image: finish(rng, img), classId };
}

async function encodePng(data: Uint8Array, size: number, channels: 1 | 3): Promise<Buffer> {
  let img = sharp(Buffer.from(data.buffer, data.byteOffset, data.byteLength), { raw: { width: size, height: size, channels } });
  // Without b-w, sharp writes a 1-channel buffer as an RGB PNG; labels must be 8-bit grayscale.
  if (channels === 1) img = img.toColourspace('b-w');
  return img.png({ compressionLevel: 6, adaptiveFiltering: false, palette: false }).toBuffer();
}

const fileName = (i: number): string => `${String(i).padStart(5, '0')}.png`;

/**
 * Writes the dataset. Segmentation (`folder` layout): OUT/images/00000.png (RGB), OUT/labels/00000.png
 * (8-bit grayscale class ids, 255 = ignore), OUT/classes.json. Classification (ImageFolder layout):
 * OUT/<classname>/00000.png (file names are the global image index) and OUT/classes.json.
 */
export async function generateShapes(opts: ShapesOptions): Promise<ShapesSummary> {
  const { out, n, size, seed, task } = opts;
  if (!Number.isInteger(n) || n < 1) throw new Error(`shapes: n must be a positive integer, got ${n}`);
  if (!Number.isInteger(seed)) throw new Error(`shapes: seed must be an integer, got ${seed}`);
  if (task !== 'segmentation' && task !== 'classification') throw new Error(`shapes: unknown task '${String(task)}'`);
  checkSize(size);
  const names = task === 'segmentation' ? [...SHAPE_CLASS_NAMES] : SHAPE_CLASS_NAMES.slice(1);
  const palette = task === 'segmentation' ? SHAPE_PALETTE : SHAPE_PALETTE.slice(1);
  const imagesPerClass = new Array<number>(names.length).fill(0);
  if (task === 'segmentation') {
    mkdirSync(join(out, 'images'), { recursive: true });
    mkdirSync(join(out, 'labels'), { recursive: true });
  } else {
    for (const name of names) mkdirSync(join(out, name), { recursive: true });
  }

  // Rendering is synchronous; encoding runs in sharp's thread pool, a chunk at a time.
  const CHUNK = 32;
  let done = 0;
  for (let start = 0; start < n; start += CHUNK) {
    const jobs: Promise<void>[] = [];
    for (let i = start; i < Math.min(n, start + CHUNK); i++) {
      if (task === 'segmentation') {
        const { image, label } = renderSegmentationSample(seed, i, size);
        const present = new Uint8Array(256);
        for (const v of label) present[v] = 1;
        for (let c = 0; c < names.length; c++) imagesPerClass[c] += present[c];
        jobs.push(
          Promise.all([encodePng(image, size, 3), encodePng(label, size, 1)]).then(([pi, pl]) => {
            writeFileSync(join(out, 'images', fileName(i)), pi);
            writeFileSync(join(out, 'labels', fileName(i)), pl);
          }),
        );
      } else {
        const { image, classId } = renderClassificationSample(seed, i, size);
        imagesPerClass[classId - 1]++;
        jobs.push(encodePng(image, size, 3).then((p) => writeFileSync(join(out, names[classId - 1], fileName(i)), p)));
      }
    }
    await Promise.all(jobs);
    done = Math.min(n, start + CHUNK);
    opts.onProgress?.(done, n);
  }

  const meta =
    task === 'segmentation'
      ? { task, names, palette, ignoreIndex: SHAPES_IGNORE_INDEX, generator: { name: 'robustscope shapes', seed, n, size } }
      : { task, names, palette, generator: { name: 'robustscope shapes', seed, n, size } };
  writeFileSync(join(out, 'classes.json'), `${JSON.stringify(meta, null, 2)}\n`);
  return { out, task, n, size, seed, names, imagesPerClass };
}
