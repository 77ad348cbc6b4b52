// NumPy .npy files (format 1.0 / 2.0 / 3.0), little-endian, C order. Parsed defensively: every
// problem is one NpyError naming the file, raised before any large allocation.
// Format: https://numpy.org/doc/stable/reference/generated/numpy.lib.format.html
import { readFileSync, writeFileSync } from 'node:fs';
import { endianness } from 'node:os';

export type NpyDType = 'float32' | 'float64' | 'int64' | 'int32' | 'uint8' | 'bool';

export type NpyData = Float32Array | Float64Array | BigInt64Array | Int32Array | Uint8Array;

export interface NpyArray {
  dtype: NpyDType;
  shape: number[];
  /** C-order elements; bool is stored as 0/1 bytes. */
  data: NpyData;
}

export class NpyError extends Error {}

const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // \x93NUMPY

const DESCR: Record<string, NpyDType> = { '<f4': 'float32', '<f8': 'float64', '<i8': 'int64', '<i4': 'int32', '|u1': 'uint8', '|b1': 'bool' };
const DESCR_OF: Record<NpyDType, string> = { float32: '<f4', float64: '<f8', int64: '<i8', int32: '<i4', uint8: '|u1', bool: '|b1' };
const ITEMSIZE: Record<NpyDType, number> = { float32: 4, float64: 8, int64: 8, int32: 4, uint8: 1, bool: 1 };

// numpy itself refuses headers above 10000 bytes by default; allow more, but not absurd sizes.
const MAX_HEADER = 1 << 20;

export function readNpy(path: string): NpyArray {
  let buf: Buffer;
  try {
    buf = readFileSync(path);
  } catch (e) {
    throw new NpyError(`cannot read '${path}': ${(e as NodeJS.ErrnoException).code ?? String(e)}`);
  }
  return parseNpy(new Uint8Array(buf.buffer, buf.byteOffset, buf.length), path);
}

export function parseNpy(buf: Uint8Array, name = '<buffer>'): NpyArray {
  const fail = (msg: string): never => {
    throw new NpyError(`'${name}' is not a valid .npy file: ${msg}`);
  };
  if (buf.length < 10) fail(`only ${buf.length} bytes (truncated?)`);
  if (!MAGIC.every((b, i) => buf[i] === b)) fail('bad magic (expected \\x93NUMPY at the start)');
  const major = buf[6];
  const view = new DataView(buf.buffer, buf.byteOffset, buf.length);
  let headerLen: number;
  let start: number;
  if (major === 1) {
    headerLen = view.getUint16(8, true);
    start = 10;
  } else if (major === 2 || major === 3) {
    if (buf.length < 12) fail('truncated header length');
    headerLen = view.getUint32(8, true);
    start = 12;
  } else return fail(`unsupported format version ${major}.${buf[7]} (robustscope reads 1.0, 2.0 and 3.0)`);
  if (headerLen > MAX_HEADER) fail(`header length ${headerLen} is implausibly large`);
  if (start + headerLen > buf.length) fail(`truncated header (needs ${headerLen} bytes, file has ${buf.length - start} after the preamble)`);
  const headerBytes = buf.subarray(start, start + headerLen);
  // Versions 1 and 2 are latin1; version 3 is utf8.
  const header = new TextDecoder(major === 3 ? 'utf-8' : 'latin1').decode(headerBytes);
  const h = parseHeader(header, fail);

  const dtype = DESCR[h.descr];
  if (!dtype) {
    const hint = h.descr.startsWith('>') ? ' (big-endian data is not supported; save with a little-endian dtype)' : '';
    fail(`unsupported dtype '${h.descr}'${hint}; supported: ${Object.keys(DESCR).join(', ')}`);
  }
  if (h.fortranOrder) fail('fortran_order is True; only C-order arrays are supported (save np.ascontiguousarray(a))');

  let count = 1;
  for (const d of h.shape) count *= d;
  if (!Number.isSafeInteger(count)) fail(`shape (${h.shape.join(', ')}) is too large`);
  const itemsize = ITEMSIZE[dtype];
  const offset = start + headerLen;
  const have = buf.length - offset;
  const want = count * itemsize;
  if (have < want) fail(`truncated data: shape (${h.shape.join(', ')}) of ${h.descr} needs ${want} bytes, the file has ${have}`);
  if (have > want) fail(`${have - want} unexpected bytes after the data of shape (${h.shape.join(', ')}) of ${h.descr}`);
  if (itemsize > 1 && endianness() !== 'LE') fail('reading multi-byte .npy data needs a little-endian machine');
  // slice() copies into a fresh, aligned buffer (the data offset need not be a multiple of the item size).
  const bytes = buf.slice(offset, offset + want).buffer;
  const data = makeView(dtype, bytes, count);
  return { dtype, shape: h.shape, data };
}

function makeView(dtype: NpyDType, bytes: ArrayBuffer, count: number): NpyData {
  switch (dtype) {
    case 'float32':
      return new Float32Array(bytes, 0, count);
    case 'float64':
      return new Float64Array(bytes, 0, count);
    case 'int64':
      return new BigInt64Array(bytes, 0, count);
    case 'int32':
      return new Int32Array(bytes, 0, count);
    case 'uint8':
    case 'bool':
      return new Uint8Array(bytes, 0, count);
  }
}

interface Header {
  descr: string;
  fortranOrder: boolean;
  shape: number[];
}

/**
 * Parses the header: a Python dict literal such as
 * {'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }
 * A tiny tokenizer, not eval and not a loose regex, so odd files fail clearly.
 */
function parseHeader(text: string, fail: (msg: string) => never): Header {
  let i = 0;
  const ws = (): void => {
    while (i < text.length && /\s/.test(text[i])) i++;
  };
  const expect = (ch: string): void => {
    ws();
    if (text[i] !== ch) fail(`malformed header: expected '${ch}' at offset ${i} in ${JSON.stringify(text.trim())}`);
    i++;
  };
  const str = (): string => {
    ws();
    const q = text[i];
    if (q !== "'" && q !== '"') fail(`malformed header: expected a string at offset ${i}`);
    const end = text.indexOf(q, i + 1);
    if (end < 0) fail('malformed header: unterminated string');
    const s = text.slice(i + 1, end);
    i = end + 1;
    return s;
  };
  const value = (): string | boolean | number[] => {
    ws();
    if (text[i] === "'" || text[i] === '"') return str();
    if (text.startsWith('True', i)) {
      i += 4;
      return true;
    }
    if (text.startsWith('False', i)) {
      i += 5;
      return false;
    }
    if (text[i] === '(') {
      i++;
      const dims: number[] = [];
      for (;;) {
        ws();
        if (text[i] === ')') {
          i++;
          return dims;
        }
        const m = /^\d+/.exec(text.slice(i));
        if (!m) fail(`malformed header: bad shape entry at offset ${i}`);
        const d = Number(m[0]);
        if (!Number.isSafeInteger(d)) fail(`malformed header: shape entry ${m[0]} is too large`);
        dims.push(d);
        i += m[0].length;
        // Python's long suffix in old files: (3L, 4L)
        if (text[i] === 'L') i++;
        ws();
        if (text[i] === ',') i++;
        else if (text[i] !== ')') fail(`malformed header: expected ',' or ')' in the shape at offset ${i}`);
      }
    }
    return fail(`malformed header: unexpected value at offset ${i}`);
  };

  const fields = new Map<string, string | boolean | number[]>();
  expect('{');
  for (;;) {
    ws();
    if (text[i] === '}') {
      i++;
      break;
    }
    const key = str();
    expect(':');
    fields.set(key, value());
    ws();
    if (text[i] === ',') i++;
    else if (text[i] !== '}') fail(`malformed header: expected ',' or '}' at offset ${i}`);
  }
  ws();
  if (i !== text.length) fail('malformed header: trailing characters after the dict');
  const descr = fields.get('descr');
  const fo = fields.get('fortran_order');
  const shape = fields.get('shape');
  if (typeof descr !== 'string') fail("header has no string 'descr' (structured dtypes are not supported)");
  if (typeof fo !== 'boolean') fail("header has no boolean 'fortran_order'");
  if (!Array.isArray(shape)) fail("header has no tuple 'shape'");
  return { descr: descr as string, fortranOrder: fo as boolean, shape: shape as number[] };
}

/** Encodes an array as .npy format 1.0 (2.0 when the header would not fit 1.0's 16-bit length). */
export function encodeNpy(arr: NpyArray): Uint8Array {
  const { dtype, shape, data } = arr;
  const count = shape.reduce((a, c) => a * c, 1);
  if (data.length !== count) throw new NpyError(`cannot write .npy: shape (${shape.join(', ')}) has ${count} elements but the data has ${data.length}`);
  if (ITEMSIZE[dtype] > 1 && endianness() !== 'LE') throw new NpyError('writing multi-byte .npy data needs a little-endian machine');
  const shapeText = shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(', ')})`;
  let dict = `{'descr': '${DESCR_OF[dtype]}', 'fortran_order': False, 'shape': ${shapeText}, }`;
  let major = 1;
  let pre = 10;
  if (dict.length + 1 + pre > 0xffff) {
    major = 2;
    pre = 12;
  }
  // Pad with spaces so that the data starts at a multiple of 64 bytes; the header ends with '\n'.
  const pad = (64 - ((pre + dict.length + 1) % 64)) % 64;
  dict = `${dict}${' '.repeat(pad)}\n`;
  const header = new TextEncoder().encode(dict);
  const body = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  const out = new Uint8Array(pre + header.length + body.length);
  out.set(MAGIC, 0);
  out[6] = major;
  out[7] = 0;
  const view = new DataView(out.buffer);
  if (major === 1) view.setUint16(8, header.length, true);
  else view.setUint32(8, header.length, true);
  out.set(header, pre);
  out.set(body, pre + header.length);
  return out;
}

export function writeNpy(path: string, arr: NpyArray): void {
  const bytes = encodeNpy(arr);
  try {
    writeFileSync(path, bytes);
  } catch (e) {
    throw new NpyError(`cannot write '${path}': ${(e as NodeJS.ErrnoException).code ?? String(e)}`);
  }
}

/** The dtype of a typed array as written to .npy (Uint8Array is written as uint8). */
export function npyDTypeOf(data: NpyData): NpyDType {
  if (data instanceof Float32Array) return 'float32';
  if (data instanceof Float64Array) return 'float64';
  if (data instanceof BigInt64Array) return 'int64';
  if (data instanceof Int32Array) return 'int32';
  return 'uint8';
}
