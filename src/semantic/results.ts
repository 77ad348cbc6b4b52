// semantic.json: the versioned output of `robustscope semantic map|regions` (schema robustscope/semantic,
// version 1). It holds the maps (axes, values, scores), the robust regions found (method, start, a, b,
// volume ratio, trace file), SRVR per method, the configuration, the model's sha256 and timings. The HTML
// report is generated from it alone. Scores that were not finite are written as null (JSON has no NaN).
// validateSemanticResults reads one defensively: every field the report renders is checked and an error
// names the file and the JSON path of the first bad field. Unknown extra fields are allowed.

export const SEMANTIC_SCHEMA = 'robustscope/semantic';
export const SEMANTIC_VERSION = 1;

export class SemanticResultsError extends Error {}

export interface SemanticAxis {
  name: string;
  /** 'deg', 'px', '' ... */
  unit: string;
  values: number[];
}

export interface SemanticMapRecord {
  /** What was mapped: the mesh name, or the dataset image id. */
  subject: string;
  /** Class whose probability is f (classification), when there is one. */
  label?: number;
  labelName?: string;
  /** Axes of the map; scores are row-major over them (last axis fastest). */
  dims: SemanticAxis[];
  /** Parameters pinned to one value. */
  fixed: Record<string, number>;
  /** f at every grid point (null where the score was not finite). */
  scores: (number | null)[];
  /** Points sent through the model for this map in this run (cache hits excluded). */
  evaluations: number;
  /** Points read back from the cache. */
  cached: number;
  seconds: number;
}

export interface SemanticRegionRecord {
  method: 'naive' | 'oir_b' | 'oir_w' | 'trap';
  /** Image runs: the dataset image id the region was found on (regions of a map's subject are drawn on it). */
  subject?: string;
  /** Start point u0, one value per region axis. */
  start: number[];
  a: number[];
  b: number[];
  /** Vol([a, b] clipped to the domain) / Vol(domain). */
  volumeRatio: number;
  iterations: number;
  /** Points asked of the oracle (each finite-difference shift counts). */
  evaluations: number;
  seconds: number;
  /** Trace file, relative to the directory of semantic.json (traces/<method>-<start>.json). */
  trace: string;
}

export interface SemanticRegions {
  /** Names of the region axes (az, el; or image parameters such as rotation, brightness). */
  axes: string[];
  /** [lo, hi] per axis. */
  domain: [number, number][];
  config: {
    methods: string[];
    iterations: number;
    eta: number;
    alpha: number;
    beta: number;
    lambda: number;
    /** Finite-difference step: one for every axis, or one per axis (image runs). */
    fdStep: number | number[];
    /** How df/du was computed for oir_w/trap: central finite differences or exactly through the graph. */
    grad?: 'fd' | 'exact';
    referenceQuirks: boolean;
    /** How points outside the renderer's domain are evaluated (outer corners, FD shifts, unclipped regions). */
    outOfDomain: string;
  };
  items: SemanticRegionRecord[];
  /** SRVR per method: mean of its regions' volume ratios. */
  srvr: Record<string, number>;
}

export interface SemanticResults {
  schema: typeof SEMANTIC_SCHEMA;
  version: typeof SEMANTIC_VERSION;
  /** The command that wrote the file. */
  command: 'map' | 'regions';
  createdAt: string;
  robustscopeVersion: string;
  model: { path: string; sha256: string; normalize?: { mean: number[]; std: number[] } };
  /** 'viewpoint' (a rendered mesh) or 'image' (dataset images under image transforms). */
  space: 'viewpoint' | 'image';
  /** prob (true-class softmax probability), pixel-acc or miou. */
  score: 'prob' | 'pixel-acc' | 'miou';
  /** Mesh runs: the mesh as given, its geometry hash, image size. */
  mesh?: { name: string; sha256: string; size: number };
  /** Image runs: the dataset. */
  data?: { root: string; format: string };
  /** Everything else the command was run with (grid text, batch, cache dir, ...). */
  config: Record<string, string | number | boolean | null>;
  maps: SemanticMapRecord[];
  /** Where the drawn map came from when it was not computed in this run (e.g. --map FILE). */
  mapSource?: string;
  regions?: SemanticRegions;
  /** Points sent through the model in this run, maps and regions together (0 when everything was cached). */
  evaluations: number;
  cached: number;
  timings: { seconds: number; renderSeconds: number; modelSeconds: number; regionSeconds: number };
  cacheFile?: string;
}

/** JSON-safe scores: non-finite values become null. */
export function scoresToJson(scores: ArrayLike<number>): (number | null)[] {
  return Array.from(scores, (v) => (Number.isFinite(v) ? v : null));
}

type Obj = Record<string, unknown>;

const describe = (v: unknown): string =>
  v === null ? 'null' : Array.isArray(v) ? 'an array' : typeof v === 'string' ? `the string ${JSON.stringify(v.slice(0, 40))}` : `a ${typeof v}`;

/** Checks the fields the report and the commands use; see the file comment. */
export function validateSemanticResults(data: unknown, file = 'semantic.json'): SemanticResults {
  const fail = (path: string, problem: string): never => {
    throw new SemanticResultsError(`${file}: field '${path}' ${problem}`);
  };
  const obj = (v: unknown, path: string): Obj => {
    if (typeof v !== 'object' || v === null || Array.isArray(v)) fail(path, v === undefined ? 'is missing' : `should be an object, got ${describe(v)}`);
    return v as Obj;
  };
  const num = (v: unknown, path: string): number => {
    if (typeof v !== 'number' || !Number.isFinite(v)) fail(path, v === undefined ? 'is missing' : `should be a finite number, got ${describe(v)}`);
    return v as number;
  };
  const str = (v: unknown, path: string): string => {
    if (typeof v !== 'string') fail(path, v === undefined ? 'is missing' : `should be a string, got ${describe(v)}`);
    return v as string;
  };
  const arr = (v: unknown, path: string): unknown[] => {
    if (!Array.isArray(v)) fail(path, v === undefined ? 'is missing' : `should be an array, got ${describe(v)}`);
    return v as unknown[];
  };
  const nums = (v: unknown, path: string): number[] => arr(v, path).map((x, i) => num(x, `${path}[${i}]`));

  const r = obj(data, '');
  if (r.schema !== SEMANTIC_SCHEMA) fail('schema', `is ${JSON.stringify(r.schema)}; expected "${SEMANTIC_SCHEMA}" (not a semantic results file)`);
  if (r.version !== SEMANTIC_VERSION) fail('version', `is ${JSON.stringify(r.version)}; this robustscope reads version ${SEMANTIC_VERSION}`);
  if (r.command !== 'map' && r.command !== 'regions') fail('command', 'should be "map" or "regions"');
  str(r.createdAt, 'createdAt');
  str(r.robustscopeVersion, 'robustscopeVersion');
  const model = obj(r.model, 'model');
  str(model.path, 'model.path');
  str(model.sha256, 'model.sha256');
  if (r.space !== 'viewpoint' && r.space !== 'image') fail('space', 'should be "viewpoint" or "image"');
  if (!['prob', 'pixel-acc', 'miou'].includes(r.score as string)) fail('score', 'should be "prob", "pixel-acc" or "miou"');
  if (r.mesh !== undefined) {
    const m = obj(r.mesh, 'mesh');
    str(m.name, 'mesh.name');
    str(m.sha256, 'mesh.sha256');
    num(m.size, 'mesh.size');
  }
  obj(r.config, 'config');
  arr(r.maps, 'maps').forEach((mv, k) => {
    const p = `maps[${k}]`;
    const m = obj(mv, p);
    str(m.subject, `${p}.subject`);
    const dims = arr(m.dims, `${p}.dims`).map((dv, d) => {
      const dd = obj(dv, `${p}.dims[${d}]`);
      str(dd.name, `${p}.dims[${d}].name`);
      str(dd.unit, `${p}.dims[${d}].unit`);
      const values = nums(dd.values, `${p}.dims[${d}].values`);
      if (values.length === 0) fail(`${p}.dims[${d}].values`, 'is empty');
      return values.length;
    });
    const scores = arr(m.scores, `${p}.scores`);
    const n = dims.reduce((a, b) => a * b, 1);
    if (scores.length !== n) fail(`${p}.scores`, `has ${scores.length} values; the axes make ${n} points`);
    scores.forEach((s, i) => {
      if (s !== null) num(s, `${p}.scores[${i}]`);
    });
    obj(m.fixed, `${p}.fixed`);
    num(m.evaluations, `${p}.evaluations`);
  });
  if (r.regions !== undefined) {
    const g = obj(r.regions, 'regions');
    const axes = arr(g.axes, 'regions.axes').map((a, i) => str(a, `regions.axes[${i}]`));
    arr(g.domain, 'regions.domain').forEach((d, i) => {
      const v = nums(d, `regions.domain[${i}]`);
      if (v.length !== 2 || !(v[1] > v[0])) fail(`regions.domain[${i}]`, 'should be [lo, hi] with hi > lo');
    });
    obj(g.config, 'regions.config');
    arr(g.items, 'regions.items').forEach((iv, k) => {
      const p = `regions.items[${k}]`;
      const it = obj(iv, p);
      str(it.method, `${p}.method`);
      for (const f of ['start', 'a', 'b'] as const) {
        const v = nums(it[f], `${p}.${f}`);
        if (v.length !== axes.length) fail(`${p}.${f}`, `has ${v.length} values; the regions have ${axes.length} axes`);
      }
      num(it.volumeRatio, `${p}.volumeRatio`);
      str(it.trace, `${p}.trace`);
    });
    const s = obj(g.srvr, 'regions.srvr');
    for (const [k, v] of Object.entries(s)) num(v, `regions.srvr.${k}`);
  }
  num(r.evaluations, 'evaluations');
  const t = obj(r.timings, 'timings');
  num(t.seconds, 'timings.seconds');
  return r as unknown as SemanticResults;
}
