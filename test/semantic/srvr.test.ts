// SRVR (src/semantic/srvr.ts): spec "Metric" — mean over regions of Vol(region clipped to the domain) /
// Vol(domain). Expected ratios are hand-computed on the reference domain (360 x 100 = 36000 deg^2).
import { describe, expect, it } from 'vitest';
import { REFERENCE_DOMAIN, RegionError } from '../../src/semantic/regions.js';
import { aggregateSrvr, srvr, volumeRatio } from '../../src/semantic/srvr.js';

describe('volumeRatio', () => {
  it('a box inside the domain: 36 x 10 = 360 of 36000 deg^2 = 0.01', () => {
    expect(volumeRatio({ a: [0, 0], b: [36, 10] }, REFERENCE_DOMAIN)).toBeCloseTo(0.01, 15);
  });
  it('a box partly outside is clipped: [350,370] x [80,100] keeps 10 x 10 = 100 deg^2 -> 1/360', () => {
    expect(volumeRatio({ a: [350, 80], b: [370, 100] }, REFERENCE_DOMAIN)).toBeCloseTo(1 / 360, 15);
  });
  it('a box covering the domain and more counts as 1; one wholly outside or inverted as 0', () => {
    expect(volumeRatio({ a: [-50, -50], b: [500, 500] }, REFERENCE_DOMAIN)).toBe(1);
    expect(volumeRatio({ a: [400, 0], b: [420, 10] }, REFERENCE_DOMAIN)).toBe(0);
    expect(volumeRatio({ a: [20, 10], b: [10, 20] }, REFERENCE_DOMAIN)).toBe(0);
  });
  it('works in any dimension: [0.5,1] x [0,1] x [0.25,0.75] of the unit cube = 0.25', () => {
    expect(
      volumeRatio({ a: [0.5, 0, 0.25], b: [1, 1, 0.75] }, [
        [0, 1],
        [0, 1],
        [0, 1],
      ]),
    ).toBeCloseTo(0.25, 15);
  });
});

describe('srvr', () => {
  it('is the mean of the clipped ratios: (0.01 + 1/360 + 0) / 3', () => {
    const regions = [
      { a: [0, 0], b: [36, 10] },
      { a: [350, 80], b: [370, 100] },
      { a: [400, 0], b: [420, 10] },
    ];
    expect(srvr(regions, REFERENCE_DOMAIN)).toBeCloseTo((0.01 + 1 / 360) / 3, 15);
  });
  it('accepts Float64Array bounds (findRegion results)', () => {
    expect(srvr([{ a: Float64Array.of(100, 0), b: Float64Array.of(160, 60) }], REFERENCE_DOMAIN)).toBeCloseTo(3600 / 36000, 15);
  });
  it('bad inputs: no regions, wrong dimensions, NaN bounds, bad domain', () => {
    expect(() => srvr([], REFERENCE_DOMAIN)).toThrow(/srvr: no regions/);
    expect(() => srvr([{ a: [0], b: [1] }], REFERENCE_DOMAIN)).toThrow(/regions\[0\]: region has 1\/1 dimensions, domain has 2/);
    expect(() => srvr([{ a: [0, Number.NaN], b: [1, 1] }], REFERENCE_DOMAIN)).toThrow(/region bound 1 is NaN/);
    expect(() => srvr([{ a: [0], b: [1] }], [[1, 1]])).toThrow(RegionError);
  });
});

describe('aggregateSrvr over start points x meshes x classes', () => {
  const box = (ratio: number) => ({ a: [0, -10], b: [360 * ratio, 90] }); // volume ratio = ratio
  const records = [
    { region: box(0.1), labels: { method: 'naive', class: 'chair', mesh: 'm1', start: '0' } },
    { region: box(0.3), labels: { method: 'naive', class: 'chair', mesh: 'm2', start: '0' } },
    { region: box(0.2), labels: { method: 'naive', class: 'cup', mesh: 'm3', start: '1' } },
    { region: box(0.5), labels: { method: 'oir_b', class: 'chair', mesh: 'm1', start: '0' } },
  ];
  it('no grouping: flat mean over every record', () => {
    const [all] = aggregateSrvr(records, REFERENCE_DOMAIN);
    expect(all.count).toBe(4);
    expect(all.srvr).toBeCloseTo((0.1 + 0.3 + 0.2 + 0.5) / 4, 12);
  });
  it('grouped by method, and by method x class (flat mean within each group, first-appearance order)', () => {
    const byMethod = aggregateSrvr(records, REFERENCE_DOMAIN, ['method']);
    expect(byMethod.map((g) => [g.key.method, g.count])).toEqual([
      ['naive', 3],
      ['oir_b', 1],
    ]);
    expect(byMethod[0].srvr).toBeCloseTo(0.2, 12);
    expect(byMethod[1].srvr).toBeCloseTo(0.5, 12);
    const byClass = aggregateSrvr(records, REFERENCE_DOMAIN, ['method', 'class']);
    expect(byClass.map((g) => g.key)).toEqual([
      { method: 'naive', class: 'chair' },
      { method: 'naive', class: 'cup' },
      { method: 'oir_b', class: 'chair' },
    ]);
    expect(byClass[0].srvr).toBeCloseTo(0.2, 12);
  });
  it('a missing label or no records is an error naming it', () => {
    expect(() => aggregateSrvr(records, REFERENCE_DOMAIN, ['shape'])).toThrow(/records\[0\] has no label 'shape'/);
    expect(() => aggregateSrvr([], REFERENCE_DOMAIN)).toThrow(/no records/);
  });
});
