// Dataset readers on generated trees: folder / voc / ade20k with the eval transform, limit, the
// errors that name the file (missing label, corrupt image, id out of range, duplicate ids), lazy
// streaming, and batches(). (datasets.test.ts covers the basic layouts at native size.)
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { batches, classWeights, type Dataset, openDataset } from '../../src/data/datasets.js';
import { decodeLabel, decodeRgb, type Rgb, vocPalette } from '../../src/data/image.js';
import { evalTransformImage, evalTransformLabel, hwcToChw01 } from '../../src/data/transform.js';
import type { Sample } from '../../src/eval/run.js';

const tmp = () => mkdtempSync(join(tmpdir(), 'rs-readers-'));

async function rgbFile(path: string, w: number, h: number, f: (x: number, y: number) => Rgb, fmt: 'png' | 'jpeg' = 'png'): Promise<void> {
  const b = Buffer.alloc(w * h * 3);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) b.set(f(x, y), (y * w + x) * 3);
  const img = sharp(b, { raw: { width: w, height: h, channels: 3 } });
  await (fmt === 'png' ? img.png() : img.jpeg({ quality: 90 })).toFile(path);
}

async function greyFile(path: string, w: number, h: number, f: (x: number, y: number) => number): Promise<void> {
  const b = Buffer.alloc(w * h);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) b[y * w + x] = f(x, y);
  await sharp(b, { raw: { width: w, height: h, channels: 1 } })
    .toColourspace('b-w')
    .png()
    .toFile(path);
}

async function all(ds: Dataset): Promise<Sample[]> {
  const out: Sample[] = [];
  for await (const s of ds.samples()) out.push(s);
  return out;
}

const texture = (x: number, y: number): Rgb => [(x * 23 + y * 7) % 256, (x * y * 5) % 256, (200 - x * 3 - y * 11 + 512) % 256];

/** folder layout with images of the given sizes (label: class (x + y) % 3, 255 on the first row). */
async function folderTree(sizes: Record<string, [number, number]>, ext: Record<string, 'png' | 'jpeg'> = {}): Promise<string> {
  const d = tmp();
  mkdirSync(join(d, 'images'));
  mkdirSync(join(d, 'labels'));
  for (const [id, [w, h]] of Object.entries(sizes)) {
    const fmt = ext[id] ?? 'png';
    await rgbFile(join(d, 'images', `${id}.${fmt === 'png' ? 'png' : 'jpg'}`), w, h, texture, fmt);
    await greyFile(join(d, 'labels', `${id}.png`), w, h, (x, y) => (y === 0 ? 255 : (x + y) % 3));
  }
  writeFileSync(join(d, 'classes.json'), JSON.stringify({ names: ['a', 'b', 'c'] }));
  return d;
}

describe('folder', () => {
  it('eval transform: crop x crop samples equal the transform of the decoded files; labels keep their ids', async () => {
    const d = await folderTree({ wide: [30, 20], tall: [17, 26] }, { tall: 'jpeg' });
    const ds = openDataset({ format: 'folder', root: d, size: 12 });
    expect(ds.ids).toEqual(['tall', 'wide']);
    const s = await all(ds);
    for (const x of s) {
      expect([x.width, x.height, x.image.length, x.label.length]).toEqual([12, 12, 3 * 144, 144]);
      const file = join(d, 'images', x.id === 'tall' ? 'tall.jpg' : 'wide.png');
      const img = await decodeRgb(file);
      expect(x.image).toEqual(hwcToChw01(evalTransformImage(img.data, img.width, img.height, 3, 12), 12, 12));
      const lab = await decodeLabel(join(d, 'labels', `${x.id}.png`));
      expect(Array.from(x.label)).toEqual(Array.from(evalTransformLabel(lab.data, lab.width, lab.height, 12)));
      for (const v of x.label) expect([0, 1, 2, 255]).toContain(v);
    }
    // native: original sizes
    const n = await all(openDataset({ format: 'folder', root: d, size: 'native' }));
    expect(n.map((x) => [x.id, x.width, x.height])).toEqual([
      ['tall', 17, 26],
      ['wide', 30, 20],
    ]);
  });

  it('limit takes the first N in sorted order; count and ids agree', async () => {
    const d = await folderTree({ c: [4, 4], a: [4, 4], b: [4, 4], d: [4, 4] });
    const ds = openDataset({ format: 'folder', root: d, size: 'native', limit: 3 });
    expect([ds.count, ...ds.ids]).toEqual([3, 'a', 'b', 'c']);
    expect((await all(ds)).map((s) => s.id)).toEqual(['a', 'b', 'c']);
    expect(() => openDataset({ format: 'folder', root: d, size: 'native', limit: 0 })).toThrow(/limit must be a positive integer/);
    expect(() => openDataset({ format: 'folder', root: d, size: 7.5 })).toThrow(/size must be a positive integer or 'native'/);
  });

  it('a missing label fails when the dataset is opened, naming image and label', async () => {
    const d = await folderTree({ a: [4, 4] });
    await rgbFile(join(d, 'images', 'b.png'), 4, 4, texture);
    expect(() => openDataset({ format: 'folder', root: d, size: 'native' })).toThrow(/image '.*b\.png' has no label file '.*labels[/\\]b\.png'/);
  });

  it('two images with the same stem are rejected (ids must be unique)', async () => {
    const d = await folderTree({ a: [4, 4] });
    await rgbFile(join(d, 'images', 'a.jpg'), 4, 4, texture, 'jpeg');
    expect(() => openDataset({ format: 'folder', root: d, size: 'native' })).toThrow(/'.*a\.jpg' and '.*a\.png' have the same name/);
  });

  it('a corrupt image fails naming it, only when reached; earlier samples stream fine and stopping early is clean', async () => {
    const d = await folderTree({ a: [4, 4], b: [4, 4], c: [4, 4] });
    writeFileSync(join(d, 'images', 'c.png'), 'garbage');
    const ds = openDataset({ format: 'folder', root: d, size: 'native' });
    const got: string[] = [];
    // Stop after b: c is already being prefetched and fails, which must not surface.
    for await (const s of ds.samples()) {
      got.push(s.id);
      if (s.id === 'b') break;
    }
    expect(got).toEqual(['a', 'b']);
    await expect(all(ds)).rejects.toThrow(/cannot decode image '.*images[/\\]c\.png'/);
  });

  it('label ids >= the number of classes fail naming the file, pixel and value; the ignore index passes', async () => {
    const d = await folderTree({ a: [5, 3] });
    await greyFile(join(d, 'labels', 'a.png'), 5, 3, (x, y) => (x === 4 && y === 2 ? 7 : y === 0 ? 255 : 1));
    await expect(all(openDataset({ format: 'folder', root: d, size: 'native' }))).rejects.toThrow(
      /label '.*a\.png' has class id 7 at pixel \(4, 2\); the dataset has 3 classes \(ids 0\.\.2, ignore index 255\)/,
    );
    // Declaring 7 the ignore index makes the same file valid.
    writeFileSync(join(d, 'classes.json'), JSON.stringify({ names: ['a', 'b', 'c'], ignoreIndex: 7 }));
    const ds = openDataset({ format: 'folder', root: d, size: 'native' });
    expect(ds.ignoreIndex).toBe(7);
    await expect(all(ds)).rejects.toThrow(/has class id 255 at pixel \(0, 0\)/);
    // Without classes.json the number of classes is unknown: no check here (the runner checks against the model).
    writeFileSync(join(d, 'classes.json'), JSON.stringify({ names: [] }));
    expect((await all(openDataset({ format: 'folder', root: d, size: 'native' })))[0].label[14]).toBe(7);
  });

  it('colour label PNGs are decoded through classes.json "palette"', async () => {
    const d = await folderTree({ a: [3, 1] });
    const palette: Rgb[] = [
      [0, 0, 0],
      [250, 10, 10],
      [10, 250, 10],
    ];
    writeFileSync(join(d, 'classes.json'), JSON.stringify({ names: ['x', 'y', 'z'], palette }));
    await rgbFile(join(d, 'labels', 'a.png'), 3, 1, (x) => palette[[2, 0, 1][x]]);
    expect(Array.from((await all(openDataset({ format: 'folder', root: d, size: 'native' })))[0].label)).toEqual([2, 0, 1]);
  });

  it('class weights count labelled pixels only (never the ignore index)', async () => {
    const d = await folderTree({ a: [3, 2] }); // row 0 ignore (255), row 1: classes 1, 2, 0
    const { counts, weights } = await classWeights(openDataset({ format: 'folder', root: d, size: 'native' }));
    expect(counts).toEqual([1, 1, 1]);
    expect(weights.map((w) => w * 3)).toEqual([1, 1, 1].map((v) => expect.closeTo(v, 12)));
  });
});

describe('voc', () => {
  async function vocTree(ids: string[], label: (x: number, y: number) => number, w = 12, h = 9): Promise<string> {
    const d = tmp();
    const base = join(d, 'VOCdevkit', 'VOC2012');
    for (const s of ['JPEGImages', 'SegmentationClass', 'ImageSets/Segmentation']) mkdirSync(join(base, s), { recursive: true });
    writeFileSync(join(base, 'ImageSets/Segmentation/val.txt'), `${ids.join('\n')}\n`);
    const pal = vocPalette();
    for (const id of ids) {
      await rgbFile(join(base, 'JPEGImages', `${id}.jpg`), w, h, texture, 'jpeg');
      await rgbFile(join(base, 'SegmentationClass', `${id}.png`), w, h, (x, y) => pal[label(x, y)]);
    }
    return d;
  }

  it('size 8: 8x8 crops; palette labels decode to ids; the boundary is 255 (ignore) or 0 (background)', async () => {
    const d = await vocTree(['2008_000002', '2007_000001'], (x, y) => (x === y ? 255 : x < 6 ? 15 : 0));
    const ds = openDataset({ format: 'voc', root: join(d, 'VOCdevkit'), size: 8 }); // root may also be VOCdevkit itself
    expect([ds.count, ds.ignoreIndex, ds.classes.names.length, ds.classes.palette?.length]).toEqual([2, 255, 21, 21]);
    const s = await all(ds);
    expect(s.map((x) => x.id)).toEqual(['2008_000002', '2007_000001']); // val.txt order, not sorted
    expect(new Set(s[0].label)).toEqual(new Set([0, 15, 255]));
    expect([s[0].width, s[0].height]).toEqual([8, 8]);
    const bg = await all(openDataset({ format: 'voc', root: d, size: 8, vocBoundary: 'background' }));
    expect(new Set(bg[0].label)).toEqual(new Set([0, 15]));
    for (let p = 0; p < 64; p++) expect(bg[0].label[p]).toBe(s[0].label[p] === 255 ? 0 : s[0].label[p]);
  });

  it('a palette index beyond the 21 classes, or a listed image without its JPEG, fails naming the file', async () => {
    const d = await vocTree(['a'], (x) => (x === 3 ? 30 : 0));
    await expect(all(openDataset({ format: 'voc', root: d, size: 'native' }))).rejects.toThrow(
      /label '.*a\.png' has class id 30 at pixel \(3, 0\); the dataset has 21 classes/,
    );
    writeFileSync(join(d, 'VOCdevkit/VOC2012/ImageSets/Segmentation/val.txt'), 'a\nnothere\n');
    expect(() => openDataset({ format: 'voc', root: d, size: 'native' })).toThrow(
      /image '.*JPEGImages[/\\]nothere\.jpg' \(listed for 'nothere'\) does not exist/,
    );
    expect(() => openDataset({ format: 'voc', root: d, size: 'native', split: 'train' })).toThrow(/VOC list '.*train\.txt' not found/);
  });
});

describe('ade20k', () => {
  it('"other" ignored with classes shifted (default) or kept as class 0 of 151; an id above 150 fails', async () => {
    const d = tmp();
    const base = join(d, 'ADEChallengeData2016');
    mkdirSync(join(base, 'images', 'validation'), { recursive: true });
    mkdirSync(join(base, 'annotations', 'validation'), { recursive: true });
    await rgbFile(join(base, 'images', 'validation', 'ADE_val_00000001.jpg'), 20, 10, texture, 'jpeg');
    await greyFile(join(base, 'annotations', 'validation', 'ADE_val_00000001.png'), 20, 10, (x) => [0, 1, 75, 150][x % 4]);
    const ign = await all(openDataset({ format: 'ade20k', root: d, size: 10 }));
    expect([ign[0].width, ign[0].height]).toEqual([10, 10]);
    expect(new Set(ign[0].label)).toEqual(new Set([255, 0, 74, 149]));
    const keep = openDataset({ format: 'ade20k', root: base, size: 10, adeOther: 'class0' });
    expect(keep.classes.names.slice(0, 3)).toEqual(['other', 'wall', 'building']);
    expect(new Set((await all(keep))[0].label)).toEqual(new Set([0, 1, 75, 150]));
    await greyFile(join(base, 'annotations', 'validation', 'ADE_val_00000001.png'), 20, 10, (x) => (x === 5 ? 151 : 1));
    await expect(all(openDataset({ format: 'ade20k', root: d, size: 'native' }))).rejects.toThrow(
      /ADE_val_00000001\.png' has class id 151 \(class 150 after mapping\) at pixel \(5, 0\); the dataset has 150 classes/,
    );
  });
});

describe('batches', () => {
  it('fixed-size batches with a smaller last one; native sizes that differ within a batch fail naming both images', async () => {
    const d = await folderTree({ a: [6, 4], b: [6, 4], c: [5, 4], d: [6, 4], e: [6, 4] });
    const crop = openDataset({ format: 'folder', root: d, size: 4 });
    const got: string[][] = [];
    for await (const b of batches(crop.samples(), 2)) got.push(b.map((s) => s.id));
    expect(got).toEqual([['a', 'b'], ['c', 'd'], ['e']]);
    const native = openDataset({ format: 'folder', root: d, size: 'native' });
    const seen: string[][] = [];
    const run = async () => {
      for await (const b of batches(native.samples(), 2)) seen.push(b.map((s) => s.id));
    };
    await expect(run()).rejects.toThrow(/image 'd' is 6x4 but 'c' in the same batch is 5x4; use a fixed size/);
    expect(seen).toEqual([['a', 'b']]);
    // Batch size 1 always works natively.
    let n = 0;
    for await (const b of batches(native.samples(), 1)) n += b.length;
    expect(n).toBe(5);
    await expect(batches(native.samples(), 0).next()).rejects.toThrow(/batch size must be a positive integer/);
  });
});
