// What an attack sees of the model on one batch: the attacked loss's gradient, the track loss
// (ce-avg) and per-image pixel accuracy, all from ONE session.run per iterate.
import { getLoss } from '../losses/index.js';
import type { LabelBatch, RobustModel } from '../runtime/model.js';

export interface Probe {
  /** Per-image ce-avg (APGD's track loss). */
  track: Float32Array;
  /** Per-image attacked-loss values. */
  loss?: Float32Array;
  /** Per-image accuracy: correct / labelled pixels (ignored pixels in neither); 0 if nothing is labelled. */
  acc: Float64Array;
  grad?: Float32Array;
}

export interface Oracle {
  readonly batch: number;
  /** Values per image (C*H*W). */
  readonly pixelsPerImage: number;
  /** Gradient of the attacked loss at x; t/T drive scheduled losses (SegPGD's lambda = t / 2T). */
  withGrad(x: Float32Array, t: number, T: number): Promise<Probe & { grad: Float32Array; loss: Float32Array }>;
  noGrad(x: Float32Array, t: number, T: number): Promise<Probe>;
}

export interface OracleOptions {
  loss: string;
  ignoreIndex: number;
  classWeights?: number[];
}

/** What an attack needs of a model: RobustModel, or a TrainableModel attacked during training. */
export type Attackable = Pick<RobustModel, 'evaluate'>;

export function makeOracle(model: Attackable, dims: number[], labels: LabelBatch, opts: OracleOptions): Oracle {
  const def = getLoss(opts.loss);
  const lossReq = (t: number, T: number) => ({ loss: opts.loss, ignoreIndex: opts.ignoreIndex, classWeights: opts.classWeights, extra: def.schedule?.(t, T) });
  const acc = (correct: Float32Array, labelled: Float32Array): Float64Array => Float64Array.from(correct, (c, i) => (labelled[i] > 0 ? c / labelled[i] : 0));
  return {
    batch: dims[0],
    pixelsPerImage: dims.slice(1).reduce((a, b) => a * b, 1),
    async withGrad(x, t, T) {
      const r = await model.evaluate({ data: x, dims }, labels, { loss: lossReq(t, T), track: true, accuracy: true, ignoreIndex: opts.ignoreIndex });
      return {
        track: r.track as Float32Array,
        loss: r.losses as Float32Array,
        acc: acc(r.correct as Float32Array, r.labelled as Float32Array),
        grad: r.grad as Float32Array,
      };
    },
    async noGrad(x) {
      const r = await model.evaluate({ data: x, dims }, labels, { track: true, accuracy: true, ignoreIndex: opts.ignoreIndex });
      return { track: r.track as Float32Array, acc: acc(r.correct as Float32Array, r.labelled as Float32Array) };
    },
  };
}
