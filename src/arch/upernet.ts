// UPerNet decoder (Xiao et al. 2018, as in mmsegmentation's UPerHead): a pyramid pooling module on the
// coarsest feature, FPN laterals with a top-down pathway, 3x3 convs per level, every level resized to the
// finest, concatenated, fused by a 3x3 conv, and a 1x1 classifier.
//
// Pooling: PPM's adaptive bins (1, 2, 3, 6) need the feature size at build time; to keep H and W dynamic
// the branches here are a global average pool (bin 1) and fixed-kernel average pools (kernel = stride
// = k feature pixels, the last partial window kept), which equal bins H/k on the training size.
// Names: <n>.in_norm.<i> (optional LayerNorm per input feature, for ConvNeXt encoders),
//   <n>.ppm.<j>.{conv,bn}, <n>.ppm_bottleneck.{conv,bn}, <n>.lateral.<i>.{conv,bn}, <n>.fpn.<i>.{conv,bn},
//   <n>.fuse.{conv,bn}, <n>.classifier
import { ArchError, type Feat, type Net } from './net.js';

export interface UPerNetConfig {
  /** Channels of every decoder conv. */
  channels: number;
  /** PPM branches: 0 = global average pool, k > 0 = k x k average pool with stride k. */
  pools: number[];
  /** LayerNorm on each encoder feature first (ConvNeXt features are not normalised). */
  inputNorm?: boolean;
}

function ppm(net: Net, x: Feat, name: string, cfg: UPerNetConfig): Feat {
  const branches = cfg.pools.map((k, j) => {
    if (!(Number.isInteger(k) && k >= 0)) throw new ArchError(`upernet: pool ${k} must be 0 (global) or a positive integer`);
    const pooled = k === 0 ? net.globalAvgPool(x) : net.avgPool(x, k, k, 0, true);
    return net.resizeLike(net.convBnRelu(pooled, `${name}.ppm.${j}`, { out: cfg.channels, kernel: 1 }), x);
  });
  return net.convBnRelu(net.concat([x, ...branches]), `${name}.ppm_bottleneck`, { out: cfg.channels, kernel: 3 });
}

/** Class scores at the resolution of the finest feature. */
export function upernetDecoder(net: Net, feats: Feat[], name: string, cfg: UPerNetConfig, classes: number): Feat {
  const inputs = cfg.inputNorm ? feats.map((f, i) => net.layerNormChannels(f, `${name}.in_norm.${i}`)) : feats;
  const n = inputs.length;
  const laterals = inputs.slice(0, n - 1).map((f, i) => net.convBnRelu(f, `${name}.lateral.${i}`, { out: cfg.channels, kernel: 1 }));
  laterals.push(ppm(net, inputs[n - 1], name, cfg));
  for (let i = n - 1; i > 0; i--) laterals[i - 1] = net.add(laterals[i - 1], net.resizeLike(laterals[i], laterals[i - 1]));
  const outs = laterals.map((l, i) => (i < n - 1 ? net.convBnRelu(l, `${name}.fpn.${i}`, { out: cfg.channels, kernel: 3 }) : l));
  const fused = net.convBnRelu(net.concat(outs.map((o) => net.resizeLike(o, outs[0]))), `${name}.fuse`, { out: cfg.channels, kernel: 3 });
  return net.conv(fused, `${name}.classifier`, { out: classes, kernel: 1, bias: true });
}
