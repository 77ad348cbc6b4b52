// Parameter spaces: named semantic parameters u with domains, and a way to turn a batch of points u
// into a batch of model input images written straight into a Float32Array (NCHW, values in [0,1]).
// - viewpointSpace: a mesh rendered by render.ts (azimuth, elevation, distance, light direction);
// - imageSpace: a dataset image under image-transform.ts (rotation, scale, translation, brightness,
//   contrast, blur), with an optional label map that follows the same geometry (segmentation scores);
// - restrictSpace: a few parameters of a space as a space of its own, the others pinned (a map's axes,
//   the robust-region code's u).
// Every space has a `key`: a JSON-able description (mesh or image hash, image size, pinned values) that
// identifies the images it produces, for the on-disk score cache.
import { createHash } from 'node:crypto';
import { domainText, inDomain } from './grid.js';
import { cosSinDeg, type ImageShape, transformImage, transformLabels } from './image-transform.js';
import type { Mesh } from './mesh.js';
import { CAMERA_DISTANCE, DEFAULT_SIZE, FAR, NEAR, Renderer, SUPERSAMPLE, type Vec3, type View } from './render.js';
import { RenderWorker } from './render-pool.js';

export class SpaceError extends Error {}

export interface ParamDim {
  name: string;
  /** 'deg', 'px', '' ... for messages and plots. */
  unit: string;
  /** Value when the parameter is not varied. */
  default: number;
  min: number;
  max: number;
  minOpen?: boolean;
  maxOpen?: boolean;
  /** Why the domain is what it is (shown in errors). */
  why?: string;
}

export type CacheKey = { [k: string]: string | number | boolean | null | CacheKey | (string | number | CacheKey)[] };

export interface ParameterSpace {
  readonly name: string;
  readonly dims: readonly ParamDim[];
  /** Other accepted names (e.g. azimuth -> az), for grid specs. */
  readonly aliases: Readonly<Record<string, string>>;
  /** [C, H, W] of each image. */
  readonly imageShape: readonly [number, number, number];
  /** Identifies the images this space produces (for caches). */
  readonly key: CacheKey;
  /** Writes one image per point (point i at offset + i*C*H*W). Points have one value per dim, in order. */
  render(points: readonly Float64Array[], out: Float32Array, offset?: number): void;
  /**
   * Optional: the same images as render(), produced off the main thread (a new buffer, image i at
   * i*C*H*W), so a caller can score one batch while the next is being produced (map.ts).
   */
  renderAsync?(points: readonly Float64Array[]): Promise<Float32Array>;
  /** Label maps (H*W each, ignore = ignoreIndex) under the same transform, for spaces that have them. */
  renderLabels?(points: readonly Float64Array[], out: Int32Array, offset?: number): void;
  readonly ignoreIndex?: number;
  /**
   * Set by restrictSpace: the space this one is a slice of and the map from this space's points to its
   * points. Caches key points in the root space, so every slice of one space shares its scores.
   */
  readonly parent?: { space: ParameterSpace; lift(points: readonly Float64Array[]): Float64Array[] };
}

/** The unrestricted space under `space` and `points` lifted into it. */
export function rootOf(space: ParameterSpace, points: readonly Float64Array[]): { space: ParameterSpace; points: readonly Float64Array[] } {
  while (space.parent) {
    points = space.parent.lift(points);
    space = space.parent.space;
  }
  return { space, points };
}

/** sha256 hex of the bytes of some typed arrays, in order. */
export function sha256Of(...arrays: ArrayBufferView[]): string {
  const h = createHash('sha256');
  for (const a of arrays) h.update(new Uint8Array(a.buffer, a.byteOffset, a.byteLength));
  return h.digest('hex');
}

/** Identity of a mesh's geometry (positions and faces), independent of its name. */
export function meshHash(mesh: Mesh): string {
  return sha256Of(mesh.positions, mesh.faces);
}

/** Throws a SpaceError naming the parameter if a point has the wrong length or a value outside its domain. */
export function checkPoint(space: ParameterSpace, p: ArrayLike<number>): void {
  if (p.length !== space.dims.length)
    throw new SpaceError(`${space.name} space: a point needs ${space.dims.length} values (${space.dims.map((d) => d.name).join(', ')}), got ${p.length}`);
  space.dims.forEach((d, i) => {
    if (!inDomain(d, p[i]))
      throw new SpaceError(
        `${space.name} space: ${d.name}=${p[i]} is outside its domain ${domainText(d)}${d.unit ? ` ${d.unit}` : ''}${d.why ? ` (${d.why})` : ''}`,
      );
  });
}

const ANY = { min: -Infinity, max: Infinity };

/** Unit vector towards direction (az, el) in degrees, with the camera's convention (cos el sin az, sin el, -cos el cos az). */
/**
 * The same camera position with elevation in [-90, 90] and azimuth in [0, 360): beyond a pole the camera
 * is at (az + 180, +-180 - el) (the eye formula gives the identical point). Points of (az, el, ...) outside
 * the renderer's domain (outer corners, finite-difference shifts, unclipped regions) are evaluated there.
 */
export function canonicalViewpoint(p: Float64Array): Float64Array {
  const q = Float64Array.from(p);
  let el = q[1];
  let az = q[0];
  // Fold elevation into [-180, 180) first, then reflect over the pole it passed.
  el = ((((el + 180) % 360) + 360) % 360) - 180;
  if (el > 90) {
    el = 180 - el;
    az += 180;
  } else if (el < -90) {
    el = -180 - el;
    az += 180;
  }
  q[0] = ((az % 360) + 360) % 360;
  q[1] = el;
  return q;
}

export function directionFromAngles(az: number, el: number): Vec3 {
  const [ca, sa] = cosSinDeg(az);
  const [ce, se] = cosSinDeg(el);
  return [ce * sa, se, -ce * ca];
}

export const VIEWPOINT_DIMS: readonly ParamDim[] = [
  { name: 'az', unit: 'deg', default: 0, ...ANY },
  { name: 'el', unit: 'deg', default: 0, min: -90, max: 90 },
  {
    name: 'distance',
    unit: '',
    default: CAMERA_DISTANCE,
    min: NEAR,
    max: FAR,
    minOpen: true,
    maxOpen: true,
    why: `the eye must lie between the near plane ${NEAR} and the far plane ${FAR}`,
  },
  { name: 'light_az', unit: 'deg', default: 0, ...ANY },
  // Default light_el 90: the reference's light (0,1,0).
  { name: 'light_el', unit: 'deg', default: 90, min: -90, max: 90 },
];

export interface ViewpointOptions {
  /** Image side (default 224). */
  size?: number;
  /**
   * Render on a worker thread when the compiled worker is available (default true): renderAsync, which
   * lets a map render the next batch while the model scores this one. The images are identical.
   */
  worker?: boolean;
}

const viewOf = (p: Float64Array): View => ({ azimuth: p[0], elevation: p[1], distance: p[2], light: directionFromAngles(p[3], p[4]) });

/** A mesh seen from viewpoints: parameters az, el (degrees), distance, light_az, light_el (degrees; light direction). */
export function viewpointSpace(mesh: Mesh, opts: ViewpointOptions = {}): ParameterSpace {
  const size = opts.size ?? DEFAULT_SIZE;
  const renderer = new Renderer(size, SUPERSAMPLE);
  const dims = VIEWPOINT_DIMS;
  const space: ParameterSpace = {
    name: 'viewpoint',
    dims,
    aliases: { azimuth: 'az', elevation: 'el', light_azimuth: 'light_az', light_elevation: 'light_el' },
    imageShape: [3, size, size],
    key: { space: 'viewpoint', version: 1, mesh: meshHash(mesh), size, supersample: SUPERSAMPLE },
    render(points, out, offset = 0) {
      const n = 3 * size * size;
      points.forEach((p, i) => {
        checkPoint(space, p);
        renderer.renderInto(out, offset + i * n, mesh, viewOf(p));
      });
    },
  };
  if (opts.worker !== false && RenderWorker.available()) {
    let worker: RenderWorker | undefined;
    space.renderAsync = (points) => {
      for (const p of points) checkPoint(space, p);
      worker ??= new RenderWorker(mesh, size);
      return worker.render(points.map(viewOf));
    };
  }
  return space;
}

export const IMAGE_DIMS: readonly ParamDim[] = [
  { name: 'rotation', unit: 'deg', default: 0, ...ANY },
  { name: 'scale', unit: '', default: 1, min: 0, max: Infinity, minOpen: true, why: 'a zoom factor is positive' },
  { name: 'tx', unit: 'px', default: 0, ...ANY },
  { name: 'ty', unit: 'px', default: 0, ...ANY },
  { name: 'brightness', unit: '', default: 1, min: 0, max: Infinity, why: 'a brightness multiplier is >= 0' },
  { name: 'contrast', unit: '', default: 1, min: 0, max: Infinity, why: 'a contrast factor is >= 0' },
  { name: 'blur', unit: 'px', default: 0, min: 0, max: Infinity, why: 'a Gaussian sigma is >= 0' },
];

export interface ImageSpaceOptions {
  /** Label map (H*W class indices) that follows the geometry, for segmentation scores. */
  labels?: ArrayLike<number> & ArrayBufferView;
  /** Label of unlabelled pixels and of pixels moved in from outside the image (default 255). */
  ignoreIndex?: number;
}

/** A CHW image in [0,1] under image transforms (see image-transform.ts for the order and conventions). */
export function imageSpace(image: Float32Array, shape: ImageShape, opts: ImageSpaceOptions = {}): ParameterSpace {
  const { channels: C, height: H, width: W } = shape;
  if (![C, H, W].every((d) => Number.isInteger(d) && d > 0) || image.length !== C * H * W)
    throw new SpaceError(`image space: ${image.length} values do not make a ${C}x${H}x${W} image`);
  const labels = opts.labels;
  if (labels && labels.length !== H * W) throw new SpaceError(`image space: the label map has ${labels.length} values, the image ${H}x${W} = ${H * W} pixels`);
  const ignoreIndex = opts.ignoreIndex ?? 255;
  const dims = IMAGE_DIMS;
  const transform = (p: Float64Array) => ({ rotation: p[0], scale: p[1], tx: p[2], ty: p[3], brightness: p[4], contrast: p[5], blur: p[6] });
  const key: CacheKey = { space: 'image', version: 1, image: sha256Of(image), shape: [C, H, W] };
  if (labels) {
    key.labels = sha256Of(labels);
    key.ignoreIndex = ignoreIndex;
  }
  const space: ParameterSpace = {
    name: 'image',
    dims,
    aliases: { rot: 'rotation', sigma: 'blur' },
    imageShape: [C, H, W],
    key,
    ignoreIndex,
    render(points, out, offset = 0) {
      points.forEach((p, i) => {
        checkPoint(space, p);
        transformImage(image, shape, transform(p), out, offset + i * C * H * W);
      });
    },
  };
  if (labels)
    space.renderLabels = (points, out, offset = 0) => {
      points.forEach((p, i) => {
        checkPoint(space, p);
        transformLabels(labels, H, W, transform(p), ignoreIndex, out, offset + i * H * W);
      });
    };
  return space;
}

/**
 * The parameters `axes` of `space` as a space of its own; every other parameter is pinned to
 * `fixed[name]` or its default. Its key records the pinned values, so maps with different pins never
 * share cached scores.
 */
export function restrictSpace(space: ParameterSpace, axes: readonly string[], fixed: Readonly<Record<string, number>> = {}): ParameterSpace {
  const canon = (n: string) => space.aliases[n] ?? n;
  const index = new Map(space.dims.map((d, i) => [d.name, i]));
  const names = axes.map(canon);
  const pins: Record<string, number> = {};
  for (const [k, v] of Object.entries(fixed)) pins[canon(k)] = v;
  for (const n of [...names, ...Object.keys(pins)])
    if (!index.has(n)) throw new SpaceError(`${space.name} space has no parameter '${n}' (it has ${space.dims.map((d) => d.name).join(', ')})`);
  if (new Set(names).size !== names.length) throw new SpaceError(`${space.name} space: a parameter is named twice in ${axes.join(', ')}`);
  for (const n of names) if (n in pins) throw new SpaceError(`${space.name} space: '${n}' is both an axis and pinned`);
  const base = Float64Array.from(space.dims, (d) => pins[d.name] ?? d.default);
  checkPoint(
    space,
    base.map((v, i) => (names.includes(space.dims[i].name) ? space.dims[i].default : v)),
  );
  const slots = names.map((n) => index.get(n) as number);
  const full = (points: readonly Float64Array[]): Float64Array[] =>
    points.map((p) => {
      if (p.length !== slots.length) throw new SpaceError(`${space.name} space (${names.join(', ')}): a point needs ${slots.length} values, got ${p.length}`);
      const q = Float64Array.from(base);
      slots.forEach((s, i) => {
        q[s] = p[i];
      });
      return q;
    });
  const pinned: CacheKey = {};
  space.dims.forEach((d, i) => {
    if (!names.includes(d.name)) pinned[d.name] = base[i];
  });
  const sub: ParameterSpace = {
    name: space.name,
    dims: slots.map((s) => space.dims[s]),
    aliases: space.aliases,
    imageShape: space.imageShape,
    key: { ...space.key, axes: names, pinned },
    ignoreIndex: space.ignoreIndex,
    parent: { space, lift: full },
    render: (points, out, offset) => space.render(full(points), out, offset),
  };
  const ahead = space.renderAsync;
  if (ahead) sub.renderAsync = (points) => ahead.call(space, full(points));
  const labels = space.renderLabels;
  if (labels) sub.renderLabels = (points, out, offset) => labels.call(space, full(points), out, offset);
  return sub;
}
