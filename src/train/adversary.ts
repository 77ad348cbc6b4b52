// The adversary of adversarial training (pirat.md "Recipe"): PGD on the cross-entropy, linf, zero
// init (no random start), fixed step, the LAST iterate is the training input, model in eval mode
// while attacking. The sign step makes the loss scaling (batch mean vs sum) irrelevant.
import type { ImageBatch, LabelBatch } from '../runtime/model.js';
import type { TrainableModel, TrainLoss } from './trainable.js';

export interface TrainAdversary {
  /** linf radius in image units. */
  eps: number;
  steps: number;
  /** Step size in image units (the recipe's 0.01). */
  stepSize: number;
}

/** Whether the adversary changes the batch at all (eps 0 or no steps: the clean batch). */
export function attacks(adv: TrainAdversary | undefined): adv is TrainAdversary {
  return adv !== undefined && adv.eps !== 0 && adv.steps !== 0;
}

export async function adversarialBatch(
  model: TrainableModel,
  x: ImageBatch,
  labels: LabelBatch,
  adv: TrainAdversary,
  loss: TrainLoss = {},
): Promise<Float32Array> {
  if (!attacks(adv)) return Float32Array.from(x.data);
  // Only the main head's CE drives the attack (no auxiliary heads), as in the reference recipe; all steps
  // run in one onnxruntime call (src/train/pgd-graph.ts).
  return model.signPgd(x, labels, adv, { loss: loss.loss ?? 'ce-avg', ignoreIndex: loss.ignoreIndex, classWeights: loss.classWeights, extra: loss.extra });
}
