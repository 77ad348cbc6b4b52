// From per-image records to results.json: dataset metrics per (eps, attack), and the per-image
// worst case over the ensemble (accuracy: min per image; mIoU: sea.md's search, greedy, or v1).
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { Rng } from '../util/random.js';
import type { ImageRecord } from './records.js';
import { type AttackMetrics, type GalleryItem, type Metrics, RESULTS_SCHEMA, RESULTS_VERSION, type Results, type RunConfig, type WorstCase } from './schema.js';

export interface AggregateInput {
  config: RunConfig;
  /** The ensemble (worst case over these) and single attacks reported alongside. */
  attacks: string[];
  baselines?: string[];
  records: ImageRecord[];
  timings: { eps: number; attack: string; seconds: number }[];
  classes: { names: string[]; palette?: [number, number, number][] };
  galleryDir?: string;
  saveAdv: number;
}

const acc = (r: ImageRecord): number => (r.labelled > 0 ? r.correct / r.labelled : 0);

/** Dataset metrics from per-image records (sums of per-class intersection / prediction / label counts). */
export function metricsOf(records: ImageRecord[], K: number): Metrics {
  const inter = new Float64Array(K);
  const pred = new Float64Array(K);
  const gt = new Float64Array(K);
  let correct = 0;
  let labelled = 0;
  let accSum = 0;
  let images = 0;
  for (const r of records) {
    for (let c = 0; c < K; c++) {
      inter[c] += r.inter[c] ?? 0;
      pred[c] += r.pred[c] ?? 0;
      gt[c] += r.gt[c] ?? 0;
    }
    correct += r.correct;
    labelled += r.labelled;
    if (r.labelled > 0) {
      accSum += acc(r);
      images++;
    }
  }
  return fromSums(inter, pred, gt, correct, labelled, images ? accSum / images : 0, images);
}

function fromSums(
  inter: ArrayLike<number>,
  pred: ArrayLike<number>,
  gt: ArrayLike<number>,
  correct: number,
  labelled: number,
  meanImageAcc: number,
  images: number,
): Metrics {
  const K = inter.length;
  const perClassIoU: (number | null)[] = [];
  const perClassAcc: (number | null)[] = [];
  for (let c = 0; c < K; c++) {
    const union = gt[c] + pred[c] - inter[c];
    perClassIoU.push(union > 0 ? inter[c] / union : null);
    perClassAcc.push(gt[c] > 0 ? inter[c] / gt[c] : null);
  }
  const mean = (v: (number | null)[]) => {
    const xs = v.filter((x): x is number => x !== null);
    return xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : 0;
  };
  return { images, aAcc: labelled ? correct / labelled : 0, mAcc: mean(perClassAcc), mIoU: mean(perClassIoU), meanImageAcc, perClassIoU, perClassAcc };
}

/** mIoU of a choice of attack per image: table[a][i] is image i's record under attack a. */
function miouOf(RI: Float64Array, RU: Float64Array): number {
  let s = 0;
  let n = 0;
  for (let c = 0; c < RI.length; c++)
    if (RU[c] > 0) {
      s += RI[c] / RU[c];
      n++;
    }
  return n ? s / n : 0;
}

/**
 * Worst-case mIoU over attacks (sea.md): start with every image at attack 0; per round visit the
 * images in a seeded random order; for each image try every other attack and accept the swap when
 * the mIoU it gives is below `best` (the spec refreshes `best` only after all attacks of an image
 * were tried; the greedy variant compares against the running value). Up to 1000 rounds, stop when a
 * round improves by <= 1e-6. Returns the chosen attack per image and the mIoU.
 */
export function worstCaseMIoU(
  table: ImageRecord[][],
  K: number,
  method: 'search' | 'greedy',
  seed: number,
  maxRounds = 1000,
): { choice: number[]; mIoU: number } {
  const A = table.length;
  const n = table[0]?.length ?? 0;
  const I = (a: number, i: number, c: number) => table[a][i].inter[c] ?? 0;
  const U = (a: number, i: number, c: number) => {
    const r = table[a][i];
    return (r.gt[c] ?? 0) + (r.pred[c] ?? 0) - (r.inter[c] ?? 0);
  };
  const choice = new Array<number>(n).fill(0);
  const RI = new Float64Array(K);
  const RU = new Float64Array(K);
  for (let i = 0; i < n; i++)
    for (let c = 0; c < K; c++) {
      RI[c] += I(0, i, c);
      RU[c] += U(0, i, c);
    }
  let best = miouOf(RI, RU);
  const rng = new Rng(seed);
  const order = Array.from({ length: n }, (_, i) => i);
  const tI = new Float64Array(K);
  const tU = new Float64Array(K);
  for (let round = 0; round < maxRounds && A > 1; round++) {
    const start = best;
    rng.shuffle(order);
    for (const i of order) {
      for (let a = 0; a < A; a++) {
        const cur = choice[i];
        if (a === cur) continue;
        for (let c = 0; c < K; c++) {
          tI[c] = RI[c] - I(cur, i, c) + I(a, i, c);
          tU[c] = RU[c] - U(cur, i, c) + U(a, i, c);
        }
        const m = miouOf(tI, tU);
        // The spec compares every candidate with `best` as it stood before this image (so a later
        // attack that is still below it replaces an earlier, lower one); greedy uses the running value.
        if (m < best) {
          RI.set(tI);
          RU.set(tU);
          choice[i] = a;
          if (method === 'greedy') best = m;
        }
      }
      best = miouOf(RI, RU);
    }
    if (start - best <= 1e-6) break;
  }
  return { choice, mIoU: best };
}

export function aggregateResults(input: AggregateInput): Results {
  const { config, attacks, records } = input;
  const K = input.classes.names.length || Math.max(0, ...records.map((r) => r.gt.length));
  const byKey = new Map<string, ImageRecord>();
  for (const r of records) byKey.set(`${r.index}|${r.eps}|${r.attack}`, r);
  const cleanRecs = records.filter((r) => r.attack === 'clean').sort((a, b) => a.index - b.index);
  const indices = cleanRecs.map((r) => r.index);
  const seconds = (eps: number, attack: string) => input.timings.filter((t) => t.eps === eps && t.attack === attack).reduce((s, t) => s + t.seconds, 0);
  const byEps = config.attack.eps.map((eps) => {
    const table = attacks.map((a) => indices.map((i) => byKey.get(`${i}|${eps}|${a}`)));
    const complete = table.every((row) => row.every(Boolean));
    const perAttack: Record<string, AttackMetrics> = {};
    for (const a of [...attacks, ...(input.baselines ?? [])]) {
      const rs = indices.map((i) => byKey.get(`${i}|${eps}|${a}`)).filter((r): r is ImageRecord => !!r);
      perAttack[a] = { ...metricsOf(rs, K), seconds: seconds(eps, a) };
    }
    let worst: WorstCase | undefined;
    if (attacks.length > 1 && complete && indices.length > 0) {
      const t = table as ImageRecord[][];
      // Accuracy: per image the attack with the lowest accuracy (ties: the earlier attack).
      const accChoice = indices.map((_, i) => {
        let best = 0;
        for (let a = 1; a < attacks.length; a++) if (acc(t[a][i]) < acc(t[best][i])) best = a;
        return best;
      });
      const accRecs = accChoice.map((a, i) => t[a][i]);
      const accMetrics = metricsOf(accRecs, K);
      const labelledImgs = accRecs.filter((r) => r.labelled > 0);
      const ensemble = config.attack.ensemble;
      const method: WorstCase['mIoUMethod'] = ensemble === 'v1' ? 'v1' : config.attack.miouSearch;
      let miouChoice = method === 'v1' ? { choice: accChoice, mIoU: accMetrics.mIoU } : worstCaseMIoU(t, K, method, config.attack.seed);
      // The search is local: should one attack alone end lower, that assignment is the worst case
      // (so the reported worst case is never above any single attack).
      attacks.forEach((a, k) => {
        if (perAttack[a].mIoU < miouChoice.mIoU) miouChoice = { choice: indices.map(() => k), mIoU: perAttack[a].mIoU };
      });
      const miouMetrics = metricsOf(
        miouChoice.choice.map((a, i) => t[a][i]),
        K,
      );
      const count = (choice: number[]) => Object.fromEntries(attacks.map((a, k) => [a, choice.filter((c) => c === k).length]));
      worst = {
        ...accMetrics,
        acc: labelledImgs.length ? labelledImgs.reduce((s, r) => s + acc(r), 0) / labelledImgs.length : 0,
        mIoU: miouChoice.mIoU,
        perClassIoU: miouMetrics.perClassIoU,
        mIoUMethod: method,
        winnersAcc: count(accChoice),
        winnersMIoU: count(miouChoice.choice),
      };
    }
    return { eps, epsAbs: config.attack.epsUnit === 'abs' ? eps : eps / 255, attacks: perAttack, worst };
  });
  return {
    schema: RESULTS_SCHEMA,
    version: RESULTS_VERSION,
    createdAt: new Date().toISOString(),
    robustscopeVersion: '0.1.0',
    config,
    classes: input.classes,
    images: indices.length,
    clean: metricsOf(cleanRecs, K),
    byEps,
    gallery: gallery(input, byKey, indices),
    seconds: input.timings.reduce((s, t) => s + t.seconds, 0),
  };
}

function gallery(input: AggregateInput, byKey: Map<string, ImageRecord>, indices: number[]): GalleryItem[] {
  const dir = input.galleryDir;
  if (!dir) return [];
  const items: GalleryItem[] = [];
  for (const index of indices.slice(0, input.saveAdv)) {
    const clean = byKey.get(`${index}|0|clean`);
    if (!clean) continue;
    for (const eps of input.config.attack.eps) {
      const recs = input.attacks.map((a) => byKey.get(`${index}|${eps}|${a}`)).filter((r): r is ImageRecord => !!r);
      if (!recs.length) continue;
      const worst = recs.reduce((w, r) => (acc(r) < acc(w) ? r : w));
      const stem = galleryStem(clean.id);
      const files = {
        image: `gallery/${stem}.image.png`,
        label: `gallery/${stem}.label.png`,
        cleanPred: `gallery/${stem}.pred.png`,
        adversarial: `gallery/${stem}.eps${eps}.adv.png`,
        perturbation: `gallery/${stem}.eps${eps}.pert.png`,
        advPred: `gallery/${stem}.eps${eps}.advpred.png`,
      };
      if (!existsSync(join(dir, '..', files.adversarial))) continue;
      items.push({ index, id: clean.id, eps, attack: worst.attack, cleanAcc: acc(clean), advAcc: acc(worst), files });
    }
  }
  return items;
}

/** File-name-safe stem for an image id. */
export function galleryStem(id: string): string {
  return id.replace(/[^A-Za-z0-9._-]/g, '_').slice(0, 80);
}
