// APGD's step-size logic and returned point, pinned with scripted oracles (no model needed),
// so every detail of sea.md's APGD is checked in isolation.
import { describe, expect, it } from 'vitest';
import { apgd } from '../../src/attacks/apgd.js';
import type { Oracle, Probe } from '../../src/attacks/oracle.js';
import { apgdCheckpoints, apgdParams, prrStages } from '../../src/attacks/schedule.js';
import { perturbationNorm } from '../../src/attacks/threat.js';

/** An oracle whose track loss / accuracy follow scripts indexed by evaluation count. */
function scripted(B: number, P: number, track: (call: number, b: number) => number, acc: (call: number, b: number) => number) {
  let calls = 0;
  const seen: Float32Array[] = [];
  let gradCalls = 0;
  let noGradCalls = 0;
  const probe = (x: Float32Array): Probe => {
    seen.push(Float32Array.from(x));
    const c = calls++;
    return { track: Float32Array.from({ length: B }, (_, b) => track(c, b)), acc: Float64Array.from({ length: B }, (_, b) => acc(c, b)) };
  };
  const oracle: Oracle = {
    batch: B,
    pixelsPerImage: P,
    async withGrad(x) {
      gradCalls++;
      const p = probe(x);
      // A fixed pseudo-random gradient keeps the iterates moving.
      const grad = Float32Array.from(x, (_, i) => Math.sin(i * 12.9898 + calls));
      return { ...p, grad, loss: p.track };
    },
    async noGrad(x) {
      noGradCalls++;
      return probe(x);
    },
  };
  return { oracle, seen, counts: () => ({ gradCalls, noGradCalls }) };
}

const x0 = (B: number, P: number) => Float32Array.from({ length: B * P }, (_, i) => (i % 7) / 7);

describe('APGD schedule (sea.md checkpoint table)', () => {
  it('N = 90: k0 = 19, kmin = 5, decr = 2; checkpoints at 18, 35, 50, 63, 74, 83', () => {
    expect(apgdParams(90)).toMatchObject({ k0: 19, kmin: 5, decr: 2 });
    expect(apgdCheckpoints(90)).toEqual([18, 35, 50, 63, 74, 83]);
  });
  it('N = 120: checkpoints at 25, 48, 68, 85, 99, 110, 118', () => {
    expect(apgdCheckpoints(120)).toEqual([25, 48, 68, 85, 99, 110, 118]);
  });
  it('PRR splits 300 iterations into 90, 90, 120 at radii 2eps, 1.5eps, eps', () => {
    expect(prrStages(300)).toEqual([
      { iters: 90, scale: 2 },
      { iters: 90, scale: 1.5 },
      { iters: 120, scale: 1 },
    ]);
  });
});

describe('APGD step-size rule', () => {
  const B = 1;
  const P = 12;
  const base = { norm: 'linf' as const, eps: 8 / 255, earlyStop: false };

  it('(a) a track loss that never increases halves eta at every checkpoint', async () => {
    const s = scripted(
      B,
      P,
      () => 1,
      () => 0.5,
    );
    const r = await apgd(s.oracle, x0(B, P), x0(B, P), { ...base, iters: 90 });
    expect(r.halvedAt[0]).toEqual(apgdCheckpoints(90));
    expect(r.eta[0]).toBeCloseTo((2 * base.eps) / 2 ** 6, 12);
  });

  it('a track loss that always increases never halves eta (condition (b) needs no improvement)', async () => {
    const s = scripted(
      B,
      P,
      (c) => c,
      () => 0.5,
    );
    const r = await apgd(s.oracle, x0(B, P), x0(B, P), { ...base, iters: 90 });
    expect(r.halvedAt[0]).toEqual([]);
  });

  it('(b) rising often but never beating the start: not halved at the first checkpoint ("halved last time" starts true), halved at the second', async () => {
    // call 0 = start (loss 100), then a sawtooth below 100 that rises in 9 of 10 steps.
    const s = scripted(
      B,
      P,
      (c) => (c === 0 ? 100 : c % 10),
      () => 0.5,
    );
    const r = await apgd(s.oracle, x0(B, P), x0(B, P), { ...base, iters: 90 });
    const cps = apgdCheckpoints(90);
    expect(r.halvedAt[0][0]).toBe(cps[1]);
    expect(r.halvedAt[0]).not.toContain(cps[0]);
  });

  it('returns the lowest-accuracy iterate, ties taking the latest, and keeps the start if nothing is lower', async () => {
    const accs = [0.9, 0.8, 0.5, 0.7, 0.5, 0.6, 0.9];
    const s = scripted(
      B,
      P,
      (c) => c,
      (c) => accs[Math.min(c, accs.length - 1)],
    );
    const r = await apgd(s.oracle, x0(B, P), x0(B, P), { ...base, iters: 6 });
    expect(r.accBest[0]).toBe(0.5);
    expect(Array.from(r.xBestAdv)).toEqual(Array.from(s.seen[4]));
  });

  it('computes no gradient on the last iteration', async () => {
    const s = scripted(
      B,
      P,
      (c) => c,
      () => 0.5,
    );
    await apgd(s.oracle, x0(B, P), x0(B, P), { ...base, iters: 20 });
    expect(s.counts()).toEqual({ gradCalls: 20, noGradCalls: 1 });
  });

  it('stops early once every image of the batch has 0 accuracy', async () => {
    const s = scripted(
      2,
      P,
      (c) => c,
      (c) => (c >= 3 ? 0 : 1),
    );
    const r = await apgd(s.oracle, x0(2, P), x0(2, P), { ...base, iters: 50, earlyStop: true });
    expect(r.itersRun).toBe(3);
  });

  for (const norm of ['linf', 'l2'] as const) {
    it(`${norm}: every evaluated iterate stays in the eps-ball and in [0,1]`, async () => {
      const eps = norm === 'linf' ? 4 / 255 : 0.5;
      const s = scripted(
        2,
        P,
        (c) => c % 3,
        () => 0.5,
      );
      const clean = x0(2, P);
      await apgd(s.oracle, clean, clean, { norm, eps, iters: 40, earlyStop: false });
      for (const x of s.seen) {
        for (let b = 0; b < 2; b++) expect(perturbationNorm(x, clean, b, P, norm)).toBeLessThanOrEqual(eps * (1 + 1e-5) + 1e-7);
        expect(x.every((v) => v >= 0 && v <= 1)).toBe(true);
      }
    });
  }
});
