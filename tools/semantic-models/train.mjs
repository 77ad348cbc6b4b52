// Dev-time: trains the bundled classifiers of rendered meshes (models/mesh-cls-*.onnx) with robustscope's
// own trainer (src/train/loop.ts) on renders from src/semantic/render-data.ts. Uses the compiled dist/:
//
//   npx tsc -p tsconfig.build.json
//   node tools/semantic-models/train.mjs clean   # -> models/mesh-cls-clean.onnx + .json
//   node tools/semantic-models/train.mjs at      # -> models/mesh-cls-at.onnx + .json
//
// Options: --arch NAME (default resnet18-half-cls) --epochs N --count N (renders per epoch) --size S (default 224, the
// spec's render size) --elevation LO,HI --threads T --test N --work DIR --out DIR --eval-only
// The held-out test split (seed 3) is evaluated clean and under PGD after training and written to the .json.
import { copyFileSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildArch } from '../../dist/src/arch/index.js';
import { readOnnxFile } from '../../dist/src/onnx/load.js';
import { renderData } from '../../dist/src/semantic/render-data.js';
import { evaluateSplit, train } from '../../dist/src/train/loop.js';
import { TrainableModel } from '../../dist/src/train/trainable.js';

const MODES = {
  // Plain cross-entropy on clean renders.
  clean: { adv: undefined },
  // Same architecture, every batch replaced by its PGD-CE adversarial version (pirat.md recipe, reduced).
  at: { adv: { eps: 8 / 255, steps: 2, stepSize: 5 / 255 } },
};

function arg(name, fallback) {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1] : fallback;
}

const mode = process.argv[2];
if (!(mode in MODES)) {
  console.error(`usage: node tools/semantic-models/train.mjs (${Object.keys(MODES).join('|')}) [--epochs N] [--count N] [--size S]`);
  process.exit(2);
}
const spec = { ...MODES[mode], arch: arg('arch', 'resnet18-half-cls') };
const epochs = Number(arg('epochs', '6'));
const count = Number(arg('count', '3000'));
const size = Number(arg('size', '224'));
const threads = Number(arg('threads', '2'));
const work = arg('work', join('tmp', 'semantic-models', mode));
const outDir = arg('out', 'models');
const testCount = Number(arg('test', '1000'));
const name = `mesh-cls-${mode}`;
// Training viewpoints: elevation restricted (default [-10, 30) of the map's [-10, 90)), so views from
// high above are unseen, as unusual viewpoints are for photo-trained networks: the maps have structure.
const elevation = arg('elevation', '-10,30').split(',').map(Number);

const split = (seed, n) => renderData({ count: n, size, seed, elevation });
const trainSplit = split(1, count);
const valSplit = split(2, 300);
const testSplit = split(3, testCount);
// The whole map domain (azimuth [0,360) x elevation [-10,90)), reference distance and light: what the maps see.
const domainSplit = renderData({ count: testCount, size, seed: 4, distanceJitter: 0, lightJitter: 0 });
const classes = trainSplit.classes;

const config = {
  epochs,
  batch: 32,
  crop: size,
  seed: 0,
  optimizer: { kind: 'adamw', lr: 3e-3, weightDecay: 1e-2 },
  schedule: { power: 1, warmupIters: 20, warmupRatio: 0.1, minLr: 0 },
  adv: spec.adv,
  auxWeight: 0,
  auxOutput: 'aux_logits',
  // Mild scale jitter only (the renders already vary distance); flips are mirror viewpoints; no blur.
  augment: { scaleRange: [0.9, 1.1], flipP: 0.5, blurP: 0 },
  eval: { every: 1, eps: 4 / 255, steps: 5, limit: 300 },
  threads,
};

const t0 = performance.now();
const model = buildArch(spec.arch, { classes: classes.length, seed: 0, inputSize: size });
let result;
if (!process.argv.includes('--eval-only')) {
  result = await train({
    model,
    train: trainSplit,
    val: valSplit,
    config,
    out: work,
    identity: { data: 'renderData', size, trainSeed: 1, valSeed: 2, classes, elevation },
    events: {
      onEpoch: (e) => console.log(`epoch ${e.epoch}: loss ${e.loss.toFixed(4)} lr ${e.lr.toExponential(2)} ${e.seconds.toFixed(1)} s (attack ${e.attackSeconds.toFixed(1)} s)`),
      onEval: (e) => console.log(`  val: clean acc ${(100 * e.clean.acc).toFixed(1)}%, PGD-${e.steps} ${(255 * e.eps).toFixed(0)}/255 acc ${(100 * e.adv.acc).toFixed(1)}%`),
      onResume: (s) => console.log(`resuming after epoch ${s.epoch}`),
    },
  });
}
const trainSeconds = (performance.now() - t0) / 1000;

// Held-out test split: clean and PGD at a few radii.
const trained = TrainableModel.fromOnnx(readOnnxFile(join(work, 'model.onnx')), { threads, seed: 0 });
const test = {};
for (const eps of [0, 2, 4, 8]) {
  const e = await evaluateSplit(trained, testSplit, { ...config, eval: { every: 1, eps: eps / 255, steps: eps === 0 ? 0 : 10 } }, epochs);
  if (eps === 0) test.clean = e.clean.acc;
  else test[`pgd10_${eps}`] = e.adv.acc;
  console.log(`test (${testCount} renders, seed 3): eps ${eps}/255 acc ${(100 * (eps === 0 ? e.clean.acc : e.adv.acc)).toFixed(1)}%`);
}
{
  const e = await evaluateSplit(trained, domainSplit, { ...config, eval: { every: 1, eps: 0, steps: 0 } }, epochs);
  test.clean_full_domain = e.clean.acc;
  console.log(`full map domain (${testCount} renders, seed 4, reference distance and light): acc ${(100 * e.clean.acc).toFixed(1)}%`);
}
await trained.release();

mkdirSync(outDir, { recursive: true });
copyFileSync(join(work, 'model.onnx'), join(outDir, `${name}.onnx`));
const log = JSON.parse(readFileSync(join(work, 'train.json'), 'utf8'));
const meta = {
  model: `${name}.onnx`,
  produced_by: `node tools/semantic-models/train.mjs ${process.argv.slice(2).join(' ')}`,
  architecture: spec.arch,
  parameters: countParams(readOnnxFile(join(outDir, `${name}.onnx`))),
  bytes: statSync(join(outDir, `${name}.onnx`)).size,
  input: { name: 'image', shape: [null, 3, size, size], range: '[0,1] RGB render (renderer of src/semantic/render.ts, 2x supersampling)' },
  output: { name: 'logits', shape: [null, classes.length] },
  classes,
  data: {
    generator: 'src/semantic/render-data.ts renderData',
    size,
    train: { count, seed: 1 },
    val: { count: 300, seed: 2 },
    test: { count: testCount, seed: 3 },
    viewpoints: `azimuth U[0,360), elevation U[${elevation.join(',')}), distance 2.732*(1+-0.1), light within 20 deg of straight up`,
    full_domain_test: { count: testCount, seed: 4, viewpoints: 'azimuth U[0,360), elevation U[-10,90), distance 2.732, light (0,1,0)' },
  },
  config,
  train_wall_seconds: result ? result.state.seconds : log.seconds,
  script_wall_seconds: trainSeconds,
  test,
  log: { epochs: log.epochs, evals: log.evals },
};
writeFileSync(join(outDir, `${name}.json`), `${JSON.stringify(meta, null, 1)}\n`);
console.log(`wrote ${join(outDir, `${name}.onnx`)} (${meta.bytes} bytes, ${meta.parameters} parameters)`);

function countParams(m) {
  let n = 0;
  for (const t of m.graph.initializers.values()) if (t.dims.length > 0) n += t.dims.reduce((a, b) => a * b, 1);
  return n;
}
