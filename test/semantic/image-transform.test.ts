// Image-space transforms (src/semantic/image-transform.ts) against hand-computed small images: quarter
// turns are index permutations (numpy's rot90 convention for counter-clockwise), translations shift,
// scale samples bilinearly about the centre with zero fill, brightness and contrast follow their
// formulas with clamping, Gaussian blur keeps constants and mass, the documented order (geometry, blur,
// brightness, contrast) is the one applied, and label maps follow the geometry with nearest-neighbour
// sampling and the ignore index outside.
import { describe, expect, it } from 'vitest';
import { TransformError, transformImage, transformLabels } from '../../src/semantic/image-transform.js';

const S4 = { channels: 1, height: 4, width: 4 };
// 16 distinct values in [0,1]: pixel (r, c) = (4r + c) / 16.
const img4 = Float32Array.from({ length: 16 }, (_, i) => i / 16);
const at = (a: ArrayLike<number>, W: number, r: number, c: number) => a[r * W + c];
const close = (a: ArrayLike<number>, b: ArrayLike<number>, digits = 6) => {
  expect(a.length).toBe(b.length);
  for (let i = 0; i < a.length; i++) expect(a[i]).toBeCloseTo(b[i], digits);
};
/** A 1 x 1 x W row image. */
const row = (v: number[]) => ({ data: Float32Array.from(v), shape: { channels: 1, height: 1, width: v.length } });

describe('geometry: rotation about the centre (positive = counter-clockwise on screen)', () => {
  it('rotation 90 of a 4x4 image is the permutation out[r][c] = in[c][3-r] (numpy rot90)', () => {
    const out = transformImage(img4, S4, { rotation: 90 });
    for (let r = 0; r < 4; r++) for (let c = 0; c < 4; c++) expect(at(out, 4, r, c)).toBe(at(img4, 4, c, 3 - r));
  });
  it('rotation 180 is out[r][c] = in[3-r][3-c]; rotation -90 and 270 are out[r][c] = in[3-c][r]', () => {
    const o180 = transformImage(img4, S4, { rotation: 180 });
    const oM90 = transformImage(img4, S4, { rotation: -90 });
    const o270 = transformImage(img4, S4, { rotation: 270 });
    for (let r = 0; r < 4; r++)
      for (let c = 0; c < 4; c++) {
        expect(at(o180, 4, r, c)).toBe(at(img4, 4, 3 - r, 3 - c));
        expect(at(oM90, 4, r, c)).toBe(at(img4, 4, 3 - c, r));
        expect(at(o270, 4, r, c)).toBe(at(img4, 4, 3 - c, r));
      }
  });
  it('rotation 90 permutes every channel of a 3-channel image the same way, on an odd-sized (3x3) image too', () => {
    const src = Float32Array.from({ length: 27 }, (_, i) => i / 27);
    const out = transformImage(src, { channels: 3, height: 3, width: 3 }, { rotation: 90 });
    for (let ch = 0; ch < 3; ch++) for (let r = 0; r < 3; r++) for (let c = 0; c < 3; c++) expect(out[ch * 9 + r * 3 + c]).toBe(src[ch * 9 + c * 3 + (2 - r)]);
  });
  it('rotation 30 of a linear ramp f(x,y) = 0.5 + 0.03x + 0.02y equals f at the inversely rotated point (interior pixels)', () => {
    const N = 9;
    const f = (x: number, y: number) => 0.5 + 0.03 * x + 0.02 * y;
    const src = Float32Array.from({ length: N * N }, (_, i) => f(i % N, Math.floor(i / N)));
    const out = transformImage(src, { channels: 1, height: N, width: N }, { rotation: 30 });
    const t = Math.PI / 6;
    for (let y = 2; y <= 6; y++)
      for (let x = 2; x <= 6; x++) {
        // Counter-clockwise on screen (y down): the source of (x', y') is centre + R(-θ)-in-screen of the offset.
        const dx = x - 4;
        const dy = y - 4;
        const sx = 4 + Math.cos(t) * dx - Math.sin(t) * dy;
        const sy = 4 + Math.sin(t) * dx + Math.cos(t) * dy;
        expect(at(out, N, y, x)).toBeCloseTo(f(sx, sy), 5);
      }
  });
  it('rotation 0, scale 1, translation 0 are the identity (bit for bit)', () => {
    expect(Array.from(transformImage(img4, S4, { rotation: 0, scale: 1, tx: 0, ty: 0 }))).toEqual(Array.from(img4));
    expect(Array.from(transformImage(img4, S4, {}))).toEqual(Array.from(img4));
    expect(Array.from(transformImage(img4, S4, { rotation: 360 }))).toEqual(Array.from(img4));
  });
});

describe('geometry: translation and scale (bilinear, zero fill)', () => {
  it('tx = 1 shifts right by one pixel and fills column 0 with 0; ty = 1 shifts down', () => {
    const ox = transformImage(img4, S4, { tx: 1 });
    const oy = transformImage(img4, S4, { ty: 1 });
    for (let r = 0; r < 4; r++)
      for (let c = 0; c < 4; c++) {
        expect(at(ox, 4, r, c)).toBe(c === 0 ? 0 : at(img4, 4, r, c - 1));
        expect(at(oy, 4, r, c)).toBe(r === 0 ? 0 : at(img4, 4, r - 1, c));
      }
  });
  it('tx = -2, ty = 1 moves left 2 and down 1', () => {
    const o = transformImage(img4, S4, { tx: -2, ty: 1 });
    for (let r = 0; r < 4; r++) for (let c = 0; c < 4; c++) expect(at(o, 4, r, c)).toBe(r >= 1 && c + 2 < 4 ? at(img4, 4, r - 1, c + 2) : 0);
  });
  it('tx = 0.5 averages each pixel with its left neighbour (outside = 0)', () => {
    const { data, shape } = row([0.2, 0.4, 0.6, 0.8]);
    close(transformImage(data, shape, { tx: 0.5 }), [0.1, 0.3, 0.5, 0.7]);
  });
  it('scale 2 of the row [0, .2, .4, .6] about its centre 1.5 samples at x/2 + 0.75: [.15, .25, .35, .45]', () => {
    const { data, shape } = row([0, 0.2, 0.4, 0.6]);
    close(transformImage(data, shape, { scale: 2 }), [0.15, 0.25, 0.35, 0.45]);
  });
  it('scale 0.5 samples at 2x - 1.5 with zero fill: [0, .1, .5, 0]', () => {
    const { data, shape } = row([0, 0.2, 0.4, 0.6]);
    close(transformImage(data, shape, { scale: 0.5 }), [0, 0.1, 0.5, 0]);
  });
});

describe('photometric: brightness, contrast, clamping', () => {
  it('brightness multiplies and clamps to 1', () => {
    const { data, shape } = row([0.2, 0.4, 0.6, 0.8]);
    close(transformImage(data, shape, { brightness: 0.5 }), [0.1, 0.2, 0.3, 0.4]);
    close(transformImage(data, shape, { brightness: 2 }), [0.4, 0.8, 1, 1]);
    close(transformImage(data, shape, { brightness: 0 }), [0, 0, 0, 0]);
  });
  it('contrast c: (x - mean) c + mean with the mean over the whole image, clamped to [0,1]', () => {
    const { data, shape } = row([0, 0.2, 0.4, 0.6]); // mean 0.3
    close(transformImage(data, shape, { contrast: 2 }), [0, 0.1, 0.5, 0.9]);
    close(transformImage(data, shape, { contrast: 0 }), [0.3, 0.3, 0.3, 0.3]);
    close(transformImage(data, shape, { contrast: 0.5 }), [0.15, 0.25, 0.35, 0.45]);
  });
  it('the mean is over all channels together', () => {
    // Channel 0 all 0.2, channel 1 all 0.6: mean 0.4; contrast 2 gives 0 and 0.8.
    const src = Float32Array.from([0.2, 0.2, 0.6, 0.6]);
    close(transformImage(src, { channels: 2, height: 1, width: 2 }, { contrast: 2 }), [0, 0, 0.8, 0.8]);
  });
  it('brightness 1 and contrast 1 are the identity (bit for bit)', () => {
    expect(Array.from(transformImage(img4, S4, { brightness: 1, contrast: 1, blur: 0 }))).toEqual(Array.from(img4));
  });
});

describe('blur: separable Gaussian, clamp-to-edge', () => {
  it('keeps a constant image constant (edges included)', () => {
    const src = new Float32Array(3 * 7 * 5).fill(0.37);
    const out = transformImage(src, { channels: 3, height: 7, width: 5 }, { blur: 1.7 });
    for (const v of out) expect(v).toBeCloseTo(0.37, 6);
  });
  it('an impulse far from the edges keeps its mass and its centre value is k0^2 with k0 = 1 / sum_{|i|<=3} exp(-i^2/2) (sigma 1)', () => {
    const N = 15;
    const src = new Float32Array(N * N);
    src[7 * N + 7] = 1;
    const out = transformImage(src, { channels: 1, height: N, width: N }, { blur: 1 });
    const sum = out.reduce((a, b) => a + b, 0);
    expect(sum).toBeCloseTo(1, 5);
    const k0 = 1 / (1 + 2 * (Math.exp(-0.5) + Math.exp(-2) + Math.exp(-4.5)));
    expect(at(out, N, 7, 7)).toBeCloseTo(k0 * k0, 6);
    // Separable: value at offset (1, 2) is k1 k2.
    expect(at(out, N, 8, 9)).toBeCloseTo(k0 * Math.exp(-0.5) * k0 * Math.exp(-2), 6);
    // Radius ceil(3 sigma) = 3: nothing beyond.
    expect(at(out, N, 7, 11)).toBe(0);
    expect(at(out, N, 7, 10)).toBeGreaterThan(0);
  });
  it('at the edge the outside repeats the border pixel: [1,0,0] with sigma 0.3 gives (w + 1) / (1 + 2w) at pixel 0, w = exp(-1/0.18)', () => {
    const { data, shape } = row([1, 0, 0]);
    const w = Math.exp(-1 / (2 * 0.09));
    close(transformImage(data, shape, { blur: 0.3 }), [(1 + w) / (1 + 2 * w), w / (1 + 2 * w), 0]);
  });
});

describe('order: geometry, blur, brightness, contrast', () => {
  it('translation happens before contrast (the zero fill lowers the mean): [.2,.4,.6,.8], tx 1, contrast 2 -> [0, .1, .5, .9]', () => {
    const { data, shape } = row([0.2, 0.4, 0.6, 0.8]);
    // Contrast first would give [0, 0, .3, .7].
    close(transformImage(data, shape, { tx: 1, contrast: 2 }), [0, 0.1, 0.5, 0.9]);
  });
  it('brightness happens before contrast: [0,.2,.4,.6], brightness .5, contrast 2 -> [0, .05, .25, .45]', () => {
    const { data, shape } = row([0, 0.2, 0.4, 0.6]);
    // Contrast first: [0, .1, .5, .9] * .5 = [0, .05, .25, .45] too, so use brightness 2 to separate them.
    close(transformImage(data, shape, { brightness: 0.5, contrast: 2 }), [0, 0.05, 0.25, 0.45]);
    // brightness 2 first: [0,.4,.8,1] (clamped), mean .55, contrast 2: [0, .25, 1, 1]. Contrast first: [0,.2,1,1].
    close(transformImage(data, shape, { brightness: 2, contrast: 2 }), [0, 0.25, 1, 1]);
  });
  it('blur happens before brightness clamps: [.8,.8,0] blur then x2 differs from x2 (clamped) then blur', () => {
    const { data, shape } = row([0.8, 0.8, 0]);
    const w = Math.exp(-1 / (2 * 0.25)); // sigma 0.5, radius 2: taps exp(-k^2/0.5)
    const w2 = Math.exp(-4 / (2 * 0.25));
    const z = 1 + 2 * w + 2 * w2;
    // Pixel 2 after blur (clamp-to-edge: x[3] = x[4] = 0): (w2*0.8 + w*0.8 + 1*0 + w*0 + w2*0) / z.
    const p2 = (0.8 * (w + w2)) / z;
    const out = transformImage(data, shape, { blur: 0.5, brightness: 2 });
    expect(out[2]).toBeCloseTo(Math.min(1, 2 * p2), 6);
    expect(out[0]).toBeCloseTo(1, 6); // 2 * ~0.79, clamped
  });
});

describe('label maps follow the geometry (nearest neighbour, outside = ignore)', () => {
  const lab = Int32Array.from({ length: 16 }, (_, i) => i);
  it('rotation 90 is the same permutation as for images', () => {
    const out = transformLabels(lab, 4, 4, { rotation: 90 });
    for (let r = 0; r < 4; r++) for (let c = 0; c < 4; c++) expect(at(out, 4, r, c)).toBe(at(lab, 4, c, 3 - r));
  });
  it('tx = 1 shifts and puts the ignore index in column 0; a custom ignore index is used', () => {
    const out = transformLabels(lab, 4, 4, { tx: 1 }, 99);
    for (let r = 0; r < 4; r++) for (let c = 0; c < 4; c++) expect(at(out, 4, r, c)).toBe(c === 0 ? 99 : at(lab, 4, r, c - 1));
  });
  it('nearest neighbour: tx = 0.4 keeps every label, tx = 0.6 shifts by one', () => {
    expect(Array.from(transformLabels(lab, 4, 4, { tx: 0.4 }))).toEqual(Array.from(lab));
    const out = transformLabels(lab, 4, 4, { tx: 0.6 });
    for (let r = 0; r < 4; r++) for (let c = 0; c < 4; c++) expect(at(out, 4, r, c)).toBe(c === 0 ? 255 : at(lab, 4, r, c - 1));
  });
  it('photometric parameters leave labels alone', () => {
    expect(Array.from(transformLabels(lab, 4, 4, { brightness: 0.2, contrast: 3, blur: 2 }))).toEqual(Array.from(lab));
  });
});

describe('bad input', () => {
  it('names the parameter and the rule', () => {
    expect(() => transformImage(img4, S4, { scale: 0 })).toThrow(/scale must be > 0/);
    expect(() => transformImage(img4, S4, { blur: -1 })).toThrow(/blur must be >= 0/);
    expect(() => transformImage(img4, S4, { brightness: -0.1 })).toThrow(/brightness must be >= 0/);
    expect(() => transformImage(img4, S4, { rotation: Number.NaN })).toThrow(/rotation must be a finite number/);
    expect(() => transformImage(img4, { channels: 3, height: 4, width: 4 }, {})).toThrow(TransformError);
    expect(() => transformImage(img4, S4, {}, new Float32Array(20), 8)).toThrow(/offset 8/);
  });
  it('writes at an offset of a batch buffer without touching the rest', () => {
    const out = new Float32Array(40).fill(-1);
    transformImage(img4, S4, { rotation: 180 }, out, 16);
    expect(out[15]).toBe(-1);
    expect(out[32]).toBe(-1);
    expect(out[16]).toBe(img4[15]);
  });
});
