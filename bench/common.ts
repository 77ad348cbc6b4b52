// Shared by the engine benchmark scripts: the architectures exported by tools/bench/export.py into
// tools/bench/.cache/<arch>/, and how robustscope compiles their forward + ce-avg + input-gradient graph.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildGradients } from '../src/autodiff/gradient.js';
import { labelParts, perImageMean } from '../src/losses/common.js';
import { getLoss } from '../src/losses/index.js';
import type { GraphBuilder } from '../src/onnx/builder.js';
import type { Graph } from '../src/onnx/ir.js';
import { readOnnxFile } from '../src/onnx/load.js';
import { prepareGraph } from '../src/onnx/prepare.js';
import { registeredOps, type VjpRule } from '../src/ops/registry.js';
import type { ImageBatch, LabelBatch } from '../src/runtime/model.js';

/** Repository root (this file runs from bench/ as .ts, or compiled from tools/bench/.cache/build/bench/). */
export const ROOT = ((): string => {
  const here = fileURLToPath(new URL('.', import.meta.url));
  const built = here.indexOf('/tools/bench/.cache/build/');
  return here.slice(0, (built >= 0 ? built : here.lastIndexOf('/bench/')) + 1);
})();
// Outside bench/ (which biome lints): compiled JavaScript and profiles there would fail `npm run lint`.
export const CACHE = join(ROOT, 'tools', 'bench', '.cache');
export const ARCHS = ['lraspp_mobilenet_v3', 'resnet18', 'convnext_upernet', 'segmenter_vit', 'unet', 'normalized_convnet'];

export interface Meta {
  name: string;
  task: 'segmentation' | 'classification';
  opset: number;
  classes: number;
  size: string;
  x: { dims: number[] };
  labels: { dims: number[] };
  logits: { dims: number[] };
  loss64: number[];
  params: number;
}

export interface ArchData {
  meta: Meta;
  dir: string;
  modelPath: string;
  x: ImageBatch;
  labels: LabelBatch;
  /** PyTorch float64 autograd input gradient of the summed ce-avg. */
  grad64: Float32Array;
}

export function loadArch(name: string): ArchData {
  const dir = join(CACHE, name);
  const meta = JSON.parse(readFileSync(join(dir, 'meta.json'), 'utf8')) as Meta;
  const q = readFileSync(join(dir, 'x.u8.bin'));
  // x = q/255 in float64 rounded once to float32, as the PyTorch side computes it.
  const x = Float32Array.from(q, (v) => v / 255);
  const lab = readFileSync(join(dir, 'labels.u8.bin'));
  const g = readFileSync(join(dir, 'grad64.f32.bin'));
  const grad64 = new Float32Array(g.buffer.slice(g.byteOffset, g.byteOffset + g.length));
  return {
    meta,
    dir,
    modelPath: join(dir, 'model.onnx'),
    x: { data: x, dims: meta.x.dims },
    labels: { data: BigInt64Array.from(lab, (v) => BigInt(v)), dims: meta.labels.dims },
    grad64,
  };
}

export interface GradGraph {
  graph: Graph;
  /** Names of the nodes of the forward pass (the rest is loss + backward). */
  forwardNodes: Set<string>;
  /** Backward node name -> op type of the forward node whose VJP rule emitted it. */
  origin: Map<string, string>;
}

export const LABELS = 'robustscope/labels';

/**
 * ce-avg as proposed for src/losses/common.ts: the log-softmax over the class axis from elementwise ops and
 * reductions. onnxruntime's LogSoftmax with a non-last axis (NCHW logits, axis 1) transposes the tensor to
 * the end and back and is 6x slower (measured: 15 ms vs 2.6 ms for [4,5,256,256], one thread).
 */
export function ceAvgProposed(b: GraphBuilder, logits: string, labels: string): string {
  const parts = labelParts(b, logits, labels, 255);
  const ax = b.ints([1]);
  // Subtracting the (detached) max keeps exp() in range; its gradient would cancel exactly anyway.
  const m = b.detach(b.emit('ReduceMax', [logits, ax], { keepdims: 1 }));
  const z = b.emit('Sub', [logits, m]);
  const lse = b.emit('Log', [b.emit('ReduceSum', [b.emit('Exp', [z]), ax], { keepdims: 1 })]);
  const logp = b.emit('Sub', [z, lse]);
  const ce = b.emit('Neg', [b.emit('ReduceSum', [b.emit('Mul', [logp, parts.onehot]), ax], { keepdims: 0 })]);
  return perImageMean(b, ce, parts);
}

export interface GradGraphOptions {
  /** 'proposed': ce-avg built by ceAvgProposed instead of the shipped loss (to measure the proposal). */
  loss?: 'shipped' | 'proposed';
  /** Experimental VJP rules swapped in for the build (name -> rule), to measure alternatives. */
  rules?: Record<string, VjpRule>;
}

/**
 * Experimental Relu VJP: the mask [y > 0] as min(1, y * 2^127 * 2^127) from two depthwise 1x1 Convs (the
 * second with a fused Clip), times g. All three ops stay in onnxruntime's blocked NCHWc layout when the
 * channel count is a multiple of 16, so no reorders around the mask. Exact for every finite y >= 0
 * (the smallest denormal times 2^254 is 2^105; overflow to inf clips to 1).
 */
export const reluNchwc: VjpRule = (c) => {
  const g = c.gy(0) as string;
  const y = c.y(0);
  const t = c.type(y);
  const zero = c.scalar(0, t.dtype);
  if (t.shape.length !== 4 || t.shape[1] % 16 !== 0 || t.dtype !== 'float32') return [c.emit('Where', [c.emit('Greater', [y, zero]), g, zero])];
  const C = t.shape[1];
  const w = c.constant({ dtype: 'float32', dims: [C, 1, 1, 1], data: new Float32Array(C).fill(2 ** 127) }, 'relu_big');
  const u = c.emit('Conv', [y, w], { group: C });
  const m = c.emit('Clip', [c.emit('Conv', [u, w], { group: C }), zero, c.scalar(1, t.dtype)]);
  return [c.emit('Mul', [g, m])];
};

/** The graph RobustModel.lossAndGrad compiles (ce-avg, logits + per-image losses + input gradient). */
export function gradGraph(a: ArchData, opts: GradGraphOptions = {}): GradGraph {
  const model = readOnnxFile(a.modelPath);
  const input = model.graph.inputs[0].name;
  const output = model.graph.outputs[0].name;
  const { builder: b, graph } = prepareGraph(model, { inputShapes: { [input]: a.meta.x.dims }, outputs: [output] });
  const forwardNodes = new Set(graph.nodes.map((n) => n.name));
  graph.inputs.push({ name: LABELS, dtype: 'int64', shape: a.meta.labels.dims });
  b.types.set(LABELS, { dtype: 'int64', shape: a.meta.labels.dims });
  const perImage = opts.loss === 'proposed' ? ceAvgProposed(b, output, LABELS) : getLoss('ce-avg').build(b, output, LABELS, { ignoreIndex: 255 }).perImage;
  const total = b.emit('ReduceSum', [perImage], { keepdims: 0 });
  // Bench-only instrumentation: remember which rule emitted each backward node (restored afterwards).
  const origin = new Map<string, string>();
  const saved: [{ vjp?: VjpRule }, VjpRule][] = [];
  for (const def of registeredOps()) {
    const rule = opts.rules?.[def.type] ?? def.vjp;
    if (def.vjp) saved.push([def, def.vjp]);
    if (!rule) continue;
    def.vjp = (c) => {
      const n0 = graph.nodes.length;
      const r = rule(c);
      for (const n of graph.nodes.slice(n0)) origin.set(n.name, def.type);
      return r;
    };
  }
  let grads: Map<string, string>;
  try {
    grads = buildGradients({ builder: b, graph, loss: total, wrt: [input] });
  } finally {
    for (const [def, rule] of saved) def.vjp = rule;
  }
  const outs = [output, perImage, grads.get(input) as string];
  graph.outputs = outs.map((name) => ({ name, dtype: b.type(name).dtype, shape: b.type(name).shape }));
  return { graph, forwardNodes, origin };
}

export function cosine(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let ab = 0;
  let aa = 0;
  let bb = 0;
  for (let i = 0; i < a.length; i++) {
    ab += a[i] * b[i];
    aa += a[i] * a[i];
    bb += b[i] * b[i];
  }
  return ab / Math.sqrt(aa * bb);
}

export function maxErrOverMax(got: ArrayLike<number>, ref: ArrayLike<number>): number {
  let e = 0;
  let m = 0;
  for (let i = 0; i < ref.length; i++) {
    const d = Math.abs(got[i] - ref[i]);
    e = Number.isNaN(d) ? Number.POSITIVE_INFINITY : Math.max(e, d);
    m = Math.max(m, Math.abs(ref[i]));
  }
  return e / m;
}

export interface Stats {
  median: number;
  min: number;
  max: number;
}

export function stats(ms: number[]): Stats {
  const s = [...ms].sort((p, q) => p - q);
  const m = s.length >> 1;
  const r = (v: number) => Math.round(v * 100) / 100;
  return { median: r(s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2), min: r(s[0]), max: r(s[s.length - 1]) };
}

/** `--key value` and `--flag` arguments. */
export function args(argv: string[]): Map<string, string> {
  const m = new Map<string, string>();
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (!a.startsWith('--')) throw new Error(`unexpected argument '${a}'`);
    const next = argv[i + 1];
    if (next !== undefined && !next.startsWith('--')) {
      m.set(a.slice(2), next);
      i++;
    } else m.set(a.slice(2), '');
  }
  return m;
}
