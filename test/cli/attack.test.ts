// `robustscope class-weights` and `robustscope attack` end to end on a generated folder dataset.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import type { Results } from '../../src/eval/schema.js';
import { encodeModel } from '../../src/onnx/codec.js';
import { rng } from '../harness/rng.js';
import { pixelLinearOnnx } from '../harness/tiny-models.js';
import { run, tempDir } from './helpers.js';

const W = [
  [4, -2, -2],
  [-2, 4, -2],
  [-2, -2, 4],
];

/** Images whose dominant channel is the label (so the per-pixel linear model is mostly right). */
async function folderDataset(dir: string, n: number, size: number): Promise<void> {
  mkdirSync(join(dir, 'images'), { recursive: true });
  mkdirSync(join(dir, 'labels'), { recursive: true });
  const r = rng(5);
  for (let i = 0; i < n; i++) {
    const rgb = Buffer.alloc(size * size * 3);
    const lab = Buffer.alloc(size * size);
    for (let p = 0; p < size * size; p++) {
      const c = Math.floor(r() * 3);
      lab[p] = p % 11 === 0 ? 255 : c;
      for (let k = 0; k < 3; k++) rgb[p * 3 + k] = Math.round(255 * (k === c ? 0.55 + 0.1 * r() : 0.45 + 0.1 * r()));
    }
    await sharp(rgb, { raw: { width: size, height: size, channels: 3 } })
      .png()
      .toFile(join(dir, 'images', `im${i}.png`));
    await sharp(lab, { raw: { width: size, height: size, channels: 1 } })
      .png()
      .toFile(join(dir, 'labels', `im${i}.png`));
  }
  writeFileSync(
    join(dir, 'classes.json'),
    JSON.stringify({
      names: ['red', 'green', 'blue'],
      palette: [
        [255, 0, 0],
        [0, 255, 0],
        [0, 0, 255],
      ],
      ignoreIndex: 255,
    }),
  );
}

describe('attack command', () => {
  it('class-weights then a SEA run with gallery, results.json and a resumed no-op rerun', async () => {
    const dir = tempDir('rs-attack-');
    const data = join(dir, 'data');
    await folderDataset(data, 5, 8);
    const modelPath = join(dir, 'm.onnx');
    writeFileSync(modelPath, encodeModel(pixelLinearOnnx(W, [0, 0, 0])));

    const cw = await run('class-weights', '--data', data, '--out', join(dir, 'w.json'));
    expect(cw.code).toBe(0);
    const weights = JSON.parse(readFileSync(join(dir, 'w.json'), 'utf8'));
    expect(weights.weights).toHaveLength(3);
    expect(weights.weights.reduce((a: number, b: number) => a + b, 0)).toBeCloseTo(1, 12);

    const out = join(dir, 'out');
    const args = [
      'attack',
      '--model',
      modelPath,
      '--data',
      data,
      '--eps',
      '0,1,4',
      '--iters',
      '10',
      '--batch',
      '2',
      '--class-weights',
      join(dir, 'w.json'),
      '--save-adv',
      '2',
      '--baselines',
      'pgd',
      '--quiet',
      '--out',
      out,
    ];
    const a = await run(...args);
    expect(a.stderr).toBe('');
    expect(a.code).toBe(0);
    const res = JSON.parse(readFileSync(join(out, 'results.json'), 'utf8')) as Results;
    expect(res.schema).toBe('robustscope/results');
    expect(res.images).toBe(5);
    expect(res.config.attack.attacks).toEqual(['apgd-prr:mask-ce-bal', 'apgd-prr:mask-ce-avg', 'apgd-prr:js-avg']);
    expect(res.byEps.map((e) => e.eps)).toEqual([0, 1, 4]);
    // The PGD baseline is reported per attack but is not part of the ensemble's worst case.
    expect(Object.keys(res.byEps[1].attacks)).toEqual(['apgd-prr:mask-ce-bal', 'apgd-prr:mask-ce-avg', 'apgd-prr:js-avg', 'pgd:ce-avg']);
    expect(Object.keys(res.byEps[1].worst?.winnersAcc ?? {})).toEqual(['apgd-prr:mask-ce-bal', 'apgd-prr:mask-ce-avg', 'apgd-prr:js-avg']);
    expect(res.byEps[0].worst?.acc).toBeCloseTo(res.clean.meanImageAcc, 12);
    expect(res.byEps[2].worst?.acc).toBeLessThan(res.clean.meanImageAcc);
    expect(res.gallery.length).toBe(2 * 3);
    for (const g of res.gallery) for (const f of Object.values(g.files)) expect(readFileSync(join(out, f)).subarray(1, 4).toString()).toBe('PNG');
    // attack writes the report too; it embeds the gallery.
    const html = readFileSync(join(out, 'report.html'), 'utf8');
    expect(html).toMatch(/data:image\/png;base64,/);
    expect(html).toContain('apgd-prr:js-avg');
    const rep = await run('report', join(out, 'results.json'), '--out', join(dir, 'r.html'));
    expect(rep.code).toBe(0);
    expect(readFileSync(join(dir, 'r.html'), 'utf8').length).toBeGreaterThan(1000);
    // Rerun: everything is on disk, nothing is recomputed, same numbers.
    const before = readFileSync(join(out, 'records.jsonl'), 'utf8');
    expect((await run(...args)).code).toBe(0);
    expect(readFileSync(join(out, 'records.jsonl'), 'utf8')).toBe(before);
    const again = JSON.parse(readFileSync(join(out, 'results.json'), 'utf8')) as Results;
    expect(again.byEps.map((e) => e.worst?.mIoU)).toEqual(res.byEps.map((e) => e.worst?.mIoU));
  });

  it('the eccv ensemble without class weights is a usage error that says what to do', async () => {
    const dir = tempDir('rs-attack-');
    await folderDataset(join(dir, 'data'), 1, 4);
    writeFileSync(join(dir, 'm.onnx'), encodeModel(pixelLinearOnnx(W, [0, 0, 0])));
    const r = await run('attack', '--model', join(dir, 'm.onnx'), '--data', join(dir, 'data'), '--eps', '1', '--out', join(dir, 'o'));
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/needs --class-weights FILE .*robustscope class-weights/);
  });

  it('a corrupt image fails naming the file, and a missing label too', async () => {
    const dir = tempDir('rs-attack-');
    const data = join(dir, 'data');
    await folderDataset(data, 2, 4);
    writeFileSync(join(dir, 'm.onnx'), encodeModel(pixelLinearOnnx(W, [0, 0, 0])));
    writeFileSync(join(data, 'images', 'im1.png'), Buffer.from('not a png'));
    const r = await run(
      'attack',
      '--model',
      join(dir, 'm.onnx'),
      '--data',
      data,
      '--ensemble',
      'v1',
      '--eps',
      '1',
      '--iters',
      '2',
      '--quiet',
      '--out',
      join(dir, 'o'),
    );
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/cannot decode image '.*im1\.png'/);
    writeFileSync(join(data, 'images', 'im9.png'), Buffer.alloc(0));
    const r2 = await run(
      'attack',
      '--model',
      join(dir, 'm.onnx'),
      '--data',
      data,
      '--ensemble',
      'v1',
      '--eps',
      '1',
      '--iters',
      '2',
      '--quiet',
      '--out',
      join(dir, 'o2'),
    );
    expect(r2.stderr).toMatch(/im9\.png' has no label file/);
  });
});
