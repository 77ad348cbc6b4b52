// APGD with progressive radius reduction (sea.md "PRR"): stages at 2eps, 1.5eps, eps; stage 1
// starts from a random point of the 2eps-ball, each later stage from the previous stage's
// returned point projected to its radius. The result is the last stage's lowest-accuracy point.
import { Rng } from '../util/random.js';
import { apgd } from './apgd.js';
import type { Oracle } from './oracle.js';
import { prrStages } from './schedule.js';
import { projectImage, randomStart, type Threat } from './threat.js';

export interface PrrOptions extends Threat {
  /** Total iterations over all stages (default 300). */
  iters: number;
  /** Seed and per-image ids: the random start of image b is drawn from Rng.derive(seed, ids[b], tag). */
  seed: number;
  ids: string[];
  tag: string;
  earlyStop?: boolean;
  onIteration?: () => void;
}

export interface PrrResult {
  xAdv: Float32Array;
  acc: Float64Array;
  itersRun: number;
}

export async function apgdPrr(oracle: Oracle, x0: Float32Array, opts: PrrOptions): Promise<PrrResult> {
  const B = oracle.batch;
  const P = oracle.pixelsPerImage;
  const stages = prrStages(opts.iters);
  let x: Float32Array = randomStart(x0, B, P, opts.norm, stages[0].scale * opts.eps, (b) => Rng.derive(opts.seed, opts.ids[b], opts.tag, 'start'));
  let acc: Float64Array = new Float64Array(B);
  let itersRun = 0;
  for (const s of stages) {
    const threat: Threat = { norm: opts.norm, eps: s.scale * opts.eps };
    for (let b = 0; b < B; b++) projectImage(x, x0, b, P, threat);
    const r = await apgd(oracle, x0, x, { ...threat, iters: s.iters, earlyStop: opts.earlyStop, onIteration: opts.onIteration });
    x = r.xBestAdv;
    acc = r.accBest;
    itersRun += r.itersRun;
  }
  return { xAdv: x, acc, itersRun };
}
