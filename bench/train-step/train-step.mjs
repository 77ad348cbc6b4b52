// robustscope side of the training-step benchmark (bench/train-step/run.sh): one PIR-AT training step =
// model.step with an adversary (PGD-CE, eps 4/255, 2 steps of 0.01, zero init, eval mode, last iterate; then
// training mode, batch-mean CE + 0.4 * aux CE, ignore 255, weight gradients; one onnxruntime run) + AdamW(lr 1e-3, wd 1e-2),
// composed exactly as src/train/loop.ts does, on a fixed batch of the first B images of a folder dataset.
// Before training, writes the eval-mode logits of the batch (float32, raw) for the PyTorch side's check.
//
//   node bench/train-step/train-step.mjs --model M.onnx --data DIR --out R.json [--logits L.bin]
//        [--batch 8] [--warmup 3] [--reps 10] [--threads 2] [--profile PREFIX]      (needs a built dist/)
import { readdirSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const dist = (p) => import(pathToFileURL(join(root, 'dist', 'src', p)).href);
const { readOnnxFile } = await dist('onnx/load.js');
const { readRgb, readLabel } = await dist('data/image.js');
const { TrainableModel } = await dist('train/trainable.js');
const { AdamW } = await dist('train/optim.js');

const { values: a } = parseArgs({
  options: {
    model: { type: 'string' },
    data: { type: 'string' },
    out: { type: 'string' },
    logits: { type: 'string' },
    batch: { type: 'string', default: '8' },
    warmup: { type: 'string', default: '3' },
    reps: { type: 'string', default: '10' },
    threads: { type: 'string', default: '2' },
    profile: { type: 'string' },
  },
});
if (!a.model || !a.data || !a.out) {
  console.error(
    'usage: node bench/train-step/train-step.mjs --model M.onnx --data DIR --out R.json [--logits L.bin] [--batch 8] [--warmup 3] [--reps 10] [--threads 2]',
  );
  process.exit(2);
}
const B = Number(a.batch);
const threads = Number(a.threads);
const AUX = 'aux_logits';
const ADV = { eps: 4 / 255, steps: 2, stepSize: 0.01 };
const IGNORE = 255;

// The batch: the first B images (sorted names) and their labels.
const names = readdirSync(join(a.data, 'images')).sort().slice(0, B);
if (names.length < B) throw new Error(`${a.data}/images has ${names.length} images, fewer than the batch ${B}`);
const first = await readRgb(join(a.data, 'images', names[0]));
const [H, W] = [first.height, first.width];
const x = { data: new Float32Array(B * 3 * H * W), dims: [B, 3, H, W] };
const labels = { data: new Int32Array(B * H * W), dims: [B, H, W] };
for (const [i, n] of names.entries()) {
  x.data.set((await readRgb(join(a.data, 'images', n))).data, i * 3 * H * W);
  labels.data.set((await readLabel(join(a.data, 'labels', n))).data, i * H * W);
}

const onnx = readOnnxFile(a.model);
const hasAux = onnx.graph.outputs.some((o) => o.name === AUX);
const aux = hasAux ? [{ output: AUX, weight: 0.4 }] : [];
const model = TrainableModel.fromOnnx(onnx, { threads, seed: 0, profilePrefix: a.profile });
const opt = new AdamW(model, { lr: 1e-3, weightDecay: 1e-2 });
const nParams = [...model.parameters().values()].reduce((s, p) => s + p.length, 0);

// Eval-mode logits of the initial weights (the PyTorch rebuild must reproduce them).
const t0 = performance.now();
const ev = await model.forward(x, { training: false });
const evalFirstMs = performance.now() - t0;
if (a.logits) writeFileSync(a.logits, Buffer.from(ev.logits.buffer, ev.logits.byteOffset, ev.logits.byteLength));

const steps = [];
let faultsAtTimed = 0;
const warmup = Number(a.warmup);
const reps = Number(a.reps);
for (let s = 0; s < warmup + reps; s++) {
  if (s === warmup) faultsAtTimed = process.resourceUsage().minorPageFault;
  const cpu0 = process.cpuUsage();
  const ta = performance.now();
  // As src/train/loop.ts: the attack and the training pass in one call (TrainableModel.step with an adversary).
  const r = await model.step(x, labels, { reduction: 'mean', aux, ignoreIndex: IGNORE, adversary: ADV });
  const tc = performance.now();
  opt.step(r.grads);
  const td = performance.now();
  const cpu = process.cpuUsage(cpu0);
  steps.push({ warmup: s < warmup, total: td - ta, attackTrain: tc - ta, optim: td - tc, cpu: (cpu.user + cpu.system) / 1000, loss: r.loss });
}
const faultsPerStep = (process.resourceUsage().minorPageFault - faultsAtTimed) / reps;
await model.release();

const timed = steps.filter((s) => !s.warmup);
const median = (v) => {
  const s = [...v].sort((p, q) => p - q);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
const stat = (k) => ({ median: median(timed.map((s) => s[k])), min: Math.min(...timed.map((s) => s[k])) });
const result = {
  engine: 'robustscope',
  model: a.model,
  batch: [B, 3, H, W],
  threads,
  aux: hasAux,
  params: nParams,
  warmup,
  reps,
  ms: { total: stat('total'), attackTrain: stat('attackTrain'), optim: stat('optim'), cpu: stat('cpu') },
  firstStepMs: steps[0].total,
  evalFirstMs,
  faultsPerStep,
  losses: steps.map((s) => s.loss),
  steps,
  maxRssMB: process.resourceUsage().maxRSS / 1024,
  versions: { node: process.version },
};
writeFileSync(a.out, JSON.stringify(result, null, 1));
console.log(
  `robustscope ${onnx.graph.name}: ${result.ms.total.median.toFixed(1)} ms/step median (min ${result.ms.total.min.toFixed(1)}; attack + train ${result.ms.attackTrain.median.toFixed(1)}, optim ${result.ms.optim.median.toFixed(1)}), first step ${result.firstStepMs.toFixed(0)} ms, RSS ${result.maxRssMB.toFixed(0)} MB`,
);
