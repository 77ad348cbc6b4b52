// Image files <-> arrays, through sharp (libvips). Decoding failures name the file.
import sharp from 'sharp';

export class ImageError extends Error {}

export type Rgb = [number, number, number];

export interface Resize {
  /** Resize so the short side is `short`, then centre-crop `crop` x `crop`. */
  short: number;
  crop: number;
}

/** Sizes after resizing the short side to `short` (as torchvision/mmseg round). */
export function shortSideSize(width: number, height: number, short: number): { width: number; height: number } {
  const s = short / Math.min(width, height);
  return { width: Math.max(short, Math.round(width * s)), height: Math.max(short, Math.round(height * s)) };
}

async function raw(
  path: string,
  resize: Resize | undefined,
  kernel: 'linear' | 'nearest',
): Promise<{ data: Buffer; width: number; height: number; channels: number }> {
  try {
    let img = sharp(path, { failOn: 'error' });
    if (resize) {
      const meta = await img.metadata();
      if (!meta.width || !meta.height) throw new ImageError('no size');
      const sz = shortSideSize(meta.width, meta.height, resize.short);
      img = img
        .resize({ width: sz.width, height: sz.height, kernel, fit: 'fill' })
        .extract({ left: Math.floor((sz.width - resize.crop) / 2), top: Math.floor((sz.height - resize.crop) / 2), width: resize.crop, height: resize.crop });
    }
    const { data, info } = await img.raw().toBuffer({ resolveWithObject: true });
    return { data, width: info.width, height: info.height, channels: info.channels };
  } catch (e) {
    throw new ImageError(`cannot decode image '${path}': ${(e as Error).message}`);
  }
}

/** RGB image as float32 CHW in [0,1] (alpha dropped, grey replicated). Bilinear when resizing. */
export async function readRgb(path: string, resize?: Resize): Promise<{ data: Float32Array; width: number; height: number }> {
  const r = await raw(path, resize, 'linear');
  const n = r.width * r.height;
  const out = new Float32Array(3 * n);
  const c = r.channels;
  for (let p = 0; p < n; p++)
    for (let k = 0; k < 3; k++) {
      const src = c >= 3 ? k : 0;
      out[k * n + p] = r.data[p * c + src] / 255;
    }
  return { data: out, width: r.width, height: r.height };
}

/**
 * Label map as class ids. Single-channel PNGs hold the ids; colour (or palette, which libvips
 * expands to colour) PNGs are mapped back through `palette`. Nearest-neighbour when resizing.
 */
export async function readLabel(path: string, palette?: Rgb[], resize?: Resize): Promise<{ data: Uint8Array; width: number; height: number }> {
  const r = await raw(path, resize, 'nearest');
  const n = r.width * r.height;
  const out = new Uint8Array(n);
  const c = r.channels;
  if (c <= 2) {
    for (let p = 0; p < n; p++) out[p] = r.data[p * c];
    return { data: out, width: r.width, height: r.height };
  }
  if (!palette) {
    // Grey ids saved as RGB (equal channels) are still ids.
    for (let p = 0; p < n; p++) {
      const v = r.data[p * c];
      if (r.data[p * c + 1] !== v || r.data[p * c + 2] !== v)
        throw new ImageError(`label '${path}' is a colour image but the dataset has no palette (expected single-channel class ids)`);
      out[p] = v;
    }
    return { data: out, width: r.width, height: r.height };
  }
  const lut = new Map<number, number>();
  palette.forEach(([R, G, B], k) => lut.set((R << 16) | (G << 8) | B, k));
  for (let p = 0; p < n; p++) {
    const key = (r.data[p * c] << 16) | (r.data[p * c + 1] << 8) | r.data[p * c + 2];
    const id = lut.get(key);
    if (id === undefined)
      throw new ImageError(
        `label '${path}': colour (${r.data[p * c]}, ${r.data[p * c + 1]}, ${r.data[p * c + 2]}) at pixel (${p % r.width}, ${Math.floor(p / r.width)}) is not in the palette`,
      );
    out[p] = id;
  }
  return { data: out, width: r.width, height: r.height };
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
export function palettePng(ids: Uint8Array, width: number, height: number, palette: Rgb[]): Promise<Buffer> {
  const buf = Buffer.alloc(3 * ids.length);
  ids.forEach((id, p) => {
    const c = palette[id] ?? [255, 255, 255];
    buf[p * 3] = c[0];
    buf[p * 3 + 1] = c[1];
    buf[p * 3 + 2] = c[2];
  });
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
