// The training loop (pirat.md): learning happens, adversarial batches stay in the eps-ball, a killed run
// resumes to bit-identical weights, the held-out evaluation is computed, encoder transfer by name.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildArch } from '../../src/arch/index.js';
import { openDataset } from '../../src/data/datasets.js';
import { openImageFolder } from '../../src/data/image-folder.js';
import { generateShapes } from '../../src/data/shapes.js';
import { readOnnxFile } from '../../src/onnx/load.js';
import { adversarialBatch } from '../../src/train/adversary.js';
import { classificationData, segmentationData } from '../../src/train/data.js';
import { type TrainConfig, TrainError, train } from '../../src/train/loop.js';
import { TrainableModel } from '../../src/train/trainable.js';
import { TransferError, transferWeights } from '../../src/train/transfer.js';

let dir: string;
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'rs-train-'));
  await generateShapes({ out: join(dir, 'seg'), n: 8, size: 32, seed: 1, task: 'segmentation' });
  await generateShapes({ out: join(dir, 'val'), n: 4, size: 32, seed: 2, task: 'segmentation' });
  await generateShapes({ out: join(dir, 'cls'), n: 10, size: 32, seed: 1, task: 'classification' });
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function config(over: Partial<TrainConfig> = {}): TrainConfig {
  return {
    epochs: 2,
    batch: 4,
    crop: 32,
    seed: 3,
    optimizer: { kind: 'adamw', lr: 2e-3, weightDecay: 1e-2 },
    schedule: { power: 1, warmupIters: 1, warmupRatio: 0.1, minLr: 0 },
    adv: { eps: 4 / 255, steps: 2, stepSize: 0.01 },
    auxWeight: 0.4,
    auxOutput: 'aux_logits',
    augment: { scaleRange: [0.5, 2], flipP: 0.5, blurP: 0.5 },
    eval: { every: 1, eps: 4 / 255, steps: 2 },
    threads: 1,
    ...over,
  };
}

const segData = () => segmentationData(openDataset({ format: 'folder', root: join(dir, 'seg'), size: 'native' }));
const valData = () => segmentationData(openDataset({ format: 'folder', root: join(dir, 'val'), size: 'native' }));

describe('adversarial batches (pirat.md: PGD-CE, zero init, eval mode)', () => {
  it('stay in the linf ball and [0,1], move away from the clean image, and raise the CE', async () => {
    const model = TrainableModel.fromOnnx(buildArch('resnet-tiny-fcn', { classes: 6, seed: 1 }), { threads: 1 });
    const ds = openDataset({ format: 'folder', root: join(dir, 'seg'), size: 'native' });
    const s = [await ds.get(0), await ds.get(1)];
    const x = { data: new Float32Array(2 * 3 * 32 * 32), dims: [2, 3, 32, 32] };
    for (const [i, v] of s.entries()) x.data.set(v.image, i * 3 * 32 * 32);
    const labels = { data: Int32Array.from([...s[0].label, ...s[1].label]), dims: [2, 32, 32] };
    const eps = 4 / 255;
    const xa = await adversarialBatch(model, x, labels, { eps, steps: 3, stepSize: 0.01 });
    let moved = 0;
    for (let i = 0; i < xa.length; i++) {
      expect(Math.abs(xa[i] - x.data[i])).toBeLessThanOrEqual(eps + 1e-7);
      expect(xa[i]).toBeGreaterThanOrEqual(0);
      expect(xa[i]).toBeLessThanOrEqual(1);
      if (xa[i] !== x.data[i]) moved++;
    }
    expect(moved).toBeGreaterThan(xa.length / 2);
    const before = await model.inputGrad(x, labels, {});
    const after = await model.inputGrad({ data: xa, dims: x.dims }, labels, {});
    expect(after.loss).toBeGreaterThan(before.loss);
    await model.release();
  });
});

describe('train (segmentation)', () => {
  it('lowers the training loss, evaluates on the held-out split every epoch and writes a loadable model', async () => {
    const out = join(dir, 'run-learn');
    const r = await train({
      model: buildArch('resnet-tiny-fcn', { classes: 6, seed: 1 }),
      train: segData(),
      val: valData(),
      config: config({ epochs: 4, adv: undefined, optimizer: { kind: 'adamw', lr: 5e-3 } }),
      out,
    });
    const losses = r.state.epochs.map((e) => e.loss);
    expect(losses).toHaveLength(4);
    expect(losses[3]).toBeLessThan(losses[0]);
    expect(r.state.evals.map((e) => e.epoch)).toEqual([1, 2, 3, 4]);
    for (const e of r.state.evals) {
      expect(e.clean.mIoU).toBeGreaterThanOrEqual(0);
      expect(e.clean.mIoU).toBeLessThanOrEqual(1);
      expect(e.adv.mIoU).toBeGreaterThanOrEqual(0);
      expect(e.eps).toBeCloseTo(4 / 255, 12);
    }
    const m = readOnnxFile(r.modelPath);
    expect(m.graph.outputs[0].name).toBe('logits');
    const log = JSON.parse(readFileSync(join(out, 'train.json'), 'utf8'));
    expect(log.schema).toBe('robustscope/train');
    expect(log.epochs).toHaveLength(4);
  });

  it('a run killed after its first epoch resumes to bit-identical weights (seeded draws, exact checkpoints)', async () => {
    const init = buildArch('resnet-tiny-upernet', { classes: 6, seed: 2 });
    const full = await train({ model: init, train: segData(), config: config(), out: join(dir, 'run-full') });
    const out = join(dir, 'run-killed');
    await expect(
      train({
        model: init,
        train: segData(),
        config: config(),
        out,
        events: {
          onStep: (p) => {
            if (p.epoch === 1) throw new Error('killed');
          },
        },
      }),
    ).rejects.toThrow('killed');
    let resumedFrom = -1;
    const resumed = await train({ model: init, train: segData(), config: config(), out, events: { onResume: (s) => (resumedFrom = s.epoch) } });
    expect(resumedFrom).toBe(1);
    expect(resumed.state.epochs.map((e) => e.loss)).toEqual(full.state.epochs.map((e) => e.loss));
    const a = readOnnxFile(full.modelPath).graph.initializers;
    const b = readOnnxFile(resumed.modelPath).graph.initializers;
    const bytes = (t: { data: unknown } | undefined) => {
      const d = t?.data as Float32Array;
      return Buffer.from(d.buffer, d.byteOffset, d.byteLength);
    };
    const diffs = [...a]
      .filter(([name, t]) => !bytes(b.get(name)).equals(bytes(t)))
      .map(([name, t]) => {
        const x = t.data as Float32Array;
        const y = b.get(name)?.data as Float32Array;
        return `${name} ${Math.max(...x.map((v, i) => Math.abs(v - y[i])))}`;
      });
    expect(diffs).toEqual([]);
  });

  it('refuses to resume a different run into the same directory', async () => {
    const out = join(dir, 'run-learn');
    await expect(train({ model: buildArch('resnet-tiny-fcn', { classes: 6, seed: 1 }), train: segData(), config: config({ seed: 99 }), out })).rejects.toThrow(
      TrainError,
    );
  });
});

describe('train (classification) and encoder transfer (PIR-AT init)', () => {
  it('trains a classifier adversarially and moves its encoder into a segmentation model by name', async () => {
    const cls = classificationData(openImageFolder(join(dir, 'cls')));
    expect(cls.classes).toEqual(['disc', 'square', 'triangle', 'ring', 'cross']);
    const r = await train({
      model: buildArch('resnet-tiny-cls', { classes: 5, seed: 1 }),
      train: cls,
      val: cls,
      config: config({ batch: 5, epochs: 1 }),
      out: join(dir, 'run-cls'),
    });
    expect(r.state.evals[0].clean.mIoU).toBeUndefined();
    const classifier = readOnnxFile(r.modelPath);
    const seg = buildArch('resnet-tiny-fcn', { classes: 6, seed: 5 });
    const { model, report } = transferWeights(seg, classifier, 'enc.*=backbone.*');
    expect(report.missing).toEqual([]);
    expect(report.shapeMismatch).toEqual([]);
    expect(report.copied.length).toBeGreaterThan(5);
    // Only the classifier head is left over.
    expect(report.unused.every((n) => !n.startsWith('backbone.'))).toBe(true);
    for (const c of report.copied)
      expect(Array.from(model.graph.initializers.get(c.target)?.data as Float32Array)).toEqual(
        Array.from(classifier.graph.initializers.get(c.source)?.data as Float32Array),
      );
    // The decoder keeps its own init.
    const dec = [...seg.graph.initializers.keys()].find((n) => n.startsWith('dec.')) as string;
    expect(model.graph.initializers.get(dec)).toBe(seg.graph.initializers.get(dec));
    expect(() => transferWeights(seg, classifier, 'nothing.*=backbone.*')).toThrow(TransferError);
    expect(() => transferWeights(seg, classifier, 'enc=backbone')).toThrow(/--map must look like/);
  });
});
