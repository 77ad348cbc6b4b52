// Binary form of an optimizer state (optim.ts), so training resumes bit-exactly: the float32 moments are
// stored as their raw little-endian bytes, scalars in a JSON header (JSON round-trips every double exactly).
//
// Layout: "RSOPTST1" (8 bytes) | uint32 LE header length | header JSON (UTF-8) | zero padding to a multiple
// of 4 | float32 LE buffers, in the header's order (each entry: offset and length in floats, from the start
// of the buffer section).
import type { OptimizerKind, OptimizerState } from './optim.js';

export class OptimizerStateError extends Error {}

const MAGIC = 'RSOPTST1';
const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

interface Header {
  kind: OptimizerKind;
  steps: number;
  lr: number;
  hyper: Record<string, number | boolean>;
  groups: OptimizerState['groups'];
  params: { name: string; step: number; buffers: { key: string; offset: number; length: number }[] }[];
  totalFloats: number;
}

export function encodeOptimizerState(st: OptimizerState): Uint8Array {
  let total = 0;
  const params: Header['params'] = st.params.map((p) => ({
    name: p.name,
    step: p.step,
    buffers: Object.entries(p.buffers).map(([key, v]) => {
      const e = { key, offset: total, length: v.length };
      total += v.length;
      return e;
    }),
  }));
  const header: Header = { kind: st.kind, steps: st.steps, lr: st.lr, hyper: st.hyper, groups: st.groups, params, totalFloats: total };
  const json = new TextEncoder().encode(JSON.stringify(header));
  const start = Math.ceil((12 + json.length) / 4) * 4;
  const out = new Uint8Array(start + 4 * total);
  out.set(new TextEncoder().encode(MAGIC), 0);
  const view = new DataView(out.buffer);
  view.setUint32(8, json.length, true);
  out.set(json, 12);
  let pos = start;
  for (const p of st.params)
    for (const v of Object.values(p.buffers)) {
      if (LITTLE_ENDIAN)
        out.set(new Uint8Array(v.buffer, v.byteOffset, v.byteLength), pos); // raw bits, NaN payloads included
      else for (let i = 0; i < v.length; i++) view.setFloat32(pos + 4 * i, v[i], true);
      pos += 4 * v.length;
    }
  return out;
}

export function decodeOptimizerState(bytes: Uint8Array): OptimizerState {
  const fail = (why: string): never => {
    throw new OptimizerStateError(`not a robustscope optimizer state: ${why}`);
  };
  if (bytes.length < 12 || new TextDecoder().decode(bytes.subarray(0, 8)) !== MAGIC) fail('bad magic');
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const len = view.getUint32(8, true);
  if (12 + len > bytes.length) fail(`the ${len}-byte header runs past the end (${bytes.length} bytes)`);
  let header: Header;
  try {
    header = JSON.parse(new TextDecoder().decode(bytes.subarray(12, 12 + len))) as Header;
  } catch (e) {
    return fail(`header is not JSON (${(e as Error).message})`);
  }
  if (header.kind !== 'adamw' && header.kind !== 'sgd') fail(`unknown optimizer kind '${header.kind}'`);
  const start = Math.ceil((12 + len) / 4) * 4;
  if (bytes.length !== start + 4 * header.totalFloats) fail(`expected ${start + 4 * header.totalFloats} bytes, got ${bytes.length}`);
  const params = header.params.map((p) => {
    const buffers: Record<string, Float32Array> = {};
    for (const b of p.buffers) {
      if (b.offset < 0 || b.offset + b.length > header.totalFloats) fail(`buffer '${b.key}' of '${p.name}' lies outside the data`);
      const v = new Float32Array(b.length);
      const at = start + 4 * b.offset;
      if (LITTLE_ENDIAN) new Uint8Array(v.buffer).set(bytes.subarray(at, at + 4 * b.length));
      else for (let i = 0; i < b.length; i++) v[i] = view.getFloat32(at + 4 * i, true);
      buffers[b.key] = v;
    }
    return { name: p.name, step: p.step, buffers };
  });
  return { kind: header.kind, steps: header.steps, lr: header.lr, hyper: header.hyper, groups: header.groups, params };
}
