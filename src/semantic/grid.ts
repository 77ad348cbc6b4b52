// Grid specs for semantic maps: `az=0:360:3,el=-10:90:3` (start:stop:step, stop EXCLUSIVE) and fixed
// values `el=35`. Ranges become the map's axes (row-major, first axis slowest); fixed values pin other
// parameters of the space. Values are start + i*step rounded to 12 significant digits, so 0.5 + 3*0.05
// is 0.65 (not 0.6500000000000001) and the same point always has the same cache key.
import type { ParamDim } from './space.js';

export class GridError extends Error {}

export interface GridAxis {
  name: string;
  values: number[];
}

export interface Grid {
  /** Axes in order; the map's scores are row-major over them (last axis fastest). */
  axes: GridAxis[];
  /** Parameters pinned to one value (`name=value`). */
  fixed: Record<string, number>;
}

/** The spec's 2D map: azimuth 0..357 step 3 (120) x elevation -10..89 step 3 (34) = 4080 points. */
export const DEFAULT_GRID_2D = 'az=0:360:3,el=-10:90:3';
/** The spec's 1D map: azimuth 0..358 step 2 (180 points) at elevation 35. */
export const DEFAULT_GRID_1D = 'az=0:360:2,el=35';

const NUM = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;

function num(text: string, what: string, part: string): number {
  const t = text.trim();
  if (!NUM.test(t)) throw new GridError(`grid part '${part}': ${what} '${text}' is not a number`);
  return Number(t);
}

/** 12 significant digits: removes the float noise of start + i*step. */
export function roundValue(x: number): number {
  return x === 0 ? 0 : Number(x.toPrecision(12));
}

/**
 * Values of start:stop:step with stop exclusive: start + i*step for i = 0..n-1, n = ceil((stop-start)/step)
 * except when (stop-start)/step is within 1e-9 (relative) of an integer q, where n = q (so 0.5:1.5:0.05
 * has 20 values whatever the float rounding of 1/0.05).
 */
export function rangeValues(start: number, stop: number, step: number, part = `${start}:${stop}:${step}`): number[] {
  if (!(step > 0)) throw new GridError(`grid part '${part}': step must be > 0, got ${step}`);
  if (!(stop > start)) throw new GridError(`grid part '${part}': stop (${stop}, exclusive) must be greater than start (${start})`);
  const q = (stop - start) / step;
  const r = Math.round(q);
  const n = Math.abs(q - r) <= 1e-9 * Math.max(1, Math.abs(q)) ? r : Math.ceil(q);
  if (n > 1e7) throw new GridError(`grid part '${part}': ${n} values is too many`);
  return Array.from({ length: n }, (_, i) => roundValue(start + i * step));
}

/** Parses `name=start:stop:step` and `name=value` parts separated by commas; errors name the bad part. */
export function parseGrid(text: string, aliases: Record<string, string> = {}): Grid {
  const grid: Grid = { axes: [], fixed: {} };
  const seen = new Set<string>();
  const parts = text.split(',').map((p) => p.trim());
  if (parts.length === 0 || parts.every((p) => p === '')) throw new GridError(`grid '${text}' is empty (expected e.g. ${DEFAULT_GRID_2D})`);
  for (const part of parts) {
    if (part === '') throw new GridError(`grid '${text}': empty part (two commas in a row or a trailing comma)`);
    const eq = part.indexOf('=');
    if (eq <= 0) throw new GridError(`grid part '${part}': expected name=start:stop:step or name=value`);
    const raw = part.slice(0, eq).trim();
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(raw)) throw new GridError(`grid part '${part}': bad parameter name '${raw}'`);
    const name = aliases[raw] ?? raw;
    if (seen.has(name)) throw new GridError(`grid part '${part}': parameter '${name}' given twice`);
    seen.add(name);
    const fields = part.slice(eq + 1).split(':');
    if (fields.length === 1) grid.fixed[name] = num(fields[0], 'value', part);
    else if (fields.length === 3) {
      const [a, b, s] = [num(fields[0], 'start', part), num(fields[1], 'stop', part), num(fields[2], 'step', part)];
      grid.axes.push({ name, values: rangeValues(a, b, s, part) });
    } else throw new GridError(`grid part '${part}': expected start:stop:step (3 fields), got ${fields.length}`);
  }
  return grid;
}

/** Number of points (product of the axis lengths; 1 for no axes). */
export function gridSize(grid: Grid): number {
  return grid.axes.reduce((n, a) => n * a.values.length, 1);
}

/** The axis values of row-major point `index` (last axis fastest). */
export function gridPoint(grid: Grid, index: number): Float64Array {
  const p = new Float64Array(grid.axes.length);
  for (let d = grid.axes.length - 1; d >= 0; d--) {
    const vs = grid.axes[d].values;
    p[d] = vs[index % vs.length];
    index = Math.floor(index / vs.length);
  }
  return p;
}

/** Whether x lies in the dimension's domain. */
export function inDomain(dim: ParamDim, x: number): boolean {
  if (!Number.isFinite(x)) return false;
  const lo = dim.minOpen ? x > dim.min : x >= dim.min;
  const hi = dim.maxOpen ? x < dim.max : x <= dim.max;
  return lo && hi;
}

export function domainText(dim: ParamDim): string {
  return `${dim.minOpen ? '(' : '['}${dim.min}, ${dim.max}${dim.maxOpen ? ')' : ']'}`;
}

/**
 * Checks a grid against a space's dimensions: every name exists and every value is in its domain.
 * The error names the parameter, the bad value and the domain.
 */
export function checkGrid(grid: Grid, dims: readonly ParamDim[], space = 'space'): void {
  const byName = new Map(dims.map((d) => [d.name, d]));
  const check = (name: string, values: readonly number[]) => {
    const dim = byName.get(name);
    if (!dim) throw new GridError(`grid: ${space} has no parameter '${name}' (it has ${dims.map((d) => d.name).join(', ')})`);
    for (const v of values)
      if (!inDomain(dim, v))
        throw new GridError(
          `grid: ${name}=${v} is outside the domain of '${name}' ${domainText(dim)}${dim.unit ? ` ${dim.unit}` : ''}${dim.why ? ` (${dim.why})` : ''}`,
        );
  };
  for (const a of grid.axes) check(a.name, a.values);
  for (const [k, v] of Object.entries(grid.fixed)) check(k, [v]);
}
