import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { readNpy, writeNpy } from '../../src/data/npy.js';
import { tensorFromNumbers } from '../../src/onnx/ir.js';
import { rng } from '../harness/rng.js';
import { model, node, run, tempDir, writeModel } from './helpers.js';

const dir = tempDir('rs-grad-');
afterAll(() => rmSync(dir, { recursive: true, force: true }));

// logits = x * w + b, per channel: a 3-class "segmentation model" whose ce-avg gradient is easy
// to write by hand: d loss_n / d x[n,c,p] = w_c * (softmax(u)_c - [c = y]) / P at valid pixels.
const W = [1.5, -0.5, 2];
const B = [0.1, -0.2, 0.3];
const segModel = writeModel(
  dir,
  'muladd.onnx',
  model({
    nodes: [node('mul', 'Mul', ['x', 'w'], ['xw']), node('add', 'Add', ['xw', 'b'], ['logits'])],
    output: 'logits',
    initializers: [
      ['w', tensorFromNumbers('float32', [1, 3, 1, 1], W)],
      ['b', tensorFromNumbers('float32', [1, 3, 1, 1], B)],
    ],
  }),
);

const N = 2;
const H = 3;
const Wd = 4;
const P = H * Wd;
const r = rng(7);
const x = Float32Array.from({ length: N * 3 * P }, () => r());
// Labels with one ignored pixel per image.
const y = BigInt64Array.from({ length: N * P }, (_, i) => (i % P === 5 ? 255n : BigInt(Math.floor(r() * 3))));

function handLossAndGrad(xs: Float32Array, ys: ArrayLike<number | bigint>): { losses: number[]; grad: Float64Array } {
  const grad = new Float64Array(xs.length);
  const losses: number[] = [];
  for (let n = 0; n < N; n++) {
    let loss = 0;
    for (let p = 0; p < P; p++) {
      const label = Number(ys[n * P + p]);
      if (label === 255) continue;
      const u = [0, 1, 2].map((c) => xs[(n * 3 + c) * P + p] * W[c] + B[c]);
      const m = Math.max(...u);
      const z = u.reduce((a, v) => a + Math.exp(v - m), 0);
      const s = u.map((v) => Math.exp(v - m) / z);
      loss += -Math.log(s[label]) / P;
      for (let c = 0; c < 3; c++) grad[(n * 3 + c) * P + p] = (W[c] * (s[c] - (c === label ? 1 : 0))) / P;
    }
    losses.push(loss);
  }
  return { losses, grad };
}

function npy(
  name: string,
  dtype: 'float32' | 'float64' | 'int64' | 'int32' | 'uint8',
  shape: number[],
  data: Float32Array | Float64Array | BigInt64Array | Int32Array | Uint8Array,
): string {
  const p = join(dir, name);
  writeNpy(p, { dtype, shape, data });
  return p;
}

const xPath = npy('x.npy', 'float32', [N, 3, H, Wd], x);
const yPath = npy('y.npy', 'int64', [N, H, Wd], y);

describe('robustscope grad', () => {
  it('writes the ce-avg input gradient and prints per-image losses, matching a hand computation', async () => {
    const out = join(dir, 'g.npy');
    const res = await run('grad', '--model', segModel, '--input', xPath, '--labels', yPath, '--loss', 'ce-avg', '--out', out, '--threads', '1');
    expect(res.stderr).toBe('');
    expect(res.code).toBe(0);
    const g = readNpy(out);
    expect(g.dtype).toBe('float32');
    expect(g.shape).toEqual([N, 3, H, Wd]);
    const want = handLossAndGrad(x, y);
    let maxErr = 0;
    for (let i = 0; i < want.grad.length; i++) maxErr = Math.max(maxErr, Math.abs(Number(g.data[i]) - want.grad[i]));
    expect(maxErr).toBeLessThan(1e-6);
    // Ignored pixel (p = 5): zero gradient in every channel.
    for (let c = 0; c < 3; c++) expect(Math.abs(Number(g.data[c * P + 5]))).toBe(0);
    const printed = [...res.stdout.matchAll(/^(\d+) +(\S+)$/gm)].map((m) => Number(m[2]));
    expect(printed).toHaveLength(N);
    for (const [n, l] of printed.entries()) expect(l).toBeCloseTo(want.losses[n], 5);
    expect(res.stdout).toMatch(/wrote the input gradient, float32 \[2,3,3,4\]/);
  });

  it('accepts float64 images and int32 / uint8 labels', async () => {
    const x64 = npy('x64.npy', 'float64', [N, 3, H, Wd], Float64Array.from(x));
    const want = handLossAndGrad(x, y);
    for (const [name, dtype, data] of [
      ['y32.npy', 'int32', Int32Array.from(y, Number)],
      ['y8.npy', 'uint8', Uint8Array.from(y, Number)],
    ] as const) {
      const out = join(dir, `g-${name}`);
      const res = await run('grad', '--model', segModel, '--input', x64, '--labels', npy(name, dtype, [N, H, Wd], data), '--out', out);
      expect(res.code).toBe(0);
      const g = readNpy(out);
      for (let i = 0; i < want.grad.length; i++) expect(Math.abs(Number(g.data[i]) - want.grad[i])).toBeLessThan(1e-6);
    }
  });

  // Pins: an ignore index that is also a class id (2) is masked out of the one-hot too.
  it('--ignore-index inside the class range (2) ignores those pixels', async () => {
    const out = join(dir, 'g-ign2.npy');
    const y32 = Int32Array.from(y, (v) => (v === 255n ? 2 : Number(v)));
    const res = await run(
      'grad',
      '--model',
      segModel,
      '--input',
      xPath,
      '--labels',
      npy('y-ign2.npy', 'int32', [N, H, Wd], y32),
      '--ignore-index',
      '2',
      '--out',
      out,
    );
    expect(res.code).toBe(0);
    const g = readNpy(out);
    const want = handLossAndGrad(
      x,
      Array.from(y32, (v) => (v === 2 ? 255 : v)),
    );
    for (let i = 0; i < want.grad.length; i++) expect(Math.abs(Number(g.data[i]) - want.grad[i])).toBeLessThan(1e-6);
  });

  it('--normalize prepends (x - mean) / std: the gradient gains a factor 1/std per channel', async () => {
    const mean = [0.5, 0.4, 0.3];
    const std = [0.2, 0.25, 0.5];
    const out = join(dir, 'gn.npy');
    const res = await run('grad', '--model', segModel, '--input', xPath, '--labels', yPath, '--out', out, '--normalize', `${mean}:${std}`);
    expect(res.code).toBe(0);
    const xn = Float32Array.from(x, (v, i) => (v - mean[Math.floor(i / P) % 3]) / std[Math.floor(i / P) % 3]);
    const want = handLossAndGrad(xn, y);
    const g = readNpy(out);
    for (let i = 0; i < want.grad.length; i++) expect(Math.abs(Number(g.data[i]) - want.grad[i] / std[Math.floor(i / P) % 3])).toBeLessThan(1e-5);
  });

  it('classification labels [N] against [N,K] logits', async () => {
    const cls = writeModel(
      dir,
      'cls.onnx',
      model({
        nodes: [node('mul', 'Mul', ['x', 'w'], ['xw']), node('mean', 'ReduceMean', ['xw', 'axes'], ['logits'], { keepdims: { type: 'int', value: 0 } })],
        output: 'logits',
        initializers: [
          ['w', tensorFromNumbers('float32', [1, 3, 1, 1], W)],
          ['axes', tensorFromNumbers('int64', [2], [2, 3])],
        ],
      }),
    );
    const labels = npy('ycls.npy', 'int64', [N], BigInt64Array.of(0n, 2n));
    const out = join(dir, 'gcls.npy');
    const res = await run('grad', '--model', cls, '--input', xPath, '--labels', labels, '--out', out);
    expect(res.stderr).toBe('');
    expect(res.code).toBe(0);
    // d CE / d x[n,c,p] = w_c * (softmax(u)_c - [c = y]) / P with u_c = w_c * mean_p x[n,c,p].
    const g = readNpy(out);
    for (let n = 0; n < N; n++) {
      const u = [0, 1, 2].map((c) => (W[c] * x.subarray((n * 3 + c) * P, (n * 3 + c + 1) * P).reduce((a, v) => a + v, 0)) / P);
      const z = u.reduce((a, v) => a + Math.exp(v), 0);
      for (let c = 0; c < 3; c++) {
        const want = (W[c] * (Math.exp(u[c]) / z - (c === [0, 2][n] ? 1 : 0))) / P;
        expect(Math.abs(Number(g.data[(n * 3 + c) * P]) - want)).toBeLessThan(1e-6);
      }
    }
  });
});

describe('robustscope grad: clear errors (exit 1, one line naming the file)', () => {
  async function fails(argv: string[], re: RegExp): Promise<void> {
    const res = await run('grad', ...argv);
    expect(res.code).toBe(1);
    expect(res.stderr.trim().split('\n')).toHaveLength(1);
    expect(res.stderr).toMatch(/^robustscope: /);
    expect(res.stderr).toMatch(re);
  }
  const out = join(dir, 'never.npy');

  it('label shape does not match the logits', async () => {
    const bad = npy('y_shape.npy', 'int64', [N, Wd, H], y);
    await fails(
      ['--model', segModel, '--input', xPath, '--labels', bad, '--out', out],
      /'.*y_shape\.npy' has shape \[2,4,3\] but the model's logits are \[2,3,3,4\], so labels must be \[2,3,4\]/,
    );
  });

  it('label id out of range (not the ignore index), with its position', async () => {
    const yy = y.slice();
    yy[P + 6] = 3n; // image 1, row 1, column 2
    const bad = npy('y_range.npy', 'int64', [N, H, Wd], yy);
    await fails(
      ['--model', segModel, '--input', xPath, '--labels', bad, '--out', out],
      /'.*y_range\.npy': label 3 at \[1,1,2\] is not a class id of this model \(0\.\.2\) nor the ignore index 255/,
    );
    const neg = y.slice();
    neg[0] = -1n;
    await fails(['--model', segModel, '--input', xPath, '--labels', npy('y_neg.npy', 'int64', [N, H, Wd], neg), '--out', out], /label -1 at \[0,0,0\]/);
  });

  it('truncated model file', async () => {
    const p = join(dir, 'trunc.onnx');
    writeFileSync(p, readFileSync(segModel).subarray(0, 40));
    await fails(['--model', p, '--input', xPath, '--labels', yPath, '--out', out], /model '.*trunc\.onnx' is not a valid ONNX file \(truncated or corrupt\?\)/);
  });

  it('images: wrong rank, non-finite values, wrong dtype, channel count the model fixes', async () => {
    await fails(
      ['--model', segModel, '--input', npy('x3.npy', 'float32', [N * 3, H, Wd], x), '--labels', yPath, '--out', out],
      /'.*x3\.npy': images must be \[N,C,H,W\], got shape \[6,3,4\]/,
    );
    const xn = x.slice();
    xn[13] = Number.NaN;
    await fails(
      ['--model', segModel, '--input', npy('xnan.npy', 'float32', [N, 3, H, Wd], xn), '--labels', yPath, '--out', out],
      /'.*xnan\.npy': non-finite value NaN at \[0,1,0,1\]/,
    );
    await fails(['--model', segModel, '--input', yPath, '--labels', yPath, '--out', out], /images must be float32 \(or float64\), got int64/);
    await fails(
      ['--model', segModel, '--input', npy('x4c.npy', 'float32', [1, 4, 2, 3], new Float32Array(24)), '--labels', yPath, '--out', out],
      /x4c\.npy' has shape \[1,4,2,3\] but the model's input 'x' is \[N,3,H,W\]/,
    );
  });

  it('labels of a float dtype, a malformed labels file', async () => {
    await fails(['--model', segModel, '--input', xPath, '--labels', xPath, '--out', out], /labels must be int64, int32 or uint8, got float32/);
    const p = join(dir, 'junk.npy');
    writeFileSync(p, 'hello');
    await fails(['--model', segModel, '--input', xPath, '--labels', p, '--out', out], /'.*junk\.npy' is not a valid \.npy file/);
  });

  it('an unsupported model lists its op types on one line', async () => {
    const m = writeModel(dir, 'unsup.onnx', model({ nodes: [node('nms', 'NonMaxSuppression', ['x'], ['logits'])], output: 'logits' }));
    await fails(['--model', m, '--input', xPath, '--labels', yPath, '--out', out], /unsupported op type: NonMaxSuppression: nms/);
  });

  it('usage errors exit 2: unknown loss, bad --normalize, bad --threads', async () => {
    const base = ['--model', segModel, '--input', xPath, '--labels', yPath, '--out', out];
    for (const [extra, re] of [
      [['--loss', 'dice'], /unknown loss 'dice'; available: ce-avg/],
      [['--normalize', '0.5,0.5:0.2'], /--normalize must look like/],
      [['--threads', '0'], /--threads must be an integer >= 1/],
    ] as [string[], RegExp][]) {
      const res = await run('grad', ...base, ...extra);
      expect(res.code).toBe(2);
      expect(res.stderr).toMatch(re);
    }
  });
});
