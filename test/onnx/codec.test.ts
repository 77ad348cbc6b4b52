import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { toAttrs } from '../../src/onnx/builder.js';
import { decodeModel, encodeModel } from '../../src/onnx/codec.js';
import { type Model, tensorFromNumbers } from '../../src/onnx/ir.js';
import { readOnnxFile } from '../../src/onnx/load.js';
import { ProtoWriter } from '../../src/onnx/protobuf.js';
import { float, floats } from '../../src/ops/registry.js';

function sample(): Model {
  return {
    irVersion: 8,
    opsetImports: new Map([['', 13]]),
    producerName: 'pytorch',
    producerVersion: '1.13',
    metadata: { note: 'hi' },
    graph: {
      name: 'g',
      nodes: [
        {
          name: 'n0',
          opType: 'Conv',
          domain: '',
          inputs: ['x', 'w', ''],
          outputs: ['y'],
          attrs: toAttrs({ pads: [1, -1, 1, 1], group: 2, alpha: float(0.25), scales: floats([1.5, 2]), mode: 'linear', big: -(2 ** 40) }),
        },
      ],
      inputs: [{ name: 'x', dtype: 'float32', shape: ['N', 3, 8, 8] }],
      outputs: [{ name: 'y', dtype: 'float32', shape: undefined }],
      initializers: new Map([
        ['w', tensorFromNumbers('float32', [2, 3, 1, 1], [1, -2, 3.5, 4, 5, 6])],
        ['i', tensorFromNumbers('int64', [3], [-1, 2 ** 40, 0])],
      ]),
      valueInfo: new Map(),
    },
  };
}

describe('ONNX codec', () => {
  it('round-trips nodes, attributes (negative and 64-bit ints, floats, strings), tensors and symbolic dims', () => {
    const m = decodeModel(encodeModel(sample()));
    expect(m.opsetImports.get('')).toBe(13);
    expect(m.metadata.note).toBe('hi');
    const n = m.graph.nodes[0];
    expect(n.inputs).toEqual(['x', 'w', '']);
    expect(n.attrs.pads).toEqual({ type: 'ints', value: [1, -1, 1, 1] });
    expect(n.attrs.big).toEqual({ type: 'int', value: -(2 ** 40) });
    expect(n.attrs.alpha).toEqual({ type: 'float', value: 0.25 });
    expect(n.attrs.scales).toEqual({ type: 'floats', value: [1.5, 2] });
    expect(n.attrs.mode).toEqual({ type: 'string', value: 'linear' });
    expect(m.graph.inputs[0].shape).toEqual(['N', 3, 8, 8]);
    expect(Array.from(m.graph.initializers.get('w')?.data as Float32Array)).toEqual([1, -2, 3.5, 4, 5, 6]);
    expect(Array.from(m.graph.initializers.get('i')?.data as BigInt64Array)).toEqual([-1n, 2n ** 40n, 0n]);
  });

  it('reports a truncated file clearly, naming the file', () => {
    const bytes = encodeModel(sample());
    const dir = mkdtempSync(join(tmpdir(), 'rs-'));
    const p = join(dir, 'cut.onnx');
    writeFileSync(p, bytes.subarray(0, Math.floor(bytes.length * 0.6)));
    expect(() => readOnnxFile(p)).toThrow(/cut\.onnx' is not a valid ONNX file.*(runs past the end|truncated)/s);
  });

  it('rejects garbage and non-model protobufs', () => {
    const dir = mkdtempSync(join(tmpdir(), 'rs-'));
    const p = join(dir, 'junk.onnx');
    writeFileSync(p, Buffer.from('this is not an onnx model at all, just some text'));
    expect(() => readOnnxFile(p)).toThrow(/junk\.onnx' is not a valid ONNX file/);
    writeFileSync(p, Buffer.alloc(0));
    expect(() => readOnnxFile(p)).toThrow(/is empty/);
    expect(() => readOnnxFile(join(dir, 'missing.onnx'))).toThrow(/cannot read model .*ENOENT/);
  });

  it('rejects a tensor whose raw data does not match its dims', () => {
    const m = sample();
    m.graph.initializers.set('bad', { dtype: 'float32', dims: [4], data: new Float32Array(3) });
    expect(() => decodeModel(encodeModel(m))).toThrow(/tensor 'bad': has 12 bytes of data, expected 16/);
  });

  it('reads external data next to the model and refuses locations outside its directory', () => {
    const dir = mkdtempSync(join(tmpdir(), 'rs-'));
    writeFileSync(join(dir, 'weights.bin'), Buffer.from(new Float32Array([0, 0, 7, 8, 9]).buffer));
    const make = (location: string): Uint8Array => {
      const t = new ProtoWriter();
      t.packedVarints(1, [3]);
      t.varintField(2, 1);
      t.stringField(8, 'ext');
      for (const [k, v] of [
        ['location', location],
        ['offset', '8'],
        ['length', '12'],
      ]) {
        const e = new ProtoWriter();
        e.stringField(1, k);
        e.stringField(2, v);
        t.message(13, e);
      }
      t.varintField(14, 1);
      const g = new ProtoWriter();
      g.message(5, t);
      const m = new ProtoWriter();
      m.varintField(1, 8);
      m.message(7, g);
      return m.finish();
    };
    writeFileSync(join(dir, 'm.onnx'), make('weights.bin'));
    expect(Array.from(readOnnxFile(join(dir, 'm.onnx')).graph.initializers.get('ext')?.data as Float32Array)).toEqual([7, 8, 9]);
    writeFileSync(join(dir, 'evil.onnx'), make('../../etc/passwd'));
    expect(() => readOnnxFile(join(dir, 'evil.onnx'))).toThrow(/outside the model's directory/);
  });
});
