// Named CPU-sized architectures, built as plain ONNX models (opset 21) ready for encodeModel.
// Input 'image' [N, 3, H, W] in [0, 1] (N, H, W dynamic unless inputSize is given); the model normalises
// it itself ((x - 0.5) / 0.25 by default, rank-0 constants, so never trained). Outputs:
//   segmentation   'logits' [N, K, H, W] (bilinear to the input size), optionally 'aux_logits' [N, K, H, W]
//   classification 'logits' [N, K]
// Encoder parameters are 'enc.<...>' in segmentation models and 'backbone.<...>' in classifiers with the
// same suffixes for the same encoder config, so `--map 'enc.*=backbone.*'` moves a classifier's encoder
// into a segmentation model; decoders are 'dec.<...>' / 'aux.<...>', classifier heads 'head.<...>'.
import { CANONICAL_IR_VERSION, CANONICAL_OPSET, type Model, tensorFromNumbers } from '../onnx/ir.js';
import { type CompactConfig, compactEncoder, skipDecoder } from './compact.js';
import { type ConvNeXtConfig, convnextEncoder } from './convnext.js';
import { classificationHead, type FcnHeadConfig, fcnHead, pickFeature } from './heads.js';
import { ArchError, type Feat, Net } from './net.js';
import { type ResNetConfig, resnetEncoder } from './resnet.js';
import { type UPerNetConfig, upernetDecoder } from './upernet.js';

export type EncoderConfig = ResNetConfig | ConvNeXtConfig | CompactConfig;
export type DecoderConfig = ({ kind: 'fcn' } & FcnHeadConfig) | ({ kind: 'upernet' } & UPerNetConfig) | { kind: 'skip' };
export type Task = 'segmentation' | 'classification';

export interface SegmentationConfig {
  encoder: EncoderConfig;
  decoder: DecoderConfig;
  /** Auxiliary FCN head, the second output 'aux_logits' (PIR-AT weights its loss 0.4). */
  aux?: FcnHeadConfig;
}

export interface BuildOptions {
  /** Number of classes K. */
  classes: number;
  /** Fixed input size (H = W, or [H, W]); default: dynamic H and W. */
  inputSize?: number | [number, number];
  /** Initialisation seed (default 0). */
  seed?: number;
  /** In-model input normalisation (x - mean) / std with scalars (default mean 0.5, std 0.25); null: none. */
  normalize?: { mean: number; std: number } | null;
}

export interface ArchOptions extends BuildOptions {
  /** Segmentation architectures with an auxiliary head: include it (default true). */
  aux?: boolean;
}

export interface ArchSpec {
  name: string;
  task: Task;
  description: string;
  encoder: EncoderConfig;
  /** Segmentation only. */
  decoder?: DecoderConfig;
  aux?: FcnHeadConfig;
}

/** ResNet-tiny: conv stem stride 2, four single-BasicBlock stages 16-32-64-96 (strides 2, 4, 8, 16). */
export const RESNET_TINY: ResNetConfig = {
  kind: 'resnet',
  stem: { channels: 16, kernel: 3, stride: 2, maxPool: false },
  widths: [16, 32, 64, 96],
  depths: [1, 1, 1, 1],
};

/** ResNet-18 layout at half width: 7x7 stride-2 stem + max pool, 2 BasicBlocks per stage, 32-64-128-256
 * (strides 4..32). Sized for 224x224 inputs (~0.45 GMAC per image), e.g. classifiers of rendered meshes. */
export const RESNET18_HALF: ResNetConfig = {
  kind: 'resnet',
  stem: { channels: 32, kernel: 7, stride: 2, maxPool: true },
  widths: [32, 64, 128, 256],
  depths: [2, 2, 2, 2],
};

/** ConvNeXt-tiny (CPU scale, not ConvNeXt-T): conv stem, stages 16-32-64-96 x 1-1-2-1 blocks (strides 4..32). */
export const CONVNEXT_TINY: ConvNeXtConfig = {
  kind: 'convnext',
  stem: 'conv',
  dims: [16, 32, 64, 96],
  depths: [1, 1, 2, 1],
  layerScale: 1e-6,
};

/** The compact encoder of the bundled shapes models (~110k parameters with the skip decoder). */
export const COMPACT: CompactConfig = { kind: 'compact', width: 16 };

const ARCHS: ArchSpec[] = [
  {
    name: 'resnet-tiny-fcn',
    task: 'segmentation',
    description: 'ResNet-tiny, last stage dilated (output stride 8), FCN head',
    // Dilation changes no parameter shape: the encoder still takes resnet-tiny-cls weights.
    encoder: { ...RESNET_TINY, dilate: [false, false, false, true] },
    decoder: { kind: 'fcn', channels: 32 },
  },
  {
    name: 'resnet-tiny-upernet',
    task: 'segmentation',
    description: 'ResNet-tiny + UPerNet (32 channels, PPM global + 2x2) + auxiliary FCN head on stage 3',
    encoder: RESNET_TINY,
    decoder: { kind: 'upernet', channels: 32, pools: [0, 2] },
    aux: { channels: 32, from: -2 },
  },
  {
    name: 'convnext-tiny-upernet',
    task: 'segmentation',
    description: 'ConvNeXt-tiny (conv stem) + UPerNet (32 channels, LayerNorm on each feature) + auxiliary FCN head on stage 3',
    encoder: CONVNEXT_TINY,
    decoder: { kind: 'upernet', channels: 32, pools: [0, 2], inputNorm: true },
    aux: { channels: 32, from: -2 },
  },
  {
    name: 'compact-skip',
    task: 'segmentation',
    description: 'compact encoder (16-32-64, full-resolution stem) + one-skip decoder at 1/2: the bundled shapes models',
    encoder: COMPACT,
    decoder: { kind: 'skip' },
  },
  { name: 'compact-cls', task: 'classification', description: 'compact encoder + global pool + linear (PIR-AT backbone of compact-skip)', encoder: COMPACT },
  { name: 'resnet-tiny-cls', task: 'classification', description: 'ResNet-tiny + global pool + linear', encoder: RESNET_TINY },
  {
    name: 'resnet18-half-cls',
    task: 'classification',
    description: 'ResNet-18 layout at half width (32-64-128-256, 7x7 stem + max pool) + global pool + linear; for 224x224 inputs',
    encoder: RESNET18_HALF,
  },
  { name: 'convnext-tiny-cls', task: 'classification', description: 'ConvNeXt-tiny (conv stem) + global pool + LayerNorm + linear', encoder: CONVNEXT_TINY },
];

/** The registered architectures. */
export function listArchs(): ArchSpec[] {
  return ARCHS.map((a) => ({ ...a }));
}

export function getArch(name: string): ArchSpec {
  const a = ARCHS.find((s) => s.name === name);
  if (!a) throw new ArchError(`unknown architecture '${name}'; known: ${ARCHS.map((s) => s.name).join(', ')}`);
  return a;
}

/** Builds the registered architecture `name` with seeded weights. */
export function buildArch(name: string, opts: ArchOptions): Model {
  const a = getArch(name);
  if (a.task === 'classification') {
    if (opts.aux) throw new ArchError(`architecture '${name}' is a classifier; it has no auxiliary head`);
    return buildClassifier(a.encoder, opts, name);
  }
  const aux = opts.aux === false ? undefined : a.aux;
  return buildSegmentation({ encoder: a.encoder, decoder: a.decoder as DecoderConfig, aux }, opts, name);
}

function encode(net: Net, x: Feat, prefix: string, cfg: EncoderConfig): Feat[] {
  if (cfg.kind === 'compact') return compactEncoder(net, x, prefix, cfg);
  return cfg.kind === 'resnet' ? resnetEncoder(net, x, prefix, cfg) : convnextEncoder(net, x, prefix, cfg);
}

interface Started {
  net: Net;
  image: Feat;
  x: Feat;
  hw: [number | string, number | string];
  seed: number;
}

function start(opts: BuildOptions): Started {
  if (!(Number.isInteger(opts.classes) && opts.classes >= 1)) throw new ArchError(`classes must be a positive integer, got ${opts.classes}`);
  const size = opts.inputSize === undefined ? undefined : typeof opts.inputSize === 'number' ? [opts.inputSize, opts.inputSize] : opts.inputSize;
  if (size && !size.every((d) => Number.isInteger(d) && d >= 1)) throw new ArchError(`inputSize must be positive integers, got [${size}]`);
  const seed = opts.seed ?? 0;
  const net = new Net(seed);
  const image = net.input('image', 3);
  let x = image;
  const norm = opts.normalize === undefined ? { mean: 0.5, std: 0.25 } : opts.normalize;
  if (norm) {
    if (!(norm.std > 0)) throw new ArchError(`normalize.std must be positive, got ${norm.std}`);
    // Rank-0 constants: findParameters never takes scalars for parameters.
    const mean = net.constant('input_mean', tensorFromNumbers('float32', [], [norm.mean]));
    const inv = net.constant('input_inv_std', tensorFromNumbers('float32', [], [1 / norm.std]));
    x = { ...x, name: net.op('Mul', [net.op('Sub', [x.name, mean]), inv], undefined, 'image_normalized') };
  }
  return { net, image, x, hw: size ? [size[0], size[1]] : ['H', 'W'], seed };
}

function finish(s: Started, outputs: { name: string; shape: (number | string)[] }[], name: string, task: Task, classes: number): Model {
  return {
    irVersion: CANONICAL_IR_VERSION,
    opsetImports: new Map([['', CANONICAL_OPSET]]),
    producerName: 'robustscope',
    producerVersion: '',
    metadata: { 'robustscope.arch': name, 'robustscope.task': task, 'robustscope.classes': String(classes), 'robustscope.seed': String(s.seed) },
    graph: {
      name,
      nodes: s.net.nodes,
      inputs: [{ name: 'image', dtype: 'float32', shape: ['N', 3, ...s.hw] }],
      outputs: outputs.map((o) => ({ name: o.name, dtype: 'float32', shape: o.shape })),
      initializers: s.net.initializers,
      valueInfo: new Map(),
    },
  };
}

/** A segmentation model: encoder 'enc', decoder 'dec', optional auxiliary head 'aux'. */
export function buildSegmentation(cfg: SegmentationConfig, opts: BuildOptions, name = 'segmentation'): Model {
  const s = start(opts);
  const { net, image } = s;
  const K = opts.classes;
  const feats = encode(net, s.x, 'enc', cfg.encoder);
  const d = cfg.decoder;
  const scores =
    d.kind === 'fcn'
      ? fcnHead(net, pickFeature(feats, d.from ?? -1, 'fcn head'), 'dec', d.channels, K)
      : d.kind === 'skip'
        ? skipDecoder(net, feats, 'dec', K)
        : upernetDecoder(net, feats, 'dec', d, K);
  net.rename(net.resizeLike(scores, image).name, 'logits');
  const shape = ['N', K, ...s.hw];
  const outputs = [{ name: 'logits', shape }];
  if (cfg.aux) {
    const a = fcnHead(net, pickFeature(feats, cfg.aux.from ?? -2, 'auxiliary head'), 'aux', cfg.aux.channels, K);
    net.rename(net.resizeLike(a, image).name, 'aux_logits');
    outputs.push({ name: 'aux_logits', shape });
  }
  return finish(s, outputs, name, 'segmentation', K);
}

/** A classifier: encoder 'backbone', head 'head' (LayerNorm before the linear layer for ConvNeXt). */
export function buildClassifier(encoder: EncoderConfig, opts: BuildOptions, name = 'classifier'): Model {
  const s = start(opts);
  const feats = encode(s.net, s.x, 'backbone', encoder);
  const logits = classificationHead(s.net, feats[feats.length - 1], 'head', opts.classes, encoder.kind === 'convnext');
  s.net.rename(logits, 'logits');
  return finish(s, [{ name: 'logits', shape: ['N', opts.classes] }], name, 'classification', opts.classes);
}
