// Net: a thin builder of plain ONNX (opset 21) graphs for architectures defined in TypeScript. Layers
// are named like PyTorch modules ('enc.layer1.0.conv1'); their parameters become initializers
// '<module>.weight', '<module>.bias', ... with seeded values (init.ts). Shapes stay symbolic (dynamic N, H,
// W): the builder tracks only channel counts and strides, onnxruntime and prepareGraph do the rest.
// Layout is NCHW throughout; LayerNormalization over channels transposes to NHWC and back around the norm.
import { toAttrs } from '../onnx/builder.js';
import type { Node, Tensor } from '../onnx/ir.js';
import { tensorFromNumbers } from '../onnx/ir.js';
import { type Attrs, float } from '../ops/registry.js';
import { type Init, initValues, KAIMING, LINEAR, ONES, ZEROS } from './init.js';

export class ArchError extends Error {}

/** A feature map [N, channels, H/stride, W/stride]. */
export interface Feat {
  name: string;
  channels: number;
  /** Downsampling factor relative to the network input. */
  stride: number;
}

export interface ConvOptions {
  out: number;
  kernel: number;
  stride?: number;
  /** Default: 'same'-style (kernel - 1) / 2 * dilation. */
  pad?: number;
  dilation?: number;
  /** 1 (default); `in` channels for a depthwise conv. */
  groups?: number;
  bias?: boolean;
}

export class Net {
  readonly nodes: Node[] = [];
  readonly initializers = new Map<string, Tensor>();
  private readonly used = new Set<string>();
  private readonly shapes = new Map<string, string>();
  private counter = 0;

  constructor(readonly seed: number) {}

  /** Declares the network input (names are reserved so no node output collides with them). */
  input(name: string, channels: number): Feat {
    this.reserve(name);
    return { name, channels, stride: 1 };
  }

  /** A new initializer `name` with seeded values. */
  param(name: string, dims: number[], init: Init): string {
    if (this.initializers.has(name)) throw new ArchError(`parameter '${name}' is defined twice`);
    this.reserve(name);
    this.initializers.set(name, { dtype: 'float32', dims, data: initValues(init, dims, this.seed, name) });
    return name;
  }

  /** A constant initializer (not a parameter: rank 0, or integer). */
  constant(hint: string, t: Tensor): string {
    const name = this.fresh(`const/${hint}`);
    this.initializers.set(name, t);
    return name;
  }

  /** Appends one node; its output is named after `scope` when given, else `<op>_<k>`. */
  op(opType: string, inputs: string[], attrs?: Attrs, scope?: string): string {
    const out = this.fresh(scope ?? opType.toLowerCase());
    this.nodes.push({ name: out, opType, domain: '', inputs, outputs: [out], attrs: toAttrs(attrs) });
    return out;
  }

  conv(x: Feat, name: string, o: ConvOptions): Feat {
    const groups = o.groups ?? 1;
    const dilation = o.dilation ?? 1;
    const stride = o.stride ?? 1;
    if (x.channels % groups !== 0 || o.out % groups !== 0)
      throw new ArchError(`conv '${name}': ${x.channels} in / ${o.out} out channels are not divisible by groups ${groups}`);
    const pad = o.pad ?? ((o.kernel - 1) / 2) * dilation;
    if (!Number.isInteger(pad)) throw new ArchError(`conv '${name}': even kernel ${o.kernel} needs an explicit pad`);
    const w = this.param(`${name}.weight`, [o.out, x.channels / groups, o.kernel, o.kernel], KAIMING);
    const inputs = [x.name, w];
    if (o.bias) inputs.push(this.param(`${name}.bias`, [o.out], ZEROS));
    const y = this.op(
      'Conv',
      inputs,
      {
        kernel_shape: [o.kernel, o.kernel],
        strides: [stride, stride],
        pads: [pad, pad, pad, pad],
        dilations: [dilation, dilation],
        group: groups,
      },
      name,
    );
    return { name: y, channels: o.out, stride: x.stride * stride };
  }

  /** Eval-form BatchNormalization (PyTorch defaults: eps 1e-5, momentum 0.1 = ONNX momentum 0.9). */
  batchNorm(x: Feat, name: string): Feat {
    const c = x.channels;
    const inputs = [
      x.name,
      this.param(`${name}.weight`, [c], ONES),
      this.param(`${name}.bias`, [c], ZEROS),
      this.param(`${name}.running_mean`, [c], ZEROS),
      this.param(`${name}.running_var`, [c], ONES),
    ];
    return { ...x, name: this.op('BatchNormalization', inputs, { epsilon: float(1e-5), momentum: float(0.9) }, name) };
  }

  relu(x: Feat): Feat {
    return { ...x, name: this.op('Relu', [x.name]) };
  }

  /** Exact (erf) GELU, opset 20's Gelu. */
  gelu(x: Feat): Feat {
    return { ...x, name: this.op('Gelu', [x.name]) };
  }

  /** conv (no bias) + BatchNormalization + ReLU, modules '<name>.conv' and '<name>.bn'. */
  convBnRelu(x: Feat, name: string, o: Omit<ConvOptions, 'bias'>): Feat {
    return this.relu(this.batchNorm(this.conv(x, `${name}.conv`, { ...o, bias: false }), `${name}.bn`));
  }

  /** LayerNormalization over the last axis of `x` (scale '<name>.weight', shift '<name>.bias'). */
  layerNormLast(x: string, channels: number, name: string, eps = 1e-6): string {
    const s = this.param(`${name}.weight`, [channels], ONES);
    const b = this.param(`${name}.bias`, [channels], ZEROS);
    return this.op('LayerNormalization', [x, s, b], { axis: -1, epsilon: float(eps) }, name);
  }

  /** LayerNorm over the channels of an NCHW map (ConvNeXt's channels_first LayerNorm). */
  layerNormChannels(x: Feat, name: string, eps = 1e-6): Feat {
    const nhwc = this.toNhwc(x.name);
    return { ...x, name: this.toNchw(this.layerNormLast(nhwc, x.channels, name, eps)) };
  }

  toNhwc(x: string): string {
    return this.op('Transpose', [x], { perm: [0, 2, 3, 1] });
  }

  toNchw(x: string): string {
    return this.op('Transpose', [x], { perm: [0, 3, 1, 2] });
  }

  /** x @ W + b over the last axis (a PyTorch Linear on channels-last data; W stored [in, out]). */
  linearLast(x: string, inCh: number, out: number, name: string): string {
    const w = this.param(`${name}.weight`, [inCh, out], LINEAR);
    const y = this.op('MatMul', [x, w]);
    return this.op('Add', [y, this.param(`${name}.bias`, [out], ZEROS)], undefined, name);
  }

  maxPool(x: Feat, kernel: number, stride: number, pad = 0): Feat {
    const y = this.op('MaxPool', [x.name], { kernel_shape: [kernel, kernel], strides: [stride, stride], pads: [pad, pad, pad, pad] });
    return { ...x, name: y, stride: x.stride * stride };
  }

  /**
   * Average pool, padding excluded from the count (PyTorch's count_include_pad=False). `ceil` (stride = kernel) pads the
   * end by kernel - 1 instead of pad, so the partial last window is kept and a map smaller than the
   * kernel still gives one value (ceil_mode itself is refused for windows larger than the input).
   */
  avgPool(x: Feat, kernel: number, stride: number, pad = 0, ceil = false): Feat {
    const end = ceil ? kernel - 1 : pad;
    const y = this.op('AveragePool', [x.name], { kernel_shape: [kernel, kernel], strides: [stride, stride], pads: [pad, pad, end, end] });
    return { ...x, name: y, stride: x.stride * stride };
  }

  /** [N, C, H, W] -> [N, C, 1, 1] (stride Infinity: the map no longer has a resolution). */
  globalAvgPool(x: Feat): Feat {
    return { ...x, name: this.op('GlobalAveragePool', [x.name]), stride: Number.POSITIVE_INFINITY };
  }

  /** [N, C, 1, 1] -> [N, C]. */
  flatten(x: Feat): string {
    return this.op('Flatten', [x.name], { axis: 1 });
  }

  /** PyTorch Linear as Gemm(transB): weight [out, in] (truncated normal), bias [out] (zeros). */
  linear(x: string, inCh: number, out: number, name: string): string {
    const w = this.param(`${name}.weight`, [out, inCh], LINEAR);
    const b = this.param(`${name}.bias`, [out], ZEROS);
    return this.op('Gemm', [x, w, b], { transB: 1 }, name);
  }

  /**
   * Bilinear resize of `x` to the spatial size of `ref` (PyTorch interpolate, align_corners=False):
   * Resize linear / half_pixel on axes [2, 3], sizes = Shape(ref)[2:4], so H and W stay dynamic.
   */
  resizeLike(x: Feat, ref: Feat): Feat {
    if (x.name === ref.name) return x;
    const y = this.op('Resize', [x.name, '', '', this.spatialSize(ref.name)], {
      mode: 'linear',
      coordinate_transformation_mode: 'half_pixel',
      axes: [2, 3],
    });
    return { ...x, name: y, stride: ref.stride };
  }

  concat(xs: Feat[]): Feat {
    if (xs.length === 1) return xs[0];
    const y = this.op(
      'Concat',
      xs.map((x) => x.name),
      { axis: 1 },
    );
    return { name: y, channels: xs.reduce((a, x) => a + x.channels, 0), stride: xs[0].stride };
  }

  add(a: Feat, b: Feat): Feat {
    if (a.channels !== b.channels) throw new ArchError(`add: ${a.name} has ${a.channels} channels, ${b.name} has ${b.channels}`);
    return { ...a, name: this.op('Add', [a.name, b.name]) };
  }

  /** Renames the tensor `from` (produced by a node here) to `to`, e.g. to make it the graph output 'logits'. */
  rename(from: string, to: string): string {
    this.reserve(to);
    for (const n of this.nodes) {
      n.outputs = n.outputs.map((o) => (o === from ? to : o));
      n.inputs = n.inputs.map((i) => (i === from ? to : i));
      if (n.name === from) n.name = to;
    }
    return to;
  }

  /** [H, W] of a tensor as an int64 [2] (one Shape + Slice per tensor, shared by every resize to it). */
  private spatialSize(ref: string): string {
    let s = this.shapes.get(ref);
    if (!s) {
      const shape = this.op('Shape', [ref]);
      const i64 = (v: number[]) => this.constant('i64', tensorFromNumbers('int64', [v.length], v));
      s = this.op('Slice', [shape, i64([2]), i64([4]), i64([0])]);
      this.shapes.set(ref, s);
    }
    return s;
  }

  private reserve(name: string): void {
    if (this.used.has(name)) throw new ArchError(`tensor name '${name}' is used twice`);
    this.used.add(name);
  }

  private fresh(hint: string): string {
    let name = hint;
    while (this.used.has(name)) name = `${hint}_${this.counter++}`;
    this.used.add(name);
    return name;
  }
}
