// Which initializers of a model are trained. ONNX does not mark parameters, so they are recognised by
// use: a float32 initializer of rank >= 1 feeding a differentiable input of an op with a gradient rule
// is a parameter; BatchNormalization's input_mean / input_var are buffers (running statistics, updated
// by training-mode steps, never differentiated). Integer tensors, shape constants (nondiff inputs) and
// rank-0 scalars (exponents, epsilons, constant factors) stay constants.
import type { Graph, Tensor } from '../onnx/ir.js';
import { getOp } from '../ops/registry.js';
import '../ops/all.js';

/** What a parameter does, from the op that consumes it (optimizers use it for weight-decay groups). */
export type ParamRole = 'weight' | 'bias' | 'norm' | 'other';

export interface ParameterInfo {
  name: string;
  dims: number[];
  role: ParamRole;
}

export interface ModelState {
  params: ParameterInfo[];
  /** BatchNormalization running mean / variance initializers. */
  buffers: string[];
}

const NORMS = new Set(['BatchNormalization', 'LayerNormalization', 'InstanceNormalization', 'GroupNormalization']);

function roleOf(op: string, input: number, t: Tensor): ParamRole {
  if (NORMS.has(op)) return 'norm';
  if (op === 'Conv' || op === 'ConvTranspose' || op === 'Gemm') return input === 2 ? 'bias' : 'weight';
  if (op === 'MatMul') return t.dims.length >= 2 ? 'weight' : 'other';
  // nn.Linear on >2-D inputs is exported as MatMul + Add(bias).
  if (op === 'Add' && t.dims.length === 1) return 'bias';
  return 'other';
}

/**
 * Classifies the float initializers of `graph`. `trainable` (default: all candidates) can freeze
 * candidates, e.g. normalisation constants a model stores as initializers.
 */
export function findParameters(graph: Graph, trainable?: (name: string, t: Tensor) => boolean): ModelState {
  const roles = new Map<string, ParamRole>();
  const buffers = new Set<string>();
  for (const node of graph.nodes) {
    const def = getOp(node.opType);
    const nondiff = new Set(def?.nondiff ?? []);
    node.inputs.forEach((name, i) => {
      const t = name ? graph.initializers.get(name) : undefined;
      if (!t || t.dtype !== 'float32') return;
      if (node.opType === 'BatchNormalization' && (i === 3 || i === 4)) {
        buffers.add(name);
        return;
      }
      if (!def?.vjp || nondiff.has(i) || t.dims.length === 0 || roles.has(name)) return;
      roles.set(name, roleOf(node.opType, i, t));
    });
  }
  const params: ParameterInfo[] = [];
  for (const [name, role] of roles) {
    const t = graph.initializers.get(name) as Tensor;
    if (buffers.has(name) || (trainable && !trainable(name, t))) continue;
    params.push({ name, dims: [...t.dims], role });
  }
  return { params, buffers: [...buffers] };
}
