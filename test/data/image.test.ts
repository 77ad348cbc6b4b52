// Image and label decoding (src/data/image.ts): what the decoders return for each PNG/JPEG kind,
// that corrupt files fail naming the file, that image/label sizes are compared BEFORE the eval
// transform, and the PNG encoders.
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { deflateSync } from 'node:zlib';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { decodeLabel, decodeRgb, ImageError, labelPng, palettePng, type Rgb, readLabel, readPair, readRgb, rgbPng, vocPalette } from '../../src/data/image.js';
import { evalTransformImage, evalTransformLabel, hwcToChw01 } from '../../src/data/transform.js';

const tmp = () => mkdtempSync(join(tmpdir(), 'rs-image-'));

// A minimal PNG writer for the kinds sharp cannot be asked for directly (palette with a given
// colour table, 1-bit and 16-bit grey). Rows are given unfiltered, already packed.
const CRC = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});
function crc32(b: Buffer): number {
  let c = 0xffffffff;
  for (const x of b) c = CRC[(c ^ x) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}
function chunk(type: string, data: Buffer): Buffer {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(data.length);
  const body = Buffer.concat([Buffer.from(type, 'ascii'), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(body));
  return Buffer.concat([len, body, crc]);
}
function png(width: number, height: number, bitDepth: number, colourType: number, rows: number[][], plte?: Rgb[]): Buffer {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = bitDepth;
  ihdr[9] = colourType;
  const raw = Buffer.concat(rows.map((r) => Buffer.from([0, ...r])));
  return Buffer.concat([
    Buffer.from([137, 80, 78, 71, 13, 10, 26, 10]),
    chunk('IHDR', ihdr),
    ...(plte ? [chunk('PLTE', Buffer.from(plte.flat()))] : []),
    chunk('IDAT', deflateSync(raw)),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

async function rawFile(path: string, w: number, h: number, channels: 1 | 2 | 3 | 4, f: (x: number, y: number) => number[], fmt: 'png' | 'jpeg' = 'png') {
  const b = Buffer.alloc(w * h * channels);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) b.set(f(x, y), (y * w + x) * channels);
  let img = sharp(b, { raw: { width: w, height: h, channels } });
  if (channels === 1) img = img.toColourspace('b-w');
  await (fmt === 'png' ? img.png() : img.jpeg({ quality: 95 })).toFile(path);
}

describe('decodeRgb', () => {
  it('RGB, RGBA (alpha dropped, not composited), grey (replicated) and palette PNGs', async () => {
    const d = tmp();
    await rawFile(join(d, 'rgb.png'), 2, 1, 3, (x) => [10 + x, 20, 30]);
    expect(Array.from((await decodeRgb(join(d, 'rgb.png'))).data)).toEqual([10, 20, 30, 11, 20, 30]);
    await rawFile(join(d, 'rgba.png'), 2, 1, 4, (x) => [100, 150, 200, x * 255]);
    expect(Array.from((await decodeRgb(join(d, 'rgba.png'))).data)).toEqual([100, 150, 200, 100, 150, 200]);
    await rawFile(join(d, 'grey.png'), 2, 1, 1, (x) => [x ? 77 : 3]);
    expect(Array.from((await decodeRgb(join(d, 'grey.png'))).data)).toEqual([3, 3, 3, 77, 77, 77]);
    writeFileSync(
      join(d, 'pal.png'),
      png(
        2,
        1,
        8,
        3,
        [[1, 0]],
        [
          [1, 2, 3],
          [200, 100, 50],
        ],
      ),
    );
    const p = await decodeRgb(join(d, 'pal.png'));
    expect([p.width, p.height, ...p.data]).toEqual([2, 1, 200, 100, 50, 1, 2, 3]);
  });

  it('JPEG pixels equal PIL’s decoding (the reference loader), chroma subsampled or not', async () => {
    const fx = JSON.parse(readFileSync(join(import.meta.dirname, 'fixtures', 'pil-jpeg.json'), 'utf8')) as {
      cases: { width: number; height: number; subsampling: number; jpeg: string; decoded: string }[];
    };
    const d = tmp();
    for (const c of fx.cases) {
      const f = join(d, `s${c.subsampling}.jpg`);
      writeFileSync(f, Buffer.from(c.jpeg, 'base64'));
      const img = await decodeRgb(f);
      expect([img.width, img.height]).toEqual([c.width, c.height]);
      const ref = Buffer.from(c.decoded, 'base64');
      let maxDiff = 0;
      for (let k = 0; k < ref.length; k++) maxDiff = Math.max(maxDiff, Math.abs(ref[k] - img.data[k]));
      expect(maxDiff, `subsampling ${c.subsampling}`).toBe(0);
    }
  });

  it('readRgb: CHW floats x/255, and the eval transform of the decoded pixels', async () => {
    const d = tmp();
    await rawFile(join(d, 'a.png'), 13, 9, 3, (x, y) => [x * 19, y * 28, (x * y) % 256]);
    const dec = await decodeRgb(join(d, 'a.png'));
    const native = await readRgb(join(d, 'a.png'));
    expect(native.data).toEqual(hwcToChw01(dec.data, 13, 9));
    const t = await readRgb(join(d, 'a.png'), { short: 7, crop: 7 });
    expect([t.width, t.height]).toEqual([7, 7]);
    expect(t.data).toEqual(hwcToChw01(evalTransformImage(dec.data, 13, 9, 3, 7), 7, 7));
  });

  it('corrupt, truncated and missing files fail with one line naming the file', async () => {
    const d = tmp();
    await rawFile(join(d, 'ok.png'), 32, 32, 3, (x, y) => [x, y, 0]);
    await rawFile(join(d, 'ok.jpg'), 32, 32, 3, (x, y) => [x * 8, y * 8, 0], 'jpeg');
    const png0 = readFileSync(join(d, 'ok.png'));
    const jpg0 = readFileSync(join(d, 'ok.jpg'));
    writeFileSync(join(d, 'trunc.png'), png0.subarray(0, png0.length - 30));
    writeFileSync(join(d, 'trunc.jpg'), jpg0.subarray(0, jpg0.length >> 1));
    writeFileSync(join(d, 'junk.png'), 'not an image at all');
    for (const f of ['trunc.png', 'trunc.jpg', 'junk.png', 'missing.png']) {
      const path = join(d, f);
      const e = await decodeRgb(path).then(
        () => undefined,
        (err: unknown) => err,
      );
      expect(e, f).toBeInstanceOf(ImageError);
      const msg = (e as Error).message;
      expect(msg).toContain(`cannot decode image '${path}'`);
      expect(msg).not.toContain('\n');
      await expect(decodeLabel(path)).rejects.toThrow(path);
    }
  });
});

describe('decodeLabel', () => {
  it('8-bit grey ids exactly (incl. 255), 16-bit grey exactly, 1- and 4-bit grey rescaled to ids', async () => {
    const d = tmp();
    await rawFile(join(d, 'g8.png'), 4, 1, 1, (x) => [[0, 1, 20, 255][x]]);
    expect(Array.from((await decodeLabel(join(d, 'g8.png'))).data)).toEqual([0, 1, 20, 255]);
    writeFileSync(join(d, 'g16.png'), png(3, 1, 16, 0, [[0, 3, 0, 150, 0, 255]]));
    expect(Array.from((await decodeLabel(join(d, 'g16.png'))).data)).toEqual([3, 150, 255]);
    writeFileSync(join(d, 'big16.png'), png(2, 1, 16, 0, [[0, 1, 1, 44]]));
    await expect(decodeLabel(join(d, 'big16.png'))).rejects.toThrow(/big16\.png': class id 300 at pixel \(1, 0\) does not fit in 8 bits/);
    writeFileSync(join(d, 'g1.png'), png(8, 1, 1, 0, [[0b10110000]]));
    expect(Array.from((await decodeLabel(join(d, 'g1.png'))).data)).toEqual([1, 0, 1, 1, 0, 0, 0, 0]);
    writeFileSync(join(d, 'g4.png'), png(4, 1, 4, 0, [[0x0f, 0x72]]));
    expect(Array.from((await decodeLabel(join(d, 'g4.png'))).data)).toEqual([0, 15, 7, 2]);
    // Grey with alpha: the grey channel.
    await rawFile(join(d, 'ga.png'), 2, 1, 2, (x) => [x + 4, 0]);
    expect(Array.from((await decodeLabel(join(d, 'ga.png'))).data)).toEqual([4, 5]);
  });

  it('palette PNGs (as VOC ships them) map back to indices through the VOC colour map, 255 = boundary', async () => {
    const d = tmp();
    const voc = vocPalette();
    expect(voc[255]).toEqual([224, 224, 192]);
    expect(voc.slice(0, 4)).toEqual([
      [0, 0, 0],
      [128, 0, 0],
      [0, 128, 0],
      [128, 128, 0],
    ]);
    expect(new Set(voc.map((c) => c.join())).size).toBe(256);
    // A VOC-style file: the full 256-colour table, indices 0, 15, 255, 20.
    writeFileSync(join(d, 'voc.png'), png(4, 1, 8, 3, [[0, 15, 255, 20]], voc));
    expect(Array.from((await decodeLabel(join(d, 'voc.png'), voc)).data)).toEqual([0, 15, 255, 20]);
    // The same colours stored as RGB decode the same way.
    await rawFile(join(d, 'rgb.png'), 4, 1, 3, (x) => voc[[0, 15, 255, 20][x]]);
    expect(Array.from((await decodeLabel(join(d, 'rgb.png'), voc)).data)).toEqual([0, 15, 255, 20]);
    // A 4-bit palette file (short table) still maps by colour.
    writeFileSync(join(d, 'p4.png'), png(2, 1, 4, 3, [[0x21]], voc.slice(0, 3)));
    expect(Array.from((await decodeLabel(join(d, 'p4.png'), voc)).data)).toEqual([2, 1]);
  });

  it('a colour outside the palette, or a colour label without a palette, fails naming file, pixel and colour', async () => {
    const d = tmp();
    const voc = vocPalette();
    await rawFile(join(d, 'odd.png'), 3, 2, 3, (x, y) => (x === 2 && y === 1 ? [1, 2, 3] : voc[1]));
    await expect(decodeLabel(join(d, 'odd.png'), voc)).rejects.toThrow(/label '.*odd\.png': colour \(1, 2, 3\) at pixel \(2, 1\) is not in the palette/);
    await expect(decodeLabel(join(d, 'odd.png'))).rejects.toThrow(/label '.*odd\.png' is a colour image .* but the dataset has no palette/);
    // The palette has priority over grey: VOC's class 7 is the grey (128, 128, 128).
    await rawFile(join(d, 'car.png'), 2, 1, 3, (x) => voc[[0, 7][x]]);
    expect(Array.from((await decodeLabel(join(d, 'car.png'), voc)).data)).toEqual([0, 7]);
    // Grey values saved as RGB (equal channels) are ids without a palette, and with a palette
    // that does not hold them (ids stored as RGB next to a display palette).
    await rawFile(join(d, 'ids.png'), 3, 1, 3, (x) => [[0, 2, 255][x], [0, 2, 255][x], [0, 2, 255][x]]);
    const display: Rgb[] = [
      [255, 0, 0],
      [0, 255, 0],
      [0, 0, 255],
    ];
    expect(Array.from((await decodeLabel(join(d, 'ids.png'), display)).data)).toEqual([0, 2, 255]);
    await rawFile(join(d, 'greyrgb.png'), 2, 1, 3, (x) => [x + 7, x + 7, x + 7]);
    expect(Array.from((await decodeLabel(join(d, 'greyrgb.png'))).data)).toEqual([7, 8]);
  });

  it('readLabel transforms with nearest: the values stay the original ids', async () => {
    const d = tmp();
    await rawFile(join(d, 'l.png'), 11, 17, 1, (x, y) => [(x * 3 + y) % 5 === 0 ? 255 : (x + y) % 4]);
    const dec = await decodeLabel(join(d, 'l.png'));
    const t = await readLabel(join(d, 'l.png'), undefined, { short: 6, crop: 6 });
    expect([t.width, t.height]).toEqual([6, 6]);
    expect(Array.from(t.data)).toEqual(Array.from(evalTransformLabel(dec.data, 11, 17, 6)));
    for (const v of t.data) expect([0, 1, 2, 3, 255]).toContain(v);
  });
});

describe('readPair', () => {
  it('compares image and label sizes before the transform (after it both would be crop x crop)', async () => {
    const d = tmp();
    await rawFile(join(d, 'a.png'), 6, 4, 3, () => [1, 2, 3]);
    await rawFile(join(d, 'l.png'), 5, 4, 1, () => [0]);
    for (const resize of [undefined, { short: 4, crop: 4 }])
      await expect(readPair(join(d, 'a.png'), join(d, 'l.png'), undefined, resize)).rejects.toThrow(/label '.*l\.png' is 5x4 but image '.*a\.png' is 6x4/);
    await rawFile(join(d, 'l.png'), 6, 4, 1, (x) => [x % 3]);
    const p = await readPair(join(d, 'a.png'), join(d, 'l.png'), undefined, { short: 4, crop: 4 });
    expect([p.width, p.height, p.image.length, p.label.length]).toEqual([4, 4, 48, 16]);
  });
});

describe('encoders', () => {
  it('rgbPng, palettePng and labelPng round-trip through the decoders', async () => {
    const d = tmp();
    const chw = Float32Array.from([0, 0.5, 1, 1.2, 0.2, 0.4, -0.1, 0.6, 0.8, 0.92, 1, 0]); // 2x2 CHW, clipped to [0,1], rounded
    writeFileSync(join(d, 'rgb.png'), await rgbPng(chw, 2, 2));
    expect(Array.from((await decodeRgb(join(d, 'rgb.png'))).data)).toEqual([0, 51, 204, 128, 102, 235, 255, 0, 255, 255, 153, 0]);
    const pal: Rgb[] = [
      [0, 0, 0],
      [10, 200, 30],
    ];
    writeFileSync(join(d, 'pal.png'), await palettePng(Uint8Array.from([1, 0, 255]), 3, 1, pal));
    expect(Array.from((await decodeRgb(join(d, 'pal.png'))).data)).toEqual([10, 200, 30, 0, 0, 0, 255, 255, 255]);
    const ids = Uint8Array.from([0, 1, 2, 255, 17, 3]);
    writeFileSync(join(d, 'lab.png'), await labelPng(ids, 3, 2));
    expect((await sharp(join(d, 'lab.png')).metadata()).channels).toBe(1);
    expect(Array.from((await decodeLabel(join(d, 'lab.png'))).data)).toEqual(Array.from(ids));
  });
});
