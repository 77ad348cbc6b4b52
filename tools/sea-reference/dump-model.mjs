// Dumps an ONNX model as model.json (nodes, attributes, initializer layout) + model.bin (float32 and
// int64 tensors) so the dev-time PyTorch harness can rebuild it without the `onnx` Python package.
// Usage: node tools/sea-reference/dump-model.mjs MODEL.onnx OUTDIR   (needs a built dist/)
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const { readOnnxFile } = await import(pathToFileURL(join(root, 'dist', 'src', 'onnx', 'load.js')).href);

const [modelPath, out] = process.argv.slice(2);
if (!modelPath || !out) {
  console.error('usage: node tools/sea-reference/dump-model.mjs MODEL.onnx OUTDIR');
  process.exit(2);
}
const model = readOnnxFile(modelPath);
const chunks = [];
let offset = 0;
function put(t) {
  let bytes;
  let dtype;
  if (t.data instanceof Float32Array) {
    bytes = new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength);
    dtype = 'float32';
  } else if (t.data instanceof BigInt64Array) {
    bytes = new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength);
    dtype = 'int64';
  } else throw new Error(`unsupported tensor dtype ${t.dtype}`);
  const entry = { dtype, dims: t.dims, offset, length: bytes.byteLength };
  chunks.push(Buffer.from(bytes));
  offset += bytes.byteLength;
  return entry;
}
const initializers = {};
for (const [name, t] of model.graph.initializers) initializers[name] = put(t);
const nodes = model.graph.nodes.map((n) => {
  const attrs = {};
  for (const [k, a] of Object.entries(n.attrs)) attrs[k] = a.type === 'tensor' ? { tensor: put(a.value) } : a.value;
  return { op: n.opType, inputs: n.inputs, outputs: n.outputs, attrs };
});
mkdirSync(out, { recursive: true });
writeFileSync(join(out, 'model.bin'), Buffer.concat(chunks));
writeFileSync(
  join(out, 'model.json'),
  JSON.stringify({ input: model.graph.inputs[0].name, output: model.graph.outputs[0].name, initializers, nodes }, null, 1),
);
console.log(`${modelPath}: ${nodes.length} nodes, ${Object.keys(initializers).length} initializers -> ${out}`);
