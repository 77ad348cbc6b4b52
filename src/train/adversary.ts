// The adversary of adversarial training (pirat.md "Recipe"): PGD on the cross-entropy, linf, zero
// init (no random start), fixed step, the LAST iterate is the training input, model in eval mode
// while attacking. The sign step makes the loss scaling (batch mean vs sum) irrelevant.
import { projectImage, stepImage } from '../attacks/threat.js';
import type { ImageBatch, LabelBatch } from '../runtime/model.js';
import type { TrainableModel, TrainLoss } from './trainable.js';

export interface TrainAdversary {
  /** linf radius in image units. */
  eps: number;
  steps: number;
  /** Step size in image units (the recipe's 0.01). */
  stepSize: number;
}

export async function adversarialBatch(
  model: TrainableModel,
  x: ImageBatch,
  labels: LabelBatch,
  adv: TrainAdversary,
  loss: TrainLoss = {},
): Promise<Float32Array> {
  const [B] = x.dims;
  const P = x.data.length / B;
  const threat = { norm: 'linf' as const, eps: adv.eps };
  const cur = Float32Array.from(x.data);
  if (adv.eps === 0 || adv.steps === 0) return cur;
  const next = new Float32Array(cur.length);
  for (let s = 0; s < adv.steps; s++) {
    // Only the main head's CE drives the attack (no auxiliary heads), as in the reference recipe.
    const r = await model.inputGrad({ data: cur, dims: x.dims }, labels, { loss: loss.loss ?? 'ce-avg', ignoreIndex: loss.ignoreIndex, training: false });
    for (let b = 0; b < B; b++) {
      stepImage(next, cur, r.grad, adv.stepSize, b, P, 'linf');
      projectImage(next, x.data, b, P, threat);
    }
    cur.set(next);
  }
  return cur;
}
