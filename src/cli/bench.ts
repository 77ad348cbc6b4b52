// `robustscope bench`: forward and forward+loss+input-gradient timings on random input, and
// what they mean for a full SEA evaluation.

import { availableParallelism } from 'node:os';
import { performance } from 'node:perf_hooks';
import { loadModel } from '../runtime/model.js';
import { Rng } from '../util/random.js';
import { CliError, type Command, flag, type Io, int, parse, required, round, shapeText, stats } from './common.js';

const HELP = `usage: robustscope bench --model M.onnx [--batch 4] [--size 256] [--reps 10] [--threads N] [--json]

Times the forward pass and lossAndGrad (forward + ce-avg loss + input gradient) on a seeded random
batch (labels: random class ids shaped like the logits). 2 warm-up runs each (the first also
compiles), then --reps timed runs each; prints median/min/max ms and an SEA cost estimate (3 x 300 forward+gradient passes per image):
  seconds per image = 3 losses x 300 iterations x (forward ms + grad ms) / batch / 1000

  --model M.onnx   the model
  --batch N        images per batch (default 4; a batch size fixed by the model wins)
  --size S         image height and width (default 256; static H,W of the model win)
  --reps R         timed runs (default 10)
  --threads N      onnxruntime threads (default: all cores)
  --seed S         seed of the random input (default 0)
  --json           print one JSON object
  -h, --help       this help`;

export interface BenchReport {
  model: string;
  batch: number;
  size: number | [number, number];
  threads: number;
  forwardMs: { median: number; min: number; max: number };
  gradMs: { median: number; min: number; max: number };
  seaSecondsPerImage: number;
  peakRssMB: number;
}

const WARMUP = 2;

export const benchCommand: Command = {
  name: 'bench',
  summary: 'time forward and gradient passes; estimate SEA cost per image',
  help: HELP,
  async run(argv: string[], io: Io): Promise<number> {
    const p = parse(argv, {
      model: { type: 'string' },
      batch: { type: 'string' },
      size: { type: 'string' },
      reps: { type: 'string' },
      threads: { type: 'string' },
      seed: { type: 'string' },
      json: { type: 'boolean' },
    });
    if (flag(p, 'help')) {
      io.stdout.write(`${HELP}\n`);
      return 0;
    }
    const path = required(p, 'model');
    const batchArg = int(p, 'batch', undefined, 1);
    const sizeArg = int(p, 'size', undefined, 1);
    const reps = int(p, 'reps', 10, 1);
    const threadsArg = int(p, 'threads', undefined, 1);
    const seed = int(p, 'seed', 0);
    const json = flag(p, 'json');
    const warn = (msg: string) => io.stderr.write(`robustscope: warning: ${msg}\n`);

    const model = await loadModel(path, { threads: threadsArg });
    const declared = model.inputShape;
    if (declared.length !== 4) throw new CliError(`bench needs an image input [N,C,H,W]; the model's input '${model.inputName}' is ${shapeText(declared)}`);
    // Fixed dims of the model win over the flags (warn only when a flag was given and differs).
    const pick = (d: number | string, arg: number | undefined, dflt: number, what: string): number => {
      if (typeof d === 'number') {
        if (arg !== undefined && arg !== d) warn(`the model fixes the ${what} to ${d}; ignoring ${arg}`);
        return d;
      }
      return arg ?? dflt;
    };
    const N = pick(declared[0], batchArg, 4, 'batch size');
    const C = typeof declared[1] === 'number' ? declared[1] : 3;
    const H = pick(declared[2], sizeArg, 256, 'height');
    const W = pick(declared[3], sizeArg, 256, 'width');
    const dims = [N, C, H, W];
    const rng = new Rng(seed);
    const r = () => rng.next();
    const x = { data: Float32Array.from({ length: N * C * H * W }, r), dims };

    // Warm-up (the first forward also compiles, and tells us the logits' shape for the labels).
    const first = await model.forward(x);
    const ld = first.logitsDims;
    if (ld.length < 2) throw new CliError(`the model's output '${model.outputName}' has shape ${shapeText(ld)}; logits must be [N,K] or [N,K,H,W]`);
    const K = ld[1];
    const labelDims = [ld[0], ...ld.slice(2)];
    const labels = { data: BigInt64Array.from({ length: labelDims.reduce((a, c) => a * c, 1) }, () => BigInt(Math.floor(r() * K))), dims: labelDims };
    const req = { loss: 'ce-avg', ignoreIndex: 255 };
    for (let k = 1; k < WARMUP; k++) await model.forward(x);
    for (let k = 0; k < WARMUP; k++) await model.lossAndGrad(x, labels, req);

    const fwd: number[] = [];
    for (let k = 0; k < reps; k++) {
      const t = performance.now();
      await model.forward(x);
      fwd.push(performance.now() - t);
    }
    const grad: number[] = [];
    for (let k = 0; k < reps; k++) {
      const t = performance.now();
      await model.lossAndGrad(x, labels, req);
      grad.push(performance.now() - t);
    }
    const forwardMs = stats(fwd);
    const gradMs = stats(grad);
    const report: BenchReport = {
      model: path,
      batch: N,
      size: H === W ? H : [H, W],
      threads: threadsArg ?? availableParallelism(),
      forwardMs,
      gradMs,
      seaSecondsPerImage: round((3 * 300 * (gradMs.median / N)) / 1000, 3),
      // maxRSS is in kilobytes.
      peakRssMB: round(process.resourceUsage().maxRSS / 1024, 1),
    };
    if (json) {
      io.stdout.write(`${JSON.stringify(report)}\n`);
      return 0;
    }
    const ms = (s: { median: number; min: number; max: number }) => `median ${s.median.toFixed(2)} ms (min ${s.min.toFixed(2)}, max ${s.max.toFixed(2)})`;
    const lines = [
      `model      ${path}`,
      `input      float32 ${shapeText(dims)} (uniform random, seed ${seed}); labels int64 ${shapeText(labelDims)}, ${K} classes`,
      `threads    ${report.threads}`,
      `forward    ${ms(forwardMs)} over ${reps} runs`,
      `grad       ${ms(gradMs)} over ${reps} runs (forward + ce-avg + input gradient)`,
      `SEA        3 losses x 300 iterations x (forward+gradient ms) / batch / 1000 = ${report.seaSecondsPerImage} s per image`,
      `peak RSS   ${report.peakRssMB} MB`,
    ];
    io.stdout.write(`${lines.join('\n')}\n`);
    return 0;
  },
};
