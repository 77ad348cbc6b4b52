// Rewrites that turn a prepared (canonical, inference-form) graph into its training form:
//  - BatchNormalization -> training mode (batch statistics; full VJP in src/ops/norm.ts) plus the
//    running-statistics update as small per-channel ops;
//  - Dropout -> Mul by a fed mask (drawn in TypeScript from a seed, so a step's masks are a pure
//    function of its seed: reproducible, resumable), whose VJP is g * mask / (1 - ratio);
//  - after the backward pass is built: training-mode BatchNormalization lowered to plain ops
//    (measured 2.7x faster than onnxruntime's single-threaded training kernel).
import type { GraphBuilder } from '../onnx/builder.js';
import { attrFloat, type Graph, type Node, numel, tensorFromNumbers, toNumbers } from '../onnx/ir.js';
import { float, OpError } from '../ops/registry.js';
import { Rng } from '../util/random.js';

export interface TrainingBnOptions {
  /** Running-stat inputs (graph inputs) the update is computed for. */
  buffers: ReadonlySet<string>;
  /**
   * Variance folded into running_var: 'unbiased' (n/(n-1) x batch variance, as PyTorch) or 'biased'
   * (the ONNX spec's population variance, as onnxruntime's training kernel). Normalisation always
   * uses the biased batch variance.
   */
  runningVar: 'unbiased' | 'biased';
  /** Emit the running-statistics update (buffer name -> updated tensor). */
  updateStats: boolean;
}

const range = (from: number, to: number): number[] => Array.from({ length: Math.max(0, to - from) }, (_, k) => from + k);

/**
 * Switches every BatchNormalization node to training mode with momentum 0 and zero running inputs,
 * so its outputs 1 and 2 are exactly the batch mean and (biased) variance, and appends
 * running = running * momentum + batch * (1 - momentum) for the buffers. Returns buffer -> update.
 */
export function toTrainingBatchNorm(b: GraphBuilder, graph: Graph, opts: TrainingBnOptions): Map<string, string> {
  const updates = new Map<string, string>();
  for (const node of [...graph.nodes]) {
    if (node.opType !== 'BatchNormalization') continue;
    const [x, , , rm, rv] = node.inputs;
    const t = b.type(x);
    const ch = t.shape[1];
    const n = numel(t.shape) / ch;
    if (n < 2) throw new OpError(`BatchNormalization '${node.name}': training mode needs more than one value per channel, its input is [${t.shape}]`);
    const momentum = attrFloat(node, 'momentum', 0.9);
    const statType = b.type(rm).dtype;
    const zeros = b.constant(tensorFromNumbers(statType, [ch], new Array<number>(ch).fill(0)), 'bn_zero');
    const mean = b.fresh('bn_batch_mean');
    const vr = b.fresh('bn_batch_var');
    node.inputs = [node.inputs[0], node.inputs[1], node.inputs[2], zeros, zeros];
    node.outputs = [node.outputs[0], mean, vr];
    node.attrs = { ...node.attrs, training_mode: { type: 'int', value: 1 }, momentum: float(0) };
    b.types.set(mean, { dtype: statType, shape: [ch] });
    b.types.set(vr, { dtype: statType, shape: [ch] });
    if (!opts.updateStats) continue;
    const correction = opts.runningVar === 'unbiased' ? n / (n - 1) : 1;
    const blend = (running: string, batch: string, k: number): string =>
      b.emit('Add', [b.emit('Mul', [running, b.scalar(momentum, statType)]), b.emit('Mul', [batch, b.scalar((1 - momentum) * k, statType)])]);
    for (const [running, batch, k] of [
      [rm, mean, 1],
      [rv, vr, correction],
    ] as const) {
      if (!opts.buffers.has(running)) continue;
      if (updates.has(running)) throw new OpError(`running statistic '${running}' is shared by several BatchNormalization nodes`);
      updates.set(running, blend(running, batch, k));
    }
  }
  return updates;
}

/** Replaces the training-mode, momentum-0 BatchNormalization nodes by ReduceMean / Sub / Mul / inference BN. */
export function lowerTrainingBatchNorm(b: GraphBuilder, graph: Graph): void {
  const repl = new Map<Node, Node[]>();
  for (const node of graph.nodes) {
    if (node.opType !== 'BatchNormalization' || node.attrs.training_mode?.value !== 1) continue;
    if (attrFloat(node, 'momentum', 0.9) !== 0) continue;
    const [x, scale, bias] = node.inputs;
    const [y, mean, vr] = node.outputs;
    const t = b.type(x);
    const rank = t.shape.length;
    const statType = b.type(mean || node.inputs[3]).dtype;
    if (statType !== t.dtype) continue; // mixed precision: keep onnxruntime's kernel
    const start = graph.nodes.length;
    const axes = b.ints([0, ...range(2, rank)]);
    const m = mean || b.fresh('bn_batch_mean');
    const v = vr || b.fresh('bn_batch_var');
    const add = (opType: string, inputs: string[], outputs: string[], attrs: Node['attrs'] = {}): void =>
      b.add({ name: outputs[0], opType, domain: '', inputs, outputs, attrs });
    add('ReduceMean', [x, axes], [m], { keepdims: { type: 'int', value: 0 } });
    const xc = b.emit('Sub', [x, b.emit('Reshape', [m, b.ints([t.shape[1], ...range(2, rank).map(() => 1)])])]);
    // Two-pass variance; ReduceSumSquare saves the full-size square (one kernel and tensor per layer).
    const ss = b.emit('ReduceSumSquare', [xc, axes], { keepdims: 0 });
    add('Div', [ss, b.scalar(numel(t.shape) / t.shape[1], t.dtype)], [v]);
    const eps = node.attrs.epsilon;
    add('BatchNormalization', [x, scale, bias, m, v], [y], eps ? { epsilon: eps } : {});
    repl.set(node, graph.nodes.splice(start));
  }
  if (repl.size) graph.nodes = graph.nodes.flatMap((n) => repl.get(n) ?? [n]);
}

export interface DropoutMask {
  /** Graph input fed with the mask (0 or 1/(1-ratio)). */
  input: string;
  dims: number[];
  ratio: number;
  /** Index among the model's Dropout nodes (part of the mask's seed). */
  index: number;
}

/** Turns every Dropout node into y = x * mask with the mask a new graph input. */
export function toTrainingDropout(b: GraphBuilder, graph: Graph): DropoutMask[] {
  const masks: DropoutMask[] = [];
  let index = 0;
  for (const node of [...graph.nodes]) {
    if (node.opType !== 'Dropout') continue;
    const k = index++;
    const x = node.inputs[0];
    const rIn = node.inputs[1];
    const rv = rIn ? b.value(rIn) : undefined;
    if (rIn && !rv) throw new OpError(`Dropout '${node.name}': the ratio must be a constant for training`);
    const ratio = rv ? toNumbers(rv)[0] : 0.5;
    if (!(ratio >= 0 && ratio < 1)) throw new OpError(`Dropout '${node.name}': ratio ${ratio} is not in [0, 1)`);
    const t = b.type(x);
    const maskOut = node.outputs[1];
    if (ratio === 0) {
      Object.assign(node, { opType: 'Identity', inputs: [x], outputs: [node.outputs[0]], attrs: {} });
    } else {
      const input = b.fresh(`dropout_mask_${k}`);
      graph.inputs.push({ name: input, dtype: t.dtype, shape: t.shape });
      b.types.set(input, { dtype: t.dtype, shape: t.shape });
      Object.assign(node, { opType: 'Mul', inputs: [x, input], outputs: [node.outputs[0]], attrs: {} });
      masks.push({ input, dims: t.shape, ratio, index: k });
      if (maskOut) b.add({ name: maskOut, opType: 'Greater', domain: '', inputs: [input, b.scalar(0, t.dtype)], outputs: [maskOut], attrs: {} });
    }
    if (maskOut && ratio === 0) {
      const all = b.constant(tensorFromNumbers('bool', t.shape, new Uint8Array(numel(t.shape)).fill(1)), 'dropout_keep');
      b.add({ name: maskOut, opType: 'Identity', domain: '', inputs: [all], outputs: [maskOut], attrs: {} });
    }
  }
  return masks;
}

/** The mask of one Dropout node for one step: keep with probability 1 - ratio, scaled by 1/(1 - ratio). */
export function dropoutMask(mask: DropoutMask, seed: number): Float32Array {
  const r = Rng.derive(seed, 'dropout', mask.index);
  const keep = 1 / (1 - mask.ratio);
  const out = new Float32Array(numel(mask.dims));
  for (let i = 0; i < out.length; i++) out[i] = r.next() >= mask.ratio ? keep : 0;
  return out;
}
