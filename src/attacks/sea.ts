// SEA: APGD with progressive radius reduction over an ensemble of losses; the caller keeps,
// per image, the worst case over the ensemble (sea.md "Worst case over the ensemble").
import type { LabelBatch, RobustModel } from '../runtime/model.js';
import { makeOracle } from './oracle.js';
import { pgd } from './pgd.js';
import { apgdPrr } from './prr.js';
import type { Threat } from './threat.js';

export type Ensemble = 'eccv' | 'v1';

/** Loss order matters: ties in the worst case go to the earlier attack. */
export const ENSEMBLES: Record<Ensemble, string[]> = {
  eccv: ['mask-ce-bal', 'mask-ce-avg', 'js-avg'],
  v1: ['mask-ce-avg', 'segpgd-loss', 'js-avg', 'mask-norm-corrlog-avg'],
};

/** An attack robustscope can run on a batch: name, and how. */
export interface AttackSpec {
  /** Name in results, e.g. 'apgd-prr:js-avg' or 'pgd:segpgd-loss'. */
  name: string;
  kind: 'apgd-prr' | 'pgd';
  loss: string;
}

export function seaAttacks(ensemble: Ensemble): AttackSpec[] {
  return ENSEMBLES[ensemble].map((loss) => ({ name: `apgd-prr:${loss}`, kind: 'apgd-prr', loss }));
}

export const BASELINES: Record<'pgd' | 'segpgd' | 'cospgd', AttackSpec> = {
  pgd: { name: 'pgd:ce-avg', kind: 'pgd', loss: 'ce-avg' },
  segpgd: { name: 'pgd:segpgd-loss', kind: 'pgd', loss: 'segpgd-loss' },
  cospgd: { name: 'pgd:cospgd-loss', kind: 'pgd', loss: 'cospgd-loss' },
};

export interface BatchAttackOptions extends Threat {
  iters: number;
  seed: number;
  ignoreIndex: number;
  classWeights?: number[];
  earlyStop?: boolean;
  onIteration?: () => void;
}

export interface BatchInput {
  x: Float32Array;
  dims: number[];
  labels: LabelBatch;
  ids: string[];
}

/** Runs one attack on one batch; returns the adversarial batch and its per-image accuracy. */
export async function runAttack(
  model: RobustModel,
  batch: BatchInput,
  attack: AttackSpec,
  opts: BatchAttackOptions,
): Promise<{ xAdv: Float32Array; acc: Float64Array }> {
  const oracle = makeOracle(model, batch.dims, batch.labels, { loss: attack.loss, ignoreIndex: opts.ignoreIndex, classWeights: opts.classWeights });
  const tag = `${attack.name}@${opts.norm}:${opts.eps}`;
  if (attack.kind === 'apgd-prr') {
    const r = await apgdPrr(oracle, batch.x, {
      norm: opts.norm,
      eps: opts.eps,
      iters: opts.iters,
      seed: opts.seed,
      ids: batch.ids,
      tag,
      earlyStop: opts.earlyStop,
      onIteration: opts.onIteration,
    });
    return { xAdv: r.xAdv, acc: r.acc };
  }
  const r = await pgd(oracle, batch.x, {
    norm: opts.norm,
    eps: opts.eps,
    iters: opts.iters,
    seed: opts.seed,
    ids: batch.ids,
    tag,
    onIteration: opts.onIteration,
  });
  return { xAdv: r.xAdv, acc: r.acc };
}
