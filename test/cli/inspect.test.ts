import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { InspectReport } from '../../src/cli/inspect.js';
import { toAttrs } from '../../src/onnx/builder.js';
import { tensorFromNumbers } from '../../src/onnx/ir.js';
import { registerOps } from '../../src/ops/registry.js';
import { model, node, run, tempDir, writeModel } from './helpers.js';

const dir = tempDir('rs-inspect-');
afterAll(() => rmSync(dir, { recursive: true, force: true }));

// A small classifier: Conv -> Relu -> GlobalAveragePool -> Flatten -> Gemm.
// Parameters: 4*3*3*3 + 4 (conv) + 10*4 + 10 (gemm) = 162.
const cnn = writeModel(
  dir,
  'cnn.onnx',
  model({
    nodes: [
      node('conv1', 'Conv', ['x', 'cw', 'cb'], ['c'], toAttrs({ pads: [1, 1, 1, 1], kernel_shape: [3, 3] })),
      node('relu1', 'Relu', ['c'], ['r']),
      node('gap', 'GlobalAveragePool', ['r'], ['p']),
      node('flat', 'Flatten', ['p'], ['f']),
      node('fc', 'Gemm', ['f', 'gw', 'gb'], ['logits'], toAttrs({ transB: 1 })),
    ],
    output: 'logits',
    opset: 17,
    initializers: [
      ['cw', tensorFromNumbers('float32', [4, 3, 3, 3], new Array(108).fill(0.1))],
      ['cb', tensorFromNumbers('float32', [4], [0, 0, 0, 0])],
      ['gw', tensorFromNumbers('float32', [10, 4], new Array(40).fill(0.2))],
      ['gb', tensorFromNumbers('float32', [10], new Array(10).fill(0))],
    ],
  }),
);

async function inspectJson(file: string): Promise<InspectReport> {
  const r = await run('inspect', file, '--json');
  expect(r.code).toBe(0);
  expect(r.stderr).toBe('');
  return JSON.parse(r.stdout) as InspectReport;
}

describe('robustscope inspect', () => {
  it('JSON: producer, opset, symbolic input dims, parameter count, op histogram (independent of op rules)', async () => {
    const j = await inspectJson(cnn);
    expect(j.producer).toEqual({ name: 'robustscope-test', version: '0.0.1' });
    expect(j.opsets).toEqual({ 'ai.onnx': 17 });
    expect(j.inputs).toEqual([{ name: 'x', dtype: 'float32', shape: ['N', 3, 'H', 'W'] }]);
    expect(j.outputs).toEqual([{ name: 'logits', dtype: 'float32', shape: null }]);
    expect(j.parameters).toBe(162);
    expect(j.nodes).toBe(5);
    expect(j.ops.map((o) => [o.op, o.count])).toEqual([
      ['Conv', 1],
      ['Flatten', 1],
      ['Gemm', 1],
      ['GlobalAveragePool', 1],
      ['Relu', 1],
    ]);
    expect(j.ops.find((o) => o.op === 'Relu')).toEqual({ op: 'Relu', count: 1, forward: true, gradient: 'yes' });
  });

  // Depends on the Conv / GlobalAveragePool / Flatten / Gemm rules written by other helpers.
  it('JSON: every op of the small CNN is supported forward and backward', async () => {
    const j = await inspectJson(cnn);
    expect(j.unsupported).toEqual({});
    for (const o of j.ops) expect([o.op, o.forward, o.gradient]).toEqual([o.op, true, 'yes']);
  });

  it('text: shapes with symbolic dims, the histogram table', async () => {
    const r = await run('inspect', cnn);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^producer {3}robustscope-test 0\.0\.1$/m);
    expect(r.stdout).toMatch(/^opset {6}ai\.onnx 17$/m);
    expect(r.stdout).toMatch(/^inputs {5}x {2}float32 \[N,3,H,W\]$/m);
    expect(r.stdout).toMatch(/^parameters 162$/m);
    expect(r.stdout).toMatch(/^op +count +forward +gradient$/m);
    expect(r.stdout).toMatch(/^Relu +1 +yes +yes$/m);
  });

  it('lists unsupported ops (custom domains as domain::op) with their node names', async () => {
    const file = writeModel(
      dir,
      'bad.onnx',
      model({
        nodes: [
          node('r', 'Relu', ['x'], ['a']),
          node('nms_a', 'NonMaxSuppression', ['a'], ['b']),
          node('fused_fc', 'FusedGemm', ['b'], ['c'], {}, 'com.microsoft'),
          node('nms_b', 'NonMaxSuppression', ['c'], ['d']),
        ],
        output: 'd',
        extraOpsets: [['com.microsoft', 1]],
      }),
    );
    const j = await inspectJson(file);
    expect(j.unsupported).toEqual({ NonMaxSuppression: ['nms_a', 'nms_b'], 'com.microsoft::FusedGemm': ['fused_fc'] });
    expect(j.opsets).toEqual({ 'ai.onnx': 21, 'com.microsoft': 1 });
    expect(j.ops.find((o) => o.op === 'NonMaxSuppression')).toEqual({ op: 'NonMaxSuppression', count: 2, forward: false, gradient: 'no rule' });
    expect(j.ops.find((o) => o.op === 'com.microsoft::FusedGemm')?.forward).toBe(false);
    const t = await run('inspect', file);
    expect(t.stdout).toMatch(/unsupported ops \(robustscope cannot run this model\): 2 op types/);
    expect(t.stdout).toMatch(/^ {2}NonMaxSuppression: nms_a, nms_b$/m);
    expect(t.stdout).toMatch(/^ {2}com\.microsoft::FusedGemm: fused_fc$/m);
    expect(t.stdout).toMatch(/^NonMaxSuppression +2 +no +-$/m);
  });

  it("gradient column: 'not needed' for ops without float outputs, 'no rule' for float ops without a VJP", async () => {
    // A float op with no VJP rule (registered only in this test file's module graph).
    registerOps([{ type: 'RsTestFloatNoVjp', infer: (ctx) => [ctx.type(0) ?? ctx.fail('no input')] }]);
    const file = writeModel(
      dir,
      'mixed.onnx',
      model({
        nodes: [
          node('r', 'Relu', ['x'], ['a']),
          node('s', 'Shape', ['a'], ['s']),
          node('e', 'Equal', ['a', 'a'], ['e']),
          node('am', 'ArgMax', ['a'], ['am'], toAttrs({ axis: 1 })),
          node('cast', 'Cast', ['e'], ['ef'], toAttrs({ to: 1 })),
          node('nv', 'RsTestFloatNoVjp', ['a'], ['nv']),
        ],
        output: 'nv',
      }),
    );
    const j = await inspectJson(file);
    const grad = Object.fromEntries(j.ops.map((o) => [o.op, o.gradient]));
    expect(grad).toEqual({ Relu: 'yes', Shape: 'not needed', Equal: 'not needed', ArgMax: 'not needed', Cast: 'yes', RsTestFloatNoVjp: 'no rule' });
    const t = await run('inspect', file);
    expect(t.stdout).toMatch(/no gradient rule for: RsTestFloatNoVjp/);
  });

  it('a truncated or missing model file: one clear line, exit 1', async () => {
    const p = join(dir, 'trunc.onnx');
    const { readFileSync } = await import('node:fs');
    writeFileSync(p, readFileSync(cnn).subarray(0, 100));
    const r = await run('inspect', p);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^robustscope: model '.*trunc\.onnx' is not a valid ONNX file/);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    const m = await run('inspect', join(dir, 'missing.onnx'));
    expect(m.code).toBe(1);
    expect(m.stderr).toMatch(/cannot read model '.*missing\.onnx': ENOENT/);
  });
});
