// `robustscope semantic map|regions|demo` (semantic.md): semantic maps of a classifier over the viewpoint
// of a rendered mesh or of a model over image transforms of dataset images, and robust regions around
// start points with SRVR, over the viewpoint or over image parameters (one region set per image; df/du by
// finite differences or, for image transforms of classifiers, exactly through the graph). Writes DIR/semantic.json (src/semantic/results.ts), DIR/report.html and keeps
// the score cache in DIR/cache (or --cache), so a re-run evaluates nothing it already has.
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { DatasetError, openDataset } from '../data/datasets.js';
import { openImageFolder } from '../data/image-folder.js';
import { fileSha256 } from '../eval/run.js';
import { writeSemanticReport } from '../report/semantic-html.js';
import { loadModel, type Normalize, type RobustModel } from '../runtime/model.js';
import { ExactGradError, exactImageGrad } from '../semantic/exact-grad.js';
import { checkGrid, DEFAULT_GRID_2D, domainText, type Grid, GridError, gridPoint, gridSize, inDomain, parseGrid, roundValue } from '../semantic/grid.js';
import { Evaluator, type SemanticMap, scoreOracle, semanticMap } from '../semantic/map.js';
import { loadMesh, type Mesh, MeshError } from '../semantic/mesh.js';
import {
  type Domain,
  findRegion,
  type GradFn,
  REFERENCE_DOMAIN,
  REFERENCE_START_POINTS,
  REGION_DEFAULTS,
  REGION_METHODS,
  RegionError,
  type RegionMethod,
  type ScoreFn,
} from '../semantic/regions.js';
import { renderWorkerHelps } from '../semantic/render-pool.js';
import {
  type SemanticMapRecord,
  type SemanticRegionRecord,
  type SemanticRegions,
  type SemanticResults,
  SemanticResultsError,
  scoresToJson,
  validateSemanticResults,
} from '../semantic/results.js';
import type { Target } from '../semantic/score.js';
import { canonicalViewpoint, imageSpace, meshHash, type ParamDim, type ParameterSpace, restrictSpace, rootOf, viewpointSpace } from '../semantic/space.js';
import { srvr } from '../semantic/srvr.js';
import { CliError, type Command, flag, type Io, int, type Parsed, parse, parseNormalize, required, str, UsageError, version } from './common.js';
import { Progress, type ProgressMode } from './progress.js';
import { semanticDemo } from './semantic-demo.js';

const HELP = `usage: robustscope semantic <map|regions|demo> [options]

Semantic robustness (Hamdi & Ghanem): how a model's score f (true-class probability, or pixel
accuracy / mIoU for segmentation) changes over semantic parameters such as the camera viewpoint of
a rendered 3D mesh or image rotation and brightness, and how large the regions are around a point
where the model stays right (SRVR). Every subcommand writes DIR/semantic.json and DIR/report.html.

  map       f over a grid: a mesh's viewpoint (--mesh) or dataset images under transforms (--data)
  regions   robust regions (naive, OIR_B, OIR_W, trap) of a mesh's viewpoint or of image transforms of
            dataset images, from start points, with SRVR
  demo      two bundled classifiers compared, offline, in a few CPU minutes

run 'robustscope semantic <subcommand> --help' for its options.`;

const MAP_HELP = `usage: robustscope semantic map --model M.onnx --mesh NAME|FILE.obj --class K --out DIR [options]
       robustscope semantic map --model M.onnx --data DIR --transform SPEC --out DIR [options]

Maps the model's score f over a grid of semantic parameters and writes DIR/semantic.json and
DIR/report.html (a heatmap for 2 axes, a line for 1). Scores are cached in DIR/cache: a re-run
(or a larger grid) only evaluates points it has not seen.

Viewpoint of a rendered mesh (f = softmax probability of class K):
  --mesh NAME|FILE        a bundled mesh (bunny, teapot, torus, cone, mug, chair, table, car, airplane,
                          bottle, cube) or a Wavefront OBJ file
  --class K               the true class: an index, or a name from the classes list next to the model
                          (M.json "classes", or classes.json in the model's folder)
  --grid SPEC             name=start:stop:step (stop exclusive) or name=value, comma-separated, over
                          az, el (degrees), distance, light_az, light_el
                          (default az=0:360:3,el=-10:90:3: 120 x 34 = 4080 renders)
  --size S                rendered image side (default 224)

Dataset images under image transforms (one map per image, one image at a time):
  --data DIR              folder layout: DIR/<class>/*.png (classification, score prob) or
                          DIR/images + DIR/labels (segmentation, score pixel-acc or miou)
  --format F              folder (default) | voc | ade20k (the last two: segmentation)
  --transform SPEC        grid over rotation (deg), scale, tx, ty (px), brightness, contrast, blur (px),
                          e.g. rotation=-30:30:1,brightness=0.5:1.5:0.05
  --score S               prob (default for class folders) | pixel-acc (default for segmentation) | miou
  --image ID              only this image (<class>/<file> for class folders, the file stem otherwise)
  --limit N               the first N images (default 1)
  --size S                segmentation crop: short side resized to S, centre crop (default: native)

Common:
  --model M.onnx          the model: one image input [N,3,H,W] in [0,1]
  --normalize M:S         prepend (x - mean) / std to the model
  --batch N               images per model call (default 16)
  --cache DIR             score cache (default DIR/cache)
  --threads N             onnxruntime threads (default: all cores)
  --quiet | --json        no progress | progress and the summary as JSON lines
  --out DIR               results directory
  -h, --help              this help`;

const REGIONS_HELP = `usage: robustscope semantic regions --model M.onnx --mesh NAME|FILE.obj --class K --out DIR [options]
       robustscope semantic regions --model M.onnx --data DIR --axes LIST --out DIR [options]

Grows robust regions around start points by descending integral bounds of f over the region's
corners, for each method and start point (and each image with --data). Writes DIR/semantic.json
(regions, volume ratios, SRVR per method), DIR/traces/[IMAGE/]<method>-<start>.json (a and b at every
iteration) and DIR/report.html (the regions drawn on a semantic map when there is one). Shares the
score cache with 'semantic map', so a re-run evaluates nothing new.

Viewpoint of a rendered mesh (az in [0, 360), el in [-10, 90) degrees):
  --mesh NAME|FILE        a bundled mesh or a Wavefront OBJ file (see 'semantic map --help')
  --class K               the true class: an index or a name from the classes list next to the model
  --start AZ,EL           a start point in degrees; repeat for several
                          (default the paper's four: 130,30 50,20 200,15 310,50)
  --fd-step H             finite-difference step for df/du of OIR_W and trap, degrees (default 1)
  --size S                rendered image side (default 224)
  --grid SPEC             grid of the map drawn under the regions (default: the 2D grid
                          az=0:360:3,el=-10:90:3 if the cache already holds all of it, else the cheap
                          az=0:360:10,el=-10:90:10)
  Points outside the renderer's domain (outer corners, finite-difference shifts, unclipped regions
  with --reference-quirks) are evaluated at the same camera position inside it: past a pole at
  (az + 180, +-180 - el), the azimuth modulo 360.

Image transforms of dataset images (one region set per image, one image at a time):
  --data DIR              class folders DIR/<class>/*.png (f = true-class probability), or
                          segmentation data (--format, --score, --size as for 'semantic map')
  --image ID | --limit N  one image (<class>/<file>) or the first N (default 1)
  --axes LIST             the region's parameters, comma-separated: rotation (deg), scale, tx, ty (px),
                          brightness, contrast, blur (px); the others stay at the identity
  --domain SPEC           name=lo:hi per axis, comma-separated, e.g. rotation=-45:45,brightness=0.3:1.7
                          (defaults: rotation -180:180, scale 0.5:2, tx -W/2:W/2, ty -H/2:H/2 of the
                          first image, brightness 0:2, contrast 0:2, blur 0:3)
  --start V1,V2,..        a start point, one value per axis; repeat for several (default the identity:
                          rotation 0, scale 1, tx 0, ty 0, brightness 1, contrast 1, blur 0)
  --grad fd|exact         df/du for OIR_W and trap: central finite differences (default) or exactly
                          through the ONNX graph (one run per batch; classifiers only)
  --fd-step H[,H..]       finite-difference step, one for all axes or one per axis, in the axes' units
                          (default rotation 1, scale 0.01, tx/ty 0.5, brightness/contrast 0.01, blur 0.05)
  --grid SPEC             the map of the first image drawn under the regions (default for 1 or 2 axes:
                          12 points per axis over the domain; no map for more axes)
  Points outside a parameter's valid range (outer corners, finite-difference shifts) are clamped
  into it (scale > 0; brightness, contrast, blur >= 0).

Common:
  --model M.onnx          the model: one image input [N,3,H,W] in [0,1]
  --method LIST           naive | oir_b | oir_w | trap, comma-separated (default naive,oir_b,oir_w)
  --iters N               iterations per region (default 800; the published runs used 600)
  --eta X                 step size (default 0.1)
  --alpha X               outer-region margin of OIR_B (default 0.05)
  --beta X                OIR_W weight (default 0.0009)
  --lambda X              naive/trap size penalty (default 0.1)
  --reference-quirks      reproduce the reference's defects: G = -grad f, regions never clipped
  --map DIR|FILE          draw the regions on the map of an earlier run (its semantic.json) instead
                          of computing one
  --normalize M:S         prepend (x - mean) / std to the model
  --batch N               images per model call (default 16)
  --cache DIR             score cache (default DIR/cache)
  --threads N             onnxruntime threads (default: all cores)
  --quiet | --json        no progress | progress and the summary as JSON lines
  --out DIR               results directory
  -h, --help              this help`;

/** The map drawn under regions when neither --map nor --grid is given and the cache lacks the 2D grid. */
export const REGIONS_CHEAP_GRID = 'az=0:360:10,el=-10:90:10';
export const OUT_OF_DOMAIN_RULE = 'the same camera position inside the renderer domain: beyond a pole (az + 180, +-180 - el), azimuth modulo 360';
const DEFAULT_METHODS: RegionMethod[] = ['naive', 'oir_b', 'oir_w'];

export const semanticCommand: Command = {
  name: 'semantic',
  summary: 'semantic robustness: score maps over viewpoint or image transforms, robust regions and SRVR',
  help: HELP,
  async run(argv: string[], io: Io): Promise<number> {
    const [sub, ...rest] = argv;
    if (sub === undefined || sub === '--help' || sub === '-h' || sub === 'help') {
      if (sub === undefined) throw new UsageError('a subcommand is required: map, regions or demo');
      io.stdout.write(`${HELP}\n`);
      return 0;
    }
    if (sub === 'map') return mapCommand(rest, io);
    if (sub === 'regions') return regionsCommand(rest, io);
    if (sub === 'demo') return semanticDemo(rest, io);
    throw new UsageError(`unknown subcommand '${sub}' (map, regions or demo)`);
  },
};

// ---------------------------------------------------------------------------------------------------
// Shared setup

const COMMON_OPTIONS = {
  model: { type: 'string' },
  normalize: { type: 'string' },
  batch: { type: 'string' },
  size: { type: 'string' },
  cache: { type: 'string' },
  threads: { type: 'string' },
  quiet: { type: 'boolean' },
  json: { type: 'boolean' },
  out: { type: 'string' },
} as const;

interface ModelSetup {
  model: RobustModel;
  path: string;
  sha256: string;
  normalize?: Normalize;
  /** Identity of the model in cache keys: the file's bytes, the normalisation and the output read. */
  modelId: string;
}

async function setupModel(p: Parsed): Promise<ModelSetup> {
  const path = required(p, 'model');
  if (!existsSync(path)) throw new CliError(`--model: '${path}' not found`);
  const normalize = parseNormalize(str(p, 'normalize'));
  let model: RobustModel;
  try {
    model = await loadModel(path, { normalize, threads: int(p, 'threads', undefined, 1) });
  } catch (e) {
    throw new CliError(`--model: cannot load '${path}': ${(e as Error).message}`);
  }
  const sha256 = fileSha256(path);
  return { model, path: resolve(path), sha256, normalize, modelId: `${sha256}:${JSON.stringify(normalize ?? null)}:${model.outputName}` };
}

/** Number of classes K of a classifier, from one forward pass on `image` ([1,C,H,W]). */
async function classCount(m: ModelSetup, image: Float32Array, dims: number[]): Promise<number> {
  let logitsDims: number[];
  try {
    logitsDims = (await m.model.forward({ data: image, dims })).logitsDims;
  } catch (e) {
    throw new CliError(`--model: cannot run '${m.path}' on [${dims.join(',')}] images: ${(e as Error).message}`);
  }
  if (logitsDims.length < 2 || logitsDims.slice(2).some((d) => d !== 1))
    throw new CliError(`--model: score 'prob' needs a classifier with logits [N,K]; '${m.path}' gives [${logitsDims.join(',')}]`);
  return logitsDims[1];
}

/** Class names next to the model: M.json {"classes": [...]} or classes.json ([...] or {"names": [...]}) in its folder. */
export function modelClassNames(modelPath: string): { names: string[]; file: string } | undefined {
  const candidates: [string, (j: unknown) => unknown][] = [
    [modelPath.replace(/\.onnx$/i, '.json'), (j) => (j as { classes?: unknown })?.classes],
    [join(dirname(modelPath), 'classes.json'), (j) => (Array.isArray(j) ? j : (j as { names?: unknown })?.names)],
  ];
  for (const [file, pick] of candidates) {
    if (file === modelPath || !existsSync(file)) continue;
    let names: unknown;
    try {
      names = pick(JSON.parse(readFileSync(file, 'utf8')));
    } catch {
      continue;
    }
    if (Array.isArray(names) && names.length > 0 && names.every((n) => typeof n === 'string')) return { names: names as string[], file };
  }
  return undefined;
}

/** --class as an index or a class name; checked against the model's K. */
function resolveClass(text: string, modelPath: string, K: number): { label: number; name?: string } {
  const list = modelClassNames(modelPath);
  let label: number;
  if (/^\d+$/.test(text.trim())) {
    label = Number(text.trim());
    if (label >= K) throw new UsageError(`--class ${label} is out of range: the model has ${K} classes (0..${K - 1})`);
  } else {
    if (!list)
      throw new UsageError(
        `--class '${text}' is not an index and there is no class list next to the model (${basename(modelPath).replace(/\.onnx$/i, '.json')} with "classes", or classes.json)`,
      );
    label = list.names.indexOf(text);
    if (label < 0) {
      const shown = list.names.slice(0, 12).join(', ');
      throw new UsageError(`--class '${text}' is not a class in '${list.file}' (${shown}${list.names.length > 12 ? ', ...' : ''})`);
    }
    if (label >= K) throw new UsageError(`--class '${text}' is class ${label} in '${list.file}', but the model has only ${K} classes`);
  }
  return { label, name: list?.names[label] };
}

function loadMeshOption(spec: string): Mesh {
  try {
    return loadMesh(spec);
  } catch (e) {
    if (e instanceof MeshError) {
      if (e.message.startsWith('unknown mesh')) throw new UsageError(`--mesh: ${e.message}`);
      throw new CliError(`--mesh: ${e.message}`);
    }
    throw e;
  }
}

function gridOption(text: string, option: string, space: ParameterSpace): Grid {
  try {
    const grid = parseGrid(text, space.aliases);
    if (grid.axes.length === 0) throw new GridError(`grid '${text}' has no range (name=start:stop:step) to map`);
    checkGrid(grid, space.dims, `the ${space.name} space`);
    return grid;
  } catch (e) {
    if (e instanceof GridError) throw new UsageError(`--${option}: ${e.message.replace(/^grid: /, '')}`);
    throw e;
  }
}

function numberOption(p: Parsed, name: string, dflt: number, ok: (x: number) => boolean, rule: string): number {
  const v = str(p, name);
  if (v === undefined) return dflt;
  const x = v.trim() === '' ? Number.NaN : Number(v);
  if (!Number.isFinite(x) || !ok(x)) throw new UsageError(`--${name} must be ${rule}, got '${v}'`);
  return x;
}

function progressMode(p: Parsed): ProgressMode {
  return flag(p, 'quiet') ? 'quiet' : flag(p, 'json') ? 'json' : 'auto';
}

function mapRecord(m: SemanticMap, space: ParameterSpace, subject: string, label?: number, labelName?: string): SemanticMapRecord {
  const unit = (n: string) => space.dims.find((d) => d.name === n)?.unit ?? '';
  return {
    subject,
    label,
    labelName,
    dims: m.dims.map((d) => ({ name: d.name, unit: unit(d.name), values: d.values })),
    fixed: m.fixed,
    scores: scoresToJson(m.scores),
    evaluations: m.evaluations,
    cached: m.cached,
    seconds: m.seconds,
  };
}

async function writeOutputs(out: string, r: SemanticResults): Promise<{ json: string; html: string }> {
  mkdirSync(out, { recursive: true });
  const json = join(out, 'semantic.json');
  const html = join(out, 'report.html');
  writeFileSync(json, `${JSON.stringify(r, null, 1)}\n`);
  await writeSemanticReport(r, html);
  return { json, html };
}

const now = () => performance.now();

interface MeshSetup extends ModelSetup {
  meshSpec: string;
  mesh: Mesh;
  size: number;
  space: ParameterSpace;
  target: Target & { score: 'prob' };
  labelName?: string;
  batch: number;
  cacheDir: string;
}

async function setupMesh(p: Parsed, out: string): Promise<MeshSetup> {
  const meshSpec = required(p, 'mesh');
  const classText = required(p, 'class');
  const size = int(p, 'size', 224, 1);
  const batch = int(p, 'batch', 16, 1);
  const mesh = loadMeshOption(meshSpec);
  const m = await setupModel(p);
  const space = viewpointSpace(mesh, { size, worker: renderWorkerHelps(int(p, 'threads', undefined, 1)) });
  const K = await classCount(m, new Float32Array(3 * size * size), [1, 3, size, size]);
  const { label, name } = resolveClass(classText, required(p, 'model'), K);
  return {
    ...m,
    meshSpec,
    mesh,
    size,
    space,
    target: { score: 'prob', label },
    labelName: name,
    batch,
    cacheDir: resolve(str(p, 'cache') ?? join(out, 'cache')),
  };
}

function baseResults(
  command: 'map' | 'regions',
  m: ModelSetup,
): Omit<SemanticResults, 'space' | 'score' | 'config' | 'maps' | 'evaluations' | 'cached' | 'timings'> {
  return {
    schema: 'robustscope/semantic',
    version: 1,
    command,
    createdAt: new Date().toISOString(),
    robustscopeVersion: version(),
    model: { path: m.path, sha256: m.sha256, normalize: m.normalize },
  };
}

function mapProgress(progress: Progress, phase: string): (e: { done: number; total: number; evaluations: number }) => void {
  return (e) => progress.update({ phase, done: e.done, total: e.total, stats: { evaluated: e.evaluations } }, e.done === e.total);
}

function doneLine(io: Io, mode: ProgressMode, r: SemanticResults, files: { json: string; html: string }, extra: string[]): void {
  if (mode === 'json') {
    const srvrs = r.regions?.srvr;
    io.stdout.write(
      `${JSON.stringify({ event: 'done', json: files.json, html: files.html, evaluations: r.evaluations, cached: r.cached, seconds: r.timings.seconds, ...(srvrs ? { srvr: srvrs } : {}) })}\n`,
    );
  } else if (mode !== 'quiet') io.stdout.write(`${[...extra, `wrote ${files.json} and ${files.html}`].join('\n')}\n`);
}

function statsLine(m: SemanticMapRecord): string {
  const v = m.scores.filter((s): s is number => s !== null);
  const mean = v.reduce((a, b) => a + b, 0) / Math.max(1, v.length);
  const f = (x: number) => x.toFixed(4);
  return `${m.subject}: ${m.dims.map((d) => `${d.name} x${d.values.length}`).join(', ')} = ${m.scores.length} points; f min ${f(Math.min(...v))} mean ${f(mean)} max ${f(Math.max(...v))}; ${m.evaluations} evaluated, ${m.cached} cached`;
}

// ---------------------------------------------------------------------------------------------------
// semantic map

async function mapCommand(argv: string[], io: Io): Promise<number> {
  const p = parse(argv, {
    ...COMMON_OPTIONS,
    mesh: { type: 'string' },
    class: { type: 'string' },
    grid: { type: 'string' },
    data: { type: 'string' },
    format: { type: 'string' },
    transform: { type: 'string' },
    score: { type: 'string' },
    image: { type: 'string' },
    limit: { type: 'string' },
  });
  if (flag(p, 'help')) {
    io.stdout.write(`${MAP_HELP}\n`);
    return 0;
  }
  const out = required(p, 'out');
  return meshOrData(p, 'map', 'maps') === 'mesh' ? meshMap(p, out, io) : imageMaps(p, out, io);
}

async function meshMap(p: Parsed, out: string, io: Io): Promise<number> {
  for (const o of ['transform', 'score', 'image', 'limit', 'format'])
    if (str(p, o) !== undefined) throw new UsageError(`--${o} is for --data maps, not --mesh`);
  const t0 = now();
  const s = await setupMesh(p, out);
  const gridText = str(p, 'grid') ?? DEFAULT_GRID_2D;
  const grid = gridOption(gridText, 'grid', s.space);
  const mode = progressMode(p);
  const progress = new Progress(io.stderr as Io['stderr'] & { isTTY?: boolean }, mode);
  const map = await semanticMap(s.space, s.model, s.target, grid, {
    batchSize: s.batch,
    cacheDir: s.cacheDir,
    modelId: s.modelId,
    onBatch: mapProgress(progress, `map ${s.meshSpec}`),
  });
  progress.finish();
  const rec = mapRecord(map, s.space, s.meshSpec, s.target.label, s.labelName);
  const r: SemanticResults = {
    ...baseResults('map', s),
    space: 'viewpoint',
    score: 'prob',
    mesh: { name: s.meshSpec, sha256: meshHash(s.mesh), size: s.size },
    config: { grid: gridText, class: s.target.label, className: s.labelName ?? null, size: s.size, batch: s.batch, cache: s.cacheDir },
    maps: [rec],
    evaluations: map.evaluations,
    cached: map.cached,
    timings: { seconds: (now() - t0) / 1000, renderSeconds: map.renderSeconds, modelSeconds: map.modelSeconds, regionSeconds: 0 },
    cacheFile: map.cacheFile,
  };
  const files = await writeOutputs(out, r);
  doneLine(io, mode, r, files, [statsLine(rec)]);
  return 0;
}

interface ImageItem {
  id: string;
  image: Float32Array;
  width: number;
  height: number;
  classId?: number;
  labels?: Uint8Array | Int32Array;
}

/** Dataset images for the image-space commands (map and regions), decoded one at a time. */
interface ImageData {
  root: string;
  format: string;
  score: 'prob' | 'pixel-acc' | 'miou';
  classification: boolean;
  /** Segmentation crop size (null for class folders). */
  cropSize: number | 'native';
  ids: string[];
  classNames: string[];
  ignoreIndex: number;
  /** Dataset indices selected by --image / --limit. */
  indices: number[];
  imageId?: string;
  fetch(k: number): Promise<ImageItem>;
}

/** --data, --format, --score, --image, --limit, --size: the dataset and the images selected. */
function openImageData(p: Parsed): ImageData {
  const root = required(p, 'data');
  const format = str(p, 'format') ?? 'folder';
  if (!['folder', 'voc', 'ade20k'].includes(format)) throw new UsageError(`--format must be one of folder, voc, ade20k, got '${format}'`);
  if (!existsSync(root) || !statSync(root).isDirectory()) throw new CliError(`--data: '${root}' is not a directory`);
  const segLayout = format !== 'folder' || (existsSync(join(root, 'images')) && existsSync(join(root, 'labels')));
  const scoreText = str(p, 'score') ?? (segLayout ? 'pixel-acc' : 'prob');
  if (!['prob', 'pixel-acc', 'miou'].includes(scoreText)) throw new UsageError(`--score must be one of prob, pixel-acc, miou, got '${scoreText}'`);
  const score = scoreText as 'prob' | 'pixel-acc' | 'miou';
  const classification = score === 'prob';
  if (classification && format !== 'folder') throw new UsageError(`--score prob needs class folders (--format folder); ${format} is a segmentation dataset`);
  if (!classification && !segLayout) throw new UsageError(`--score ${score} needs a segmentation dataset (DIR/images + DIR/labels, or --format voc|ade20k)`);
  const imageId = str(p, 'image');
  const limit = int(p, 'limit', undefined, 1);
  if (imageId !== undefined && limit !== undefined) throw new UsageError('--image and --limit exclude each other');
  const sizeText = str(p, 'size');
  if (classification && sizeText !== undefined) throw new UsageError('--size applies to segmentation datasets only (class-folder images are used as they are)');
  const cropSize: number | 'native' = sizeText === undefined ? 'native' : int(p, 'size', 1, 1);

  // The images, as a lazy list (decoded one at a time).
  let ids: string[];
  let fetch: (k: number) => Promise<ImageItem>;
  let classNames: string[] = [];
  let ignoreIndex = 255;
  try {
    if (classification) {
      const ds = openImageFolder(root);
      classNames = ds.classes;
      ids = ds.ids;
      fetch = async (k) => {
        const s = await ds.get(k);
        return { id: s.id, image: s.image, width: s.width, height: s.height, classId: s.classId };
      };
    } else {
      const ds = openDataset({ format: format as 'folder' | 'voc' | 'ade20k', root, size: cropSize });
      classNames = ds.classes.names;
      ignoreIndex = ds.ignoreIndex;
      ids = ds.ids;
      fetch = async (k) => {
        const s = await ds.get(k);
        return { id: s.id, image: s.image, width: s.width, height: s.height, labels: s.label };
      };
    }
  } catch (e) {
    if (e instanceof DatasetError) throw new CliError(`--data: ${e.message}`);
    throw e;
  }
  let indices: number[];
  if (imageId !== undefined) {
    const k = ids.indexOf(imageId);
    if (k < 0) throw new UsageError(`--image '${imageId}' is not in '${root}' (ids look like '${ids[0]}')`);
    indices = [k];
  } else indices = Array.from({ length: Math.min(limit ?? 1, ids.length) }, (_, k) => k);
  const read = async (k: number): Promise<ImageItem> => {
    try {
      return await fetch(k);
    } catch (e) {
      throw new CliError(`--data: cannot read image '${ids[k]}': ${(e as Error).message}`);
    }
  };
  return { root, format, score, classification, cropSize, ids, classNames, ignoreIndex, indices, imageId, fetch: read };
}

/** The score of one dataset image: its class probability (checking K once) or the segmentation score. */
async function imageTarget(d: ImageData, m: ModelSetup, item: ImageItem, checked: { K: boolean }): Promise<Target> {
  if (!d.classification) return { score: d.score as 'pixel-acc' | 'miou' };
  if (!checked.K) {
    const K = await classCount(m, item.image, [1, 3, item.height, item.width]);
    if (d.classNames.length > K) throw new CliError(`--data: '${d.root}' has ${d.classNames.length} classes but the model only ${K}`);
    checked.K = true;
  }
  return { score: 'prob', label: item.classId as number };
}

async function imageMaps(p: Parsed, out: string, io: Io): Promise<number> {
  for (const o of ['mesh', 'class', 'grid'])
    if (str(p, o) !== undefined) throw new UsageError(`--${o} is for --mesh maps; with --data use --transform (labels come from the dataset)`);
  const t0 = now();
  const transform = required(p, 'transform');
  const d = openImageData(p);
  const { root, format, score, classification, cropSize, classNames, ignoreIndex, indices, imageId } = d;
  const batch = int(p, 'batch', 16, 1);
  const cacheDir = resolve(str(p, 'cache') ?? join(out, 'cache'));
  const m = await setupModel(p);

  const mode = progressMode(p);
  const progress = new Progress(io.stderr as Io['stderr'] & { isTTY?: boolean }, mode);
  const maps: SemanticMapRecord[] = [];
  let evaluations = 0;
  let cached = 0;
  let renderSeconds = 0;
  let modelSeconds = 0;
  let cacheFile: string | undefined;
  const checked = { K: false };
  for (const [n, k] of indices.entries()) {
    const item = await d.fetch(k);
    const shape = { channels: 3, height: item.height, width: item.width };
    const space = imageSpace(item.image, shape, item.labels ? { labels: item.labels, ignoreIndex } : {});
    const grid = gridOption(transform, 'transform', space);
    const target = await imageTarget(d, m, item, checked);
    const map = await semanticMap(space, m.model, target, grid, {
      batchSize: batch,
      cacheDir,
      modelId: m.modelId,
      onBatch: mapProgress(progress, `map ${item.id} (${n + 1}/${indices.length})`),
    });
    const label = target.score === 'prob' ? target.label : undefined;
    maps.push(mapRecord(map, space, item.id, label, label !== undefined ? classNames[label] : undefined));
    evaluations += map.evaluations;
    cached += map.cached;
    renderSeconds += map.renderSeconds;
    modelSeconds += map.modelSeconds;
    cacheFile = map.cacheFile;
  }
  progress.finish();
  const r: SemanticResults = {
    ...baseResults('map', m),
    space: 'image',
    score,
    data: { root: resolve(root), format },
    config: {
      transform,
      images: indices.length,
      image: imageId ?? null,
      size: classification ? null : String(cropSize),
      batch,
      cache: cacheDir,
    },
    maps,
    evaluations,
    cached,
    timings: { seconds: (now() - t0) / 1000, renderSeconds, modelSeconds, regionSeconds: 0 },
    cacheFile,
  };
  const files = await writeOutputs(out, r);
  doneLine(io, mode, r, files, maps.map(statsLine));
  return 0;
}

// ---------------------------------------------------------------------------------------------------
// semantic regions

function parseMethods(text: string | undefined): RegionMethod[] {
  if (text === undefined) return DEFAULT_METHODS;
  const list = text
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  if (list.length === 0) throw new UsageError(`--method needs at least one of ${REGION_METHODS.join(', ')}`);
  for (const m of list)
    if (!(REGION_METHODS as readonly string[]).includes(m)) throw new UsageError(`--method: unknown method '${m}' (${REGION_METHODS.join(', ')})`);
  return [...new Set(list)] as RegionMethod[];
}

function parseStarts(raw: unknown, domain: Domain): number[][] {
  if (raw === undefined) return REFERENCE_START_POINTS.map((s) => [...s]);
  const list = Array.isArray(raw) ? (raw as string[]) : [String(raw)];
  return list.map((text) => {
    const parts = text.split(',').map((s) => s.trim());
    const v = parts.map((s) => (s === '' ? Number.NaN : Number(s)));
    if (v.length !== 2 || !v.every(Number.isFinite)) throw new UsageError(`--start '${text}' must be AZ,EL in degrees, e.g. 130,30`);
    v.forEach((x, i) => {
      const [lo, hi] = domain[i];
      if (x < lo || x > hi) throw new UsageError(`--start '${text}': ${i === 0 ? 'az' : 'el'} = ${x} is outside the region domain [${lo}, ${hi}]`);
    });
    return v;
  });
}

/**
 * The oracle's view of points outside the renderer's domain (see OUT_OF_DOMAIN_RULE): outer corners
 * and finite-difference shifts near el = 90 step past it even in corrected mode, and with
 * --reference-quirks the region itself is never clipped. The reflection is exact (the same camera
 * position) and makes equal views share cache entries.
 */
export const wrapViewpoint = canonicalViewpoint;

async function readMapFile(spec: string): Promise<{ file: string; results: SemanticResults }> {
  let file = spec;
  try {
    if (statSync(file).isDirectory()) file = join(file, 'semantic.json');
  } catch {
    throw new CliError(`--map: '${spec}' not found`);
  }
  let data: unknown;
  try {
    data = JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    throw new CliError(`--map: cannot read '${file}': ${(e as Error).message}`);
  }
  try {
    return { file, results: validateSemanticResults(data, file) };
  } catch (e) {
    if (e instanceof SemanticResultsError) throw new CliError(`--map: ${e.message}`);
    throw e;
  }
}

/** Whether the score cache already holds every point of `grid` (so drawing it costs nothing). */
function cacheHolds(s: MeshSetup, grid: Grid): boolean {
  const sub = restrictSpace(
    s.space,
    grid.axes.map((a) => a.name),
    grid.fixed,
  );
  const cache = new Evaluator(sub, s.model, s.target, { cacheDir: s.cacheDir, modelId: s.modelId }).cache;
  if (!cache || cache.size < gridSize(grid)) return false;
  for (let i = 0; i < gridSize(grid); i++) if (cache.get(rootOf(sub, [gridPoint(grid, i)]).points[0]) === undefined) return false;
  return true;
}

const startName = (v: readonly number[]) => v.map((x) => String(x)).join('_');

const REGION_OPTIONS = {
  ...COMMON_OPTIONS,
  mesh: { type: 'string' },
  class: { type: 'string' },
  data: { type: 'string' },
  format: { type: 'string' },
  score: { type: 'string' },
  image: { type: 'string' },
  limit: { type: 'string' },
  axes: { type: 'string' },
  domain: { type: 'string' },
  grad: { type: 'string' },
  method: { type: 'string' },
  start: { type: 'string', multiple: true },
  iters: { type: 'string' },
  eta: { type: 'string' },
  alpha: { type: 'string' },
  beta: { type: 'string' },
  lambda: { type: 'string' },
  'fd-step': { type: 'string' },
  'reference-quirks': { type: 'boolean' },
  map: { type: 'string' },
  grid: { type: 'string' },
} as const;

/** Options of the region search shared by the viewpoint and image-space runs. */
interface RegionSettings {
  methods: RegionMethod[];
  iterations: number;
  eta: number;
  alpha: number;
  beta: number;
  lambda: number;
  quirks: boolean;
  grad: 'fd' | 'exact';
  previous?: { file: string; results: SemanticResults };
}

/** Exactly one of --mesh (viewpoint space) and --data (image-transform spaces). */
function meshOrData(p: Parsed, one: string, many: string): 'mesh' | 'data' {
  const hasMesh = str(p, 'mesh') !== undefined;
  if (hasMesh === (str(p, 'data') !== undefined))
    throw new UsageError(hasMesh ? '--mesh and --data exclude each other' : `give --mesh (viewpoint ${one}) or --data (image-transform ${many})`);
  return hasMesh ? 'mesh' : 'data';
}

async function regionsCommand(argv: string[], io: Io): Promise<number> {
  const p = parse(argv, REGION_OPTIONS);
  if (flag(p, 'help')) {
    io.stdout.write(`${REGIONS_HELP}\n`);
    return 0;
  }
  const hasMesh = meshOrData(p, 'regions', 'regions') === 'mesh';
  const gradText = str(p, 'grad') ?? 'fd';
  if (gradText !== 'fd' && gradText !== 'exact') throw new UsageError(`--grad must be fd or exact, got '${gradText}'`);
  if (hasMesh) {
    if (gradText === 'exact')
      throw new UsageError(
        '--grad exact is for image-space regions (--data): the viewpoint of a mesh is rendered outside the ONNX graph, so its gradient is by finite differences (--grad fd, --fd-step)',
      );
    for (const o of ['axes', 'domain', 'image', 'limit', 'format', 'score'])
      if (str(p, o) !== undefined) throw new UsageError(`--${o} is for --data regions, not --mesh`);
  } else
    for (const o of ['mesh', 'class'])
      if (str(p, o) !== undefined) throw new UsageError(`--${o} is for --mesh regions; with --data the classes come from the dataset`);
  const out = required(p, 'out');
  const pos = (x: number) => x > 0;
  const nonneg = (x: number) => x >= 0;
  const mapSpec = str(p, 'map');
  if (mapSpec !== undefined && str(p, 'grid') !== undefined)
    throw new UsageError('--map and --grid exclude each other (--grid computes a map, --map reuses one)');
  const settings: RegionSettings = {
    methods: parseMethods(str(p, 'method')),
    iterations: int(p, 'iters', REGION_DEFAULTS.iterations, 1),
    eta: numberOption(p, 'eta', REGION_DEFAULTS.eta, pos, 'a number > 0'),
    alpha: numberOption(p, 'alpha', REGION_DEFAULTS.alpha, nonneg, 'a number >= 0'),
    beta: numberOption(p, 'beta', REGION_DEFAULTS.beta, nonneg, 'a number >= 0'),
    lambda: numberOption(p, 'lambda', REGION_DEFAULTS.lambda, nonneg, 'a number >= 0'),
    quirks: flag(p, 'reference-quirks'),
    grad: gradText,
  };
  return hasMesh ? meshRegions(p, out, settings, io) : imageRegions(p, out, settings, io);
}

interface RegionRun {
  /** Score oracle over the region axes (points may lie outside the domain: outer corners, FD shifts). */
  score: ScoreFn;
  /** Exact gradients (--grad exact); absent: finite differences of `score`. */
  grad?: GradFn;
  fdStep: number | readonly number[];
  axes: readonly string[];
  domain: Domain;
  starts: readonly number[][];
  /** The image id (image runs). */
  subject?: string;
  /** Trace file of one region, relative to DIR. */
  traceFile(method: RegionMethod, start: readonly number[]): string;
  /** Progress: regions already run before this call, and the total number of iterations. */
  progress: Progress;
  doneBefore: number;
  total: number;
  evaluated(): number;
}

/** Every method x start for one oracle: findRegion, a trace file each, the records. */
async function runRegions(out: string, s: RegionSettings, run: RegionRun): Promise<SemanticRegionRecord[]> {
  const items: SemanticRegionRecord[] = [];
  let k = run.doneBefore;
  for (const method of s.methods)
    for (const start of run.starts) {
      const phase = `${run.subject ? `${run.subject}: ` : ''}${method} from (${start.join(', ')})`;
      const t1 = now();
      let res: Awaited<ReturnType<typeof findRegion>>;
      try {
        res = await findRegion({
          method,
          score: run.score,
          grad: method === 'oir_w' || method === 'trap' ? run.grad : undefined,
          fdStep: run.fdStep,
          start,
          domain: run.domain,
          eta: s.eta,
          alpha: s.alpha,
          beta: s.beta,
          lambda: s.lambda,
          iterations: s.iterations,
          referenceQuirks: s.quirks,
          trace: true,
          onIteration: (st) =>
            run.progress.update({ phase, done: k * s.iterations + st.iteration + 1, total: run.total, stats: { evaluated: run.evaluated() } }),
        });
      } catch (e) {
        if (e instanceof RegionError || e instanceof ExactGradError) throw new CliError(`regions (${phase}): ${e.message}`);
        throw e;
      }
      k++;
      const trace = run.traceFile(method, start);
      mkdirSync(dirname(join(out, trace)), { recursive: true });
      writeFileSync(
        join(out, trace),
        `${JSON.stringify({
          schema: 'robustscope/semantic-trace',
          version: 1,
          method,
          ...(run.subject !== undefined ? { subject: run.subject } : {}),
          axes: run.axes,
          start,
          referenceQuirks: s.quirks,
          steps: (res.trace ?? []).map((t) => ({ iteration: t.iteration, a: Array.from(t.a), b: Array.from(t.b), loss: t.loss ?? null })),
          final: { a: Array.from(res.a), b: Array.from(res.b) },
        })}\n`,
      );
      items.push({
        method,
        ...(run.subject !== undefined ? { subject: run.subject } : {}),
        start: [...start],
        a: Array.from(res.a),
        b: Array.from(res.b),
        volumeRatio: res.volumeRatio,
        iterations: res.iterations,
        evaluations: res.evaluations,
        seconds: (now() - t1) / 1000,
        trace,
      });
    }
  return items;
}

function srvrPerMethod(methods: readonly RegionMethod[], items: readonly SemanticRegionRecord[], domain: Domain): Record<string, number> {
  const out: Record<string, number> = {};
  for (const method of methods)
    out[method] = srvr(
      items.filter((i) => i.method === method),
      domain,
    );
  return out;
}

/** The regions block of semantic.json: the search settings, the regions and SRVR per method. */
function regionsRecord(
  st: RegionSettings,
  axes: string[],
  domain: Domain,
  fdStep: number | number[],
  outOfDomain: string,
  items: SemanticRegionRecord[],
): SemanticRegions {
  return {
    axes,
    domain: domain.map(([lo, hi]) => [lo, hi]),
    config: {
      methods: st.methods,
      iterations: st.iterations,
      eta: st.eta,
      alpha: st.alpha,
      beta: st.beta,
      lambda: st.lambda,
      fdStep,
      grad: st.grad,
      referenceQuirks: st.quirks,
      outOfDomain,
    },
    items,
    srvr: srvrPerMethod(st.methods, items, domain),
  };
}

async function meshRegions(p: Parsed, out: string, st: RegionSettings, io: Io): Promise<number> {
  const t0 = now();
  const domain = REFERENCE_DOMAIN;
  const { methods, iterations } = st;
  const starts = parseStarts((p.values as Record<string, unknown>).start, domain);
  const fdStep = numberOption(p, 'fd-step', REGION_DEFAULTS.fdStep, (x) => x > 0, 'a number > 0 (degrees)');
  const mapSpec = str(p, 'map');
  const previous = mapSpec !== undefined ? await readMapFile(mapSpec) : undefined;
  const s = await setupMesh(p, out);
  const mode = progressMode(p);
  const progress = new Progress(io.stderr as Io['stderr'] & { isTTY?: boolean }, mode);

  // The map drawn under the regions: reused, or computed through the same cache as the oracle.
  let maps: SemanticMapRecord[];
  let mapEval = { evaluations: 0, cached: 0, renderSeconds: 0, modelSeconds: 0 };
  let gridText: string | null = null;
  let cacheFile: string | undefined;
  if (previous) {
    maps = previous.results.maps.slice(0, 1);
    if (maps.length === 0) throw new CliError(`--map: '${previous.file}' holds no map`);
    if (previous.results.model.sha256 !== s.sha256 || previous.results.mesh?.sha256 !== meshHash(s.mesh))
      progress.log(`note: the map in '${previous.file}' was made with a different model or mesh; it is drawn as it is`);
  } else {
    gridText = str(p, 'grid') ?? null;
    if (gridText === null) gridText = cacheHolds(s, gridOption(DEFAULT_GRID_2D, 'grid', s.space)) ? DEFAULT_GRID_2D : REGIONS_CHEAP_GRID;
    const grid = gridOption(gridText, 'grid', s.space);
    const map = await semanticMap(s.space, s.model, s.target, grid, {
      batchSize: s.batch,
      cacheDir: s.cacheDir,
      modelId: s.modelId,
      onBatch: mapProgress(progress, `map ${s.meshSpec}`),
    });
    progress.finish();
    maps = [mapRecord(map, s.space, s.meshSpec, s.target.label, s.labelName)];
    mapEval = map;
    cacheFile = map.cacheFile;
  }

  // The oracle: f over (az, el), the other viewpoint parameters at their defaults, same cache as the map.
  let oracleEvaluations = 0;
  let oracleRequested = 0;
  const raw = scoreOracle(s.space, s.model, s.target, {
    axes: ['az', 'el'],
    batchSize: s.batch,
    cacheDir: s.cacheDir,
    modelId: s.modelId,
    onBatch: (e) => {
      oracleEvaluations = e.evaluations;
    },
  });
  const oracle: ScoreFn = (points) => {
    oracleRequested += points.length;
    return raw(points.map((q) => wrapViewpoint(q)));
  };

  mkdirSync(join(out, 'traces'), { recursive: true });
  const tr = now();
  const items = await runRegions(out, st, {
    score: oracle,
    fdStep,
    axes: ['az', 'el'],
    domain,
    starts,
    traceFile: (method, start) => `traces/${method}-${startName(start)}.json`,
    progress,
    doneBefore: 0,
    total: methods.length * starts.length * iterations,
    evaluated: () => oracleEvaluations,
  });
  progress.finish();
  // Viewpoint regions always use finite differences (--grad exact is refused for meshes).
  const regions = regionsRecord({ ...st, grad: 'fd' }, ['az', 'el'], domain, fdStep, OUT_OF_DOMAIN_RULE, items);
  const srvrByMethod = regions.srvr;
  const r: SemanticResults = {
    ...baseResults('regions', s),
    space: 'viewpoint',
    score: 'prob',
    mesh: { name: s.meshSpec, sha256: meshHash(s.mesh), size: s.size },
    config: {
      grid: gridText,
      class: s.target.label,
      className: s.labelName ?? null,
      size: s.size,
      batch: s.batch,
      cache: s.cacheDir,
      starts: starts.map((v) => v.join(',')).join(' '),
    },
    maps,
    mapSource: previous?.file,
    regions,
    evaluations: mapEval.evaluations + oracleEvaluations,
    cached: mapEval.cached + (oracleRequested - oracleEvaluations),
    timings: { seconds: (now() - t0) / 1000, renderSeconds: mapEval.renderSeconds, modelSeconds: mapEval.modelSeconds, regionSeconds: (now() - tr) / 1000 },
    cacheFile,
  };
  const files = await writeOutputs(out, r);
  const lines = ['method   SRVR      volume ratio per start'];
  for (const method of methods)
    lines.push(
      `${method.padEnd(8)} ${`${(100 * srvrByMethod[method]).toFixed(2)}%`.padEnd(9)} ${items
        .filter((i) => i.method === method)
        .map((i) => `(${i.start.join(',')}) ${(100 * i.volumeRatio).toFixed(2)}%`)
        .join('  ')}`,
    );
  lines.push(`${r.evaluations} points evaluated, ${r.cached} from the cache`);
  doneLine(io, mode, r, files, lines);
  return 0;
}

// ---------------------------------------------------------------------------------------------------
// semantic regions --data: image-space parameters of dataset images

/**
 * Default region domain per image parameter (--domain overrides): a full turn, half to double size,
 * half the image either way, black to double brightness, flat grey to double contrast, up to 3 px blur.
 */
export function defaultImageDomain(name: string, width: number, height: number): [number, number] {
  const d: Record<string, [number, number]> = {
    rotation: [-180, 180],
    scale: [0.5, 2],
    tx: [-width / 2, width / 2],
    ty: [-height / 2, height / 2],
    brightness: [0, 2],
    contrast: [0, 2],
    blur: [0, 3],
  };
  return d[name];
}

/** Default finite-difference step per image parameter, in its units (--fd-step overrides). */
export const IMAGE_FD_STEPS: Readonly<Record<string, number>> = { rotation: 1, scale: 0.01, tx: 0.5, ty: 0.5, brightness: 0.01, contrast: 0.01, blur: 0.05 };

/** The map drawn under 1-D and 2-D image regions when neither --grid nor --map is given: points per axis over the domain. */
export const IMAGE_REGIONS_MAP_POINTS = 12;

/** Smallest scale an out-of-domain point is evaluated at (scale must be > 0). */
const MIN_SCALE = 1e-6;
export const IMAGE_OUT_OF_DOMAIN_RULE = `parameters clamped into their valid ranges (scale >= ${MIN_SCALE}; brightness, contrast, blur >= 0); rotation, tx, ty are evaluated as they are`;

/** The image space's parameters and aliases (no image needed). */
const IMAGE_PARAMS = imageSpace(new Float32Array(3), { channels: 3, height: 1, width: 1 });

function parseAxes(text: string): string[] {
  const names = text.split(',').map((s) => s.trim());
  const known = IMAGE_PARAMS.dims.map((d) => d.name);
  if (names.length === 0 || names.some((n) => n === ''))
    throw new UsageError(`--axes '${text}': expected parameter names separated by commas, e.g. rotation,brightness`);
  const axes = names.map((n) => {
    const c = IMAGE_PARAMS.aliases[n] ?? n;
    if (!known.includes(c)) throw new UsageError(`--axes: unknown parameter '${n}' (image parameters: ${known.join(', ')})`);
    return c;
  });
  const dup = axes.find((a, i) => axes.indexOf(a) !== i);
  if (dup) throw new UsageError(`--axes: '${dup}' is named twice`);
  return axes;
}

/** --domain name=lo:hi,...: explicit bounds of some axes, checked against each parameter's valid range. */
function parseDomain(text: string | undefined, axes: readonly string[]): Record<string, [number, number]> {
  const out: Record<string, [number, number]> = {};
  if (text === undefined) return out;
  for (const part of text.split(',').map((s) => s.trim())) {
    const m = /^([A-Za-z_]+)=([^:]+):([^:]+)$/.exec(part);
    if (!m) throw new UsageError(`--domain part '${part}': expected name=lo:hi, e.g. rotation=-45:45`);
    const name = IMAGE_PARAMS.aliases[m[1]] ?? m[1];
    if (!axes.includes(name)) throw new UsageError(`--domain: '${m[1]}' is not one of --axes (${axes.join(', ')})`);
    if (name in out) throw new UsageError(`--domain: '${name}' is given twice`);
    const [lo, hi] = [m[2], m[3]].map((v) => (v.trim() === '' ? Number.NaN : Number(v)));
    if (!Number.isFinite(lo) || !Number.isFinite(hi) || !(hi > lo)) throw new UsageError(`--domain part '${part}': needs finite numbers lo < hi`);
    const dim = IMAGE_PARAMS.dims.find((d) => d.name === name) as ParamDim;
    for (const v of [lo, hi])
      if (!inDomain(dim, v))
        throw new UsageError(`--domain: ${name}=${v} is outside the valid range of '${name}' ${domainText(dim)}${dim.why ? ` (${dim.why})` : ''}`);
    out[name] = [lo, hi];
  }
  return out;
}

/** --fd-step: one step for every axis or one per axis (parameter units); default IMAGE_FD_STEPS. */
function parseImageFdStep(text: string | undefined, axes: readonly string[]): number[] {
  if (text === undefined) return axes.map((a) => IMAGE_FD_STEPS[a]);
  const v = text.split(',').map((s) => (s.trim() === '' ? Number.NaN : Number(s)));
  if (!v.every((x) => Number.isFinite(x) && x > 0) || (v.length !== 1 && v.length !== axes.length))
    throw new UsageError(`--fd-step must be one number > 0 or one per axis (${axes.join(', ')}), got '${text}'`);
  return v.length === 1 ? axes.map(() => v[0]) : v;
}

function parseImageStarts(raw: unknown, axes: readonly string[], domain: Domain): number[][] {
  const fmtPoint = (v: readonly number[]) => axes.map((a, i) => `${a}=${v[i]}`).join(', ');
  if (raw === undefined) {
    // The identity transform: nothing changed.
    const start = axes.map((a) => (IMAGE_PARAMS.dims.find((d) => d.name === a) as ParamDim).default);
    start.forEach((x, i) => {
      const [lo, hi] = domain[i];
      if (x < lo || x > hi)
        throw new UsageError(`--start: the default start (the identity, ${fmtPoint(start)}) is outside the domain of ${axes[i]} [${lo}, ${hi}]; give --start`);
    });
    return [start];
  }
  const list = Array.isArray(raw) ? (raw as string[]) : [String(raw)];
  return list.map((text) => {
    const v = text.split(',').map((s) => (s.trim() === '' ? Number.NaN : Number(s)));
    if (v.length !== axes.length || !v.every(Number.isFinite))
      throw new UsageError(`--start '${text}' must have ${axes.length} numbers, one per axis (${axes.join(', ')})`);
    v.forEach((x, i) => {
      const [lo, hi] = domain[i];
      if (x < lo || x > hi) throw new UsageError(`--start '${text}': ${axes[i]} = ${x} is outside the region domain [${lo}, ${hi}]`);
    });
    return v;
  });
}

/** Out-of-domain points of the image space (see IMAGE_OUT_OF_DOMAIN_RULE), per axis. */
function clampImagePoint(axes: readonly string[]): (p: Float64Array) => Float64Array {
  const lows = axes.map((a) => {
    const d = IMAGE_PARAMS.dims.find((x) => x.name === a) as ParamDim;
    return d.min === -Infinity ? -Infinity : d.minOpen ? d.min + MIN_SCALE : d.min;
  });
  return (p) => p.map((x, i) => Math.max(lows[i], x));
}

/** The default map under 1-D/2-D regions: IMAGE_REGIONS_MAP_POINTS values from lo to hi per axis. */
function defaultRegionGrid(axes: readonly string[], domain: Domain): string {
  return axes
    .map((a, i) => {
      const [lo, hi] = domain[i];
      const step = roundValue((hi - lo) / (IMAGE_REGIONS_MAP_POINTS - 1));
      return `${a}=${lo}:${roundValue(lo + (IMAGE_REGIONS_MAP_POINTS - 0.5) * step)}:${step}`;
    })
    .join(',');
}

const safeName = (s: string) => s.replace(/[^A-Za-z0-9._-]+/g, '_');

async function imageRegions(p: Parsed, out: string, st: RegionSettings, io: Io): Promise<number> {
  const t0 = now();
  const { methods, iterations } = st;
  const axes = parseAxes(required(p, 'axes'));
  const given = parseDomain(str(p, 'domain'), axes);
  const fdStep = parseImageFdStep(str(p, 'fd-step'), axes);
  const d = openImageData(p);
  if (st.grad === 'exact' && d.score !== 'prob')
    throw new UsageError(
      `--grad exact needs the classifier score 'prob'; '${d.score}' (segmentation) is piecewise constant in the parameters, so it has no useful exact gradient: use --grad fd`,
    );
  const mapSpec = str(p, 'map');
  const previous = mapSpec !== undefined ? await readMapFile(mapSpec) : undefined;
  const batch = int(p, 'batch', 16, 1);
  const threads = int(p, 'threads', undefined, 1);
  const cacheDir = resolve(str(p, 'cache') ?? join(out, 'cache'));
  // The domain (tx/ty default to half the FIRST image's size) and the start points, before the model loads.
  const first = await d.fetch(d.indices[0]);
  const domain: Domain = axes.map((a) => given[a] ?? defaultImageDomain(a, first.width, first.height));
  const starts = parseImageStarts((p.values as Record<string, unknown>).start, axes, domain);
  const m = await setupModel(p);
  const mode = progressMode(p);
  const progress = new Progress(io.stderr as Io['stderr'] & { isTTY?: boolean }, mode);
  const clamp = clampImagePoint(axes);
  const spaceOf = (item: ImageItem) =>
    imageSpace(item.image, { channels: 3, height: item.height, width: item.width }, item.labels ? { labels: item.labels, ignoreIndex: d.ignoreIndex } : {});

  const checked = { K: false };
  let maps: SemanticMapRecord[] = [];
  let mapEval = { evaluations: 0, cached: 0, renderSeconds: 0, modelSeconds: 0 };
  let gridText: string | null = null;
  let cacheFile: string | undefined;
  if (previous) {
    maps = previous.results.maps.slice(0, 1);
    if (maps.length === 0) throw new CliError(`--map: '${previous.file}' holds no map`);
    if (previous.results.model.sha256 !== m.sha256 || maps[0].subject !== first.id)
      progress.log(`note: the map in '${previous.file}' was made with a different model or image; it is drawn as it is`);
  } else {
    // A cheap map of the first image over the region axes (only 1-D and 2-D maps can be drawn).
    gridText = str(p, 'grid') ?? (axes.length <= 2 ? defaultRegionGrid(axes, domain) : null);
    if (gridText !== null) {
      const space = spaceOf(first);
      const target = await imageTarget(d, m, first, checked);
      const map = await semanticMap(space, m.model, target, gridOption(gridText, 'grid', space), {
        batchSize: batch,
        cacheDir,
        modelId: m.modelId,
        onBatch: mapProgress(progress, `map ${first.id}`),
      });
      progress.finish();
      const label = target.score === 'prob' ? target.label : undefined;
      maps = [mapRecord(map, space, first.id, label, label !== undefined ? d.classNames[label] : undefined)];
      mapEval = map;
      cacheFile = map.cacheFile;
    }
  }

  // One image at a time: decode, search every method x start, drop it.
  const items: SemanticRegionRecord[] = [];
  const total = d.indices.length * methods.length * starts.length * iterations;
  const perImage = methods.length * starts.length;
  const tr = now();
  let evaluations = 0;
  let cached = 0;
  const dirs = new Set<string>();
  for (const [n, k] of d.indices.entries()) {
    const item = n === 0 ? first : await d.fetch(k);
    const space = spaceOf(item);
    const target = await imageTarget(d, m, item, checked);
    let imageEvaluations = 0;
    let requested = 0;
    let exactPoints = 0;
    const raw = scoreOracle(space, m.model, target, {
      axes,
      batchSize: batch,
      cacheDir,
      modelId: m.modelId,
      onBatch: (e) => {
        imageEvaluations = e.evaluations;
      },
    });
    const score: ScoreFn = (points) => {
      requested += points.length;
      return raw(points.map(clamp));
    };
    let grad: GradFn | undefined;
    if (st.grad === 'exact' && methods.some((x) => x === 'oir_w' || x === 'trap')) {
      let exact: GradFn;
      try {
        exact = exactImageGrad(item.image, { channels: 3, height: item.height, width: item.width }, m.model, target, { axes, batchSize: batch, threads });
      } catch (e) {
        if (e instanceof ExactGradError) throw new CliError(`--grad exact: ${e.message}`);
        throw e;
      }
      grad = (points) => {
        exactPoints += points.length;
        return exact(points.map(clamp));
      };
    }
    let dir = safeName(item.id);
    if (dirs.has(dir)) dir = `${dir}-${k}`;
    dirs.add(dir);
    items.push(
      ...(await runRegions(out, st, {
        score,
        grad,
        fdStep,
        axes,
        domain,
        starts,
        subject: item.id,
        traceFile: (method, start) => `traces/${dir}/${method}-${startName(start)}.json`,
        progress,
        doneBefore: n * perImage,
        total,
        evaluated: () => evaluations + imageEvaluations + exactPoints,
      })),
    );
    evaluations += imageEvaluations + exactPoints;
    cached += requested - imageEvaluations;
  }
  progress.finish();
  const domainSpec = axes.map((a, i) => `${a}=${domain[i][0]}:${domain[i][1]}`).join(',');
  const regions = regionsRecord(st, axes, domain, fdStep, IMAGE_OUT_OF_DOMAIN_RULE, items);
  const srvrByMethod = regions.srvr;
  const r: SemanticResults = {
    ...baseResults('regions', m),
    space: 'image',
    score: d.score,
    data: { root: resolve(d.root), format: d.format },
    config: {
      axes: axes.join(','),
      domain: domainSpec,
      grad: st.grad,
      grid: gridText,
      images: d.indices.length,
      image: d.imageId ?? null,
      size: d.classification ? null : String(d.cropSize),
      batch,
      cache: cacheDir,
      starts: starts.map((v) => v.join(',')).join(' '),
    },
    maps,
    mapSource: previous?.file,
    regions,
    evaluations: mapEval.evaluations + evaluations,
    cached: mapEval.cached + cached,
    timings: { seconds: (now() - t0) / 1000, renderSeconds: mapEval.renderSeconds, modelSeconds: mapEval.modelSeconds, regionSeconds: (now() - tr) / 1000 },
    cacheFile,
  };
  const files = await writeOutputs(out, r);
  const lines = [
    `method   SRVR      regions (${d.indices.length} image${d.indices.length > 1 ? 's' : ''} x ${starts.length} start${starts.length > 1 ? 's' : ''})`,
  ];
  for (const method of methods)
    lines.push(`${method.padEnd(8)} ${`${(100 * srvrByMethod[method]).toFixed(2)}%`.padEnd(9)} ${items.filter((i) => i.method === method).length}`);
  lines.push(`${r.evaluations} points evaluated, ${r.cached} from the cache`);
  doneLine(io, mode, r, files, lines);
  return 0;
}
