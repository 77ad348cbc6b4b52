import { it } from 'vitest';
import { buildGradients } from '../../src/autodiff/gradient.js';
import { toAttrs } from '../../src/onnx/builder.js';
import { prepareGraph } from '../../src/onnx/prepare.js';
import { serializeGraph } from '../../src/onnx/serialize.js';
import { Session } from '../../src/runtime/session.js';
import type { Attrs } from '../../src/ops/registry.js';

async function bench(op: string, attrs: Attrs, shape: number[], nOut = 1) {
  const outs = Array.from({ length: nOut }, (_, k) => `y${k}`);
  const model = { irVersion: 8, opsetImports: new Map([['', 21]]), producerName: 't', producerVersion: '', metadata: {},
    graph: { name: 'g', nodes: [{ name: 'n', opType: op, domain: '', inputs: ['x'], outputs: outs, attrs: toAttrs(attrs) }],
      inputs: [{ name: 'x', dtype: 'float32' as const, shape }], outputs: outs.map((o, k) => ({ name: o, dtype: (k ? 'int64' : 'float32') as 'float32', shape: undefined })), initializers: new Map(), valueInfo: new Map() } };
  const { builder: b, graph } = prepareGraph(model);
  const loss = b.emit('ReduceSum', [graph.outputs[0].name], { keepdims: 0 });
  graph.outputs = [{ name: loss, dtype: 'float32', shape: [] }];
  const fwd = await Session.create(serializeGraph(graph));
  const g = buildGradients({ builder: b, graph, loss, wrt: ['x'] }).get('x') as string;
  graph.outputs = [{ name: loss, dtype: 'float32', shape: [] }, { name: g, dtype: 'float32', shape }];
  const bwd = await Session.create(serializeGraph(graph), { profilePrefix: `/tmp/probe/prof_${op}_${nOut}` });
  const x = Float32Array.from({ length: shape.reduce((a, c) => a * c, 1) }, () => Math.random());
  const feed = { x: { data: x, dims: shape, dtype: 'float32' as const } };
  const time = async (s: Session) => { for (let i = 0; i < 3; i++) await s.run(feed); const t = performance.now(); for (let i = 0; i < 10; i++) await s.run(feed); return ((performance.now() - t) / 10).toFixed(2); };
  const tf = await time(fwd); const tb = await time(bwd); bwd.endProfiling(); console.log(op, JSON.stringify(attrs), shape, 'fwd ms', tf, 'fwd+bwd ms', tb, graph.nodes.map((n) => n.opType).join(','));
}

it('bench', async () => {
  await bench('MaxPool', { kernel_shape: [3, 3], strides: [2, 2], pads: [1, 1, 1, 1] }, [8, 64, 112, 112]);
  await bench('MaxPool', { kernel_shape: [3, 3], strides: [2, 2], pads: [1, 1, 1, 1] }, [8, 64, 112, 112], 2);
  await bench('AveragePool', { kernel_shape: [3, 3], strides: [2, 2], pads: [1, 1, 1, 1] }, [8, 64, 112, 112]);
  await bench('MaxPool', { kernel_shape: [2, 2], strides: [2, 2] }, [8, 64, 112, 112]);
});
