import { it } from 'vitest';
import { encodeModel } from '../../src/onnx/codec.js';
import { toAttrs } from '../../src/onnx/builder.js';
import { tensorFromNumbers } from '../../src/onnx/ir.js';
import type { Attrs } from '../../src/ops/registry.js';
import { Session } from '../../src/runtime/session.js';

async function tryShape(op: string, attrs: Attrs, X: number[], r: number[]) {
  const n = r.reduce((a, b) => a * b, 1);
  const bytes = encodeModel({ irVersion: 8, opsetImports: new Map([['', 21]]), producerName: 'p', producerVersion: '', metadata: {},
    graph: { name: 'g', nodes: [
      { name: 'a', opType: op, domain: '', inputs: ['x'], outputs: ['y'], attrs: toAttrs(attrs) },
      { name: 'b', opType: 'Mul', domain: '', inputs: ['y', 'r'], outputs: ['z'], attrs: {} },
    ], inputs: [{ name: 'x', dtype: 'float32', shape: X }], outputs: [{ name: 'z', dtype: 'float32', shape: undefined }],
    initializers: new Map([['r', tensorFromNumbers('float32', r, new Array(n).fill(1))]]), valueInfo: new Map() } });
  try {
    const s = await Session.create(bytes, { threads: 1 });
    try { const o = await s.run({ x: { data: new Float32Array(X.reduce((a, b) => a * b, 1)), dims: X, dtype: 'float32' } }); return `ok run dims ${o.z.dims}`; } catch (e) { return `create ok, run fails ${String(e).slice(0, 80)}`; }
  } catch (e) { return `create fails ${String(e).slice(0, 120)}`; }
}

it('static shape inference', async () => {
  const a = { kernel_shape: [2], strides: [3], pads: [1, 1], ceil_mode: 1 };
  for (const op of ['MaxPool', 'AveragePool']) for (const r of [[1, 1, 2], [1, 1, 3]]) console.log(op, 'R', r, await tryShape(op, a, [1, 1, 4], r));
});
