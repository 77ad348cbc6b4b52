// Attack invariants on a real (tiny, per-pixel linear) segmentation model run by onnxruntime.
import { describe, expect, it } from 'vitest';
import { makeOracle } from '../../src/attacks/oracle.js';
import { BASELINES, runAttack, seaAttacks } from '../../src/attacks/sea.js';
import { perturbationNorm, randomStart } from '../../src/attacks/threat.js';
import type { LabelBatch } from '../../src/runtime/model.js';
import { Rng } from '../../src/util/random.js';
import { normal, rng } from '../harness/rng.js';
import { pixelLinearModel } from '../harness/tiny-models.js';

const _K = 3;
const B = 2;
const H = 6;
const W = 5;
const P = 3 * H * W;
const model = pixelLinearModel(
  [
    [4, -2, -2],
    [-2, 4, -2],
    [-2, -2, 4],
  ],
  [0, 0.1, -0.1],
);
const r = rng(3);
const x = Float32Array.from({ length: B * P }, () => Math.min(1, Math.max(0, 0.5 + 0.2 * normal(r))));
/** Labels = the clean prediction (so clean accuracy is 1), with ~1/6 of the pixels ignored. */
async function cleanLabels(ignoreSome: boolean): Promise<LabelBatch> {
  const f = await model.evaluate({ data: x, dims: [B, 3, H, W] }, undefined, { pred: true });
  const lab = BigInt64Array.from(f.pred as BigInt64Array);
  if (ignoreSome) for (let i = 0; i < lab.length; i += 6) lab[i] = 255n;
  return { data: lab, dims: [B, H, W] };
}
const batchOf = async (ignoreSome = false) => ({ x, dims: [B, 3, H, W], labels: await cleanLabels(ignoreSome), ids: ['a', 'b'] });
const opts = { norm: 'linf' as const, iters: 30, seed: 0, ignoreIndex: 255, classWeights: [0.3, 0.3, 0.4] };

describe('attacks on a real model', () => {
  it('eps = 0 reproduces the clean accuracy for SEA losses and PGD', async () => {
    const batch = await batchOf(true);
    for (const a of [...seaAttacks('eccv'), BASELINES.pgd]) {
      const res = await runAttack(model, batch, a, { ...opts, eps: 0 });
      expect(Array.from(res.acc)).toEqual([1, 1]);
      expect(Array.from(res.xAdv)).toEqual(Array.from(x));
    }
  });

  it('the same seed gives identical adversarial images', async () => {
    const batch = await batchOf();
    const a = await runAttack(model, batch, seaAttacks('eccv')[2], { ...opts, eps: 4 / 255 });
    const b = await runAttack(model, batch, seaAttacks('eccv')[2], { ...opts, eps: 4 / 255 });
    expect(Array.from(a.xAdv)).toEqual(Array.from(b.xAdv));
  });

  it('random starts depend on the seed and the image id, not on the batch an image is in', () => {
    const start = (seed: number, ids: string[], img: Float32Array) =>
      randomStart(img, ids.length, P, 'linf', 0.1, (b) => Rng.derive(seed, ids[b], 'tag', 'start'));
    const two = start(0, ['a', 'b'], x);
    const alone = start(0, ['b'], x.slice(P));
    expect(Array.from(two.subarray(P))).toEqual(Array.from(alone));
    expect(Array.from(start(1, ['a', 'b'], x))).not.toEqual(Array.from(two));
  });

  for (const norm of ['linf', 'l2'] as const) {
    it(`${norm}: adversarial images stay in the eps-ball and [0,1]`, async () => {
      const batch = await batchOf();
      const eps = norm === 'linf' ? 8 / 255 : 0.3;
      for (const a of [seaAttacks('eccv')[1], BASELINES.segpgd, BASELINES.cospgd]) {
        const res = await runAttack(model, batch, a, { ...opts, norm, eps });
        for (let b = 0; b < B; b++) expect(perturbationNorm(res.xAdv, x, b, P, norm)).toBeLessThanOrEqual(eps * (1 + 1e-5) + 1e-7);
        expect(res.xAdv.every((v) => v >= 0 && v <= 1)).toBe(true);
      }
    });
  }

  it('with ignore pixels present, APGD moves past its start (accuracy excludes ignore pixels at every iterate)', async () => {
    // The reference counted ignore pixels as correct inside the loop but not at the start, so its
    // returned point rarely left the start. Here the accuracy at the start and the returned
    // accuracy are computed the same way, and the attack must make progress.
    const batch = await batchOf(true);
    const oracle = makeOracle(model, batch.dims, batch.labels, { loss: 'ce-avg', ignoreIndex: 255 });
    const start = await oracle.noGrad(x, 0, 1);
    const res = await runAttack(model, batch, seaAttacks('eccv')[1], { ...opts, eps: 16 / 255 });
    for (let b = 0; b < B; b++) expect(res.acc[b]).toBeLessThan(start.acc[b] - 0.2);
  });

  it('returned accuracies are what the model gives on the returned images', async () => {
    const batch = await batchOf(true);
    const res = await runAttack(model, batch, seaAttacks('v1')[1], { ...opts, eps: 6 / 255 });
    const oracle = makeOracle(model, batch.dims, batch.labels, { loss: 'ce-avg', ignoreIndex: 255 });
    const check = await oracle.noGrad(res.xAdv, 0, 1);
    expect(Array.from(check.acc)).toEqual(Array.from(res.acc));
  });
});
