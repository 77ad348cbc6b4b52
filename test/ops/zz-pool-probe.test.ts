import { it } from 'vitest';
import { appendFileSync } from 'node:fs';
import { encodeModel } from '../../src/onnx/codec.js';
import { toAttrs } from '../../src/onnx/builder.js';
import type { Attrs } from '../../src/ops/registry.js';
import { Session } from '../../src/runtime/session.js';
import { axisWindows, poolAxes, type PoolAxis } from '../../src/ops/pool.js';
import { rng } from '../harness/rng.js';

interface N { op: string; attrs: Attrs; nOut: number }
async function run(nodes: N[], shape: number[], x: number[], opset: number) {
  const outs: { name: string; dtype: 'float32' | 'int64' }[] = [];
  const gn = nodes.map((n, i) => {
    const o = Array.from({ length: n.nOut }, (_, k) => `y${i}_${k}`);
    o.forEach((name, k) => outs.push({ name, dtype: k ? 'int64' : 'float32' }));
    return { name: `n${i}`, opType: n.op, domain: '', inputs: ['x'], outputs: o, attrs: toAttrs(n.attrs) };
  });
  const bytes = encodeModel({
    irVersion: 8, opsetImports: new Map([['', opset]]), producerName: 'p', producerVersion: '', metadata: {},
    graph: { name: 'g', nodes: gn, inputs: [{ name: 'x', dtype: 'float32', shape }], outputs: outs.map((o) => ({ ...o, shape: undefined })),
      initializers: new Map(), valueInfo: new Map() },
  });
  const s = await Session.create(bytes, { threads: 1 });
  const r = await s.run({ x: { data: Float32Array.from(x), dims: shape, dtype: 'float32' } });
  await s.release();
  return outs.map((o) => ({ dims: r[o.name].dims, data: Array.from(r[o.name].data as Float32Array, Number) }));
}

function ref(axes: PoolAxis[], x: number[], avg: boolean, cip: boolean) {
  const w = axes.map((a) => axisWindows(a, avg));
  const out: number[] = []; const idx: number[] = [];
  const outSp = axes.map((a) => a.out);
  const inSp = axes.map((a) => a.size);
  const total = outSp.reduce((a, b) => a * b, 1);
  for (let p = 0; p < total; p++) {
    const o = outSp.map((_, k) => Math.floor(p / outSp.slice(k + 1).reduce((a, b) => a * b, 1)) % outSp[k]);
    // cartesian product of taps
    let combos: number[][] = [[]];
    o.forEach((oj, k) => { combos = combos.flatMap((cmb) => w[k].taps[oj].map((t) => [...cmb, t])); });
    const flat = combos.map((cmb) => cmb.reduce((acc, t, k) => acc * inSp[k] + t, 0));
    if (avg) {
      const s = flat.reduce((a, f) => a + x[f], 0);
      const div = cip ? o.reduce((a, oj, k) => a * w[k].padCount[oj], 1) : flat.length;
      out.push(flat.length ? s / div : 0);
    } else {
      let best = -3.4028234663852886e38; let bi = -1;
      for (const f of flat) if (x[f] > best) { best = x[f]; bi = f; }
      out.push(best); idx.push(bi);
    }
  }
  return { out, idx };
}

it('sweep', async () => {
  const r = rng(7);
  const ri = (a: number, b: number) => a + Math.floor(r() * (b - a + 1));
  let n = 0; let bad = 0; let oldDiff = 0; let failBoth = 0;
  for (let t = 0; t < 1500; t++) {
    const nd = r() < 0.2 ? 1 : 2; const C = r() < 0.5 ? 2 : 16;
    const kernel = Array.from({ length: nd }, () => ri(1, 4));
    const strides = Array.from({ length: nd }, () => ri(1, 4));
    const dil = Array.from({ length: nd }, () => (r() < 0.6 ? 1 : ri(2, 3)));
    const pads = [...kernel, ...kernel].map((k) => ri(0, k - 1));
    const ceil = r() < 0.6 ? 1 : 0;
    const ap = r() < 0.7 ? 'NOTSET' : ['VALID', 'SAME_UPPER', 'SAME_LOWER'][ri(0, 2)];
    const sp = Array.from({ length: nd }, () => ri(1, 9));
    const shape = [1, C, ...sp];
    const attrs: Attrs = { kernel_shape: kernel, strides, dilations: dil, ceil_mode: ceil, auto_pad: ap, ...(ap === 'NOTSET' ? { pads } : {}) };
    const node = { name: 'n', opType: 'MaxPool', domain: '', inputs: ['x'], outputs: ['y'], attrs: toAttrs(attrs) };
    const numel = shape.reduce((a, b) => a * b, 1);
    const x = Array.from({ length: numel }, () => Math.round((r() * 2 - 1) * 1000) / 100);
    let axes: PoolAxis[] | undefined;
    let myErr = '';
    try { axes = poolAxes(node, shape, (m) => { throw new Error(m); }); } catch (e) { myErr = String(e); }
    if (!axes) { failBoth++; continue; }
    let res;
    appendFileSync('/tmp/probe/log.txt', `${JSON.stringify(attrs)} ${JSON.stringify(shape)}\n`);
    try {
      res = await run([
        { op: 'MaxPool', attrs, nOut: 1 }, { op: 'MaxPool', attrs, nOut: 2 },
        { op: 'AveragePool', attrs: { ...attrs, count_include_pad: 0 }, nOut: 1 }, { op: 'AveragePool', attrs: { ...attrs, count_include_pad: 1 }, nOut: 1 },
      ], shape, x, 21);
    } catch (e) {
      if (!axes) { failBoth++; continue; }
      console.log('ORT failed, we did not', JSON.stringify(attrs), shape, String(e).slice(0, 200)); bad++; continue;
    }
    if (!axes) { console.log('we failed, ORT did not', JSON.stringify(attrs), shape, myErr, JSON.stringify(res[0].dims)); bad++; continue; }
    n++;
    const want = [1, C, ...axes.map((a) => a.out)];
    const chans = C; const inPer = numel / chans;
    const refs = [ref(axes, [], false, false)];
    const checkAll = () => {
      for (let k = 0; k < 4; k++) if (JSON.stringify(res[k === 0 ? 0 : k === 1 ? 1 : k + 1].dims) !== JSON.stringify(want)) return `dims ${JSON.stringify(res.map((q) => q.dims))} want ${want}`;
      const outPer = want.slice(2).reduce((a, b) => a * b, 1);
      for (let ch = 0; ch < chans; ch++) {
        const xc = x.slice(ch * inPer, (ch + 1) * inPer);
        const m = ref(axes!, xc, false, false); const a0 = ref(axes!, xc, true, false); const a1 = ref(axes!, xc, true, true);
        for (let p = 0; p < outPer; p++) {
          const q = ch * outPer + p;
          if (Math.abs(res[0].data[q] - m.out[p]) > 1e-4) return `max1 ${q} ${res[0].data[q]} vs ${m.out[p]}`;
          if (Math.abs(res[1].data[q] - m.out[p]) > 1e-4) return `max2 ${q}`;
          if (m.idx[p] >= 0 && res[2].data[q] !== m.idx[p] + ch * inPer) return `idx ${q} ${res[2].data[q]} vs ${m.idx[p] + ch * inPer}`;
          if (Math.abs(res[3].data[q] - a0.out[p]) > 1e-4) return `avg0 ${q} ${res[3].data[q]} vs ${a0.out[p]}`;
          if (Math.abs(res[4].data[q] - a1.out[p]) > 1e-4) return `avg1 ${q} ${res[4].data[q]} vs ${a1.out[p]}`;
        }
      }
      return '';
    };
    void refs;
    const msg = checkAll();
    if (msg) { bad++; console.log('MISMATCH', JSON.stringify(attrs), shape, JSON.stringify(axes), msg); }
    // old opset behaviour (no dilations for AveragePool < 19)
    if (dil.every((d) => d === 1)) for (const opset of [11, 13, 18]) {
      const a2 = { ...attrs }; delete a2.dilations;
      const old = await run([{ op: 'MaxPool', attrs, nOut: 1 }, { op: 'AveragePool', attrs: { ...a2, count_include_pad: 0 }, nOut: 1 }, { op: 'AveragePool', attrs: { ...a2, count_include_pad: 1 }, nOut: 1 }], shape, x, opset).catch((e) => String(e));
      const cur = [res[0], res[3], res[4]];
      if (typeof old === 'string') { console.log('old fails', opset, old.slice(0, 100)); oldDiff++; continue; }
      for (let k = 0; k < 3; k++) if (JSON.stringify(old[k].dims) !== JSON.stringify(cur[k].dims) || old[k].data.some((v, i) => Math.abs(v - cur[k].data[i]) > 1e-4)) {
        oldDiff++; console.log('OLD DIFF opset', opset, 'node', k, JSON.stringify(attrs), shape, JSON.stringify(old[k]), JSON.stringify(cur[k])); break;
      }
    }
  }
  console.log({ n, bad, oldDiff, failBoth });
});
