// Losses are subgraphs appended after the model's logits, so one session.run returns logits,
// per-image losses and the input gradient. Each loss builds a per-image value [N]; the
// differentiated quantity is their SUM (each image's gradient is independent of the batch).
import type { GraphBuilder } from '../onnx/builder.js';
import type { ValueInfo } from '../onnx/ir.js';
import type { NamedTensor } from '../runtime/session.js';

export interface LossOptions {
  /** Label value that marks pixels to ignore (default 255). */
  ignoreIndex: number;
  /** Per-class weights (mask-ce-bal). */
  classWeights?: number[];
}

export interface LossParts {
  /** Per-image loss, shape [N]. */
  perImage: string;
  /** Extra runtime inputs the loss needs (fed by the caller on every run). */
  inputs: ValueInfo[];
}

export interface LossDef {
  name: string;
  description: string;
  build(b: GraphBuilder, logits: string, labels: string, opts: LossOptions): LossParts;
  /** Runtime inputs that change with the attack iteration t of T (SegPGD's lambda). */
  schedule?(t: number, T: number): Record<string, NamedTensor>;
}

const LOSSES = new Map<string, LossDef>();

export function registerLoss(def: LossDef): void {
  if (LOSSES.has(def.name)) throw new Error(`loss ${def.name} registered twice`);
  LOSSES.set(def.name, def);
}

export function getLoss(name: string): LossDef {
  const d = LOSSES.get(name);
  if (!d) throw new Error(`unknown loss '${name}'; available: ${[...LOSSES.keys()].join(', ')}`);
  return d;
}

export function lossNames(): string[] {
  return [...LOSSES.keys()];
}
