// Built architectures are trainable as they come (src/train/trainable.ts): TrainableModel finds every
// initializer as a parameter (role from the layer, read off the parameter's name here) or a BatchNorm
// buffer, a training step (batch statistics, main + 0.4 * auxiliary loss) returns a finite, non-zero
// gradient for every parameter, and on tiny configs the gradients match central finite differences.
import { describe, expect, it } from 'vitest';
import { buildArch, buildClassifier, buildSegmentation, listArchs, type SegmentationConfig } from '../../src/arch/index.js';
import type { Model } from '../../src/onnx/ir.js';
import type { ImageBatch, LabelBatch } from '../../src/runtime/model.js';
import { type ParamRole, type StepOptions, TrainableModel } from '../../src/train/trainable.js';
import { Rng } from '../../src/util/random.js';

/** The role each parameter must get, from the naming convention of src/arch. */
function expectedRole(name: string): ParamRole | 'buffer' | 'constant' {
  if (name.startsWith('const/')) return 'constant';
  if (/\.running_(mean|var)$/.test(name)) return 'buffer';
  if (name.endsWith('.gamma')) return 'other';
  if (/(^|\.)(bn\d*|norm\d*|in_norm\.\d+)\.(weight|bias)$/.test(name)) return 'norm';
  if (name.endsWith('.weight')) return 'weight';
  if (name.endsWith('.bias')) return 'bias';
  throw new Error(`unexpected initializer name ${name}`);
}

function batch(n: number, h: number, w: number, classes: number, seg: boolean, seed: number): { x: ImageBatch; labels: LabelBatch } {
  const r = new Rng(seed);
  const x = { data: Float32Array.from({ length: n * 3 * h * w }, () => r.next()), dims: [n, 3, h, w] };
  const len = seg ? n * h * w : n;
  const labels = { data: BigInt64Array.from({ length: len }, () => BigInt(r.int(classes))), dims: seg ? [n, h, w] : [n] };
  return { x, labels };
}

describe('parameters and gradients of the registered architectures', () => {
  for (const a of listArchs()) {
    it(`${a.name}: every initializer is a parameter with the expected role or a BatchNorm buffer; step() gives finite non-zero gradients`, async () => {
      const m = buildArch(a.name, { classes: 4, seed: 5 });
      const t = TrainableModel.fromOnnx(m, { threads: 1 });
      const roles = new Map(t.parameterInfo().map((p) => [p.name, p.role]));
      const buffers = new Set(t.buffers().keys());
      for (const name of m.graph.initializers.keys()) {
        const want = expectedRole(name);
        if (want === 'constant') expect(roles.has(name) || buffers.has(name), name).toBe(false);
        else if (want === 'buffer') expect(buffers.has(name), name).toBe(true);
        else expect(roles.get(name), name).toBe(want);
      }
      expect(roles.size + buffers.size).toBe([...m.graph.initializers.keys()].filter((k) => !k.startsWith('const/')).length);
      const seg = a.task === 'segmentation';
      const { x, labels } = batch(2, 32, 32, 4, seg, 1);
      const opts: StepOptions = { reduction: 'mean', aux: a.aux ? [{ output: 'aux_logits', weight: 0.4 }] : [] };
      const r = await t.step(x, labels, opts);
      expect(Number.isFinite(r.loss)).toBe(true);
      expect([...r.grads.keys()].sort()).toEqual([...roles.keys()].sort());
      for (const [name, g] of r.grads) {
        expect(
          g.every((v) => Number.isFinite(v)),
          name,
        ).toBe(true);
        expect(
          g.some((v) => v !== 0),
          name,
        ).toBe(true);
      }
      await t.release();
    });
  }
});

/**
 * Central differences of the step objective along one direction per named parameter, each with its own
 * step h: a random +-1 direction over the whole tensor, or ('argmax') the single entry with the largest
 * gradient, where float32 noise (~1e-6 in the loss) is small against the change. ReLU kinks, LayerNorm over
 * few channels and BatchNorm over few values are strongly curved: every h here was chosen where the
 * differences had converged, by sweeping h.
 */
async function fdCheck(m: Model, seg: boolean, probes: [string, number][], opts: StepOptions, direction: 'random' | 'argmax' = 'random'): Promise<number> {
  const t = TrainableModel.fromOnnx(m, { threads: 1 });
  const { x, labels } = batch(2, 16, 16, 3, seg, 2);
  const params = t.parameters();
  for (const [n] of probes) expect(params.has(n), n).toBe(true);
  const base = await t.step(x, labels, { ...opts, updateStats: false });
  const r = new Rng(9);
  let worst = 0;
  for (const [name, h] of probes) {
    const p = params.get(name) as Float32Array;
    const orig = Float32Array.from(p);
    const g = base.grads.get(name) as Float32Array;
    let d = Float32Array.from(p, () => (r.next() < 0.5 ? -1 : 1));
    if (direction === 'argmax') {
      let best = 0;
      for (let i = 1; i < g.length; i++) if (Math.abs(g[i]) > Math.abs(g[best])) best = i;
      d = new Float32Array(p.length);
      d[best] = 1;
    }
    const at = async (s: number) => {
      for (let i = 0; i < p.length; i++) p[i] = orig[i] + s * h * d[i];
      return (await t.step(x, labels, { ...opts, updateStats: false })).loss;
    };
    const fd = ((await at(1)) - (await at(-1))) / (2 * h);
    p.set(orig);
    let an = 0;
    let scale = 0;
    for (let i = 0; i < g.length; i++) {
      an += g[i] * d[i];
      scale += Math.abs(g[i]);
    }
    expect(scale, name).toBeGreaterThan(0);
    worst = Math.max(worst, Math.abs(fd - an) / Math.max(Math.abs(an), 1e-2 * scale));
  }
  await t.release();
  return worst;
}

describe('gradients against finite differences (tiny configs)', () => {
  const resnet: SegmentationConfig['encoder'] = { kind: 'resnet', stem: { channels: 4, kernel: 3, stride: 2, maxPool: false }, widths: [4, 6], depths: [1, 1] };

  it('ResNet + UPerNet + auxiliary FCN head, eval mode, mean CE + 0.4 aux CE', async () => {
    const m = buildSegmentation(
      { encoder: resnet, decoder: { kind: 'upernet', channels: 4, pools: [0, 2] }, aux: { channels: 4, from: 0 } },
      { classes: 3, seed: 3 },
    );
    const probes: [string, number][] = [
      ['enc.stem.conv.weight', 3e-3],
      ['enc.layer2.0.downsample.conv.weight', 3e-3],
      ['enc.layer1.0.bn2.weight', 3e-3],
      ['dec.ppm.1.conv.weight', 3e-3],
      ['dec.fuse.conv.weight', 3e-3],
      ['dec.classifier.bias', 3e-3],
      ['aux.block.conv.weight', 3e-3],
    ];
    const err = await fdCheck(m, true, probes, { training: false, reduction: 'mean', aux: [{ output: 'aux_logits', weight: 0.4 }] });
    expect(err).toBeLessThan(2e-2);
  });

  it('ResNet + UPerNet (no global-pool branch: BatchNorm over 2 values is a sign), training mode with batch statistics', async () => {
    const m = buildSegmentation({ encoder: resnet, decoder: { kind: 'upernet', channels: 4, pools: [2] } }, { classes: 3, seed: 3 });
    const probes: [string, number][] = [
      ['enc.stem.conv.weight', 3e-4],
      ['enc.layer1.0.bn1.bias', 3e-4],
      ['enc.layer2.0.conv2.weight', 3e-4],
      ['dec.lateral.0.conv.weight', 3e-4],
      // h = 1e-3: at 3e-4 the loss difference is ~26 float32 steps of a loss near 1.4, so one rounding
      // step of the loss moves the estimate by ~4% (the gradient itself agrees to 7 digits).
      ['dec.ppm.0.bn.weight', 1e-3],
    ];
    const err = await fdCheck(m, true, probes, { reduction: 'mean' }, 'argmax');
    // Batch statistics over ReLU outputs of 4-channel layers make the loss far more curved than in eval
    // mode (the differences still move towards the gradient at h = 3e-4, about 3% off); a wiring error
    // (a missing or detached path) would be off by O(1).
    expect(err).toBeLessThan(5e-2);
  });

  it('ConvNeXt (conv stem, layer scale) + UPerNet with input LayerNorms', async () => {
    // The conv stem's first LayerNorm normalises dims[0] / 2 channels: 4 here (over 2 it would be a sign).
    const encoder: SegmentationConfig['encoder'] = { kind: 'convnext', stem: 'conv', dims: [8, 6], depths: [1, 1], layerScale: 0.5, kernel: 3 };
    const m = buildSegmentation({ encoder, decoder: { kind: 'upernet', channels: 4, pools: [0], inputNorm: true } }, { classes: 3, seed: 4 });
    const probes: [string, number][] = [
      ['enc.stem.conv1.bias', 1e-3],
      ['enc.stem.conv2.weight', 3e-4],
      ['enc.stages.0.0.dwconv.weight', 3e-3],
      ['enc.stages.0.0.pwconv1.weight', 1e-2],
      ['enc.stages.0.0.gamma', 1e-2],
      ['enc.downsample1.norm.bias', 1e-3],
      ['dec.in_norm.1.weight', 3e-3],
    ];
    const err = await fdCheck(m, true, probes, { training: false, reduction: 'mean' });
    expect(err).toBeLessThan(2e-2);
  });

  it('ConvNeXt classifier (patchify stem, global pool, LayerNorm, Gemm head)', async () => {
    const m = buildClassifier({ kind: 'convnext', stem: 'patchify', dims: [4, 6], depths: [1, 1], layerScale: 0.5, kernel: 3 }, { classes: 3, seed: 5 });
    const probes: [string, number][] = [
      ['head.fc.weight', 1e-2],
      ['head.norm.weight', 1e-2],
      ['backbone.stages.0.0.pwconv2.weight', 1e-2],
      ['backbone.stem.conv.weight', 1e-3],
    ];
    const err = await fdCheck(m, false, probes, { reduction: 'mean' });
    expect(err).toBeLessThan(2e-2);
  });
});
