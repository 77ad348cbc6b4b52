// Where does robustscope's forward + ce-avg + input-gradient time go? Compiles the graph RobustModel
// compiles for one benchmark architecture, runs it under onnxruntime's profiler and aggregates the
// per-node kernel times by op type (forward vs loss+backward) and by node.
//
//   node tools/bench/.cache/build/bench/profile.js --arch unet [--reps 10] [--threads 2] [--top 25] [--optimized] [--loss proposed] [--rule Op]
//
// --rule Op lists every node emitted by Op's VJP rule ('?' = the loss and gradient sums, 'fwd', 'ort').
//
// --loss proposed builds ce-avg as bench/common.ts ceAvgProposed (a change proposed for src/losses/common.ts).
// --relu nchwc swaps in the experimental Relu VJP bench/common.ts reluNchwc.
//
// --optimized also writes onnxruntime's optimised graph (tools/bench/.cache/profile/<arch>.opt.onnx) to see
// which fusions happened. Profiles land in tools/bench/.cache/profile/.
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import ort from 'onnxruntime-node';
import { serializeGraph } from '../src/onnx/serialize.js';
import { ARCHS, args, CACHE, cosine, type GradGraphOptions, gradGraph, LABELS, loadArch, reluNchwc } from './common.js';

interface ProfileEvent {
  cat: string;
  name: string;
  dur: number;
  args?: { op_name?: string; provider?: string; output_type_shape?: Record<string, number[]>[] };
}

export interface OpTime {
  key: string;
  ms: number;
  calls: number;
}

export interface Profile {
  /** Mean ms per run: sum of node kernel times (sequential execution: ~ the run's wall time). */
  totalMs: number;
  wallMs: number;
  byOp: OpTime[];
  byNode: OpTime[];
  /** Backward time by the forward op type whose VJP rule emitted the nodes. */
  byRule: OpTime[];
  /** Node times with the rule (or 'fwd' / 'ort') in front, for --rule. */
  nodeRule: Map<string, string>;
}

function add(m: Map<string, OpTime>, key: string, us: number): void {
  const t = m.get(key) ?? { key, ms: 0, calls: 0 };
  t.ms += us / 1000;
  t.calls++;
  m.set(key, t);
}

export async function profileArch(arch: string, reps: number, threads: number, optimized: boolean, opts: GradGraphOptions = {}): Promise<Profile> {
  const a = loadArch(arch);
  const { graph, forwardNodes, origin } = gradGraph(a, opts);
  // onnxruntime renames nodes it rewrites (<name>_nchwc, <name>/MatMulScaleFusion/...): map them back by prefix.
  const known = [...origin.keys()].sort((p, q) => q.length - p.length);
  const ruleOf = (node: string): string => origin.get(node) ?? origin.get(known.find((k) => node.startsWith(k)) ?? '') ?? '?';
  const dir = join(CACHE, 'profile');
  mkdirSync(dir, { recursive: true });
  const prefix = join(dir, arch);
  for (const f of readdirSync(dir)) if (f.startsWith(`${arch}_`) && f.endsWith('.json')) rmSync(join(dir, f));
  const bytes = serializeGraph(graph);
  writeFileSync(`${prefix}.grad.onnx`, bytes);
  const sess = await ort.InferenceSession.create(bytes, {
    intraOpNumThreads: threads,
    interOpNumThreads: 1,
    graphOptimizationLevel: 'all',
    executionMode: 'sequential',
    logSeverityLevel: 3,
    enableProfiling: true,
    profileFilePrefix: prefix,
    ...(optimized ? { optimizedModelFilePath: `${prefix}.opt.onnx` } : {}),
  });
  const feeds = {
    [graph.inputs[0].name]: new ort.Tensor('float32', a.x.data, a.x.dims),
    [LABELS]: new ort.Tensor('int64', a.labels.data as BigInt64Array, a.labels.dims),
  };
  const warm = 2;
  let gradOut: Float32Array | undefined;
  const walls: number[] = [];
  for (let k = 0; k < warm + reps; k++) {
    const t = performance.now();
    const out = await sess.run(feeds);
    walls.push(performance.now() - t);
    gradOut = out[graph.outputs[2].name].data as Float32Array;
  }
  sess.endProfiling();
  await sess.release();
  const file = readdirSync(dir).find((f) => f.startsWith(`${arch}_`) && f.endsWith('.json'));
  if (!file) throw new Error('no profile written');
  const events = JSON.parse(readFileSync(join(dir, file), 'utf8')) as ProfileEvent[];
  // Skip the warm-up runs: the profiler marks each run with a 'model_run' session event.
  const runs = events.filter((e) => e.cat === 'Session' && e.name === 'model_run');
  const startOf = (e: ProfileEvent & { ts?: number }) => e.ts ?? 0;
  const from = startOf(runs[warm] as ProfileEvent & { ts?: number });
  const byOp = new Map<string, OpTime>();
  const byNode = new Map<string, OpTime>();
  const byRule = new Map<string, OpTime>();
  const nodeRule = new Map<string, string>();
  let total = 0;
  for (const e of events as (ProfileEvent & { ts?: number })[]) {
    if (e.cat !== 'Node' || !e.name.endsWith('_kernel_time') || startOf(e) < from) continue;
    const node = e.name.slice(0, -'_kernel_time'.length);
    const side = forwardNodes.has(node) ? 'fwd' : node.startsWith('rs/') ? 'bwd' : 'ort';
    add(byOp, `${side} ${e.args?.op_name ?? '?'}`, e.dur);
    if (side === 'bwd') add(byRule, ruleOf(node), e.dur);
    const shapes = (e.args?.output_type_shape ?? []).map((o) => `[${Object.values(o)[0]}]`).join(' ');
    const key = `${node} (${e.args?.op_name}) -> ${shapes}`;
    add(byNode, key, e.dur);
    nodeRule.set(key, side === 'bwd' ? ruleOf(node) : side);
    total += e.dur;
  }
  const per = (m: Map<string, OpTime>) => [...m.values()].map((t) => ({ key: t.key, ms: t.ms / reps, calls: t.calls / reps })).sort((p, q) => q.ms - p.ms);
  const wall = walls.slice(warm).sort((p, q) => p - q)[reps >> 1];
  if (gradOut) process.stderr.write(`${arch}: gradient cosine vs PyTorch float64 ${cosine(gradOut, a.grad64).toFixed(8)}\n`);
  return { totalMs: total / 1000 / reps, wallMs: wall, byOp: per(byOp), byNode: per(byNode), byRule: per(byRule), nodeRule };
}

async function main(): Promise<void> {
  const o = args(process.argv.slice(2));
  const arch = o.get('arch');
  if (!arch || !ARCHS.includes(arch)) throw new Error(`--arch must be one of ${ARCHS.join(', ')}`);
  const loss = o.get('loss') === 'proposed' ? 'proposed' : 'shipped';
  const rules = o.get('relu') === 'nchwc' ? { Relu: reluNchwc } : undefined;
  const p = await profileArch(arch, Number(o.get('reps') ?? 10), Number(o.get('threads') ?? 2), o.has('optimized'), { loss, rules });
  const top = Number(o.get('top') ?? 25);
  const line = (t: { key: string; ms: number; calls: number }) => `${t.ms.toFixed(2).padStart(9)} ms ${t.calls.toFixed(0).padStart(4)}x  ${t.key}`;
  const out = [
    `${arch}: median run ${p.wallMs.toFixed(1)} ms; node kernel time ${p.totalMs.toFixed(1)} ms per run`,
    '-- by op type (fwd: forward nodes, bwd: loss + backward, ort: nodes onnxruntime created by fusion)',
    ...p.byOp.slice(0, top).map(line),
    '-- backward (bwd) time by the forward op whose VJP rule emitted it (calls: backward nodes; ? = the loss)',
    ...p.byRule.slice(0, top).map(line),
    '-- by node',
    ...p.byNode.slice(0, top).map(line),
  ];
  const rule = o.get('rule');
  if (rule !== undefined) out.push(`-- nodes of rule ${rule}`, ...p.byNode.filter((t) => p.nodeRule.get(t.key) === rule).map(line));
  process.stdout.write(`${out.join('\n')}\n`);
}

main().catch((e: unknown) => {
  process.stderr.write(`${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
  process.exit(1);
});
