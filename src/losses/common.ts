// Subgraph pieces shared by the losses: validity mask, safe labels, one-hot, per-pixel CE.
import type { GraphBuilder } from '../onnx/builder.js';
import { OpError } from '../ops/registry.js';

export interface LabelParts {
  /** float [N,...spatial]: 1 where the label is not the ignore index. */
  valid: string;
  /** float [N,K,...spatial] one-hot of the label (all zeros at ignored pixels). */
  onehot: string;
  /** Number of classes K and spatial size (product of the spatial dims; 1 for classification). */
  classes: number;
  pixels: number;
  /** Axes of the spatial dims of the label tensor (empty for classification). */
  spatialAxes: number[];
}

export function labelParts(b: GraphBuilder, logits: string, labels: string, ignoreIndex: number): LabelParts {
  const u = b.type(logits);
  const y = b.type(labels);
  if (u.shape.length < 2) throw new OpError(`logits must be [N,K] or [N,K,H,W], got [${u.shape}]`);
  const expected = [u.shape[0], ...u.shape.slice(2)];
  if (y.shape.length !== expected.length || y.shape.some((d, k) => d !== expected[k]))
    throw new OpError(`labels of shape [${y.shape}] do not match logits [${u.shape}]: expected [${expected}]`);
  const K = u.shape[1];
  const lab = y.dtype === 'int64' ? labels : b.emit('Cast', [labels], { to: 7 });
  const validB = b.emit('Not', [b.emit('Equal', [lab, b.constant({ dtype: 'int64', dims: [], data: BigInt64Array.of(BigInt(ignoreIndex)) })])]);
  const valid = b.emit('Cast', [validB], { to: 1 });
  // Class ids laid out along axis 1: [1,K,1,1...]
  const ids = b.constant({ dtype: 'int64', dims: [1, K, ...u.shape.slice(2).map(() => 1)], data: BigInt64Array.from({ length: K }, (_, k) => BigInt(k)) });
  // Masked by validity, so an ignore index inside 0..K-1 contributes nothing either.
  const hot = b.emit('And', [b.emit('Equal', [b.emit('Unsqueeze', [lab, b.ints([1])]), ids]), b.emit('Unsqueeze', [validB, b.ints([1])])]);
  const onehot = b.emit('Cast', [hot], { to: 1 });
  const spatialAxes = y.shape.slice(1).map((_, k) => k + 1);
  const pixels = y.shape.slice(1).reduce((a, c) => a * c, 1);
  return { valid, onehot, classes: K, pixels, spatialAxes };
}

/**
 * Per-pixel cross-entropy [N,...spatial] (0 where the label is ignored, since its one-hot is 0):
 * sum_k onehot_k * (log(sum(exp(x - max))) - (x_k - max)), the log-softmax onnxruntime's LogSoftmax
 * evaluates but from ReduceMax / Exp / ReduceSum / Log on axis 1 (its axis-1 kernel measured 3-4 ms on
 * [8,6,64,64] logits against 0.3 ms, 1 thread). The max is detached: it only shifts for stability, and
 * the exact derivative through it is zero.
 */
export function crossEntropy(b: GraphBuilder, logits: string, onehot: string): string {
  const axis = b.ints([1]);
  const max = b.detach(b.emit('ReduceMax', [logits, axis], { keepdims: 1 }));
  const shifted = b.emit('Sub', [logits, max]);
  const lse = b.emit('Log', [b.emit('ReduceSum', [b.emit('Exp', [shifted]), axis], { keepdims: 1 })]);
  return b.emit('ReduceSum', [b.emit('Mul', [b.emit('Sub', [lse, shifted]), onehot]), axis], { keepdims: 0 });
}

/** Per-image mean over ALL pixels (the divisor counts ignored pixels too, as SEA specifies). */
export function perImageMean(b: GraphBuilder, perPixel: string, parts: LabelParts): string {
  if (parts.spatialAxes.length === 0) return perPixel;
  const s = b.emit('ReduceSum', [perPixel, b.ints(parts.spatialAxes)], { keepdims: 0 });
  return b.emit('Mul', [s, b.scalar(1 / parts.pixels)]);
}
