// Minimal protobuf wire-format reader/writer: ONNX needs only varints, fixed32/64 and
// length-delimited fields. Hand-written so that truncated or hostile files fail with a
// precise message instead of an allocation storm, and so raw tensor bytes stay zero-copy.

export class ProtobufError extends Error {}

export enum WireType {
  Varint = 0,
  Fixed64 = 1,
  LengthDelimited = 2,
  Fixed32 = 5,
}

export class ProtoReader {
  pos: number;
  readonly end: number;
  constructor(
    readonly buf: Uint8Array,
    start = 0,
    end = buf.length,
    readonly path = 'message',
  ) {
    this.pos = start;
    this.end = end;
  }

  done(): boolean {
    return this.pos >= this.end;
  }

  private fail(msg: string): never {
    throw new ProtobufError(`${this.path}: ${msg} at byte ${this.pos}`);
  }

  /** Reads a varint as a JS number (exact up to 2^53; ONNX dims and enums stay well below). */
  varint(): number {
    const start = this.pos;
    let result = 0;
    let shift = 1;
    for (let i = 0; i < 7; i++) {
      if (this.pos >= this.end) this.fail('truncated varint');
      const b = this.buf[this.pos++];
      result += (b & 0x7f) * shift;
      if ((b & 0x80) === 0) return result;
      shift *= 128;
    }
    // Long varints (negative int64 use 10 bytes): decode exactly with bigint.
    this.pos = start;
    return Number(this.varintBig());
  }

  /** Reads a varint as a signed 64-bit bigint (exact). */
  varintBig(): bigint {
    let result = 0n;
    let shift = 0n;
    for (let i = 0; i < 10; i++) {
      if (this.pos >= this.end) this.fail('truncated varint');
      const b = this.buf[this.pos++];
      result |= BigInt(b & 0x7f) << shift;
      if ((b & 0x80) === 0) return BigInt.asIntN(64, result);
      shift += 7n;
    }
    return this.fail('varint longer than 10 bytes');
  }

  tag(): { field: number; wire: number } {
    const t = this.varint();
    const field = Math.floor(t / 8);
    if (field <= 0) this.fail(`invalid field number ${field}`);
    return { field, wire: t & 7 };
  }

  fixed32(): number {
    if (this.pos + 4 > this.end) this.fail('truncated fixed32');
    const v = new DataView(this.buf.buffer, this.buf.byteOffset + this.pos, 4).getFloat32(0, true);
    this.pos += 4;
    return v;
  }

  fixed64f(): number {
    if (this.pos + 8 > this.end) this.fail('truncated fixed64');
    const v = new DataView(this.buf.buffer, this.buf.byteOffset + this.pos, 8).getFloat64(0, true);
    this.pos += 8;
    return v;
  }

  /** Returns [start, end) of a length-delimited field, checked against the enclosing message. */
  span(): [number, number] {
    const len = this.varint();
    if (len < 0 || this.pos + len > this.end) this.fail(`length ${len} runs past the end of the data`);
    const s = this.pos;
    this.pos += len;
    return [s, s + len];
  }

  bytes(): Uint8Array {
    const [s, e] = this.span();
    return this.buf.subarray(s, e);
  }

  string(): string {
    return new TextDecoder('utf-8', { fatal: false }).decode(this.bytes());
  }

  sub(path: string): ProtoReader {
    const [s, e] = this.span();
    return new ProtoReader(this.buf, s, e, `${this.path}.${path}`);
  }

  skip(wire: number): void {
    switch (wire) {
      case WireType.Varint:
        this.varint();
        return;
      case WireType.Fixed64:
        if (this.pos + 8 > this.end) this.fail('truncated fixed64');
        this.pos += 8;
        return;
      case WireType.LengthDelimited:
        this.span();
        return;
      case WireType.Fixed32:
        if (this.pos + 4 > this.end) this.fail('truncated fixed32');
        this.pos += 4;
        return;
      default:
        this.fail(`unsupported wire type ${wire}`);
    }
  }

  /** Repeated int64: packed or not. */
  int64s(wire: number, into: number[]): void {
    if (wire === WireType.LengthDelimited) {
      const [s, e] = this.span();
      this.pos = s;
      while (this.pos < e) into.push(this.varint());
      this.pos = e;
    } else into.push(this.varint());
  }

  int64sBig(wire: number, into: bigint[]): void {
    if (wire === WireType.LengthDelimited) {
      const [s, e] = this.span();
      this.pos = s;
      while (this.pos < e) into.push(this.varintBig());
      this.pos = e;
    } else into.push(this.varintBig());
  }

  floats(wire: number, into: number[]): void {
    if (wire === WireType.LengthDelimited) {
      const [s, e] = this.span();
      this.pos = s;
      while (this.pos < e) into.push(this.fixed32());
      this.pos = e;
    } else into.push(this.fixed32());
  }

  doubles(wire: number, into: number[]): void {
    if (wire === WireType.LengthDelimited) {
      const [s, e] = this.span();
      this.pos = s;
      while (this.pos < e) into.push(this.fixed64f());
      this.pos = e;
    } else into.push(this.fixed64f());
  }
}

/** Growable writer. Nested messages are written to their own writer and appended (sizes known). */
export class ProtoWriter {
  private chunks: Uint8Array[] = [];
  private cur = new Uint8Array(1024);
  private n = 0;
  private total = 0;

  get length(): number {
    return this.total + this.n;
  }

  private ensure(k: number): void {
    if (this.n + k <= this.cur.length) return;
    this.chunks.push(this.cur.subarray(0, this.n));
    this.total += this.n;
    this.cur = new Uint8Array(Math.max(1024, k, this.cur.length * 2));
    this.n = 0;
  }

  private byte(b: number): void {
    this.ensure(1);
    this.cur[this.n++] = b;
  }

  varint(v: number | bigint): void {
    let x = BigInt.asUintN(64, BigInt(v));
    if (x < 0x80n) {
      this.byte(Number(x));
      return;
    }
    while (x >= 0x80n) {
      this.byte(Number(x & 0x7fn) | 0x80);
      x >>= 7n;
    }
    this.byte(Number(x));
  }

  tag(field: number, wire: WireType): void {
    this.varint(field * 8 + wire);
  }

  raw(bytes: Uint8Array): void {
    if (bytes.length > 65536) {
      // Large payloads (tensor data) are referenced, not copied.
      this.chunks.push(this.cur.subarray(0, this.n));
      this.total += this.n;
      this.chunks.push(bytes);
      this.total += bytes.length;
      this.cur = new Uint8Array(1024);
      this.n = 0;
      return;
    }
    this.ensure(bytes.length);
    this.cur.set(bytes, this.n);
    this.n += bytes.length;
  }

  bytesField(field: number, bytes: Uint8Array): void {
    this.tag(field, WireType.LengthDelimited);
    this.varint(bytes.length);
    this.raw(bytes);
  }

  stringField(field: number, s: string | undefined): void {
    if (s === undefined || s === '') return;
    this.bytesField(field, new TextEncoder().encode(s));
  }

  varintField(field: number, v: number | bigint): void {
    this.tag(field, WireType.Varint);
    this.varint(v);
  }

  floatField(field: number, v: number): void {
    this.tag(field, WireType.Fixed32);
    const b = new Uint8Array(4);
    new DataView(b.buffer).setFloat32(0, v, true);
    this.raw(b);
  }

  packedVarints(field: number, vs: ArrayLike<number | bigint>): void {
    if (vs.length === 0) return;
    const w = new ProtoWriter();
    for (let i = 0; i < vs.length; i++) w.varint(vs[i]);
    this.bytesField(field, w.finish());
  }

  packedFloats(field: number, vs: ArrayLike<number>): void {
    if (vs.length === 0) return;
    const b = new Uint8Array(vs.length * 4);
    const dv = new DataView(b.buffer);
    for (let i = 0; i < vs.length; i++) dv.setFloat32(i * 4, vs[i], true);
    this.bytesField(field, b);
  }

  message(field: number, w: ProtoWriter): void {
    this.tag(field, WireType.LengthDelimited);
    this.varint(w.length);
    for (const c of w.parts()) this.raw(c);
  }

  parts(): Uint8Array[] {
    return [...this.chunks, this.cur.subarray(0, this.n)];
  }

  finish(): Uint8Array {
    const out = new Uint8Array(this.length);
    let o = 0;
    for (const c of this.parts()) {
      out.set(c, o);
      o += c.length;
    }
    return out;
  }
}
