import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { encodeNpy, NpyError, parseNpy, readNpy, writeNpy } from '../../src/data/npy.js';

// Files written by numpy 2.4 (np.lib.format.write_array), base64: the reader is pinned against
// numpy's own output, not only against our writer.
const NUMPY = {
  f8_3x2:
    'k05VTVBZAQB2AHsnZGVzY3InOiAnPGY4JywgJ2ZvcnRyYW5fb3JkZXInOiBGYWxzZSwgJ3NoYXBlJzogKDMsIDIpLCB9ICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgIAoAAAAAAAD4PwAAAAAAAADAAAAAAAAACEAAAAAAAAAQQAAAAAAAABRA+n5qvHSTeD8=',
  b1_3: 'k05VTVBZAQB2AHsnZGVzY3InOiAnfGIxJywgJ2ZvcnRyYW5fb3JkZXInOiBGYWxzZSwgJ3NoYXBlJzogKDMsKSwgfSAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgIAoBAAE=',
  f4_2x3:
    'k05VTVBZAQB2AHsnZGVzY3InOiAnPGY0JywgJ2ZvcnRyYW5fb3JkZXInOiBGYWxzZSwgJ3NoYXBlJzogKDIsIDMpLCB9ICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgIAoAAAAAAACAPwAAAEAAAEBAAACAQAAAoEA=',
  i8_4_v2:
    'k05VTVBZAgB0AAAAeydkZXNjcic6ICc8aTgnLCAnZm9ydHJhbl9vcmRlcic6IEZhbHNlLCAnc2hhcGUnOiAoNCwpLCB9ICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgIAoAAAAAAAAAAAEAAAAAAAAAAgAAAAAAAAADAAAAAAAAAA==',
  i4_3_v3:
    'k05VTVBZAwB0AAAAeydkZXNjcic6ICc8aTQnLCAnZm9ydHJhbl9vcmRlcic6IEZhbHNlLCAnc2hhcGUnOiAoMywpLCB9ICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgIAoBAAAA/v///wMAAAA=',
  u1_scalar:
    'k05VTVBZAQB2AHsnZGVzY3InOiAnfHUxJywgJ2ZvcnRyYW5fb3JkZXInOiBGYWxzZSwgJ3NoYXBlJzogKCksIH0gICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgIAoH',
  f4_0x3:
    'k05VTVBZAQB2AHsnZGVzY3InOiAnPGY0JywgJ2ZvcnRyYW5fb3JkZXInOiBGYWxzZSwgJ3NoYXBlJzogKDAsIDMpLCB9ICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgIAo=',
};
const b64 = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, 'base64'));

/** A .npy file with an arbitrary header text (version 1.0). */
function rawNpy(header: string, data: Uint8Array = new Uint8Array(), major = 1): Uint8Array {
  const h = new TextEncoder().encode(header);
  const pre = major === 1 ? 10 : 12;
  const out = new Uint8Array(pre + h.length + data.length);
  out.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, major, 0]);
  const v = new DataView(out.buffer);
  if (major === 1) v.setUint16(8, h.length, true);
  else v.setUint32(8, h.length, true);
  out.set(h, pre);
  out.set(data, pre + h.length);
  return out;
}

const dir = mkdtempSync(join(tmpdir(), 'rs-npy-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function fileWith(name: string, bytes: Uint8Array): string {
  const p = join(dir, name);
  writeFileSync(p, bytes);
  return p;
}

describe('reading numpy-written files', () => {
  it('float64, bool, float32, uint8 scalar and an empty array (format 1.0)', () => {
    const a = parseNpy(b64(NUMPY.f8_3x2));
    expect(a.dtype).toBe('float64');
    expect(a.shape).toEqual([3, 2]);
    expect([...a.data]).toEqual([1.5, -2, 3, 4, 5, 6e-3]);
    const b = parseNpy(b64(NUMPY.b1_3));
    expect(b.dtype).toBe('bool');
    expect([...b.data]).toEqual([1, 0, 1]);
    const c = parseNpy(b64(NUMPY.f4_2x3));
    expect(c.data).toBeInstanceOf(Float32Array);
    expect([...c.data]).toEqual([0, 1, 2, 3, 4, 5]);
    const s = parseNpy(b64(NUMPY.u1_scalar));
    expect(s.shape).toEqual([]);
    expect([...s.data]).toEqual([7]);
    const e = parseNpy(b64(NUMPY.f4_0x3));
    expect(e.shape).toEqual([0, 3]);
    expect(e.data.length).toBe(0);
  });

  it('int64 in format 2.0 and int32 in format 3.0', () => {
    const a = parseNpy(b64(NUMPY.i8_4_v2));
    expect(a.dtype).toBe('int64');
    expect([...a.data]).toEqual([0n, 1n, 2n, 3n]);
    const b = parseNpy(b64(NUMPY.i4_3_v3));
    expect(b.dtype).toBe('int32');
    expect([...b.data]).toEqual([1, -2, 3]);
  });

  it('accepts a data offset that is not a multiple of the item size (copies to an aligned buffer)', () => {
    const data = new Uint8Array(new Float64Array([2.5, -1]).buffer);
    const a = parseNpy(rawNpy("{'descr': '<f8', 'fortran_order': False, 'shape': (2,), }\n", data));
    expect([...a.data]).toEqual([2.5, -1]);
  });
});

describe('writing', () => {
  it('writes exactly what numpy writes (float32 [2,3])', () => {
    const bytes = encodeNpy({ dtype: 'float32', shape: [2, 3], data: Float32Array.from([0, 1, 2, 3, 4, 5]) });
    expect(Buffer.from(bytes).toString('base64')).toBe(NUMPY.f4_2x3);
  });

  it('round-trips float32 and int64 through a file, data aligned to 64 bytes', () => {
    const f = Float32Array.from({ length: 2 * 3 * 5 * 7 }, (_, i) => Math.sin(i) * 1e3);
    const pf = join(dir, 'f.npy');
    writeNpy(pf, { dtype: 'float32', shape: [2, 3, 5, 7], data: f });
    const rf = readNpy(pf);
    expect(rf.dtype).toBe('float32');
    expect(rf.shape).toEqual([2, 3, 5, 7]);
    expect(rf.data).toEqual(f);

    const l = BigInt64Array.from([0n, 255n, -1n, 9007199254740993n]);
    const pl = join(dir, 'l.npy');
    writeNpy(pl, { dtype: 'int64', shape: [4], data: l });
    const rl = readNpy(pl);
    expect(rl.dtype).toBe('int64');
    expect(rl.shape).toEqual([4]);
    expect(rl.data).toEqual(l);
    expect((encodeNpy({ dtype: 'int64', shape: [4], data: l }).length - 32) % 64).toBe(0);
  });

  it('refuses data whose length does not match the shape', () => {
    expect(() => encodeNpy({ dtype: 'float32', shape: [2, 2], data: new Float32Array(3) })).toThrow(NpyError);
  });
});

describe('malformed files: one clear error naming the file', () => {
  const good = "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }\n";
  const eight = new Uint8Array(8);
  const cases: [string, Uint8Array, RegExp][] = [
    [
      'bad magic',
      (() => {
        const b = rawNpy(good, eight);
        b[1] = 0x4f;
        return b;
      })(),
      /bad magic/,
    ],
    ['tiny file', new Uint8Array([0x93, 0x4e, 0x55]), /only 3 bytes/],
    ['unknown version', rawNpy(good, eight, 4), /unsupported format version 4\.0/],
    ['truncated header', rawNpy(good, eight).subarray(0, 30), /truncated header/],
    ['truncated data', rawNpy(good, eight).subarray(0, 10 + good.length + 5), /truncated data: shape \(2\) of <f4 needs 8 bytes, the file has 5/],
    ['trailing bytes', rawNpy(good, new Uint8Array(12)), /4 unexpected bytes after the data/],
    ['shape/data mismatch', rawNpy("{'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }\n", eight), /needs 48 bytes, the file has 8/],
    ['fortran order', rawNpy("{'descr': '<f4', 'fortran_order': True, 'shape': (2,), }\n", eight), /fortran_order is True/],
    ['unsupported dtype', rawNpy("{'descr': '<f2', 'fortran_order': False, 'shape': (4,), }\n", eight), /unsupported dtype '<f2'/],
    ['big endian', rawNpy("{'descr': '>f4', 'fortran_order': False, 'shape': (2,), }\n", eight), /big-endian/],
    ['structured dtype', rawNpy("{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (2,), }\n", eight), /malformed header/],
    ['negative dim', rawNpy("{'descr': '<f4', 'fortran_order': False, 'shape': (-2,), }\n", eight), /bad shape entry/],
    ['missing shape', rawNpy("{'descr': '<f4', 'fortran_order': False, }\n", eight), /no tuple 'shape'/],
    ['garbage header', rawNpy('not a dict at all\n', eight), /malformed header/],
    ['huge shape', rawNpy("{'descr': '<f8', 'fortran_order': False, 'shape': (4000000000, 4000000000, 4000000000), }\n", eight), /too large/],
  ];
  for (const [what, bytes, re] of cases) {
    it(what, () => {
      const p = fileWith(`${what.replace(/\W+/g, '_')}.npy`, bytes);
      let err: unknown;
      try {
        readNpy(p);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(NpyError);
      const msg = (err as Error).message;
      expect(msg).toContain(p);
      expect(msg).toMatch(re);
      expect(msg.split('\n')).toHaveLength(1);
    });
  }

  it('a missing file', () => {
    expect(() => readNpy(join(dir, 'nope.npy'))).toThrow(/cannot read '.*nope\.npy': ENOENT/);
  });
});
