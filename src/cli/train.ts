// `robustscope train`: clean, adversarial (AT) or PIR-AT training of a segmentation model or a
// classifier (pirat.md), resumable; writes OUT/model.onnx, OUT/train.json, OUT/report.html.
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { buildArch, getArch, listArchs } from '../arch/index.js';
import { openDataset } from '../data/datasets.js';
import { openImageFolder } from '../data/image-folder.js';
import type { Model } from '../onnx/ir.js';
import { readOnnxFile } from '../onnx/load.js';
import { renderTrainingReport } from '../report/training-html.js';
import { classificationData, segmentationData } from '../train/data.js';
import { type TrainConfig, type TrainData, train } from '../train/loop.js';
import { formatTransferReport, transferWeights } from '../train/transfer.js';
import { CliError, type Command, flag, type Io, int, parse, required, str, UsageError } from './common.js';
import { Progress, type ProgressMode } from './progress.js';

const HELP = `usage: robustscope train (--arch NAME | --model INIT.onnx) --data DIR --epochs E --out DIR [options]

Trains a segmentation model (folder layout: images/, labels/, classes.json) or a classifier
(--task classification, ImageFolder layout: DIR/<class>/*.png) with robustscope's own autodiff.
With --adv every batch is 100% adversarial (PGD-CE, zero init, model in eval mode while attacking);
with --init-encoder the encoder starts from a (robust) classifier: PIR-AT. A killed run resumes
from its last finished epoch when re-run with the same command, with identical results.

  --arch NAME             a built-in architecture (${listArchs()
    .map((a) => a.name)
    .join(', ')})
  --model INIT.onnx       or start from this ONNX model (its float initializers are trained)
  --task T                segmentation (default) | classification
  --data DIR              training split
  --val DIR               held-out split for the evaluation every --eval-every epochs (NOT the test split)
  --epochs E              epochs
  --adv SPEC              none (default) | pgd:eps=4,steps=2,step=0.01 (eps in /255, step in image units)
  --init-encoder CLS.onnx copy encoder weights from this classifier ...
  --map 'T*=S*'           ... by name: target prefix = source prefix (default 'enc.*=backbone.*')
  --optimizer O           adamw (default) | sgd (momentum 0.9)
  --lr X                  base learning rate (default 1e-3)
  --weight-decay X        default 1e-2 (adamw) / 0 (sgd); never on norms and biases
  --encoder-lr-ratio R    lr multiplier of the encoder (parameters named enc.*), e.g. 0.1 for 1:10
  --warmup N              linear warm-up iterations (default: 1 epoch's worth)
  --power P               poly decay power (default 1.0)
  --batch N               images per step (default 8)
  --crop S                training crop (default: the first image's short side)
  --aug-scale MIN,MAX     random scale range of the short side (default 0.5,2 as in pirat.md; 1,1 = off)
  --no-blur               no random Gaussian blur (default: p 0.5, radius U(0,1))
  --aux-weight W          weight of the 'aux_logits' head's CE when the model has one (default 0.4)
  --eval-every N          evaluate on --val every N epochs and after the last (default 1)
  --eval-eps E            PGD radius of the evaluation, /255 (default: the --adv eps, else 4)
  --eval-steps N          PGD steps of the evaluation (default 10)
  --eval-limit N          only the first N validation images
  --seed N                seed of init, order, augmentation, dropout (default 0)
  --threads N             onnxruntime threads (default: all cores)
  --quiet | --json        no progress | progress as JSON lines
  --out DIR               output directory (model.onnx, train.json, report.html, checkpoint/)
  -h, --help              this help`;

function num(p: ReturnType<typeof parse>, name: string, dflt: number, check: (v: number) => boolean = Number.isFinite): number {
  const v = str(p, name);
  if (v === undefined) return dflt;
  const x = Number(v);
  if (v.trim() === '' || !check(x)) throw new UsageError(`--${name}: invalid value '${v}'`);
  return x;
}

/** `pgd:eps=4,steps=2,step=0.01` or `none`. */
export function parseAdv(spec: string | undefined): TrainConfig['adv'] {
  if (spec === undefined || spec === 'none') return undefined;
  const m = /^pgd(?::(.*))?$/.exec(spec.trim());
  if (!m) throw new UsageError(`--adv must be 'none' or 'pgd:eps=4,steps=2,step=0.01', got '${spec}'`);
  const kv: Record<string, number> = { eps: 4, steps: 2, step: 0.01 };
  for (const part of (m[1] ?? '').split(',').filter(Boolean)) {
    const [k, v] = part.split('=');
    if (!(k in kv) || v === undefined || !Number.isFinite(Number(v)) || Number(v) < 0)
      throw new UsageError(`--adv: bad entry '${part}' (eps=<1/255 units>, steps=<int>, step=<image units>)`);
    kv[k] = Number(v);
  }
  if (!Number.isInteger(kv.steps)) throw new UsageError(`--adv: steps must be an integer, got ${kv.steps}`);
  return { eps: kv.eps / 255, steps: kv.steps, stepSize: kv.step };
}

function parseScale(v: string | undefined): [number, number] {
  if (v === undefined) return [0.5, 2];
  const parts = v.split(',').map(Number);
  if (parts.length !== 2 || !parts.every((x) => Number.isFinite(x) && x > 0) || parts[0] > parts[1])
    throw new UsageError(`--aug-scale must be MIN,MAX with 0 < MIN <= MAX, got '${v}'`);
  return [parts[0], parts[1]];
}

function sha256(path: string): string {
  return createHash('sha256').update(readFileSync(path)).digest('hex');
}

export const trainCommand: Command = {
  name: 'train',
  summary: 'train a segmentation model or classifier, clean, adversarially (AT) or from a robust encoder (PIR-AT)',
  help: HELP,
  async run(argv: string[], io: Io): Promise<number> {
    const p = parse(argv, {
      arch: { type: 'string' },
      model: { type: 'string' },
      task: { type: 'string' },
      data: { type: 'string' },
      val: { type: 'string' },
      epochs: { type: 'string' },
      adv: { type: 'string' },
      'init-encoder': { type: 'string' },
      map: { type: 'string' },
      optimizer: { type: 'string' },
      lr: { type: 'string' },
      'weight-decay': { type: 'string' },
      'encoder-lr-ratio': { type: 'string' },
      warmup: { type: 'string' },
      power: { type: 'string' },
      batch: { type: 'string' },
      crop: { type: 'string' },
      'aug-scale': { type: 'string' },
      'no-blur': { type: 'boolean' },
      'aux-weight': { type: 'string' },
      'eval-every': { type: 'string' },
      'eval-eps': { type: 'string' },
      'eval-steps': { type: 'string' },
      'eval-limit': { type: 'string' },
      seed: { type: 'string' },
      threads: { type: 'string' },
      quiet: { type: 'boolean' },
      json: { type: 'boolean' },
      out: { type: 'string' },
    });
    if (flag(p, 'help')) {
      io.stdout.write(`${HELP}\n`);
      return 0;
    }
    const task = str(p, 'task') ?? 'segmentation';
    if (task !== 'segmentation' && task !== 'classification') throw new UsageError(`--task must be segmentation or classification, got '${task}'`);
    const archName = str(p, 'arch');
    const modelPath = str(p, 'model');
    if ((archName === undefined) === (modelPath === undefined)) throw new UsageError('give exactly one of --arch NAME or --model INIT.onnx');
    if (archName !== undefined) {
      const a = getArch(archName);
      if (a.task !== task) throw new UsageError(`--arch ${archName} is a ${a.task} architecture but --task is ${task}`);
    }
    const epochs = int(p, 'epochs', undefined, 1);
    if (epochs === undefined) throw new UsageError('--epochs is required');
    const out = required(p, 'out');
    const dataDir = required(p, 'data');
    const open = (dir: string): TrainData =>
      task === 'segmentation' ? segmentationData(openDataset({ format: 'folder', root: dir, size: 'native' })) : classificationData(openImageFolder(dir));
    const data = open(dataDir);
    const valDir = str(p, 'val');
    const val = valDir ? open(valDir) : undefined;
    if (val && val.classes.length !== data.classes.length) throw new CliError(`--val has ${val.classes.length} classes, --data ${data.classes.length}`);
    if (data.classes.length < 2) throw new CliError(`'${dataDir}' declares ${data.classes.length} classes; add a classes.json with the class names`);
    const seed = int(p, 'seed', 0, 0);
    let model: Model = archName !== undefined ? buildArch(archName, { classes: data.classes.length, seed }) : readOnnxFile(modelPath as string);
    const progress = new Progress(io.stderr, flag(p, 'quiet') ? 'quiet' : flag(p, 'json') ? ('json' as ProgressMode) : 'auto');
    const identity: Record<string, unknown> = {
      init: archName !== undefined ? { arch: archName } : { model: resolve(modelPath as string), sha256: sha256(modelPath as string) },
      data: resolve(dataDir),
      val: valDir ? resolve(valDir) : null,
    };
    const encoderPath = str(p, 'init-encoder');
    if (encoderPath) {
      const map = str(p, 'map') ?? 'enc.*=backbone.*';
      const { model: m, report } = transferWeights(model, readOnnxFile(encoderPath), map);
      model = m;
      identity.initEncoder = { path: resolve(encoderPath), sha256: sha256(encoderPath), map };
      progress.log(formatTransferReport(report));
    } else if (str(p, 'map')) throw new UsageError('--map needs --init-encoder');
    const first = await data.get(0);
    const crop = int(p, 'crop', Math.min(first.width, first.height), 1);
    const batch = int(p, 'batch', 8, 1);
    const adv = parseAdv(str(p, 'adv'));
    const kind = str(p, 'optimizer') ?? 'adamw';
    if (kind !== 'adamw' && kind !== 'sgd') throw new UsageError(`--optimizer must be adamw or sgd, got '${kind}'`);
    const stepsPerEpoch = Math.floor(data.count / batch);
    const config: TrainConfig = {
      epochs,
      batch,
      crop,
      seed,
      optimizer: {
        kind,
        lr: num(p, 'lr', 1e-3, (v) => v > 0),
        weightDecay: num(p, 'weight-decay', kind === 'adamw' ? 1e-2 : 0, (v) => v >= 0),
        momentum: kind === 'sgd' ? 0.9 : undefined,
        encoderLrScale: num(p, 'encoder-lr-ratio', 1, (v) => v > 0),
        encoderPrefix: 'enc.',
      },
      schedule: { power: num(p, 'power', 1, (v) => v > 0), warmupIters: int(p, 'warmup', stepsPerEpoch, 0), warmupRatio: 1e-6, minLr: 0 },
      adv,
      auxWeight: num(p, 'aux-weight', 0.4, (v) => v >= 0),
      auxOutput: 'aux_logits',
      augment: { scaleRange: parseScale(str(p, 'aug-scale')), flipP: 0.5, blurP: flag(p, 'no-blur') ? 0 : 0.5 },
      eval: {
        every: val ? int(p, 'eval-every', 1, 0) : 0,
        eps: num(p, 'eval-eps', adv ? adv.eps * 255 : 4, (v) => v >= 0) / 255,
        steps: int(p, 'eval-steps', 10, 0),
        limit: int(p, 'eval-limit', undefined, 1),
      },
      threads: int(p, 'threads', undefined, 1),
    };
    const t0 = Date.now();
    const pct = (v: number | undefined) => (v === undefined ? '-' : `${(100 * v).toFixed(1)}%`);
    const r = await train({
      model,
      train: data,
      val,
      config,
      out,
      identity,
      events: {
        onResume: (s) => progress.log(`resuming '${out}' after epoch ${s.epoch}/${epochs}`),
        onStep: (s) =>
          progress.update({
            phase: `epoch ${s.epoch + 1}/${epochs}`,
            done: s.step + 1,
            total: s.stepsPerEpoch,
            stats: { loss: s.loss.toFixed(4), lr: s.lr.toExponential(2) },
          }),
        onEpoch: (e) => progress.log(`epoch ${e.epoch}/${epochs}: loss ${e.loss.toFixed(4)} · ${e.seconds.toFixed(1)} s`),
        onEval: (e) =>
          progress.log(
            `  held-out: clean ${task === 'segmentation' ? `mIoU ${pct(e.clean.mIoU)} acc` : 'acc'} ${pct(e.clean.acc)} · PGD-${e.steps} ${(e.eps * 255).toFixed(2)}/255 ${task === 'segmentation' ? `mIoU ${pct(e.adv.mIoU)} acc` : 'acc'} ${pct(e.adv.acc)}`,
          ),
      },
    });
    progress.finish();
    const log = JSON.parse(readFileSync(join(out, 'train.json'), 'utf8'));
    writeFileSync(join(out, 'report.html'), await renderTrainingReport(log));
    io.stdout.write(
      `trained ${r.state.epoch} epochs in ${((Date.now() - t0) / 1000).toFixed(1)} s (total ${r.state.seconds.toFixed(1)} s over all runs)\nwrote ${r.modelPath}, ${join(out, 'train.json')}, ${join(out, 'report.html')}\n`,
    );
    return 0;
  },
};
