// Initialisation and sizes (src/arch/init.ts, registry.ts): seeds are reproducible byte for byte and
// change every random weight; conv weights are Kaiming-normal with std sqrt(2 / fan_out), fan_out =
// out * kh * kw (torch's convention, groups ignored); linear weights truncated normal (std 0.02, cut at
// +-2 std); biases zero; norms ones/zeros; layer scale its constant; parameter counts of small configs
// computed by hand and counted by the trainer's own parameter discovery.
import { describe, expect, it } from 'vitest';
import { buildArch, buildClassifier, buildSegmentation, type ConvNeXtConfig, type ResNetConfig } from '../../src/arch/index.js';
import { encodeModel } from '../../src/onnx/codec.js';
import type { Model } from '../../src/onnx/ir.js';
import { TrainableModel } from '../../src/train/trainable.js';

const values = (m: Model, name: string): Float32Array => {
  const t = m.graph.initializers.get(name);
  if (!t) throw new Error(`no initializer ${name}`);
  return t.data as Float32Array;
};

function moments(a: Float32Array): { mean: number; std: number; maxAbs: number } {
  let s = 0;
  let m = 0;
  for (const v of a) {
    s += v;
    m = Math.max(m, Math.abs(v));
  }
  const mean = s / a.length;
  let q = 0;
  for (const v of a) q += (v - mean) ** 2;
  return { mean, std: Math.sqrt(q / a.length), maxAbs: m };
}

/** Standard normal density and CDF (Abramowitz-Stegun 7.1.26 erf, |error| < 1.5e-7). */
const phi = (x: number) => Math.exp((-x * x) / 2) / Math.sqrt(2 * Math.PI);
function Phi(x: number): number {
  const z = Math.abs(x) / Math.SQRT2;
  const t = 1 / (1 + 0.3275911 * z);
  const erf = 1 - ((((1.061405429 * t - 1.453152027) * t + 1.421413741) * t - 0.284496736) * t + 0.254829592) * t * Math.exp(-z * z);
  return 0.5 * (1 + (x >= 0 ? erf : -erf));
}

describe('seeded initialisation', () => {
  it('the same seed gives identical bytes, another seed changes every random weight and nothing else', () => {
    for (const name of ['resnet-tiny-upernet', 'convnext-tiny-cls']) {
      const a = encodeModel(buildArch(name, { classes: 4, seed: 7 }));
      const b = encodeModel(buildArch(name, { classes: 4, seed: 7 }));
      expect(Buffer.compare(a, b)).toBe(0);
      const m7 = buildArch(name, { classes: 4, seed: 7 });
      const m8 = buildArch(name, { classes: 4, seed: 8 });
      expect(JSON.stringify(m8.graph.nodes)).toBe(JSON.stringify(m7.graph.nodes));
      let random = 0;
      for (const [k, t] of m7.graph.initializers) {
        const u = t.data as Float32Array;
        const v = m8.graph.initializers.get(k)?.data as Float32Array;
        const constant = u.every((x) => x === u[0]);
        if (constant) expect(Array.from(v)).toEqual(Array.from(u));
        else {
          random++;
          let same = 0;
          for (let i = 0; i < u.length; i++) if (u[i] === v[i]) same++;
          expect(same, k).toBe(0);
        }
      }
      expect(random).toBeGreaterThan(10);
    }
  });

  it('conv weights: Kaiming normal, mean 0 and std sqrt(2 / (out * kh * kw)) (fan_out, relu gain)', () => {
    const m = buildArch('resnet-tiny-upernet', { classes: 4, seed: 1 });
    const w = values(m, 'enc.layer4.0.conv1.weight'); // [96, 64, 3, 3]: fan_out 864, fan_in 576
    const { mean, std } = moments(w);
    const want = Math.sqrt(2 / (96 * 9));
    // Sampling error of the std estimate ~ 1/sqrt(2n) = 0.3% for n = 55296 (fan_in would be 22% off).
    expect(Math.abs(std / want - 1)).toBeLessThan(0.015);
    expect(Math.abs(mean)).toBeLessThan((4 * want) / Math.sqrt(w.length));
    // Depthwise [96, 1, 7, 7]: torch's fan_out = 96 * 49 (groups not divided out). n = 4704 -> ~1%.
    const c = buildArch('convnext-tiny-upernet', { classes: 4, seed: 1 });
    const dw = moments(values(c, 'enc.stages.3.0.dwconv.weight'));
    expect(Math.abs(dw.std / Math.sqrt(2 / (96 * 49)) - 1)).toBeLessThan(0.05);
  });

  it('linear weights: normal std 0.02 truncated at +-2 std (std of the truncated law 0.02 * 0.8796)', () => {
    const c = buildArch('convnext-tiny-upernet', { classes: 4, seed: 3 });
    const w = values(c, 'enc.stages.2.0.pwconv1.weight'); // [64, 256]
    expect(c.graph.initializers.get('enc.stages.2.0.pwconv1.weight')?.dims).toEqual([64, 256]);
    const { std, maxAbs } = moments(w);
    const truncStd = 0.02 * Math.sqrt(1 - (2 * 2 * phi(2)) / (2 * Phi(2) - 1));
    expect(truncStd).toBeCloseTo(0.02 * 0.8796, 4);
    expect(maxAbs).toBeLessThanOrEqual(0.04 + 1e-7);
    expect(maxAbs).toBeGreaterThan(0.038);
    expect(Math.abs(std / truncStd - 1)).toBeLessThan(0.03);
    const fc = moments(values(buildArch('resnet-tiny-cls', { classes: 10, seed: 3 }), 'head.fc.weight'));
    expect(fc.maxAbs).toBeLessThanOrEqual(0.04 + 1e-7);
  });

  it('biases zero, norm scales one and shifts zero, running mean 0 / var 1, layer scale 1e-6', () => {
    const c = buildArch('convnext-tiny-upernet', { classes: 4, seed: 3 });
    const r = buildArch('resnet-tiny-upernet', { classes: 4, seed: 3 });
    const all = (m: Model, name: string, v: number) =>
      expect(
        values(m, name).every((x) => x === Math.fround(v)),
        name,
      ).toBe(true);
    all(c, 'enc.stages.0.0.dwconv.bias', 0);
    all(c, 'enc.stages.0.0.pwconv1.bias', 0);
    all(c, 'enc.stages.0.0.norm.weight', 1);
    all(c, 'enc.stages.0.0.norm.bias', 0);
    all(c, 'enc.stages.0.0.gamma', 1e-6);
    all(c, 'dec.in_norm.2.weight', 1);
    all(r, 'enc.stem.bn.weight', 1);
    all(r, 'enc.stem.bn.bias', 0);
    all(r, 'enc.stem.bn.running_mean', 0);
    all(r, 'enc.stem.bn.running_var', 1);
    all(r, 'dec.classifier.bias', 0);
  });
});

describe('parameter counts (hand-computed)', () => {
  const resnet: ResNetConfig = { kind: 'resnet', stem: { channels: 4, kernel: 3, stride: 2, maxPool: false }, widths: [4, 8], depths: [1, 1] };
  const convnext: ConvNeXtConfig = { kind: 'convnext', stem: 'patchify', dims: [4, 8], depths: [1, 1], layerScale: 0.5 };
  const count = (m: Model) => {
    const t = TrainableModel.fromOnnx(m);
    const params = t.parameterInfo().reduce((s, p) => s + p.dims.reduce((a, b) => a * b, 1), 0);
    const buffers = [...t.buffers().values()].reduce((s, b) => s + b.length, 0);
    return { params, buffers };
  };

  it('ResNet stem 4, widths [4, 8], depths [1, 1] + linear head (K = 3): 1391 parameters, 72 running-stat values', () => {
    // stem conv 4*3*3*3 = 108, bn 2*4 -> 116
    // layer1.0: conv1 4*4*9 = 144, bn1 8, conv2 144, bn2 8 -> 304 (stride 1, 4 -> 4: no downsample)
    // layer2.0: conv1 8*4*9 = 288, bn1 16, conv2 8*8*9 = 576, bn2 16, downsample conv 8*4 = 32, bn 16 -> 944
    // head.fc 3*8 + 3 = 27                                         total 116 + 304 + 944 + 27 = 1391
    // running stats: stem 2*4, layer1 2*2*4, layer2 3*2*8 = 8 + 16 + 48 = 72
    expect(count(buildClassifier(resnet, { classes: 3 }))).toEqual({ params: 1391, buffers: 72 });
  });

  it('the same encoder + FCN head (8 -> 6 channels, K = 3): 1364 encoder + 465 head parameters', () => {
    // dec.block conv 6*8*9 = 432, bn 12, dec.classifier 3*6 + 3 = 21 -> 465; buffers + 2*6
    expect(count(buildSegmentation({ encoder: resnet, decoder: { kind: 'fcn', channels: 6 } }, { classes: 3 }))).toEqual({ params: 1364 + 465, buffers: 84 });
  });

  it('ConvNeXt patchify stem, dims [4, 8], depths [1, 1], layer scale + LN + linear head (K = 3): 1727 parameters', () => {
    // stem conv 4*3*4*4 + 4 = 196, norm 8 -> 204
    // stage 0 block: dwconv 4*49 + 4 = 200, norm 8, pwconv1 4*16 + 16 = 80, pwconv2 16*4 + 4 = 68, gamma 4 -> 360
    // downsample1: norm 8, conv 8*4*2*2 + 8 = 136 -> 144
    // stage 1 block: dwconv 8*49 + 8 = 400, norm 16, pwconv1 8*32 + 32 = 288, pwconv2 32*8 + 8 = 264, gamma 8 -> 976
    // head: norm 16, fc 3*8 + 3 = 27 -> 43                     total 204 + 360 + 144 + 976 + 43 = 1727
    expect(count(buildClassifier(convnext, { classes: 3 }))).toEqual({ params: 1727, buffers: 0 });
  });

  it('registered architectures stay CPU-sized (50k to 500k parameters)', () => {
    for (const name of ['resnet-tiny-fcn', 'resnet-tiny-upernet', 'convnext-tiny-upernet', 'resnet-tiny-cls', 'convnext-tiny-cls']) {
      const { params } = count(buildArch(name, { classes: 6 }));
      expect(params, name).toBeGreaterThan(50_000);
      expect(params, name).toBeLessThan(500_000);
    }
  });
});
