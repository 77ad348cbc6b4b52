// Grid specs (src/semantic/grid.ts): start:stop:step with stop exclusive, the spec's default 2D and 1D
// maps, robust counts for non-integer steps, row-major point order, errors naming the bad part, and
// domain checks against a space's parameters.
import { describe, expect, it } from 'vitest';
import { checkGrid, DEFAULT_GRID_1D, DEFAULT_GRID_2D, GridError, gridPoint, gridSize, parseGrid, rangeValues } from '../../src/semantic/grid.js';
import { IMAGE_DIMS, VIEWPOINT_DIMS } from '../../src/semantic/space.js';

describe('ranges: start:stop:step, stop exclusive', () => {
  it('az=0:360:3 has 120 values 0, 3, ..., 357', () => {
    const v = rangeValues(0, 360, 3);
    expect(v.length).toBe(120);
    expect(v[0]).toBe(0);
    expect(v[1]).toBe(3);
    expect(v[119]).toBe(357);
  });
  it('el=-10:90:3 has 34 values -10, -7, ..., 89', () => {
    const v = rangeValues(-10, 90, 3);
    expect(v.length).toBe(34);
    expect(v[0]).toBe(-10);
    expect(v[33]).toBe(89);
  });
  it('brightness=0.5:1.5:0.05 has exactly 20 values 0.5, 0.55, ..., 1.45 (1.5 excluded), with no float noise', () => {
    const v = rangeValues(0.5, 1.5, 0.05);
    expect(v.length).toBe(20);
    expect(v).toEqual([0.5, 0.55, 0.6, 0.65, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95, 1, 1.05, 1.1, 1.15, 1.2, 1.25, 1.3, 1.35, 1.4, 1.45]);
  });
  it('0:1:0.1 has 10 values and 0:0.3:0.1 has 3 (the divisions land near, not on, an integer)', () => {
    expect(rangeValues(0, 1, 0.1).length).toBe(10);
    expect(rangeValues(0, 0.3, 0.1)).toEqual([0, 0.1, 0.2]);
    expect(rangeValues(0, 0.7, 0.1).length).toBe(7);
  });
  it('a step that does not divide the span includes the last value below stop', () => {
    expect(rangeValues(0, 10, 4)).toEqual([0, 4, 8]);
    expect(rangeValues(-30, 30, 7)).toEqual([-30, -23, -16, -9, -2, 5, 12, 19, 26]);
  });
  it('rotation=-30:30:1 has 60 values -30..29', () => {
    const g = parseGrid('rotation=-30:30:1,brightness=0.5:1.5:0.05');
    expect(g.axes.map((a) => a.name)).toEqual(['rotation', 'brightness']);
    expect(g.axes[0].values.length).toBe(60);
    expect(g.axes[0].values[59]).toBe(29);
    expect(gridSize(g)).toBe(60 * 20);
  });
});

describe('the spec default grids', () => {
  it('2D: azimuth 0..357 step 3 (120) x elevation -10..89 step 3 (34) = 4080 evaluations', () => {
    const g = parseGrid(DEFAULT_GRID_2D);
    expect(g.axes.map((a) => [a.name, a.values.length])).toEqual([
      ['az', 120],
      ['el', 34],
    ]);
    expect(gridSize(g)).toBe(4080);
  });
  it('1D: azimuth sweep step 2 (180 points) at elevation 35', () => {
    const g = parseGrid(DEFAULT_GRID_1D);
    expect(g.axes.length).toBe(1);
    expect(g.axes[0].values.length).toBe(180);
    expect(g.axes[0].values[179]).toBe(358);
    expect(g.fixed).toEqual({ el: 35 });
    expect(gridSize(g)).toBe(180);
  });
});

describe('row-major point order (last axis fastest)', () => {
  it('point i of a 3 x 2 grid is (a[floor(i/2)], b[i%2])', () => {
    const g = parseGrid('a=0:3:1,b=10:30:10');
    const pts = Array.from({ length: gridSize(g) }, (_, i) => Array.from(gridPoint(g, i)));
    expect(pts).toEqual([
      [0, 10],
      [0, 20],
      [1, 10],
      [1, 20],
      [2, 10],
      [2, 20],
    ]);
  });
});

describe('errors name the bad part', () => {
  const bad: [string, RegExp][] = [
    ['az=0:360', /az=0:360.*3 fields/],
    ['az=0:x:3', /az=0:x:3.*stop 'x' is not a number/],
    ['az=0:360:0', /az=0:360:0.*step must be > 0/],
    ['az=10:0:1', /az=10:0:1.*stop .* must be greater than start/],
    ['0:360:3', /'0:360:3'.*name=start:stop:step/],
    ['az=0:360:3,,el=1', /empty part/],
    ['az=0:360:3,az=1', /'az' given twice/],
    ['1az=3', /bad parameter name '1az'/],
    ['', /empty/],
  ];
  for (const [text, msg] of bad)
    it(`'${text}'`, () => {
      expect(() => parseGrid(text)).toThrow(GridError);
      expect(() => parseGrid(text)).toThrow(msg);
    });
  it('aliases map to canonical names, so az and azimuth together are a duplicate', () => {
    expect(parseGrid('azimuth=0:10:5', { azimuth: 'az' }).axes[0].name).toBe('az');
    expect(() => parseGrid('azimuth=0:10:5,az=3', { azimuth: 'az' })).toThrow(/'az' given twice/);
  });
});

describe('domain checks against a space', () => {
  const cases: [string, readonly (typeof VIEWPOINT_DIMS)[number][], RegExp][] = [
    ['el=-100:0:10', VIEWPOINT_DIMS, /el=-100 is outside the domain of 'el' \[-90, 90\]/],
    ['az=0:360:3,el=80:100:5', VIEWPOINT_DIMS, /el=95 is outside/],
    ['distance=0:3:0.5', VIEWPOINT_DIMS, /distance=0 is outside .*\(0\.1, 100\).*near plane/],
    ['distance=0.1', VIEWPOINT_DIMS, /distance=0\.1 is outside/],
    ['brightness=-0.5:1:0.5', IMAGE_DIMS, /brightness=-0\.5 is outside .*>= 0/],
    ['blur=-1:2:1', IMAGE_DIMS, /blur=-1 is outside .*sigma/],
    ['scale=0:2:1', IMAGE_DIMS, /scale=0 is outside/],
    ['yaw=0:10:1', VIEWPOINT_DIMS, /no parameter 'yaw'.*az, el, distance/],
  ];
  for (const [text, dims, msg] of cases)
    it(`'${text}' is rejected`, () => {
      expect(() => checkGrid(parseGrid(text), dims)).toThrow(GridError);
      expect(() => checkGrid(parseGrid(text), dims)).toThrow(msg);
    });
  it('el 90 is allowed (closed domain [-90, 90]); default grids pass', () => {
    expect(() => checkGrid(parseGrid('el=90'), VIEWPOINT_DIMS)).not.toThrow();
    expect(() => checkGrid(parseGrid(DEFAULT_GRID_2D), VIEWPOINT_DIMS)).not.toThrow();
    expect(() => checkGrid(parseGrid('rotation=-30:30:1,brightness=0.5:1.5:0.05,blur=0:2:0.5'), IMAGE_DIMS)).not.toThrow();
  });
});
