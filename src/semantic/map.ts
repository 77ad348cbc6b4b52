// Semantic maps: a model's score f(u) over a grid of semantic parameters, evaluated in batches, with an
// on-disk cache so a re-run reuses what was computed and an interrupted run resumes. Also the batched
// score oracle f(u) that the robust-region code calls.
//
// Cache: <cacheDir>/<key hash>.jsonl, one file per (model, root space key (mesh or image hash, image
// size), target, format version). Line 1 is a header holding the key itself; each further line is one
// evaluated point {"u":[...],"f":score} with u a full point of the root space (every parameter, pinned
// ones included), so any grid or oracle over the same space reuses it. Lines are appended once per
// batch, so a killed run loses at most the batch in flight; a torn last line is dropped on open.
import { appendFileSync, existsSync, mkdirSync, readFileSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { encodeModel } from '../onnx/codec.js';
import { RobustModel } from '../runtime/model.js';
import { checkGrid, type Grid, gridPoint, gridSize } from './grid.js';
import { type ForwardModel, scoreBatch, type Target } from './score.js';
import { type CacheKey, type ParameterSpace, restrictSpace, rootOf, SpaceError, sha256Of } from './space.js';

export class CacheError extends Error {}

/** The robust-region code's view of f: scores for a batch of points u (one value per space dimension). */
export type ScoreFn = (points: readonly Float64Array[]) => Promise<Float64Array>;

const CACHE_VERSION = 1;

const canonicalJson = (v: unknown): string =>
  JSON.stringify(v, (_k, x: unknown) =>
    x && typeof x === 'object' && !Array.isArray(x) ? Object.fromEntries(Object.entries(x as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : 1))) : x,
  );

/** Scores of points, stored as JSON lines under a key; see the file comment. */
export class ScoreCache {
  readonly path: string;
  private readonly scores = new Map<string, number>();

  constructor(dir: string, key: CacheKey) {
    const header = canonicalJson({ robustscope: 'semantic-score-cache', version: CACHE_VERSION, key });
    const hash = sha256Of(new TextEncoder().encode(header));
    mkdirSync(dir, { recursive: true });
    this.path = join(dir, `${hash.slice(0, 24)}.jsonl`);
    if (!existsSync(this.path)) {
      writeFileSync(this.path, `${header}\n`);
      return;
    }
    let text = readFileSync(this.path, 'utf8');
    // A run killed mid-write can leave a torn last line: drop it so new appends start clean.
    const end = text.lastIndexOf('\n') + 1;
    if (end < text.length) {
      truncateSync(this.path, Buffer.byteLength(text.slice(0, end)));
      text = text.slice(0, end);
    }
    const lines = text.split('\n');
    if (lines[0] === '' && end === 0) {
      writeFileSync(this.path, `${header}\n`); // torn header: the file held nothing yet
      return;
    }
    if (lines[0] !== header)
      throw new CacheError(`${this.path}: the header does not match this cache key (a different version or a hash collision); delete the file`);
    for (let k = 1; k < lines.length; k++) {
      if (!lines[k].trim()) continue;
      let r: { u: number[]; f: number | null };
      try {
        r = JSON.parse(lines[k]);
      } catch {
        throw new CacheError(`${this.path}:${k + 1}: not a valid cache line (corrupt file?)`);
      }
      if (!Array.isArray(r.u) || !(typeof r.f === 'number' || r.f === null)) throw new CacheError(`${this.path}:${k + 1}: not a {u, f} cache line`);
      this.scores.set(ScoreCache.pointKey(r.u), r.f ?? Number.NaN);
    }
  }

  static pointKey(u: ArrayLike<number>): string {
    return Array.prototype.join.call(u, ',');
  }

  get size(): number {
    return this.scores.size;
  }

  get(u: ArrayLike<number>): number | undefined {
    return this.scores.get(ScoreCache.pointKey(u));
  }

  /** Appends a batch in one write. */
  append(points: readonly ArrayLike<number>[], scores: ArrayLike<number>): void {
    if (points.length === 0) return;
    const lines = points.map((u, i) => `${JSON.stringify({ u: Array.from(u), f: Number.isFinite(scores[i]) ? scores[i] : null })}\n`);
    appendFileSync(this.path, lines.join(''));
    points.forEach((u, i) => {
      this.scores.set(ScoreCache.pointKey(u), scores[i]);
    });
  }
}

const fingerprints = new WeakMap<RobustModel, string>();

/** sha256 of the model as loaded (graph, weights and normalisation) plus the output it reads. */
export function modelFingerprint(model: RobustModel): string {
  let f = fingerprints.get(model);
  if (!f) {
    f = `${sha256Of(encodeModel(model.source))}:${model.outputName}`;
    fingerprints.set(model, f);
  }
  return f;
}

export interface EvalOptions {
  /** Images per model call (default 16). */
  batchSize?: number;
  /** Directory of the score cache (default: no cache). */
  cacheDir?: string;
  /**
   * Identity of the model in cache keys, e.g. the model file's sha256 (plus anything that changes its
   * outputs, like normalisation). Default for a RobustModel: modelFingerprint(model). Needed with a
   * cache for other models.
   */
  modelId?: string;
  /** Called after every model batch. */
  onBatch?: (p: { done: number; total: number; evaluations: number }) => void;
}

/** Counters of an Evaluator (cumulative). */
export interface EvalStats {
  /** Points sent through the model (cache hits excluded). */
  evaluations: number;
  /** Points answered from the cache. */
  cached: number;
  /** Time producing images (render or transform, and label maps). */
  renderSeconds: number;
  /** Time in the model and the score function. */
  modelSeconds: number;
}

/** f(u) for batches of points of one space, batched through the model, with the optional cache. */
export class Evaluator {
  readonly stats: EvalStats = { evaluations: 0, cached: 0, renderSeconds: 0, modelSeconds: 0 };
  readonly cache?: ScoreCache;
  private readonly batchSize: number;
  private buffer = new Float32Array(0);
  private labelBuffer = new Int32Array(0);

  constructor(
    readonly space: ParameterSpace,
    readonly model: ForwardModel,
    readonly target: Target,
    private readonly opts: EvalOptions = {},
  ) {
    const bs = opts.batchSize ?? 16;
    if (!Number.isInteger(bs) || bs < 1) throw new SpaceError(`batch size must be a positive integer, got ${bs}`);
    this.batchSize = bs;
    if (target.score !== 'prob' && !space.renderLabels)
      throw new SpaceError(`score '${target.score}' needs label maps; the ${space.name} space has none (an image space with labels has)`);
    if (opts.cacheDir !== undefined) {
      const modelId = opts.modelId ?? (model instanceof RobustModel ? modelFingerprint(model) : undefined);
      if (!modelId) throw new CacheError('a score cache needs opts.modelId to identify a model that is not a RobustModel');
      const target: CacheKey = { ...this.target };
      // Keyed in the root space, so maps and oracles over any slice of one space share points.
      const root = rootOf(space, []).space;
      this.cache = new ScoreCache(opts.cacheDir, { model: modelId, space: root.key, target, imageShape: [...root.imageShape] });
    }
  }

  /** Scores of `points` (in order); cached points are read back, the rest computed in batches and cached. */
  async scores(points: readonly Float64Array[]): Promise<Float64Array> {
    const out = new Float64Array(points.length);
    const rootPoints = this.cache ? rootOf(this.space, points).points : points;
    // Points to compute, each distinct point once (a request may repeat a point).
    const todo = new Map<string, { u: Float64Array; root: Float64Array; at: number[] }>();
    points.forEach((u, i) => {
      const root = rootPoints[i];
      const hit = this.cache?.get(root);
      if (hit !== undefined) {
        out[i] = hit;
        this.stats.cached++;
        return;
      }
      const k = ScoreCache.pointKey(root);
      const t = todo.get(k);
      if (t) t.at.push(i);
      else todo.set(k, { u, root, at: [i] });
    });
    const jobs = [...todo.values()];
    const [C, H, W] = this.space.imageShape;
    const chw = C * H * W;
    const needLabels = this.target.score !== 'prob' && this.space.renderLabels !== undefined;
    // Pipelined when the space can produce images off the main thread: batch k+1 is being rendered
    // while the model scores batch k, and renderSeconds counts only the time spent waiting for it.
    // One batch has nothing to overlap with: it is rendered here, without the hand-off to the worker.
    const ahead = needLabels || jobs.length <= this.batchSize ? undefined : this.space.renderAsync?.bind(this.space);
    const start = (s: number): Promise<Float32Array> | undefined => {
      if (!ahead || s >= jobs.length) return undefined;
      const p = ahead(jobs.slice(s, s + this.batchSize).map((j) => j.u));
      p.catch(() => {}); // a batch abandoned after an error elsewhere must not be an unhandled rejection
      return p;
    };
    let next = start(0);
    for (let s = 0; s < jobs.length; s += this.batchSize) {
      const batch = jobs.slice(s, s + this.batchSize);
      const n = batch.length;
      const us = batch.map((j) => j.u);
      let t0 = performance.now();
      if (this.buffer.length < n * chw) this.buffer = new Float32Array(Math.min(this.batchSize, jobs.length) * chw);
      const images = this.buffer.subarray(0, n * chw);
      if (next) {
        images.set(await next);
        next = start(s + this.batchSize);
      } else this.space.render(us, images);
      let labels: Int32Array | undefined;
      if (needLabels && this.space.renderLabels) {
        if (this.labelBuffer.length < n * H * W) this.labelBuffer = new Int32Array(Math.min(this.batchSize, jobs.length) * H * W);
        labels = this.labelBuffer.subarray(0, n * H * W);
        this.space.renderLabels(us, labels);
      }
      let t1 = performance.now();
      this.stats.renderSeconds += (t1 - t0) / 1000;
      t0 = t1;
      const f = await scoreBatch(this.model, { data: images, dims: [n, C, H, W] }, this.target, labels, this.space.ignoreIndex ?? 255);
      t1 = performance.now();
      this.stats.modelSeconds += (t1 - t0) / 1000;
      this.stats.evaluations += n;
      this.cache?.append(
        batch.map((j) => j.root),
        f,
      );
      batch.forEach((j, i) => {
        for (const at of j.at) out[at] = f[i];
      });
      this.opts.onBatch?.({ done: s + n, total: jobs.length, evaluations: this.stats.evaluations });
    }
    return out;
  }
}

export interface SemanticMap {
  /** The grid's axes; scores are row-major over them (last axis fastest). */
  dims: { name: string; values: number[] }[];
  /** Parameters pinned to one value (the grid's and the space's defaults). */
  fixed: Record<string, number>;
  scores: Float64Array;
  /** Points evaluated through the model in this run (cache hits excluded). */
  evaluations: number;
  /** Points read back from the cache. */
  cached: number;
  /** Wall time of the whole map. */
  seconds: number;
  /** Part of `seconds` spent producing images (renderer or image transforms). */
  renderSeconds: number;
  /** Part of `seconds` spent in the model and the score function. */
  modelSeconds: number;
  /** The cache file, when a cache was used. */
  cacheFile?: string;
}

/**
 * Evaluates f over every point of `grid` (any number of axes; parameters not in the grid keep their
 * defaults or the grid's fixed values). Grid names may use the space's aliases (az, azimuth).
 */
export async function semanticMap(space: ParameterSpace, model: ForwardModel, target: Target, grid: Grid, opts: EvalOptions = {}): Promise<SemanticMap> {
  const start = performance.now();
  const canon = (n: string) => space.aliases[n] ?? n;
  const g: Grid = {
    axes: grid.axes.map((a) => ({ name: canon(a.name), values: a.values })),
    fixed: Object.fromEntries(Object.entries(grid.fixed).map(([k, v]) => [canon(k), v])),
  };
  checkGrid(g, space.dims, `the ${space.name} space`);
  const sub = restrictSpace(
    space,
    g.axes.map((a) => a.name),
    g.fixed,
  );
  const ev = new Evaluator(sub, model, target, opts);
  const n = gridSize(g);
  const points = Array.from({ length: n }, (_, i) => gridPoint(g, i));
  const scores = await ev.scores(points);
  const fixed: Record<string, number> = {};
  for (const [k, v] of Object.entries(sub.key.pinned as Record<string, number>)) fixed[k] = v;
  return {
    dims: g.axes.map((a) => ({ name: a.name, values: [...a.values] })),
    fixed,
    scores,
    evaluations: ev.stats.evaluations,
    cached: ev.stats.cached,
    seconds: (performance.now() - start) / 1000,
    renderSeconds: ev.stats.renderSeconds,
    modelSeconds: ev.stats.modelSeconds,
    cacheFile: ev.cache?.path,
  };
}

export interface OracleOptions extends EvalOptions {
  /** Parameters the points vary (default: all of the space's, in order). */
  axes?: readonly string[];
  /** Values of the parameters not in `axes` (default: their defaults). */
  fixed?: Readonly<Record<string, number>>;
}

/**
 * Batched f(u) for the robust-region code: points carry one value per axis (in `opts.axes` order, or all
 * the space's dimensions). Points outside a parameter's domain throw a SpaceError naming it.
 */
export function scoreOracle(space: ParameterSpace, model: ForwardModel, target: Target, opts: OracleOptions = {}): ScoreFn {
  let sub = space;
  if (opts.axes || opts.fixed) {
    const pinned = new Set(Object.keys(opts.fixed ?? {}).map((n) => space.aliases[n] ?? n));
    const axes = opts.axes ?? space.dims.map((d) => d.name).filter((n) => !pinned.has(n));
    sub = restrictSpace(space, axes, opts.fixed ?? {});
  }
  const ev = new Evaluator(sub, model, target, opts);
  return (points) => ev.scores(points);
}
