// A compact encoder-decoder for small images (the bundled shapes models): a full-resolution stem,
// two stride-2 stages (the second ends with a dilated conv for context), and a decoder that adds the
// 1/4 feature, projected and upsampled, to the 1/2 feature (one skip), then logits at 1/2 upsampled
// to the input. Fine enough for 64x64 images whose objects are ~15 px, cheap on a CPU.
//   encoder <p>.stem, <p>.stage1.{0,1}, <p>.stage2.{0,1,2} (conv-bn-relu each)
//   decoder <d>.lateral.{conv,bn}, <d>.fuse.{conv,bn}, <d>.classifier
import type { Feat, Net } from './net.js';

export interface CompactConfig {
  kind: 'compact';
  /** Stem width w; the stages have 2w and 4w channels. */
  width: number;
}

/** Stage outputs at strides 2 and 4. */
export function compactEncoder(net: Net, x: Feat, prefix: string, cfg: CompactConfig): Feat[] {
  const w = cfg.width;
  const h = net.convBnRelu(x, `${prefix}.stem`, { out: w, kernel: 3 });
  let s1 = net.convBnRelu(h, `${prefix}.stage1.0`, { out: 2 * w, kernel: 3, stride: 2 });
  s1 = net.convBnRelu(s1, `${prefix}.stage1.1`, { out: 2 * w, kernel: 3 });
  let s2 = net.convBnRelu(s1, `${prefix}.stage2.0`, { out: 4 * w, kernel: 3, stride: 2 });
  s2 = net.convBnRelu(s2, `${prefix}.stage2.1`, { out: 4 * w, kernel: 3 });
  s2 = net.convBnRelu(s2, `${prefix}.stage2.2`, { out: 4 * w, kernel: 3, dilation: 2 });
  return [s1, s2];
}

/** One-skip decoder over [stride-2, stride-4] features; class scores at stride 2. */
export function skipDecoder(net: Net, feats: Feat[], name: string, classes: number): Feat {
  const [s1, s2] = feats;
  const lat = net.batchNorm(net.conv(s2, `${name}.lateral.conv`, { out: s1.channels, kernel: 1, pad: 0 }), `${name}.lateral.bn`);
  const d = net.convBnRelu(net.relu(net.add(s1, net.resizeLike(lat, s1))), `${name}.fuse`, { out: s1.channels, kernel: 3 });
  return net.conv(d, `${name}.classifier`, { out: classes, kernel: 1, bias: true });
}
