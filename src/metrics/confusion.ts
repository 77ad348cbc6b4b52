// Segmentation metrics (sea.md "Metrics") and the per-image worst case over an attack ensemble
// (sea.md "Worst case over the ensemble").
//
// Per image we keep correct/labelled pixels and, per class c, the intersection I[c] (pixels with
// label c predicted c), the predicted count pred[c] and the label count gt[c], all over labelled
// pixels only (ignore pixels enter nothing). The union is U[c] = gt[c] + pred[c] - I[c]. Keeping
// pred and gt rather than U alone also gives per-class accuracy (mAcc = mean I[c] / gt[c]).
import { Rng } from '../util/random.js';

export class MetricsError extends Error {}

/** Per-image counts; field names match eval/records.ts ImageRecord, so records can be passed directly. */
export interface ImageStats {
  correct: number;
  labelled: number;
  inter: ArrayLike<number>;
  pred: ArrayLike<number>;
  gt: ArrayLike<number>;
}

/** Dataset-level metrics (fractions in [0,1]); same shape as eval/schema.ts Metrics. */
export interface SegMetrics {
  /** Images with at least one labelled pixel. */
  images: number;
  /** Pooled pixel accuracy. */
  aAcc: number;
  /** Mean over classes present in the labels of per-class accuracy. */
  mAcc: number;
  /** Mean over classes with union > 0 of I / U. */
  mIoU: number;
  /** Mean over images (with labelled pixels) of per-image pixel accuracy. */
  meanImageAcc: number;
  /** Per class IoU, null when the union is empty. */
  perClassIoU: (number | null)[];
  /** Per class accuracy, null when the class is absent from the labels. */
  perClassAcc: (number | null)[];
}

/**
 * Counts for one image. `pred` and `label` are row-major class ids of the same length (pred may be
 * int64 as onnxruntime returns it). Labels equal to `ignore` are skipped entirely.
 */
export function imageStats(pred: ArrayLike<number> | ArrayLike<bigint>, label: ArrayLike<number>, K: number, ignore: number, id = 'image'): ImageStats {
  if (pred.length !== label.length) throw new MetricsError(`${id}: prediction has ${pred.length} pixels but the label has ${label.length}`);
  const inter = new Array<number>(K).fill(0);
  const predC = new Array<number>(K).fill(0);
  const gt = new Array<number>(K).fill(0);
  let correct = 0;
  let labelled = 0;
  for (let p = 0; p < label.length; p++) {
    const y = label[p];
    if (y === ignore) continue;
    if (!(y >= 0 && y < K && Number.isInteger(y)))
      throw new MetricsError(`${id}: label ${y} at pixel ${p} is neither a class id 0..${K - 1} nor the ignore index ${ignore}`);
    const q = Number(pred[p]);
    if (!(q >= 0 && q < K && Number.isInteger(q))) throw new MetricsError(`${id}: prediction ${q} at pixel ${p} is not a class id 0..${K - 1}`);
    labelled++;
    gt[y]++;
    predC[q]++;
    if (q === y) {
      correct++;
      inter[y]++;
    }
  }
  return { correct, labelled, inter, pred: predC, gt };
}

/** Union of class c in one image's counts. */
export function unionOf(s: ImageStats, c: number): number {
  return (s.gt[c] ?? 0) + (s.pred[c] ?? 0) - (s.inter[c] ?? 0);
}

/** Pixel accuracy of one image; undefined when it has no labelled pixel. */
export function pixelAccuracy(s: ImageStats): number | undefined {
  return s.labelled > 0 ? s.correct / s.labelled : undefined;
}

/** Running sums over a dataset. */
export class ConfusionAccumulator {
  readonly inter: Float64Array;
  readonly pred: Float64Array;
  readonly gt: Float64Array;
  correct = 0;
  labelled = 0;
  images = 0;
  private accSum = 0;

  constructor(readonly K: number) {
    this.inter = new Float64Array(K);
    this.pred = new Float64Array(K);
    this.gt = new Float64Array(K);
  }

  add(s: ImageStats): this {
    for (let c = 0; c < this.K; c++) {
      this.inter[c] += s.inter[c] ?? 0;
      this.pred[c] += s.pred[c] ?? 0;
      this.gt[c] += s.gt[c] ?? 0;
    }
    this.correct += s.correct;
    this.labelled += s.labelled;
    const a = pixelAccuracy(s);
    if (a !== undefined) {
      this.accSum += a;
      this.images++;
    }
    return this;
  }

  metrics(): SegMetrics {
    const perClassIoU: (number | null)[] = [];
    const perClassAcc: (number | null)[] = [];
    for (let c = 0; c < this.K; c++) {
      const u = this.gt[c] + this.pred[c] - this.inter[c];
      perClassIoU.push(u > 0 ? this.inter[c] / u : null);
      perClassAcc.push(this.gt[c] > 0 ? this.inter[c] / this.gt[c] : null);
    }
    return {
      images: this.images,
      aAcc: this.labelled > 0 ? this.correct / this.labelled : 0,
      mAcc: meanDefined(perClassAcc),
      mIoU: meanDefined(perClassIoU),
      meanImageAcc: this.images > 0 ? this.accSum / this.images : 0,
      perClassIoU,
      perClassAcc,
    };
  }
}

function meanDefined(v: (number | null)[]): number {
  let s = 0;
  let n = 0;
  for (const x of v)
    if (x !== null) {
      s += x;
      n++;
    }
  return n > 0 ? s / n : 0;
}

/** Metrics of a set of images. */
export function datasetMetrics(stats: Iterable<ImageStats>, K: number): SegMetrics {
  const acc = new ConfusionAccumulator(K);
  for (const s of stats) acc.add(s);
  return acc.metrics();
}

// ---- Worst case over an ensemble: table[a][i] = image i under attack a ----

function checkTable(table: ImageStats[][]): { A: number; n: number } {
  const A = table.length;
  if (A === 0) throw new MetricsError('worst case over no attacks');
  const n = table[0].length;
  table.forEach((row, a) => {
    if (row.length !== n) throw new MetricsError(`attack ${a} has results for ${row.length} images, attack 0 for ${n}`);
  });
  return { A, n };
}

/** Per image, the attack with the lowest pixel accuracy (ties: the earlier attack; no labelled pixel: attack 0). */
export function lowestAccuracyChoice(table: ImageStats[][]): number[] {
  const { A, n } = checkTable(table);
  const choice = new Array<number>(n).fill(0);
  for (let i = 0; i < n; i++) {
    let best = pixelAccuracy(table[0][i]);
    if (best === undefined) continue;
    for (let a = 1; a < A; a++) {
      const acc = pixelAccuracy(table[a][i]) as number;
      if (acc < best) {
        best = acc;
        choice[i] = a;
      }
    }
  }
  return choice;
}

export interface WorstAccuracy {
  /** mean_i min_a acc[a,i] over images with labelled pixels (SEA's robust accuracy). */
  acc: number;
  /** The minimising attack per image. */
  choice: number[];
  /** Images that enter the mean. */
  images: number;
}

export function worstCaseAccuracy(table: ImageStats[][]): WorstAccuracy {
  const choice = lowestAccuracyChoice(table);
  let s = 0;
  let images = 0;
  choice.forEach((a, i) => {
    const acc = pixelAccuracy(table[a][i]);
    if (acc !== undefined) {
      s += acc;
      images++;
    }
  });
  return { acc: images > 0 ? s / images : 0, choice, images };
}

export type WorstMIoUMethod = 'search' | 'greedy' | 'v1';

export interface WorstMIoUOptions {
  /** 'search': sea.md's ECCV search; 'greedy': its running-best variant; 'v1': lowest accuracy per image. */
  method: WorstMIoUMethod;
  /** Seed of the image order of each round. */
  seed: number;
  maxRounds?: number;
  /** Stop when a round lowers the mIoU by at most this much. */
  tol?: number;
}

export interface WorstMIoU {
  method: WorstMIoUMethod;
  mIoU: number;
  /** The attack assigned to each image. */
  choice: number[];
  /** Rounds run (0 for v1 or a single attack). */
  rounds: number;
  perClassIoU: (number | null)[];
}

/** mean over classes with RU > 0 of RI / RU. */
function miou(RI: Float64Array, RU: Float64Array): number {
  let s = 0;
  let n = 0;
  for (let c = 0; c < RI.length; c++)
    if (RU[c] > 0) {
      s += RI[c] / RU[c];
      n++;
    }
  return n > 0 ? s / n : 0;
}

/**
 * Worst-case mIoU over the attacks, per image (never per pixel).
 *
 * 'search' follows sea.md literally: every image starts at attack 0, RI/RU are the sums,
 * best = mIoU(RI, RU). Each round visits the images in a seeded random order; for an image, every
 * other attack's swap is evaluated (its mIoU does not depend on which attack the image currently
 * holds) and accepted when below `best`, where `best` is refreshed only after all attacks of that
 * image were tried, so the image ends at the LAST attack in ensemble order that beat `best`, not
 * necessarily the lowest. 'greedy' compares with the running value instead (so the lowest wins,
 * ties to the earlier attack). Up to maxRounds rounds; stop when a round improves by <= tol.
 * The result is a local optimum w.r.t. single-image swaps; it is never above attack 0 alone but may
 * be above another single attack (mIoU is a mean of ratios of sums).
 */
export function worstCaseMIoU(table: ImageStats[][], K: number, opts: WorstMIoUOptions): WorstMIoU {
  const { A, n } = checkTable(table);
  const I = (a: number, i: number) => table[a][i].inter;
  const U = (a: number, i: number, c: number) => unionOf(table[a][i], c);
  const RI = new Float64Array(K);
  const RU = new Float64Array(K);
  const fill = (choice: number[]) => {
    RI.fill(0);
    RU.fill(0);
    choice.forEach((a, i) => {
      const t = I(a, i);
      for (let c = 0; c < K; c++) {
        RI[c] += t[c] ?? 0;
        RU[c] += U(a, i, c);
      }
    });
  };
  const result = (choice: number[], rounds: number): WorstMIoU => {
    fill(choice);
    const perClassIoU = Array.from(RU, (u, c) => (u > 0 ? RI[c] / u : null));
    return { method: opts.method, mIoU: miou(RI, RU), choice, rounds, perClassIoU };
  };
  if (opts.method === 'v1') return result(lowestAccuracyChoice(table), 0);
  if (opts.method !== 'search' && opts.method !== 'greedy') throw new MetricsError(`unknown worst-case mIoU method '${String(opts.method)}'`);
  const maxRounds = opts.maxRounds ?? 1000;
  const tol = opts.tol ?? 1e-6;
  const choice = new Array<number>(n).fill(0);
  fill(choice);
  let best = miou(RI, RU);
  const rng = new Rng(opts.seed);
  const order = Array.from({ length: n }, (_, i) => i);
  const tI = new Float64Array(K);
  const tU = new Float64Array(K);
  let rounds = 0;
  while (A > 1 && n > 0 && rounds < maxRounds) {
    const start = best;
    rng.shuffle(order);
    for (const i of order) {
      for (let a = 0; a < A; a++) {
        const cur = choice[i];
        if (a === cur) continue;
        const Ic = I(cur, i);
        const Ia = I(a, i);
        for (let c = 0; c < K; c++) {
          tI[c] = RI[c] - (Ic[c] ?? 0) + (Ia[c] ?? 0);
          tU[c] = RU[c] - U(cur, i, c) + U(a, i, c);
        }
        const m = miou(tI, tU);
        if (m < best) {
          RI.set(tI);
          RU.set(tU);
          choice[i] = a;
          if (opts.method === 'greedy') best = m;
        }
      }
      best = miou(RI, RU);
    }
    rounds++;
    if (start - best <= tol) break;
  }
  return result(choice, rounds);
}
