// Engine benchmark, one architecture: robustscope (RobustModel on onnxruntime-node) and PyTorch eager run
// SIDE BY SIDE. Every engine lives in its own worker process (so its peak RSS is its own), driven over
// stdin/stdout by this orchestrator, which alternates their timed runs (the order rotates every
// repetition) so all of them see the same machine load. Writes one JSON file with every timing.
//
//   node tools/bench/.cache/build/bench/engine.js --arch unet [--reps 15] [--warmup 3] [--threads 2] [--pause 20] [--out F.json]
//   (--pause: idle ms before each timed call, so the previous engine's threads have stopped spinning)
//
// Timed, wall clock inside each worker, per call:
//   fwd       robustscope RobustModel.forward (logits)      | PyTorch model(x) under torch.no_grad()
//   fwd+grad  robustscope RobustModel.lossAndGrad(ce-avg)    | PyTorch forward + per-image ce-avg + autograd.grad
//             (logits, per-image losses, input gradient)     |   of their sum w.r.t. the input
// Engines (process environments):
//   robustscope          as users run it.
//   robustscope+malloc   MALLOC_MMAP_THRESHOLD_/MALLOC_TRIM_THRESHOLD_ set, so glibc keeps freed blocks instead
//                        of unmapping them (see below).
//   pytorch              Debian python3-torch as installed (tools/bench/torch_worker.py).
//   pytorch+jemalloc     the same with jemalloc preloaded and told never to return freed pages.
// On this VM the first touch of fresh memory costs ~7-25 us per 4 KiB page (10x+ a bare-metal machine),
// and glibc maps and unmaps large blocks on every run; both engines then pay page faults per run (recorded
// as `faults`). The +malloc/+jemalloc variants show each engine without that tax.
import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { loadModel } from '../src/runtime/model.js';
import { ARCHS, args, CACHE, cosine, loadArch, maxErrOverMax, ROOT, type Stats, stats } from './common.js';

export const JEMALLOC = '/usr/lib/x86_64-linux-gnu/libjemalloc.so.2';
/** glibc: serve blocks up to 32 MiB (the maximum) from the heap and never trim it. */
export const GLIBC_KEEP = { MALLOC_MMAP_THRESHOLD_: String(32 * 1024 * 1024), MALLOC_TRIM_THRESHOLD_: String(2 ** 32) };

export interface EngineStats {
  fwdMs: number[];
  gradMs: number[];
  fwd: Stats;
  grad: Stats;
  /** Median minor page faults per call. */
  fwdFaults: number;
  gradFaults: number;
  maxRssKB: number;
  /** Last gradient against PyTorch's float64 autograd. */
  gradCosine: number;
  gradMaxErrOverMax: number;
  lossMaxRelErr: number;
  /** robustscope: first forward / lossAndGrad call (graph preparation, autodiff, session creation). */
  compileMs?: { fwd: number; grad: number };
  version: string;
  note: string;
}

export interface EngineResult {
  arch: string;
  input: number[];
  size: string;
  threads: number;
  reps: number;
  warmup: number;
  pauseMs: number;
  engines: Record<string, EngineStats>;
  /** 1-minute load average when the architecture started (the machine may be shared). */
  loadAvg: number;
  date: string;
}

type Final = Pick<EngineStats, 'maxRssKB' | 'gradCosine' | 'gradMaxErrOverMax' | 'lossMaxRelErr' | 'compileMs'>;

/** A worker process answering one JSON line per command line. */
class Worker {
  private readonly lines: AsyncIterator<string>;
  version = '';
  private constructor(
    readonly name: string,
    readonly note: string,
    private readonly proc: ChildProcessWithoutNullStreams,
  ) {
    this.lines = createInterface({ input: proc.stdout })[Symbol.asyncIterator]();
  }

  static async start(name: string, note: string, cmd: string, argv: string[], env: Record<string, string>, threads: number): Promise<Worker> {
    const proc = spawn(cmd, argv, { stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, ...env } });
    let err = '';
    proc.stderr.on('data', (d: Buffer) => {
      err += d.toString();
    });
    proc.on('exit', (code) => {
      if (code) process.stderr.write(`${name} worker exited with ${code}\n${err}`);
    });
    const w = new Worker(name, note, proc);
    const hello = (await w.read()) as { ready: boolean; version: string; threads: number };
    if (hello.threads !== threads) throw new Error(`${name} runs ${hello.threads} threads, wanted ${threads}`);
    w.version = hello.version;
    return w;
  }

  private async read(): Promise<Record<string, unknown>> {
    const r = await this.lines.next();
    if (r.done) throw new Error(`${this.name} worker closed its output`);
    const o = JSON.parse(r.value) as Record<string, unknown>;
    if (typeof o.error === 'string') throw new Error(`${this.name} worker: ${o.error}`);
    return o;
  }

  async call(cmd: string): Promise<Record<string, unknown>> {
    this.proc.stdin.write(`${cmd}\n`);
    return this.read();
  }

  async run(kind: 'fwd' | 'grad'): Promise<{ ms: number; faults: number }> {
    const r = await this.call(kind);
    return { ms: r.ms as number, faults: r.faults as number };
  }

  async finish(): Promise<Final> {
    const s = (await this.call('stats')) as unknown as Final;
    this.proc.stdin.end('quit\n');
    return s;
  }
}

/** The robustscope worker: this same script with --worker. */
async function robustscopeWorker(arch: string, threads: number): Promise<void> {
  const a = loadArch(arch);
  const model = await loadModel(a.modelPath, { threads });
  const req = { loss: 'ce-avg', ignoreIndex: 255 };
  const t0 = performance.now();
  await model.forward(a.x);
  const t1 = performance.now();
  let last = await model.lossAndGrad(a.x, a.labels, req);
  const compileMs = { fwd: Math.round(t1 - t0), grad: Math.round(performance.now() - t1) };
  const reply = (o: object) => process.stdout.write(`${JSON.stringify(o)}\n`);
  const ort = JSON.parse(readFileSync(join(ROOT, 'node_modules', 'onnxruntime-node', 'package.json'), 'utf8')) as { version: string };
  reply({ ready: true, version: `onnxruntime-node ${ort.version}`, threads });
  for await (const line of createInterface({ input: process.stdin })) {
    const cmd = line.trim();
    if (cmd === 'fwd' || cmd === 'grad') {
      const f0 = process.resourceUsage().minorPageFault;
      const t = performance.now();
      if (cmd === 'fwd') await model.forward(a.x);
      else last = await model.lossAndGrad(a.x, a.labels, req);
      const ms = performance.now() - t;
      reply({ ms, faults: process.resourceUsage().minorPageFault - f0 });
    } else if (cmd === 'stats') {
      reply({
        maxRssKB: process.resourceUsage().maxRSS,
        gradCosine: cosine(last.grad, a.grad64),
        gradMaxErrOverMax: maxErrOverMax(last.grad, a.grad64),
        lossMaxRelErr: Math.max(...a.meta.loss64.map((l, i) => Math.abs(last.losses[i] - l) / Math.abs(l))),
        compileMs,
      });
    } else if (cmd === 'quit') return;
    else reply({ error: `unknown command '${cmd}'` });
  }
}

export async function benchArch(arch: string, reps: number, warmup: number, threads: number, pauseMs = 20): Promise<EngineResult> {
  const loadAvg = Math.round(loadavg()[0] * 100) / 100;
  const a = loadArch(arch);
  const self = fileURLToPath(import.meta.url);
  const py = join(ROOT, 'tools', 'bench', 'torch_worker.py');
  const rsArgs = [self, '--worker', 'robustscope', '--arch', arch, '--threads', String(threads)];
  const pyArgs = [py, arch, String(threads)];
  const workers: Worker[] = [
    await Worker.start('robustscope', 'RobustModel, onnxruntime-node, as users run it', process.execPath, rsArgs, {}, threads),
    await Worker.start(
      'robustscope+malloc',
      `the same with ${Object.entries(GLIBC_KEEP)
        .map(([k, v]) => `${k}=${v}`)
        .join(' ')}`,
      process.execPath,
      rsArgs,
      GLIBC_KEEP,
      threads,
    ),
    await Worker.start('pytorch', 'Debian python3-torch, eager, as installed', '/usr/bin/python3', pyArgs, {}, threads),
  ];
  if (existsSync(JEMALLOC))
    workers.push(
      await Worker.start(
        'pytorch+jemalloc',
        'the same with jemalloc preloaded, freed pages kept (MALLOC_CONF=dirty_decay_ms:-1,muzzy_decay_ms:-1)',
        '/usr/bin/python3',
        pyArgs,
        { LD_PRELOAD: JEMALLOC, MALLOC_CONF: 'dirty_decay_ms:-1,muzzy_decay_ms:-1' },
        threads,
      ),
    );
  else process.stderr.write(`warning: ${JEMALLOC} not found (apt-get install libjemalloc2); no pytorch+jemalloc baseline\n`);

  const times = new Map(workers.map((w) => [w.name, { fwd: [] as number[], grad: [] as number[], fwdF: [] as number[], gradF: [] as number[] }]));
  for (let k = -warmup; k < reps; k++) {
    // Rotate the order, so no engine always runs right after the same other one.
    const order = workers.map((_, i) => workers[(i + Math.max(k, 0)) % workers.length]);
    for (const kind of ['fwd', 'grad'] as const)
      for (const w of order) {
        await sleep(pauseMs);
        const { ms, faults } = await w.run(kind);
        const t = times.get(w.name);
        if (k < 0 || !t) continue;
        t[kind].push(ms);
        t[kind === 'fwd' ? 'fwdF' : 'gradF'].push(faults);
      }
  }
  const engines: Record<string, EngineStats> = {};
  const r3 = (v: number) => Math.round(v * 1000) / 1000;
  const med = (v: number[]) => [...v].sort((p, q) => p - q)[v.length >> 1];
  for (const w of workers) {
    const t = times.get(w.name);
    if (!t) continue;
    engines[w.name] = {
      fwdMs: t.fwd.map(r3),
      gradMs: t.grad.map(r3),
      fwd: stats(t.fwd),
      grad: stats(t.grad),
      fwdFaults: med(t.fwdF),
      gradFaults: med(t.gradF),
      ...(await w.finish()),
      version: w.version,
      note: w.note,
    };
  }
  return { arch, input: a.meta.x.dims, size: a.meta.size, threads, reps, warmup, pauseMs, engines, loadAvg, date: new Date().toISOString() };
}

async function main(): Promise<void> {
  const o = args(process.argv.slice(2));
  const arch = o.get('arch');
  if (!arch || !ARCHS.includes(arch)) throw new Error(`--arch must be one of ${ARCHS.join(', ')}`);
  const threads = Number(o.get('threads') ?? 2);
  if (o.get('worker') === 'robustscope') return robustscopeWorker(arch, threads);
  const reps = Number(o.get('reps') ?? 15);
  const warmup = Number(o.get('warmup') ?? 3);
  const r = await benchArch(arch, reps, warmup, threads, Number(o.get('pause') ?? 20));
  const out = o.get('out') || join(CACHE, 'results', `${arch}.json`);
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(out, `${JSON.stringify(r, null, 1)}\n`);
  const f = (s: Stats) => `${s.median.toFixed(1)} [${s.min.toFixed(1)}-${s.max.toFixed(1)}]`;
  const rs = r.engines.robustscope;
  const parts = Object.entries(r.engines).map(([k, e]) => `${k} fwd ${f(e.fwd)} grad ${f(e.grad)} RSS ${(e.maxRssKB / 1024).toFixed(0)} MB`);
  process.stdout.write(`${arch} (load ${r.loadAvg}): ${parts.join(' | ')} | rs grad cos ${rs.gradCosine.toFixed(7)}\n`);
}

main().catch((e: unknown) => {
  process.stderr.write(`${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
  process.exit(1);
});
