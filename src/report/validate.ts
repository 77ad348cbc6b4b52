// Defensive reading of results.json for the report: the file may come from another version of
// robustscope, be hand-edited or truncated. Every field the report renders is checked, and an error
// names the file and the JSON path of the first bad field. Unknown extra fields are allowed.
import { RESULTS_SCHEMA, RESULTS_VERSION, type Results } from '../eval/schema.js';

export class ResultsFileError extends Error {
  constructor(
    readonly file: string,
    readonly field: string,
    problem: string,
  ) {
    super(field ? `${file}: field '${field}' ${problem}` : `${file}: ${problem}`);
    this.name = 'ResultsFileError';
  }
}

type Obj = Record<string, unknown>;

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'number' && !Number.isFinite(v)) return String(v);
  if (typeof v === 'string') return `the string ${JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}…` : v)}`;
  return `a ${typeof v}`;
}

/** Walks one file; `at(path)` builds the checkers for a field so messages carry its path. */
class Checker {
  constructor(readonly file: string) {}

  fail(path: string, problem: string): never {
    throw new ResultsFileError(this.file, path, problem);
  }

  obj(v: unknown, path: string): Obj {
    if (typeof v !== 'object' || v === null || Array.isArray(v)) this.fail(path, v === undefined ? 'is missing' : `should be an object, got ${describe(v)}`);
    return v as Obj;
  }

  num(v: unknown, path: string, range?: [number, number]): number {
    if (typeof v !== 'number' || !Number.isFinite(v)) this.fail(path, v === undefined ? 'is missing' : `should be a finite number, got ${describe(v)}`);
    if (range && (v < range[0] || v > range[1])) this.fail(path, `should be in [${range[0]}, ${range[1]}], got ${v}`);
    return v;
  }

  str(v: unknown, path: string): string {
    if (typeof v !== 'string') this.fail(path, v === undefined ? 'is missing' : `should be a string, got ${describe(v)}`);
    return v;
  }

  bool(v: unknown, path: string): boolean {
    if (typeof v !== 'boolean') this.fail(path, v === undefined ? 'is missing' : `should be true or false, got ${describe(v)}`);
    return v;
  }

  oneOf<T extends string>(v: unknown, path: string, values: readonly T[]): T {
    if (typeof v !== 'string' || !values.includes(v as T))
      this.fail(path, `${v === undefined ? 'is missing' : `is ${describe(v)}`}; expected one of ${values.map((x) => JSON.stringify(x)).join(', ')}`);
    return v as T;
  }

  arr(v: unknown, path: string, each: (x: unknown, path: string) => void): unknown[] {
    if (!Array.isArray(v)) this.fail(path, v === undefined ? 'is missing' : `should be an array, got ${describe(v)}`);
    v.forEach((x, i) => {
      each(x, `${path}[${i}]`);
    });
    return v;
  }

  record(v: unknown, path: string, each: (x: unknown, path: string) => void): void {
    const o = this.obj(v, path);
    for (const [k, x] of Object.entries(o)) each(x, `${path}.${k}`);
  }

  fraction(v: unknown, path: string): void {
    this.num(v, path, [0, 1]);
  }

  fractionOrNull(v: unknown, path: string): void {
    if (v !== null) this.num(v, path, [0, 1]);
  }

  metrics(v: unknown, path: string): Obj {
    const m = this.obj(v, path);
    this.num(m.images, `${path}.images`);
    for (const k of ['aAcc', 'mAcc', 'mIoU', 'meanImageAcc'] as const) this.fraction(m[k], `${path}.${k}`);
    this.arr(m.perClassIoU, `${path}.perClassIoU`, (x, p) => this.fractionOrNull(x, p));
    this.arr(m.perClassAcc, `${path}.perClassAcc`, (x, p) => this.fractionOrNull(x, p));
    return m;
  }
}

const GALLERY_FILES = ['image', 'adversarial', 'perturbation', 'label', 'cleanPred', 'advPred'] as const;

/**
 * Checks that `data` (parsed JSON of `file`) is a results file this report can render: schema name,
 * version, then every field it uses. Returns it typed; throws ResultsFileError otherwise.
 */
export function validateResults(data: unknown, file: string): Results {
  const c = new Checker(file);
  if (typeof data !== 'object' || data === null || Array.isArray(data))
    c.fail('', `is not a robustscope results file (the JSON is ${describe(data)}, not an object)`);
  const r = data as Obj;
  if (r.schema !== RESULTS_SCHEMA)
    c.fail(
      'schema',
      `is ${r.schema === undefined ? 'missing' : JSON.stringify(r.schema)}; expected ${JSON.stringify(RESULTS_SCHEMA)} (is this a robustscope results.json?)`,
    );
  if (r.version !== RESULTS_VERSION)
    c.fail(
      'version',
      `is ${r.version === undefined ? 'missing' : JSON.stringify(r.version)}; this robustscope reads results version ${RESULTS_VERSION} (regenerate the results with this version, or use a matching robustscope)`,
    );
  c.str(r.createdAt, 'createdAt');
  c.str(r.robustscopeVersion, 'robustscopeVersion');
  c.num(r.images, 'images');
  c.num(r.seconds, 'seconds');

  const config = c.obj(r.config, 'config');
  const model = c.obj(config.model, 'config.model');
  c.str(model.path, 'config.model.path');
  c.str(model.sha256, 'config.model.sha256');
  if (model.output !== undefined) c.str(model.output, 'config.model.output');
  if (model.normalize !== undefined) {
    const n = c.obj(model.normalize, 'config.model.normalize');
    c.arr(n.mean, 'config.model.normalize.mean', (x, p) => c.num(x, p));
    c.arr(n.std, 'config.model.normalize.std', (x, p) => c.num(x, p));
  }
  const dataCfg = c.obj(config.data, 'config.data');
  c.str(dataCfg.format, 'config.data.format');
  c.str(dataCfg.root, 'config.data.root');
  if (dataCfg.size !== 'native') c.num(dataCfg.size, 'config.data.size');
  if (dataCfg.limit !== undefined) c.num(dataCfg.limit, 'config.data.limit');
  c.num(dataCfg.ignoreIndex, 'config.data.ignoreIndex');
  const attack = c.obj(config.attack, 'config.attack');
  c.oneOf(attack.kind, 'config.attack.kind', ['sea', 'apgd', 'pgd', 'segpgd', 'cospgd']);
  if (attack.ensemble !== undefined) c.oneOf(attack.ensemble, 'config.attack.ensemble', ['eccv', 'v1']);
  if (attack.loss !== undefined) c.str(attack.loss, 'config.attack.loss');
  c.arr(attack.attacks, 'config.attack.attacks', (x, p) => c.str(x, p));
  c.oneOf(attack.norm, 'config.attack.norm', ['linf', 'l2']);
  c.arr(attack.eps, 'config.attack.eps', (x, p) => c.num(x, p));
  c.oneOf(attack.epsUnit, 'config.attack.epsUnit', ['1/255', 'abs']);
  c.num(attack.iters, 'config.attack.iters');
  c.num(attack.batch, 'config.attack.batch');
  c.num(attack.seed, 'config.attack.seed');
  c.bool(attack.earlyStop, 'config.attack.earlyStop');
  c.oneOf(attack.miouSearch, 'config.attack.miouSearch', ['search', 'greedy']);
  if (attack.classWeights !== undefined) c.arr(attack.classWeights, 'config.attack.classWeights', (x, p) => c.num(x, p));

  const classes = c.obj(r.classes, 'classes');
  c.arr(classes.names, 'classes.names', (x, p) => c.str(x, p));
  if (classes.palette !== undefined)
    c.arr(classes.palette, 'classes.palette', (x, p) => {
      const rgb = c.arr(x, p, (v, q) => c.num(v, q, [0, 255]));
      if (rgb.length !== 3) c.fail(p, `should be [r, g, b], got ${rgb.length} numbers`);
    });

  c.metrics(r.clean, 'clean');
  c.arr(r.byEps, 'byEps', (x, p) => {
    const e = c.obj(x, p);
    c.num(e.eps, `${p}.eps`);
    c.num(e.epsAbs, `${p}.epsAbs`);
    c.record(e.attacks, `${p}.attacks`, (a, q) => {
      c.metrics(a, q);
      c.num((a as Obj).seconds, `${q}.seconds`);
    });
    if (e.worst !== undefined) {
      const w = c.metrics(e.worst, `${p}.worst`);
      c.fraction(w.acc, `${p}.worst.acc`);
      c.oneOf(w.mIoUMethod, `${p}.worst.mIoUMethod`, ['search', 'greedy', 'v1']);
      c.record(w.winnersAcc, `${p}.worst.winnersAcc`, (n, q) => c.num(n, q));
      c.record(w.winnersMIoU, `${p}.worst.winnersMIoU`, (n, q) => c.num(n, q));
    }
  });
  c.arr(r.gallery, 'gallery', (x, p) => {
    const g = c.obj(x, p);
    c.num(g.index, `${p}.index`);
    c.str(g.id, `${p}.id`);
    c.num(g.eps, `${p}.eps`);
    c.str(g.attack, `${p}.attack`);
    c.fraction(g.cleanAcc, `${p}.cleanAcc`);
    c.fraction(g.advAcc, `${p}.advAcc`);
    const files = c.obj(g.files, `${p}.files`);
    for (const k of GALLERY_FILES) c.str(files[k], `${p}.files.${k}`);
  });
  return data as Results;
}
