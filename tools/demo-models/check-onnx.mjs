// Checks the exported demo models with robustscope itself (dev time; see README.md):
// 1. logits and the input gradient of the summed per-image ce-avg on 4 test images match PyTorch
//    (references written by train.py to tmp/demo-models/);
// 2. clean aAcc / mIoU on the whole test split match the numbers train.py recorded in models/*.json;
// 3. a forward at another input size works (dynamic H, W).
// Usage: node tools/demo-models/check-onnx.mjs [DATA] (default tmp/demo-data); needs a built dist/.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const dist = (p) => pathToFileURL(join(root, 'dist', 'src', p)).href;
if (!existsSync(join(root, 'dist', 'src', 'runtime', 'model.js'))) {
  console.error("missing dist/: run 'npx tsc -p tsconfig.build.json' first");
  process.exit(1);
}
const { RobustModel } = await import(dist('runtime/model.js'));
const { readOnnxFile } = await import(dist('onnx/load.js'));
const { readNpy } = await import(dist('data/npy.js'));
const { readRgb, readLabel } = await import(dist('data/image.js'));

const data = resolve(process.argv[2] ?? join(root, 'tmp', 'demo-data'));
const K = 6;

function maxRelErr(a, b) {
  let num = 0;
  let den = 0;
  for (let i = 0; i < a.length; i++) {
    num = Math.max(num, Math.abs(a[i] - b[i]));
    den = Math.max(den, Math.abs(b[i]));
  }
  return num / den;
}

async function loadSplit(dir) {
  const names = readdirSync(join(dir, 'images')).sort();
  const xs = [];
  const ys = [];
  for (const n of names) {
    xs.push((await readRgb(join(dir, 'images', n))).data);
    ys.push((await readLabel(join(dir, 'labels', n))).data);
  }
  return { xs, ys };
}

const test = await loadSplit(join(data, 'test'));
let failed = false;
for (const name of ['shapes-seg-clean', 'shapes-seg-at']) {
  const onnxPath = join(root, 'models', `${name}.onnx`);
  if (!existsSync(onnxPath)) {
    console.log(`${name}: no ONNX file yet`);
    continue;
  }
  const record = JSON.parse(readFileSync(join(root, 'models', `${name}.json`), 'utf8'));
  const model = RobustModel.fromOnnx(readOnnxFile(onnxPath), { threads: 2 });

  // 1. Against PyTorch.
  const refDir = join(root, 'tmp', 'demo-models');
  if (existsSync(join(refDir, `${name}-x.npy`))) {
    const x = readNpy(join(refDir, `${name}-x.npy`));
    const y = readNpy(join(refDir, `${name}-y.npy`));
    const r = await model.lossAndGrad({ data: x.data, dims: x.shape }, { data: y.data, dims: y.shape }, { loss: 'ce-avg', ignoreIndex: 255 });
    const eL = maxRelErr(r.logits, readNpy(join(refDir, `${name}-logits.npy`)).data);
    const eG = maxRelErr(r.grad, readNpy(join(refDir, `${name}-grad.npy`)).data);
    const ok = eL < 1e-4 && eG < 1e-3;
    failed ||= !ok;
    console.log(`${name}: vs PyTorch on 4 images: logits max rel err ${eL.toExponential(2)}, input grad ${eG.toExponential(2)} ${ok ? 'OK' : 'MISMATCH'}`);
  } else console.log(`${name}: no PyTorch reference in ${refDir} (run train.py)`);

  // 2. Clean metrics on the test split.
  const inter = new Float64Array(K);
  const gt = new Float64Array(K);
  const pr = new Float64Array(K);
  const B = 50;
  const P = 64 * 64;
  const t0 = Date.now();
  for (let s = 0; s < test.xs.length; s += B) {
    const n = Math.min(B, test.xs.length - s);
    const x = new Float32Array(n * 3 * P);
    for (let i = 0; i < n; i++) x.set(test.xs[s + i], i * 3 * P);
    const { logits } = await model.forward({ data: x, dims: [n, 3, 64, 64] });
    for (let i = 0; i < n; i++) {
      const y = test.ys[s + i];
      for (let p = 0; p < P; p++) {
        if (y[p] === 255) continue;
        let best = 0;
        for (let k = 1; k < K; k++) if (logits[(i * K + k) * P + p] > logits[(i * K + best) * P + p]) best = k;
        gt[y[p]]++;
        pr[best]++;
        if (best === y[p]) inter[best]++;
      }
    }
  }
  let iouSum = 0;
  let cls = 0;
  for (let k = 0; k < K; k++) {
    const u = gt[k] + pr[k] - inter[k];
    if (u > 0) {
      iouSum += inter[k] / u;
      cls++;
    }
  }
  const aAcc = inter.reduce((a, b) => a + b) / gt.reduce((a, b) => a + b);
  const mIoU = iouSum / cls;
  const ref = record.test.clean;
  const ok = Math.abs(aAcc - ref.aAcc) < 1e-3 && Math.abs(mIoU - ref.mIoU) < 2e-3;
  failed ||= !ok;
  console.log(
    `${name}: test clean aAcc ${aAcc.toFixed(4)} mIoU ${mIoU.toFixed(4)} (PyTorch ${ref.aAcc.toFixed(4)} / ${ref.mIoU.toFixed(4)}) ${ok ? 'OK' : 'MISMATCH'}, forward ${Date.now() - t0} ms`,
  );

  // 3. Another input size.
  const f = await model.forward({ data: new Float32Array(2 * 3 * 48 * 80).fill(0.5), dims: [2, 3, 48, 80] });
  const dimsOk = f.logitsDims.join() === '2,6,48,80';
  failed ||= !dimsOk;
  console.log(`${name}: forward at 2x3x48x80 -> ${f.logitsDims.join('x')} ${dimsOk ? 'OK' : 'WRONG'}`);
}
process.exit(failed ? 1 : 0);
