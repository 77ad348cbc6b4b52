// Score functions f(u) of semantic robustness, computed from a model's logits (float64 arithmetic):
// - 'prob': softmax probability of the true class (the spec's f), logits [N,K] (or [N,K,1,...,1]);
// - 'pixel-acc': per image, correct / labelled pixels of a segmentation model, logits [N,K,H,W];
// - 'miou': per image, mean over the classes present in its label map of IoU_c = |P_c ∩ G_c| / |P_c ∪ G_c|,
//   counted over labelled pixels only (pixels with the ignore index are in neither set).
// An image with no labelled pixel (e.g. translated out of view) scores 0: nothing there is right.

import { argmaxClasses } from '../metrics/argmax.js';
import type { ForwardResult, ImageBatch } from '../runtime/model.js';

export class ScoreError extends Error {}

export type Target = { score: 'prob'; label: number } | { score: 'pixel-acc' } | { score: 'miou' };

/** What a score needs from a model: RobustModel has it; tests may wrap one to count calls. */
export interface ForwardModel {
  forward(x: ImageBatch): Promise<ForwardResult>;
}

export function targetText(t: Target): string {
  return t.score === 'prob' ? `prob of class ${t.label}` : t.score;
}

/** Softmax probability of class `label` per row of [N,K] logits (trailing 1-dims allowed). */
export function trueClassProb(logits: Float32Array, dims: readonly number[], label: number): Float64Array {
  const [N, K] = dims;
  if (dims.length < 2 || dims.slice(2).some((d) => d !== 1) || logits.length !== N * K)
    throw new ScoreError(`score 'prob' needs classifier logits [N,K]; the model gave [${dims.join(',')}]`);
  if (!Number.isInteger(label) || label < 0 || label >= K)
    throw new ScoreError(`score 'prob': class ${label} is not in 0..${K - 1} (the model has ${K} classes)`);
  const out = new Float64Array(N);
  for (let n = 0; n < N; n++) {
    let max = -Infinity;
    for (let k = 0; k < K; k++) max = Math.max(max, logits[n * K + k]);
    let sum = 0;
    for (let k = 0; k < K; k++) sum += Math.exp(logits[n * K + k] - max);
    out[n] = Math.exp(logits[n * K + label] - max) / sum;
  }
  return out;
}

function checkSegmentation(logits: Float32Array, dims: readonly number[], labels: Int32Array, what: string): [number, number, number] {
  if (dims.length !== 4 || logits.length !== dims[0] * dims[1] * dims[2] * dims[3])
    throw new ScoreError(`score '${what}' needs segmentation logits [N,K,H,W]; the model gave [${dims.join(',')}]`);
  const [N, K, H, W] = dims;
  if (labels.length !== N * H * W)
    throw new ScoreError(`score '${what}': ${labels.length} labels do not match logits [${dims.join(',')}] (need N*H*W = ${N * H * W})`);
  return [N, K, H * W];
}

/** Per image correct / labelled pixels (0 when nothing is labelled). */
export function pixelAccuracy(logits: Float32Array, dims: readonly number[], labels: Int32Array, ignoreIndex = 255): Float64Array {
  const [N, K, P] = checkSegmentation(logits, dims, labels, 'pixel-acc');
  const pred = argmaxClasses(logits, [N, K, P]);
  const out = new Float64Array(N);
  for (let n = 0; n < N; n++) {
    let correct = 0;
    let labelled = 0;
    for (let p = n * P; p < (n + 1) * P; p++) {
      if (labels[p] === ignoreIndex) continue;
      labelled++;
      if (pred[p] === labels[p]) correct++;
    }
    out[n] = labelled ? correct / labelled : 0;
  }
  return out;
}

/** Per image mean IoU over the classes present in its labels (ignore pixels excluded; 0 when nothing is labelled). */
export function meanIoU(logits: Float32Array, dims: readonly number[], labels: Int32Array, ignoreIndex = 255): Float64Array {
  const [N, K, P] = checkSegmentation(logits, dims, labels, 'miou');
  const pred = argmaxClasses(logits, [N, K, P]);
  const out = new Float64Array(N);
  const inter = new Float64Array(K);
  const gt = new Float64Array(K);
  const pr = new Float64Array(K);
  for (let n = 0; n < N; n++) {
    inter.fill(0);
    gt.fill(0);
    pr.fill(0);
    for (let p = n * P; p < (n + 1) * P; p++) {
      const g = labels[p];
      if (g === ignoreIndex) continue;
      if (!Number.isInteger(g) || g < 0 || g >= K)
        throw new ScoreError(`score 'miou': label ${g} is not in 0..${K - 1} and not the ignore index ${ignoreIndex}`);
      gt[g]++;
      pr[pred[p]]++;
      if (pred[p] === g) inter[g]++;
    }
    let sum = 0;
    let present = 0;
    for (let k = 0; k < K; k++) {
      if (gt[k] === 0) continue;
      present++;
      sum += inter[k] / (gt[k] + pr[k] - inter[k]);
    }
    out[n] = present ? sum / present : 0;
  }
  return out;
}

/** Scores of a batch of images (NCHW) for `target`; labels [N,H,W] are needed for segmentation scores. */
export async function scoreBatch(model: ForwardModel, images: ImageBatch, target: Target, labels?: Int32Array, ignoreIndex = 255): Promise<Float64Array> {
  const { logits, logitsDims } = await model.forward(images);
  if (logitsDims[0] !== images.dims[0]) throw new ScoreError(`the model returned ${logitsDims[0]} rows of logits for ${images.dims[0]} images`);
  if (target.score === 'prob') return trueClassProb(logits, logitsDims, target.label);
  if (!labels) throw new ScoreError(`score '${target.score}' needs label maps; this parameter space has none (use an image space with labels)`);
  return target.score === 'pixel-acc' ? pixelAccuracy(logits, logitsDims, labels, ignoreIndex) : meanIoU(logits, logitsDims, labels, ignoreIndex);
}
