// The eval transform (sea.md "Data") pinned bit-exactly against PIL: fixtures/pil-transform.json is
// the reference's _val_sync_transform (PIL BILINEAR image, NEAREST label, truncated long side,
// round-half-even centre offset) on synthetic inputs; fixtures/make_pil_transform.py regenerates it.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  centreOffset,
  evalTransformImage,
  evalTransformLabel,
  evalWindow,
  hwcToChw01,
  resizeBilinearU8,
  resizeNearest,
  shortSideSize,
} from '../../src/data/transform.js';

interface Case {
  width: number;
  height: number;
  crop: number;
  resized: [number, number];
  offset: [number, number];
  imageSha256: string;
  labelSha256: string;
  image?: string;
  label?: string;
}
const FIXTURE = JSON.parse(readFileSync(join(import.meta.dirname, 'fixtures', 'pil-transform.json'), 'utf8')) as { pillow: string; cases: Case[] };

// The same synthetic inputs as make_pil_transform.py (high frequency: every tap weight matters).
function image(w: number, h: number): Uint8Array {
  const a = new Uint8Array(w * h * 3);
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++) for (let c = 0; c < 3; c++) a[(y * w + x) * 3 + c] = (x * 37 + y * 91 + c * 53 + ((x * y) % 17) * 11) % 256;
  return a;
}
function label(w: number, h: number): Uint8Array {
  const a = new Uint8Array(w * h);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) a[y * w + x] = (x * 7 + y * 3 + ((x * y) % 5)) % 23;
  return a;
}
const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

describe('eval transform', () => {
  it('geometry: short side to crop, long side truncated, centre offset rounded half to even', () => {
    expect(shortSideSize(500, 375, 473)).toEqual({ width: 630, height: 473 }); // 630.67 truncated, not rounded
    expect(shortSideSize(375, 500, 473)).toEqual({ width: 473, height: 630 });
    expect(shortSideSize(20, 20, 7)).toEqual({ width: 7, height: 7 });
    // Python round(): 0.5 -> 0, 1.5 -> 2, 2.5 -> 2, 3.5 -> 4.
    expect([1, 3, 5, 7].map((d) => centreOffset(10 + d, 10))).toEqual([0, 2, 2, 4]);
    expect(centreOffset(157 + 473, 473)).toBe(78); // 78.5 -> 78
    expect(() => centreOffset(5, 6)).toThrow(/cannot crop 6 pixels out of 5/);
    expect(() => shortSideSize(10, 10, 0)).toThrow(/positive integer/);
  });

  it(`matches PIL ${FIXTURE.pillow} bit for bit (image and label, up- and downsampling, odd offsets)`, () => {
    expect(FIXTURE.cases.length).toBeGreaterThanOrEqual(10);
    for (const c of FIXTURE.cases) {
      const what = `${c.width}x${c.height} -> ${c.crop}`;
      const w = evalWindow(c.width, c.height, c.crop);
      expect([w.width, w.height, w.left, w.top], what).toEqual([...c.resized, ...c.offset]);
      const img = evalTransformImage(image(c.width, c.height), c.width, c.height, 3, c.crop);
      const lab = evalTransformLabel(label(c.width, c.height), c.width, c.height, c.crop);
      expect(img.length).toBe(c.crop * c.crop * 3);
      expect(lab.length).toBe(c.crop * c.crop);
      // Small cases carry the full arrays: compare them first so a failure shows the values.
      if (c.image) expect(Array.from(img), what).toEqual(Array.from(Buffer.from(c.image, 'base64')));
      if (c.label) expect(Array.from(lab), what).toEqual(Array.from(Buffer.from(c.label, 'base64')));
      expect(sha(img), what).toBe(c.imageSha256);
      expect(sha(lab), what).toBe(c.labelSha256);
    }
  });

  it('the window evaluates exactly the crop of the full resize', () => {
    const src = image(23, 17);
    const full = resizeBilinearU8(src, 23, 17, 3, 31, 11);
    const win = resizeBilinearU8(src, 23, 17, 3, 31, 11, { left: 5, top: 3, width: 9, height: 6 });
    for (let y = 0; y < 6; y++)
      for (let x = 0; x < 9; x++) for (let c = 0; c < 3; c++) expect(win[(y * 9 + x) * 3 + c]).toBe(full[((y + 3) * 31 + x + 5) * 3 + c]);
    const lab = label(23, 17);
    const fullL = resizeNearest(lab, 23, 17, 31, 11);
    const winL = resizeNearest(lab, 23, 17, 31, 11, { left: 5, top: 3, width: 9, height: 6 });
    for (let y = 0; y < 6; y++) for (let x = 0; x < 9; x++) expect(winL[y * 9 + x]).toBe(fullL[(y + 3) * 31 + x + 5]);
  });

  it('labels stay class ids under nearest (no blended values), Int32 labels too', () => {
    const lab = new Int32Array(40 * 30).map((_, p) => (p % 40 < 20 ? 3 : 1000));
    const out = evalTransformLabel(lab, 40, 30, 17);
    expect(out).toBeInstanceOf(Int32Array);
    expect(new Set(out)).toEqual(new Set([3, 1000]));
  });

  it('a constant image stays constant (weights sum to one in fixed point)', () => {
    const src = new Uint8Array(37 * 29 * 3).fill(200);
    for (const crop of [5, 29, 64]) expect(new Set(evalTransformImage(src, 37, 29, 3, crop))).toEqual(new Set([200]));
  });

  it('hwcToChw01 divides by 255 and moves channels first', () => {
    const chw = hwcToChw01(new Uint8Array([255, 0, 51, 0, 102, 255]), 2, 1);
    expect(Array.from(chw)).toEqual([1, 0, 0, 102 / 255, 51 / 255, 1].map(Math.fround));
    expect(() => hwcToChw01(new Uint8Array(5), 2, 1)).toThrow(/expected 6 bytes/);
  });
});
