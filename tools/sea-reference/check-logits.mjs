// Checks that the PyTorch rebuild of a model (tools/train-bench/onnx_torch_train.py) computes the same logits as robustscope on
// the first images of a folder dataset: run_reference.py --dump-logits writes them as .npy.
// Usage: node tools/sea-reference/check-logits.mjs MODEL.onnx DATA LOGITS.npy   (needs a built dist/)
import { readdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const dist = (p) => pathToFileURL(join(root, 'dist', 'src', p)).href;
const { loadModel } = await import(dist('runtime/model.js'));
const { readNpy } = await import(dist('data/npy.js'));
const { readRgb } = await import(dist('data/image.js'));

const [modelPath, data, npy] = process.argv.slice(2);
const ref = readNpy(npy);
const [n, , h, w] = ref.shape;
const names = readdirSync(join(data, 'images')).sort().slice(0, n);
const x = new Float32Array(n * 3 * h * w);
for (let i = 0; i < n; i++) x.set((await readRgb(join(data, 'images', names[i]))).data, i * 3 * h * w);
const model = await loadModel(modelPath);
const { logits } = await model.forward({ data: x, dims: [n, 3, h, w] });
let err = 0;
let scale = 0;
for (let i = 0; i < logits.length; i++) {
  err = Math.max(err, Math.abs(logits[i] - ref.data[i]));
  scale = Math.max(scale, Math.abs(ref.data[i]));
}
console.log(`${modelPath}: ${n} images, max |logit diff| ${err.toExponential(2)} (max |logit| ${scale.toFixed(2)})`);
if (!(err <= 1e-4 * Math.max(1, scale))) process.exit(1);
