// ConvNeXt encoder (Liu et al. 2022), NCHW. A block is
//   x + gamma * pwconv2(GELU(pwconv1(LN(dwconv7x7(x)))))
// with the LN and the pointwise MLP on channels-last data (Transpose, as PyTorch's ConvNeXt permutes),
// so the MLP is MatMul + Add (weights stored [in, out]). Stem: 'patchify' (conv 4x4 stride 4 + LN) or
// 'conv' (the convolutional stem of the robust ConvNeXt used by PIR-AT: two conv 3x3 stride 2, LN, GELU).
// Parameter names under `prefix`:
//   <p>.stem.{conv,norm} | <p>.stem.{conv1,norm1,conv2,norm2}
//   <p>.downsample<s>.{norm,conv}                       (s = 1..stages-1: LN + conv 2x2 stride 2)
//   <p>.stages.<s>.<b>.{dwconv,norm,pwconv1,pwconv2,gamma}
import type { Init } from './init.js';
import { ArchError, type Feat, type Net } from './net.js';

export interface ConvNeXtConfig {
  kind: 'convnext';
  stem: 'patchify' | 'conv';
  /** Channels per stage. */
  dims: number[];
  /** Blocks per stage. */
  depths: number[];
  /** Layer-scale initial value (ConvNeXt: 1e-6); 0 or absent: no layer scale. */
  layerScale?: number;
  /** Depthwise kernel (default 7). */
  kernel?: number;
  /** MLP expansion (default 4). */
  mlpRatio?: number;
}

function block(net: Net, x: Feat, name: string, cfg: ConvNeXtConfig): Feat {
  const c = x.channels;
  const hidden = c * (cfg.mlpRatio ?? 4);
  const y = net.conv(x, `${name}.dwconv`, { out: c, kernel: cfg.kernel ?? 7, groups: c, bias: true });
  let t = net.layerNormLast(net.toNhwc(y.name), c, `${name}.norm`);
  t = net.op('Gelu', [net.linearLast(t, c, hidden, `${name}.pwconv1`)]);
  t = net.linearLast(t, hidden, c, `${name}.pwconv2`);
  if (cfg.layerScale) {
    const init: Init = { kind: 'constant', value: cfg.layerScale };
    t = net.op('Mul', [t, net.param(`${name}.gamma`, [c], init)]);
  }
  return net.add(x, { ...x, name: net.toNchw(t) });
}

function stem(net: Net, x: Feat, p: string, cfg: ConvNeXtConfig): Feat {
  const c = cfg.dims[0];
  if (cfg.stem === 'patchify')
    return net.layerNormChannels(net.conv(x, `${p}.stem.conv`, { out: c, kernel: 4, stride: 4, pad: 0, bias: true }), `${p}.stem.norm`);
  if (c % 2 !== 0) throw new ArchError(`convnext: the conv stem needs an even first width, got ${c}`);
  let h = net.conv(x, `${p}.stem.conv1`, { out: c / 2, kernel: 3, stride: 2, bias: true });
  h = net.gelu(net.layerNormChannels(h, `${p}.stem.norm1`));
  h = net.conv(h, `${p}.stem.conv2`, { out: c, kernel: 3, stride: 2, bias: true });
  return net.layerNormChannels(h, `${p}.stem.norm2`);
}

/** The stage outputs (strides 4, 8, 16, 32 for four stages), finest first. */
export function convnextEncoder(net: Net, x: Feat, prefix: string, cfg: ConvNeXtConfig): Feat[] {
  const n = cfg.dims.length;
  if (n === 0 || cfg.depths.length !== n) throw new ArchError(`convnext: dims [${cfg.dims}] and depths [${cfg.depths}] need the same non-zero length`);
  let h = stem(net, x, prefix, cfg);
  const feats: Feat[] = [];
  for (let s = 0; s < n; s++) {
    if (s > 0) {
      const d = net.layerNormChannels(h, `${prefix}.downsample${s}.norm`);
      h = net.conv(d, `${prefix}.downsample${s}.conv`, { out: cfg.dims[s], kernel: 2, stride: 2, pad: 0, bias: true });
    }
    for (let b = 0; b < cfg.depths[s]; b++) h = block(net, h, `${prefix}.stages.${s}.${b}`, cfg);
    feats.push(h);
  }
  return feats;
}
