// Shared by the CLI tests: capture main()'s output, build tiny models, temp files.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { main } from '../../src/cli/main.js';
import { encodeModel } from '../../src/onnx/codec.js';
import { type Dim, type Model, type Node, type Tensor, tensorFromNumbers } from '../../src/onnx/ir.js';

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

export async function run(...argv: string[]): Promise<RunResult> {
  let stdout = '';
  let stderr = '';
  const code = await main(argv, {
    stdout: { write: (s: string) => (stdout += s) },
    stderr: { write: (s: string) => (stderr += s) },
  });
  return { code, stdout, stderr };
}

export function tempDir(prefix: string): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

export function node(name: string, opType: string, inputs: string[], outputs: string[], attrs: Node['attrs'] = {}, domain = ''): Node {
  return { name, opType, domain, inputs, outputs, attrs };
}

export function model(opts: {
  nodes: Node[];
  input?: Dim[];
  output: string;
  initializers?: [string, Tensor][];
  opset?: number;
  extraOpsets?: [string, number][];
}): Model {
  return {
    irVersion: 10,
    opsetImports: new Map([['', opts.opset ?? 21], ...(opts.extraOpsets ?? [])]),
    producerName: 'robustscope-test',
    producerVersion: '0.0.1',
    metadata: {},
    graph: {
      name: 'g',
      nodes: opts.nodes,
      inputs: [{ name: 'x', dtype: 'float32', shape: opts.input ?? ['N', 3, 'H', 'W'] }],
      outputs: [{ name: opts.output, dtype: 'float32', shape: undefined }],
      initializers: new Map(opts.initializers ?? []),
      valueInfo: new Map(),
    },
  };
}

export function writeModel(dir: string, name: string, m: Model): string {
  const p = join(dir, name);
  writeFileSync(p, encodeModel(m));
  return p;
}

/**
 * A 3-class classifier whose logits have a closed form in the image's channel means:
 * logits = W * mean_c(x) + B (GlobalAveragePool -> Flatten -> Gemm). Written to DIR/NAME.
 */
export function writeGapClassifier(dir: string, name: string, W: number[][], B: number[]): string {
  return writeModel(
    dir,
    name,
    model({
      nodes: [
        node('gap', 'GlobalAveragePool', ['x'], ['gap']),
        node('flat', 'Flatten', ['gap'], ['flat']),
        node('fc', 'Gemm', ['flat', 'W', 'B'], ['logits'], { transB: { type: 'int', value: 1 } }),
      ],
      output: 'logits',
      initializers: [
        ['W', tensorFromNumbers('float32', [W.length, W[0].length], W.flat())],
        ['B', tensorFromNumbers('float32', [B.length], B)],
      ],
    }),
  );
}
