import { describe, expect, it } from 'vitest';
import {
  AugmentError,
  type AugmentOptions,
  augmentClassification,
  augmentClassificationBatch,
  augmentSegmentation,
  augmentSegmentationBatch,
  gaussianBlur,
  hflip,
  hflipLabel,
  resizeBilinear,
  resizeNearest,
  type SegSample,
} from '../../src/train/augment.js';
import { Rng } from '../../src/util/random.js';

/** Label map of unique block ids (blocks bh x bw), image channel 0 = label/100, channel 1 = 1 - label/100. */
function blocks(h: number, w: number, bh: number, bw: number): SegSample {
  const label = new Uint8Array(h * w);
  const image = new Float32Array(2 * h * w);
  const perRow = Math.ceil(w / bw);
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++) {
      const l = Math.floor(y / bh) * perRow + Math.floor(x / bw);
      label[y * w + x] = l;
      image[y * w + x] = l / 100;
      image[h * w + y * w + x] = 1 - l / 100;
    }
  return { image, dims: [2, h, w], label };
}

function ramp(c: number, h: number, w: number): SegSample {
  const image = Float32Array.from({ length: c * h * w }, (_, i) => ((i * 37) % 101) / 100);
  const label = Int32Array.from({ length: h * w }, (_, i) => i % 7);
  return { image, dims: [c, h, w], label };
}

const exact: AugmentOptions = { crop: [5, 4], scaleRange: [1, 1], flipP: 0, blurP: 0 };

describe('primitives', () => {
  it('hflip mirrors every row; flipping twice is the identity', () => {
    const img = Float32Array.from([1, 2, 3, 4, 5, 6]);
    expect([...hflip(img, [1, 2, 3])]).toEqual([3, 2, 1, 6, 5, 4]);
    const s = ramp(3, 5, 7);
    expect(hflip(hflip(s.image, s.dims), s.dims)).toEqual(s.image);
    expect(hflipLabel(hflipLabel(s.label as Int32Array, 5, 7), 5, 7)).toEqual(s.label);
    expect([...hflipLabel(Uint8Array.from([1, 2, 3]), 1, 3)]).toEqual([3, 2, 1]);
  });

  it('bilinear resize uses half-pixel centres, clamped, no antialiasing (torch align_corners=False)', () => {
    // 2 -> 4: source x = (x + 0.5)/2 - 0.5 = -0.25 (clamped to 0), 0.25, 0.75, 1.25 (clamped to the last pixel)
    expect([...resizeBilinear(Float32Array.from([0, 1]), [1, 1, 2], 1, 4)]).toEqual([0, 0.25, 0.75, 1]);
    // 4 -> 2: source x = 0.5, 2.5 (plain interpolation, no area averaging)
    expect([...resizeBilinear(Float32Array.from([0, 1, 2, 3]), [1, 1, 4], 1, 2)]).toEqual([0.5, 2.5]);
  });

  it('nearest label resize picks floor((dst + 0.5) * in / out)', () => {
    expect([...resizeNearest(Uint8Array.from([1, 2, 3, 4]), 1, 4, 1, 2)]).toEqual([2, 4]);
    expect([...resizeNearest(Int32Array.from([7, 9]), 1, 2, 1, 4)]).toEqual([7, 7, 9, 9]);
    expect([...resizeNearest(Int32Array.from([1, 2, 3, 4]), 2, 2, 1, 1)]).toEqual([4]);
  });

  it('Gaussian blur: normalised kernel truncated at 3 sigma (delta -> centre weight), constants unchanged', () => {
    const delta = new Float32Array(9);
    delta[4] = 1;
    const out = gaussianBlur(delta, [1, 1, 9], 1);
    const w0 = 1 / (1 + 2 * Math.exp(-0.5) + 2 * Math.exp(-2) + 2 * Math.exp(-4.5));
    expect(out[4]).toBeCloseTo(w0, 6);
    expect(out[3]).toBeCloseTo(w0 * Math.exp(-0.5), 6);
    expect(out[0]).toBe(0); // 4 pixels away: beyond ceil(3 sigma) = 3
    const flat = new Float32Array(2 * 4 * 5).fill(0.625);
    for (const v of gaussianBlur(flat, [2, 4, 5], 0.7)) expect(v).toBeCloseTo(0.625, 6);
  });
});

describe('segmentation augmentation', () => {
  it('scale 1, no flip, no blur, crop = image size: image and labels pass through unchanged', () => {
    const s = ramp(3, 5, 4);
    const r = augmentSegmentation(s, exact, new Rng(1));
    expect(r.dims).toEqual([3, 5, 4]);
    expect(r.image).toEqual(s.image);
    expect([...r.label]).toEqual([...s.label]);
  });

  it('flip p = 1 mirrors image and labels together', () => {
    const s = ramp(3, 5, 4);
    const r = augmentSegmentation(s, { ...exact, flipP: 1 }, new Rng(1));
    expect(r.draw.flip).toBe(true);
    expect(r.image).toEqual(hflip(s.image, s.dims));
    expect([...r.label]).toEqual([...hflipLabel(s.label as Int32Array, 5, 4)]);
  });

  it('pads bottom/right to the crop: image with 0, labels with 255', () => {
    const s = ramp(2, 5, 4);
    const r = augmentSegmentation(s, { ...exact, crop: 8 }, new Rng(3));
    expect(r.dims).toEqual([2, 8, 8]);
    expect([r.draw.top, r.draw.left]).toEqual([0, 0]);
    for (let c = 0; c < 2; c++)
      for (let y = 0; y < 8; y++)
        for (let x = 0; x < 8; x++) {
          const v = r.image[(c * 8 + y) * 8 + x];
          if (y < 5 && x < 4) expect(v).toBe(s.image[(c * 5 + y) * 4 + x]);
          else expect(v).toBe(0);
        }
    for (let y = 0; y < 8; y++) for (let x = 0; x < 8; x++) expect(r.label[y * 8 + x]).toBe(y < 5 && x < 4 ? s.label[y * 4 + x] : 255);
  });

  it('scales the short side to round(base * r), the long side proportionally', () => {
    const s = ramp(1, 30, 40);
    const r = augmentSegmentation(s, { crop: 16, baseSize: 20, scaleRange: [1.5, 1.5] }, new Rng(5));
    expect([r.draw.height, r.draw.width]).toEqual([30, 40]);
    const t = augmentSegmentation(ramp(1, 40, 30), { crop: 16, baseSize: 20, scaleRange: [0.5, 0.5] }, new Rng(5));
    expect([t.draw.height, t.draw.width]).toEqual([13, 10]); // short 10; long round(40 * 10 / 30) = 13
    expect(t.dims).toEqual([1, 16, 16]);
  });

  it('labels stay aligned with the image under random scale, crop, flip and padding (image encodes the label)', () => {
    const s = blocks(32, 40, 4, 5);
    const flips = new Set<boolean>();
    const scales: number[] = [];
    let checked = 0;
    let misaligned = 0;
    let padded = 0;
    let badPad = 0;
    for (let seed = 0; seed < 40; seed++) {
      const r = augmentSegmentation(s, { crop: 36, blurP: 0 }, Rng.derive(seed, 'align'));
      flips.add(r.draw.flip);
      scales.push(r.draw.scale);
      const [, h, w] = r.dims;
      for (let y = 0; y < h; y++)
        for (let x = 0; x < w; x++) {
          const l = r.label[y * w + x];
          if (l === 255) {
            if (r.image[y * w + x] !== 0 || r.image[h * w + y * w + x] !== 0) badPad++;
            padded++;
            continue;
          }
          // Away from block borders (a 5x5 neighbourhood of one label) bilinear and nearest see the same block.
          let uniform = true;
          for (let dy = -2; dy <= 2 && uniform; dy++)
            for (let dx = -2; dx <= 2; dx++) {
              const yy = y + dy;
              const xx = x + dx;
              // Outside the crop the scaled image continues unseen: not checkable.
              if (yy < 0 || xx < 0 || yy >= h || xx >= w || r.label[yy * w + xx] !== l) uniform = false;
            }
          if (!uniform) continue;
          checked++;
          if (Math.abs(r.image[y * w + x] - l / 100) > 1e-6 || Math.abs(r.image[h * w + y * w + x] - (1 - l / 100)) > 1e-6) misaligned++;
        }
    }
    expect(flips).toEqual(new Set([true, false]));
    expect(Math.min(...scales)).toBeGreaterThanOrEqual(0.5);
    expect(Math.max(...scales)).toBeLessThanOrEqual(2);
    expect(Math.max(...scales) - Math.min(...scales)).toBeGreaterThan(0.8);
    expect(misaligned).toBe(0);
    expect(checked).toBeGreaterThan(3000);
    expect(badPad).toBe(0);
    expect(padded).toBeGreaterThan(1000);
  });

  it('blur never touches labels and does not change the other draws; it changes the image', () => {
    const s = blocks(24, 24, 3, 3);
    for (let seed = 0; seed < 5; seed++) {
      const on = augmentSegmentation(s, { crop: 20, blurP: 1 }, new Rng(seed));
      const off = augmentSegmentation(s, { crop: 20, blurP: 0 }, new Rng(seed));
      expect(on.label).toEqual(off.label);
      expect({ ...on.draw, blurSigma: 0 }).toEqual(off.draw);
      expect(on.draw.blurSigma).toBeGreaterThan(0);
      expect(on.draw.blurSigma).toBeLessThan(1);
      expect(on.image).not.toEqual(off.image);
    }
  });

  it('blur of the crop equals cropping the blurred scaled image (crop borders see their real neighbours)', () => {
    const s = ramp(2, 16, 18);
    for (let seed = 0; seed < 6; seed++) {
      const r = augmentSegmentation(s, { crop: 9, scaleRange: [1, 1], flipP: 0, blurP: 1, blurSigma: [0.5, 1] }, new Rng(seed));
      const full = gaussianBlur(s.image, s.dims, r.draw.blurSigma);
      for (let c = 0; c < 2; c++)
        for (let y = 0; y < 9; y++)
          for (let x = 0; x < 9; x++) expect(r.image[(c * 9 + y) * 9 + x]).toBeCloseTo(full[(c * 16 + r.draw.top + y) * 18 + r.draw.left + x], 6);
    }
  });

  it('a batch is NCHW / NHW Int32; same seed same batch, another seed another; image i uses Rng.derive(seed, "augment", i)', () => {
    const samples = [blocks(20, 30, 4, 4), ramp(2, 25, 21), blocks(16, 16, 2, 8)];
    const opts: AugmentOptions = { crop: 18, baseSize: 20 };
    const a = augmentSegmentationBatch(samples, opts, 42);
    const b = augmentSegmentationBatch(samples, opts, 42);
    const c = augmentSegmentationBatch(samples, opts, 43);
    expect(a.images.dims).toEqual([3, 2, 18, 18]);
    expect(a.labels.dims).toEqual([3, 18, 18]);
    expect(a.labels.data).toBeInstanceOf(Int32Array);
    expect(a.images.data).toEqual(b.images.data);
    expect(a.labels.data).toEqual(b.labels.data);
    expect(a.images.data).not.toEqual(c.images.data);
    const one = augmentSegmentation(samples[1], opts, Rng.derive(42, 'augment', 1));
    expect(a.images.data.subarray(2 * 18 * 18, 4 * 18 * 18)).toEqual(one.image);
  });

  it('rejects inconsistent inputs with an AugmentError', () => {
    const s = ramp(2, 5, 4);
    expect(() => augmentSegmentation({ ...s, dims: [2, 5, 5] }, exact, new Rng(0))).toThrow(/dims \[2, 5, 5\] need 50/);
    expect(() => augmentSegmentation({ ...s, label: new Uint8Array(3) }, exact, new Rng(0))).toThrow(/label has 3 values/);
    expect(() => augmentSegmentation(s, { ...exact, flipP: 2 }, new Rng(0))).toThrow(AugmentError);
    expect(() => augmentSegmentationBatch([s, ramp(3, 5, 4)], exact, 0)).toThrow(/image 1 has 3 channels/);
  });
});

describe('classification augmentation', () => {
  it('same transform without labels: identity config passes through, flip mirrors, seeded batches', () => {
    const s = ramp(3, 5, 4);
    expect(augmentClassification(s, exact, new Rng(0)).image).toEqual(s.image);
    expect(augmentClassification(s, { ...exact, flipP: 1 }, new Rng(0)).image).toEqual(hflip(s.image, s.dims));
    const samples = [ramp(3, 12, 14), ramp(3, 10, 10)];
    const a = augmentClassificationBatch(samples, { crop: 8 }, 7);
    expect(a.images.dims).toEqual([2, 3, 8, 8]);
    expect(augmentClassificationBatch(samples, { crop: 8 }, 7).images.data).toEqual(a.images.data);
    expect(augmentClassificationBatch(samples, { crop: 8 }, 8).images.data).not.toEqual(a.images.data);
    // Same draws as the segmentation pipeline: the image matches the segmentation variant's.
    const seg = augmentSegmentation({ ...samples[0], label: new Uint8Array(12 * 14) }, { crop: 8 }, Rng.derive(7, 'augment', 0));
    expect(a.images.data.subarray(0, 3 * 64)).toEqual(seg.image);
  });
});
