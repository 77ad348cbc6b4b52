// results.json: the versioned, documented output of `robustscope attack` (see README "Results
// schema"). The HTML report is generated from this file (and the gallery PNGs it names) alone.

import type { SegMetrics } from '../metrics/confusion.js';

export const RESULTS_SCHEMA = 'robustscope/results';
export const RESULTS_VERSION = 1;

/** Dataset-level segmentation metrics (fractions in [0,1]); defined with the metrics themselves. */
export type Metrics = SegMetrics;

export interface AttackMetrics extends Metrics {
  /** Wall-clock seconds spent in this attack at this radius (summed over batches). */
  seconds: number;
}

/** Per-image worst case over the attacks of an ensemble (sea.md "Worst case over the ensemble"). */
export interface WorstCase extends Metrics {
  /** mean_i min_a acc[a,i]: SEA's robust accuracy. */
  acc: number;
  /** How the worst-case mIoU was found: the spec's search, its greedy variant, or v1's accuracy rule. */
  mIoUMethod: 'search' | 'greedy' | 'v1';
  /** How many images each attack won (lowest accuracy; ties to the earlier attack). */
  winnersAcc: Record<string, number>;
  /** How many images each attack was assigned by the mIoU search. */
  winnersMIoU: Record<string, number>;
}

export interface EpsResult {
  /** Radius as given on the command line (in /255 for linf unless epsUnit is 'abs'). */
  eps: number;
  /** Radius in image units ([0,1] scale). */
  epsAbs: number;
  /** Per attack: the ensemble's members and the baselines. */
  attacks: Record<string, AttackMetrics>;
  /** Present when the ensemble has more than one attack. */
  worst?: WorstCase;
}

export interface GalleryItem {
  index: number;
  id: string;
  eps: number;
  /** Attack whose adversarial image is shown (the per-image worst case for ensembles). */
  attack: string;
  cleanAcc: number;
  advAcc: number;
  /** PNG paths relative to the results directory. */
  files: { image: string; adversarial: string; perturbation: string; label: string; cleanPred: string; advPred: string };
}

export interface RunConfig {
  model: { path: string; sha256: string; normalize?: { mean: number[]; std: number[] }; output?: string };
  data: { format: string; root: string; size: number | 'native'; limit?: number; ignoreIndex: number };
  attack: {
    kind: 'sea' | 'apgd' | 'pgd' | 'segpgd' | 'cospgd';
    ensemble?: 'eccv' | 'v1';
    loss?: string;
    /** Attack names of the ensemble in order (ties in the worst case go to the earlier one). */
    attacks: string[];
    /** Single attacks run for comparison, reported per attack but not part of the worst case. */
    baselines?: string[];
    norm: 'linf' | 'l2';
    eps: number[];
    epsUnit: '1/255' | 'abs';
    iters: number;
    batch: number;
    seed: number;
    earlyStop: boolean;
    miouSearch: 'search' | 'greedy';
    classWeights?: number[];
  };
}

export interface Results {
  schema: typeof RESULTS_SCHEMA;
  version: typeof RESULTS_VERSION;
  createdAt: string;
  robustscopeVersion: string;
  config: RunConfig;
  classes: { names: string[]; palette?: [number, number, number][] };
  images: number;
  clean: Metrics;
  byEps: EpsResult[];
  gallery: GalleryItem[];
  /** Total wall-clock seconds of attacking (all runs of a resumed evaluation). */
  seconds: number;
}
