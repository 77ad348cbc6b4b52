// Summarises onnxruntime profile JSON files (TrainableModel option profilePrefix, one file per compiled
// session): per file, the session's runs and the kernel time per op type per run, largest first.
// Usage: node tools/train-bench/ort-profile-summary.mjs PROFILE.json... [--top 12]
import { readFileSync } from 'node:fs';

const args = process.argv.slice(2);
const ti = args.indexOf('--top');
const top = ti >= 0 ? Number(args.splice(ti, 2)[1]) : 12;
for (const file of args) {
  const events = JSON.parse(readFileSync(file, 'utf8'));
  const runs = events.filter((e) => e.cat === 'Session' && e.name === 'model_run');
  const byOp = new Map();
  let kernel = 0;
  for (const e of events) {
    if (e.cat !== 'Node' || !e.name.endsWith('_kernel_time')) continue;
    const op = e.args?.op_name ?? '?';
    const o = byOp.get(op) ?? { us: 0, n: 0 };
    o.us += e.dur;
    o.n++;
    byOp.set(op, o);
    kernel += e.dur;
  }
  const n = Math.max(1, runs.length);
  const runUs = runs.reduce((s, e) => s + e.dur, 0);
  console.log(`${file}: ${runs.length} runs, ${(runUs / n / 1000).toFixed(1)} ms/run wall, ${(kernel / n / 1000).toFixed(1)} ms/run in kernels`);
  for (const [op, o] of [...byOp].sort((p, q) => q[1].us - p[1].us).slice(0, top))
    console.log(`  ${op.padEnd(26)} ${(o.us / n / 1000).toFixed(2).padStart(8)} ms/run  ${((100 * o.us) / kernel).toFixed(1).padStart(5)}%  ${(o.n / n).toFixed(0)} kernels/run`);
}
