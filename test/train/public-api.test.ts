// The training API as a library user reaches it (the package entry, src/index.ts): build an architecture,
// adversarially train it step by step (the attack and the training pass in one call, then AdamW), export
// plain ONNX and attack the result with the evaluation API.
import { describe, expect, it } from 'vitest';
import { AdamW, adversarialBatch, buildArch, listArchs, RobustModel, runAttack, TrainableModel } from '../../src/index.js';

describe('training through the library entry point', () => {
  it('adversarial steps with AdamW lower the loss; the exported ONNX model loads for evaluation', async () => {
    expect(listArchs().map((a) => a.name)).toContain('resnet-tiny-fcn');
    const model = TrainableModel.fromOnnx(buildArch('resnet-tiny-fcn', { classes: 3, seed: 0 }), { threads: 1, seed: 0 });
    const opt = new AdamW(model, { lr: 3e-3, weightDecay: 1e-2 });
    const [N, H] = [2, 32];
    const x = { data: new Float32Array(N * 3 * H * H), dims: [N, 3, H, H] };
    const labels = { data: new Int32Array(N * H * H), dims: [N, H, H] };
    // A bright square (class 1) and a dark one (class 2) on grey.
    for (let n = 0; n < N; n++)
      for (let i = 0; i < H; i++)
        for (let j = 0; j < H; j++) {
          const c = i >= 8 && i < 20 && j >= 8 && j < 20 ? (n === 0 ? 1 : 2) : 0;
          labels.data[(n * H + i) * H + j] = c;
          for (let k = 0; k < 3; k++) x.data[((n * 3 + k) * H + i) * H + j] = c === 1 ? 0.9 : c === 2 ? 0.1 : 0.5;
        }
    const adversary = { eps: 4 / 255, steps: 2, stepSize: 0.01 };
    const losses: number[] = [];
    for (let s = 0; s < 6; s++) {
      const r = await model.step(x, labels, { reduction: 'mean', adversary });
      expect(r.adversarial).toHaveLength(x.data.length);
      losses.push(r.loss);
      opt.step(r.grads);
    }
    expect(losses[5]).toBeLessThan(losses[0]);
    // The same attack on its own, and the trained model as a plain ONNX model for the attacks.
    const xa = await adversarialBatch(model, x, labels, adversary);
    for (let i = 0; i < xa.length; i++) expect(Math.abs(xa[i] - x.data[i])).toBeLessThanOrEqual(adversary.eps + 1e-7);
    const robust = RobustModel.fromOnnx(model.toOnnx(), { threads: 1 });
    const ids = ['a', 'b'];
    const res = await runAttack(
      robust,
      { x: x.data, dims: x.dims, labels, ids },
      { name: 'pgd:ce-avg', kind: 'pgd', loss: 'ce-avg' },
      {
        norm: 'linf',
        eps: 4 / 255,
        iters: 5,
        seed: 0,
        ignoreIndex: 255,
      },
    );
    expect(res.acc).toHaveLength(N);
    await model.release();
  });
});
