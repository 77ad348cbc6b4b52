import { describe, expect, it } from 'vitest';
import { aggregateResults, metricsOf } from '../../src/eval/aggregate.js';
import type { ImageRecord } from '../../src/eval/records.js';
import type { RunConfig } from '../../src/eval/schema.js';
import { rng } from '../harness/rng.js';

/** A record from a per-pixel (label, prediction) list; 255 = ignore. */
function rec(index: number, attack: string, eps: number, pairs: [number, number][], K: number): ImageRecord {
  const inter = new Array(K).fill(0);
  const pred = new Array(K).fill(0);
  const gt = new Array(K).fill(0);
  let correct = 0;
  let labelled = 0;
  for (const [y, q] of pairs) {
    if (y === 255) continue;
    labelled++;
    gt[y]++;
    pred[q]++;
    if (q === y) {
      correct++;
      inter[y]++;
    }
  }
  return { index, id: `img${index}`, eps, attack, correct, labelled, inter, pred, gt };
}

describe('metrics from records', () => {
  it('hand-computed aAcc, mAcc, mIoU and per-class IoU on a 3x3 image with an ignore pixel', () => {
    // labels / predictions (class 0..2, one ignored pixel whose prediction must not count)
    const pairs: [number, number][] = [
      [0, 0],
      [0, 0],
      [0, 1],
      [1, 1],
      [1, 1],
      [1, 2],
      [2, 2],
      [2, 0],
      [255, 2],
    ];
    const m = metricsOf([rec(0, 'clean', 0, pairs, 3)], 3);
    expect(m.aAcc).toBeCloseTo(5 / 8, 12);
    // per class acc: 2/3, 2/3, 1/2
    expect(m.mAcc).toBeCloseTo((2 / 3 + 2 / 3 + 1 / 2) / 3, 12);
    // IoU: c0: I=2, U=3+3-2=4; c1: I=2, U=3+3-2=4; c2: I=1, U=2+2-1=3 (the ignored pixel's prediction 2 excluded)
    expect(m.perClassIoU).toEqual([0.5, 0.5, 1 / 3]);
    expect(m.mIoU).toBeCloseTo((0.5 + 0.5 + 1 / 3) / 3, 12);
    expect(m.meanImageAcc).toBeCloseTo(5 / 8, 12);
  });

  it('classes with an empty union are left out of mIoU; absent classes out of mAcc', () => {
    const m = metricsOf([rec(0, 'clean', 0, [[0, 0]], 3)], 3);
    expect(m.perClassIoU).toEqual([1, null, null]);
    expect(m.mIoU).toBe(1);
    expect(m.perClassAcc).toEqual([1, null, null]);
  });
});

describe('worst case over attacks', () => {
  const K = 3;
  const table = (seed: number, A: number, n: number): ImageRecord[][] => {
    const r = rng(seed);
    return Array.from({ length: A }, (_, a) =>
      Array.from({ length: n }, (_, i) =>
        rec(
          i,
          `a${a}`,
          4,
          Array.from({ length: 20 }, () => [Math.floor(r() * K), Math.floor(r() * K)] as [number, number]),
          K,
        ),
      ),
    );
  };

  it('results: worst-case accuracy is the mean of per-image minima and never above any single attack (acc and mIoU)', () => {
    const t = table(9, 3, 10);
    const records = [...t.flat(), ...t[0].map((r) => ({ ...r, attack: 'clean', eps: 0 }))];
    const config = {
      model: { path: 'm', sha256: 'x' },
      data: { format: 'folder', root: 'd', size: 'native', ignoreIndex: 255 },
      attack: {
        kind: 'sea',
        ensemble: 'eccv',
        attacks: ['a0', 'a1', 'a2'],
        norm: 'linf',
        eps: [4],
        epsUnit: '1/255',
        iters: 10,
        batch: 2,
        seed: 0,
        earlyStop: true,
        miouSearch: 'search',
      },
    } as RunConfig;
    const res = aggregateResults({ config, attacks: ['a0', 'a1', 'a2'], records, timings: [], classes: { names: ['a', 'b', 'c'] }, saveAdv: 0 });
    const w = res.byEps[0].worst;
    if (!w) throw new Error('no worst case');
    const accOf = (r: ImageRecord) => r.correct / r.labelled;
    const expected = t[0].map((_, i) => Math.min(...t.map((row) => accOf(row[i])))).reduce((a, b) => a + b, 0) / t[0].length;
    expect(w.acc).toBeCloseTo(expected, 12);
    for (const a of ['a0', 'a1', 'a2']) {
      expect(w.acc).toBeLessThanOrEqual(res.byEps[0].attacks[a].meanImageAcc + 1e-12);
      expect(w.mIoU).toBeLessThanOrEqual(res.byEps[0].attacks[a].mIoU + 1e-12);
    }
    expect(Object.values(w.winnersAcc).reduce((a, b) => a + b, 0)).toBe(10);
  });
});
