import { readFileSync } from 'node:fs';
import { describe, expect, expectTypeOf, it } from 'vitest';
import { decodeOptimizerState, encodeOptimizerState, OptimizerStateError } from '../../src/train/checkpoint-state.js';
import { AdamW, type AdamWOptions, type Optimizer, OptimizerError, type ParamSource, SGD, type SgdOptions } from '../../src/train/optim.js';
import type { ParamRole } from '../../src/train/params.js';
import type { TrainableModel } from '../../src/train/trainable.js';

type Entry = [name: string, role: ParamRole, values: number[]];

function source(entries: Entry[]): ParamSource & { params: Map<string, Float32Array> } {
  const params = new Map(entries.map(([n, , v]) => [n, Float32Array.from(v)] as const));
  return { params, parameters: () => params, parameterInfo: () => entries.map(([name, role]) => ({ name, role })) };
}

const grads = (o: Record<string, number[]>): Map<string, Float32Array> => new Map(Object.entries(o).map(([k, v]) => [k, Float32Array.from(v)]));

function expectClose(actual: ArrayLike<number>, expected: ArrayLike<number>, rel = 1e-6): void {
  expect(actual.length).toBe(expected.length);
  for (let i = 0; i < expected.length; i++) expect(Math.abs(actual[i] - expected[i])).toBeLessThanOrEqual(rel * Math.max(1, Math.abs(expected[i])));
}

/** Float64 AdamW of the paper / torch docs, written independently of optim.ts: m_hat / (sqrt(v_hat) + eps). */
function adamwRef(p0: number[], gs: number[][], lrs: number[], wd: number, b1: number, b2: number, eps: number): number[][] {
  const p = [...p0];
  const m = p.map(() => 0);
  const v = p.map(() => 0);
  const out: number[][] = [];
  gs.forEach((g, k) => {
    const t = k + 1;
    const lr = lrs[k];
    for (let i = 0; i < p.length; i++) {
      p[i] -= lr * wd * p[i];
      m[i] = b1 * m[i] + (1 - b1) * g[i];
      v[i] = b2 * v[i] + (1 - b2) * g[i] * g[i];
      const mh = m[i] / (1 - b1 ** t);
      const vh = v[i] / (1 - b2 ** t);
      p[i] -= (lr * mh) / (Math.sqrt(vh) + eps);
    }
    out.push([...p]);
  });
  return out;
}

it('a TrainableModel is a ParamSource (type-level, checked by tsc)', () => {
  expectTypeOf<TrainableModel>().toExtend<ParamSource>();
});

describe('AdamW (torch.optim.AdamW semantics)', () => {
  it('first step: decoupled decay p*(1 - lr*wd), then lr * g/(|g| + eps) by bias correction (hand values)', () => {
    const s = source([['w', 'weight', [1, -2, 0.5]]]);
    const opt = new AdamW(s, { lr: 0.1, weightDecay: 0.1 });
    opt.step(grads({ w: [0.1, -0.2, 0] }));
    // 1*0.99 - 0.1*0.1/(0.1+1e-8); -2*0.99 + 0.1*0.2/(0.2+1e-8); 0.5*0.99 - 0 (m = 0, eps keeps 0/0 away)
    expectClose(s.params.get('w') as Float32Array, [0.89000001, -1.88, 0.495], 2e-7);
    expect(s.params.get('w')?.[0]).toBeCloseTo(0.99 - 0.01 / (0.1 + 1e-8), 6);
  });

  it('three steps match the float64 formula (decoupled decay before the update, bias correction, eps outside the sqrt)', () => {
    const p0 = [0.3, -0.7, 1.2, 0.05];
    const gs = [
      [0.2, -0.1, 0.05, 0.0],
      [-0.3, 0.2, 0.05, 0.01],
      [0.1, 0.4, -0.2, -0.02],
    ];
    const lrs = [1e-2, 5e-3, 2e-3];
    const s = source([['w', 'weight', p0]]);
    const o: AdamWOptions = { lr: 0, weightDecay: 0.05, betas: [0.9, 0.99], eps: 1e-3 };
    const opt = new AdamW(s, o);
    const ref = adamwRef(p0, gs, lrs, 0.05, 0.9, 0.99, 1e-3);
    gs.forEach((g, k) => {
      opt.lr = lrs[k];
      opt.step(grads({ w: g }));
      expectClose(s.params.get('w') as Float32Array, ref[k], 1e-6);
    });
    // The eps placement matters here (eps = 1e-3 is comparable to sqrt(v_hat)): eps inside the sqrt is far off.
    expect(Math.abs((s.params.get('w') as Float32Array)[3] - ref[2][3])).toBeLessThan(1e-7);
  });

  it('no weight decay on roles norm and bias by default; weight and other decay; noDecayRoles [] decays all', () => {
    const entries: Entry[] = [
      ['w', 'weight', [2]],
      ['b', 'bias', [2]],
      ['n', 'norm', [2]],
      ['o', 'other', [2]],
    ];
    const zero = grads({ w: [0], b: [0], n: [0], o: [0] });
    const s = source(entries);
    new AdamW(s, { lr: 0.1, weightDecay: 0.5 }).step(zero);
    // zero gradient: the Adam part is 0 / (0 + eps) = 0, only the decay 2 * (1 - 0.05) acts.
    expect([...s.params.values()].map((v) => v[0])).toEqual([1.9, 2, 2, 1.9].map(Math.fround));
    const all = source(entries);
    new AdamW(all, { lr: 0.1, weightDecay: 0.5, noDecayRoles: [] }).step(zero);
    expect([...all.params.values()].map((v) => v[0])).toEqual([1.9, 1.9, 1.9, 1.9].map(Math.fround));
  });

  it('parameters without a gradient are skipped and keep their own step count (torch grad None)', () => {
    const s = source([
      ['a', 'weight', [1]],
      ['b', 'weight', [1]],
    ]);
    const opt = new AdamW(s, { lr: 0.1, weightDecay: 0 });
    opt.step(grads({ a: [0.5] }));
    expect(s.params.get('b')?.[0]).toBe(1);
    opt.step(grads({ a: [0.5], b: [0.5] }));
    // b's first update: bias correction with t = 1 gives lr * 0.5/(0.5 + eps)
    expect(s.params.get('b')?.[0]).toBeCloseTo(0.9, 6);
    expect(opt.state().params.map((p) => p.step)).toEqual([2, 1]);
  });
});

describe('SGD (torch.optim.SGD semantics)', () => {
  it('momentum 0.9, dampening 0: buf starts as g, then 0.9*buf + g (hand values)', () => {
    const s = source([['w', 'weight', [1]]]);
    const opt = new SGD(s, { lr: 0.1, momentum: 0.9 });
    const seen: number[] = [];
    for (let k = 0; k < 3; k++) {
      opt.step(grads({ w: [0.5] }));
      seen.push((s.params.get('w') as Float32Array)[0]);
    }
    // buf: 0.5, 0.95, 1.355 -> p: 0.95, 0.855, 0.7195
    expectClose(seen, [0.95, 0.855, 0.7195], 1e-7);
  });

  it('nesterov: d = g + momentum*buf (hand values)', () => {
    const s = source([['w', 'weight', [1]]]);
    const opt = new SGD(s, { lr: 0.1, momentum: 0.9, nesterov: true });
    const seen: number[] = [];
    for (let k = 0; k < 3; k++) {
      opt.step(grads({ w: [0.5] }));
      seen.push((s.params.get('w') as Float32Array)[0]);
    }
    // d: 0.95, 1.355, 1.7195 -> p: 0.905, 0.7695, 0.59755
    expectClose(seen, [0.905, 0.7695, 0.59755], 1e-7);
  });

  it('weight decay is coupled (wd*p added to the gradient, so it enters the momentum) unless decoupledWeightDecay', () => {
    const run = (o: SgdOptions): number[] => {
      const s = source([['w', 'weight', [1]]]);
      const opt = new SGD(s, o);
      const out: number[] = [];
      for (let k = 0; k < 2; k++) {
        opt.step(grads({ w: [0.5] }));
        out.push((s.params.get('w') as Float32Array)[0]);
      }
      return out;
    };
    // coupled: d1 = 0.6, p1 = 0.94; d2 = 0.5 + 0.094, buf2 = 0.54 + 0.594 = 1.134, p2 = 0.8266
    expectClose(run({ lr: 0.1, momentum: 0.9, weightDecay: 0.1 }), [0.94, 0.8266], 1e-7);
    // decoupled: p1 = 0.99 - 0.05 = 0.94; p2 = 0.94*0.99 - 0.1*(0.45 + 0.5) = 0.8356
    expectClose(run({ lr: 0.1, momentum: 0.9, weightDecay: 0.1, decoupledWeightDecay: true }), [0.94, 0.8356], 1e-7);
  });

  it('three steps with dampening and coupled decay match the float64 formula', () => {
    const p0 = [0.4, -1.1];
    const gs = [
      [0.3, 0.1],
      [-0.2, 0.25],
      [0.05, -0.4],
    ];
    const s = source([['w', 'weight', p0]]);
    const opt = new SGD(s, { lr: 0.05, momentum: 0.8, dampening: 0.25, weightDecay: 0.02 });
    const p = [...p0];
    const buf = [0, 0];
    gs.forEach((g, k) => {
      opt.step(grads({ w: g }));
      for (let i = 0; i < 2; i++) {
        const d = g[i] + 0.02 * p[i];
        buf[i] = k === 0 ? d : 0.8 * buf[i] + 0.75 * d;
        p[i] -= 0.05 * buf[i];
      }
      expectClose(s.params.get('w') as Float32Array, p, 1e-6);
    });
  });
});

describe('parameter groups', () => {
  const entries = (): Entry[] => [
    ['encoder.conv.weight', 'weight', [1, 1]],
    ['encoder.bn.weight', 'norm', [1]],
    ['decoder.head.weight', 'weight', [1, 1]],
    ['decoder.head.bias', 'bias', [1]],
  ];
  const g = grads({ 'encoder.conv.weight': [1, -2], 'encoder.bn.weight': [1], 'decoder.head.weight': [1, -2], 'decoder.head.bias': [1] });

  it('encoder:decoder lr 1:10 by name prefix; the rest form the group default with lr scale 1', () => {
    const s = source(entries());
    const opt = new SGD(s, { lr: 0.5, groups: [{ name: 'encoder', prefix: 'encoder.', lrScale: 0.1 }] });
    opt.step(g);
    expectClose(s.params.get('encoder.conv.weight') as Float32Array, [1 - 0.05, 1 + 0.1], 1e-7);
    expectClose(s.params.get('encoder.bn.weight') as Float32Array, [0.95], 1e-7);
    expectClose(s.params.get('decoder.head.weight') as Float32Array, [0.5, 2], 1e-7);
    const summary = opt.groups();
    expect(summary.map((x) => [x.name, x.lr, x.params.length])).toEqual([
      ['encoder', 0.05, 2],
      ['default', 0.5, 2],
    ]);
  });

  it('groups by predicate with their own weight decay; norm/bias still excluded', () => {
    const s = source(entries());
    const opt = new AdamW(s, {
      lr: 1e-2,
      weightDecay: 0.1,
      groups: [
        { name: 'dec', match: (n) => n.startsWith('decoder'), lrScale: 1, weightDecay: 0.3 },
        { name: 'enc', prefix: ['encoder.'], lrScale: 0.1 },
      ],
    });
    const wd = Object.fromEntries(opt.groups().flatMap((x) => x.params.map((p) => [p.name, [x.name, p.weightDecay]])));
    expect(wd).toEqual({
      'encoder.conv.weight': ['enc', 0.1],
      'encoder.bn.weight': ['enc', 0],
      'decoder.head.weight': ['dec', 0.3],
      'decoder.head.bias': ['dec', 0],
    });
    opt.step(g);
    // AdamW's first step moves each entry by ~lr*sign(g): encoder 1e-3 after decay 1 - 1e-3*0.1, decoder 1e-2 after 1 - 1e-2*0.3.
    expectClose(s.params.get('encoder.conv.weight') as Float32Array, [1 - 1e-4 - 1e-3, 1 - 1e-4 + 1e-3], 1e-6);
    expectClose(s.params.get('decoder.head.weight') as Float32Array, [1 - 3e-3 - 1e-2, 1 - 3e-3 + 1e-2], 1e-6);
    expectClose(s.params.get('decoder.head.bias') as Float32Array, [1 - 1e-2], 1e-6);
  });

  it('rejects bad groups and gradients naming the problem', () => {
    expect(() => new SGD(source(entries()), { lr: 1, groups: [{ name: 'x' }] })).toThrow(/group 'x' needs a prefix/);
    expect(() => new SGD(source(entries()), { lr: 1, groups: [{ name: 'default', prefix: 'a' }] })).toThrow(OptimizerError);
    const opt = new SGD(source(entries()), { lr: 1 });
    expect(() => opt.step(grads({ nope: [1] }))).toThrow(/'nope', which is not a parameter/);
    expect(() => opt.step(grads({ 'decoder.head.bias': [1, 2] }))).toThrow(/'decoder.head.bias' has 2 values, the parameter 1/);
  });
});

describe('optimizer state: exact resume', () => {
  const entries = (): Entry[] => [
    ['enc.w', 'weight', [0.3, -0.2, 0.9, 0.1]],
    ['enc.b', 'bias', [0.01, -0.03]],
    ['dec.w', 'weight', [-0.5, 0.25, 0.7]],
  ];
  const gradAt = (k: number): Map<string, Float32Array> =>
    new Map(entries().map(([n, , v]) => [n, Float32Array.from(v, (_, i) => Math.sin(1.3 * k + 0.7 * i + n.length))] as const));
  const bits = (m: Map<string, Float32Array>): number[] => [...m.values()].flatMap((v) => [...new Uint32Array(v.buffer, v.byteOffset, v.length)]);

  const cases: [string, (s: ParamSource) => Optimizer][] = [
    ['AdamW', (s) => new AdamW(s, { lr: 1e-2, weightDecay: 0.05, groups: [{ name: 'enc', prefix: 'enc.', lrScale: 0.1 }] })],
    ['SGD nesterov', (s) => new SGD(s, { lr: 1e-2, momentum: 0.9, nesterov: true, weightDecay: 1e-3 })],
  ];
  for (const [label, make] of cases)
    it(`${label}: state -> bytes -> loadState, then 4 more steps, is bit-identical to 7 uninterrupted steps`, () => {
      const lrAt = (k: number) => 1e-2 * (1 - k / 10);
      const a = source(entries());
      const oa = make(a);
      for (let k = 0; k < 7; k++) {
        oa.lr = lrAt(k);
        oa.step(gradAt(k));
      }
      const b = source(entries());
      const ob = make(b);
      for (let k = 0; k < 3; k++) {
        ob.lr = lrAt(k);
        ob.step(gradAt(k));
      }
      const bytes = encodeOptimizerState(ob.state());
      const savedParams = new Map([...b.params].map(([n, v]) => [n, Float32Array.from(v)]));
      const c = source(entries());
      for (const [n, v] of savedParams) c.params.get(n)?.set(v);
      const oc = make(c);
      oc.loadState(decodeOptimizerState(bytes));
      expect(oc.steps).toBe(3);
      for (let k = 3; k < 7; k++) {
        oc.lr = lrAt(k);
        oc.step(gradAt(k));
      }
      expect(bits(c.params)).toEqual(bits(a.params));
      expect(bits(a.params)).not.toEqual(bits(new Map(entries().map(([n, , v]) => [n, Float32Array.from(v)]))));
    });

  it('the binary form keeps every float32 bit (NaN payload, -0, subnormal) and every scalar', () => {
    const weird = new Float32Array(new Uint32Array([0x7fc00123, 0x80000000, 0x00000001, 0x3f800001, 0xff800000]).buffer);
    const st = {
      kind: 'adamw' as const,
      steps: 12,
      lr: 0.1 + 0.2,
      hyper: { beta1: 0.9, beta2: 0.999, eps: 1e-8 },
      groups: [{ name: 'p', group: 'default', lrScale: 1, weightDecay: 0.01 }],
      params: [{ name: 'p', step: 11, buffers: { exp_avg: weird, exp_avg_sq: Float32Array.from([1, 2, 3, 4, 5]) } }],
    };
    const back = decodeOptimizerState(encodeOptimizerState(st));
    expect([...new Uint32Array(back.params[0].buffers.exp_avg.buffer)]).toEqual([0x7fc00123, 0x80000000, 0x00000001, 0x3f800001, 0xff800000]);
    expect({ ...back, params: [] }).toEqual({ ...st, params: [] });
    expect(back.lr).toBe(0.1 + 0.2);
    expect([...back.params[0].buffers.exp_avg_sq]).toEqual([1, 2, 3, 4, 5]);
  });

  it('loadState refuses another kind, other hyperparameters, other parameters, other groups; decode refuses junk', () => {
    const s = source(entries());
    const st = new AdamW(s, { lr: 1e-3 }).state();
    expect(() => new SGD(source(entries()), { lr: 1e-3 }).loadState(st)).toThrow(/'adamw'/);
    expect(() => new AdamW(source(entries()), { lr: 1e-3, betas: [0.8, 0.999] }).loadState(st)).toThrow(/beta1 = 0.9, this optimizer 0.8/);
    expect(() => new AdamW(source(entries().slice(1)), { lr: 1e-3 }).loadState(st)).toThrow(/parameter 'enc.w'/);
    expect(() => new AdamW(source(entries()), { lr: 1e-3, groups: [{ name: 'e', prefix: 'enc.', lrScale: 0.1 }] }).loadState(st)).toThrow(
      /parameter 'enc.w': state has group 'default'/,
    );
    expect(() => decodeOptimizerState(new Uint8Array(20))).toThrow(OptimizerStateError);
    const stepped = new AdamW(s, { lr: 1e-3 });
    stepped.step(grads({ 'enc.w': [1, 2, 3, 4] }));
    const bytes = encodeOptimizerState(stepped.state());
    expect(() => decodeOptimizerState(bytes.subarray(0, bytes.length - 4))).toThrow(/expected \d+ bytes/);
    expect(() => decodeOptimizerState(bytes.subarray(0, 40))).toThrow(/header runs past the end/);
  });
});

interface Fixture {
  params: { name: string; role: ParamRole; init: number[] }[];
  lrs: number[];
  grads: Record<string, number[]>[];
  cases: { name: string; kind: 'adamw' | 'sgd'; opts: Record<string, unknown>; lrScale: { enc: number; dec: number }; after: Record<string, number[]>[] }[];
}

describe('torch.optim trajectories (test/fixtures/optim, tools/fixtures/export_optim.py)', () => {
  const fx = JSON.parse(readFileSync(new URL('../fixtures/optim/trajectories.json', import.meta.url), 'utf8')) as Fixture;
  for (const c of fx.cases)
    it(`${c.name}: 5 steps with a changing lr, groups enc/dec by prefix, no decay on bias/norm, match torch to <= 1 ulp`, () => {
      const s = source(fx.params.map((p) => [p.name, p.role, p.init]));
      const groups = [
        { name: 'enc', prefix: 'enc.', lrScale: c.lrScale.enc },
        { name: 'dec', prefix: 'dec.', lrScale: c.lrScale.dec },
      ];
      const opt: Optimizer =
        c.kind === 'adamw'
          ? new AdamW(s, { ...(c.opts as Partial<AdamWOptions>), lr: fx.lrs[0], groups } as AdamWOptions)
          : new SGD(s, { ...(c.opts as Partial<SgdOptions>), lr: fx.lrs[0], groups } as SgdOptions);
      let maxUlp = 0;
      fx.lrs.forEach((lr, k) => {
        opt.lr = lr;
        opt.step(grads(fx.grads[k]));
        for (const [n, want] of Object.entries(c.after[k])) {
          const got = s.params.get(n) as Float32Array;
          for (let i = 0; i < want.length; i++) {
            const ulp = Math.abs(got[i] - want[i]) / 2 ** (Math.floor(Math.log2(Math.abs(want[i]) || 2 ** -126)) - 23);
            maxUlp = Math.max(maxUlp, ulp);
          }
        }
      });
      // AdamW reproduces torch's float32 op order bit for bit; SGD's vectorised add differs by <= 1 ulp.
      expect(maxUlp).toBeLessThanOrEqual(1);
    });
});

describe('AdamW WebAssembly SIMD kernel (src/train/adamw-simd.ts)', () => {
  /** Random values with the awkward ones mixed in: zeros of both signs, subnormals, huge, tiny. */
  function awkward(n: number, seed: number): number[] {
    let s = seed;
    const r = () => {
      s = (s * 1103515245 + 12345) % 2 ** 31;
      return s / 2 ** 31;
    };
    const special = [0, -0, 1e-40, -3e-39, 1e30, -1e-30, 65504, 1];
    return Array.from({ length: n }, (_, i) => (i % 11 === 5 ? special[i % special.length] : (r() - 0.5) * 10 ** Math.floor(r() * 6 - 3)));
  }

  it('is bit-identical to the JavaScript loop: lengths not multiple of 4, decay on/off, groups, 6 steps with a changing lr, state round trip', () => {
    const entries = (): Entry[] => [
      ['enc.conv.weight', 'weight', awkward(37, 1)],
      ['enc.bn.weight', 'norm', awkward(5, 2)],
      ['dec.conv.bias', 'bias', awkward(1, 3)],
      ['dec.head.weight', 'weight', awkward(64, 4)],
    ];
    const opts: AdamWOptions = { lr: 3e-3, weightDecay: 0.05, groups: [{ name: 'enc', prefix: 'enc.', lrScale: 0.1 }] };
    const a = source(entries());
    const b = source(entries());
    const simd = new AdamW(a, opts);
    const js = new AdamW(b, opts);
    js.useSimd = false;
    expect([simd.kernel, js.kernel]).toEqual(['wasm-simd', 'js']);
    const bits = (m: Map<string, Float32Array>) => [...m.values()].map((v) => [...new Uint32Array(Float32Array.from(v).buffer)]);
    for (let step = 0; step < 6; step++) {
      const g = new Map(entries().map(([n, , v], k) => [n, Float32Array.from(awkward(v.length, 100 + 7 * step + k))] as const));
      simd.lr = js.lr = 3e-3 * (1 - step / 6);
      simd.step(g);
      js.step(new Map([...g].map(([k, v]) => [k, Float32Array.from(v)])));
      expect(bits(a.params)).toEqual(bits(b.params));
      if (step === 2) {
        // Moments saved, then restored into a fresh optimizer: moved into the kernel's memory, same bits.
        const st = simd.state();
        expect(st).toEqual(js.state());
        const again = new AdamW(a, opts);
        again.loadState(decodeOptimizerState(encodeOptimizerState(st)));
        expect(again.state()).toEqual(st);
      }
    }
    expect(simd.state()).toEqual(js.state());
  });
});
