// One registry for everything robustscope knows about an ONNX op: how to upgrade older opset
// variants, how to infer output types, how to evaluate it on constants (folding) and its VJP.
// Each op family lives in its own file (elementwise.ts, conv.ts, pool.ts, ...) and registers here.
import type { AttrValue, DType, Node, Tensor } from '../onnx/ir.js';

/** Static type of a value. robustscope compiles per input shape, so every shape is static. */
export interface TypeInfo {
  dtype: DType;
  shape: number[];
}

export class OpError extends Error {}

/** What infer/fold see of a node. */
export interface OpCtx {
  readonly node: Node;
  /** Type of input i, undefined when the optional input is omitted. */
  type(i: number): TypeInfo | undefined;
  /** Constant value of input i, when known (initializer, Constant, or folded). */
  value(i: number): Tensor | undefined;
  readonly nInputs: number;
  /** Throws an OpError naming the node. */
  fail(msg: string): never;
}

/** The graph-editing surface VJP rules, upgrades and loss builders use. */
export interface Emitter {
  /** Appends a node; returns its first output. Types of the outputs are inferred at once. */
  emit(opType: string, inputs: string[], attrs?: Attrs): string;
  /** Appends a node with several outputs. */
  emitN(opType: string, inputs: string[], nOutputs: number, attrs?: Attrs): string[];
  /** Adds a constant and returns its name. */
  constant(t: Tensor, hint?: string): string;
  /** Int64 1-D constant (axes, shapes, pads...). */
  ints(values: number[]): string;
  /** Scalar (rank-0) constant of the given float dtype (default float32). */
  scalar(value: number, dtype?: DType): string;
  type(name: string): TypeInfo;
  value(name: string): Tensor | undefined;
}

export type Attrs = Record<string, AttrValue | number | number[] | string | undefined>;

/** Marks a float attribute (plain numbers become ints). */
export function float(value: number): AttrValue {
  return { type: 'float', value };
}
export function floats(value: number[]): AttrValue {
  return { type: 'floats', value };
}

export interface VjpCtx extends Emitter {
  readonly node: Node;
  /** Forward input / output names. */
  x(i: number): string;
  y(i: number): string;
  /** Gradient flowing into output i; undefined when it is zero. */
  gy(i: number): string | undefined;
  /** Whether input i needs a gradient. */
  wants(i: number): boolean;
  /** Sum-reduces a broadcast gradient back to `shape` (numpy broadcasting rules). */
  reduceTo(g: string, shape: number[]): string;
  fail(msg: string): never;
}

/** Returns the gradient of each input (undefined: none needed, or identically zero). */
export type VjpRule = (ctx: VjpCtx) => (string | undefined)[];

export interface UpgradeCtx extends Emitter {
  readonly node: Node;
  /** The opset version the model imported for the default domain. */
  readonly opset: number;
  fail(msg: string): never;
}

export interface OpDef {
  type: string;
  /**
   * Rewrites a node of an older opset into its opset-21 form (e.g. axes attribute -> input).
   * Returns the replacement nodes' work through the emitter; return false to keep the node as is.
   * Implementations mutate ctx.node in place when only inputs/attributes change.
   */
  upgrade?(ctx: UpgradeCtx): void;
  infer(ctx: OpCtx): TypeInfo[];
  /** Evaluates the op on constant inputs (shape arithmetic); undefined = cannot/should not fold. */
  fold?(ctx: OpCtx): Tensor[] | undefined;
  /** fold() needs only input TYPES (Shape, Size): try it even when inputs are not constant. */
  foldsFromTypes?: boolean;
  /** Absent: the op is not differentiable (its float outputs then block gradient paths with an error). */
  vjp?: VjpRule;
  /** Inputs that never carry gradient (indices, shapes, axes, scales). */
  nondiff?: number[];
}

const REGISTRY = new Map<string, OpDef>();

export function registerOps(defs: OpDef[]): void {
  for (const d of defs) {
    if (REGISTRY.has(d.type)) throw new Error(`op ${d.type} registered twice`);
    REGISTRY.set(d.type, d);
  }
}

export function getOp(type: string): OpDef | undefined {
  return REGISTRY.get(type);
}

export function registeredOps(): OpDef[] {
  return [...REGISTRY.values()].sort((a, b) => a.type.localeCompare(b.type));
}
