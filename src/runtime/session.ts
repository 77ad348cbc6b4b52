// Thin wrapper over onnxruntime-node: one place that knows session options and tensor conversion.

import { availableParallelism } from 'node:os';
import ort from 'onnxruntime-node';
import type { DType } from '../onnx/ir.js';

export interface SessionOptions {
  /** Intra-op threads (default: all cores). */
  threads?: number;
  /** Write ORT's profile JSON with this prefix. */
  profilePrefix?: string;
}

export type Feed = Float32Array | BigInt64Array | Int32Array | Uint8Array | Float64Array;

export interface NamedTensor {
  data: Feed;
  dims: number[];
  dtype: DType;
}

export class Session {
  private constructor(
    private readonly sess: ort.InferenceSession,
    readonly inputNames: readonly string[],
    readonly outputNames: readonly string[],
  ) {}

  static async create(bytes: Uint8Array, opts: SessionOptions = {}): Promise<Session> {
    const threads = opts.threads ?? availableParallelism();
    const sess = await ort.InferenceSession.create(bytes, {
      intraOpNumThreads: threads,
      interOpNumThreads: 1,
      graphOptimizationLevel: 'all',
      executionMode: 'sequential',
      logSeverityLevel: 3,
      enableProfiling: opts.profilePrefix !== undefined,
      profileFilePrefix: opts.profilePrefix,
      // Each session has its own intra-op pool whose idle workers spin after a run; when runs of several
      // sessions alternate (attack / training / eval), a spinning idle pool takes the core the running one
      // needs: measured 2.7x slower runs on 2 cores (bench/train-step/results.notes.md). Stop spinning at
      // the end of every run instead (no cost measured for a single session).
      extra: { session: { force_spinning_stop: '1' } },
    });
    return new Session(sess, sess.inputNames, sess.outputNames);
  }

  async run(feeds: Record<string, NamedTensor>, outputs?: string[]): Promise<Record<string, NamedTensor>> {
    const f: Record<string, ort.Tensor> = {};
    for (const [k, v] of Object.entries(feeds)) f[k] = new ort.Tensor(ortType(v.dtype), v.data as Float32Array, v.dims);
    const res = outputs ? await this.sess.run(f, outputs) : await this.sess.run(f);
    const out: Record<string, NamedTensor> = {};
    for (const [k, v] of Object.entries(res)) out[k] = { data: v.data as Feed, dims: [...v.dims], dtype: fromOrtType(v.type) };
    return out;
  }

  endProfiling(): void {
    this.sess.endProfiling();
  }

  async release(): Promise<void> {
    await this.sess.release();
  }
}

function ortType(d: DType): ort.Tensor.Type {
  switch (d) {
    case 'float32':
      return 'float32';
    case 'float64':
      return 'float64';
    case 'int64':
      return 'int64';
    case 'int32':
      return 'int32';
    case 'bool':
      return 'bool';
    case 'uint8':
      return 'uint8';
    default:
      throw new Error(`tensor type ${d} cannot be fed to the model`);
  }
}

function fromOrtType(t: string): DType {
  const m: Record<string, DType> = { float32: 'float32', float64: 'float64', int64: 'int64', int32: 'int32', bool: 'bool', uint8: 'uint8' };
  const d = m[t];
  if (!d) throw new Error(`unexpected output type ${t}`);
  return d;
}
