// ResNet encoder with BasicBlocks (He et al. 2016; torchvision layout and init), sized by its config.
// Parameter names under `prefix` ('enc' in segmentation models, 'backbone' in classifiers):
//   <p>.stem.conv, <p>.stem.bn, <p>.layer<s>.<b>.{conv1,bn1,conv2,bn2}, <p>.layer<s>.<b>.downsample.{conv,bn}
// Dilation (torchvision's replace_stride_with_dilation) changes no parameter shape, so a dilated
// segmentation encoder takes the weights of the strided classifier encoder unchanged.
import { ArchError, type Feat, type Net } from './net.js';

export interface ResNetConfig {
  kind: 'resnet';
  /** conv k x k / stride (no bias) + BN + ReLU, then an optional 3x3 stride-2 max pool. */
  stem: { channels: number; kernel: number; stride: number; maxPool: boolean };
  /** Output channels per stage. */
  widths: number[];
  /** BasicBlocks per stage. */
  depths: number[];
  /** Stride of each stage's first block (default 1 for the first stage, 2 for the others). */
  strides?: number[];
  /** Per stage: replace the stride by a dilation (output stride 8 or 16 for segmentation). */
  dilate?: boolean[];
}

function checkConfig(cfg: ResNetConfig): number[] {
  const n = cfg.widths.length;
  if (n === 0 || cfg.depths.length !== n) throw new ArchError(`resnet: widths [${cfg.widths}] and depths [${cfg.depths}] need the same non-zero length`);
  if (cfg.depths.some((d) => !(Number.isInteger(d) && d >= 1))) throw new ArchError(`resnet: depths [${cfg.depths}] must be positive integers`);
  const strides = cfg.strides ?? cfg.widths.map((_, i) => (i === 0 ? 1 : 2));
  if (strides.length !== n) throw new ArchError(`resnet: strides [${strides}] needs ${n} values`);
  if (cfg.dilate && cfg.dilate.length !== n) throw new ArchError(`resnet: dilate needs ${n} values`);
  return strides;
}

/** One BasicBlock: conv3x3(stride)-bn-relu-conv3x3-bn + shortcut, then ReLU. */
function basicBlock(net: Net, x: Feat, name: string, out: number, stride: number, dil1: number, dil2: number): Feat {
  let y = net.relu(net.batchNorm(net.conv(x, `${name}.conv1`, { out, kernel: 3, stride, dilation: dil1 }), `${name}.bn1`));
  y = net.batchNorm(net.conv(y, `${name}.conv2`, { out, kernel: 3, dilation: dil2 }), `${name}.bn2`);
  let short = x;
  if (stride !== 1 || x.channels !== out)
    short = net.batchNorm(net.conv(x, `${name}.downsample.conv`, { out, kernel: 1, stride, pad: 0 }), `${name}.downsample.bn`);
  // A dilated stage keeps the spatial size; the feature's nominal stride follows the strided path.
  return net.relu(net.add(y, { ...short, stride: y.stride }));
}

/** The encoder's stage outputs, finest first (strides relative to the input in each Feat). */
export function resnetEncoder(net: Net, x: Feat, prefix: string, cfg: ResNetConfig): Feat[] {
  const strides = checkConfig(cfg);
  const s = cfg.stem;
  let h = net.convBnRelu(x, `${prefix}.stem`, { out: s.channels, kernel: s.kernel, stride: s.stride });
  if (s.maxPool) h = net.maxPool(h, 3, 2, 1);
  const feats: Feat[] = [];
  let dilation = 1;
  cfg.widths.forEach((width, i) => {
    let stride = strides[i];
    const prev = dilation;
    if (cfg.dilate?.[i]) {
      dilation *= stride;
      stride = 1;
    }
    for (let b = 0; b < cfg.depths[i]; b++) {
      const name = `${prefix}.layer${i + 1}.${b}`;
      h = b === 0 ? basicBlock(net, h, name, width, stride, prev, dilation) : basicBlock(net, h, name, width, 1, dilation, dilation);
    }
    feats.push(h);
  });
  return feats;
}
