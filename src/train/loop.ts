// The training loop (pirat.md): augmented batches, optionally 100% adversarial (PGD-CE with the model in
// eval mode), CE on the main head (+ weight * CE on an auxiliary head), AdamW/SGD with a poly schedule
// after a linear warm-up, evaluation on a HELD-OUT split every N epochs (clean and PGD), a checkpoint
// after every epoch (ONNX weights + optimizer state + loop state) and exact resume.
//
// Determinism: every random draw comes from the run seed and the global step (epoch permutation,
// augmentation, dropout), the weights and the optimizer state are saved bit-exactly, so a run killed and
// resumed ends with the same weights as an uninterrupted one.
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { argmaxClasses } from '../metrics/argmax.js';
import { decodeModel, encodeModel } from '../onnx/codec.js';
import type { Model as OnnxModel } from '../onnx/ir.js';
import { readOnnxFile } from '../onnx/load.js';
import type { ImageBatch, LabelBatch } from '../runtime/model.js';
import { Rng } from '../util/random.js';
import { adversarialBatch, type TrainAdversary } from './adversary.js';
import { augmentClassificationBatch, augmentSegmentationBatch } from './augment.js';
import { decodeOptimizerState, encodeOptimizerState } from './checkpoint-state.js';
import { polySchedule } from './lr-schedule.js';
import { AdamW, type Optimizer, type OptimizerKind, SGD } from './optim.js';
import { type AuxHead, TrainableModel } from './trainable.js';

export class TrainError extends Error {}

/** Random access to training/validation samples of either task. */
export interface TrainData {
  task: 'segmentation' | 'classification';
  classes: string[];
  count: number;
  ignoreIndex: number;
  /** Image CHW in [0,1]; label: HW class ids (segmentation) or the class id (classification). */
  get(index: number): Promise<{ id: string; image: Float32Array; width: number; height: number; label: Uint8Array | Int32Array | number }>;
}

export interface TrainConfig {
  epochs: number;
  batch: number;
  /** Training crop (square). */
  crop: number;
  seed: number;
  optimizer: {
    kind: OptimizerKind;
    lr: number;
    weightDecay?: number;
    momentum?: number;
    /** lr multiplier of parameters whose name starts with `encoderPrefix` (e.g. 0.1 for 1:10). */
    encoderLrScale?: number;
    encoderPrefix?: string;
  };
  schedule: { power: number; warmupIters: number; warmupRatio: number; minLr: number };
  /** Absent: clean training. */
  adv?: TrainAdversary;
  /** Weight of the auxiliary head's CE when the model has the output `auxOutput` (PIR-AT: 0.4). */
  auxWeight: number;
  auxOutput: string;
  augment: { scaleRange: [number, number]; flipP: number; blurP: number };
  /** Evaluate on the held-out split every `every` epochs (and after the last); 0 = never. */
  eval: { every: number; eps: number; steps: number; limit?: number };
  threads?: number;
}

export interface EvalPoint {
  epoch: number;
  /** Segmentation: mIoU and pixel accuracy; classification: accuracy (mIoU absent). */
  clean: { acc: number; mIoU?: number };
  adv: { acc: number; mIoU?: number };
  eps: number;
  steps: number;
  seconds: number;
}

export interface EpochLog {
  epoch: number;
  steps: number;
  /** Mean training objective over the epoch's steps. */
  loss: number;
  lr: number;
  seconds: number;
}

export interface TrainState {
  schema: 'robustscope/train-state';
  version: 1;
  configHash: string;
  /** Epochs finished. */
  epoch: number;
  step: number;
  epochs: EpochLog[];
  evals: EvalPoint[];
  seconds: number;
}

export interface TrainEvents {
  onStep?: (p: { epoch: number; step: number; stepsPerEpoch: number; loss: number; lr: number }) => void;
  onEpoch?: (log: EpochLog) => void;
  onEval?: (e: EvalPoint) => void;
  onResume?: (state: TrainState) => void;
}

export interface TrainInputs {
  /** The initial model (random init, or with a transferred encoder). */
  model: OnnxModel;
  train: TrainData;
  val?: TrainData;
  config: TrainConfig;
  out: string;
  /** Identity of the run for the resume check besides the config (e.g. data roots, init hash). */
  identity?: Record<string, unknown>;
  events?: TrainEvents;
}

export interface TrainResult {
  state: TrainState;
  modelPath: string;
}

const CKPT = 'checkpoint';

function hashOf(v: unknown): string {
  return createHash('sha256').update(JSON.stringify(v)).digest('hex').slice(0, 16);
}

function writeAtomic(path: string, data: Uint8Array | string): void {
  const tmp = `${path}.tmp`;
  writeFileSync(tmp, data);
  renameSync(tmp, path);
}

function makeOptimizer(model: TrainableModel, c: TrainConfig['optimizer']): Optimizer {
  const groups =
    c.encoderLrScale !== undefined && c.encoderLrScale !== 1 ? [{ name: 'encoder', prefix: c.encoderPrefix ?? 'enc.', lrScale: c.encoderLrScale }] : undefined;
  if (c.kind === 'adamw') return new AdamW(model, { lr: c.lr, weightDecay: c.weightDecay, groups });
  return new SGD(model, { lr: c.lr, weightDecay: c.weightDecay, momentum: c.momentum ?? 0.9, groups });
}

function checkConfig(c: TrainConfig, train: TrainData): void {
  const pos = (v: number, what: string) => {
    if (!(Number.isInteger(v) && v > 0)) throw new TrainError(`${what} must be a positive integer, got ${v}`);
  };
  pos(c.epochs, 'epochs');
  pos(c.batch, 'batch');
  pos(c.crop, 'crop');
  if (train.count < c.batch) throw new TrainError(`the training set has ${train.count} images, fewer than one batch (${c.batch})`);
  if (c.adv && !(c.adv.eps >= 0 && c.adv.steps >= 0 && c.adv.stepSize >= 0))
    throw new TrainError(`adversary needs eps, steps and step size >= 0, got ${JSON.stringify(c.adv)}`);
}

async function loadBatch(data: TrainData, idx: number[]): Promise<Awaited<ReturnType<TrainData['get']>>[]> {
  return Promise.all(idx.map((i) => data.get(i)));
}

/** Trains (or resumes) and writes OUT/model.onnx, OUT/train.json and OUT/checkpoint/. */
export async function train(inp: TrainInputs): Promise<TrainResult> {
  const { config: c, train: data, out } = inp;
  checkConfig(c, data);
  mkdirSync(join(out, CKPT), { recursive: true });
  const configHash = hashOf({ config: c, identity: inp.identity ?? {}, task: data.task, classes: data.classes, count: data.count });
  const statePath = join(out, CKPT, 'state.json');
  let state: TrainState = { schema: 'robustscope/train-state', version: 1, configHash, epoch: 0, step: 0, epochs: [], evals: [], seconds: 0 };
  // Start from exactly what a file holds (float attributes are float32 there), so a resumed run, which
  // reads its checkpoint from a file, computes bit-identically to an uninterrupted one.
  let source = decodeModel(encodeModel(inp.model));
  let optState: Uint8Array | undefined;
  if (existsSync(statePath)) {
    let prev: TrainState;
    try {
      prev = JSON.parse(readFileSync(statePath, 'utf8')) as TrainState;
    } catch (e) {
      throw new TrainError(`checkpoint '${statePath}' is not valid JSON (${(e as Error).message}); remove ${join(out, CKPT)} to start over`);
    }
    if (prev.schema !== 'robustscope/train-state' || prev.configHash !== configHash)
      throw new TrainError(
        `'${out}' holds a checkpoint of a different training run (other config, data or init); use another --out or remove ${join(out, CKPT)}`,
      );
    state = prev;
    source = readOnnxFile(join(out, CKPT, 'model.onnx'));
    optState = readFileSync(join(out, CKPT, 'optimizer.bin'));
    inp.events?.onResume?.(state);
  }
  const model = TrainableModel.fromOnnx(source, { threads: c.threads, seed: c.seed });
  const hasAux = source.graph.outputs.some((o) => o.name === c.auxOutput) && c.auxWeight > 0;
  const aux: AuxHead[] = hasAux ? [{ output: c.auxOutput, weight: c.auxWeight }] : [];
  const opt = makeOptimizer(model, c.optimizer);
  if (optState) opt.loadState(decodeOptimizerState(optState));
  const stepsPerEpoch = Math.floor(data.count / c.batch);
  const total = stepsPerEpoch * c.epochs;
  const schedule = polySchedule({
    baseLr: c.optimizer.lr,
    totalIters: total,
    power: c.schedule.power,
    minLr: c.schedule.minLr,
    warmupIters: Math.min(c.schedule.warmupIters, total),
    warmupRatio: c.schedule.warmupRatio,
  });
  const augment = { crop: c.crop, scaleRange: c.augment.scaleRange, flipP: c.augment.flipP, blurP: c.augment.blurP, ignoreIndex: data.ignoreIndex };
  const seg = data.task === 'segmentation';
  try {
    for (let epoch = state.epoch; epoch < c.epochs; epoch++) {
      const t0 = performance.now();
      let lossSum = 0;
      const order = Rng.derive(c.seed, 'epoch', epoch).shuffle(Array.from({ length: data.count }, (_, i) => i));
      for (let s = 0; s < stepsPerEpoch; s++) {
        const step = epoch * stepsPerEpoch + s;
        const samples = await loadBatch(data, order.slice(s * c.batch, (s + 1) * c.batch));
        const augSeed = Rng.derive(c.seed, 'augment', step).int(2 ** 32);
        let x: ImageBatch;
        let labels: LabelBatch;
        if (seg) {
          const b = augmentSegmentationBatch(
            samples.map((v) => ({ image: v.image, dims: [3, v.height, v.width], label: v.label as Uint8Array | Int32Array })),
            augment,
            augSeed,
          );
          x = b.images;
          labels = b.labels;
        } else {
          x = augmentClassificationBatch(
            samples.map((v) => ({ image: v.image, dims: [3, v.height, v.width] })),
            augment,
            augSeed,
          ).images;
          labels = { data: Int32Array.from(samples, (v) => v.label as number), dims: [samples.length] };
        }
        // The attack (pirat.md: PGD-CE in eval mode, zero init, last iterate) runs in the step's own
        // onnxruntime call (TrainableModel.step with an adversary; equal to adversarialBatch then step).
        const r = await model.step(x, labels, {
          reduction: 'mean',
          aux,
          ignoreIndex: data.ignoreIndex,
          dropoutSeed: Rng.derive(c.seed, 'dropout', step).int(2 ** 31),
          adversary: c.adv,
        });
        if (!Number.isFinite(r.loss)) throw new TrainError(`training diverged at epoch ${epoch + 1}, step ${s + 1}: loss ${r.loss} (lower the learning rate?)`);
        opt.lr = schedule.at(step);
        opt.step(r.grads);
        lossSum += r.loss;
        inp.events?.onStep?.({ epoch, step: s, stepsPerEpoch, loss: r.loss, lr: opt.lr });
      }
      const log: EpochLog = {
        epoch: epoch + 1,
        steps: stepsPerEpoch,
        loss: lossSum / stepsPerEpoch,
        lr: opt.lr,
        seconds: (performance.now() - t0) / 1000,
      };
      state.epochs.push(log);
      state.seconds += log.seconds;
      inp.events?.onEpoch?.(log);
      const last = epoch + 1 === c.epochs;
      if (inp.val && c.eval.every > 0 && ((epoch + 1) % c.eval.every === 0 || last)) {
        const e = await evaluateSplit(model, inp.val, c, epoch + 1);
        state.evals.push(e);
        inp.events?.onEval?.(e);
      }
      state.epoch = epoch + 1;
      state.step = (epoch + 1) * stepsPerEpoch;
      // Weights and optimizer state first, the state file (which makes them the resume point) last.
      writeAtomic(join(out, CKPT, 'model.onnx'), encodeModel(model.toOnnx()));
      writeAtomic(join(out, CKPT, 'optimizer.bin'), encodeOptimizerState(opt.state()));
      writeAtomic(statePath, JSON.stringify(state, null, 1));
    }
    const modelPath = join(out, 'model.onnx');
    writeAtomic(modelPath, encodeModel(model.toOnnx()));
    writeAtomic(
      join(out, 'train.json'),
      JSON.stringify(
        { ...state, schema: 'robustscope/train', version: 1, task: data.task, classes: data.classes, config: c, identity: inp.identity ?? {} },
        null,
        1,
      ),
    );
    return { state, modelPath };
  } finally {
    await model.release();
  }
}

/** Clean and PGD (zero init, fixed step 2.5 eps / steps, last iterate) metrics on a held-out split. */
export async function evaluateSplit(model: TrainableModel, val: TrainData, c: TrainConfig, epoch: number): Promise<EvalPoint> {
  const t0 = performance.now();
  const n = Math.min(val.count, c.eval.limit ?? val.count);
  const K = val.classes.length;
  const seg = val.task === 'segmentation';
  const acc = { clean: new Float64Array(2), adv: new Float64Array(2) }; // correct, labelled
  const inter = { clean: new Float64Array(K), adv: new Float64Array(K) };
  const union = { clean: new Float64Array(K), adv: new Float64Array(K) };
  const adv: TrainAdversary = { eps: c.eval.eps, steps: c.eval.steps, stepSize: c.eval.steps > 0 ? (2.5 * c.eval.eps) / c.eval.steps : 0 };
  for (let i = 0; i < n; i += c.batch) {
    const samples = await loadBatch(
      val,
      Array.from({ length: Math.min(c.batch, n - i) }, (_, k) => i + k),
    );
    const { width: w, height: h } = samples[0];
    for (const s of samples)
      if (s.width !== w || s.height !== h)
        throw new TrainError(`validation image '${s.id}' is ${s.width}x${s.height}, '${samples[0].id}' ${w}x${h}; validation images must share one size`);
    const x: ImageBatch = { data: new Float32Array(samples.length * 3 * h * w), dims: [samples.length, 3, h, w] };
    for (const [k, s] of samples.entries()) x.data.set(s.image, k * 3 * h * w);
    const labels: { data: Int32Array; dims: number[] } = seg
      ? { data: Int32Array.from(samples.flatMap((s) => Array.from(s.label as Uint8Array | Int32Array))), dims: [samples.length, h, w] }
      : { data: Int32Array.from(samples, (s) => s.label as number), dims: [samples.length] };
    const xAdv = await adversarialBatch(model, x, labels, adv, { ignoreIndex: val.ignoreIndex });
    for (const [kind, input] of [
      ['clean', x.data],
      ['adv', xAdv],
    ] as const) {
      const { logits, logitsDims } = await model.forward({ data: input, dims: x.dims });
      const pred = argmaxClasses(logits, logitsDims);
      for (let p = 0; p < labels.data.length; p++) {
        const y = labels.data[p];
        if (y === val.ignoreIndex) continue;
        const q = pred[p];
        acc[kind][1]++;
        if (q === y) {
          acc[kind][0]++;
          inter[kind][y]++;
          union[kind][y]++;
        } else {
          union[kind][y]++;
          union[kind][q]++;
        }
      }
    }
  }
  const metric = (kind: 'clean' | 'adv') => {
    const a = acc[kind][1] > 0 ? acc[kind][0] / acc[kind][1] : 0;
    if (!seg) return { acc: a };
    let sum = 0;
    let m = 0;
    for (let k = 0; k < K; k++)
      if (union[kind][k] > 0) {
        sum += inter[kind][k] / union[kind][k];
        m++;
      }
    return { acc: a, mIoU: m > 0 ? sum / m : 0 };
  };
  return { epoch, clean: metric('clean'), adv: metric('adv'), eps: c.eval.eps, steps: c.eval.steps, seconds: (performance.now() - t0) / 1000 };
}
