// Shared CLI plumbing: output streams (injectable for tests), argument parsing with clear usage
// errors, and number/list option parsers.
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type ParseArgsConfig, parseArgs } from 'node:util';

export interface Out {
  write(s: string): unknown;
}

export interface Io {
  stdout: Out;
  stderr: Out;
}

export const processIo: Io = { stdout: process.stdout, stderr: process.stderr };

/** Wrong use of the command line: exit code 2, printed with the command's usage. */
export class UsageError extends Error {}

/** A run that could not complete (bad file, unsupported model...): exit code 1. */
export class CliError extends Error {}

export interface Command {
  name: string;
  summary: string;
  /** Full help text (starts with the usage line). */
  help: string;
  run(argv: string[], io: Io): Promise<number>;
}

type Options = NonNullable<ParseArgsConfig['options']>;

export interface Parsed {
  values: Record<string, string | boolean | undefined>;
  positionals: string[];
}

/** node:util parseArgs, strict, with its errors turned into short UsageErrors. `--help` is always accepted. */
export function parse(argv: string[], options: Options, positionals = 0): Parsed {
  let res: { values: Record<string, unknown>; positionals: string[] };
  try {
    res = parseArgs({ args: argv, options: { ...options, help: { type: 'boolean', short: 'h' } }, allowPositionals: positionals > 0, strict: true });
  } catch (e) {
    throw new UsageError(parseArgsMessage(e));
  }
  if (res.values.help) return { values: { help: true }, positionals: [] };
  if (res.positionals.length > positionals) throw new UsageError(`unexpected argument '${res.positionals[positionals]}'`);
  return { values: res.values as Record<string, string | boolean | undefined>, positionals: res.positionals };
}

function parseArgsMessage(e: unknown): string {
  const err = e as { code?: string; message?: string };
  const quoted = /'([^']+)'/.exec(err.message ?? '')?.[1];
  switch (err.code) {
    case 'ERR_PARSE_ARGS_UNKNOWN_OPTION':
      return `unknown option '${quoted}'`;
    case 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL':
      return `unexpected argument '${quoted}'`;
    case 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE':
      // Node: "Option '--x <value>' argument missing" / "Option '--x' does not take an argument".
      return (err.message ?? 'invalid option value').replace(/^Option/, 'option').replace(/\s*\n\s*/g, ' ');
    default:
      return err.message ?? String(e);
  }
}

export function str(p: Parsed, name: string): string | undefined {
  const v = p.values[name];
  return typeof v === 'string' ? v : undefined;
}

export function required(p: Parsed, name: string): string {
  const v = str(p, name);
  if (v === undefined || v === '') throw new UsageError(`--${name} is required`);
  return v;
}

export function flag(p: Parsed, name: string): boolean {
  return p.values[name] === true;
}

/** Integer option; `min` bounds it from below. */
export function int(p: Parsed, name: string, dflt: number, min?: number): number;
export function int(p: Parsed, name: string, dflt: undefined, min?: number): number | undefined;
export function int(p: Parsed, name: string, dflt: number | undefined, min = Number.NEGATIVE_INFINITY): number | undefined {
  const v = str(p, name);
  if (v === undefined) return dflt;
  if (!/^[+-]?\d+$/.test(v.trim())) throw new UsageError(`--${name} must be an integer, got '${v}'`);
  const n = Number(v);
  if (!Number.isSafeInteger(n) || n < min) throw new UsageError(`--${name} must be an integer >= ${min}, got '${v}'`);
  return n;
}

/** --normalize mean1,mean2,mean3:std1,std2,std3 */
export function parseNormalize(v: string | undefined): { mean: number[]; std: number[] } | undefined {
  if (v === undefined) return undefined;
  const parts = v.split(':');
  const nums = (s: string | undefined): number[] => (s ?? '').split(',').map((x) => (x.trim() === '' ? Number.NaN : Number(x)));
  const mean = nums(parts[0]);
  const std = nums(parts[1]);
  if (parts.length !== 2 || mean.some((x) => !Number.isFinite(x)) || std.some((x) => !(x > 0) || !Number.isFinite(x)) || mean.length !== std.length)
    throw new UsageError(`--normalize must look like 0.485,0.456,0.406:0.229,0.224,0.225 (as many means as stds, stds > 0), got '${v}'`);
  return { mean, std };
}

export function shapeText(shape: readonly (number | string)[] | undefined): string {
  return shape === undefined ? '[unknown rank]' : `[${shape.join(',')}]`;
}

/** NCHW-style index of flat position i in shape, e.g. [0,1,5,7]. */
export function position(i: number, shape: readonly number[]): string {
  const idx = new Array<number>(shape.length);
  let r = i;
  for (let k = shape.length - 1; k >= 0; k--) {
    idx[k] = r % shape[k];
    r = Math.floor(r / shape[k]);
  }
  return `[${idx.join(',')}]`;
}

/** robustscope's installation root (where package.json, models/ live), from src/cli or dist/src/cli. */
export function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let k = 0; k < 5; k++) {
    try {
      const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { name?: string };
      if (pkg.name === 'robustscope') return dir;
    } catch {
      // not here; go up
    }
    dir = dirname(dir);
  }
  throw new Error("cannot find robustscope's package.json");
}

export function version(): string {
  try {
    const pkg = JSON.parse(readFileSync(join(packageRoot(), 'package.json'), 'utf8')) as { version?: string };
    return pkg.version ?? 'unknown';
  } catch {
    return 'unknown';
  }
}

export function stats(ms: number[]): { median: number; min: number; max: number } {
  const s = [...ms].sort((a, b) => a - b);
  const m = s.length >> 1;
  const median = s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
  return { median: round(median, 3), min: round(s[0], 3), max: round(s[s.length - 1], 3) };
}

export function round(x: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}
