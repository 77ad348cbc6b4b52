// Architectures defined in TypeScript and emitted as plain ONNX (opset 21): see registry.ts.
export { type CompactConfig, compactEncoder, skipDecoder } from './compact.js';
export { type ConvNeXtConfig, convnextEncoder } from './convnext.js';
export { classificationHead, type FcnHeadConfig, fcnHead, pickFeature } from './heads.js';
export { fanOut, type Init, initValues, KAIMING, LINEAR, ONES, ZEROS } from './init.js';
export { ArchError, type ConvOptions, type Feat, Net } from './net.js';
export {
  type ArchOptions,
  type ArchSpec,
  type BuildOptions,
  buildArch,
  buildClassifier,
  buildSegmentation,
  CONVNEXT_TINY,
  type DecoderConfig,
  type EncoderConfig,
  getArch,
  listArchs,
  RESNET_TINY,
  type SegmentationConfig,
  type Task,
} from './registry.js';
export { type ResNetConfig, resnetEncoder } from './resnet.js';
export { type UPerNetConfig, upernetDecoder } from './upernet.js';
