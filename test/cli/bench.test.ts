import { rmSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { tensorFromNumbers } from '../../src/onnx/ir.js';
import { model, node, run, tempDir, writeModel } from './helpers.js';

const dir = tempDir('rs-bench-');
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const tiny = (name: string, input?: (number | string)[]) =>
  writeModel(
    dir,
    name,
    model({
      nodes: [node('mul', 'Mul', ['x', 'w'], ['logits'])],
      output: 'logits',
      input,
      initializers: [['w', tensorFromNumbers('float32', [1, 3, 1, 1], [1, 2, 3])]],
    }),
  );

describe('robustscope bench', () => {
  it('--json prints exactly one JSON object with the documented keys (timings not asserted)', async () => {
    const m = tiny('tiny.onnx');
    const r = await run('bench', '--model', m, '--batch', '2', '--size', '8', '--reps', '3', '--threads', '1', '--json');
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout.trim().split('\n')).toHaveLength(1);
    const j = JSON.parse(r.stdout) as Record<string, unknown>;
    expect(Object.keys(j).sort()).toEqual(['batch', 'forwardMs', 'gradMs', 'model', 'peakRssMB', 'seaSecondsPerImage', 'size', 'threads']);
    expect(j).toMatchObject({ model: m, batch: 2, size: 8, threads: 1 });
    for (const k of ['forwardMs', 'gradMs']) {
      const s = j[k] as Record<string, number>;
      expect(Object.keys(s).sort()).toEqual(['max', 'median', 'min']);
      expect(s.min).toBeLessThanOrEqual(s.median);
      expect(s.median).toBeLessThanOrEqual(s.max);
    }
    const _f = j.forwardMs as { median: number };
    const g = j.gradMs as { median: number };
    // The estimate is the stated formula of the medians (rounded to ms).
    expect(j.seaSecondsPerImage as number).toBeCloseTo((3 * 300 * g.median) / 2 / 1000, 2);
    expect(j.peakRssMB as number).toBeGreaterThan(0);
  });

  it('static H,W of the model win over --size, with a warning; text output states the formula', async () => {
    const m = tiny('static.onnx', ['N', 3, 6, 5]);
    const r = await run('bench', '--model', m, '--batch', '1', '--size', '8', '--reps', '1', '--threads', '1');
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/warning: the model fixes the height to 6; ignoring 8/);
    expect(r.stderr).toMatch(/warning: the model fixes the width to 5; ignoring 8/);
    expect(r.stdout).toMatch(/float32 \[1,3,6,5\]/);
    expect(r.stdout).toMatch(/3 losses x 300 iterations x \(forward\+gradient ms\) \/ batch \/ 1000 = [\d.]+ s per image/);
    const j = JSON.parse((await run('bench', '--model', m, '--reps', '1', '--threads', '1', '--json')).stdout) as { size: unknown; batch: number };
    expect(j.size).toEqual([6, 5]);
    expect(j.batch).toBe(4);
  });

  it('a model without an image input fails clearly', async () => {
    const m = tiny('rank2.onnx', ['N', 3]);
    const r = await run('bench', '--model', m, '--reps', '1');
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^robustscope: bench needs an image input \[N,C,H,W\]; the model's input 'x' is \[N,3\]$/m);
  });
});
