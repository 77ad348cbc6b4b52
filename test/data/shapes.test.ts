import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, describe, expect, it } from 'vitest';
import { generateShapes, renderClassificationSample, renderSegmentationSample, SHAPE_CLASS_NAMES, SHAPES_IGNORE_INDEX } from '../../src/data/shapes.js';

const dirs: string[] = [];
function tmp(): string {
  const d = mkdtempSync(join(tmpdir(), 'shapes-'));
  dirs.push(d);
  return d;
}
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

const K = SHAPE_CLASS_NAMES.length;

/** Every file below `dir` (relative path -> bytes). */
function readTree(dir: string): Map<string, Buffer> {
  const out = new Map<string, Buffer>();
  for (const e of readdirSync(dir, { recursive: true, withFileTypes: true })) {
    if (e.isFile()) {
      const p = join(e.parentPath, e.name);
      out.set(p.slice(dir.length), readFileSync(p));
    }
  }
  return out;
}

/** PNG IHDR fields: width, height, bit depth, colour type (0 grey, 2 RGB, 3 palette). */
function ihdr(png: Buffer): { width: number; height: number; depth: number; colourType: number } {
  expect(png.subarray(12, 16).toString('ascii')).toBe('IHDR');
  return { width: png.readUInt32BE(16), height: png.readUInt32BE(20), depth: png[24], colourType: png[25] };
}

async function decode(path: string): Promise<{ data: Buffer; channels: number }> {
  const { data, info } = await sharp(path).raw().toBuffer({ resolveWithObject: true });
  return { data, channels: info.channels };
}

describe('shapes: segmentation samples', () => {
  it('is deterministic in (seed, index) and changes with either', () => {
    const a = renderSegmentationSample(7, 3, 64);
    const b = renderSegmentationSample(7, 3, 64);
    expect(Buffer.from(a.image).equals(Buffer.from(b.image))).toBe(true);
    expect(Buffer.from(a.label).equals(Buffer.from(b.label))).toBe(true);
    expect(Buffer.from(renderSegmentationSample(8, 3, 64).image).equals(Buffer.from(a.image))).toBe(false);
    expect(Buffer.from(renderSegmentationSample(7, 4, 64).image).equals(Buffer.from(a.image))).toBe(false);
  });

  it('labels only 0..K-1 and 255, every class over 50 images, shapes not tiny or huge', () => {
    const imagesWith = new Array<number>(256).fill(0);
    let shapePixels = 0;
    let total = 0;
    for (let i = 0; i < 50; i++) {
      const { label } = renderSegmentationSample(0, i, 64);
      const seen = new Set(label);
      for (const v of seen) imagesWith[v]++;
      for (const v of label) if (v !== 0) shapePixels++;
      total += label.length;
    }
    const values = imagesWith.flatMap((c, v) => (c > 0 ? [v] : []));
    for (const v of values) expect(v < K || v === SHAPES_IGNORE_INDEX, `label value ${v}`).toBe(true);
    for (let c = 0; c < K; c++) expect(imagesWith[c], `images containing ${SHAPE_CLASS_NAMES[c]}`).toBeGreaterThan(0);
    // Several shapes per image: foreground (incl. band) is a clear minority but not negligible.
    expect(shapePixels / total).toBeGreaterThan(0.08);
    expect(shapePixels / total).toBeLessThan(0.5);
  });

  it('puts an ignore band on every boundary: two different classes are never 4-adjacent', () => {
    const S = 64;
    for (let i = 0; i < 50; i++) {
      const { label } = renderSegmentationSample(1, i, S);
      let ignored = 0;
      for (let y = 0; y < S; y++)
        for (let x = 0; x < S; x++) {
          const v = label[y * S + x];
          if (v === SHAPES_IGNORE_INDEX) {
            ignored++;
            continue;
          }
          const right = x + 1 < S ? label[y * S + x + 1] : v;
          const down = y + 1 < S ? label[(y + 1) * S + x] : v;
          for (const w of [right, down])
            if (w !== SHAPES_IGNORE_INDEX && w !== v) throw new Error(`image ${i}: classes ${v} and ${w} touch at (${x}, ${y}) without an ignore band`);
        }
      // The band is thin (~1 px): far less than the foreground, but present.
      expect(ignored, `image ${i}`).toBeGreaterThan(0);
      const fg = label.filter((v) => v !== 0 && v !== SHAPES_IGNORE_INDEX).length;
      expect(ignored, `image ${i}`).toBeLessThan(1.5 * fg + 20);
    }
  });

  it('draws shapes of every class from one colour distribution (colour is no cue)', () => {
    // Mean interior RGB of each (image, class), averaged per class: equal up to sampling noise
    // (about 3/255 per channel for ~600 samples per class), and mid-grey on average.
    const sum = Array.from({ length: K }, () => [0, 0, 0, 0]);
    for (let i = 0; i < 1000; i++) {
      const { image, label } = renderSegmentationSample(2, i, 32);
      const acc = Array.from({ length: K }, () => [0, 0, 0, 0]);
      for (let p = 0; p < label.length; p++) {
        const c = label[p];
        if (c === 0 || c === SHAPES_IGNORE_INDEX) continue;
        for (let ch = 0; ch < 3; ch++) acc[c][ch] += image[p * 3 + ch];
        acc[c][3]++;
      }
      for (let c = 1; c < K; c++) {
        if (acc[c][3] === 0) continue;
        for (let ch = 0; ch < 3; ch++) sum[c][ch] += acc[c][ch] / acc[c][3];
        sum[c][3]++;
      }
    }
    const means = sum.slice(1).map((s) => [s[0] / s[3], s[1] / s[3], s[2] / s[3]]);
    for (const m of means) for (let ch = 0; ch < 3; ch++) expect(Math.abs(m[ch] - 127.5), `class mean ${m}`).toBeLessThan(15);
    for (const a of means) for (const b of means) expect(Math.hypot(a[0] - b[0], a[1] - b[1], a[2] - b[2]), `${a} vs ${b}`).toBeLessThan(20);
  });

  it('rejects bad sizes', () => {
    expect(() => renderSegmentationSample(0, 0, 8)).toThrow(/size/);
    expect(() => renderSegmentationSample(0, 0, 64.5)).toThrow(/size/);
  });
});

describe('shapes: generateShapes (files)', () => {
  it('writes the folder layout: RGB images, 8-bit grey labels equal to the renderer, classes.json', async () => {
    const out = tmp();
    const progress: number[] = [];
    const summary = await generateShapes({ out, n: 12, size: 40, seed: 5, task: 'segmentation', onProgress: (d) => progress.push(d) });
    expect(progress.at(-1)).toBe(12);
    expect(readdirSync(join(out, 'images')).sort()).toEqual(Array.from({ length: 12 }, (_, i) => `${String(i).padStart(5, '0')}.png`));
    expect(readdirSync(join(out, 'labels')).sort()).toEqual(readdirSync(join(out, 'images')).sort());

    const meta = JSON.parse(readFileSync(join(out, 'classes.json'), 'utf8'));
    expect(meta.names).toEqual([...SHAPE_CLASS_NAMES]);
    expect(meta.ignoreIndex).toBe(255);
    expect(meta.palette).toHaveLength(K);
    for (const c of meta.palette) {
      expect(c).toHaveLength(3);
      for (const v of c) expect(Number.isInteger(v) && v >= 0 && v <= 255).toBe(true);
    }
    expect(new Set(meta.palette.map((c: number[]) => c.join())).size).toBe(K);
    expect(summary.names).toEqual(meta.names);

    for (const i of [0, 7]) {
      const f = `${String(i).padStart(5, '0')}.png`;
      const ref = renderSegmentationSample(5, i, 40);
      const img = readFileSync(join(out, 'images', f));
      const lab = readFileSync(join(out, 'labels', f));
      expect(ihdr(img)).toEqual({ width: 40, height: 40, depth: 8, colourType: 2 });
      expect(ihdr(lab)).toEqual({ width: 40, height: 40, depth: 8, colourType: 0 });
      const di = await decode(join(out, 'images', f));
      expect(di.channels).toBe(3);
      expect(Buffer.from(ref.image).equals(di.data)).toBe(true);
      const dl = await decode(join(out, 'labels', f));
      const ids = new Uint8Array(40 * 40);
      for (let p = 0; p < ids.length; p++) ids[p] = dl.data[p * dl.channels];
      expect(Buffer.from(ids).equals(Buffer.from(ref.label))).toBe(true);
    }
  });

  it('is byte-identical for the same seed and differs for another seed', async () => {
    const [a, b, c] = [tmp(), tmp(), tmp()];
    await generateShapes({ out: a, n: 6, size: 32, seed: 11, task: 'segmentation' });
    await generateShapes({ out: b, n: 6, size: 32, seed: 11, task: 'segmentation' });
    await generateShapes({ out: c, n: 6, size: 32, seed: 12, task: 'segmentation' });
    const [ta, tb, tc] = [readTree(a), readTree(b), readTree(c)];
    expect([...ta.keys()].sort()).toEqual([...tb.keys()].sort());
    for (const [k, v] of ta) expect(v.equals(tb.get(k) as Buffer), k).toBe(true);
    let differing = 0;
    for (const [k, v] of ta) if (k.includes('images') && !v.equals(tc.get(k) as Buffer)) differing++;
    expect(differing).toBe(6);
  });

  it('writes the classification (ImageFolder) layout without background, balanced, one shape per image', async () => {
    const out = tmp();
    const summary = await generateShapes({ out, n: 23, size: 48, seed: 3, task: 'classification' });
    const shapes = SHAPE_CLASS_NAMES.slice(1);
    const entries = readdirSync(out, { withFileTypes: true });
    expect(
      entries
        .filter((e) => e.isDirectory())
        .map((e) => e.name)
        .sort(),
    ).toEqual([...shapes].sort());
    expect(entries.filter((e) => e.isFile()).map((e) => e.name)).toEqual(['classes.json']);
    const meta = JSON.parse(readFileSync(join(out, 'classes.json'), 'utf8'));
    expect(meta.names).toEqual(shapes);
    expect(meta.task).toBe('classification');
    let total = 0;
    for (const [k, name] of shapes.entries()) {
      const files = readdirSync(join(out, name));
      total += files.length;
      expect(files.length === 4 || files.length === 5, `${name}: ${files.length}`).toBe(true);
      expect(summary.imagesPerClass[k]).toBe(files.length);
      // File names are global indices; the class of index i is the renderer's.
      for (const f of files) expect(renderClassificationSample(3, Number.parseInt(f, 10), 48).classId).toBe(k + 1);
    }
    expect(total).toBe(23);
    const png = readFileSync(join(out, 'disc', '00000.png'));
    expect(ihdr(png)).toEqual({ width: 48, height: 48, depth: 8, colourType: 2 });
    const d = await decode(join(out, 'disc', '00000.png'));
    expect(d.data.equals(Buffer.from(renderClassificationSample(3, 0, 48).image))).toBe(true);
  });

  it('rejects bad options with a message naming them', async () => {
    const out = tmp();
    await expect(generateShapes({ out, n: 0, size: 64, seed: 0, task: 'segmentation' })).rejects.toThrow(/n must/);
    await expect(generateShapes({ out, n: 2, size: 10, seed: 0, task: 'segmentation' })).rejects.toThrow(/size/);
    await expect(generateShapes({ out, n: 2, size: 64, seed: 0.5, task: 'segmentation' })).rejects.toThrow(/seed/);
    // @ts-expect-error: an unknown task from untyped input (CLI)
    await expect(generateShapes({ out, n: 2, size: 64, seed: 0, task: 'detection' })).rejects.toThrow(/task/);
  });
});
