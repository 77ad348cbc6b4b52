// Reading ONNX files from disk, with external data resolved safely next to the model.
import { closeSync, openSync, readFileSync, readSync, statSync } from 'node:fs';
import { dirname, isAbsolute, relative, resolve } from 'node:path';
import { decodeModel, OnnxFormatError } from './codec.js';
import type { Model } from './ir.js';
import { ProtobufError } from './protobuf.js';

export class ModelLoadError extends Error {}

export function readOnnxFile(path: string): Model {
  let buf: Buffer;
  try {
    buf = readFileSync(path);
  } catch (e) {
    throw new ModelLoadError(`cannot read model '${path}': ${(e as NodeJS.ErrnoException).code ?? String(e)}`);
  }
  if (buf.length === 0) throw new ModelLoadError(`model '${path}' is empty`);
  const dir = dirname(resolve(path));
  const external = (location: string, offset: number, length: number | undefined): Uint8Array => {
    const full = resolve(dir, location);
    const rel = relative(dir, full);
    // External data must live beside the model: refuse paths that escape its directory.
    if (isAbsolute(location) || rel.startsWith('..') || isAbsolute(rel))
      throw new ModelLoadError(`model '${path}': external data location '${location}' is outside the model's directory`);
    let size: number;
    try {
      size = statSync(full).size;
    } catch {
      throw new ModelLoadError(`model '${path}': external data file '${location}' not found`);
    }
    const len = length ?? size - offset;
    if (offset + len > size)
      throw new ModelLoadError(`model '${path}': external data '${location}' is ${size} bytes, shorter than offset ${offset} + length ${len}`);
    const out = new Uint8Array(len);
    const fd = openSync(full, 'r');
    try {
      readSync(fd, out, 0, len, offset);
    } finally {
      closeSync(fd);
    }
    return out;
  };
  try {
    return decodeModel(new Uint8Array(buf.buffer, buf.byteOffset, buf.length), external);
  } catch (e) {
    if (e instanceof ProtobufError || e instanceof OnnxFormatError)
      throw new ModelLoadError(`model '${path}' is not a valid ONNX file (truncated or corrupt?): ${e.message}`);
    throw e;
  }
}
