// Dev-time: writes models/shapes-seg-<mode>.json (training config and log, test metrics) after
// tools/demo-models/train.sh. Usage: node tools/demo-models/write-meta.mjs MODE WORK COMMAND
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { readOnnxFile } from '../../dist/src/onnx/load.js';

const [mode, work, command] = process.argv.slice(2);
const read = (p) => JSON.parse(readFileSync(p, 'utf8'));
const train = read(join(work, mode, 'train.json'));
const test = read(join(work, `${mode}-test`, 'results.json'));
const time = read(join(work, `${mode}.time.json`));
const file = `shapes-seg-${mode}.onnx`;
const pct = (v) => Math.round(1e4 * v) / 100;
const byEps = Object.fromEntries(
  test.byEps.map((e) => {
    const r = Object.values(e.attacks)[0];
    return [`${e.eps}/255`, { acc: pct(r.meanImageAcc ?? r.aAcc), mIoU: pct(r.mIoU) }];
  }),
);
const meta = {
  model: file,
  produced_by: command,
  trainer: 'robustscope train (src/train/loop.ts)',
  architecture: train.identity?.init?.arch,
  parameters: [...readOnnxFile(join('models', file)).graph.initializers.values()].reduce((n, t) => n + (t.dims.length ? t.dims.reduce((a, b) => a * b, 1) : 0), 0),
  bytes: statSync(join('models', file)).size,
  input: { name: 'image', shape: [null, 3, null, null], range: '[0,1] RGB' },
  output: { name: 'logits', shape: [null, train.classes.length, null, null] },
  classes: train.classes,
  data: { generator: 'robustscope data shapes (tools/demo-models/gen-data.mjs)', train: { count: 2000, seed: 1 }, val: { count: 200, seed: 2 }, test: { count: 200, seed: 3 }, size: 64 },
  config: train.config,
  train_wall_seconds: time.wallSeconds,
  train_peak_rss_mib: Math.round(time.peakRssKiB / 1024),
  test: {
    attack: `${test.config.attack.kind}, ${test.config.attack.iters} iterations (robustscope attack --attack pgd)`,
    clean: { acc: pct(test.clean.meanImageAcc), mIoU: pct(test.clean.mIoU) },
    byEps,
  },
  log: { epochs: train.epochs, evals: train.evals },
};
writeFileSync(join('models', `shapes-seg-${mode}.json`), `${JSON.stringify(meta, null, 1)}\n`);
console.log(`models/shapes-seg-${mode}: clean mIoU ${meta.test.clean.mIoU}%, PGD-20 mIoU ${Object.entries(byEps).map(([k, v]) => `${k} ${v.mIoU}%`).join(', ')}`);
