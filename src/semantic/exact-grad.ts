// Exact gradients of f(u) w.r.t. image-space parameters (spec "Gradients of f w.r.t. u": exact where the
// transform is differentiable inside the ONNX graph). One compiled graph per batch size:
//   P [N, 8] (+ blur matrices) -> transform subgraph (transform-graph.ts) -> the model -> softmax
//   true-class probability -> our reverse-mode autodiff of sum_n f_n w.r.t. P (and the blur matrices);
// one onnxruntime run per batch of points returns f and dF/dP; the chain rule through the inverse
// affine map (and dM/dsigma for blur) is applied in float64 here. Points are independent in the sum
// (the model runs in inference mode), so row n of the gradient is df_n/dP_n.
// Only the classifier score 'prob' is supported: the segmentation scores (pixel-acc, miou) are
// piecewise constant in u (argmax counts), so they have no useful exact gradient; use finite
// differences (fd-gradient.ts) for them.
// Exact almost everywhere: f has kinks where a source coordinate crosses a pixel row/column (bilinear),
// where a clamp starts to bite (brightness, contrast), and jumps where the blur radius ceil(3 sigma)
// changes; at a kink the gradient is one of the one-sided ones.
import { buildGradients } from '../autodiff/gradient.js';
import { type Model as OnnxModel, tensorFromNumbers } from '../onnx/ir.js';
import { prepareGraph } from '../onnx/prepare.js';
import { serializeGraph } from '../onnx/serialize.js';
import { RobustModel } from '../runtime/model.js';
import { type NamedTensor, Session } from '../runtime/session.js';
import { memoPromise } from '../util/memo.js';
import type { ImageShape } from './image-transform.js';
import type { GradFn, ScoreAndGrad } from './regions/oracle.js';
import type { Target } from './score.js';
import { checkPoint, imageSpace, type ParameterSpace, restrictSpace } from './space.js';
import { affineRow, blurMatrix, checkBaseImage, emitImageTransform, P_WIDTH, transformFeeds, U_WIDTH } from './transform-graph.js';

export class ExactGradError extends Error {}

export interface ExactGradOptions {
  /** Parameters the points vary, in order (default: all of the image space's, IMAGE_DIMS order). */
  axes?: readonly string[];
  /** Values of the parameters not in `axes` (default: their defaults). */
  fixed?: Readonly<Record<string, number>>;
  /** Most points per onnxruntime run (default 16); larger requests are split. */
  batchSize?: number;
  /** onnxruntime intra-op threads (default: all cores). */
  threads?: number;
  /** Logits output of a plain ONNX model (default: its first output; a RobustModel brings its own). */
  output?: string;
}

interface Compiled {
  session: Session;
  inputs: { params: string; blurV?: string; blurHT?: string };
  prob: string;
  gradP: string;
  gradBV?: string;
  gradBHT?: string;
}

/**
 * A GradFn (for findRegion's `grad`) of f(u) = softmax probability of class target.label of the model
 * on `image` transformed with u (image-transform.ts), u = the `opts.axes` parameters of the image space.
 * `model`: a RobustModel (its normalisation and logits output are used) or a plain ONNX model.
 */
export function exactImageGrad(image: Float32Array, shape: ImageShape, model: RobustModel | OnnxModel, target: Target, opts: ExactGradOptions = {}): GradFn {
  if (target.score !== 'prob')
    throw new ExactGradError(
      `exact gradients support only score 'prob' (classifiers); '${target.score}' is piecewise constant in the parameters: use finite differences`,
    );
  const label = target.label;
  checkBaseImage(image, shape, 'exactImageGrad');
  const { channels: C, height: H, width: W } = shape;
  const source = model instanceof RobustModel ? model.source : model;
  const g = source.graph;
  if (g.inputs.length !== 1) throw new ExactGradError(`exactImageGrad: the model must have exactly one image input; it has ${g.inputs.length}`);
  const inputName = g.inputs[0].name;
  const outputName = model instanceof RobustModel ? model.outputName : (opts.output ?? g.outputs[0]?.name);
  if (!outputName || !g.outputs.some((o) => o.name === outputName)) throw new ExactGradError(`exactImageGrad: the model has no output '${outputName}'`);
  const batchSize = opts.batchSize ?? 16;
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new ExactGradError(`exactImageGrad: batchSize must be a positive integer, got ${batchSize}`);

  const root = imageSpace(image, shape);
  const sub: ParameterSpace = restrictSpace(root, opts.axes ?? root.dims.map((d) => d.name), opts.fixed ?? {});
  const lift = (sub.parent as NonNullable<ParameterSpace['parent']>).lift;
  const slots = sub.dims.map((d) => root.dims.findIndex((r) => r.name === d.name));
  const blurIsAxis = slots.includes(6);
  const pinnedBlur = (sub.key.pinned as Record<string, number>).blur ?? 0;
  // The blur stage is in the graph when sigma varies or is pinned > 0 (identity otherwise).
  const blur = blurIsAxis || pinnedBlur !== 0;

  const sessions = new Map<number, Promise<Compiled>>();
  const compile = async (N: number): Promise<Compiled> => {
    const { builder: b, graph } = prepareGraph(source, { inputShapes: { [inputName]: [N, C, H, W] }, outputs: [outputName] });
    const modelNodes = graph.nodes;
    graph.nodes = [];
    graph.inputs = graph.inputs.filter((i) => i.name !== inputName);
    const t = emitImageTransform(b, graph, image, shape, N, { blur });
    // The transform's output becomes the model's input tensor; its nodes go before the model's.
    b.add({ name: inputName, opType: 'Identity', domain: '', inputs: [t.output], outputs: [inputName], attrs: {} });
    graph.nodes.push(...modelNodes);
    const lt = b.type(outputName);
    const K = lt.shape[1];
    if (lt.dtype !== 'float32' || lt.shape.length < 2 || lt.shape[0] !== N || lt.shape.slice(2).some((d) => d !== 1))
      throw new ExactGradError(`score 'prob' needs classifier logits [N,K]; the model gives ${lt.dtype}[${lt.shape.join(',')}]`);
    if (!Number.isInteger(label) || label < 0 || label >= K) throw new ExactGradError(`score 'prob': class ${label} is not in 0..${K - 1}`);
    const logits = lt.shape.length === 2 ? outputName : b.emit('Reshape', [outputName, b.ints([N, K])]);
    const probs = b.emit('Softmax', [logits], { axis: 1 });
    const onehot = b.constant(
      tensorFromNumbers(
        'float32',
        [1, K],
        Array.from({ length: K }, (_, k) => (k === label ? 1 : 0)),
      ),
      'onehot',
    );
    const prob = b.emit('ReduceSum', [b.emit('Mul', [probs, onehot]), b.ints([1])], { keepdims: 0 });
    const total = b.emit('ReduceSum', [prob], { keepdims: 0 });
    const wrt = [t.params, ...(blurIsAxis && t.blurV && t.blurHT ? [t.blurV, t.blurHT] : [])];
    const grads = buildGradients({ builder: b, graph, loss: total, wrt });
    const gradP = grads.get(t.params) as string;
    const gradBV = blurIsAxis && t.blurV ? grads.get(t.blurV) : undefined;
    const gradBHT = blurIsAxis && t.blurHT ? grads.get(t.blurHT) : undefined;
    const outs = [...new Set([prob, gradP, gradBV, gradBHT].filter((x): x is string => x !== undefined))];
    graph.outputs = outs.map((name) => ({ name, dtype: 'float32', shape: b.type(name).shape }));
    const session = await Session.create(serializeGraph(graph), { threads: opts.threads });
    return { session, inputs: t, prob, gradP, gradBV, gradBHT };
  };
  const compiled = (N: number): Promise<Compiled> => memoPromise(sessions, N, () => compile(N));

  const runBatch = async (full: Float64Array[]): Promise<{ f: Float64Array; grad: Float64Array[] }> => {
    const N = full.length;
    const c = await compiled(N);
    const fd = transformFeeds(full, shape, blur);
    const feeds: Record<string, NamedTensor> = { [c.inputs.params]: { data: fd.P, dims: [N, P_WIDTH], dtype: 'float32' } };
    if (blur && c.inputs.blurV && c.inputs.blurHT) {
      feeds[c.inputs.blurV] = { data: fd.blurV as Float32Array, dims: [N, 1, H, H], dtype: 'float32' };
      feeds[c.inputs.blurHT] = { data: fd.blurHT as Float32Array, dims: [N, 1, W, W], dtype: 'float32' };
    }
    const names = [c.prob, c.gradP, c.gradBV, c.gradBHT].filter((x): x is string => x !== undefined);
    const res = await c.session.run(feeds, [...new Set(names)]);
    const prob = res[c.prob].data as Float32Array;
    const gP = res[c.gradP].data as Float32Array;
    const gBV = c.gradBV ? (res[c.gradBV].data as Float32Array) : undefined;
    const gBHT = c.gradBHT ? (res[c.gradBHT].data as Float32Array) : undefined;
    const f = Float64Array.from(prob);
    const grad = full.map((u, n) => {
      // Chain rule: df/du_j = sum_i df/dP_i dP_i/du_j.
      const { jac } = affineRow(u, H, W);
      const gu = new Float64Array(U_WIDTH);
      for (let i = 0; i < P_WIDTH; i++) {
        const gi = gP[n * P_WIDTH + i];
        for (let j = 0; j < U_WIDTH; j++) gu[j] += gi * jac[i * U_WIDTH + j];
      }
      if (gBV && gBHT) {
        // df/dsigma = <dF/dM_H, dM_H/dsigma> + <dF/dM_W^T, (dM_W/dsigma)^T>.
        const dv = blurMatrix(u[6], H).dm;
        const dh = blurMatrix(u[6], W).dm;
        let s = 0;
        for (let k = 0; k < H * H; k++) s += gBV[n * H * H + k] * dv[k];
        for (let i = 0; i < W; i++) for (let j = 0; j < W; j++) s += gBHT[n * W * W + j * W + i] * dh[i * W + j];
        gu[6] = s;
      }
      return Float64Array.from(slots, (s) => gu[s]);
    });
    return { f, grad };
  };

  return async (points): Promise<ScoreAndGrad> => {
    const full = lift(points);
    for (const u of full) checkPoint(root, u);
    const f = new Float64Array(points.length);
    const grad: Float64Array[] = [];
    for (let s = 0; s < full.length; s += batchSize) {
      const r = await runBatch(full.slice(s, s + batchSize));
      f.set(r.f, s);
      grad.push(...r.grad);
    }
    return { f, grad };
  };
}
