// Builds robustscope architectures (buildArch, given seed and classes) into CACHE/<arch>/model.onnx and
// writes CACHE/<arch>/meta.json: outputs, parameter count and each parameter's role (the PyTorch side
// uses the roles to give the same parameters no weight decay as robustscope's AdamW).
// Usage: node bench/train-step/build-models.mjs CACHE CLASSES SEED ARCH...   (needs a built dist/)
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const dist = (p) => import(pathToFileURL(join(root, 'dist', 'src', p)).href);
const { buildArch } = await dist('arch/registry.js');
const { encodeModel } = await dist('onnx/codec.js');
const { TrainableModel } = await dist('train/trainable.js');

const [cache, classes, seed, ...archs] = process.argv.slice(2);
if (!cache || !archs.length) {
  console.error('usage: node bench/train-step/build-models.mjs CACHE CLASSES SEED ARCH...');
  process.exit(2);
}
for (const arch of archs) {
  const model = buildArch(arch, { classes: Number(classes), seed: Number(seed) });
  const dir = join(cache, arch);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'model.onnx'), encodeModel(model));
  const info = TrainableModel.fromOnnx(model).parameterInfo();
  const count = info.reduce((s, p) => s + p.dims.reduce((a, b) => a * b, 1), 0);
  const meta = {
    arch,
    classes: Number(classes),
    seed: Number(seed),
    outputs: model.graph.outputs.map((o) => o.name),
    params: count,
    tensors: info.length,
    roles: Object.fromEntries(info.map((p) => [p.name, p.role])),
  };
  writeFileSync(join(dir, 'meta.json'), JSON.stringify(meta, null, 1));
  console.log(`${arch}: ${model.graph.nodes.length} nodes, ${count} parameters (${info.length} tensors) -> ${dir}`);
}
