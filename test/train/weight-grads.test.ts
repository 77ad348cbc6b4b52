// Weight gradients of whole architectures against PyTorch autograd (tools/fixtures/export_weight_grads.py):
// the gradient of the summed per-image ce-avg loss w.r.t. EVERY parameter, in eval mode (BatchNorm on
// running statistics) and in train mode (batch statistics), and the running statistics after the
// train-mode step (momentum 0.1, unbiased variance). Models, weights and data are those of the arch
// fixtures (test/fixtures/arch); the reference is PyTorch float64 rounded to float32.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { decodeModel } from '../../src/onnx/codec.js';
import { TrainableModel } from '../../src/train/trainable.js';
import { cosine, maxAbsDiff } from '../harness/compare.js';
import { addSeededInitializers, type SeededInitializer } from '../harness/seeded-weights.js';

const ROOT = fileURLToPath(new URL('../fixtures/weights/', import.meta.url));

interface Named {
  name: string;
  dims: number[];
}

interface Floor {
  zeroGrad: string[];
  worstCosine: number;
  worstMaxErrOverMax: number;
  stepMs: number;
}

interface Manifest {
  name: string;
  arch: string;
  torchFloat32: Partial<Record<'eval' | 'train', Floor>>;
  params: Named[];
  buffers: Named[];
}

interface ArchManifest {
  input: { name: string };
  ignoreIndex: number;
  data: string;
  files: Record<'x' | 'labels', { file: string; dims: number[] }>;
  removed: SeededInitializer[];
}

const count = (dims: number[]) => dims.reduce((a, b) => a * b, 1);

function readF32(path: string): Float32Array {
  const b = readFileSync(path);
  const v = new DataView(b.buffer, b.byteOffset, b.length);
  return Float32Array.from({ length: b.length / 4 }, (_, i) => v.getFloat32(4 * i, true));
}

function maxAbs(a: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]));
  return m;
}

/** Splits a concatenation into the named tensors. */
function split(all: Float32Array, list: Named[]): Map<string, Float32Array> {
  const out = new Map<string, Float32Array>();
  let o = 0;
  for (const p of list) {
    const n = count(p.dims);
    out.set(p.name, all.subarray(o, o + n));
    o += n;
  }
  expect(o, 'reference size').toBe(all.length);
  return out;
}

function load(name: string) {
  const dir = join(ROOT, name);
  const m = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')) as Manifest;
  const archDir = join(dir, m.arch);
  const a = JSON.parse(readFileSync(join(archDir, 'manifest.json'), 'utf8')) as ArchManifest;
  const onnx = decodeModel(readFileSync(join(archDir, 'model.onnx')));
  addSeededInitializers(onnx, a.removed);
  const data = join(archDir, a.data);
  const q = readFileSync(join(data, a.files.x.file));
  const x = Float32Array.from(q, (v) => v / 255);
  const labels = BigInt64Array.from(readFileSync(join(data, a.files.labels.file)), (v) => BigInt(v));
  return { dir, m, a, onnx, x: { data: x, dims: a.files.x.dims }, labels: { data: labels, dims: a.files.labels.dims } };
}

const fixtures = existsSync(ROOT)
  ? readdirSync(ROOT)
      .filter((d) => existsSync(join(ROOT, d, 'manifest.json')))
      .sort()
  : [];

const rows: string[] = [];
afterAll(() => {
  if (rows.length)
    console.log(
      `weight gradients vs PyTorch: fixture mode | ms compile + first step | cached step | PyTorch fp32 fwd+bwd | worst cosine (tensor) | worst max err / max|g| (tensor) | loss rel err | running stats max rel err\n${rows.join('\n')}`,
    );
});

describe('weight gradients match PyTorch autograd on whole architectures', () => {
  it('has the unet, normalized_convnet, convnext_upernet and segmenter_vit fixtures', () => {
    expect(fixtures).toEqual(expect.arrayContaining(['unet', 'normalized_convnet', 'convnext_upernet', 'segmenter_vit']));
  });

  for (const name of fixtures) {
    // A fixture without BatchNorm (or dropout) has no separate train-mode reference: train mode is eval mode.
    const modes = (['eval', 'train'] as const).filter(
      (mode) => (JSON.parse(readFileSync(join(ROOT, name, 'manifest.json'), 'utf8')) as Manifest).torchFloat32[mode] !== undefined,
    );
    for (const mode of modes) {
      it(`${name}, ${mode} mode: every parameter's gradient (cosine >= 0.9999, max abs err <= 1e-3 max|g|)${mode === 'train' ? ', per-image loss and updated running statistics' : ''}`, async () => {
        const fx = load(name);
        const floor = fx.m.torchFloat32[mode];
        if (!floor) throw new Error(`${name}: no ${mode}-mode reference in the manifest`);
        const model = TrainableModel.fromOnnx(fx.onnx);
        expect(
          model
            .parameterInfo()
            .map((p) => p.name)
            .sort(),
          'the parameters robustscope finds are PyTorch named_parameters()',
        ).toEqual(fx.m.params.map((p) => p.name).sort());
        expect([...model.buffers().keys()].sort()).toEqual(fx.m.buffers.map((b) => b.name).sort());
        const opts = { training: mode === 'train', ignoreIndex: fx.a.ignoreIndex };
        const t0 = performance.now();
        const r = await model.step(fx.x, fx.labels, opts);
        const first = performance.now() - t0;
        const statsAfter = new Map([...model.buffers()].map(([k, v]) => [k, Float32Array.from(v)]));
        let cached = Number.POSITIVE_INFINITY;
        for (let k = 0; k < 5; k++) {
          const t = performance.now();
          await model.step(fx.x, fx.labels, { ...opts, updateStats: false });
          cached = Math.min(cached, performance.now() - t);
        }

        const lossRef = readF32(join(fx.dir, `loss.${mode}.f32.bin`));
        const lossErr = Math.max(...Array.from(lossRef, (l, i) => Math.abs(r.losses[i] - l) / Math.abs(l)));
        expect(lossErr, 'per-image loss relative error').toBeLessThanOrEqual(1e-4);

        const ref = split(readF32(join(fx.dir, `grads.${mode}.f32.bin`)), fx.m.params);
        const top = Math.max(...[...ref.values()].map(maxAbs));
        const zero = new Set(floor.zeroGrad);
        let worstCos = { v: 1, p: '' };
        let worstErr = { v: 0, p: '' };
        for (const [p, want] of ref) {
          const got = r.grads.get(p) as Float32Array;
          expect(got.length, p).toBe(want.length);
          if (zero.has(p)) {
            // Zero in exact arithmetic: ours must be rounding noise too.
            expect(maxAbs(got), `${p}: structurally zero gradient`).toBeLessThanOrEqual(1e-5 * top);
            continue;
          }
          const cos = cosine(got, want);
          const err = maxAbsDiff(got, want) / maxAbs(want);
          if (cos < worstCos.v) worstCos = { v: cos, p };
          if (err > worstErr.v) worstErr = { v: err, p };
        }
        let statErr = 0;
        if (mode === 'train') {
          const want = split(readF32(join(fx.dir, 'stats.train.f32.bin')), fx.m.buffers);
          for (const [b, w] of want) statErr = Math.max(statErr, maxAbsDiff(statsAfter.get(b) as Float32Array, w) / Math.max(1e-3, maxAbs(w)));
        }
        rows.push(
          `  ${`${name} ${mode}`.padEnd(24)} ${first.toFixed(0).padStart(6)} | ${cached.toFixed(1).padStart(6)} | ${floor.stepMs.toFixed(1).padStart(6)} | ${worstCos.v.toFixed(8)} (${worstCos.p}) | ${worstErr.v.toExponential(1)} (${worstErr.p}) | ${lossErr.toExponential(1)} | ${mode === 'train' ? statErr.toExponential(1) : '-'}`,
        );
        expect(worstCos.v, `worst cosine, at ${worstCos.p}`).toBeGreaterThanOrEqual(0.9999);
        expect(worstErr.v, `worst max abs err / max|g|, at ${worstErr.p}`).toBeLessThanOrEqual(1e-3);
        if (mode === 'train') expect(statErr, 'running statistics after the step: max abs err relative to the tensor').toBeLessThanOrEqual(1e-5);
        await model.release();
      });
    }
  }
});
