import { describe, expect, it } from 'vitest';
import { constantSchedule, polySchedule, ScheduleError } from '../../src/train/lr-schedule.js';

describe('poly schedule with mmcv linear warm-up (PolyLrUpdaterHook, by_epoch=False)', () => {
  // base 0.01, T = 100, W = 10, warm-up ratio 0.1, power 1
  const s = polySchedule({ baseLr: 0.01, totalIters: 100, warmupIters: 10, warmupRatio: 0.1 });

  it('warm-up starts at ratio * base (t = 0)', () => {
    expect(s.at(0)).toBeCloseTo(0.001, 15);
  });

  it('mid warm-up: regular(t) * (1 - (1 - t/W)(1 - ratio)), the factor multiplies the poly lr', () => {
    // regular(5) = 0.01 * 0.95; factor = 1 - 0.5 * 0.9 = 0.55
    expect(s.at(5)).toBeCloseTo(0.0095 * 0.55, 15);
    expect(s.at(9)).toBeCloseTo(0.0091 * (1 - 0.1 * 0.9), 15);
  });

  it('warm-up end (t = W) is the plain poly value base * (1 - W/T)', () => {
    expect(s.at(10)).toBeCloseTo(0.009, 15);
  });

  it('poly decay mid-run and 0 at and after T (clamped)', () => {
    expect(s.at(55)).toBeCloseTo(0.0045, 15);
    expect(s.at(99)).toBeCloseTo(0.0001, 15);
    expect(s.at(100)).toBe(0);
    expect(s.at(1000)).toBe(0);
  });

  it('power 0.9 and min lr: (base - min) * (1 - t/T)^0.9 + min', () => {
    const p = polySchedule({ baseLr: 0.01, totalIters: 100, power: 0.9, minLr: 1e-4 });
    expect(p.at(0)).toBe(0.01);
    expect(p.at(50)).toBeCloseTo(0.0099 * 0.5 ** 0.9 + 1e-4, 15);
    expect(p.at(50)).toBeCloseTo(0.0054052786, 9); // 0.0099 * 0.5358867 + 0.0001
    expect(p.at(100)).toBeCloseTo(1e-4, 15);
  });

  it("warmupOf 'base': lr = base * (1 - (1 - t/W)(1 - ratio)) during warm-up", () => {
    const b = polySchedule({ baseLr: 0.01, totalIters: 100, warmupIters: 10, warmupRatio: 0.1, warmupOf: 'base' });
    expect(b.at(0)).toBeCloseTo(0.001, 15);
    expect(b.at(5)).toBeCloseTo(0.0055, 15);
    expect(b.at(10)).toBeCloseTo(0.009, 15);
  });

  it("'constant' warm-up: ratio * regular(t) until W", () => {
    const c = polySchedule({ baseLr: 0.01, totalIters: 100, warmupIters: 10, warmupRatio: 0.1, warmup: 'constant' });
    expect(c.at(3)).toBeCloseTo(0.1 * 0.0097, 15);
    expect(c.at(10)).toBeCloseTo(0.009, 15);
  });

  it('without warm-up t = 0 is the base lr; mmseg default ratio is 1e-6', () => {
    expect(polySchedule({ baseLr: 0.02, totalIters: 10 }).at(0)).toBe(0.02);
    expect(polySchedule({ baseLr: 0.02, totalIters: 10, warmupIters: 5 }).at(0) / 2e-8).toBeCloseTo(1, 9);
  });

  it('rejects bad settings and iterations with a ScheduleError', () => {
    expect(() => polySchedule({ baseLr: 0.01, totalIters: 0 })).toThrow(/totalIters/);
    expect(() => polySchedule({ baseLr: 0.01, totalIters: 10, warmupIters: 11 })).toThrow(/warmupIters/);
    expect(() => polySchedule({ baseLr: 0.01, totalIters: 10, minLr: 0.02 })).toThrow(ScheduleError);
    expect(() => s.at(-1)).toThrow(/iteration/);
    expect(() => s.at(1.5)).toThrow(ScheduleError);
    expect(constantSchedule(0.3, 5).at(4)).toBe(0.3);
  });
});
