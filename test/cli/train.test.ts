// `robustscope train` end to end on tiny procedural data: PIR-AT from a classifier trained by the same
// command, resume message, training report, usage errors that name the option.
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseAdv } from '../../src/cli/train.js';
import { generateShapes } from '../../src/data/shapes.js';
import { run } from './helpers.js';

let dir: string;
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'rs-train-cli-'));
  await generateShapes({ out: join(dir, 'seg'), n: 8, size: 32, seed: 1, task: 'segmentation' });
  await generateShapes({ out: join(dir, 'val'), n: 4, size: 32, seed: 2, task: 'segmentation' });
  await generateShapes({ out: join(dir, 'cls'), n: 10, size: 32, seed: 1, task: 'classification' });
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('robustscope train', () => {
  it('--adv parses eps in /255, steps and the step size (pirat.md recipe defaults: 4/255, 2 steps, 0.01)', () => {
    expect(parseAdv(undefined)).toBeUndefined();
    expect(parseAdv('none')).toBeUndefined();
    expect(parseAdv('pgd')).toEqual({ eps: 4 / 255, steps: 2, stepSize: 0.01 });
    expect(parseAdv('pgd:eps=8,steps=5,step=0.02')).toEqual({ eps: 8 / 255, steps: 5, stepSize: 0.02 });
    expect(() => parseAdv('fgsm')).toThrow(/--adv must be/);
    expect(() => parseAdv('pgd:eps=x')).toThrow(/bad entry 'eps=x'/);
  });

  it('trains a robust classifier, then PIR-AT from its encoder; writes model, log and report; a re-run resumes', async () => {
    const cls = join(dir, 'out-cls');
    const a = await run(
      'train',
      '--task',
      'classification',
      '--arch',
      'resnet-tiny-cls',
      '--data',
      join(dir, 'cls'),
      '--epochs',
      '1',
      '--batch',
      '5',
      '--adv',
      'pgd:eps=4,steps=1',
      '--threads',
      '1',
      '--quiet',
      '--out',
      cls,
    );
    expect(a.stderr).toBe('');
    expect(a.code).toBe(0);
    const seg = join(dir, 'out-seg');
    const args = [
      'train',
      '--arch',
      'resnet-tiny-fcn',
      '--data',
      join(dir, 'seg'),
      '--val',
      join(dir, 'val'),
      '--epochs',
      '1',
      '--batch',
      '4',
      '--adv',
      'pgd:eps=4,steps=1',
      '--eval-steps',
      '1',
      '--init-encoder',
      join(cls, 'model.onnx'),
      '--threads',
      '1',
      '--out',
      seg,
    ];
    const b = await run(...args);
    expect(b.code).toBe(0);
    expect(b.stderr).toMatch(/encoder init: copied \d+ tensors/);
    expect(b.stderr).toMatch(/held-out: clean mIoU/);
    for (const f of ['model.onnx', 'train.json', 'report.html', 'checkpoint/state.json', 'checkpoint/optimizer.bin'])
      expect(existsSync(join(seg, f)), f).toBe(true);
    const log = JSON.parse(readFileSync(join(seg, 'train.json'), 'utf8'));
    expect(log.identity.initEncoder.map).toBe('enc.*=backbone.*');
    expect(log.config.adv).toEqual({ eps: 4 / 255, steps: 1, stepSize: 0.01 });
    const html = readFileSync(join(seg, 'report.html'), 'utf8');
    expect(html).toMatch(/<svg/);
    expect(html).not.toMatch(/<script/);
    const c = await run(...args);
    expect(c.code).toBe(0);
    expect(c.stderr).toMatch(/resuming .* after epoch 1\/1/);
  });

  it('usage errors name the option', async () => {
    const both = await run('train', '--arch', 'resnet-tiny-fcn', '--model', 'x.onnx', '--data', join(dir, 'seg'), '--epochs', '1', '--out', join(dir, 'x'));
    expect(both.code).toBe(2);
    expect(both.stderr).toMatch(/exactly one of --arch NAME or --model/);
    const task = await run('train', '--arch', 'resnet-tiny-cls', '--data', join(dir, 'seg'), '--epochs', '1', '--out', join(dir, 'x'));
    expect(task.code).toBe(2);
    expect(task.stderr).toMatch(/classification architecture but --task is segmentation/);
    const lr = await run('train', '--arch', 'resnet-tiny-fcn', '--data', join(dir, 'seg'), '--epochs', '1', '--lr=-1', '--out', join(dir, 'x'));
    expect(lr.code).toBe(2);
    expect(lr.stderr).toMatch(/--lr: invalid value '-1'/);
    const arch = await run('train', '--arch', 'nope', '--data', join(dir, 'seg'), '--epochs', '1', '--out', join(dir, 'x'));
    expect(arch.code).not.toBe(0);
    expect(arch.stderr).toMatch(/unknown architecture 'nope'/);
  });
});
