// renderData: the training split of the bundled mesh classifiers (semantic demo models). Pins: determinism
// per (seed, index), labels cycling through the classes, viewpoints drawn over the spec's map domain
// (azimuth [0,360), elevation [-10,90)), the jitter bounds, and that jitter 0 renders exactly the
// reference camera and light the semantic maps use.
import { describe, expect, it } from 'vitest';
import { loadMesh, MESH_CLASSES } from '../../src/semantic/mesh.js';
import { CAMERA_DISTANCE, renderImage } from '../../src/semantic/render.js';
import { RenderDataError, renderData } from '../../src/semantic/render-data.js';

describe('renderData', () => {
  it('is deterministic per (seed, index): two instances give bit-identical images; another seed another view', async () => {
    const a = renderData({ count: 20, size: 16, seed: 5 });
    const b = renderData({ count: 20, size: 16, seed: 5 });
    const c = renderData({ count: 20, size: 16, seed: 6 });
    for (const i of [0, 7, 19]) {
      const [x, y, z] = [await a.get(i), await b.get(i), await c.get(i)];
      expect(Array.from(y.image)).toEqual(Array.from(x.image));
      expect(y.label).toBe(x.label);
      expect(z.label).toBe(x.label);
      expect(c.viewOf(i).azimuth).not.toBe(a.viewOf(i).azimuth);
    }
    // Random access: reading out of order gives the same sample.
    const late = await a.get(3);
    const fresh = await renderData({ count: 20, size: 16, seed: 5 }).get(3);
    expect(Array.from(late.image)).toEqual(Array.from(fresh.image));
  });

  it('labels cycle through the classes (index mod K) and name the bundled mesh classes by default', async () => {
    const d = renderData({ count: 25, size: 8 });
    expect(d.task).toBe('classification');
    expect(d.classes).toEqual([...MESH_CLASSES]);
    const K = MESH_CLASSES.length;
    for (let i = 0; i < 25; i++) expect(d.labelOf(i)).toBe(i % K);
    expect((await d.get(13)).label).toBe(13 % K);
    const two = renderData({ count: 4, size: 8, classes: ['cube', 'torus'] });
    expect([0, 1, 2, 3].map((i) => two.labelOf(i))).toEqual([0, 1, 0, 1]);
  });

  it('images are 3 x size x size in [0,1] with an object on a black background', async () => {
    const d = renderData({ count: 10, size: 32, seed: 1 });
    for (let i = 0; i < 10; i++) {
      const s = await d.get(i);
      expect([s.width, s.height]).toEqual([32, 32]);
      expect(s.image.length).toBe(3 * 32 * 32);
      let lit = 0;
      for (const v of s.image) {
        expect(v).toBeGreaterThanOrEqual(0);
        expect(v).toBeLessThanOrEqual(1);
        if (v > 0) lit++;
      }
      // A normalised mesh at the reference distance covers a few % to most of the view, never nothing or everything.
      expect(lit / s.image.length).toBeGreaterThan(0.01);
      expect(lit / s.image.length).toBeLessThan(0.95);
      // The unlit ambient term is 0.5: every drawn pixel whose 2x2 samples are all covered is >= 0.5.
      expect(Math.max(...s.image)).toBeGreaterThanOrEqual(0.5);
    }
  });

  it('draws viewpoints uniformly over azimuth [0,360) x elevation [-10,90) with bounded distance and light jitter', () => {
    const n = 4000;
    const d = renderData({ count: n, seed: 2, distanceJitter: 0.1, lightJitter: 20 });
    let sumAz = 0;
    let sumEl = 0;
    for (let i = 0; i < n; i++) {
      const v = d.viewOf(i);
      expect(v.azimuth).toBeGreaterThanOrEqual(0);
      expect(v.azimuth).toBeLessThan(360);
      expect(v.elevation).toBeGreaterThanOrEqual(-10);
      expect(v.elevation).toBeLessThan(90);
      expect(v.distance).toBeGreaterThanOrEqual(CAMERA_DISTANCE * 0.9);
      expect(v.distance).toBeLessThanOrEqual(CAMERA_DISTANCE * 1.1);
      const [lx, ly, lz] = v.light ?? [0, 0, 0];
      expect(Math.hypot(lx, ly, lz)).toBeCloseTo(1, 12);
      // Angle from straight up at most 20 degrees.
      expect(ly).toBeGreaterThanOrEqual(Math.cos((20 * Math.PI) / 180) - 1e-12);
      sumAz += v.azimuth;
      sumEl += v.elevation;
    }
    // Uniform means 180 and 40; standard errors 104/sqrt(n) ~ 1.6 and 29/sqrt(n) ~ 0.46 (5 sigma margins).
    expect(Math.abs(sumAz / n - 180)).toBeLessThan(8);
    expect(Math.abs(sumEl / n - 40)).toBeLessThan(2.5);
  });

  it('restricts viewpoints to given azimuth/elevation ranges (the bundled models train on elevation [-10,30))', () => {
    const d = renderData({ count: 2000, seed: 3, azimuth: [90, 180], elevation: [-10, 30] });
    let maxEl = -Infinity;
    for (let i = 0; i < 2000; i++) {
      const v = d.viewOf(i);
      expect(v.azimuth).toBeGreaterThanOrEqual(90);
      expect(v.azimuth).toBeLessThan(180);
      expect(v.elevation).toBeGreaterThanOrEqual(-10);
      expect(v.elevation).toBeLessThan(30);
      maxEl = Math.max(maxEl, v.elevation);
    }
    // The range is used up to its end (2000 uniform draws leave a gap < 0.2 deg with overwhelming probability).
    expect(maxEl).toBeGreaterThan(29.8);
    expect(() => renderData({ count: 1, elevation: [-10, 95] })).toThrow(/elevation range must be/);
    expect(() => renderData({ count: 1, azimuth: [10, 0] })).toThrow(/azimuth range must be/);
  });

  it('with no jitter renders exactly the reference camera distance and light (what the semantic maps see)', async () => {
    const d = renderData({ count: 3, size: 24, seed: 4, distanceJitter: 0, lightJitter: 0, classes: ['teapot', 'car', 'chair'] });
    for (let i = 0; i < 3; i++) {
      const v = d.viewOf(i);
      expect(v.distance).toBe(CAMERA_DISTANCE);
      const ref = renderImage(loadMesh(d.classes[i]), { azimuth: v.azimuth, elevation: v.elevation }, 24);
      const s = await d.get(i);
      let maxDiff = 0;
      for (let k = 0; k < ref.length; k++) maxDiff = Math.max(maxDiff, Math.abs(ref[k] - s.image[k]));
      // The light is (cos 90 sin az, sin 90, ...) ~ (0,1,0) up to float rounding of cos(90 deg).
      expect(maxDiff).toBeLessThan(1e-6);
    }
  });

  it('rejects bad options and indices with a RenderDataError naming them', async () => {
    expect(() => renderData({ count: 0 })).toThrow(/count must be a positive integer/);
    expect(() => renderData({ count: 2, classes: ['cube', 'cube'] })).toThrow(/named twice/);
    expect(() => renderData({ count: 2, size: 4 })).toThrow(/size must be an integer >= 8/);
    expect(() => renderData({ count: 2, distanceJitter: 0.7 })).toThrow(RenderDataError);
    const d = renderData({ count: 2, size: 8 });
    expect(() => d.viewOf(2)).toThrow(/index 2 is outside 0\.\.1/);
    await expect(d.get(-1)).rejects.toThrow(RenderDataError);
    await expect(renderData({ count: 1, classes: ['no-such-mesh'] }).get(0)).rejects.toThrow(/unknown mesh 'no-such-mesh'/);
  });
});
