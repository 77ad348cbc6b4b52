// Writes the train/val/test splits of the shapes dataset for tools/demo-models/train.sh (dev time only).
// Uses the COMPILED generator: run `npx tsc -p tsconfig.build.json` first (see README.md).
// Usage: node tools/demo-models/gen-data.mjs [OUT] (default tmp/demo-data)
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const compiled = join(root, 'dist', 'src', 'data', 'shapes.js');
if (!existsSync(compiled)) {
  console.error(`missing ${compiled}: run 'npx tsc -p tsconfig.build.json' first`);
  process.exit(1);
}
const { generateShapes } = await import(pathToFileURL(compiled).href);

const out = resolve(process.argv[2] ?? join(root, 'tmp', 'demo-data'));
// Disjoint seeds per split; the test split equals `robustscope data shapes --n 200 --size 64 --seed 3`.
export const SPLITS = [
  { name: 'train', n: 2000, seed: 1 },
  { name: 'val', n: 200, seed: 2 },
  { name: 'test', n: 200, seed: 3 },
];
for (const s of SPLITS) {
  const t0 = Date.now();
  const r = await generateShapes({ out: join(out, s.name), n: s.n, size: 64, seed: s.seed, task: 'segmentation' });
  console.log(`${s.name}: ${r.n} images (seed ${s.seed}) in ${Date.now() - t0} ms; images per class ${r.imagesPerClass.join(' ')}`);
}
