// Dataset readers on small generated trees in each layout, the eval transform, and clear errors.
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { ADE20K_CLASSES, VOC_CLASSES } from '../../src/data/class-names.js';
import { classWeights, openDataset } from '../../src/data/datasets.js';
import { readLabel, readRgb, shortSideSize, vocPalette } from '../../src/data/image.js';
import type { Sample } from '../../src/eval/run.js';

const tmp = () => mkdtempSync(join(tmpdir(), 'rs-data-'));

async function rgbFile(path: string, w: number, h: number, f: (x: number, y: number) => [number, number, number], fmt: 'png' | 'jpeg' = 'png'): Promise<void> {
  const b = Buffer.alloc(w * h * 3);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) b.set(f(x, y), (y * w + x) * 3);
  const img = sharp(b, { raw: { width: w, height: h, channels: 3 } });
  await (fmt === 'png' ? img.png() : img.jpeg({ quality: 95 })).toFile(path);
}

async function greyFile(path: string, w: number, h: number, f: (x: number, y: number) => number): Promise<void> {
  const b = Buffer.alloc(w * h);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) b[y * w + x] = f(x, y);
  await sharp(b, { raw: { width: w, height: h, channels: 1 } })
    .toColourspace('b-w')
    .png()
    .toFile(path);
}

async function all(ds: { samples(): AsyncIterable<Sample> }): Promise<Sample[]> {
  const out: Sample[] = [];
  for await (const s of ds.samples()) out.push(s);
  return out;
}

describe('image IO', () => {
  it('reads RGB as CHW in [0,1] and grey label ids exactly', async () => {
    const d = tmp();
    await rgbFile(join(d, 'a.png'), 3, 2, (x, y) => [x * 100, y * 200, 7]);
    const img = await readRgb(join(d, 'a.png'));
    expect([img.width, img.height]).toEqual([3, 2]);
    expect(img.data[0 * 6 + 2]).toBeCloseTo(200 / 255, 6); // R at (2,0)
    expect(img.data[1 * 6 + 3]).toBeCloseTo(200 / 255, 6); // G at (0,1)
    await greyFile(join(d, 'l.png'), 3, 2, (x, y) => (x === 2 ? 255 : x + y));
    expect(Array.from((await readLabel(join(d, 'l.png'))).data)).toEqual([0, 1, 255, 1, 2, 255]);
  });

  it('the eval transform resizes the short side and centre-crops; labels stay integer (nearest)', async () => {
    const d = tmp();
    await rgbFile(join(d, 'a.png'), 40, 20, () => [10, 20, 30]);
    await greyFile(join(d, 'l.png'), 40, 20, (x) => (x < 20 ? 1 : 2));
    expect(shortSideSize(40, 20, 10)).toEqual({ width: 20, height: 10 });
    const img = await readRgb(join(d, 'a.png'), { short: 10, crop: 10 });
    expect([img.width, img.height]).toEqual([10, 10]);
    const lab = await readLabel(join(d, 'l.png'), undefined, { short: 10, crop: 10 });
    expect(new Set(lab.data)).toEqual(new Set([1, 2]));
    // Centre crop of the 20x10 resize keeps columns 5..14: left half class 1, right half class 2.
    expect(lab.data[0]).toBe(1);
    expect(lab.data[9]).toBe(2);
  });
});

describe('datasets', () => {
  it('folder: sorted order, classes.json, limit; size mismatch and out-of-range ids fail naming the file', async () => {
    const d = tmp();
    mkdirSync(join(d, 'images'));
    mkdirSync(join(d, 'labels'));
    for (const n of ['b', 'a', 'c']) {
      await rgbFile(join(d, 'images', `${n}.jpg`), 6, 4, () => [1, 2, 3], 'jpeg');
      await greyFile(join(d, 'labels', `${n}.png`), 6, 4, (x) => x % 2);
    }
    writeFileSync(
      join(d, 'classes.json'),
      JSON.stringify({
        names: ['bg', 'fg'],
        palette: [
          [0, 0, 0],
          [255, 255, 255],
        ],
      }),
    );
    const ds = openDataset({ format: 'folder', root: d, size: 'native', limit: 2 });
    expect(ds.count).toBe(2);
    expect((await all(ds)).map((s) => s.id)).toEqual(['a', 'b']);
    await greyFile(join(d, 'labels', 'a.png'), 5, 4, () => 0);
    await expect(all(openDataset({ format: 'folder', root: d, size: 'native' }))).rejects.toThrow(/label '.*a\.png' is 5x4 but image '.*a\.jpg' is 6x4/);
    await greyFile(join(d, 'labels', 'a.png'), 6, 4, () => 3);
    await expect(all(openDataset({ format: 'folder', root: d, size: 'native' }))).rejects.toThrow(
      /a\.png' has class id 3 at pixel \(0, 0\); the dataset has 2 classes/,
    );
    writeFileSync(join(d, 'classes.json'), '{"names": [1, 2]}');
    expect(() => openDataset({ format: 'folder', root: d, size: 'native' })).toThrow(/classes\.json: "names" must be an array of strings/);
  });

  it('voc: val.txt order, palette labels mapped to ids, 255 boundary ignored or mapped to background', async () => {
    const d = tmp();
    const base = join(d, 'VOCdevkit', 'VOC2012');
    for (const s of ['JPEGImages', 'SegmentationClass', 'ImageSets/Segmentation']) mkdirSync(join(base, s), { recursive: true });
    writeFileSync(join(base, 'ImageSets/Segmentation/val.txt'), '2007_000002\n2007_000001\n');
    const pal = vocPalette();
    for (const id of ['2007_000001', '2007_000002']) {
      await rgbFile(join(base, 'JPEGImages', `${id}.jpg`), 4, 4, () => [100, 100, 100], 'jpeg');
      await rgbFile(join(base, 'SegmentationClass', `${id}.png`), 4, 4, (x) => (x === 0 ? pal[15] : x === 1 ? pal[255] : pal[0]));
    }
    const ds = openDataset({ format: 'voc', root: d, size: 'native' });
    expect(ds.classes.names).toEqual(VOC_CLASSES);
    const s = await all(ds);
    expect(s.map((x) => x.id)).toEqual(['2007_000002', '2007_000001']);
    expect(Array.from(s[0].label.slice(0, 4))).toEqual([15, 255, 0, 0]);
    const bg = await all(openDataset({ format: 'voc', root: d, size: 'native', vocBoundary: 'background' }));
    expect(Array.from(bg[0].label.slice(0, 4))).toEqual([15, 0, 0, 0]);
  });

  it('ade20k: sorted order, "other" ignored with classes shifted (default) or kept as class 0', async () => {
    const d = tmp();
    const base = join(d, 'ADEChallengeData2016');
    mkdirSync(join(base, 'images', 'validation'), { recursive: true });
    mkdirSync(join(base, 'annotations', 'validation'), { recursive: true });
    for (const id of ['ADE_val_00000002', 'ADE_val_00000001']) {
      await rgbFile(join(base, 'images', 'validation', `${id}.jpg`), 3, 1, () => [9, 9, 9], 'jpeg');
      await greyFile(join(base, 'annotations', 'validation', `${id}.png`), 3, 1, (x) => [0, 1, 150][x]);
    }
    expect(ADE20K_CLASSES).toHaveLength(150);
    const s = await all(openDataset({ format: 'ade20k', root: d, size: 'native' }));
    expect(s.map((x) => x.id)).toEqual(['ADE_val_00000001', 'ADE_val_00000002']);
    expect(Array.from(s[0].label)).toEqual([255, 0, 149]);
    const k = openDataset({ format: 'ade20k', root: d, size: 'native', adeOther: 'class0' });
    expect(k.classes.names).toHaveLength(151);
    expect(Array.from((await all(k))[0].label)).toEqual([0, 1, 150]);
  });

  it('class weights are proportional to 1/N_s and sum to 1', async () => {
    const d = tmp();
    mkdirSync(join(d, 'images'));
    mkdirSync(join(d, 'labels'));
    await rgbFile(join(d, 'images', 'a.png'), 4, 1, () => [0, 0, 0]);
    await greyFile(join(d, 'labels', 'a.png'), 4, 1, (x) => [0, 0, 0, 1][x]);
    writeFileSync(join(d, 'classes.json'), JSON.stringify({ names: ['x', 'y', 'z'] }));
    const { counts, weights } = await classWeights(openDataset({ format: 'folder', root: d, size: 'native' }));
    expect(counts).toEqual([3, 1, 0]);
    expect(weights[0]).toBeCloseTo(0.25, 12);
    expect(weights[1]).toBeCloseTo(0.75, 12);
    expect(weights[2]).toBe(0);
  });
});
