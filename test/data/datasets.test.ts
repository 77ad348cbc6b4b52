// mask-ce-bal's class weights (readers and images are tested in readers.test.ts and image.test.ts).
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { classWeights, openDataset } from '../../src/data/datasets.js';
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

async function _all(ds: { samples(): AsyncIterable<Sample> }): Promise<Sample[]> {
  const out: Sample[] = [];
  for await (const s of ds.samples()) out.push(s);
  return out;
}

describe('class weights', () => {
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
