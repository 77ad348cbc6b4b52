// The graph IR: a plain, mutable description of an ONNX graph in canonical (opset-21) form.

export type DType = 'float32' | 'float64' | 'float16' | 'int8' | 'uint8' | 'int16' | 'uint16' | 'int32' | 'int64' | 'uint32' | 'uint64' | 'bool' | 'string';

/** ONNX TensorProto.DataType codes. */
export const DTYPE_CODES: Record<DType, number> = {
  float32: 1,
  uint8: 2,
  int8: 3,
  uint16: 4,
  int16: 5,
  int32: 6,
  int64: 7,
  string: 8,
  bool: 9,
  float16: 10,
  float64: 11,
  uint32: 12,
  uint64: 13,
};

const CODE_TO_DTYPE = new Map<number, DType>(Object.entries(DTYPE_CODES).map(([k, v]) => [v, k as DType]));

export function dtypeFromCode(code: number): DType | undefined {
  return CODE_TO_DTYPE.get(code);
}

export type TensorData =
  | Float32Array
  | Float64Array
  | Uint16Array
  | Int8Array
  | Uint8Array
  | Int16Array
  | Int32Array
  | BigInt64Array
  | Uint32Array
  | BigUint64Array
  | string[];

/** A constant tensor (initializer, Constant node value, folded value). */
export interface Tensor {
  dtype: DType;
  dims: number[];
  data: TensorData;
}

export type AttrValue =
  | { type: 'float'; value: number }
  | { type: 'int'; value: number }
  | { type: 'string'; value: string }
  | { type: 'tensor'; value: Tensor }
  | { type: 'floats'; value: number[] }
  | { type: 'ints'; value: number[] }
  | { type: 'strings'; value: string[] }
  | { type: 'graph'; value: unknown };

export interface Node {
  name: string;
  opType: string;
  domain: string;
  /** '' marks an omitted optional input. */
  inputs: string[];
  outputs: string[];
  attrs: Record<string, AttrValue>;
}

/** A dimension is a number when static, a string (symbolic) when not. */
export type Dim = number | string;

export interface ValueInfo {
  name: string;
  dtype: DType;
  shape: Dim[] | undefined;
}

export interface Graph {
  name: string;
  nodes: Node[];
  inputs: ValueInfo[];
  outputs: ValueInfo[];
  initializers: Map<string, Tensor>;
  /** Known types of intermediate values (from the file or from shape inference). */
  valueInfo: Map<string, ValueInfo>;
}

export interface Model {
  irVersion: number;
  opsetImports: Map<string, number>;
  producerName: string;
  producerVersion: string;
  graph: Graph;
  metadata: Record<string, string>;
}

/** The opset robustscope emits and canonicalises every imported model to. */
export const CANONICAL_OPSET = 21;
export const CANONICAL_IR_VERSION = 10;

export function numel(dims: readonly number[]): number {
  let n = 1;
  for (const d of dims) n *= d;
  return n;
}

export function isStatic(shape: Dim[] | undefined): shape is number[] {
  return shape !== undefined && shape.every((d) => typeof d === 'number');
}

export function allocData(dtype: DType, n: number): TensorData {
  switch (dtype) {
    case 'float32':
      return new Float32Array(n);
    case 'float64':
      return new Float64Array(n);
    case 'float16':
    case 'uint16':
      return new Uint16Array(n);
    case 'int8':
      return new Int8Array(n);
    case 'uint8':
    case 'bool':
      return new Uint8Array(n);
    case 'int16':
      return new Int16Array(n);
    case 'int32':
      return new Int32Array(n);
    case 'int64':
      return new BigInt64Array(n);
    case 'uint32':
      return new Uint32Array(n);
    case 'uint64':
      return new BigUint64Array(n);
    case 'string':
      return new Array<string>(n).fill('');
  }
}

export function bytesPerElement(dtype: DType): number {
  switch (dtype) {
    case 'float64':
    case 'int64':
    case 'uint64':
      return 8;
    case 'float32':
    case 'int32':
    case 'uint32':
      return 4;
    case 'float16':
    case 'int16':
    case 'uint16':
      return 2;
    case 'int8':
    case 'uint8':
    case 'bool':
      return 1;
    case 'string':
      return 0;
  }
}

/** Element values as JS numbers (int64 converted; fine for shape arithmetic and small constants). */
export function toNumbers(t: Tensor): number[] {
  const out = new Array<number>(t.data.length);
  const d = t.data;
  if (Array.isArray(d)) throw new Error('string tensor used as numbers');
  for (let i = 0; i < d.length; i++) out[i] = Number(d[i]);
  return out;
}

export function tensorFromNumbers(dtype: DType, dims: number[], values: ArrayLike<number>): Tensor {
  const data = allocData(dtype, values.length);
  if (data instanceof BigInt64Array) for (let i = 0; i < values.length; i++) data[i] = BigInt(Math.trunc(values[i]));
  else if (data instanceof BigUint64Array) for (let i = 0; i < values.length; i++) data[i] = BigInt(Math.trunc(values[i]));
  else if (Array.isArray(data)) throw new Error('cannot build a string tensor from numbers');
  else for (let i = 0; i < values.length; i++) data[i] = values[i];
  return { dtype, dims, data };
}

export function scalarI64(values: number[], dims: number[] = [values.length]): Tensor {
  return tensorFromNumbers('int64', dims, values);
}

export function isFloat(dtype: DType): boolean {
  return dtype === 'float32' || dtype === 'float64' || dtype === 'float16';
}

export function attrInt(node: Node, name: string, dflt: number): number;
export function attrInt(node: Node, name: string): number | undefined;
export function attrInt(node: Node, name: string, dflt?: number): number | undefined {
  const a = node.attrs[name];
  if (a === undefined) return dflt;
  if (a.type !== 'int') throw new Error(`node ${node.name} (${node.opType}): attribute ${name} must be an int`);
  return a.value;
}

export function attrFloat(node: Node, name: string, dflt: number): number {
  const a = node.attrs[name];
  if (a === undefined) return dflt;
  if (a.type === 'float' || a.type === 'int') return a.value;
  throw new Error(`node ${node.name} (${node.opType}): attribute ${name} must be a float`);
}

export function attrInts(node: Node, name: string): number[] | undefined {
  const a = node.attrs[name];
  if (a === undefined) return undefined;
  if (a.type !== 'ints') throw new Error(`node ${node.name} (${node.opType}): attribute ${name} must be a list of ints`);
  return a.value;
}

export function attrString(node: Node, name: string, dflt: string): string {
  const a = node.attrs[name];
  if (a === undefined) return dflt;
  if (a.type !== 'string') throw new Error(`node ${node.name} (${node.opType}): attribute ${name} must be a string`);
  return a.value;
}

export function nodeLabel(node: Node): string {
  return `${node.opType} node '${node.name || node.outputs[0]}'`;
}
