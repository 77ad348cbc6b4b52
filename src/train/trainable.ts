// TrainableModel: an ONNX model whose parameters (and BatchNormalization running statistics) are graph
// INPUTS of the compiled graphs, so the weights change between steps without recompiling. One
// session.run of a training step returns the loss, the gradient of every parameter (our autodiff,
// appended as ONNX ops) and the updated running statistics. Sessions are cached per (mode, shapes, loss).
//
// Modes: training (BatchNormalization on batch statistics with its full VJP, running statistics
// updated like PyTorch; Dropout drawing seeded masks) and eval (running statistics, Dropout = identity),
// the mode attacks use. toOnnx() writes a plain inference ONNX model with the current weights.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildGradients } from '../autodiff/gradient.js';
import { getLoss } from '../losses/index.js';
import type { GraphBuilder } from '../onnx/builder.js';
import { eliminateCommonSubexpressions } from '../onnx/cse.js';
import { type Graph, type Node, type Model as OnnxModel, type Tensor, tensorFromNumbers, type ValueInfo } from '../onnx/ir.js';
import { prepareGraph } from '../onnx/prepare.js';
import { serializeGraph } from '../onnx/serialize.js';
import { OpError } from '../ops/registry.js';
import type { EvalResult, EvalSpec, ImageBatch, LabelBatch } from '../runtime/model.js';
import { nchwcBlockSize, nchwcContext, useNchwcConvs } from '../runtime/nchwc.js';
import { type NamedTensor, Session } from '../runtime/session.js';
import { memoPromise } from '../util/memo.js';
import { Rng } from '../util/random.js';
import { attacks, type TrainAdversary } from './adversary.js';
import { type DropoutMask, dropoutMask, lowerTrainingBatchNorm, toTrainingBatchNorm, toTrainingDropout } from './graph.js';
import { findParameters, type ParameterInfo } from './params.js';
import { appendSignPgd, PGD_EPS, PGD_MAX_UNROLL, PGD_START, PGD_STEP } from './pgd-graph.js';

export type { ParameterInfo, ParamRole } from './params.js';

export interface TrainableOptions {
  /** onnxruntime intra-op threads (default: all cores). */
  threads?: number;
  /** The logits output (default: the model's first output). */
  output?: string;
  /** Freezes parameter candidates (default: every candidate is trained; see params.ts). */
  trainable?: (name: string, t: Tensor) => boolean;
  /** running_var update: 'unbiased' (PyTorch, default) or 'biased' (the ONNX spec). */
  runningVar?: 'unbiased' | 'biased';
  /** Base seed of the dropout masks when a step gives none (default 0). */
  seed?: number;
  /** Write onnxruntime's profile JSON of every compiled session with this prefix. */
  profilePrefix?: string;
}

/** A further model output trained with its own weight (e.g. an auxiliary head, weight 0.4). */
export interface AuxHead {
  output: string;
  weight: number;
}

export interface TrainLoss {
  /** A loss of src/losses (default 'ce-avg'). */
  loss?: string;
  /** Ignore label (default 255). */
  ignoreIndex?: number;
  classWeights?: number[];
  /** Values for the loss's extra runtime inputs. */
  extra?: Record<string, NamedTensor>;
  /**
   * The differentiated objective: 'sum' of the per-image losses (default, as the attacks use) or
   * their batch 'mean' (PIR-AT's batch-mean CE).
   */
  reduction?: 'sum' | 'mean';
  /** Auxiliary heads added to the main output's loss. */
  aux?: AuxHead[];
}

export interface StepOptions extends TrainLoss {
  /** Training mode (default true): batch statistics, running-stat update, active dropout. */
  training?: boolean;
  /** Update the BatchNormalization running statistics (training mode only; default true). */
  updateStats?: boolean;
  /** Seed of this step's dropout masks (default: derived from the model seed and a step counter). */
  dropoutSeed?: number;
  /** Also return the main output's logits. */
  logits?: boolean;
  /** Also return d(objective)/d(image). */
  inputGrad?: boolean;
  /**
   * Train on the adversarial batch: linf sign-gradient PGD from a zero start on the main head's ce-avg
   * (same ignore label), model in eval mode, last iterate (pirat.md's recipe, as adversarialBatch), run in
   * the same onnxruntime call as the training pass (the attack does not see the gradient of the step).
   */
  adversary?: TrainAdversary;
}

export interface StepResult {
  /** The differentiated objective (sum or batch mean of `losses`). */
  loss: number;
  /** Per-image loss [N] (main head plus weighted auxiliary heads). */
  losses: Float32Array;
  /** d(objective)/d(parameter) for every parameter. */
  grads: Map<string, Float32Array>;
  logits?: Float32Array;
  logitsDims?: number[];
  inputGrad?: Float32Array;
  /** The batch the step trained on, when it had an adversary. */
  adversarial?: Float32Array;
}

export interface InputGradResult {
  loss: number;
  losses: Float32Array;
  grad: Float32Array;
  logits: Float32Array;
  logitsDims: number[];
}

type OutKey = 'logits' | 'losses' | 'objective' | 'grad' | 'track' | 'correct' | 'labelled' | 'pred' | 'adv';

interface Compiled {
  session: Session;
  outputs: Partial<Record<OutKey, string>>;
  paramGrads: Map<string, string>;
  statUpdates: Map<string, string>;
  masks: DropoutMask[];
  extraInputs: string[];
}

interface CompileKey {
  training: boolean;
  dims: number[];
  labelDims?: number[];
  labelType?: 'int32' | 'int64';
  loss?: { loss: string; classWeights?: number[]; reduction: 'sum' | 'mean'; aux: AuxHead[] };
  weightGrads: boolean;
  inputGrad: boolean;
  updateStats: boolean;
  logits: boolean;
  track: boolean;
  accuracy: boolean;
  pred: boolean;
  ignoreIndex: number;
  /** Sign-gradient PGD unrolled over this many steps (pgd-graph.ts); the graph outputs the last iterate. */
  pgdSteps?: number;
}

const LABELS = 'robustscope/labels';

export class TrainableModel {
  readonly inputName: string;
  readonly outputName: string;
  private readonly params = new Map<string, Float32Array>();
  private readonly stats = new Map<string, Float32Array>();
  private readonly info: ParameterInfo[];
  private readonly dims = new Map<string, number[]>();
  /** The model with parameters and buffers moved from initializers to graph inputs. */
  private readonly template: OnnxModel;
  private readonly cache = new Map<string, Promise<Compiled>>();
  private dropoutSteps = 0;

  private constructor(
    private readonly source: OnnxModel,
    private readonly opts: TrainableOptions,
  ) {
    const g = source.graph;
    if (g.inputs.length !== 1)
      throw new OpError(`the model must have exactly one image input; it has ${g.inputs.length} (${g.inputs.map((i) => i.name).join(', ')})`);
    this.inputName = g.inputs[0].name;
    const out = opts.output ?? g.outputs[0]?.name;
    if (!out || !g.outputs.some((o) => o.name === out))
      throw new OpError(`the model has no output '${opts.output}'; outputs: ${g.outputs.map((o) => o.name).join(', ')}`);
    this.outputName = out;
    const state = findParameters(g, opts.trainable);
    this.info = state.params;
    const initializers = new Map(g.initializers);
    const inputs: ValueInfo[] = [...g.inputs];
    const take = (name: string, into: Map<string, Float32Array>): void => {
      const t = g.initializers.get(name) as Tensor;
      into.set(name, Float32Array.from(t.data as Float32Array));
      this.dims.set(name, [...t.dims]);
      initializers.delete(name);
      inputs.push({ name, dtype: 'float32', shape: [...t.dims] });
    };
    for (const p of state.params) take(p.name, this.params);
    for (const s of state.buffers) take(s, this.stats);
    this.template = { ...source, graph: { ...g, inputs, initializers } };
  }

  static fromOnnx(model: OnnxModel, opts: TrainableOptions = {}): TrainableModel {
    return new TrainableModel(inferenceForm(model), opts);
  }

  /** Parameter values by name, owned by the model: optimizers update them in place. */
  parameters(): Map<string, Float32Array> {
    return this.params;
  }

  /** Name, shape and role of every parameter, in graph order. */
  parameterInfo(): ParameterInfo[] {
    return this.info.map((p) => ({ ...p, dims: [...p.dims] }));
  }

  /** BatchNormalization running statistics by name (owned by the model, updated by training steps). */
  buffers(): Map<string, Float32Array> {
    return this.stats;
  }

  /** One training (or eval-mode) step: objective, per-image losses and every parameter's gradient. */
  async step(x: ImageBatch, labels: LabelBatch, opts: StepOptions = {}): Promise<StepResult> {
    const training = opts.training ?? true;
    const adv = opts.adversary;
    const attacked = attacks(adv);
    if (attacked && opts.inputGrad) throw new OpError('a step with an adversary does not return the input gradient');
    if (attacked && adv.steps > PGD_MAX_UNROLL) {
      // Too long to unroll next to the training pass: the attack in chunks, then a plain step on its result.
      const xa = await this.signPgd(x, labels, adv, { ignoreIndex: opts.ignoreIndex });
      return { ...(await this.step({ data: xa, dims: x.dims }, labels, { ...opts, adversary: undefined })), adversarial: xa };
    }
    const key = this.key(x, labels, opts, { training, weightGrads: true, inputGrad: opts.inputGrad === true, logits: opts.logits === true });
    if (attacked) key.pgdSteps = adv.steps;
    const extra = attacked ? { ...opts.extra, ...pgdScalars(adv) } : opts.extra;
    const r = await this.run(x, labels, key, { ...opts, extra });
    return {
      loss: (r.out.objective as Float32Array)[0],
      losses: r.out.losses as Float32Array,
      grads: r.grads,
      logits: r.out.logits as Float32Array | undefined,
      logitsDims: r.logitsDims,
      inputGrad: r.out.grad as Float32Array | undefined,
      adversarial: adv ? ((r.out.adv as Float32Array | undefined) ?? Float32Array.from(x.data)) : undefined,
    };
  }

  /** The objective's gradient w.r.t. the image with the current weights, in eval mode unless asked otherwise (attacks). */
  async inputGrad(x: ImageBatch, labels: LabelBatch, req: TrainLoss & { training?: boolean } = {}): Promise<InputGradResult> {
    const training = req.training ?? false;
    const k = this.key(x, labels, req, { training, weightGrads: false, inputGrad: true, logits: true, updateStats: false });
    const r = await this.run(x, labels, k, req);
    return {
      loss: (r.out.objective as Float32Array)[0],
      losses: r.out.losses as Float32Array,
      grad: r.out.grad as Float32Array,
      logits: r.out.logits as Float32Array,
      logitsDims: r.logitsDims as number[],
    };
  }

  /**
   * linf PGD with the sign step from a zero start, the model in eval mode, all steps in ONE onnxruntime
   * run (pgd-graph.ts): the training adversary. Returns the last iterate.
   */
  async signPgd(x: ImageBatch, labels: LabelBatch, adv: TrainAdversary, req: Omit<TrainLoss, 'aux' | 'reduction'> = {}): Promise<Float32Array> {
    if (!(adv.steps >= 1 && Number.isInteger(adv.steps))) throw new OpError(`PGD steps must be a positive integer, got ${adv.steps}`);
    // At most PGD_MAX_UNROLL steps per run; each chunk continues from the last iterate, same eps-ball.
    let cur = x.data;
    for (let done = 0; done < adv.steps; ) {
      const k = Math.min(PGD_MAX_UNROLL, adv.steps - done);
      const key: CompileKey = { ...this.key(x, labels, { ...req, reduction: 'sum' }, { training: false, updateStats: false }), pgdSteps: k };
      const start: NamedTensor = { data: cur, dims: x.dims, dtype: 'float32' };
      const r = await this.run(x, labels, key, { extra: { ...req.extra, ...pgdScalars(adv), [PGD_START]: start } });
      cur = r.out.adv as Float32Array;
      done += k;
    }
    return cur === x.data ? Float32Array.from(cur) : cur;
  }

  /** Logits; in training mode (batch statistics) the running statistics are updated unless told otherwise. */
  async forward(
    x: ImageBatch,
    opts: { training?: boolean; updateStats?: boolean; dropoutSeed?: number } = {},
  ): Promise<{ logits: Float32Array; logitsDims: number[] }> {
    const training = opts.training ?? false;
    const key = this.baseKey(x.dims, { training, updateStats: training && (opts.updateStats ?? true), logits: true });
    const r = await this.run(x, undefined, key, opts);
    return { logits: r.out.logits as Float32Array, logitsDims: r.logitsDims as number[] };
  }

  /** RobustModel.evaluate with the current weights, in eval mode: what the attacks call (one session.run). */
  async evaluate(x: ImageBatch, labels: LabelBatch | undefined, spec: EvalSpec): Promise<EvalResult> {
    const needsLabels = spec.loss !== undefined || spec.track === true || spec.accuracy === true;
    if (needsLabels && !labels) throw new OpError('labels are needed for losses and accuracy');
    const ignoreIndex = spec.ignoreIndex ?? spec.loss?.ignoreIndex ?? 255;
    const key: CompileKey = {
      ...this.baseKey(x.dims, { training: false, logits: spec.logits === true }),
      ...(needsLabels && labels ? labelKey(labels) : {}),
      loss: spec.loss ? { loss: spec.loss.loss, classWeights: spec.loss.classWeights, reduction: 'sum', aux: [] } : undefined,
      inputGrad: spec.loss !== undefined,
      track: spec.track === true,
      accuracy: spec.accuracy === true,
      pred: spec.pred === true,
      ignoreIndex,
    };
    const r = await this.run(x, needsLabels ? labels : undefined, key, { extra: spec.loss?.extra });
    const o = r.out;
    return {
      losses: o.losses as Float32Array | undefined,
      grad: o.grad as Float32Array | undefined,
      track: o.track as Float32Array | undefined,
      correct: o.correct as Float32Array | undefined,
      labelled: o.labelled as Float32Array | undefined,
      pred: o.pred as BigInt64Array | undefined,
      logits: o.logits as Float32Array | undefined,
      logitsDims: r.logitsDims,
    };
  }

  /** A plain inference ONNX model (the source graph) with the current weights and running statistics. */
  toOnnx(): OnnxModel {
    const g = this.source.graph;
    const initializers = new Map(g.initializers);
    for (const [name, v] of [...this.params, ...this.stats])
      initializers.set(name, { dtype: 'float32', dims: [...(this.dims.get(name) as number[])], data: Float32Array.from(v) });
    return {
      ...this.source,
      opsetImports: new Map(this.source.opsetImports),
      metadata: { ...this.source.metadata },
      graph: { ...g, nodes: g.nodes.map(copyNode), inputs: [...g.inputs], outputs: [...g.outputs], initializers, valueInfo: new Map(g.valueInfo) },
    };
  }

  /** Frees every compiled session. */
  async release(): Promise<void> {
    const all = [...this.cache.values()];
    this.cache.clear();
    for (const c of all) {
      const s = (await c).session;
      if (this.opts.profilePrefix) s.endProfiling();
      await s.release();
    }
  }

  // ---------- compilation ----------

  private baseKey(dims: number[], k: Partial<CompileKey>): CompileKey {
    return {
      training: false,
      dims,
      weightGrads: false,
      inputGrad: false,
      updateStats: false,
      logits: false,
      track: false,
      accuracy: false,
      pred: false,
      ignoreIndex: 255,
      ...k,
    };
  }

  private key(x: ImageBatch, labels: LabelBatch, req: TrainLoss & { updateStats?: boolean }, k: Partial<CompileKey> & { training: boolean }): CompileKey {
    return {
      ...this.baseKey(x.dims, k),
      ...labelKey(labels),
      loss: { loss: req.loss ?? 'ce-avg', classWeights: req.classWeights, reduction: req.reduction ?? 'sum', aux: req.aux ?? [] },
      updateStats: k.updateStats ?? (k.training && (req.updateStats ?? true)),
      ignoreIndex: req.ignoreIndex ?? 255,
    };
  }

  private async run(
    x: ImageBatch,
    labels: LabelBatch | undefined,
    key: CompileKey,
    opts: { extra?: Record<string, NamedTensor>; dropoutSeed?: number },
  ): Promise<{ out: Partial<Record<OutKey, NamedTensor['data']>>; grads: Map<string, Float32Array>; logitsDims?: number[] }> {
    const c = await this.compiled(key);
    const feeds: Record<string, NamedTensor> = { [this.inputName]: { data: x.data, dims: x.dims, dtype: 'float32' } };
    if (key.labelDims && labels) feeds[LABELS] = { data: labels.data, dims: labels.dims, dtype: labels.data instanceof Int32Array ? 'int32' : 'int64' };
    for (const [name, v] of [...this.params, ...this.stats]) feeds[name] = { data: v, dims: this.dims.get(name) as number[], dtype: 'float32' };
    for (const name of c.extraInputs) {
      const v = opts.extra?.[name];
      if (!v) throw new OpError(`loss '${key.loss?.loss}' needs the runtime input '${name}'`);
      feeds[name] = v;
    }
    if (c.masks.length) {
      const seed = opts.dropoutSeed ?? Rng.derive(this.opts.seed ?? 0, 'dropout-step', this.dropoutSteps++).int(2 ** 32);
      for (const m of c.masks) feeds[m.input] = { data: dropoutMask(m, seed), dims: m.dims, dtype: 'float32' };
    }
    const names = new Set<string>([...(Object.values(c.outputs) as string[]), ...c.paramGrads.values(), ...c.statUpdates.values()]);
    const res = await c.session.run(feeds, [...names]);
    const out: Partial<Record<OutKey, NamedTensor['data']>> = {};
    for (const [k, name] of Object.entries(c.outputs) as [OutKey, string][]) out[k] = res[name].data;
    const grads = new Map<string, Float32Array>();
    const seen = new Set<string>();
    for (const [p, name] of c.paramGrads) {
      const d = res[name].data as Float32Array;
      // Two parameters never share an output array: the caller may modify them.
      grads.set(p, seen.has(name) ? Float32Array.from(d) : d);
      seen.add(name);
    }
    for (const [s, name] of c.statUpdates) (this.stats.get(s) as Float32Array).set(res[name].data as Float32Array);
    return { out, grads, logitsDims: c.outputs.logits ? res[c.outputs.logits].dims : undefined };
  }

  private compiled(key: CompileKey): Promise<Compiled> {
    return memoPromise(this.cache, JSON.stringify(key), () => this.compile(key));
  }

  private async compile(key: CompileKey): Promise<Compiled> {
    if (key.pgdSteps && !key.weightGrads) return this.compilePgd(key, key.pgdSteps);
    const aux = key.loss?.aux ?? [];
    const heads = [this.outputName, ...aux.map((a) => a.output).filter((o) => o !== this.outputName)];
    const { builder: b, graph } = prepareGraph(this.template, { inputShapes: { [this.inputName]: key.dims }, outputs: heads });
    const logits = this.outputName;
    if (b.type(logits).dtype !== 'float32') throw new OpError(`output '${logits}' is ${b.type(logits).dtype}; robustscope needs float32 logits`);
    let masks: DropoutMask[] = [];
    let statUpdates = new Map<string, string>();
    // A step with an adversary: the attack runs on eval-mode copies of the forward taken now.
    const evalForward = key.pgdSteps ? graph.nodes.map(copyNode) : undefined;
    if (key.training) {
      masks = toTrainingDropout(b, graph);
      statUpdates = toTrainingBatchNorm(b, graph, {
        buffers: new Set(this.stats.keys()),
        runningVar: this.opts.runningVar ?? 'unbiased',
        updateStats: key.updateStats,
      });
    }
    const outputs: Partial<Record<OutKey, string>> = {};
    if (key.logits) outputs.logits = logits;
    if (key.labelDims && key.labelType) {
      graph.inputs.push({ name: LABELS, dtype: key.labelType, shape: key.labelDims });
      b.types.set(LABELS, { dtype: key.labelType, shape: key.labelDims });
    }
    const ignoreIndex = key.ignoreIndex;
    const extraInputs: string[] = [];
    if (evalForward && key.pgdSteps) {
      // Attack first (eval mode, main head, ce-avg), then the training pass on its detached output.
      const pass = graph.nodes;
      graph.nodes = [];
      const pgd = appendSignPgd(b, graph, {
        image: this.inputName,
        logits,
        labels: LABELS,
        steps: key.pgdSteps,
        loss: getLoss('ce-avg'),
        ignoreIndex,
        template: evalForward,
      });
      const xAdv = b.detach(pgd.output);
      for (const n of pass) n.inputs = n.inputs.map((i) => (i === this.inputName ? xAdv : i));
      graph.nodes.push(...pass);
      outputs.adv = pgd.output;
      extraInputs.push(PGD_EPS, PGD_STEP, ...pgd.lossInputs.map((i) => i.name));
    }
    if (key.track) outputs.track = getLoss('ce-avg').build(b, logits, LABELS, { ignoreIndex }).perImage;
    if (key.accuracy || key.pred) {
      const acc = accuracyParts(b, logits, key.labelDims ? LABELS : undefined, ignoreIndex);
      if (key.pred) outputs.pred = acc.pred;
      if (key.accuracy) {
        outputs.correct = acc.correct;
        outputs.labelled = acc.labelled;
      }
    }
    const paramGrads = new Map<string, string>();
    if (key.loss) {
      const def = getLoss(key.loss.loss);
      const terms: string[] = [];
      for (const [output, weight] of [[logits, 1], ...aux.map((a) => [a.output, a.weight] as const)] as const) {
        const parts = def.build(b, output, LABELS, { ignoreIndex, classWeights: key.loss.classWeights });
        for (const i of parts.inputs) {
          if (extraInputs.includes(i.name)) continue;
          graph.inputs.push(i);
          b.types.set(i.name, { dtype: i.dtype, shape: i.shape as number[] });
          extraInputs.push(i.name);
        }
        terms.push(weight === 1 ? parts.perImage : b.emit('Mul', [parts.perImage, b.scalar(weight)]));
      }
      const perImage = terms.length === 1 ? terms[0] : b.emit('Sum', terms);
      const sum = b.emit('ReduceSum', [perImage], { keepdims: 0 });
      const objective = key.loss.reduction === 'mean' ? b.emit('Mul', [sum, b.scalar(1 / key.dims[0])]) : sum;
      const wrt = [...(key.weightGrads ? this.info.map((p) => p.name) : []), ...(key.inputGrad ? [this.inputName] : [])];
      const grads = buildGradients({ builder: b, graph, loss: objective, wrt });
      if (key.weightGrads) for (const p of this.info) paramGrads.set(p.name, grads.get(p.name) as string);
      if (key.inputGrad) outputs.grad = grads.get(this.inputName) as string;
      outputs.losses = perImage;
      outputs.objective = objective;
    }
    if (key.training) lowerTrainingBatchNorm(b, graph);
    const names = new Set<string>([...(Object.values(outputs) as string[]), ...paramGrads.values(), ...statUpdates.values()]);
    graph.outputs = [...names].map((name) => {
      const t = b.type(name);
      return { name, dtype: t.dtype, shape: t.shape };
    });
    return { session: await this.session(b, graph, graphName(key)), outputs, paramGrads, statUpdates, masks, extraInputs };
  }

  private async compilePgd(key: CompileKey, steps: number): Promise<Compiled> {
    const { builder: b, graph } = prepareGraph(this.template, { inputShapes: { [this.inputName]: key.dims }, outputs: [this.outputName] });
    if (!key.labelDims || !key.labelType || !key.loss) throw new OpError('internal: PGD needs labels and a loss');
    for (const [name, dtype, shape] of [
      [LABELS, key.labelType, key.labelDims],
      [PGD_START, 'float32', key.dims],
    ] as const) {
      graph.inputs.push({ name, dtype, shape: [...shape] });
      b.types.set(name, { dtype, shape: [...shape] });
      b.reserve(name);
    }
    // Every step runs on a copy of the forward (the image input is the centre of the ball, not the start).
    const template = graph.nodes;
    graph.nodes = [];
    const pgd = appendSignPgd(b, graph, {
      template,
      start: PGD_START,
      image: this.inputName,
      logits: this.outputName,
      labels: LABELS,
      steps,
      loss: getLoss(key.loss.loss),
      ignoreIndex: key.ignoreIndex,
      classWeights: key.loss.classWeights,
    });
    const t = b.type(pgd.output);
    graph.outputs = [{ name: pgd.output, dtype: t.dtype, shape: t.shape }];
    const extraInputs = [PGD_EPS, PGD_STEP, PGD_START, ...pgd.lossInputs.map((i) => i.name)];
    return {
      session: await this.session(b, graph, graphName(key)),
      outputs: { adv: pgd.output },
      paramGrads: new Map(),
      statUpdates: new Map(),
      masks: [],
      extraInputs,
    };
  }

  private async session(b: GraphBuilder, graph: Graph, name: string): Promise<Session> {
    // Last: the NCHWc rewrite leaves its new tensors untyped.
    useNchwcConvs(graph, nchwcContext(b), await nchwcBlockSize());
    eliminateCommonSubexpressions(graph);
    const bytes = serializeGraph(graph);
    // For profiling the compiled graphs on their own (tools/train-bench): ROBUSTSCOPE_DUMP_GRAPHS=DIR.
    const dump = process.env.ROBUSTSCOPE_DUMP_GRAPHS;
    if (dump) writeFileSync(join(dump, `${name}.onnx`), bytes);
    return Session.create(bytes, { threads: this.opts.threads, profilePrefix: this.opts.profilePrefix });
  }
}

/** The runtime scalars of an unrolled PGD graph. */
function pgdScalars(adv: TrainAdversary): Record<string, NamedTensor> {
  const scalar = (v: number): NamedTensor => ({ data: Float32Array.of(v), dims: [], dtype: 'float32' });
  return { [PGD_EPS]: scalar(adv.eps), [PGD_STEP]: scalar(adv.stepSize) };
}

/** A readable file name for a compiled graph: its kind and batch shape. */
function graphName(key: CompileKey): string {
  const parts = [key.weightGrads ? 'grads' : key.inputGrad ? 'input-grad' : 'forward', key.training ? 'train' : 'eval'];
  if (key.pgdSteps) parts.push(`pgd${key.pgdSteps}`);
  return `${parts.join('-')}-${key.dims.join('x')}`;
}

function labelKey(labels: LabelBatch): Pick<CompileKey, 'labelDims' | 'labelType'> {
  return { labelDims: labels.dims, labelType: labels.data instanceof Int32Array ? 'int32' : 'int64' };
}

const copyNode = (n: Node): Node => ({ ...n, inputs: [...n.inputs], outputs: [...n.outputs], attrs: { ...n.attrs } });

/**
 * The model in inference form, which is what a TrainableModel starts from and exports: BatchNormalization
 * nodes exported in training mode lose training_mode and their running-stat outputs, Dropout nodes their
 * training_mode input (the trainer switches both itself). The caller's model is not modified.
 */
function inferenceForm(model: OnnxModel): OnnxModel {
  const g = model.graph;
  const consumed = new Set<string>(g.outputs.map((o) => o.name));
  for (const n of g.nodes) for (const i of n.inputs) consumed.add(i);
  const nodes = g.nodes.map((orig) => {
    const n = copyNode(orig);
    if (n.opType === 'BatchNormalization' && (n.attrs.training_mode?.value === 1 || n.outputs.length > 1)) {
      const used = n.outputs.slice(1).filter((o) => o && consumed.has(o));
      if (used.length)
        throw new OpError(`BatchNormalization '${n.name}': its training outputs ${used.join(', ')} are used by the graph; export the model in eval mode`);
      delete n.attrs.training_mode;
      n.outputs = [n.outputs[0]];
    }
    if (n.opType === 'Dropout' && n.inputs.length > 2) n.inputs = n.inputs.slice(0, 2);
    return n;
  });
  return { ...model, graph: { ...g, nodes } };
}

/** In-graph argmax prediction and per-image correct / labelled pixel counts (as RobustModel). */
function accuracyParts(b: GraphBuilder, logits: string, labels: string | undefined, ignoreIndex: number): { pred: string; correct: string; labelled: string } {
  const pred = b.emit('ArgMax', [logits], { axis: 1, keepdims: 0 });
  if (!labels) return { pred, correct: '', labelled: '' };
  const lab = b.type(labels).dtype === 'int64' ? labels : b.emit('Cast', [labels], { to: 7 });
  const valid = b.emit('Not', [b.emit('Equal', [lab, b.constant(tensorFromNumbers('int64', [], [ignoreIndex]))])]);
  const hit = b.emit('And', [b.emit('Equal', [pred, lab]), valid]);
  const axes = Array.from({ length: b.type(lab).shape.length - 1 }, (_, k) => k + 1);
  const sum = (t: string): string => {
    const f = b.emit('Cast', [t], { to: 1 });
    return axes.length ? b.emit('ReduceSum', [f, b.ints(axes)], { keepdims: 0 }) : f;
  };
  return { pred, correct: sum(hit), labelled: sum(valid) };
}
