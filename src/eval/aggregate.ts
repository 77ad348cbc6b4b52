// From per-image records to results.json: dataset metrics per (eps, attack), and the per-image
// worst case over the ensemble (accuracy: min per image; mIoU: sea.md's search, greedy, or v1).
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { datasetMetrics, worstCaseAccuracy, worstCaseMIoU } from '../metrics/confusion.js';
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

/** Dataset metrics from per-image records. */
export function metricsOf(records: ImageRecord[], K: number): Metrics {
  return datasetMetrics(records, K);
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
      const worstAcc = worstCaseAccuracy(t);
      const accMetrics = metricsOf(
        worstAcc.choice.map((a, i) => t[a][i]),
        K,
      );
      const method: WorstCase['mIoUMethod'] = config.attack.ensemble === 'v1' ? 'v1' : config.attack.miouSearch;
      let miouChoice: { choice: number[]; mIoU: number } = worstCaseMIoU(t, K, { method, seed: config.attack.seed });
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
        acc: worstAcc.acc,
        mIoU: miouChoice.mIoU,
        perClassIoU: miouMetrics.perClassIoU,
        mIoUMethod: method,
        winnersAcc: count(worstAcc.choice),
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
