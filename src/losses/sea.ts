// The losses of SEA (sea.md "Losses"), as per-pixel terms averaged per image over ALL pixels.
// Correctness masks come from an in-graph ArgMax (integer, so no gradient flows through them).
import type { GraphBuilder } from '../onnx/builder.js';
import { tensorFromNumbers } from '../onnx/ir.js';
import { OpError } from '../ops/registry.js';
import { crossEntropy, type LabelParts, labelParts, perImageMean } from './common.js';
import { registerLoss } from './loss.js';

/** c = 1[argmax_k u = y] * valid, as float (detached by construction). */
function correctMask(b: GraphBuilder, logits: string, labels: string, parts: LabelParts): string {
  const pred = b.emit('ArgMax', [logits], { axis: 1, keepdims: 0 });
  const lab = b.type(labels).dtype === 'int64' ? labels : b.emit('Cast', [labels], { to: 7 });
  return b.emit('Mul', [b.emit('Cast', [b.emit('Equal', [pred, lab])], { to: 1 }), parts.valid]);
}

/** Sum over classes of t * onehot: picks the true class's entry, [N,...spatial]. */
function pickTrue(b: GraphBuilder, t: string, parts: LabelParts): string {
  return b.emit('ReduceSum', [b.emit('Mul', [t, parts.onehot]), b.ints([1])], { keepdims: 0 });
}

registerLoss({
  name: 'mask-ce-avg',
  description: 'L_MCE: cross-entropy on the pixels that are still correctly classified',
  build(b, logits, labels, opts) {
    const parts = labelParts(b, logits, labels, opts.ignoreIndex);
    const l = b.emit('Mul', [correctMask(b, logits, labels, parts), crossEntropy(b, logits, parts.onehot)]);
    return { perImage: perImageMean(b, l, parts), inputs: [] };
  },
});

registerLoss({
  name: 'mask-ce-bal',
  description: 'L_MCE-Bal: masked cross-entropy weighted by w_y (inverse training-set class frequency, sum 1)',
  build(b, logits, labels, opts) {
    const parts = labelParts(b, logits, labels, opts.ignoreIndex);
    const w = opts.classWeights;
    if (!w) throw new OpError('mask-ce-bal needs class weights (from a training split: `robustscope class-weights`, or a file)');
    if (w.length !== parts.classes) throw new OpError(`mask-ce-bal: ${w.length} class weights given for a model with ${parts.classes} classes`);
    const shape = [1, parts.classes, ...parts.spatialAxes.map(() => 1)];
    const wy = pickTrue(b, b.constant(tensorFromNumbers('float32', shape, w), 'class_weights'), parts);
    const l = b.emit('Mul', [b.emit('Mul', [correctMask(b, logits, labels, parts), wy]), crossEntropy(b, logits, parts.onehot)]);
    return { perImage: perImageMean(b, l, parts), inputs: [] };
  },
});

registerLoss({
  name: 'js-avg',
  description: 'L_JS: Jensen-Shannon divergence between softmax and the one-hot label',
  build(b, logits, labels, opts) {
    const parts = labelParts(b, logits, labels, opts.ignoreIndex);
    // With q = onehot(y), JS(p, q) depends on p_y only:
    //   JS = log 2 - (1 + p_y) log(1 + p_y) / 2 + p_y log(p_y) / 2,
    // and log p_y comes from LogSoftmax, so p_y -> 0 gives 0 * (finite) instead of 0 * log 0 = NaN.
    const logpy = pickTrue(b, b.emit('LogSoftmax', [logits], { axis: 1 }), parts);
    const py = b.emit('Exp', [logpy]);
    const onePlus = b.emit('Add', [py, b.scalar(1)]);
    const t1 = b.emit('Mul', [b.emit('Mul', [onePlus, b.emit('Log', [onePlus])]), b.scalar(-0.5)]);
    const t2 = b.emit('Mul', [b.emit('Mul', [py, logpy]), b.scalar(0.5)]);
    const js = b.emit('Add', [b.emit('Add', [t1, t2]), b.scalar(Math.LN2)]);
    return { perImage: perImageMean(b, b.emit('Mul', [js, parts.valid]), parts), inputs: [] };
  },
});

const LAMBDA = 'robustscope/segpgd_lambda';

registerLoss({
  name: 'segpgd-loss',
  description: 'SegPGD: CE weighted (1-lambda) on correct and lambda on wrong pixels, lambda = t/(2T)',
  build(b, logits, labels, opts) {
    const parts = labelParts(b, logits, labels, opts.ignoreIndex);
    b.types.set(LAMBDA, { dtype: 'float32', shape: [] });
    const corr = correctMask(b, logits, labels, parts);
    const wrong = b.emit('Sub', [parts.valid, corr]);
    const w = b.emit('Add', [b.emit('Mul', [b.emit('Sub', [b.scalar(1), LAMBDA]), corr]), b.emit('Mul', [LAMBDA, wrong])]);
    const l = b.emit('Mul', [w, crossEntropy(b, logits, parts.onehot)]);
    return { perImage: perImageMean(b, l, parts), inputs: [{ name: LAMBDA, dtype: 'float32', shape: [] }] };
  },
  schedule: (t, T) => ({ [LAMBDA]: { data: Float32Array.of(t / (2 * T)), dims: [], dtype: 'float32' } }),
});

registerLoss({
  name: 'mask-norm-corrlog-avg',
  description: 'v1: minus the true-class logit of the L2-normalised logits, on correctly classified pixels',
  build(b, logits, labels, opts) {
    const parts = labelParts(b, logits, labels, opts.ignoreIndex);
    const norm = b.emit('Sqrt', [b.emit('Add', [b.emit('ReduceSum', [b.emit('Mul', [logits, logits]), b.ints([1])], { keepdims: 0 }), b.scalar(1e-12)])]);
    const zy = b.emit('Div', [pickTrue(b, logits, parts), norm]);
    const l = b.emit('Neg', [b.emit('Mul', [zy, correctMask(b, logits, labels, parts)])]);
    return { perImage: perImageMean(b, l, parts), inputs: [] };
  },
});

registerLoss({
  name: 'cospgd-loss',
  description: 'CosPGD: CE weighted by the detached cosine similarity of softmax and the one-hot label',
  build(b, logits, labels, opts) {
    const parts = labelParts(b, logits, labels, opts.ignoreIndex);
    const p = b.emit('Softmax', [logits], { axis: 1 });
    const pnorm = b.emit('Sqrt', [b.emit('ReduceSum', [b.emit('Mul', [p, p]), b.ints([1])], { keepdims: 0 })]);
    const cos = b.detach(b.emit('Div', [pickTrue(b, p, parts), pnorm]));
    const l = b.emit('Mul', [b.emit('Mul', [cos, parts.valid]), crossEntropy(b, logits, parts.onehot)]);
    return { perImage: perImageMean(b, l, parts), inputs: [] };
  },
});
