// The evaluation runner end to end on a tiny real model: resume after a kill gives identical
// numbers, eps = 0 reproduces clean metrics, mismatched reruns and bad labels fail clearly.
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { seaAttacks } from '../../src/attacks/sea.js';
import { RunMismatchError, runEvaluation, type Sample } from '../../src/eval/run.js';
import type { Results, RunConfig } from '../../src/eval/schema.js';
import { normal, rng } from '../harness/rng.js';
import { pixelLinearModel } from '../harness/tiny-models.js';

const H = 6;
const W = 5;
const model = pixelLinearModel(
  [
    [4, -2, -2],
    [-2, 4, -2],
    [-2, -2, 4],
  ],
  [0, 0.1, -0.1],
);

async function makeSamples(n: number): Promise<Sample[]> {
  const r = rng(11);
  const out: Sample[] = [];
  for (let i = 0; i < n; i++) {
    const image = Float32Array.from({ length: 3 * H * W }, () => Math.min(1, Math.max(0, 0.5 + 0.25 * normal(r))));
    const f = await model.evaluate({ data: image, dims: [1, 3, H, W] }, undefined, { pred: true });
    const label = Uint8Array.from(f.pred as BigInt64Array, (v, p) => (p % 7 === 0 ? 255 : Number(v)));
    out.push({ id: `img-${i}`, image, label, height: H, width: W });
  }
  return out;
}

function config(over: Partial<RunConfig['attack']> = {}): RunConfig {
  return {
    model: { path: 'tiny', sha256: 'none' },
    data: { format: 'memory', root: '-', size: 'native', ignoreIndex: 255 },
    attack: {
      kind: 'sea',
      ensemble: 'v1',
      attacks: seaAttacks('v1').map((a) => a.name),
      norm: 'linf',
      eps: [0, 2, 8],
      epsUnit: '1/255',
      iters: 12,
      batch: 2,
      seed: 0,
      earlyStop: true,
      miouSearch: 'search',
      ...over,
    },
  };
}

const stable = (r: Results) => ({
  clean: r.clean,
  byEps: r.byEps.map((e) => ({ ...e, attacks: Object.fromEntries(Object.entries(e.attacks).map(([k, v]) => [k, { ...v, seconds: 0 }])) })),
});

describe('runEvaluation', () => {
  it('a run killed after its first batch resumes to identical numbers; eps 0 equals clean', async () => {
    const samples = await makeSamples(5);
    const src = () =>
      (async function* () {
        yield* samples;
      })();
    const common = { model, attacks: seaAttacks('v1'), samples: src, classes: { names: ['a', 'b', 'c'] } };
    const full = await runEvaluation({ ...common, config: config(), outDir: mkdtempSync(join(tmpdir(), 'rs-run-')) });

    const dir = mkdtempSync(join(tmpdir(), 'rs-run-'));
    await expect(
      runEvaluation({
        ...common,
        config: config(),
        outDir: dir,
        onBatchDone: (done) => {
          if (done >= 2) throw new Error('killed');
        },
      }),
    ).rejects.toThrow('killed');
    const partial = readFileSync(join(dir, 'records.jsonl'), 'utf8').trim().split('\n').length;
    expect(partial).toBe(2 * (1 + 3 * 4)); // 2 images x (clean + 3 eps x 4 attacks)
    const resumed = await runEvaluation({ ...common, config: config(), outDir: dir });
    expect(stable(resumed)).toEqual(stable(full));
    expect(resumed.images).toBe(5);

    const e0 = full.byEps[0];
    for (const m of Object.values(e0.attacks)) {
      expect(m.aAcc).toBe(full.clean.aAcc);
      expect(m.mIoU).toBe(full.clean.mIoU);
    }
    expect(e0.worst?.acc).toBeCloseTo(full.clean.meanImageAcc, 12);
    // The attack hurts at 8/255, and the worst case is at most every single attack.
    const e8 = full.byEps[2];
    expect(e8.worst?.acc).toBeLessThan(full.clean.meanImageAcc);
    for (const m of Object.values(e8.attacks)) expect(e8.worst?.acc).toBeLessThanOrEqual(m.meanImageAcc + 1e-12);
  });

  it('refuses to resume into a directory of a run with another configuration', async () => {
    const samples = await makeSamples(2);
    const src = () =>
      (async function* () {
        yield* samples;
      })();
    const dir = mkdtempSync(join(tmpdir(), 'rs-run-'));
    const common = { model, attacks: seaAttacks('v1'), samples: src, classes: { names: ['a', 'b', 'c'] }, outDir: dir };
    await runEvaluation({ ...common, config: config({ eps: [1] }) });
    await expect(runEvaluation({ ...common, config: config({ eps: [2] }) })).rejects.toThrow(RunMismatchError);
    await expect(runEvaluation({ ...common, config: config({ eps: [2] }) })).rejects.toThrow(/different configuration \(attack\.eps\)/);
  });

  it('a label id beyond the model classes fails naming the image and the pixel', async () => {
    const samples = await makeSamples(2);
    samples[1].label[3] = 7;
    const src = () =>
      (async function* () {
        yield* samples;
      })();
    await expect(
      runEvaluation({
        model,
        attacks: seaAttacks('v1'),
        samples: src,
        classes: { names: ['a', 'b', 'c'] },
        config: config({ eps: [1] }),
        outDir: mkdtempSync(join(tmpdir(), 'rs-run-')),
      }),
    ).rejects.toThrow(/label of image 'img-1' has class id 7 at pixel \(3, 0\), but the model has 3 classes/);
  });
});

describe('runEvaluation with a broken model', () => {
  it('NaN logits fail naming the image, before any attack', async () => {
    const { RobustModel } = await import('../../src/runtime/model.js');
    const { irModel, node } = await import('../harness/tiny-models.js');
    const { tensorFromNumbers } = await import('../../src/onnx/ir.js');
    // log(x - 0.6) is NaN wherever a pixel is below 0.6.
    const nan = RobustModel.fromOnnx(
      irModel([node('Sub', ['x', 'c'], ['d']), node('Log', ['d'], ['logits'])], ['N', 3, 'H', 'W'], 'logits', [['c', tensorFromNumbers('float32', [], [0.6])]]),
      {
        threads: 1,
      },
    );
    const samples = await makeSamples(2);
    const src = () =>
      (async function* () {
        yield* samples;
      })();
    await expect(
      runEvaluation({
        model: nan,
        attacks: seaAttacks('v1'),
        samples: src,
        classes: { names: ['a', 'b', 'c'] },
        config: config({ eps: [1] }),
        outDir: mkdtempSync(join(tmpdir(), 'rs-run-')),
      }),
    ).rejects.toThrow(/non-finite value \(NaN\) in the logits of the clean image for image 'img-0'/);
  });
});
