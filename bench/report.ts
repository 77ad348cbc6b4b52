// Collects the per-architecture results of bench/run-engine.sh (tools/bench/.cache/results/round-*/<arch>.json)
// into bench/results/engine.json (every raw timing) and bench/results/engine.md (the tables).
//
//   node tools/bench/.cache/build/bench/report.js [--in DIR] [--out bench/results]
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import { ARCHS, args, CACHE, ROOT, type Stats, stats } from './common.js';
import type { EngineResult } from './engine.js';

const RS = 'robustscope';
const RSM = 'robustscope+malloc';
const PT = 'pytorch';
const PTJ = 'pytorch+jemalloc';

interface EngineSummary {
  fwd: Stats;
  grad: Stats;
  maxRssKB: number;
  roundMedians: number[];
  gradFaults: number;
}

function summarize(rr: EngineResult[], name: string): EngineSummary | undefined {
  if (!rr.every((r) => r.engines[name])) return undefined;
  const all = (k: 'fwdMs' | 'gradMs') => rr.flatMap((r) => r.engines[name][k]);
  return {
    fwd: stats(all('fwdMs')),
    grad: stats(all('gradMs')),
    maxRssKB: Math.max(...rr.map((r) => r.engines[name].maxRssKB)),
    roundMedians: rr.map((r) => r.engines[name].grad.median),
    gradFaults: Math.max(...rr.map((r) => r.engines[name].gradFaults)),
  };
}

const fmt = (s: Stats | undefined) => (s ? `${s.median.toFixed(1)} (${s.min.toFixed(1)}–${s.max.toFixed(1)})` : '-');
const mb = (e: EngineSummary | undefined) => (e ? `${Math.round(e.maxRssKB / 1024)}` : '-');
const ratio = (a: EngineSummary | undefined, b: EngineSummary | undefined) => (a && b ? (a.grad.median / b.grad.median).toFixed(2) : '-');

function machine(): { cpu: string; cores: number; memGB: number; node: string } {
  const c = cpus();
  return { cpu: c[0]?.model ?? '?', cores: c.length, memGB: Math.round(totalmem() / 2 ** 30), node: process.version };
}

function main(): void {
  const o = args(process.argv.slice(2));
  const inDir = o.get('in') || join(CACHE, 'results');
  const outDir = o.get('out') || join(ROOT, 'bench', 'results');
  const rounds = readdirSync(inDir)
    .filter((d) => d.startsWith('round-'))
    .sort();
  const rows: { arch: string; rounds: EngineResult[] }[] = [];
  for (const arch of ARCHS) {
    const files = rounds.map((d) => join(inDir, d, `${arch}.json`)).filter((f) => existsSync(f));
    if (files.length) rows.push({ arch, rounds: files.map((f) => JSON.parse(readFileSync(f, 'utf8')) as EngineResult) });
  }
  if (!rows.length) throw new Error(`no results under ${inDir}`);
  const first = rows[0].rounds[0];
  const summary = rows.map(({ arch, rounds: rr }) => {
    const e = { [RS]: summarize(rr, RS), [RSM]: summarize(rr, RSM), [PT]: summarize(rr, PT), [PTJ]: summarize(rr, PTJ) };
    const worst = (k: 'gradCosine' | 'gradMaxErrOverMax', name: string, pick: (...v: number[]) => number) => pick(...rr.map((r) => r.engines[name][k]));
    return {
      arch,
      input: rr[0].input,
      size: rr[0].size,
      engines: e,
      ratioGrad: e[RS] && e[PT] ? e[RS].grad.median / e[PT].grad.median : undefined,
      ratioGradBest: e[RS] && e[PTJ] ? e[RS].grad.median / e[PTJ].grad.median : undefined,
      gradCosine: worst('gradCosine', RS, Math.min),
      gradMaxErrOverMax: worst('gradMaxErrOverMax', RS, Math.max),
      torchGradCosine: worst('gradCosine', PT, Math.min),
      compileMs: rr[0].engines[RS].compileMs,
      loadAvg: rr.map((r) => r.loadAvg),
    };
  });

  mkdirSync(outDir, { recursive: true });
  writeFileSync(join(outDir, 'engine.json'), `${JSON.stringify({ machine: machine(), summary, raw: rows }, null, 1)}\n`);

  const m = machine();
  const versions = Object.values(first.engines)
    .map((e) => e.version)
    .filter((v, i, a) => a.indexOf(v) === i)
    .join(', ');
  const lines = [
    '# Engine benchmark: robustscope vs PyTorch, forward + input gradient',
    '',
    `\`bench/run-engine.sh\`, ${first.date.slice(0, 10)}: ${m.cpu}, ${m.cores} cores, ${m.memGB} GB, Node ${m.node}; ${versions}; ` +
      `${first.threads} threads for every engine. Per architecture ${rows[0].rounds.length} round(s) x ${first.reps} timed calls ` +
      `(after ${first.warmup} warm-up calls), the engines alternating call by call, each in its own process.`,
    '',
    'ms: median (min–max) over all timed calls. **ratio** = robustscope fwd+grad median / PyTorch fwd+grad median (below 1: robustscope faster).',
    '',
    '| arch | input | robustscope fwd | robustscope fwd+grad | PyTorch fwd | PyTorch fwd+grad | ratio | peak RSS MB robustscope / PyTorch |',
    '|---|---|---|---|---|---|---|---|',
    ...summary.map((s) => {
      const e = s.engines;
      return `| ${s.arch} | ${s.input.join('x')} | ${fmt(e[RS]?.fwd)} | ${fmt(e[RS]?.grad)} | ${fmt(e[PT]?.fwd)} | ${fmt(e[PT]?.grad)} | **${ratio(e[RS], e[PT])}** | ${mb(e[RS])} / ${mb(e[PT])} |`;
    }),
    '',
    'Without the page-fault tax of this VM (see below): robustscope with glibc told to keep freed memory, PyTorch with jemalloc.',
    '',
    '| arch | robustscope+malloc fwd | robustscope+malloc fwd+grad | PyTorch+jemalloc fwd | PyTorch+jemalloc fwd+grad | ratio | robustscope vs PyTorch+jemalloc | page faults per fwd+grad: rs / rs+malloc / pt / pt+jemalloc | peak RSS MB |',
    '|---|---|---|---|---|---|---|---|---|',
    ...summary.map((s) => {
      const e = s.engines;
      const f = (x: EngineSummary | undefined) => (x ? String(x.gradFaults) : '-');
      return `| ${s.arch} | ${fmt(e[RSM]?.fwd)} | ${fmt(e[RSM]?.grad)} | ${fmt(e[PTJ]?.fwd)} | ${fmt(e[PTJ]?.grad)} | **${ratio(e[RSM], e[PTJ])}** | ${ratio(e[RS], e[PTJ])} | ${f(e[RS])} / ${f(e[RSM])} / ${f(e[PT])} / ${f(e[PTJ])} | ${mb(e[RSM])} / ${mb(e[PTJ])} |`;
    }),
    '',
    'What is timed (wall clock inside each worker process, one call each):',
    '- robustscope fwd: `RobustModel.forward(x)` (logits). fwd+grad: `RobustModel.lossAndGrad(x, labels, {loss: "ce-avg"})`: logits, per-image',
    '  ce-avg (mean over all pixels of the cross-entropy, ignore index 255) and the input gradient of their sum, in one onnxruntime run.',
    '- PyTorch fwd: `model(x)` under `torch.no_grad()`. fwd+grad: forward, per-image ce-avg, `torch.autograd.grad(loss.sum(), x)`;',
    '  parameters have requires_grad=False (only the input gradient is wanted, as in robustscope).',
    '- Page faults: on this VM the first touch of a fresh 4 KiB page costs ~7 µs idle and 25 µs+ under load (10x+ bare metal). glibc returns',
    '  large freed blocks to the OS, so every run that allocates them faults again: eager PyTorch for its activations, robustscope for',
    "  buffers allocated around onnxruntime's run. `+malloc` = `MALLOC_MMAP_THRESHOLD_=33554432 MALLOC_TRIM_THRESHOLD_=4294967296` in the",
    '  environment; `+jemalloc` = `LD_PRELOAD=libjemalloc.so.2 MALLOC_CONF=dirty_decay_ms:-1,muzzy_decay_ms:-1`. Counts are medians per call',
    '  (worst round).',
    '- Peak RSS: of each worker process (robustscope: Node, the JS model, both compiled onnxruntime sessions; PyTorch: Python, torch, the model).',
    '',
    'Inputs (`tools/bench/archs.py`): the fixture architectures of `tools/fixtures`, same seeded weights, batch 4:',
    ...summary.map((s) => `- ${s.arch}: ${s.input.join('x')} (${s.size})`),
    '',
    'The benchmarked gradients against PyTorch float64 autograd (same weights and inputs; worst over rounds):',
    '',
    '| arch | robustscope grad cosine | robustscope max abs err / max abs grad | PyTorch float32 grad cosine | robustscope first-call ms (fwd / fwd+grad compile) |',
    '|---|---|---|---|---|',
    ...summary.map(
      (s) =>
        `| ${s.arch} | ${s.gradCosine.toFixed(8)} | ${s.gradMaxErrOverMax.toExponential(1)} | ${s.torchGradCosine.toFixed(8)} | ${s.compileMs ? `${s.compileMs.fwd} / ${s.compileMs.grad}` : '-'} |`,
    ),
    '',
    'Noise: the machine is shared with other jobs. Per-round fwd+grad medians (ms) and the 1-minute load average when each round started:',
    '',
    '| arch | robustscope | robustscope+malloc | PyTorch | PyTorch+jemalloc | load |',
    '|---|---|---|---|---|---|',
    ...summary.map((s) => {
      const r = (x: EngineSummary | undefined) => (x ? x.roundMedians.map((v) => v.toFixed(1)).join(', ') : '-');
      const e = s.engines;
      return `| ${s.arch} | ${r(e[RS])} | ${r(e[RSM])} | ${r(e[PT])} | ${r(e[PTJ])} | ${s.loadAvg.map((l) => l.toFixed(1)).join(', ')} |`;
    }),
    '',
  ];
  writeFileSync(join(outDir, 'engine.md'), lines.join('\n'));
  process.stdout.write(`${lines.slice(6, 8 + summary.length).join('\n')}\n\n${lines.slice(12, 14 + summary.length).join('\n')}\n`);
}

main();
