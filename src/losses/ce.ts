// ce-avg: per image, the mean over ALL pixels of the cross-entropy, ignored pixels contributing 0.
// For classification logits [N,K] it is the plain per-image CE.
import { crossEntropy, labelParts, perImageMean } from './common.js';
import { registerLoss } from './loss.js';

registerLoss({
  name: 'ce-avg',
  description: 'cross-entropy, per-image mean over all pixels (ignored pixels contribute 0)',
  build(b, logits, labels, opts) {
    const parts = labelParts(b, logits, labels, opts.ignoreIndex);
    return { perImage: perImageMean(b, crossEntropy(b, logits, parts.onehot), parts), inputs: [] };
  },
});
