// The architecture registry (src/arch/registry.ts): every registered architecture is a plain opset-21
// model that survives encode -> decode -> encode byte for byte, runs in onnxruntime at more than one input
// size (dynamic N, H, W) with the documented outputs ('logits' [N,K,H,W] or [N,K], 'aux_logits'), loads as
// a RobustModel, normalises [0,1] images itself, and names its encoder so a classifier's 'backbone.*'
// maps onto a segmentation model's 'enc.*' one to one.
import { describe, expect, it } from 'vitest';
import { ArchError, buildArch, buildClassifier, buildSegmentation, listArchs, RESNET_TINY } from '../../src/arch/index.js';
import { decodeModel, encodeModel } from '../../src/onnx/codec.js';
import type { Model } from '../../src/onnx/ir.js';
import { RobustModel } from '../../src/runtime/model.js';
import { Session } from '../../src/runtime/session.js';
import { rng } from '../harness/rng.js';

const K = 5;

function image(dims: number[], seed: number): Float32Array {
  const r = rng(seed);
  return Float32Array.from({ length: dims.reduce((a, b) => a * b, 1) }, () => r());
}

async function runModel(m: Model, dims: number[], seed = 1): Promise<Record<string, { data: Float32Array; dims: number[] }>> {
  const s = await Session.create(encodeModel(m), { threads: 1 });
  const r = await s.run({ image: { data: image(dims, seed), dims, dtype: 'float32' } });
  await s.release();
  const out: Record<string, { data: Float32Array; dims: number[] }> = {};
  for (const [k, v] of Object.entries(r)) out[k] = { data: v.data as Float32Array, dims: v.dims };
  return out;
}

const isFinite32 = (a: Float32Array) => a.every((v) => Number.isFinite(v));

describe('registered architectures', () => {
  const archs = listArchs();

  it('registers the eight CPU-sized architectures', () => {
    expect(archs.map((a) => a.name).sort()).toEqual([
      'compact-cls',
      'compact-skip',
      'convnext-tiny-cls',
      'convnext-tiny-upernet',
      'resnet-tiny-cls',
      'resnet-tiny-fcn',
      'resnet-tiny-upernet',
      'resnet18-half-cls',
    ]);
  });

  for (const a of archs) {
    it(`${a.name}: opset 21, encode/decode round trip is byte-identical, runs in onnxruntime at 64x64 and 32x48`, async () => {
      const m = buildArch(a.name, { classes: K, seed: 2 });
      expect(m.opsetImports.get('')).toBe(21);
      expect(m.graph.inputs).toEqual([{ name: 'image', dtype: 'float32', shape: ['N', 3, 'H', 'W'] }]);
      const bytes = encodeModel(m);
      const back = decodeModel(bytes);
      expect(Buffer.compare(encodeModel(back), bytes)).toBe(0);
      expect(back.graph.outputs.map((o) => o.name)).toEqual(a.task === 'classification' ? ['logits'] : a.aux ? ['logits', 'aux_logits'] : ['logits']);
      for (const [n, h, w] of [
        [2, 64, 64],
        [1, 32, 48],
      ]) {
        const r = await runModel(back, [n, 3, h, w]);
        const want = a.task === 'classification' ? [n, K] : [n, K, h, w];
        expect(r.logits.dims).toEqual(want);
        expect(isFinite32(r.logits.data)).toBe(true);
        if (a.aux) expect(r.aux_logits.dims).toEqual(want);
      }
    });
  }

  it('inputSize fixes H and W in the declared input and outputs', async () => {
    const m = buildArch('resnet-tiny-upernet', { classes: 4, inputSize: [32, 48] });
    expect(m.graph.inputs[0].shape).toEqual(['N', 3, 32, 48]);
    expect(m.graph.outputs.map((o) => o.shape)).toEqual([
      ['N', 4, 32, 48],
      ['N', 4, 32, 48],
    ]);
    const r = await runModel(m, [3, 3, 32, 48]);
    expect(r.logits.dims).toEqual([3, 4, 32, 48]);
  });

  it('aux: false drops the auxiliary head and its parameters', () => {
    const m = buildArch('convnext-tiny-upernet', { classes: K, aux: false });
    expect(m.graph.outputs.map((o) => o.name)).toEqual(['logits']);
    expect([...m.graph.initializers.keys()].some((k) => k.startsWith('aux.'))).toBe(false);
  });

  it('loads as a RobustModel (prepareGraph with static shapes) with the same logits as plain onnxruntime', async () => {
    const m = buildArch('resnet-tiny-fcn', { classes: K, seed: 4 });
    const dims = [2, 3, 32, 32];
    const ref = await runModel(m, dims, 9);
    const rm = RobustModel.fromOnnx(decodeModel(encodeModel(m)), { threads: 1 });
    const r = await rm.forward({ data: image(dims, 9), dims });
    expect(r.logitsDims).toEqual([2, K, 32, 32]);
    let diff = 0;
    for (let i = 0; i < r.logits.length; i++) diff = Math.max(diff, Math.abs(r.logits[i] - ref.logits.data[i]));
    expect(diff).toBeLessThan(1e-4);
  });

  it('normalises [0,1] images in the model: default = no normalisation fed (x - 0.5) / 0.25', async () => {
    const dims = [1, 3, 32, 32];
    const x = image(dims, 5);
    const withNorm = buildClassifier(RESNET_TINY, { classes: K, seed: 6 });
    const raw = buildClassifier(RESNET_TINY, { classes: K, seed: 6, normalize: null });
    const run = async (m: Model, data: Float32Array) => {
      const s = await Session.create(encodeModel(m), { threads: 1 });
      const r = await s.run({ image: { data, dims, dtype: 'float32' } });
      return r.logits.data as Float32Array;
    };
    const a = await run(withNorm, x);
    const b = await run(
      raw,
      x.map((v) => (v - 0.5) / 0.25),
    );
    for (let i = 0; i < a.length; i++) expect(a[i]).toBeCloseTo(b[i], 4);
  });

  it('bad requests fail with ArchError naming the problem', () => {
    expect(() => buildArch('resnet-huge', { classes: 3 })).toThrow(/unknown architecture 'resnet-huge'; known: .*resnet-tiny-fcn/);
    expect(() => buildArch('resnet-tiny-cls', { classes: 3, aux: true })).toThrow(ArchError);
    expect(() => buildArch('resnet-tiny-fcn', { classes: 0 })).toThrow(/classes must be a positive integer/);
    expect(() => buildSegmentation({ encoder: RESNET_TINY, decoder: { kind: 'fcn', channels: 8, from: 7 } }, { classes: 3 })).toThrow(
      /feature 7 does not exist/,
    );
  });
});

describe('backbone transfer naming', () => {
  const pairs: [string, string][] = [
    ['resnet-tiny-fcn', 'resnet-tiny-cls'],
    ['resnet-tiny-upernet', 'resnet-tiny-cls'],
    ['convnext-tiny-upernet', 'convnext-tiny-cls'],
  ];
  for (const [seg, cls] of pairs) {
    it(`${seg} 'enc.*' and ${cls} 'backbone.*' are the same tensors (names and shapes) after mapping enc. -> backbone.`, () => {
      const s = buildArch(seg, { classes: 6 });
      const c = buildArch(cls, { classes: 10 });
      const encoder = [...s.graph.initializers].filter(([k]) => k.startsWith('enc.')).map(([k, t]) => [`backbone.${k.slice(4)}`, t.dims] as const);
      const backbone = [...c.graph.initializers].filter(([k]) => k.startsWith('backbone.')).map(([k, t]) => [k, t.dims] as const);
      expect(encoder.length).toBeGreaterThan(10);
      expect(new Map(encoder)).toEqual(new Map(backbone));
      // Everything else is decoder / head, under its own prefix.
      for (const k of s.graph.initializers.keys()) expect(k).toMatch(/^(enc|dec|aux)\.|^const\//);
      for (const k of c.graph.initializers.keys()) expect(k).toMatch(/^(backbone|head)\.|^const\//);
    });
  }
});
