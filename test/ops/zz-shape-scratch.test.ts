import { it } from 'vitest';
import { toAttrs } from '../../src/onnx/builder.js';
import { type Graph, type Tensor, tensorFromNumbers } from '../../src/onnx/ir.js';
import { serializeGraph } from '../../src/onnx/serialize.js';
import type { Attrs } from '../../src/ops/registry.js';
import { Session } from '../../src/runtime/session.js';

async function run(op: string, inits: [string, Tensor][], attrs: Attrs, x: number[], xs: number[], nOut = 1) {
  const g: Graph = {
    name: 'g',
    nodes: [{ name: 'n', opType: op, domain: '', inputs: ['x', ...inits.map((i) => i[0])], outputs: Array.from({ length: nOut }, (_, k) => `y${k}`), attrs: toAttrs(attrs) }],
    inputs: [{ name: 'x', dtype: 'float32', shape: xs }],
    outputs: Array.from({ length: nOut }, (_, k) => ({ name: `y${k}`, dtype: 'float32' as const, shape: undefined })),
    initializers: new Map(inits),
    valueInfo: new Map(),
  };
  try {
    const s = await Session.create(serializeGraph(g), { threads: 1 });
    const o = await s.run({ x: { data: Float32Array.from(x), dims: xs, dtype: 'float32' } });
    for (const [k, v] of Object.entries(o)) console.log(op, JSON.stringify(attrs), k, v.dims, Array.from(v.data as Float32Array).join(','));
  } catch (e) {
    console.log(op, JSON.stringify(attrs), 'ERROR', (e as Error).message.slice(0, 300));
  }
}
const I = (v: number[]) => tensorFromNumbers('int64', [v.length], v);
it('probe', async () => {
  const x = [0, 1, 2, 3, 4, 5];
  await run('Pad', [['p', I([-1, 2])]], { mode: 'constant' }, x, [6]);
  await run('Pad', [['p', I([-1, 2])]], { mode: 'reflect' }, x, [6]);
  await run('Pad', [['p', I([2, -1])]], { mode: 'reflect' }, x, [6]);
  await run('Pad', [['p', I([-2, 3])]], { mode: 'edge' }, x, [6]);
  await run('Pad', [['p', I([-2, 3])]], { mode: 'wrap' }, x, [6]);
  await run('Split', [], { axis: 0 }, x, [6], 3);
  await run('Split', [], { axis: 0, num_outputs: 4 }, x, [6], 4);
  await run('Split', [], { axis: 0, num_outputs: 4 }, [0, 1, 2, 3, 4], [5], 4);
  await run('Split', [['s', I([2, 0, 4])]], { axis: 0 }, x, [6], 3);
});
