// The training adversary's PGD unrolled into ONE graph: every step's forward, loss, input gradient and
// sign step appended one after the other, so the whole attack is one onnxruntime run. Per step this saves
// a round trip through JavaScript (feeding every weight, copying the gradient and logits out, the step
// loop in JS) and lets the weight reorders of the NCHWc rewrite be shared by all steps.
//
//   x_0 = x (zero init);  x_{s+1} = min(max(x_s + eta * sign(d loss(x_s) / d x_s), lo), hi)
//   lo = max(x - eps, 0), hi = min(x + eps, 1)                                   (last iterate returned)
//
// The same arithmetic as src/attacks/threat.ts (stepImage + projectImage, linf) in float32, which is also
// what PyTorch computes for the same recipe (tensor * python scalar in float32).
import { buildGradients } from '../autodiff/gradient.js';
import type { LossDef } from '../losses/loss.js';
import type { GraphBuilder } from '../onnx/builder.js';
import type { Graph, Node, ValueInfo } from '../onnx/ir.js';

export const PGD_EPS = 'robustscope/pgd_eps';
export const PGD_STEP = 'robustscope/pgd_step_size';
export const PGD_START = 'robustscope/pgd_start';
/**
 * Most steps unrolled into one graph: compile time and graph memory grow with every copy (measured on
 * resnet-tiny-fcn, batch 8: 10 steps 0.45 s and 176 MB, 50 steps 1.8 s and 324 MB); longer attacks run
 * as chunks of this many steps, each continuing from the last iterate.
 */
export const PGD_MAX_UNROLL = 8;

export interface UnrolledPgd {
  /** The last iterate. */
  output: string;
  /** Runtime inputs the loss asked for (besides the scalars PGD_EPS and PGD_STEP, also graph inputs). */
  lossInputs: ValueInfo[];
}

/**
 * Appends `steps` sign-gradient steps on the loss of `logits`: every step runs on a copy of the eval-mode
 * forward `template` (its intermediate tensors renamed; parameters, buffers, labels and constants shared),
 * reading the iterate where the template reads `image`. The template's own nodes are not added (in
 * TrainableModel.step with an adversary they become the training pass).
 */
export function appendSignPgd(
  b: GraphBuilder,
  graph: Graph,
  o: {
    image: string;
    logits: string;
    labels: string;
    steps: number;
    loss: LossDef;
    ignoreIndex: number;
    classWeights?: number[];
    /** Eval-mode forward nodes, copied for every step. */
    template: Node[];
    /**
     * Start from this graph input instead of `image` (which stays the centre of the eps-ball): a later chunk
     * of a long attack (TrainableModel.signPgd unrolls at most PGD_MAX_UNROLL steps per graph).
     */
    start?: string;
  },
): UnrolledPgd {
  if (!(o.steps >= 1 && Number.isInteger(o.steps))) throw new Error(`PGD steps must be a positive integer, got ${o.steps}`);
  const forward = o.template;
  const dtype = b.type(o.image).dtype;
  for (const [name, shape] of [
    [PGD_EPS, []],
    [PGD_STEP, []],
  ] as const) {
    graph.inputs.push({ name, dtype, shape: [...shape] });
    b.types.set(name, { dtype, shape: [...shape] });
    b.reserve(name);
  }
  const lo = b.emit('Max', [b.emit('Sub', [o.image, PGD_EPS]), b.scalar(0, dtype)]);
  const hi = b.emit('Min', [b.emit('Add', [o.image, PGD_EPS]), b.scalar(1, dtype)]);
  const lossInputs: ValueInfo[] = [];
  let x = o.start ?? o.image;
  for (let s = 0; s < o.steps; s++) {
    const logits = copyForward(b, forward, o.image, x, o.logits, s);
    const parts = o.loss.build(b, logits, o.labels, { ignoreIndex: o.ignoreIndex, classWeights: o.classWeights });
    for (const i of parts.inputs) {
      if (lossInputs.some((l) => l.name === i.name)) continue;
      graph.inputs.push(i);
      b.types.set(i.name, { dtype: i.dtype, shape: i.shape as number[] });
      lossInputs.push(i);
    }
    const objective = b.emit('ReduceSum', [parts.perImage], { keepdims: 0 });
    const g = buildGradients({ builder: b, graph, loss: objective, wrt: [x] }).get(x) as string;
    const z = b.emit('Add', [x, b.emit('Mul', [b.emit('Sign', [g]), PGD_STEP])]);
    x = b.emit('Min', [b.emit('Max', [z, lo]), hi]);
  }
  return { output: x, lossInputs };
}

/** Appends a copy of the forward nodes reading `x` instead of `image`; returns the copy's logits. */
function copyForward(b: GraphBuilder, forward: Node[], image: string, x: string, logits: string, s: number): string {
  const renamed = new Map<string, string>([[image, x]]);
  for (const n of forward) for (const out of n.outputs) if (out) renamed.set(out, b.fresh(`pgd${s}`));
  for (const n of forward)
    b.add({
      ...n,
      name: renamed.get(n.outputs[0]) ?? n.name,
      inputs: n.inputs.map((i) => renamed.get(i) ?? i),
      outputs: n.outputs.map((out) => (out ? (renamed.get(out) as string) : out)),
      attrs: { ...n.attrs },
    });
  return renamed.get(logits) as string;
}
