// The Model facade: load an ONNX model once, then forward() and lossAndGrad() on batches.
// Compiled graphs (forward, or forward + loss + input gradient) are cached per (loss, input shape).
import { buildGradients } from '../autodiff/gradient.js';
import { getLoss } from '../losses/index.js';
import type { GraphBuilder } from '../onnx/builder.js';
import { type Model as OnnxModel, type Tensor, tensorFromNumbers } from '../onnx/ir.js';
import { readOnnxFile } from '../onnx/load.js';
import { prepareGraph } from '../onnx/prepare.js';
import { serializeGraph } from '../onnx/serialize.js';
import { OpError } from '../ops/registry.js';
import { memoPromise } from '../util/memo.js';
import { type NamedTensor, Session } from './session.js';

export interface Normalize {
  mean: number[];
  std: number[];
}

export interface LoadOptions {
  /** Adds (x - mean) / std in front of the model (images are always fed in [0,1]). */
  normalize?: Normalize;
  /** Which model output holds the logits (default: the first). */
  output?: string;
  /** onnxruntime intra-op threads (default: all cores). */
  threads?: number;
}

/** A float32 image batch, NCHW, values in [0,1]. */
export interface ImageBatch {
  data: Float32Array;
  dims: number[];
}

/** Labels: [N,H,W] for segmentation, [N] for classification. */
export interface LabelBatch {
  data: BigInt64Array | Int32Array;
  dims: number[];
}

export interface LossRequest {
  loss: string;
  /** Ignore label (default 255). */
  ignoreIndex?: number;
  /** Per-class weights for losses that use them (mask-ce-bal). */
  classWeights?: number[];
  /** Values for the loss's extra runtime inputs. */
  extra?: Record<string, NamedTensor>;
}

export interface ForwardResult {
  logits: Float32Array;
  logitsDims: number[];
}

export interface LossAndGradResult extends ForwardResult {
  /** Per-image loss values [N]. */
  losses: Float32Array;
  /** d(sum of per-image losses)/d(image), same layout as the input. */
  grad: Float32Array;
}

/** What one evaluation of the model on a labelled batch should return (all computed in-graph). */
export interface EvalSpec {
  /** Differentiated loss: per-image values and the input gradient. */
  loss?: LossRequest;
  /** Per-image ce-avg (no gradient): APGD's track loss. */
  track?: boolean;
  /** Per-image correct and labelled pixel counts. */
  accuracy?: boolean;
  /** Argmax predictions [N,...spatial] (int64). */
  pred?: boolean;
  logits?: boolean;
  ignoreIndex?: number;
}

export interface EvalResult {
  losses?: Float32Array;
  grad?: Float32Array;
  track?: Float32Array;
  correct?: Float32Array;
  labelled?: Float32Array;
  pred?: BigInt64Array;
  logits?: Float32Array;
  logitsDims?: number[];
}

type OutputKey = 'logits' | 'losses' | 'grad' | 'track' | 'correct' | 'labelled' | 'pred';

interface Compiled {
  session: Session;
  outputs: Partial<Record<OutputKey, string>>;
  extraInputs: string[];
}

interface CompileKey {
  dims: number[];
  labelDims?: number[];
  labelType?: 'int32' | 'int64';
  spec: Omit<EvalSpec, 'loss'> & { loss?: Omit<LossRequest, 'extra'> };
}

export class RobustModel {
  private readonly cache = new Map<string, Promise<Compiled>>();
  readonly inputName: string;
  readonly outputName: string;

  private constructor(
    readonly source: OnnxModel,
    private readonly opts: LoadOptions,
  ) {
    const inputs = source.graph.inputs;
    if (inputs.length !== 1)
      throw new OpError(`the model must have exactly one image input; it has ${inputs.length} (${inputs.map((i) => i.name).join(', ')})`);
    this.inputName = inputs[0].name;
    const out = opts.output ?? source.graph.outputs[0]?.name;
    if (!out || !source.graph.outputs.some((o) => o.name === out))
      throw new OpError(`the model has no output '${opts.output}'; outputs: ${source.graph.outputs.map((o) => o.name).join(', ')}`);
    this.outputName = out;
  }

  static fromOnnx(model: OnnxModel, opts: LoadOptions = {}): RobustModel {
    return new RobustModel(opts.normalize ? withNormalization(model, opts.normalize) : model, opts);
  }

  /** Declared input shape (symbolic dims as strings). */
  get inputShape(): (number | string)[] {
    return this.source.graph.inputs[0].shape ?? [];
  }

  async forward(x: ImageBatch): Promise<ForwardResult> {
    const r = await this.evaluate(x, undefined, { logits: true });
    return { logits: r.logits as Float32Array, logitsDims: r.logitsDims as number[] };
  }

  async lossAndGrad(x: ImageBatch, labels: LabelBatch, req: LossRequest): Promise<LossAndGradResult> {
    const r = await this.evaluate(x, labels, { loss: req, logits: true, ignoreIndex: req.ignoreIndex });
    return { logits: r.logits as Float32Array, logitsDims: r.logitsDims as number[], losses: r.losses as Float32Array, grad: r.grad as Float32Array };
  }

  /** One session.run computing everything `spec` asks for. */
  async evaluate(x: ImageBatch, labels: LabelBatch | undefined, spec: EvalSpec): Promise<EvalResult> {
    const needsLabels = spec.loss !== undefined || spec.track === true || spec.accuracy === true;
    if (needsLabels && !labels) throw new OpError('labels are needed for losses and accuracy');
    const { extra, ...lossKey } = spec.loss ?? { extra: undefined };
    const key: CompileKey = {
      dims: x.dims,
      labelDims: needsLabels ? labels?.dims : undefined,
      labelType: needsLabels ? (labels?.data instanceof Int32Array ? 'int32' : 'int64') : undefined,
      spec: { ...spec, loss: spec.loss ? (lossKey as Omit<LossRequest, 'extra'>) : undefined, ignoreIndex: spec.ignoreIndex ?? spec.loss?.ignoreIndex ?? 255 },
    };
    const c = await this.compiled(key);
    const feeds: Record<string, NamedTensor> = { [this.inputName]: { data: x.data, dims: x.dims, dtype: 'float32' } };
    if (needsLabels && labels) feeds[LABELS] = { data: labels.data, dims: labels.dims, dtype: labels.data instanceof Int32Array ? 'int32' : 'int64' };
    for (const name of c.extraInputs) {
      const v = extra?.[name];
      if (!v) throw new OpError(`loss '${spec.loss?.loss}' needs the runtime input '${name}'`);
      feeds[name] = v;
    }
    const names = Object.values(c.outputs) as string[];
    const out = await c.session.run(feeds, [...new Set(names)]);
    const get = (k: OutputKey) => (c.outputs[k] ? out[c.outputs[k] as string] : undefined);
    return {
      losses: get('losses')?.data as Float32Array | undefined,
      grad: get('grad')?.data as Float32Array | undefined,
      track: get('track')?.data as Float32Array | undefined,
      correct: get('correct')?.data as Float32Array | undefined,
      labelled: get('labelled')?.data as Float32Array | undefined,
      pred: get('pred')?.data as BigInt64Array | undefined,
      logits: get('logits')?.data as Float32Array | undefined,
      logitsDims: get('logits')?.dims,
    };
  }

  private compiled(key: CompileKey): Promise<Compiled> {
    return memoPromise(this.cache, JSON.stringify(key), () => this.compile(key));
  }

  private async compile(key: CompileKey): Promise<Compiled> {
    const { dims, spec } = key;
    const { builder: b, graph } = prepareGraph(this.source, { inputShapes: { [this.inputName]: dims }, outputs: [this.outputName] });
    const logits = this.outputName;
    const lt = b.type(logits);
    if (lt.dtype !== 'float32') throw new OpError(`output '${logits}' is ${lt.dtype}; robustscope needs float32 logits`);
    const outputs: Partial<Record<OutputKey, string>> = {};
    const extraInputs: string[] = [];
    if (spec.logits) outputs.logits = logits;
    const ignoreIndex = spec.ignoreIndex ?? 255;
    if (key.labelDims && key.labelType) {
      graph.inputs.push({ name: LABELS, dtype: key.labelType, shape: key.labelDims });
      b.types.set(LABELS, { dtype: key.labelType, shape: key.labelDims });
    }
    if (spec.track) outputs.track = getLoss('ce-avg').build(b, logits, LABELS, { ignoreIndex }).perImage;
    if (spec.accuracy || spec.pred) {
      const acc = accuracyParts(b, logits, key.labelDims ? LABELS : undefined, ignoreIndex);
      if (spec.pred) outputs.pred = acc.pred;
      if (spec.accuracy) {
        outputs.correct = acc.correct;
        outputs.labelled = acc.labelled;
      }
    }
    if (spec.loss) {
      const parts = getLoss(spec.loss.loss).build(b, logits, LABELS, { ignoreIndex, classWeights: spec.loss.classWeights });
      for (const i of parts.inputs) {
        graph.inputs.push(i);
        b.types.set(i.name, { dtype: i.dtype, shape: i.shape as number[] });
        extraInputs.push(i.name);
      }
      const total = b.emit('ReduceSum', [parts.perImage], { keepdims: 0 });
      const grads = buildGradients({ builder: b, graph, loss: total, wrt: [this.inputName] });
      outputs.losses = parts.perImage;
      outputs.grad = grads.get(this.inputName) as string;
    }
    graph.outputs = [...new Set(Object.values(outputs) as string[])].map((name) => {
      const t = b.type(name);
      return { name, dtype: t.dtype, shape: t.shape };
    });
    const session = await Session.create(serializeGraph(graph), { threads: this.opts.threads });
    return { session, outputs, extraInputs };
  }
}

/** In-graph argmax prediction and per-image correct / labelled pixel counts. */
function accuracyParts(b: GraphBuilder, logits: string, labels: string | undefined, ignoreIndex: number): { pred: string; correct: string; labelled: string } {
  const pred = b.emit('ArgMax', [logits], { axis: 1, keepdims: 0 });
  if (!labels) return { pred, correct: '', labelled: '' };
  const lab = b.type(labels).dtype === 'int64' ? labels : b.emit('Cast', [labels], { to: 7 });
  const valid = b.emit('Not', [b.emit('Equal', [lab, b.constant(tensorFromNumbers('int64', [], [ignoreIndex]))])]);
  const hit = b.emit('And', [b.emit('Equal', [pred, lab]), valid]);
  const rank = b.type(lab).shape.length;
  const axes = Array.from({ length: rank - 1 }, (_, k) => k + 1);
  const sum = (t: string) => {
    const f = b.emit('Cast', [t], { to: 1 });
    return axes.length ? b.emit('ReduceSum', [f, b.ints(axes)], { keepdims: 0 }) : f;
  };
  return { pred, correct: sum(hit), labelled: sum(valid) };
}

const LABELS = 'robustscope/labels';

export async function loadModel(path: string, opts: LoadOptions = {}): Promise<RobustModel> {
  return RobustModel.fromOnnx(readOnnxFile(path), opts);
}

/** Prepends (x - mean) / std, so users feed [0,1] images to a model that expects normalised ones. */
function withNormalization(model: OnnxModel, norm: Normalize): OnnxModel {
  const g = model.graph;
  const input = g.inputs[0];
  const C = norm.mean.length;
  if (norm.std.length !== C || norm.std.some((s) => !(s > 0))) throw new OpError('normalize: mean and std need the same length and std > 0');
  const raw = `${input.name}/unnormalized`;
  const mean: Tensor = tensorFromNumbers('float32', [1, C, 1, 1], norm.mean);
  const invStd: Tensor = tensorFromNumbers(
    'float32',
    [1, C, 1, 1],
    norm.std.map((s) => 1 / s),
  );
  const initializers = new Map(g.initializers);
  initializers.set(`${raw}/mean`, mean);
  initializers.set(`${raw}/inv_std`, invStd);
  const centred = `${raw}/centred`;
  return {
    ...model,
    graph: {
      ...g,
      inputs: [{ ...input, name: raw }, ...g.inputs.slice(1)],
      initializers,
      nodes: [
        { name: `${raw}/sub`, opType: 'Sub', domain: '', inputs: [raw, `${raw}/mean`], outputs: [centred], attrs: {} },
        { name: `${raw}/mul`, opType: 'Mul', domain: '', inputs: [centred, `${raw}/inv_std`], outputs: [input.name], attrs: {} },
        ...g.nodes,
      ],
    },
  };
}
