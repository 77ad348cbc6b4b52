// The Net builder's layers (src/arch/net.ts) run by onnxruntime against naive JavaScript references:
// grouped / strided / dilated Conv with bias, eval-form BatchNormalization, LayerNorm over channels
// (NCHW kept), bilinear resize to another tensor's size (PyTorch align_corners=False), Linear (Gemm,
// weight [out, in]), channels-last Linear (MatMul, weight [in, out]), average pool excluding padding.
import { describe, expect, it } from 'vitest';
import { ArchError, type Feat, Net } from '../../src/arch/net.js';
import { encodeModel } from '../../src/onnx/codec.js';
import { CANONICAL_IR_VERSION, CANONICAL_OPSET, type Model } from '../../src/onnx/ir.js';
import { Session } from '../../src/runtime/session.js';
import { maxAbsDiff } from '../harness/compare.js';
import { normal, rng } from '../harness/rng.js';

function model(net: Net, input: { name: string; dims: number[] }, outputs: string[]): Model {
  return {
    irVersion: CANONICAL_IR_VERSION,
    opsetImports: new Map([['', CANONICAL_OPSET]]),
    producerName: 'test',
    producerVersion: '',
    metadata: {},
    graph: {
      name: 'net',
      nodes: net.nodes,
      inputs: [{ name: input.name, dtype: 'float32', shape: ['N', input.dims[1], 'H', 'W'] }],
      outputs: outputs.map((name) => ({ name, dtype: 'float32', shape: undefined })),
      initializers: net.initializers,
      valueInfo: new Map(),
    },
  };
}

async function run(net: Net, x: Float32Array, dims: number[], outputs: string[]): Promise<Record<string, { data: Float32Array; dims: number[] }>> {
  const s = await Session.create(encodeModel(model(net, { name: 'x', dims }, outputs)), { threads: 1 });
  const r = await s.run({ x: { data: x, dims, dtype: 'float32' } }, outputs);
  await s.release();
  const out: Record<string, { data: Float32Array; dims: number[] }> = {};
  for (const [k, v] of Object.entries(r)) out[k] = { data: v.data as Float32Array, dims: v.dims };
  return out;
}

function randomFill(t: Float32Array, seed: number, scale = 1): Float32Array {
  const r = rng(seed);
  for (let i = 0; i < t.length; i++) t[i] = scale * normal(r);
  return t;
}

const param = (net: Net, name: string): Float32Array => net.initializers.get(name)?.data as Float32Array;

/** Naive NCHW convolution with zero padding. */
function convRef(
  x: Float32Array,
  [N, C, H, W]: number[],
  w: Float32Array,
  b: Float32Array | undefined,
  o: { out: number; k: number; stride: number; pad: number; dil: number; groups: number },
): { data: Float32Array; dims: number[] } {
  const Ho = Math.floor((H + 2 * o.pad - o.dil * (o.k - 1) - 1) / o.stride) + 1;
  const Wo = Math.floor((W + 2 * o.pad - o.dil * (o.k - 1) - 1) / o.stride) + 1;
  const cg = C / o.groups;
  const og = o.out / o.groups;
  const y = new Float32Array(N * o.out * Ho * Wo);
  for (let n = 0; n < N; n++)
    for (let co = 0; co < o.out; co++) {
      const g = Math.floor(co / og);
      for (let i = 0; i < Ho; i++)
        for (let j = 0; j < Wo; j++) {
          let s = b ? b[co] : 0;
          for (let ci = 0; ci < cg; ci++)
            for (let u = 0; u < o.k; u++)
              for (let v = 0; v < o.k; v++) {
                const hi = i * o.stride - o.pad + u * o.dil;
                const wi = j * o.stride - o.pad + v * o.dil;
                if (hi < 0 || hi >= H || wi < 0 || wi >= W) continue;
                s += x[((n * C + g * cg + ci) * H + hi) * W + wi] * w[((co * cg + ci) * o.k + u) * o.k + v];
              }
          y[((n * o.out + co) * Ho + i) * Wo + j] = s;
        }
    }
  return { data: y, dims: [N, o.out, Ho, Wo] };
}

/** PyTorch F.interpolate(bilinear, align_corners=False) along H and W. */
function bilinearRef(x: Float32Array, [N, C, H, W]: number[], Ho: number, Wo: number): Float32Array {
  const coord = (d: number, inN: number, outN: number): [number, number, number] => {
    const s = Math.max((d + 0.5) * (inN / outN) - 0.5, 0);
    const i0 = Math.min(Math.floor(s), inN - 1);
    const i1 = Math.min(i0 + 1, inN - 1);
    return [i0, i1, s - i0];
  };
  const y = new Float32Array(N * C * Ho * Wo);
  for (let nc = 0; nc < N * C; nc++)
    for (let i = 0; i < Ho; i++) {
      const [h0, h1, lh] = coord(i, H, Ho);
      for (let j = 0; j < Wo; j++) {
        const [w0, w1, lw] = coord(j, W, Wo);
        const at = (h: number, w: number) => x[(nc * H + h) * W + w];
        y[(nc * Ho + i) * Wo + j] = (1 - lh) * ((1 - lw) * at(h0, w0) + lw * at(h0, w1)) + lh * ((1 - lw) * at(h1, w0) + lw * at(h1, w1));
      }
    }
  return y;
}

describe('Net layers against naive references', () => {
  it('conv: groups, stride, dilation, padding and bias follow the NCHW / [out, in/groups, k, k] convention', async () => {
    const dims = [2, 4, 9, 7];
    const x = randomFill(new Float32Array(2 * 4 * 9 * 7), 1);
    const net = new Net(5);
    const inp = net.input('x', 4);
    const a = net.conv(inp, 'a', { out: 6, kernel: 3, stride: 2, groups: 2, bias: true });
    const d = net.conv(inp, 'dw', { out: 4, kernel: 3, dilation: 2, groups: 4 });
    randomFill(param(net, 'a.bias'), 2);
    expect(net.initializers.get('a.weight')?.dims).toEqual([6, 2, 3, 3]);
    expect(net.initializers.get('dw.weight')?.dims).toEqual([4, 1, 3, 3]);
    expect(net.initializers.has('dw.bias')).toBe(false);
    expect(a.stride).toBe(2);
    const r = await run(net, x, dims, [a.name, d.name]);
    const ra = convRef(x, dims, param(net, 'a.weight'), param(net, 'a.bias'), { out: 6, k: 3, stride: 2, pad: 1, dil: 1, groups: 2 });
    const rd = convRef(x, dims, param(net, 'dw.weight'), undefined, { out: 4, k: 3, stride: 1, pad: 2, dil: 2, groups: 4 });
    expect(r[a.name].dims).toEqual(ra.dims);
    expect(r[d.name].dims).toEqual(rd.dims);
    expect(maxAbsDiff(r[a.name].data, ra.data)).toBeLessThan(1e-5);
    expect(maxAbsDiff(r[d.name].data, rd.data)).toBeLessThan(1e-5);
  });

  it('batchNorm: eval form (x - mean) / sqrt(var + 1e-5) * weight + bias with PyTorch momentum 0.1', async () => {
    const dims = [2, 3, 4, 5];
    const x = randomFill(new Float32Array(2 * 3 * 20), 3);
    const net = new Net(0);
    const y = net.batchNorm(net.input('x', 3), 'bn');
    const w = Float32Array.from([0.5, 2, -1]);
    const b = Float32Array.from([0.1, 0, -0.3]);
    const m = Float32Array.from([0.2, -0.4, 1]);
    const v = Float32Array.from([0.5, 4, 0.01]);
    param(net, 'bn.weight').set(w);
    param(net, 'bn.bias').set(b);
    param(net, 'bn.running_mean').set(m);
    param(net, 'bn.running_var').set(v);
    const node = net.nodes[0];
    expect(node.attrs.momentum).toEqual({ type: 'float', value: 0.9 });
    const r = await run(net, x, dims, [y.name]);
    const ref = x.map((xv, i) => {
      const c = Math.floor(i / 20) % 3;
      return ((xv - m[c]) / Math.sqrt(v[c] + 1e-5)) * w[c] + b[c];
    });
    expect(maxAbsDiff(r[y.name].data, ref)).toBeLessThan(1e-5);
  });

  it('layerNormChannels: normalises each pixel over C (eps 1e-6), output stays NCHW', async () => {
    const dims = [2, 5, 3, 4];
    const x = randomFill(new Float32Array(2 * 5 * 12), 4, 3);
    const net = new Net(0);
    const y = net.layerNormChannels(net.input('x', 5), 'ln');
    const w = randomFill(param(net, 'ln.weight'), 5);
    const b = randomFill(param(net, 'ln.bias'), 6);
    const r = await run(net, x, dims, [y.name]);
    expect(r[y.name].dims).toEqual(dims);
    const ref = new Float32Array(x.length);
    for (let n = 0; n < 2; n++)
      for (let p = 0; p < 12; p++) {
        const at = (c: number) => (n * 5 + c) * 12 + p;
        let mean = 0;
        for (let c = 0; c < 5; c++) mean += x[at(c)] / 5;
        let vr = 0;
        for (let c = 0; c < 5; c++) vr += (x[at(c)] - mean) ** 2 / 5;
        for (let c = 0; c < 5; c++) ref[at(c)] = ((x[at(c)] - mean) / Math.sqrt(vr + 1e-6)) * w[c] + b[c];
      }
    expect(maxAbsDiff(r[y.name].data, ref)).toBeLessThan(1e-4);
  });

  it('resizeLike: bilinear, half_pixel (align_corners=False) to the dynamic size of another tensor', async () => {
    const dims = [1, 2, 6, 10];
    const x = randomFill(new Float32Array(120), 7);
    const net = new Net(0);
    const inp = net.input('x', 2);
    const small = net.avgPool(inp, 2, 2);
    const up = net.resizeLike(small, inp);
    const r = await run(net, x, dims, [small.name, up.name]);
    expect(r[small.name].dims).toEqual([1, 2, 3, 5]);
    expect(r[up.name].dims).toEqual(dims);
    expect(maxAbsDiff(r[up.name].data, bilinearRef(r[small.name].data, [1, 2, 3, 5], 6, 10))).toBeLessThan(1e-5);
    // Another input size: the sizes come from Shape at run time, nothing is fixed in the graph.
    const x2 = randomFill(new Float32Array(2 * 2 * 4 * 6), 8);
    const r2 = await run(net, x2, [2, 2, 4, 6], [up.name]);
    expect(r2[up.name].dims).toEqual([2, 2, 4, 6]);
  });

  it('avgPool ceil: end padding excluded from the average, partial last window kept, maps smaller than the kernel give one value', async () => {
    const x = Float32Array.from({ length: 9 }, (_, i) => i);
    const net = new Net(0);
    const y = net.avgPool(net.input('x', 1), 2, 2, 0, true);
    const r = await run(net, x, [1, 1, 3, 3], [y.name]);
    expect(r[y.name].dims).toEqual([1, 1, 2, 2]);
    // windows {0,1,3,4}, {2,5}, {6,7}, {8}
    expect(Array.from(r[y.name].data)).toEqual([2, 3.5, 6.5, 8]);
    const one = await run(net, Float32Array.from([5]), [1, 1, 1, 1], [y.name]);
    expect(Array.from(one[y.name].data)).toEqual([5]);
  });

  it('linear (Gemm, weight [out, in]) and linearLast (MatMul, weight [in, out]) after global pooling', async () => {
    const dims = [3, 4, 2, 2];
    const x = randomFill(new Float32Array(48), 9);
    const net = new Net(0);
    const g = net.globalAvgPool(net.input('x', 4));
    const v = net.flatten(g);
    const a = net.linear(v, 4, 3, 'fc');
    const l = net.linearLast(v, 4, 2, 'mlp');
    randomFill(param(net, 'fc.bias'), 10);
    randomFill(param(net, 'mlp.bias'), 11);
    expect(net.initializers.get('fc.weight')?.dims).toEqual([3, 4]);
    expect(net.initializers.get('mlp.weight')?.dims).toEqual([4, 2]);
    const r = await run(net, x, dims, [a, l]);
    const pooled = Array.from({ length: 12 }, (_, k) => (x[4 * k] + x[4 * k + 1] + x[4 * k + 2] + x[4 * k + 3]) / 4);
    const [W, B, M, MB] = [param(net, 'fc.weight'), param(net, 'fc.bias'), param(net, 'mlp.weight'), param(net, 'mlp.bias')];
    const refA = Array.from({ length: 9 }, (_, k) => {
      const [n, o] = [Math.floor(k / 3), k % 3];
      return B[o] + [0, 1, 2, 3].reduce((s, c) => s + W[o * 4 + c] * pooled[n * 4 + c], 0);
    });
    const refL = Array.from({ length: 6 }, (_, k) => {
      const [n, o] = [Math.floor(k / 2), k % 2];
      return MB[o] + [0, 1, 2, 3].reduce((s, c) => s + M[c * 2 + o] * pooled[n * 4 + c], 0);
    });
    expect(r[a].dims).toEqual([3, 3]);
    expect(maxAbsDiff(r[a].data, refA)).toBeLessThan(1e-5);
    expect(maxAbsDiff(r[l].data, refL)).toBeLessThan(1e-5);
  });

  it('rejects duplicate parameter names and channel counts that groups do not divide', () => {
    const net = new Net(0);
    const x: Feat = net.input('x', 4);
    net.conv(x, 'c', { out: 4, kernel: 1 });
    expect(() => net.conv(x, 'c', { out: 4, kernel: 1 })).toThrow(ArchError);
    expect(() => net.conv(x, 'd', { out: 6, kernel: 1, groups: 4 })).toThrow(/not divisible by groups/);
    expect(() => net.conv(x, 'e', { out: 4, kernel: 2 })).toThrow(/explicit pad/);
  });
});
