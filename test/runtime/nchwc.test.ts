// The NCHWc rewrite of runtime-weight Convs (src/runtime/nchwc.ts): the rewritten graph computes the same
// convolution as the plain one for every layout the pass accepts (MLAS's OIHWBiBo and OIHWBo filter orders,
// padded output channels, bias, groups, depthwise, strides, dilations, asymmetric pads), leaves alone what
// it must not touch, and gradients through rewritten graphs still match finite differences.
import { existsSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import '../../src/ops/all.js';
import { GraphBuilder } from '../../src/onnx/builder.js';
import { type Graph, numel, tensorFromNumbers } from '../../src/onnx/ir.js';
import { serializeGraph } from '../../src/onnx/serialize.js';
import type { Attrs } from '../../src/ops/registry.js';
import { NCHWC_DOMAIN, nchwcBlockSize, nchwcContext, useNchwcConvs } from '../../src/runtime/nchwc.js';
import { Session } from '../../src/runtime/session.js';
import { normal, rng } from '../harness/rng.js';
import { fdCheck } from '../train/fd.js';

interface ConvCase {
  name: string;
  x: number[];
  w: number[];
  bias?: boolean;
  attrs?: Attrs;
  /** The weights are an initializer (onnxruntime rewrites those itself: the pass must not). */
  constW?: boolean;
}

/** Output of Conv(x, W[, b]) with and without the pass, and how many Convs the pass rewrote. */
async function runCase(c: ConvCase, block: number): Promise<{ plain: Float32Array; nchwc: Float32Array; rewritten: number }> {
  const r = rng(11);
  const data = (shape: number[]) => Float32Array.from({ length: numel(shape) }, () => normal(r));
  const feeds = { x: data(c.x), w: data(c.w), b: data([c.w[0]]) };
  const build = () => {
    const graph: Graph = { name: 'conv', nodes: [], inputs: [], outputs: [], initializers: new Map(), valueInfo: new Map() };
    const b = new GraphBuilder(graph);
    const inputs: [string, number[]][] = [['x', c.x]];
    if (!c.constW) inputs.push(['w', c.w]);
    if (c.bias) inputs.push(['b', [c.w[0]]]);
    for (const [name, shape] of inputs) {
      graph.inputs.push({ name, dtype: 'float32', shape });
      b.types.set(name, { dtype: 'float32', shape });
      b.reserve(name);
    }
    const w = c.constW ? b.constant(tensorFromNumbers('float32', c.w, feeds.w), 'w') : 'w';
    const y = b.emit('Conv', c.bias ? ['x', w, 'b'] : ['x', w], c.attrs);
    graph.outputs = [{ name: y, dtype: 'float32', shape: b.type(y).shape }];
    return { graph, b, y };
  };
  const run = async (graph: Graph, y: string) => {
    const s = await Session.create(serializeGraph(graph), { threads: 1 });
    const f: Record<string, { data: Float32Array; dims: number[]; dtype: 'float32' }> = { x: { data: feeds.x, dims: c.x, dtype: 'float32' } };
    if (!c.constW) f.w = { data: feeds.w, dims: c.w, dtype: 'float32' };
    if (c.bias) f.b = { data: feeds.b, dims: [c.w[0]], dtype: 'float32' };
    const out = (await s.run(f))[y].data as Float32Array;
    await s.release();
    return out;
  };
  const p = build();
  const plain = await run(p.graph, p.y);
  const n = build();
  const rewritten = useNchwcConvs(n.graph, nchwcContext(n.b), block);
  const nchwc = await run(n.graph, n.y);
  return { plain, nchwc, rewritten };
}

const relErr = (a: Float32Array, b: Float32Array): number => {
  let d = 0;
  let m = 0;
  for (let i = 0; i < a.length; i++) {
    d = Math.max(d, Math.abs(a[i] - b[i]));
    m = Math.max(m, Math.abs(a[i]));
  }
  return d / Math.max(m, 1e-6);
};

describe('NCHWc block size', () => {
  it('is 0 (no NCHWc kernels) or a power of two >= 8 (8 with AVX2, 16 with AVX-512)', async () => {
    const b = await nchwcBlockSize();
    expect(b === 0 || (b >= 8 && (b & (b - 1)) === 0)).toBe(true);
    // MLAS has NCHWc kernels on every x86-64 CPU with AVX2 (block 8) or AVX-512 (16): a probe that fails there
    // would silently turn the rewrite (and these tests) off.
    const flags = existsSync('/proc/cpuinfo') ? readFileSync('/proc/cpuinfo', 'utf8') : '';
    if (process.arch === 'x64' && /\bavx2\b/.test(flags)) expect([8, 16]).toContain(b);
    // Cached: one probe per process.
    expect(await nchwcBlockSize()).toBe(b);
  });
});

describe('useNchwcConvs: same convolution, blocked kernels', async () => {
  const B = await nchwcBlockSize();
  // Sizes in units of the block, so every layout is exercised whatever this CPU's block is (8 on AVX2).
  const k = Math.max(B, 8);
  const rewrites: ConvCase[] = [
    { name: 'OIHWBiBo: input channels a multiple of the block, 3x3, pad 1', x: [2, k, 7, 6], w: [2 * k, k, 3, 3], attrs: { pads: [1, 1, 1, 1] } },
    {
      name: 'output channels padded up to the block (O = block + 4), bias',
      x: [2, 2 * k, 5, 5],
      w: [k + 4, 2 * k, 3, 3],
      bias: true,
      attrs: { pads: [1, 1, 1, 1] },
    },
    {
      name: 'OIHWBo: fewer input channels than the block (3, straight from NCHW), stride 2',
      x: [2, 3, 9, 8],
      w: [k, 3, 3, 3],
      attrs: { strides: [2, 2], pads: [1, 1, 1, 1] },
    },
    { name: 'dilation 2, asymmetric pads', x: [1, k, 9, 9], w: [k, k, 3, 3], attrs: { dilations: [2, 2], pads: [2, 1, 1, 2] } },
    { name: '1x1 conv, stride 2', x: [2, k, 8, 8], w: [2 * k, k, 1, 1], attrs: { strides: [2, 2] } },
    { name: 'depthwise (group = channels), OIHWBo filter on blocked input', x: [2, k, 6, 6], w: [k, 1, 3, 3], attrs: { group: k, pads: [1, 1, 1, 1] } },
    { name: 'grouped, block-aligned groups', x: [1, 2 * k, 5, 5], w: [2 * k, k, 3, 3], attrs: { group: 2, pads: [1, 1, 1, 1] } },
    { name: 'weight-gradient shape: batch as channels (8 < block), a large kernel, 3x3 output', x: [k, 8, 10, 10], w: [k, 8, 8, 8] },
  ];
  for (const c of rewrites)
    it(`${c.name}`, async () => {
      const r = await runCase(c, B);
      expect(r.plain.length).toBe(r.nchwc.length);
      if (B === 0) return expect(r.rewritten).toBe(0);
      expect(r.rewritten).toBe(1);
      expect(relErr(r.plain, r.nchwc)).toBeLessThan(1e-5);
    });

  const kept: ConvCase[] = [
    { name: 'constant weights (onnxruntime rewrites those itself)', x: [1, k, 5, 5], w: [k, k, 3, 3], constW: true },
    { name: 'input channels above the block and not a multiple of it', x: [1, k + 4, 5, 5], w: [k, k + 4, 3, 3] },
    { name: 'grouped with groups not block-aligned', x: [1, 2 * k, 5, 5], w: [2 * k, 4, 3, 3], attrs: { group: k / 2 } },
  ];
  for (const c of kept)
    it(`left as a plain Conv: ${c.name}`, async () => {
      const r = await runCase(c, B);
      expect(r.rewritten).toBe(0);
      expect(r.nchwc).toEqual(r.plain);
    });

  it('a block of 0 (no NCHWc kernels on this CPU) rewrites nothing', async () => {
    const r = await runCase(rewrites[0], 0);
    expect(r.rewritten).toBe(0);
  });

  it('gradients through a rewritten graph (forward, input-gradient and weight-gradient Convs) match finite differences', async () => {
    let rewritten = 0;
    const check = (rewrite: boolean) =>
      fdCheck({
        seed: 5,
        inputs: [
          { name: 'x', shape: [2, k, 6, 6] },
          { name: 'w', shape: [k, k, 3, 3] },
          { name: 'b', shape: [k] },
        ],
        build: (b) => [b.emit('Tanh', [b.emit('Conv', ['x', 'w', 'b'], { pads: [1, 1, 1, 1] })])],
        post: rewrite
          ? (b, g) => {
              rewritten = useNchwcConvs(g, nchwcContext(b), B);
            }
          : undefined,
      });
    const rep = await check(true);
    const plain = await check(false);
    // Forward, input-gradient (the adjoint conv) and weight-gradient Convs all take runtime weights here.
    if (B > 0) expect(rewritten).toBeGreaterThanOrEqual(2);
    expect(rep.maxErr).toBeLessThan(2e-3);
    for (const [name, g] of plain.grads) {
      const got = rep.grads.get(name) as Float64Array;
      const scale = Math.max(...g.map(Math.abs));
      for (let i = 0; i < g.length; i++) expect(Math.abs(got[i] - g[i])).toBeLessThan(1e-5 * scale);
    }
  });

  it('the rewritten graph imports the NCHWc domain', async () => {
    if (B === 0) return;
    const graph: Graph = { name: 'g', nodes: [], inputs: [], outputs: [], initializers: new Map(), valueInfo: new Map() };
    const b = new GraphBuilder(graph);
    for (const [name, shape] of [
      ['x', [1, k, 4, 4]],
      ['w', [k, k, 1, 1]],
    ] as const) {
      graph.inputs.push({ name, dtype: 'float32', shape: [...shape] });
      b.types.set(name, { dtype: 'float32', shape: [...shape] });
      b.reserve(name);
    }
    const y = b.emit('Conv', ['x', 'w']);
    graph.outputs = [{ name: y, dtype: 'float32', shape: b.type(y).shape }];
    useNchwcConvs(graph, nchwcContext(b), B);
    expect(graph.nodes.some((n) => n.domain === NCHWC_DOMAIN && n.opType === 'Conv')).toBe(true);
    const { decodeModel } = await import('../../src/onnx/codec.js');
    expect(decodeModel(serializeGraph(graph)).opsetImports.get(NCHWC_DOMAIN)).toBe(1);
  });
});
