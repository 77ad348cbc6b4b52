// Training-mode BatchNormalization (src/ops/norm.ts) and its lowering (src/train/graph.ts): forward values
// against a float64 reference, the full VJP (through the batch mean and variance) against finite differences.
import { describe, expect, it } from 'vitest';
import type { GraphBuilder } from '../../src/onnx/builder.js';
import { numel } from '../../src/onnx/ir.js';
import { float } from '../../src/ops/registry.js';
import { lowerTrainingBatchNorm } from '../../src/train/graph.js';
import { maxAbsDiff } from '../harness/compare.js';
import { positive } from '../harness/vjp.js';
import { fdCheck } from './fd.js';

const TOL = 2e-3;

/** float64 reference: y, running mean/var outputs (ONNX semantics: biased variance), batch mean/var. */
function reference(x: Float32Array, shape: number[], scale: Float32Array, bias: Float32Array, im: Float32Array, iv: Float32Array, m: number, eps: number) {
  const C = shape[1];
  const inner = numel(shape.slice(2));
  const n = shape[0] * inner;
  const mean = new Float64Array(C);
  const vr = new Float64Array(C);
  const at = (i: number, c: number, k: number) => x[(i * C + c) * inner + k];
  for (let c = 0; c < C; c++) {
    let s = 0;
    for (let i = 0; i < shape[0]; i++) for (let k = 0; k < inner; k++) s += at(i, c, k);
    mean[c] = s / n;
    let q = 0;
    for (let i = 0; i < shape[0]; i++) for (let k = 0; k < inner; k++) q += (at(i, c, k) - mean[c]) ** 2;
    vr[c] = q / n;
  }
  const y = new Float64Array(x.length);
  for (let i = 0; i < shape[0]; i++)
    for (let c = 0; c < C; c++)
      for (let k = 0; k < inner; k++) y[(i * C + c) * inner + k] = ((at(i, c, k) - mean[c]) / Math.sqrt(vr[c] + eps)) * scale[c] + bias[c];
  const rm = mean.map((v, c) => im[c] * m + v * (1 - m));
  const rv = vr.map((v, c) => iv[c] * m + v * (1 - m));
  return { y, rm, rv, mean, vr };
}

function bnCase(shape: number[], momentum: number, eps: number, probe: 'all' | 'y', lower: boolean) {
  const C = shape[1];
  // x shifted away from 0 so the batch mean is far from zero (the centring matters).
  return fdCheck({
    seed: 3,
    inputs: [
      { name: 'x', shape, gen: (r) => 1.5 + 2 * (r() - 0.5) + (r() < 0.5 ? -0.7 : 0.7) },
      { name: 'scale', shape: [C], gen: (r) => (r() < 0.5 ? -1 : 1) * (0.5 + r()) },
      { name: 'B', shape: [C] },
      { name: 'im', shape: [C] },
      { name: 'iv', shape: [C], gen: positive },
    ],
    build: (b: GraphBuilder) => {
      const outs = b.emitN('BatchNormalization', ['x', 'scale', 'B', 'im', 'iv'], 3, { training_mode: 1, momentum: float(momentum), epsilon: float(eps) });
      return probe === 'all' ? outs : [outs[0]];
    },
    post: lower ? (b, g) => lowerTrainingBatchNorm(b, g) : undefined,
  });
}

describe('training-mode BatchNormalization: forward values', () => {
  it("onnxruntime's kernel and our lowering both give batch-statistics outputs and the ONNX running update (biased variance)", async () => {
    // The fdCheck run returns the forward values at its seeded point; recompute the same point here.
    const shape = [3, 2, 3, 2];
    for (const lower of [false, true]) {
      const m = lower ? 0 : 0.9;
      const r = await bnCase(shape, m, 1e-3, 'all', lower);
      const [x, scale, bias, im, iv] = ['x', 'scale', 'B', 'im', 'iv'].map((k) => Float32Array.from(r.point.get(k) as Float64Array));
      const ref = reference(x, shape, scale, bias, im, iv, m, 1e-3);
      expect(maxAbsDiff(r.values[0], ref.y), `Y (lowered: ${lower})`).toBeLessThan(2e-6);
      expect(maxAbsDiff(r.values[1], ref.rm), `running_mean (lowered: ${lower})`).toBeLessThan(2e-6);
      expect(maxAbsDiff(r.values[2], ref.rv), `running_var (lowered: ${lower}): biased batch variance`).toBeLessThan(2e-6);
      if (lower) {
        // momentum 0: the outputs ARE the batch statistics (what the training engine reads).
        expect(maxAbsDiff(r.values[1], ref.mean)).toBeLessThan(2e-6);
        expect(maxAbsDiff(r.values[2], ref.vr)).toBeLessThan(2e-6);
      }
    }
  });
});

describe('training-mode BatchNormalization: full VJP vs finite differences', () => {
  it('momentum 0.9, all three outputs probed: statistics recomputed in the backward, gradients for X, scale, B, input_mean, input_var', async () => {
    const r = await bnCase([3, 2, 3, 2], 0.9, 1e-3, 'all', false);
    expect(r.maxErr).toBeLessThan(TOL);
  });

  it('momentum 0 (the engine form: outputs 1-2 are the batch statistics and are reused), lowered to plain ops', async () => {
    const r = await bnCase([3, 2, 3, 2], 0, 1e-3, 'all', true);
    expect(r.maxErr).toBeLessThan(TOL);
  });

  it('only Y probed (a training loss), lowered: the gradient through the batch mean and variance', async () => {
    const r = await bnCase([2, 3, 4, 3], 0, 1e-5, 'y', true);
    expect(r.maxErr).toBeLessThan(TOL);
  });

  it('2-D input [N, C] (BatchNorm1d), onnxruntime kernel', async () => {
    const r = await bnCase([6, 3], 0.8, 1e-5, 'all', false);
    expect(r.maxErr).toBeLessThan(TOL);
  });

  it('3-D input [N, C, L], two values per channel in the batch dimension only', async () => {
    const r = await bnCase([2, 2, 1], 0, 1e-2, 'y', true);
    expect(r.maxErr).toBeLessThan(TOL);
  });

  it('only Y probed: per channel, sum(dX) = 0 and sum(dX * xhat) = 0 (the mean and variance paths; the inference rule a*g has neither)', async () => {
    const shape = [4, 2, 2, 2];
    const r = await bnCase(shape, 0, 1e-5, 'y', true);
    expect(r.maxErr).toBeLessThan(TOL);
    const x = r.point.get('x') as Float64Array;
    const gx = r.grads.get('x') as Float64Array;
    const ref = reference(Float32Array.from(x), shape, new Float32Array(2).fill(1), new Float32Array(2), new Float32Array(2), new Float32Array(2), 0, 1e-5);
    const inner = 4;
    for (let c = 0; c < 2; c++) {
      let s0 = 0;
      let s1 = 0;
      let mag = 0;
      for (let i = 0; i < shape[0]; i++)
        for (let k = 0; k < inner; k++) {
          const j = (i * 2 + c) * inner + k;
          s0 += gx[j];
          s1 += gx[j] * ref.y[j];
          mag += Math.abs(gx[j]);
        }
      expect(mag).toBeGreaterThan(0.1);
      expect(Math.abs(s0) / mag, `channel ${c}: sum dX`).toBeLessThan(1e-5);
      expect(Math.abs(s1) / mag, `channel ${c}: sum dX * xhat`).toBeLessThan(1e-5);
    }
  });
});
