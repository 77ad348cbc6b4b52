// The Model facade: load an ONNX model once, then forward() and lossAndGrad() on batches.
// Compiled graphs (forward, or forward + loss + input gradient) are cached per (loss, input shape).
import { buildGradients } from '../autodiff/gradient.js';
import { getLoss } from '../losses/index.js';
import { type Model as OnnxModel, type Tensor, tensorFromNumbers } from '../onnx/ir.js';
import { readOnnxFile } from '../onnx/load.js';
import { prepareGraph } from '../onnx/prepare.js';
import { serializeGraph } from '../onnx/serialize.js';
import { OpError } from '../ops/registry.js';
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

interface Compiled {
  session: Session;
  logits: string;
  loss?: string;
  grad?: string;
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
    if (inputs.length !== 1) throw new OpError(`the model must have exactly one image input; it has ${inputs.length} (${inputs.map((i) => i.name).join(', ')})`);
    this.inputName = inputs[0].name;
    const out = opts.output ?? source.graph.outputs[0]?.name;
    if (!out || !source.graph.outputs.some((o) => o.name === out)) throw new OpError(`the model has no output '${opts.output}'; outputs: ${source.graph.outputs.map((o) => o.name).join(', ')}`);
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
    const c = await this.compiled(x.dims);
    const out = await c.session.run({ [this.inputName]: { data: x.data, dims: x.dims, dtype: 'float32' } }, [c.logits]);
    return { logits: out[c.logits].data as Float32Array, logitsDims: out[c.logits].dims };
  }

  async lossAndGrad(x: ImageBatch, labels: LabelBatch, req: LossRequest): Promise<LossAndGradResult> {
    const ignore = req.ignoreIndex ?? 255;
    const c = await this.compiled(x.dims, { loss: req.loss, ignoreIndex: ignore, labelDims: labels.dims, labelType: labels.data instanceof Int32Array ? 'int32' : 'int64' });
    const feeds: Record<string, NamedTensor> = {
      [this.inputName]: { data: x.data, dims: x.dims, dtype: 'float32' },
      [LABELS]: { data: labels.data, dims: labels.dims, dtype: labels.data instanceof Int32Array ? 'int32' : 'int64' },
      ...req.extra,
    };
    const out = await c.session.run(feeds, [c.logits, c.loss as string, c.grad as string]);
    return {
      logits: out[c.logits].data as Float32Array,
      logitsDims: out[c.logits].dims,
      losses: out[c.loss as string].data as Float32Array,
      grad: out[c.grad as string].data as Float32Array,
    };
  }

  private compiled(dims: number[], loss?: { loss: string; ignoreIndex: number; labelDims: number[]; labelType: 'int32' | 'int64' }): Promise<Compiled> {
    const key = JSON.stringify([dims, loss ?? null]);
    let c = this.cache.get(key);
    if (!c) {
      c = this.compile(dims, loss);
      this.cache.set(key, c);
      c.catch(() => this.cache.delete(key));
    }
    return c;
  }

  private async compile(dims: number[], loss?: { loss: string; ignoreIndex: number; labelDims: number[]; labelType: 'int32' | 'int64' }): Promise<Compiled> {
    const { builder: b, graph } = prepareGraph(this.source, { inputShapes: { [this.inputName]: dims }, outputs: [this.outputName] });
    const logits = this.outputName;
    const lt = b.type(logits);
    if (lt.dtype !== 'float32') throw new OpError(`output '${logits}' is ${lt.dtype}; robustscope needs float32 logits`);
    if (!loss) return { session: await Session.create(serializeGraph(graph), { threads: this.opts.threads }), logits };
    graph.inputs.push({ name: LABELS, dtype: loss.labelType, shape: loss.labelDims });
    b.types.set(LABELS, { dtype: loss.labelType, shape: loss.labelDims });
    const parts = getLoss(loss.loss).build(b, logits, LABELS, { ignoreIndex: loss.ignoreIndex });
    for (const i of parts.inputs) {
      graph.inputs.push(i);
      b.types.set(i.name, { dtype: i.dtype, shape: i.shape as number[] });
    }
    const total = b.emit('ReduceSum', [parts.perImage], { keepdims: 0 });
    const grads = buildGradients({ builder: b, graph, loss: total, wrt: [this.inputName] });
    const grad = grads.get(this.inputName) as string;
    graph.outputs = [
      { name: logits, dtype: 'float32', shape: lt.shape },
      { name: parts.perImage, dtype: 'float32', shape: b.type(parts.perImage).shape },
      { name: grad, dtype: 'float32', shape: dims },
    ];
    const session = await Session.create(serializeGraph(graph), { threads: this.opts.threads });
    return { session, logits, loss: parts.perImage, grad };
  }
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
  const invStd: Tensor = tensorFromNumbers('float32', [1, C, 1, 1], norm.std.map((s) => 1 / s));
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
