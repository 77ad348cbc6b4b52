// Image files <-> arrays. Decoding through sharp (libvips) at native size, the eval transform in
// TypeScript (transform.ts, PIL-exact). Every failure names the file.
import sharp from 'sharp';
import { centreOffset, hwcToChw01, resizeBilinearU8, resizeNearest, shortSideSize, TransformError } from './transform.js';

export { shortSideSize };

export class ImageError extends Error {}

export type Rgb = [number, number, number];

export interface Resize {
  /** Resize so the short side is `short`, then centre-crop `crop` x `crop` (sea.md: short = crop). */
  short: number;
  crop: number;
}

/** Decoded 8-bit RGB, interleaved (HWC). */
export interface RgbU8 {
  data: Uint8Array;
  width: number;
  height: number;
}

/** Class ids per pixel, row-major. */
export interface LabelMap {
  data: Uint8Array;
  width: number;
  height: number;
}

const fail = (path: string, e: unknown): ImageError =>
  e instanceof ImageError ? e : new ImageError(`cannot decode image '${path}': ${(e as Error).message.split('\n')[0]}`);

// failOn 'error' rejects truncated and corrupt files instead of returning grey; ignoreIcc keeps the
// stored values (PIL, which the reference uses, does not colour-manage either).
const open = (path: string) => sharp(path, { failOn: 'error', ignoreIcc: true });

/** RGB pixels as stored (alpha dropped, grey replicated, palette expanded), native size. */
export async function decodeRgb(path: string): Promise<RgbU8> {
  try {
    const { data, info } = await open(path).removeAlpha().toColourspace('srgb').raw({ depth: 'uchar' }).toBuffer({ resolveWithObject: true });
    if (info.channels !== 3) throw new ImageError(`cannot decode image '${path}': expected 3 colour channels, got ${info.channels}`);
    return { data: new Uint8Array(data.buffer, data.byteOffset, data.length), width: info.width, height: info.height };
  } catch (e) {
    throw fail(path, e);
  }
}

/**
 * Label map as class ids, native size. Greyscale PNGs hold the ids (8 or 16 bit; 1/2/4-bit grey
 * is rescaled back from libvips' 0..255 expansion). Colour PNGs, and palette PNGs (which libvips
 * expands to colour), are mapped back to indices through `palette`; a colour outside it is an
 * error naming the pixel, unless the whole image is grey: then, as without a palette, a colour
 * label whose three channels agree everywhere is read as grey ids (ids saved as RGB).
 */
export async function decodeLabel(path: string, palette?: Rgb[]): Promise<LabelMap> {
  try {
    const meta = await open(path).metadata();
    const colour = meta.isPalette === true || (meta.channels ?? 1) >= 3;
    if (!colour) {
      if (meta.depth === 'ushort') {
        const { data, info } = await open(path).toColourspace('grey16').raw({ depth: 'ushort' }).toBuffer({ resolveWithObject: true });
        const v = new Uint16Array(data.buffer.slice(data.byteOffset, data.byteOffset + data.length));
        const out = new Uint8Array(info.width * info.height);
        for (let p = 0; p < out.length; p++) {
          const x = v[p * info.channels];
          if (x > 255) throw new ImageError(`label '${path}': class id ${x} at pixel ${where(p, info.width)} does not fit in 8 bits`);
          out[p] = x;
        }
        return { data: out, width: info.width, height: info.height };
      }
      const { data, info } = await open(path).extractChannel(0).raw({ depth: 'uchar' }).toBuffer({ resolveWithObject: true });
      const out = new Uint8Array(data.buffer, data.byteOffset, data.length);
      const bits = meta.bitsPerSample ?? 8;
      if (bits < 8) {
        const step = 255 / (2 ** bits - 1); // 1-bit ids come back as 0/255, 4-bit as multiples of 17
        for (let p = 0; p < out.length; p++) out[p] = Math.round(out[p] / step);
      }
      return { data: out, width: info.width, height: info.height };
    }
    const { data, info } = await open(path).removeAlpha().toColourspace('srgb').raw({ depth: 'uchar' }).toBuffer({ resolveWithObject: true });
    const c = info.channels;
    const n = info.width * info.height;
    const out = new Uint8Array(n);
    // Grey ids saved as RGB (all three channels equal everywhere; sharp writes 1-channel buffers
    // that way unless told 'b-w') are ids.
    const greyIds = (): boolean => {
      for (let p = 0; p < n; p++) {
        const v = data[p * c];
        if (data[p * c + 1] !== v || data[p * c + 2] !== v) return false;
        out[p] = v;
      }
      return true;
    };
    if (!palette) {
      if (greyIds()) return { data: out, width: info.width, height: info.height };
      const p = firstColour(data, c, n);
      throw new ImageError(
        `label '${path}' is a colour image (colour (${data[p * c]}, ${data[p * c + 1]}, ${data[p * c + 2]}) at pixel ${where(p, info.width)}) but the dataset has no palette; expected single-channel class ids`,
      );
    }
    // The palette has priority (VOC's "car" is the grey (128,128,128)); a colour outside it is an
    // error unless the whole image is grey, i.e. ids stored as RGB next to a display palette.
    const lut = new Map<number, number>();
    palette.forEach(([R, G, B], k) => {
      const key = (R << 16) | (G << 8) | B;
      if (!lut.has(key)) lut.set(key, k); // duplicates: the first index wins
    });
    let lastKey = -1;
    let lastId = 0;
    for (let p = 0; p < n; p++) {
      const key = (data[p * c] << 16) | (data[p * c + 1] << 8) | data[p * c + 2];
      if (key !== lastKey) {
        const id = lut.get(key);
        if (id === undefined) {
          if (greyIds()) return { data: out, width: info.width, height: info.height };
          throw new ImageError(
            `label '${path}': colour (${data[p * c]}, ${data[p * c + 1]}, ${data[p * c + 2]}) at pixel ${where(p, info.width)} is not in the palette`,
          );
        }
        if (id > 255) throw new ImageError(`label '${path}': palette index ${id} at pixel ${where(p, info.width)} does not fit in 8 bits`);
        lastKey = key;
        lastId = id;
      }
      out[p] = lastId;
    }
    return { data: out, width: info.width, height: info.height };
  } catch (e) {
    throw fail(path, e);
  }
}

/** Index of the first pixel whose channels differ. */
function firstColour(data: Uint8Array, c: number, n: number): number {
  for (let p = 0; p < n; p++) if (data[p * c + 1] !== data[p * c] || data[p * c + 2] !== data[p * c]) return p;
  return 0;
}

function where(p: number, width: number): string {
  return `(${p % width}, ${Math.floor(p / width)})`;
}

function window(width: number, height: number, r: Resize) {
  if (r.crop > r.short) throw new TransformError(`crop ${r.crop} is larger than the resized short side ${r.short}`);
  const full = shortSideSize(width, height, r.short);
  return { ...full, win: { left: centreOffset(full.width, r.crop), top: centreOffset(full.height, r.crop), width: r.crop, height: r.crop } };
}

/** Eval transform (bilinear) of decoded RGB; returns float32 CHW in [0,1]. */
export function transformRgb(img: RgbU8, resize?: Resize): { data: Float32Array; width: number; height: number } {
  if (!resize) return { data: hwcToChw01(img.data, img.width, img.height), width: img.width, height: img.height };
  const w = window(img.width, img.height, resize);
  const u8 = resizeBilinearU8(img.data, img.width, img.height, 3, w.width, w.height, w.win);
  return { data: hwcToChw01(u8, resize.crop, resize.crop), width: resize.crop, height: resize.crop };
}

/** Eval transform (nearest) of a label map. */
export function transformLabel(lab: LabelMap, resize?: Resize): LabelMap {
  if (!resize) return lab;
  const w = window(lab.width, lab.height, resize);
  return { data: resizeNearest(lab.data, lab.width, lab.height, w.width, w.height, w.win), width: resize.crop, height: resize.crop };
}

/** RGB image as float32 CHW in [0,1] (alpha dropped, grey replicated), optionally eval-transformed. */
export async function readRgb(path: string, resize?: Resize): Promise<{ data: Float32Array; width: number; height: number }> {
  const img = await decodeRgb(path);
  try {
    return transformRgb(img, resize);
  } catch (e) {
    throw e instanceof TransformError ? new ImageError(`image '${path}': ${e.message}`) : e;
  }
}

/** Label map as class ids (see decodeLabel), optionally eval-transformed (nearest). */
export async function readLabel(path: string, palette?: Rgb[], resize?: Resize): Promise<LabelMap> {
  const lab = await decodeLabel(path, palette);
  try {
    return transformLabel(lab, resize);
  } catch (e) {
    throw e instanceof TransformError ? new ImageError(`label '${path}': ${e.message}`) : e;
  }
}

/**
 * An image and its label, checked to have the same size BEFORE the eval transform (after it both
 * would be crop x crop and a mismatch would go unnoticed), then transformed together.
 */
export async function readPair(
  imagePath: string,
  labelPath: string,
  palette?: Rgb[],
  resize?: Resize,
): Promise<{ image: Float32Array; label: Uint8Array; width: number; height: number }> {
  const [img, lab] = await Promise.all([decodeRgb(imagePath), decodeLabel(labelPath, palette)]);
  if (img.width !== lab.width || img.height !== lab.height)
    throw new ImageError(`label '${labelPath}' is ${lab.width}x${lab.height} but image '${imagePath}' is ${img.width}x${img.height}`);
  try {
    const x = transformRgb(img, resize);
    const y = transformLabel(lab, resize);
    return { image: x.data, label: y.data, width: x.width, height: x.height };
  } catch (e) {
    throw e instanceof TransformError ? new ImageError(`image '${imagePath}': ${e.message}`) : e;
  }
}

/** PNG of a float CHW image in [0,1]. */
export function rgbPng(chw: Float32Array, width: number, height: number): Promise<Buffer> {
  const n = width * height;
  const buf = Buffer.alloc(3 * n);
  for (let p = 0; p < n; p++) for (let k = 0; k < 3; k++) buf[p * 3 + k] = Math.round(255 * Math.min(1, Math.max(0, chw[k * n + p])));
  return sharp(buf, { raw: { width, height, channels: 3 } })
    .png()
    .toBuffer();
}

/** PNG of class ids coloured by `palette` (ids beyond it, e.g. ignore, drawn white). */
export function palettePng(ids: ArrayLike<number>, width: number, height: number, palette: Rgb[]): Promise<Buffer> {
  const buf = Buffer.alloc(3 * ids.length);
  for (let p = 0; p < ids.length; p++) {
    const c = palette[ids[p]] ?? [255, 255, 255];
    buf[p * 3] = c[0];
    buf[p * 3 + 1] = c[1];
    buf[p * 3 + 2] = c[2];
  }
  return sharp(buf, { raw: { width, height, channels: 3 } })
    .png()
    .toBuffer();
}

/** Single-channel 8-bit PNG of class ids (the `folder` layout's label format). */
export function labelPng(ids: Uint8Array, width: number, height: number): Promise<Buffer> {
  return sharp(Buffer.from(ids.buffer, ids.byteOffset, ids.length), { raw: { width, height, channels: 1 } })
    .toColourspace('b-w')
    .png()
    .toBuffer();
}

/** The PASCAL VOC colour map (bit-interleaved), 256 entries; 255 = boundary (224, 224, 192). */
export function vocPalette(): Rgb[] {
  const out: Rgb[] = [];
  for (let i = 0; i < 256; i++) {
    let r = 0;
    let g = 0;
    let b = 0;
    let c = i;
    for (let j = 0; j < 8; j++) {
      r |= ((c >> 0) & 1) << (7 - j);
      g |= ((c >> 1) & 1) << (7 - j);
      b |= ((c >> 2) & 1) << (7 - j);
      c >>= 3;
    }
    out.push([r, g, b]);
  }
  return out;
}

/** A distinct colour per class for predictions (VOC's map: well separated for small ids). */
export function defaultPalette(n: number): Rgb[] {
  return vocPalette().slice(0, Math.max(1, n));
}
