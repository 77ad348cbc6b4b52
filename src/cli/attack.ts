// `robustscope attack`: SEA (or a single attack) over a dataset at several radii, resumable,
// with progress, per-image records, results.json and the HTML report.
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { type AttackSpec, BASELINES, type Ensemble, seaAttacks } from '../attacks/sea.js';
import { type EvalProgress, fileSha256, runEvaluation } from '../eval/run.js';
import type { Results, RunConfig } from '../eval/schema.js';
import { lossNames } from '../losses/index.js';
import { writeReport } from '../report/html.js';
import { loadModel } from '../runtime/model.js';
import { CliError, type Command, flag, type Io, int, parse, parseNormalize, required, str, UsageError } from './common.js';
import { openEvalData } from './data-source.js';
import { Progress, type ProgressMode } from './progress.js';

const HELP = `usage: robustscope attack --model M.onnx --data DIR --eps 0.25,0.5,1,2,4,8 --out DIR [options]

Evaluates a segmentation model under attack: per radius, per attack and in the worst case over
an ensemble (SEA). Writes DIR/records.jsonl (per image, as produced), DIR/results.json and
DIR/report.html. Re-running the same command resumes where a killed run stopped.

  --model M.onnx          the model: one image input [N,3,H,W] in [0,1], logits [N,K,H,W]
  --data DIR              the dataset root
  --format F              folder (default) | voc | ade20k
  --size S                evaluation crop: short side resized to S, centre crop SxS; 'native' = as is
                          (default: 473 for voc, 512 for ade20k, native for folder)
  --attack A              sea (default) | apgd | pgd | segpgd | cospgd
  --ensemble E            eccv (default: mask-ce-bal, mask-ce-avg, js-avg) | v1
  --loss L                the loss for --attack apgd (${lossNames().join(', ')})
  --eps LIST              radii; in /255 units for linf (--eps 4 = 4/255), raw for l2
  --eps-abs               take --eps as raw values also for linf
  --norm N                linf (default) | l2
  --iters N               iterations per attack (default 300; SEA splits them 90/90/120 over radii 2, 1.5, 1 eps)
  --batch N               images per batch (default 8)
  --seed N                random seed (default 0)
  --limit N               only the first N images
  --baselines LIST        also run these single attacks for comparison (pgd,segpgd,cospgd); they are
                          reported per attack but not part of the worst case
  --class-weights FILE    JSON array of per-class weights for mask-ce-bal (see 'robustscope class-weights')
  --miou-search S         search (default, sea.md) | greedy
  --no-early-stop         run every iteration even when a whole batch is already at 0 accuracy
  --save-adv K            write PNGs of the first K images (clean, adversarial, perturbation, predictions)
  --normalize M:S         prepend (x - mean) / std to the model
  --ignore-index K        label to ignore (default 255)
  --threads N             onnxruntime threads (default: all cores)
  --quiet | --json        no progress | progress and the summary as JSON lines
  --out DIR               results directory
  -h, --help              this help`;

export const attackCommand: Command = {
  name: 'attack',
  summary: 'adversarial evaluation (SEA, APGD, PGD, SegPGD, CosPGD) of a segmentation model over a dataset',
  help: HELP,
  async run(argv: string[], io: Io): Promise<number> {
    const p = parse(argv, {
      model: { type: 'string' },
      data: { type: 'string' },
      format: { type: 'string' },
      size: { type: 'string' },
      attack: { type: 'string' },
      ensemble: { type: 'string' },
      loss: { type: 'string' },
      eps: { type: 'string' },
      'eps-abs': { type: 'boolean' },
      norm: { type: 'string' },
      iters: { type: 'string' },
      batch: { type: 'string' },
      seed: { type: 'string' },
      limit: { type: 'string' },
      'class-weights': { type: 'string' },
      baselines: { type: 'string' },
      'miou-search': { type: 'string' },
      'no-early-stop': { type: 'boolean' },
      'save-adv': { type: 'string' },
      normalize: { type: 'string' },
      'ignore-index': { type: 'string' },
      threads: { type: 'string' },
      quiet: { type: 'boolean' },
      json: { type: 'boolean' },
      out: { type: 'string' },
    });
    if (flag(p, 'help')) {
      io.stdout.write(`${HELP}\n`);
      return 0;
    }
    const modelPath = required(p, 'model');
    const dataRoot = required(p, 'data');
    const out = required(p, 'out');
    const format = oneOf(str(p, 'format') ?? 'folder', ['folder', 'voc', 'ade20k'] as const, 'format');
    const kind = oneOf(str(p, 'attack') ?? 'sea', ['sea', 'apgd', 'pgd', 'segpgd', 'cospgd'] as const, 'attack');
    const ensemble = oneOf(str(p, 'ensemble') ?? 'eccv', ['eccv', 'v1'] as const, 'ensemble') as Ensemble;
    const norm = oneOf(str(p, 'norm') ?? 'linf', ['linf', 'l2'] as const, 'norm');
    const epsAbsFlag = flag(p, 'eps-abs') || norm === 'l2';
    const eps = parseEpsList(required(p, 'eps'));
    const ignoreIndex = int(p, 'ignore-index', 255);
    const sizeOpt = str(p, 'size');
    const size: number | 'native' =
      sizeOpt === undefined ? (format === 'voc' ? 473 : format === 'ade20k' ? 512 : 'native') : sizeOpt === 'native' ? 'native' : positiveInt(sizeOpt, 'size');
    let attacks: AttackSpec[];
    let loss: string | undefined;
    if (kind === 'sea') attacks = seaAttacks(ensemble);
    else if (kind === 'apgd') {
      loss = str(p, 'loss') ?? 'ce-avg';
      if (!lossNames().includes(loss)) throw new UsageError(`unknown loss '${loss}'; available: ${lossNames().join(', ')}`);
      attacks = [{ name: `apgd-prr:${loss}`, kind: 'apgd-prr', loss }];
    } else attacks = [BASELINES[kind]];
    const baselines = (str(p, 'baselines') ?? '')
      .split(',')
      .map((b) => b.trim())
      .filter(Boolean)
      .map((b) => {
        if (!(b in BASELINES)) throw new UsageError(`--baselines: unknown attack '${b}' (pgd, segpgd, cospgd)`);
        return BASELINES[b as keyof typeof BASELINES];
      })
      .filter((b) => !attacks.some((a) => a.name === b.name));
    const classWeights = readClassWeights(str(p, 'class-weights'));
    if (attacks.some((a) => a.loss === 'mask-ce-bal') && !classWeights)
      throw new UsageError(
        "the eccv ensemble's mask-ce-bal loss needs --class-weights FILE (make one with 'robustscope class-weights --data TRAIN_DIR'), or use --ensemble v1",
      );
    if (!existsSync(modelPath)) throw new CliError(`model '${modelPath}' not found`);
    const normalize = parseNormalize(str(p, 'normalize'));
    const config: RunConfig = {
      model: { path: resolve(modelPath), sha256: fileSha256(modelPath), normalize },
      data: { format, root: resolve(dataRoot), size, limit: int(p, 'limit', undefined, 1), ignoreIndex },
      attack: {
        kind,
        ensemble: kind === 'sea' ? ensemble : undefined,
        loss,
        attacks: attacks.map((a) => a.name),
        baselines: baselines.length ? baselines.map((b) => b.name) : undefined,
        norm,
        eps,
        epsUnit: epsAbsFlag ? 'abs' : '1/255',
        iters: int(p, 'iters', 300, 1),
        batch: int(p, 'batch', 8, 1),
        seed: int(p, 'seed', 0),
        earlyStop: !flag(p, 'no-early-stop'),
        miouSearch: oneOf(str(p, 'miou-search') ?? 'search', ['search', 'greedy'] as const, 'miou-search'),
        classWeights,
      },
    };
    const mode: ProgressMode = flag(p, 'quiet') ? 'quiet' : flag(p, 'json') ? 'json' : 'auto';
    const { results, seconds } = await executeAttackRun(
      { config, attacks, baselines, out, saveAdv: int(p, 'save-adv', 0, 0), threads: int(p, 'threads', undefined, 1) },
      io,
      mode,
    );
    if (mode === 'json')
      io.stdout.write(
        `${JSON.stringify({ event: 'done', out: resolve(out), seconds, clean: results.clean, byEps: results.byEps.map((e) => ({ eps: e.eps, worst: e.worst ?? Object.values(e.attacks)[0] })) })}\n`,
      );
    else if (mode !== 'quiet')
      io.stdout.write(`${summaryTable(results, attacks.length > 1)}\nwrote ${join(out, 'results.json')} and ${join(out, 'report.html')}\n`);
    return 0;
  },
};

export interface AttackRun {
  config: RunConfig;
  attacks: AttackSpec[];
  baselines: AttackSpec[];
  out: string;
  saveAdv: number;
  threads?: number;
  /** Shown before the progress phase (e.g. the model's name in the demo). */
  label?: string;
}

/** Loads the model and data of `run.config`, evaluates with progress, writes results.json and report.html. */
export async function executeAttackRun(run: AttackRun, io: Io, mode: ProgressMode): Promise<{ results: Results; seconds: number }> {
  const { config } = run;
  const progress = new Progress(io.stderr as Io['stderr'] & { isTTY?: boolean }, mode);
  const model = await loadModel(config.model.path, { normalize: config.model.normalize, threads: run.threads });
  const data = await openEvalData(config.data);
  const lastEps = config.attack.eps[config.attack.eps.length - 1];
  let last: EvalProgress = { phase: 'starting', imagesDone: 0 };
  const t0 = Date.now();
  const results = await runEvaluation({
    config,
    model,
    attacks: run.attacks,
    baselines: run.baselines,
    samples: data.samples,
    classes: data.classes,
    outDir: run.out,
    saveAdv: run.saveAdv,
    gallery: data.gallery,
    onProgress: (e) => {
      last = { ...last, ...e };
      const stats: Record<string, string> = {};
      if (last.cleanAcc !== undefined) stats['clean acc'] = pct(last.cleanAcc);
      if (last.robustAcc !== undefined) stats[`worst acc @${lastEps}`] = pct(last.robustAcc);
      progress.update({ phase: `${run.label ? `${run.label} ` : ''}${last.phase}`, done: last.imagesDone, total: data.count, stats });
    },
  });
  progress.finish();
  await writeReport([join(run.out, 'results.json')], join(run.out, 'report.html'));
  return { results, seconds: (Date.now() - t0) / 1000 };
}

function pct(x: number): string {
  return `${(100 * x).toFixed(1)}%`;
}

export function summaryTable(results: Results, worst: boolean): string {
  const rows = [['eps', 'attack', 'acc (mean/img)', 'aAcc', 'mIoU']];
  rows.push(['0', 'clean', pct(results.clean.meanImageAcc), pct(results.clean.aAcc), pct(results.clean.mIoU)]);
  for (const e of results.byEps) {
    for (const [name, m] of Object.entries(e.attacks)) rows.push([String(e.eps), name, pct(m.meanImageAcc), pct(m.aAcc), pct(m.mIoU)]);
    if (worst && e.worst) rows.push([String(e.eps), 'WORST CASE', pct(e.worst.acc), pct(e.worst.aAcc), pct(e.worst.mIoU)]);
  }
  const w = rows[0].map((_, c) => Math.max(...rows.map((r) => r[c].length)));
  return `${rows.map((r) => r.map((v, c) => v.padEnd(w[c])).join('  ')).join('\n')}\n`;
}

function oneOf<T extends string>(v: string, allowed: readonly T[], name: string): T {
  if (!(allowed as readonly string[]).includes(v)) throw new UsageError(`--${name} must be one of ${allowed.join(', ')}, got '${v}'`);
  return v as T;
}

function positiveInt(v: string, name: string): number {
  const n = Number(v);
  if (!Number.isSafeInteger(n) || n < 1) throw new UsageError(`--${name} must be a positive integer or 'native', got '${v}'`);
  return n;
}

export function parseEpsList(v: string): number[] {
  const eps = v.split(',').map((s) => Number(s.trim()));
  if (eps.length === 0 || eps.some((e) => !Number.isFinite(e) || e < 0))
    throw new UsageError(`--eps must be a comma-separated list of numbers >= 0, got '${v}'`);
  return eps;
}

function readClassWeights(path: string | undefined): number[] | undefined {
  if (path === undefined) return undefined;
  let w: unknown;
  try {
    w = JSON.parse(readFileSync(path, 'utf8'));
  } catch (e) {
    throw new CliError(`cannot read class weights '${path}': ${(e as Error).message}`);
  }
  const arr = Array.isArray(w) ? w : (w as { weights?: unknown })?.weights;
  if (!Array.isArray(arr) || arr.length === 0 || arr.some((x) => typeof x !== 'number' || !Number.isFinite(x) || x < 0))
    throw new CliError(`class weights '${path}' must be a JSON array of non-negative numbers (or {"weights": [...]})`);
  return arr as number[];
}
