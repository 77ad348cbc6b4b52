// Training data for classifiers of rendered meshes (the bundled semantic-demo models): sample i is mesh
// class i mod K seen from a random viewpoint drawn from (seed, i) alone, so a split is a pure function of
// its options (no files, random access, identical on every run).
// Viewpoints: azimuth U[az0,az1), elevation U[el0,el1) (degrees; default the spec's map domain [0,360) x
// [-10,90)); a narrower training range leaves part of the map domain unseen, as photos leave unusual
// viewpoints unseen. The camera distance and the light direction get a small jitter (RenderDataOptions)
// so the classifier does not latch onto one exact scale or shading; the maps use the reference values.
import type { TrainData } from '../train/loop.js';
import { Rng } from '../util/random.js';
import { loadMesh, MESH_CLASSES, type Mesh } from './mesh.js';
import { CAMERA_DISTANCE, Renderer, SUPERSAMPLE, type View } from './render.js';
import { directionFromAngles } from './space.js';

export class RenderDataError extends Error {}

/** Domain the viewpoints are drawn from (degrees): the spec's map/region domain. */
export const RENDER_DATA_AZIMUTH: readonly [number, number] = [0, 360];
export const RENDER_DATA_ELEVATION: readonly [number, number] = [-10, 90];

export interface RenderDataOptions {
  /** Number of samples (images). */
  count: number;
  /** Mesh classes, bundled names or OBJ paths; the label is the position here (default MESH_CLASSES). */
  classes?: readonly string[];
  /** Image side (default 64). */
  size?: number;
  /** Split seed: different seeds give disjoint-in-practice viewpoint draws (default 0). */
  seed?: number;
  /** Camera distance is CAMERA_DISTANCE * U[1 - j, 1 + j] (default 0.1). */
  distanceJitter?: number;
  /** The light points at most this many degrees away from straight up (default 20; 0 = reference light). */
  lightJitter?: number;
  /** Azimuth range [lo, hi) in degrees (default [0, 360)). */
  azimuth?: readonly [number, number];
  /** Elevation range [lo, hi) in degrees, within [-90, 90] (default [-10, 90)). */
  elevation?: readonly [number, number];
}

export interface RenderData extends TrainData {
  readonly task: 'classification';
  readonly size: number;
  /** The viewpoint of sample `index` (what get(index) renders). */
  viewOf(index: number): View;
  /** The class of sample `index` (index mod classes). */
  labelOf(index: number): number;
}

function checkIndex(index: number, count: number): void {
  if (!Number.isInteger(index) || index < 0 || index >= count) throw new RenderDataError(`render data: index ${index} is outside 0..${count - 1}`);
}

function range(r: readonly [number, number], what: string, min: number, max: number): readonly [number, number] {
  if (!(Array.isArray(r) && r.length === 2 && Number.isFinite(r[0]) && Number.isFinite(r[1]) && r[0] <= r[1] && r[0] >= min && r[1] <= max))
    throw new RenderDataError(`render data: ${what} range must be [lo, hi] with finite ${min} <= lo <= hi <= ${max}, got ${JSON.stringify(r)}`);
  return r;
}

/** A deterministic classification split of rendered bundled meshes; see the file comment. */
export function renderData(opts: RenderDataOptions): RenderData {
  const { count } = opts;
  if (!Number.isInteger(count) || count < 1) throw new RenderDataError(`render data: count must be a positive integer, got ${count}`);
  const classes = [...(opts.classes ?? MESH_CLASSES)];
  if (classes.length < 1) throw new RenderDataError('render data: no classes');
  if (new Set(classes).size !== classes.length) throw new RenderDataError(`render data: a class is named twice in ${classes.join(', ')}`);
  const size = opts.size ?? 64;
  if (!Number.isInteger(size) || size < 8) throw new RenderDataError(`render data: size must be an integer >= 8, got ${size}`);
  const seed = opts.seed ?? 0;
  const dj = opts.distanceJitter ?? 0.1;
  if (!(dj >= 0 && dj < 0.5)) throw new RenderDataError(`render data: distanceJitter must be in [0, 0.5), got ${dj}`);
  const lj = opts.lightJitter ?? 20;
  if (!(lj >= 0 && lj <= 90)) throw new RenderDataError(`render data: lightJitter must be in [0, 90] degrees, got ${lj}`);
  // Meshes load lazily (and once): constructing a split is cheap.
  const meshes: (Mesh | undefined)[] = classes.map(() => undefined);
  const meshOf = (k: number): Mesh => {
    let m = meshes[k];
    if (!m) {
      m = loadMesh(classes[k]);
      meshes[k] = m;
    }
    return m;
  };
  const renderer = new Renderer(size, SUPERSAMPLE);
  const [az0, az1] = range(opts.azimuth ?? RENDER_DATA_AZIMUTH, 'azimuth', -Infinity, Infinity);
  const [el0, el1] = range(opts.elevation ?? RENDER_DATA_ELEVATION, 'elevation', -90, 90);

  const viewOf = (index: number): View => {
    checkIndex(index, count);
    // Every draw is made whatever the jitter options, in a fixed order, so the viewpoints of a split do
    // not change when only a jitter is switched off.
    const rng = Rng.derive(seed, 'render-data', index);
    const azimuth = az0 + (az1 - az0) * rng.next();
    const elevation = el0 + (el1 - el0) * rng.next();
    const distance = CAMERA_DISTANCE * (1 + dj * rng.symmetric());
    const lightAz = 360 * rng.next();
    const lightTilt = lj * rng.next();
    return { azimuth, elevation, distance, light: directionFromAngles(lightAz, 90 - lightTilt) };
  };
  const labelOf = (index: number): number => {
    checkIndex(index, count);
    return index % classes.length;
  };
  return {
    task: 'classification',
    classes,
    count,
    ignoreIndex: -1,
    size,
    viewOf,
    labelOf,
    async get(index) {
      const label = labelOf(index);
      const image = renderer.render(meshOf(label), viewOf(index));
      return { id: `${classes[label]}-${seed}-${index}`, image, width: size, height: size, label };
    },
  };
}
