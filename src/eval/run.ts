// `robustscope attack`, as a library function: streams the dataset in fixed batches, attacks each
// batch at every radius with every attack, appends per-image records as soon as a batch is done,
// and aggregates the records into results.json. A restarted run skips finished batches; batch
// composition is fixed by dataset order and every random start is drawn per image, so the final
// numbers are identical to an uninterrupted run.
import { createHash } from 'node:crypto';
import { appendFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type AttackSpec, runAttack } from '../attacks/sea.js';
import { batches } from '../data/datasets.js';
import { imageStats } from '../metrics/confusion.js';
import type { LabelBatch, RobustModel } from '../runtime/model.js';
import { aggregateResults } from './aggregate.js';
import { type ImageRecord, RecordLog } from './records.js';
import type { Results, RunConfig } from './schema.js';

export interface Sample {
  id: string;
  /** RGB, CHW, in [0,1]. */
  image: Float32Array;
  /** Class ids per pixel (ignore index allowed). */
  label: Uint8Array | Int32Array;
  height: number;
  width: number;
}

export interface GalleryWriter {
  /** Writes the PNGs of one gallery image (clean, label, clean prediction). Returns file names. */
  writeClean(dir: string, s: Sample, cleanPred: Uint8Array): Promise<{ image: string; label: string; cleanPred: string }>;
  /** Writes the adversarial image, the amplified perturbation and its prediction. */
  writeAdv(
    dir: string,
    s: Sample,
    tag: string,
    adv: Float32Array,
    epsAbs: number,
    advPred: Uint8Array,
  ): Promise<{ adversarial: string; perturbation: string; advPred: string }>;
}

export interface EvalProgress {
  phase: string;
  imagesDone: number;
  /** Running worst-case accuracy at the largest radius so far (mean per-image). */
  robustAcc?: number;
  cleanAcc?: number;
}

export interface EvaluationInput {
  config: RunConfig;
  model: RobustModel;
  /** The ensemble: the worst case is taken over these. */
  attacks: AttackSpec[];
  /** Single attacks run alongside for comparison (reported per attack, not in the worst case). */
  baselines?: AttackSpec[];
  /** The dataset, in a fixed order (a fresh iterator each call). */
  samples: () => AsyncIterable<Sample>;
  classes: { names: string[]; palette?: [number, number, number][] };
  outDir: string;
  /** Gallery: the first K images get PNGs (0 = none). */
  saveAdv?: number;
  gallery?: GalleryWriter;
  onProgress?: (p: EvalProgress) => void;
  onBatchDone?: (imagesDone: number) => void;
}

export class RunMismatchError extends Error {}

export function epsAbs(config: RunConfig, eps: number): number {
  return config.attack.epsUnit === 'abs' ? eps : eps / 255;
}

export function fileSha256(path: string): string {
  return createHash('sha256').update(readFileSync(path)).digest('hex');
}

interface TimingLine {
  eps: number;
  attack: string;
  seconds: number;
  images: number;
}

export async function runEvaluation(input: EvaluationInput): Promise<Results> {
  const { config, model, attacks, outDir } = input;
  const baselines = input.baselines ?? [];
  const ensemble = new Set(attacks.map((a) => a.name));
  const everyAttack = [...attacks, ...baselines];
  mkdirSync(outDir, { recursive: true });
  checkRunIdentity(outDir, config);
  const log = new RecordLog(join(outDir, 'records.jsonl'));
  const timingsPath = join(outDir, 'timings.jsonl');
  const galleryDir = join(outDir, 'gallery');
  const B = config.attack.batch;
  const ignore = config.data.ignoreIndex;
  const saveAdv = input.saveAdv ?? 0;

  let index = 0;
  let imagesDone = 0;
  const running = { worstSum: 0, cleanSum: 0, n: 0 };

  const processBatch = async (samples: Sample[], first: number): Promise<void> => {
    const indices = samples.map((_, k) => first + k);
    const needed = (eps: number, attack: string) => indices.some((i) => !log.has(i, eps, attack));
    const pending = needed(0, 'clean') || config.attack.eps.some((e) => everyAttack.some((a) => needed(e, a.name)));
    const wantGallery = saveAdv > 0 && first < saveAdv;
    if (!pending) {
      imagesDone += samples.length;
      return;
    }
    const { x, dims, labels } = assemble(samples);
    const ids = samples.map((s) => s.id);
    // Clean pass: predictions, and checks that fail with the image named.
    const clean = await model.evaluate({ data: x, dims }, labels, { pred: true, accuracy: true, logits: true, ignoreIndex: ignore });
    const K = (clean.logitsDims as number[])[1];
    checkFinite(clean.logits as Float32Array, samples, 'logits of the clean image');
    checkLabels(samples, K, ignore);
    const cleanPred = clean.pred as BigInt64Array;
    if (needed(0, 'clean')) log.append(records(samples, indices, 0, 'clean', cleanPred, K, ignore).filter((r) => !log.has(r.index, 0, 'clean')));
    if (wantGallery)
      for (let k = 0; k < samples.length && first + k < saveAdv; k++) await input.gallery?.writeClean(galleryDir, samples[k], predSlice(cleanPred, samples, k));
    const accOf = (r: ImageRecord) => (r.labelled > 0 ? r.correct / r.labelled : 0);
    for (const eps of config.attack.eps) {
      const worstAcc = samples.map(() => Number.POSITIVE_INFINITY);
      const worstAdv: (Float32Array | undefined)[] = samples.map(() => undefined);
      for (const attack of everyAttack) {
        if (!needed(eps, attack.name)) continue;
        input.onProgress?.({ phase: `eps ${eps}${config.attack.epsUnit === '1/255' ? '/255' : ''} ${attack.name}`, imagesDone });
        const t0 = performance.now();
        const { xAdv } = await runAttack(model, { x, dims, labels, ids }, attack, {
          norm: config.attack.norm,
          eps: epsAbs(config, eps),
          iters: config.attack.iters,
          seed: config.attack.seed,
          ignoreIndex: ignore,
          classWeights: config.attack.classWeights,
          earlyStop: config.attack.earlyStop,
        });
        const adv = await model.evaluate({ data: xAdv, dims }, labels, { pred: true, logits: true, ignoreIndex: ignore });
        checkFinite(adv.logits as Float32Array, samples, `logits under ${attack.name} at eps ${eps}`);
        const recs = records(samples, indices, eps, attack.name, adv.pred as BigInt64Array, K, ignore);
        log.append(recs.filter((r) => !log.has(r.index, eps, attack.name)));
        const seconds = (performance.now() - t0) / 1000;
        appendFileSync(timingsPath, `${JSON.stringify({ eps, attack: attack.name, seconds, images: samples.length } satisfies TimingLine)}\n`);
        const P = dims[1] * dims[2] * dims[3];
        recs.forEach((r, k) => {
          if (ensemble.has(attack.name) && accOf(r) < worstAcc[k]) {
            worstAcc[k] = accOf(r);
            if (wantGallery && first + k < saveAdv) worstAdv[k] = xAdv.slice(k * P, (k + 1) * P);
          }
        });
        if (wantGallery)
          for (let k = 0; k < samples.length && first + k < saveAdv; k++)
            if (worstAdv[k] && worstAcc[k] === accOf(recs[k]))
              await input.gallery?.writeAdv(
                galleryDir,
                samples[k],
                `eps${eps}`,
                worstAdv[k] as Float32Array,
                epsAbs(config, eps),
                predSlice(adv.pred as BigInt64Array, samples, k),
              );
      }
    }
    imagesDone += samples.length;
    // Running figures for the progress line.
    const lastEps = config.attack.eps[config.attack.eps.length - 1];
    for (const i of indices) {
      const accs = attacks.map((a) => log.get(i, lastEps, a.name)).filter((r): r is ImageRecord => !!r);
      const c = log.get(i, 0, 'clean');
      if (accs.length && c) {
        running.worstSum += Math.min(...accs.map(accOf));
        running.cleanSum += accOf(c);
        running.n++;
      }
    }
    input.onProgress?.({
      phase: 'batch done',
      imagesDone,
      robustAcc: running.n ? running.worstSum / running.n : undefined,
      cleanAcc: running.n ? running.cleanSum / running.n : undefined,
    });
    input.onBatchDone?.(imagesDone);
  };

  for await (const batch of batches(input.samples(), B)) {
    await processBatch(batch, index);
    index += batch.length;
  }

  const timings = existsSync(timingsPath)
    ? readFileSync(timingsPath, 'utf8')
        .split('\n')
        .filter((l) => l.trim())
        .map((l) => JSON.parse(l) as TimingLine)
    : [];
  const results = aggregateResults({
    config,
    attacks: attacks.map((a) => a.name),
    baselines: baselines.map((a) => a.name),
    records: log.records,
    timings,
    classes: input.classes,
    galleryDir: existsSync(galleryDir) ? galleryDir : undefined,
    saveAdv,
  });
  writeFileSync(join(outDir, 'results.json'), `${JSON.stringify(results, null, 1)}\n`);
  return results;
}

/** A results directory belongs to one run: refuse to mix records of different configurations. */
function checkRunIdentity(outDir: string, config: RunConfig): void {
  const path = join(outDir, 'run.json');
  const mine = JSON.stringify(config, null, 1);
  if (!existsSync(path)) {
    writeFileSync(path, `${mine}\n`);
    return;
  }
  let theirs: RunConfig;
  try {
    theirs = JSON.parse(readFileSync(path, 'utf8')) as RunConfig;
  } catch {
    throw new RunMismatchError(`${path} is not valid JSON; remove the directory or choose another --out`);
  }
  const diffs: string[] = [];
  for (const section of ['model', 'data', 'attack'] as const) {
    const a = theirs[section] as unknown as Record<string, unknown>;
    const b = config[section] as unknown as Record<string, unknown>;
    for (const k of new Set([...Object.keys(a ?? {}), ...Object.keys(b)])) if (JSON.stringify(a?.[k]) !== JSON.stringify(b[k])) diffs.push(`${section}.${k}`);
  }
  if (diffs.length)
    throw new RunMismatchError(
      `${outDir} holds a run with a different configuration (${diffs.join(', ')}); resume with the same options or choose another --out`,
    );
}

function assemble(samples: Sample[]): { x: Float32Array; dims: number[]; labels: LabelBatch } {
  // Equal sizes within a batch are guaranteed by batches().
  const { height: H, width: W } = samples[0];
  const P = 3 * H * W;
  const x = new Float32Array(samples.length * P);
  const lab = new BigInt64Array(samples.length * H * W);
  samples.forEach((s, k) => {
    x.set(s.image, k * P);
    for (let p = 0; p < H * W; p++) lab[k * H * W + p] = BigInt(s.label[p]);
  });
  return { x, dims: [samples.length, 3, H, W], labels: { data: lab, dims: [samples.length, H, W] } };
}

function checkFinite(v: Float32Array, samples: Sample[], what: string): void {
  const per = v.length / samples.length;
  for (let i = 0; i < v.length; i++)
    if (!Number.isFinite(v[i]))
      throw new Error(`the model produced a non-finite value (${v[i]}) in the ${what} for image '${samples[Math.floor(i / per)].id}'`);
}

function checkLabels(samples: Sample[], K: number, ignore: number): void {
  for (const s of samples)
    for (let p = 0; p < s.label.length; p++) {
      const y = s.label[p];
      if (y !== ignore && (y < 0 || y >= K))
        throw new Error(
          `label of image '${s.id}' has class id ${y} at pixel (${p % s.width}, ${Math.floor(p / s.width)}), but the model has ${K} classes (ignore index ${ignore})`,
        );
    }
}

function predSlice(pred: BigInt64Array, samples: Sample[], k: number): Uint8Array {
  const n = samples[k].height * samples[k].width;
  return Uint8Array.from(pred.subarray(k * n, (k + 1) * n), (v) => Number(v));
}

/** Per-image records from a batch prediction. */
function records(samples: Sample[], indices: number[], eps: number, attack: string, pred: BigInt64Array, K: number, ignore: number): ImageRecord[] {
  return samples.map((s, k) => {
    const n = s.height * s.width;
    const st = imageStats(pred.subarray(k * n, (k + 1) * n), s.label, K, ignore, s.id);
    return {
      index: indices[k],
      id: s.id,
      eps,
      attack,
      correct: st.correct,
      labelled: st.labelled,
      inter: Array.from(st.inter),
      pred: Array.from(st.pred),
      gt: Array.from(st.gt),
    };
  });
}
