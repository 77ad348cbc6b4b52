// The AdamW update as a WebAssembly SIMD kernel (f32x4), 4 values per instruction in float32.
//
// Why: the scalar JavaScript loop emulates torch's float32 ops with doubles and Math.fround and is bound by
// two divisions and a square root per value (1.7 ms per step for 250k parameters against PyTorch's 0.9 ms:
// bench/train-step). WebAssembly's f32x4 add/mul/div/sqrt are IEEE binary32, correctly rounded, so the kernel
// performs exactly the roundings of the JS loop (which computes each op in double and rounds once: exact for
// these ops) in the same order: the results are bit-identical (test/train/optim.test.ts checks it).
//
// The module is a few hundred bytes, encoded below by hand (no toolchain): one exported function
//   a(p, g, m, v, n4, b1, a1, b2, a2, decay, bc2sqrt, negStep, eps)
// over n4 groups of 4 floats at byte offsets p, g, m, v of the imported memory e.m:
//   m = m*b1 + g*a1;  v = v*b2 + (a2*g)*g;  p = p*decay + (negStep*m) / (sqrt(v)/bc2sqrt + eps)

const I32 = 0x7f;
const F32 = 0x7d;
const V128 = 0x7b;

function uleb(n: number): number[] {
  const out: number[] = [];
  do {
    let b = n & 0x7f;
    n >>>= 7;
    if (n !== 0) b |= 0x80;
    out.push(b);
  } while (n !== 0);
  return out;
}

const vec = (items: number[][]): number[] => [...uleb(items.length), ...items.flat()];
const section = (id: number, body: number[]): number[] => [id, ...uleb(body.length), ...body];
const str = (s: string): number[] => [...uleb(s.length), ...[...s].map((c) => c.charCodeAt(0))];

// Instructions.
const get = (i: number): number[] => [0x20, ...uleb(i)];
const set = (i: number): number[] => [0x21, ...uleb(i)];
const simd = (op: number): number[] => [0xfd, ...uleb(op)];
const MEMARG = [0x00, 0x00]; // align hint 1 byte (always valid), offset 0
const load = [...simd(0x00), ...MEMARG];
const store = [...simd(0x0b), ...MEMARG];
const splat = simd(0x13);
const sqrt = simd(0xe3);
const add = simd(0xe4);
const mul = simd(0xe6);
const div = simd(0xe7);

// Parameters 0-4: i32 p, g, m, v, n4; 5-12: f32 b1, a1, b2, a2, decay, bc2sqrt, negStep, eps.
// Locals: 13 i (i32); 14-21 the splatted scalars; 22 g, 23 m, 24 v (v128).
const N4 = 4;
const I = 13;
const SPLAT0 = 14;
const [LG, LM, LV] = [22, 23, 24];
const S = (k: number): number => SPLAT0 + k; // k = 0 b1, 1 a1, 2 b2, 3 a2, 4 decay, 5 bc2sqrt, 6 negStep, 7 eps
/** Byte address base + 16 i. */
const addr = (base: number): number[] => [...get(base), ...get(I), 0x41, 4, 0x74, 0x6a];

function kernelBody(): number[] {
  const code: number[] = [];
  for (let k = 0; k < 8; k++) code.push(...get(5 + k), ...splat, ...set(S(k)));
  code.push(0x02, 0x40, 0x03, 0x40); // block, loop
  code.push(...get(I), ...get(N4), 0x4f, 0x0d, 1); // if i >= n4: break
  code.push(...addr(1), ...load, ...set(LG));
  // m = m*b1 + g*a1
  code.push(...addr(2), ...load, ...get(S(0)), ...mul, ...get(LG), ...get(S(1)), ...mul, ...add, ...set(LM));
  code.push(...addr(2), ...get(LM), ...store);
  // v = v*b2 + (a2*g)*g
  code.push(...addr(3), ...load, ...get(S(2)), ...mul, ...get(S(3)), ...get(LG), ...mul, ...get(LG), ...mul, ...add, ...set(LV));
  code.push(...addr(3), ...get(LV), ...store);
  // p = p*decay + (negStep*m) / (sqrt(v)/bc2sqrt + eps)
  code.push(...addr(0), ...addr(0), ...load, ...get(S(4)), ...mul);
  code.push(...get(S(6)), ...get(LM), ...mul, ...get(LV), ...sqrt, ...get(S(5)), ...div, ...get(S(7)), ...add, ...div, ...add, ...store);
  code.push(...get(I), 0x41, 1, 0x6a, ...set(I)); // i++
  code.push(0x0c, 0, 0x0b, 0x0b); // br loop; end loop; end block
  const locals = vec([
    [1, I32],
    [11, V128],
  ]);
  const body = [...locals, ...code, 0x0b];
  return [...uleb(body.length), ...body];
}

function moduleBytes(): Uint8Array<ArrayBuffer> {
  const type = [0x60, ...vec([...new Array(5).fill([I32]), ...new Array(8).fill([F32])]), ...vec([])];
  const bytes = [
    ...[0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00],
    ...section(1, vec([type])),
    ...section(2, vec([[...str('e'), ...str('m'), 0x02, 0x00, ...uleb(1)]])),
    ...section(3, vec([[0]])),
    ...section(7, vec([[...str('a'), 0x00, 0]])),
    ...section(10, vec([kernelBody()])),
  ];
  return new Uint8Array(bytes);
}

type KernelFn = (p: number, g: number, m: number, v: number, n4: number, ...s: number[]) => void;

let compiled: WebAssembly.Module | null | undefined;

/** The compiled module, or null where WebAssembly SIMD is unavailable (then callers use the JS loop). */
function kernelModule(): WebAssembly.Module | null {
  if (compiled === undefined) {
    try {
      compiled = new WebAssembly.Module(moduleBytes());
    } catch {
      compiled = null;
    }
  }
  return compiled;
}

/** Scalars of one update, already rounded to float32 as the JS loop uses them. */
export interface AdamWScalars {
  b1: number;
  a1: number;
  b2: number;
  a2: number;
  /** 1 when the parameter is not decayed (p * 1 is exact). */
  decay: number;
  bc2sqrt: number;
  negStep: number;
  eps: number;
}

const pad4 = (n: number): number => (n + 3) & ~3;

/**
 * One optimizer's kernel and memory: the moment buffers of every parameter live in WebAssembly memory (handed
 * out as Float32Array views, so the optimizer keeps them there); parameter and gradient are copied in and the
 * parameter back out per update.
 */
export class AdamWSimd {
  private readonly mem: WebAssembly.Memory;
  private readonly fn: KernelFn;
  private readonly scratch: number;
  private next = 0;
  private readonly capacity: number;

  private constructor(module: WebAssembly.Module, sizes: number[]) {
    const moments = sizes.reduce((s, n) => s + 2 * pad4(n), 0);
    const largest = Math.max(0, ...sizes.map(pad4));
    this.capacity = moments;
    const bytes = (moments + 2 * largest) * 4;
    this.mem = new WebAssembly.Memory({ initial: Math.max(1, Math.ceil(bytes / 65536)) });
    this.fn = new WebAssembly.Instance(module, { e: { m: this.mem } }).exports.a as KernelFn;
    this.scratch = moments * 4;
  }

  /** A kernel for parameters of these sizes, or undefined without WebAssembly SIMD. */
  static create(sizes: number[]): AdamWSimd | undefined {
    const m = kernelModule();
    return m ? new AdamWSimd(m, sizes) : undefined;
  }

  /** Zeroed moment buffers for a parameter of n values (each call takes new memory; sizes given at creation). */
  allocate(n: number): [Float32Array, Float32Array] {
    const k = pad4(n);
    if (this.next + 2 * k > this.capacity) throw new Error('internal: AdamW kernel memory exhausted');
    const at = this.next;
    this.next += 2 * k;
    return [new Float32Array(this.mem.buffer, at * 4, n), new Float32Array(this.mem.buffer, (at + k) * 4, n)];
  }

  update(p: Float32Array, g: Float32Array, m: Float32Array, v: Float32Array, s: AdamWScalars): void {
    const n = p.length;
    const k = pad4(n);
    const f = new Float32Array(this.mem.buffer);
    const po = this.scratch / 4;
    const go = po + k;
    f.set(p, po);
    f.set(g, go);
    // Lanes past n (padding) compute on zeros and are never read back.
    f.fill(0, po + n, po + k);
    f.fill(0, go + n, go + k);
    this.fn(po * 4, go * 4, m.byteOffset, v.byteOffset, k / 4, s.b1, s.a1, s.b2, s.a2, s.decay, s.bc2sqrt, s.negStep, s.eps);
    p.set(f.subarray(po, po + n));
  }
}
