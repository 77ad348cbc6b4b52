// Heads: the FCN segmentation head (also the auxiliary head) and the classification head.
//   FCN:            <name>.block.{conv,bn} (3x3 conv-bn-relu) + <name>.classifier (1x1 conv with bias)
//   classification: global average pool, [<name>.norm (LayerNorm, ConvNeXt)], <name>.fc (Linear)
import { ArchError, type Feat, type Net } from './net.js';

export interface FcnHeadConfig {
  /** Hidden channels of the 3x3 conv-bn-relu. */
  channels: number;
  /** Which encoder feature it reads: an index, negative from the end (default -1, the coarsest). */
  from?: number;
}

/** The encoder feature `index` (negative counts from the end). */
export function pickFeature(feats: Feat[], index: number, what: string): Feat {
  const i = index < 0 ? feats.length + index : index;
  const f = feats[i];
  if (!f) throw new ArchError(`${what}: feature ${index} does not exist (the encoder has ${feats.length} stages)`);
  return f;
}

/** Per-pixel class scores at the feature's resolution. */
export function fcnHead(net: Net, x: Feat, name: string, channels: number, classes: number): Feat {
  const h = net.convBnRelu(x, `${name}.block`, { out: channels, kernel: 3 });
  return net.conv(h, `${name}.classifier`, { out: classes, kernel: 1, bias: true });
}

/** [N, classes] scores from the last feature. */
export function classificationHead(net: Net, x: Feat, name: string, classes: number, norm: boolean): string {
  let v = net.flatten(net.globalAvgPool(x));
  if (norm) v = net.layerNormLast(v, x.channels, `${name}.norm`);
  return net.linear(v, x.channels, classes, `${name}.fc`);
}
