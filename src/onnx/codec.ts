// ModelProto <-> IR. Field numbers from onnx.proto (IR version 10).
import {
  type AttrValue,
  allocData,
  bytesPerElement,
  type Dim,
  DTYPE_CODES,
  type DType,
  dtypeFromCode,
  type Graph,
  type Model,
  type Node,
  numel,
  type Tensor,
  type ValueInfo,
} from './ir.js';
import { ProtoReader, ProtoWriter, WireType } from './protobuf.js';

export class OnnxFormatError extends Error {}

/** Loads external tensor data: (location, offset, length) -> bytes. */
export type ExternalDataResolver = (location: string, offset: number, length: number | undefined) => Uint8Array;

interface DecodeCtx {
  external?: ExternalDataResolver;
}

export function decodeModel(buf: Uint8Array, external?: ExternalDataResolver): Model {
  const r = new ProtoReader(buf, 0, buf.length, 'ModelProto');
  const model: Model = {
    irVersion: 0,
    opsetImports: new Map(),
    producerName: '',
    producerVersion: '',
    graph: emptyGraph(),
    metadata: {},
  };
  let sawGraph = false;
  const ctx: DecodeCtx = { external };
  while (!r.done()) {
    const { field, wire } = r.tag();
    switch (field) {
      case 1:
        model.irVersion = r.varint();
        break;
      case 2:
        model.producerName = r.string();
        break;
      case 3:
        model.producerVersion = r.string();
        break;
      case 7:
        model.graph = decodeGraph(r.sub('graph'), ctx);
        sawGraph = true;
        break;
      case 8: {
        const s = r.sub('opset_import');
        let domain = '';
        let version = 0;
        while (!s.done()) {
          const t = s.tag();
          if (t.field === 1) domain = s.string();
          else if (t.field === 2) version = s.varint();
          else s.skip(t.wire);
        }
        model.opsetImports.set(domain === 'ai.onnx' ? '' : domain, version);
        break;
      }
      case 14: {
        const s = r.sub('metadata_props');
        let k = '';
        let v = '';
        while (!s.done()) {
          const t = s.tag();
          if (t.field === 1) k = s.string();
          else if (t.field === 2) v = s.string();
          else s.skip(t.wire);
        }
        model.metadata[k] = v;
        break;
      }
      default:
        r.skip(wire);
    }
  }
  if (!sawGraph) throw new OnnxFormatError('not an ONNX model: ModelProto has no graph');
  if (!model.opsetImports.has('')) {
    if (model.graph.nodes.some((n) => n.domain === '')) throw new OnnxFormatError('ModelProto has no opset_import for the default ONNX domain');
  }
  return model;
}

export function emptyGraph(name = 'graph'): Graph {
  return { name, nodes: [], inputs: [], outputs: [], initializers: new Map(), valueInfo: new Map() };
}

function decodeGraph(r: ProtoReader, ctx: DecodeCtx): Graph {
  const g = emptyGraph('');
  const inputs: ValueInfo[] = [];
  while (!r.done()) {
    const { field, wire } = r.tag();
    switch (field) {
      case 1:
        g.nodes.push(decodeNode(r.sub(`node[${g.nodes.length}]`), ctx));
        break;
      case 2:
        g.name = r.string();
        break;
      case 5: {
        const t = decodeTensor(r.sub(`initializer[${g.initializers.size}]`), ctx);
        if (!t.name) throw new OnnxFormatError('graph initializer without a name');
        g.initializers.set(t.name, t.tensor);
        break;
      }
      case 11:
        inputs.push(decodeValueInfo(r.sub(`input[${inputs.length}]`)));
        break;
      case 12:
        g.outputs.push(decodeValueInfo(r.sub(`output[${g.outputs.length}]`)));
        break;
      case 13: {
        const vi = decodeValueInfo(r.sub('value_info'));
        g.valueInfo.set(vi.name, vi);
        break;
      }
      case 15:
        throw new OnnxFormatError('sparse initializers are not supported');
      default:
        r.skip(wire);
    }
  }
  // Older exporters list initializers among the inputs; those are constants, not model inputs.
  g.inputs = inputs.filter((i) => !g.initializers.has(i.name));
  return g;
}

function decodeValueInfo(r: ProtoReader): ValueInfo {
  let name = '';
  let dtype: DType = 'float32';
  let shape: Dim[] | undefined;
  while (!r.done()) {
    const { field, wire } = r.tag();
    if (field === 1) name = r.string();
    else if (field === 2) {
      const tp = r.sub('type');
      while (!tp.done()) {
        const t = tp.tag();
        if (t.field === 1) {
          const tt = tp.sub('tensor_type');
          while (!tt.done()) {
            const u = tt.tag();
            if (u.field === 1) {
              const code = tt.varint();
              const d = dtypeFromCode(code);
              if (!d) throw new OnnxFormatError(`value '${name}': unsupported element type code ${code}`);
              dtype = d;
            } else if (u.field === 2) {
              shape = [];
              const sh = tt.sub('shape');
              while (!sh.done()) {
                const v = sh.tag();
                if (v.field !== 1) {
                  sh.skip(v.wire);
                  continue;
                }
                const dim = sh.sub('dim');
                let d: Dim = '?';
                while (!dim.done()) {
                  const w = dim.tag();
                  if (w.field === 1) d = dim.varint();
                  else if (w.field === 2) d = dim.string() || '?';
                  else dim.skip(w.wire);
                }
                shape.push(d);
              }
            } else tt.skip(u.wire);
          }
        } else tp.skip(t.wire);
      }
    } else r.skip(wire);
  }
  return { name, dtype, shape };
}

function decodeNode(r: ProtoReader, ctx: DecodeCtx): Node {
  const n: Node = { name: '', opType: '', domain: '', inputs: [], outputs: [], attrs: {} };
  while (!r.done()) {
    const { field, wire } = r.tag();
    switch (field) {
      case 1:
        n.inputs.push(r.string());
        break;
      case 2:
        n.outputs.push(r.string());
        break;
      case 3:
        n.name = r.string();
        break;
      case 4:
        n.opType = r.string();
        break;
      case 5: {
        const [k, v] = decodeAttr(r.sub('attribute'), ctx);
        n.attrs[k] = v;
        break;
      }
      case 7:
        n.domain = r.string();
        if (n.domain === 'ai.onnx') n.domain = '';
        break;
      default:
        r.skip(wire);
    }
  }
  if (!n.opType) throw new OnnxFormatError(`${r.path}: node without op_type`);
  return n;
}

function decodeAttr(r: ProtoReader, ctx: DecodeCtx): [string, AttrValue] {
  let name = '';
  let type = 0;
  let f = 0;
  let i = 0;
  let s: Uint8Array | undefined;
  let t: Tensor | undefined;
  const floats: number[] = [];
  const ints: number[] = [];
  const strings: string[] = [];
  let hasGraph = false;
  while (!r.done()) {
    const { field, wire } = r.tag();
    switch (field) {
      case 1:
        name = r.string();
        break;
      case 20:
        type = r.varint();
        break;
      case 2:
        f = r.fixed32();
        break;
      case 3:
        i = r.varint();
        break;
      case 4:
        s = r.bytes();
        break;
      case 5:
        t = decodeTensor(r.sub('t'), ctx).tensor;
        break;
      case 6:
      case 11:
        hasGraph = true;
        r.skip(wire);
        break;
      case 7:
        r.floats(wire, floats);
        break;
      case 8:
        r.int64s(wire, ints);
        break;
      case 9:
        strings.push(r.string());
        break;
      default:
        r.skip(wire);
    }
  }
  switch (type) {
    case 1:
      return [name, { type: 'float', value: f }];
    case 2:
      return [name, { type: 'int', value: i }];
    case 3:
      return [name, { type: 'string', value: new TextDecoder().decode(s ?? new Uint8Array()) }];
    case 4:
      if (!t) throw new OnnxFormatError(`attribute '${name}' of type TENSOR has no tensor`);
      return [name, { type: 'tensor', value: t }];
    case 5:
    case 10:
      return [name, { type: 'graph', value: hasGraph }];
    case 6:
      return [name, { type: 'floats', value: floats }];
    case 7:
      return [name, { type: 'ints', value: ints }];
    case 8:
      return [name, { type: 'strings', value: strings }];
    default:
      throw new OnnxFormatError(`attribute '${name}': unsupported attribute type ${type}`);
  }
}

function decodeTensor(r: ProtoReader, ctx: DecodeCtx): { name: string; tensor: Tensor } {
  const dims: number[] = [];
  let code = 0;
  let name = '';
  let raw: Uint8Array | undefined;
  const floatData: number[] = [];
  const int32Data: number[] = [];
  const int64Data: bigint[] = [];
  const doubleData: number[] = [];
  const uint64Data: bigint[] = [];
  const stringData: string[] = [];
  let location = 0;
  const ext: Record<string, string> = {};
  while (!r.done()) {
    const { field, wire } = r.tag();
    switch (field) {
      case 1:
        r.int64s(wire, dims);
        break;
      case 2:
        code = r.varint();
        break;
      case 4:
        r.floats(wire, floatData);
        break;
      case 5:
        r.int64s(wire, int32Data);
        break;
      case 6:
        stringData.push(r.string());
        break;
      case 7:
        r.int64sBig(wire, int64Data);
        break;
      case 8:
        name = r.string();
        break;
      case 9:
        raw = r.bytes();
        break;
      case 10:
        r.doubles(wire, doubleData);
        break;
      case 11:
        r.int64sBig(wire, uint64Data);
        break;
      case 13: {
        const s = r.sub('external_data');
        let k = '';
        let v = '';
        while (!s.done()) {
          const t = s.tag();
          if (t.field === 1) k = s.string();
          else if (t.field === 2) v = s.string();
          else s.skip(t.wire);
        }
        ext[k] = v;
        break;
      }
      case 14:
        location = r.varint();
        break;
      default:
        r.skip(wire);
    }
  }
  const label = name ? `tensor '${name}'` : 'tensor';
  const dtype = dtypeFromCode(code);
  if (!dtype) throw new OnnxFormatError(`${label}: unsupported data type code ${code}`);
  if (dims.some((d) => d < 0 || !Number.isSafeInteger(d))) throw new OnnxFormatError(`${label}: invalid dims [${dims.join(', ')}]`);
  const n = numel(dims);
  if (n > 2 ** 31) throw new OnnxFormatError(`${label}: ${n} elements is more than robustscope supports`);
  if (location === 1) {
    if (!ctx.external) throw new OnnxFormatError(`${label}: data is stored in an external file but no model directory is known`);
    const loc = ext.location;
    if (!loc) throw new OnnxFormatError(`${label}: external data without a location`);
    const offset = ext.offset ? Number(ext.offset) : 0;
    const length = ext.length ? Number(ext.length) : undefined;
    if (!Number.isSafeInteger(offset) || offset < 0 || (length !== undefined && (!Number.isSafeInteger(length) || length < 0)))
      throw new OnnxFormatError(`${label}: invalid external data offset/length`);
    raw = ctx.external(loc, offset, length);
  }
  if (dtype === 'string') {
    if (stringData.length !== n) throw new OnnxFormatError(`${label}: expected ${n} strings, found ${stringData.length}`);
    return { name, tensor: { dtype, dims, data: stringData } };
  }
  const data = allocData(dtype, n);
  if (raw) {
    const bpe = bytesPerElement(dtype);
    if (raw.length !== n * bpe)
      throw new OnnxFormatError(`${label}: has ${raw.length} bytes of data, expected ${n * bpe} for dims [${dims.join(', ')}] (${dtype})`);
    // Copy into an aligned buffer: raw_data inside the file is not aligned for typed-array views.
    new Uint8Array((data as Exclude<typeof data, string[]>).buffer).set(raw);
  } else {
    const src: ArrayLike<number | bigint> =
      dtype === 'float32'
        ? floatData
        : dtype === 'float64'
          ? doubleData
          : dtype === 'int64'
            ? int64Data
            : dtype === 'uint64' || dtype === 'uint32'
              ? uint64Data
              : int32Data;
    if (src.length !== n) throw new OnnxFormatError(`${label}: expected ${n} values for dims [${dims.join(', ')}], found ${src.length}`);
    if (data instanceof BigInt64Array || data instanceof BigUint64Array) for (let k = 0; k < n; k++) data[k] = BigInt(src[k]);
    else if (!Array.isArray(data)) for (let k = 0; k < n; k++) data[k] = Number(src[k]);
  }
  return { name, tensor: { dtype, dims, data } };
}

// ---------------------------------------------------------------- encoding

export function encodeModel(model: Model): Uint8Array {
  const w = new ProtoWriter();
  w.varintField(1, model.irVersion);
  w.stringField(2, model.producerName);
  w.stringField(3, model.producerVersion);
  w.message(7, encodeGraph(model.graph));
  for (const [domain, version] of model.opsetImports) {
    const o = new ProtoWriter();
    o.stringField(1, domain);
    o.varintField(2, version);
    w.message(8, o);
  }
  for (const [k, v] of Object.entries(model.metadata)) {
    const o = new ProtoWriter();
    o.stringField(1, k);
    o.stringField(2, v);
    w.message(14, o);
  }
  return w.finish();
}

function encodeGraph(g: Graph): ProtoWriter {
  const w = new ProtoWriter();
  for (const n of g.nodes) w.message(1, encodeNode(n));
  w.stringField(2, g.name || 'graph');
  for (const [name, t] of g.initializers) w.message(5, encodeTensor(t, name));
  for (const i of g.inputs) w.message(11, encodeValueInfo(i));
  for (const o of g.outputs) w.message(12, encodeValueInfo(o));
  for (const vi of g.valueInfo.values()) w.message(13, encodeValueInfo(vi));
  return w;
}

function encodeValueInfo(vi: ValueInfo): ProtoWriter {
  const w = new ProtoWriter();
  w.stringField(1, vi.name);
  const tt = new ProtoWriter();
  tt.varintField(1, DTYPE_CODES[vi.dtype]);
  if (vi.shape) {
    const sh = new ProtoWriter();
    for (const d of vi.shape) {
      const dw = new ProtoWriter();
      if (typeof d === 'number') dw.varintField(1, d);
      else dw.stringField(2, d);
      sh.message(1, dw);
    }
    tt.message(2, sh);
  }
  const tp = new ProtoWriter();
  tp.message(1, tt);
  w.message(2, tp);
  return w;
}

function encodeNode(n: Node): ProtoWriter {
  const w = new ProtoWriter();
  for (const i of n.inputs) {
    w.tag(1, WireType.LengthDelimited);
    const b = new TextEncoder().encode(i);
    w.varint(b.length);
    w.raw(b);
  }
  for (const o of n.outputs) w.stringField(2, o);
  w.stringField(3, n.name);
  w.stringField(4, n.opType);
  for (const [k, v] of Object.entries(n.attrs)) w.message(5, encodeAttr(k, v));
  w.stringField(7, n.domain);
  return w;
}

function encodeAttr(name: string, a: AttrValue): ProtoWriter {
  const w = new ProtoWriter();
  w.stringField(1, name);
  switch (a.type) {
    case 'float':
      w.floatField(2, a.value);
      w.varintField(20, 1);
      break;
    case 'int':
      w.varintField(3, a.value);
      w.varintField(20, 2);
      break;
    case 'string':
      w.bytesField(4, new TextEncoder().encode(a.value));
      w.varintField(20, 3);
      break;
    case 'tensor':
      w.message(5, encodeTensor(a.value, ''));
      w.varintField(20, 4);
      break;
    case 'floats':
      w.packedFloats(7, a.value);
      w.varintField(20, 6);
      break;
    case 'ints':
      w.packedVarints(8, a.value);
      w.varintField(20, 7);
      break;
    case 'strings':
      for (const s of a.value) w.bytesField(9, new TextEncoder().encode(s));
      w.varintField(20, 8);
      break;
    case 'graph':
      throw new Error(`attribute '${name}': graph attributes (control flow) cannot be written`);
  }
  return w;
}

export function encodeTensor(t: Tensor, name: string): ProtoWriter {
  const w = new ProtoWriter();
  w.packedVarints(1, t.dims);
  w.varintField(2, DTYPE_CODES[t.dtype]);
  w.stringField(8, name);
  if (Array.isArray(t.data)) {
    for (const s of t.data) w.bytesField(6, new TextEncoder().encode(s));
  } else {
    const d = t.data;
    w.bytesField(9, new Uint8Array(d.buffer, d.byteOffset, d.byteLength));
  }
  return w;
}
