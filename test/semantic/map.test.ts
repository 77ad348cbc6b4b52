// Scores and semantic maps (src/semantic/score.ts, src/semantic/map.ts): true-class probability and the
// segmentation scores on hand-computed logits; maps over image and viewpoint spaces with a tiny ONNX
// classifier (global average pool + Gemm, so f has a closed form in the channel means) in row-major
// order; the on-disk cache (a re-run evaluates nothing, a changed key recomputes, an interrupted run
// resumes to identical scores, a torn last line is tolerated); the score oracle for robust regions.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { tensorFromNumbers } from '../../src/onnx/ir.js';
import { type ImageBatch, RobustModel } from '../../src/runtime/model.js';
import { GridError, parseGrid } from '../../src/semantic/grid.js';
import { CacheError, modelFingerprint, scoreOracle, semanticMap } from '../../src/semantic/map.js';
import { loadMesh } from '../../src/semantic/mesh.js';
import { renderImage } from '../../src/semantic/render.js';
import { type ForwardModel, meanIoU, pixelAccuracy, ScoreError, trueClassProb } from '../../src/semantic/score.js';
import { imageSpace, SpaceError, viewpointSpace } from '../../src/semantic/space.js';
import { Rng } from '../../src/util/random.js';
import { irModel, node, pixelLinearModel } from '../harness/tiny-models.js';

const dirs: string[] = [];
const tmp = () => {
  const d = mkdtempSync(join(tmpdir(), 'rs-semantic-map-'));
  dirs.push(d);
  return d;
};
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

// Tiny classifier: logits = W * channel means + b (3 channels, 3 classes).
const Wt = [
  [4, -2, 0],
  [-1, 3, 1],
  [0, 0, 2],
];
const bias = [0.1, -0.2, 0];
function classifier(w = Wt): RobustModel {
  const nodes = [
    node('GlobalAveragePool', ['x'], ['gap']),
    node('Flatten', ['gap'], ['flat']),
    node('Gemm', ['flat', 'W', 'B'], ['logits'], { transB: { type: 'int', value: 1 } }),
  ];
  return RobustModel.fromOnnx(
    irModel(nodes, ['N', 3, 'H', 'W'], 'logits', [
      ['W', tensorFromNumbers('float32', [3, 3], w.flat())],
      ['B', tensorFromNumbers('float32', [3], bias)],
    ]),
    { threads: 1 },
  );
}
/** The classifier's true-class probability from the channel means (closed form). */
function probFromMeans(m: number[], label: number, w = Wt): number {
  const z = w.map((row, k) => row[0] * m[0] + row[1] * m[1] + row[2] * m[2] + bias[k]);
  const mx = Math.max(...z);
  const e = z.map((v) => Math.exp(v - mx));
  return e[label] / e.reduce((a, b) => a + b, 0);
}
function channelMeans(img: Float32Array, C: number): number[] {
  const n = img.length / C;
  return Array.from({ length: C }, (_, c) => img.subarray(c * n, (c + 1) * n).reduce((a, b) => a + b, 0) / n);
}

/** Counts model calls and images; throws on call number `failAt` (1-based) to simulate an interruption. */
class Counting implements ForwardModel {
  calls = 0;
  images = 0;
  constructor(
    readonly inner: ForwardModel,
    readonly failAt = Infinity,
  ) {}
  async forward(x: ImageBatch) {
    this.calls++;
    if (this.calls >= this.failAt) throw new Error('interrupted');
    this.images += x.dims[0];
    return this.inner.forward(x);
  }
}

// A 3x8x8 base image with values in [0.3, 0.7], so brightness <= 1.2 and contrast in [0.5, 1.5] never clamp.
const SHAPE = { channels: 3, height: 8, width: 8 };
const rng = new Rng(11);
const base = Float32Array.from({ length: 192 }, () => 0.3 + 0.4 * rng.next());
const m0 = channelMeans(base, 3);
const M0 = (m0[0] + m0[1] + m0[2]) / 3;
/** Closed form for brightness b then contrast c: channel means (b m_c - b M) c + b M. */
const expectedBC = (b: number, c: number, label: number) =>
  probFromMeans(
    m0.map((m) => (b * m - b * M0) * c + b * M0),
    label,
  );
const GRID = 'brightness=0.2:1.2:0.2,contrast=0.5:1.5:0.5'; // 5 x 2 = 10 points

describe('score functions on hand-computed logits', () => {
  it('prob: softmax of the true class, per row; [N,K,1,1] accepted', () => {
    const p = trueClassProb(Float32Array.from([0, Math.log(3), 2, 2]), [2, 2], 1);
    expect(p[0]).toBeCloseTo(0.75, 6);
    expect(p[1]).toBeCloseTo(0.5, 12);
    expect(trueClassProb(Float32Array.from([1000, 0]), [1, 2, 1, 1], 0)[0]).toBe(1);
    expect(() => trueClassProb(Float32Array.from([0, 0]), [1, 2], 2)).toThrow(/class 2 is not in 0..1/);
    expect(() => trueClassProb(new Float32Array(8), [1, 2, 2, 2], 0)).toThrow(ScoreError);
  });
  it('pixel accuracy and mean IoU over classes present, ignore pixels excluded', () => {
    // One 2x2 image, K = 3; predictions (argmax) [0, 2, 1, 2]; labels [0, 0, 1, 255].
    const pred = [0, 2, 1, 2];
    const logits = new Float32Array(12);
    pred.forEach((k, p) => {
      logits[k * 4 + p] = 1;
    });
    const labels = Int32Array.from([0, 0, 1, 255]);
    expect(pixelAccuracy(logits, [1, 3, 2, 2], labels)[0]).toBeCloseTo(2 / 3, 12);
    // Class 0: inter 1, union 2 -> 0.5; class 1: 1/1; class 2 is not in the labels (its ignored pixel does not count).
    expect(meanIoU(logits, [1, 3, 2, 2], labels)[0]).toBeCloseTo(0.75, 12);
    // Nothing labelled: 0.
    expect(pixelAccuracy(logits, [1, 3, 2, 2], Int32Array.from([255, 255, 255, 255]))[0]).toBe(0);
    expect(() => meanIoU(logits, [1, 3, 2, 2], Int32Array.from([0, 5, 0, 0]))).toThrow(/label 5 is not in 0..2/);
  });
});

describe('semantic map over an image space (tiny classifier, closed-form f)', () => {
  const space = imageSpace(base, SHAPE);
  it('evaluates every grid point in row-major order (last axis fastest), in batches', async () => {
    const model = new Counting(classifier());
    const map = await semanticMap(space, model, { score: 'prob', label: 1 }, parseGrid(GRID), { batchSize: 4 });
    expect(map.dims).toEqual([
      { name: 'brightness', values: [0.2, 0.4, 0.6, 0.8, 1] },
      { name: 'contrast', values: [0.5, 1] },
    ]);
    expect(map.scores.length).toBe(10);
    for (let i = 0; i < 5; i++)
      for (let j = 0; j < 2; j++) expect(map.scores[i * 2 + j]).toBeCloseTo(expectedBC(map.dims[0].values[i], map.dims[1].values[j], 1), 5);
    expect(model.calls).toBe(3); // 4 + 4 + 2
    expect(model.images).toBe(10);
    expect(map.evaluations).toBe(10);
    expect(map.fixed).toEqual({ rotation: 0, scale: 1, tx: 0, ty: 0, blur: 0 });
    expect(map.seconds).toBeGreaterThanOrEqual(map.renderSeconds + map.modelSeconds - 1e-9);
    expect(map.renderSeconds).toBeGreaterThan(0);
  });
  it('rejects grids outside the domain or naming unknown parameters', async () => {
    const m = classifier();
    await expect(semanticMap(space, m, { score: 'prob', label: 0 }, parseGrid('brightness=-1:1:0.5'))).rejects.toThrow(GridError);
    await expect(semanticMap(space, m, { score: 'prob', label: 0 }, parseGrid('az=0:10:5'))).rejects.toThrow(/no parameter 'az'/);
    await expect(semanticMap(space, m, { score: 'prob', label: 7 }, parseGrid('blur=0:1:1'))).rejects.toThrow(/class 7 is not in 0..2/);
    await expect(semanticMap(space, m, { score: 'miou' }, parseGrid('blur=0:1:1'))).rejects.toThrow(/needs label maps/);
  });
});

describe('score cache on disk', () => {
  const space = imageSpace(base, SHAPE);
  const target = { score: 'prob', label: 1 } as const;
  const grid = parseGrid(GRID);
  it('a re-run with the same key performs zero model evaluations and returns the same scores', async () => {
    const dir = tmp();
    const first = new Counting(classifier());
    const a = await semanticMap(space, first, target, grid, { batchSize: 4, cacheDir: dir, modelId: 'm1' });
    expect(first.images).toBe(10);
    const second = new Counting(classifier());
    const b = await semanticMap(space, second, target, grid, { batchSize: 4, cacheDir: dir, modelId: 'm1' });
    expect(second.calls).toBe(0);
    expect(b.evaluations).toBe(0);
    expect(b.cached).toBe(10);
    expect(Array.from(b.scores)).toEqual(Array.from(a.scores));
    expect(b.cacheFile).toBe(a.cacheFile);
    // A sub-grid of a cached grid needs nothing either.
    const c = await semanticMap(space, second, target, parseGrid('brightness=0.4:0.8:0.2,contrast=1'), { cacheDir: dir, modelId: 'm1' });
    expect(c.evaluations).toBe(0);
    expect(c.scores[1]).toBe(a.scores[2 * 2 + 1]); // brightness 0.6, contrast 1
  });
  it('a changed key recomputes: other class, other model id, other base image, other pinned value', async () => {
    const dir = tmp();
    await semanticMap(space, classifier(), target, grid, { cacheDir: dir, modelId: 'm1' });
    const runs = [
      () => semanticMap(space, counter, { score: 'prob', label: 2 }, grid, { cacheDir: dir, modelId: 'm1' }),
      () => semanticMap(space, counter, target, grid, { cacheDir: dir, modelId: 'm2' }),
      () =>
        semanticMap(
          imageSpace(
            base.map((v) => v * 0.9),
            SHAPE,
          ),
          counter,
          target,
          grid,
          { cacheDir: dir, modelId: 'm1' },
        ),
      () => semanticMap(space, counter, target, parseGrid(`${GRID},blur=0.5`), { cacheDir: dir, modelId: 'm1' }),
    ];
    const counter = new Counting(classifier());
    for (const run of runs) {
      const before = counter.images;
      const r = await run();
      expect(r.evaluations).toBe(10);
      expect(counter.images - before).toBe(10);
    }
  });
  it('the default model id fingerprints the loaded model: other weights, other cache', async () => {
    const dir = tmp();
    const a = classifier();
    const b = classifier(Wt.map((r) => r.map((v) => v + 1)));
    expect(modelFingerprint(a)).toBe(modelFingerprint(classifier()));
    expect(modelFingerprint(a)).not.toBe(modelFingerprint(b));
    await semanticMap(space, a, target, grid, { cacheDir: dir });
    expect((await semanticMap(space, classifier(), target, grid, { cacheDir: dir })).evaluations).toBe(0);
    expect((await semanticMap(space, b, target, grid, { cacheDir: dir })).evaluations).toBe(10);
    await expect(semanticMap(space, new Counting(a), target, grid, { cacheDir: dir })).rejects.toThrow(CacheError);
  });
  it('an interrupted run (model fails on its 3rd batch) resumes, computing only the rest, and ends with identical scores', async () => {
    const dir = tmp();
    const reference = await semanticMap(space, classifier(), target, grid, { batchSize: 3 });
    const failing = new Counting(classifier(), 3);
    await expect(semanticMap(space, failing, target, grid, { batchSize: 3, cacheDir: dir, modelId: 'm' })).rejects.toThrow('interrupted');
    expect(failing.images).toBe(6);
    const resumed = new Counting(classifier());
    const r = await semanticMap(space, resumed, target, grid, { batchSize: 3, cacheDir: dir, modelId: 'm' });
    expect(r.cached).toBe(6);
    expect(r.evaluations).toBe(4);
    expect(resumed.images).toBe(4);
    expect(Array.from(r.scores)).toEqual(Array.from(reference.scores));
  });
  it('tolerates a torn last line (dropped, the file ends clean) and rejects a corrupt complete line', async () => {
    const dir = tmp();
    const a = await semanticMap(space, classifier(), target, grid, { batchSize: 5, cacheDir: dir, modelId: 'm' });
    const file = a.cacheFile as string;
    const text = readFileSync(file, 'utf8');
    const lines = text.trimEnd().split('\n');
    expect(lines.length).toBe(11); // header + 10 points
    // Lose the last point and tear its line in half.
    const torn = `${lines.slice(0, 10).join('\n')}\n${lines[10].slice(0, 12)}`;
    writeFileSync(file, torn);
    const counter = new Counting(classifier());
    const b = await semanticMap(space, counter, target, grid, { batchSize: 5, cacheDir: dir, modelId: 'm' });
    expect(b.evaluations).toBe(1);
    expect(Array.from(b.scores)).toEqual(Array.from(a.scores));
    expect(readFileSync(file, 'utf8').endsWith('}\n')).toBe(true);
    expect(readFileSync(file, 'utf8').trimEnd().split('\n').length).toBe(11);
    writeFileSync(file, `${lines[0]}\nnot json\n`);
    await expect(semanticMap(space, counter, target, grid, { cacheDir: dir, modelId: 'm' })).rejects.toThrow(/:2: not a valid cache line/);
  });
});

describe('semantic map over a viewpoint space', () => {
  it('1D azimuth sweep at el 35: f(az) is the classifier on renderImage(mesh, az, 35), pinned values reported', async () => {
    const cube = loadMesh('cube');
    const size = 16;
    const map = await semanticMap(viewpointSpace(cube, { size }), classifier(), { score: 'prob', label: 0 }, parseGrid('azimuth=0:360:45,elevation=35'), {
      batchSize: 3,
    });
    expect(map.dims).toEqual([{ name: 'az', values: [0, 45, 90, 135, 180, 225, 270, 315] }]);
    expect(map.fixed).toEqual({ el: 35, distance: 2.732, light_az: 0, light_el: 90 });
    map.dims[0].values.forEach((az, i) => {
      const img = renderImage(cube, { azimuth: az, elevation: 35 }, size);
      expect(map.scores[i]).toBeCloseTo(probFromMeans(channelMeans(img, 3), 0), 5);
    });
    expect(map.renderSeconds).toBeGreaterThan(0);
  });
  it('the cache is keyed in the full space: a 1D sweep at el 35 reuses the points of a 2D map that contains el 35', async () => {
    const dir = tmp();
    const space = viewpointSpace(loadMesh('cube'), { size: 8 });
    const target = { score: 'prob', label: 2 } as const;
    const full = await semanticMap(space, classifier(), target, parseGrid('az=0:360:90,el=-10:90:45'), { cacheDir: dir, modelId: 'm' });
    expect(full.dims[1].values).toEqual([-10, 35, 80]);
    const sweep = await semanticMap(space, classifier(), target, parseGrid('az=0:360:90,el=35'), { cacheDir: dir, modelId: 'm' });
    expect(sweep.evaluations).toBe(0);
    expect(Array.from(sweep.scores)).toEqual([0, 1, 2, 3].map((i) => full.scores[i * 3 + 1]));
    // Another distance is another point.
    const far = await semanticMap(space, classifier(), target, parseGrid('az=0:360:90,el=35,distance=3'), { cacheDir: dir, modelId: 'm' });
    expect(far.evaluations).toBe(4);
  });
});

describe('segmentation scores through a map (labels follow the geometry)', () => {
  // Per-pixel model: logit0 = 1, logit1 = 2 x_0, so class 1 exactly where channel 0 is 1 (inputs are 0 or 1).
  const model = pixelLinearModel(
    [
      [0, 0, 0],
      [2, 0, 0],
    ],
    [1, 0],
  );
  // 3x4x4 image: channel 0 is 1 in columns 0-1. Labels: class 1 in columns 0-2, class 0 in column 3.
  const img = new Float32Array(48);
  const labels = new Uint8Array(16);
  for (let y = 0; y < 4; y++)
    for (let x = 0; x < 4; x++) {
      img[y * 4 + x] = x < 2 ? 1 : 0;
      labels[y * 4 + x] = x < 3 ? 1 : 0;
    }
  const space = imageSpace(img, { channels: 3, height: 4, width: 4 }, { labels });
  it('pixel accuracy over tx = 0, 1, 2 is 3/4, 2/3, 1 (shifted-in column ignored)', async () => {
    // tx 0: pred [1,1,0,0] vs [1,1,1,0]: 3/4. tx 1: labels [ign,1,1,1], pred [0,1,1,0]: 2/3. tx 2: [ign,ign,1,1] vs [0,0,1,1]: 1.
    const m = await semanticMap(space, model, { score: 'pixel-acc' }, parseGrid('tx=0:3:1'));
    expect(Array.from(m.scores).map((v) => +v.toFixed(12))).toEqual([0.75, +(2 / 3).toFixed(12), 1]);
  });
  it('mean IoU over classes present: tx = 0 gives (8/12 + 4/8) / 2, tx = 1 gives 8/12', async () => {
    const m = await semanticMap(space, model, { score: 'miou' }, parseGrid('tx=0:2:1'));
    expect(m.scores[0]).toBeCloseTo((8 / 12 + 4 / 8) / 2, 12);
    expect(m.scores[1]).toBeCloseTo(8 / 12, 12);
  });
});

describe('scoreOracle (batched f(u) for robust regions)', () => {
  const space = imageSpace(base, SHAPE);
  it('scores points over the chosen axes; repeated points are evaluated once', async () => {
    const counter = new Counting(classifier());
    const f = scoreOracle(space, counter, { score: 'prob', label: 1 }, { axes: ['brightness', 'contrast'], batchSize: 8 });
    const pts = [Float64Array.of(0.5, 1), Float64Array.of(1.1, 0.7), Float64Array.of(0.5, 1)];
    const s = await f(pts);
    expect(s[0]).toBeCloseTo(expectedBC(0.5, 1, 1), 5);
    expect(s[1]).toBeCloseTo(expectedBC(1.1, 0.7, 1), 5);
    expect(s[2]).toBe(s[0]);
    expect(counter.images).toBe(2);
  });
  it('pins other parameters, checks domains and point length', async () => {
    const f = scoreOracle(space, classifier(), { score: 'prob', label: 1 }, { fixed: { rotation: 0, scale: 1, tx: 0, ty: 0, contrast: 1, blur: 0 } });
    expect((await f([Float64Array.of(0.9)]))[0]).toBeCloseTo(expectedBC(0.9, 1, 1), 5);
    await expect(f([Float64Array.of(-0.1)])).rejects.toThrow(/brightness=-0.1 is outside/);
    await expect(f([Float64Array.of(1, 1)])).rejects.toThrow(SpaceError);
  });
  it('shares the map cache when given the same directory and model id', async () => {
    const dir = tmp();
    await semanticMap(space, classifier(), { score: 'prob', label: 1 }, parseGrid(GRID), { cacheDir: dir, modelId: 'm' });
    const counter = new Counting(classifier());
    const f = scoreOracle(space, counter, { score: 'prob', label: 1 }, { axes: ['brightness', 'contrast'], cacheDir: dir, modelId: 'm' });
    await f([Float64Array.of(0.4, 1.5 - 0.5)]);
    expect(counter.calls).toBe(0);
  });
});
