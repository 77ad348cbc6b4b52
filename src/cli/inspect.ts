// `robustscope inspect MODEL.onnx`: what is in the model and what robustscope can do with it.
import { type Graph, isFloat, type Model, type Node, numel, type ValueInfo } from '../onnx/ir.js';
import { readOnnxFile } from '../onnx/load.js';
import { findUnsupported } from '../onnx/prepare.js';
import { getOp, type OpCtx, type OpDef, OpError } from '../ops/registry.js';
import { type Command, flag, type Io, parse, shapeText, UsageError } from './common.js';

export type GradientSupport = 'yes' | 'no rule' | 'not needed';

export interface OpSummary {
  op: string;
  count: number;
  forward: boolean;
  gradient: GradientSupport;
}

export interface InspectReport {
  file: string;
  producer: { name: string; version: string };
  irVersion: number;
  opsets: Record<string, number>;
  inputs: { name: string; dtype: string; shape: (number | string)[] | null }[];
  outputs: { name: string; dtype: string; shape: (number | string)[] | null }[];
  parameters: number;
  nodes: number;
  ops: OpSummary[];
  /** op type (domain::op for custom domains) -> node names; empty when everything is supported. */
  unsupported: Record<string, string[]>;
}

const HELP = `usage: robustscope inspect MODEL.onnx [--json]

Shows the model's producer, opsets, inputs and outputs (symbolic dims by name), parameter count,
and an op histogram with, per op type, whether robustscope runs it (forward) and differentiates it
(gradient: yes / no rule / not needed for ops whose outputs are never float, e.g. Shape, Equal,
ArgMax). Lists the nodes of unsupported ops.

options:
  --json      print one JSON object instead of text
  -h, --help  this help`;

export const inspectCommand: Command = {
  name: 'inspect',
  summary: 'show a model: inputs, outputs, op histogram and what robustscope supports',
  help: HELP,
  async run(argv: string[], io: Io): Promise<number> {
    const p = parse(argv, { json: { type: 'boolean' } }, 1);
    if (flag(p, 'help')) {
      io.stdout.write(`${HELP}\n`);
      return 0;
    }
    const file = p.positionals[0];
    if (!file) throw new UsageError('MODEL.onnx is required');
    const report = inspectModel(readOnnxFile(file), file);
    io.stdout.write(flag(p, 'json') ? `${JSON.stringify(report, null, 2)}\n` : formatReport(report));
    return 0;
  },
};

export function inspectModel(model: Model, file: string): InspectReport {
  const g = model.graph;
  const unsupported = findUnsupported(g);
  const byType = new Map<string, Node[]>();
  for (const n of g.nodes) {
    const key = opKey(n);
    const list = byType.get(key);
    if (list) list.push(n);
    else byType.set(key, [n]);
  }
  const ops: OpSummary[] = [...byType]
    .map(([op, nodes]) => {
      const def = unsupported.has(op) ? undefined : getOp(nodes[0].opType);
      return { op, count: nodes.length, forward: def !== undefined, gradient: def ? gradientSupport(def, nodes[0]) : ('no rule' as const) };
    })
    .sort((a, b) => b.count - a.count || a.op.localeCompare(b.op));
  const vi = (v: ValueInfo) => ({ name: v.name, dtype: v.dtype, shape: v.shape ?? null });
  return {
    file,
    producer: { name: model.producerName, version: model.producerVersion },
    irVersion: model.irVersion,
    opsets: Object.fromEntries([...model.opsetImports].map(([d, v]) => [d === '' ? 'ai.onnx' : d, v])),
    inputs: g.inputs.map(vi),
    outputs: g.outputs.map(vi),
    parameters: parameterCount(g),
    nodes: g.nodes.length,
    ops,
    unsupported: Object.fromEntries(unsupported),
  };
}

/** Same key as findUnsupported: custom domains are spelled domain::op. */
function opKey(n: Node): string {
  return n.domain && n.domain !== 'ai.onnx' ? `${n.domain}::${n.opType}` : n.opType;
}

/**
 * 'yes' when the op has a VJP rule. Without one, the op only matters for gradients if a float can
 * flow out of it: we ask the op's own type inference what it yields for float inputs (with the
 * node's real attributes). No float output (predicates, Shape, ArgMax...) -> 'not needed'.
 * If inference cannot tell (it needs constant inputs, say), we say 'no rule' rather than guess.
 */
export function gradientSupport(def: OpDef, node: Node): GradientSupport {
  if (def.vjp) return 'yes';
  const ctx: OpCtx = {
    node,
    nInputs: node.inputs.length,
    type: (i) => (node.inputs[i] ? { dtype: 'float32', shape: [1, 1, 1, 1] } : undefined),
    value: () => undefined,
    fail: (msg) => {
      throw new OpError(msg);
    },
  };
  try {
    return def.infer(ctx).some((t) => isFloat(t.dtype)) ? 'no rule' : 'not needed';
  } catch {
    return 'no rule';
  }
}

/** Elements of float initializers and float Constant nodes (integer tensors are shapes/indices). */
function parameterCount(g: Graph): number {
  let n = 0;
  for (const t of g.initializers.values()) if (isFloat(t.dtype)) n += numel(t.dims);
  for (const node of g.nodes) {
    const v = node.attrs.value;
    if (node.opType === 'Constant' && v?.type === 'tensor' && isFloat(v.value.dtype)) n += numel(v.value.dims);
  }
  return n;
}

export function formatReport(r: InspectReport): string {
  const lines: string[] = [];
  const kv = (k: string, v: string) => lines.push(`${k.padEnd(11)}${v}`);
  kv('model', r.file);
  kv('producer', `${r.producer.name || '(none)'}${r.producer.version ? ` ${r.producer.version}` : ''}`);
  kv(
    'opset',
    Object.entries(r.opsets)
      .map(([d, v]) => `${d} ${v}`)
      .join(', ') || '(none)',
  );
  kv('ir', String(r.irVersion));
  const io = (list: InspectReport['inputs']) => {
    const w = Math.max(0, ...list.map((v) => v.name.length));
    return list.map((v) => `${v.name.padEnd(w)}  ${v.dtype} ${shapeText(v.shape ?? undefined)}`);
  };
  const block = (k: string, vals: string[]) => {
    if (vals.length === 0) kv(k, '(none)');
    for (const [i, v] of vals.entries()) kv(i === 0 ? k : '', v);
  };
  block('inputs', io(r.inputs));
  block('outputs', io(r.outputs));
  kv('parameters', r.parameters.toLocaleString('en-US'));
  kv('nodes', String(r.nodes));
  lines.push('');
  const w = Math.max(2, ...r.ops.map((o) => o.op.length));
  lines.push(`${'op'.padEnd(w)}  ${'count'.padStart(5)}  forward  gradient`);
  for (const o of r.ops)
    lines.push(`${o.op.padEnd(w)}  ${String(o.count).padStart(5)}  ${(o.forward ? 'yes' : 'no').padEnd(7)}  ${o.forward ? o.gradient : '-'}`);
  lines.push('');
  const bad = Object.entries(r.unsupported);
  if (bad.length === 0) {
    const noRule = r.ops.filter((o) => o.gradient === 'no rule').map((o) => o.op);
    lines.push('all ops are supported for the forward pass.');
    if (noRule.length) lines.push(`no gradient rule for: ${noRule.join(', ')} (gradients through them will fail).`);
  } else {
    lines.push(`unsupported ops (robustscope cannot run this model): ${bad.length} op type${bad.length > 1 ? 's' : ''}`);
    for (const [op, nodes] of bad) lines.push(`  ${op}: ${nodes.slice(0, 10).join(', ')}${nodes.length > 10 ? ` and ${nodes.length - 10} more` : ''}`);
  }
  return `${lines.join('\n')}\n`;
}
