// A software rasterizer with the reference renderer's conventions (spec "Reference renderer conventions";
// the reference is the Neural 3D Mesh Renderer in look_at mode):
// - camera: eye = d (cos el sin az, sin el, -cos el cos az) in degrees, looking at the origin, up (0,1,0);
//   camera axes z = normalize(at - eye), x = normalize(up x z), y = z x x (so screen right is +x seen
//   from az = 0, as in the reference);
// - perspective x' = x / (z tan 30deg), y' likewise; screen [-1,1]^2 spans the image, y' = +1 at the top;
//   pixel centres at ((2i + 1 - S) / S); a pixel is drawn when its centre is inside the closed triangle;
// - per-pixel depth 1/z interpolated linearly in screen space (perspective-correct); kept when
//   near < z < far and nearer than what is there;
// - white texture, flat shading per face in OBJECT space: 0.5 + 0.5 max(0, n . l), l = (0,1,0) by default;
// - double-sided faces exactly as the reference makes them: it appends a reversed copy of every face
//   (fill_back), lights each copy with its own normal and culls back-facing copies, so the side you see
//   is lit with the normal pointing TOWARDS the camera. We do the same without the copies: each face is
//   drawn once, lit with its normal flipped to face the camera (not |n . l|: a face seen from the side
//   away from the light gets the ambient 0.5 only);
// - black background; anti-aliasing by rendering at 2x and 2x2 average pooling.
// Where we differ, deliberately: projected vertices are snapped to 1/256 of a (supersampled) pixel so
// edge functions are exact (watertight shared edges; the reference works in float32 and can differ by
// rounding on edge pixels); faces with a vertex at or behind the eye are skipped (the reference projects
// them through z <= 0, which only happens at distances where the camera is inside the mesh's bounding
// sphere); the light direction is normalised (the reference uses it as given; same for the default).
// Images are square (any side).
import type { Mesh } from './mesh.js';

export const CAMERA_DISTANCE = 2.732;
/** Half-angle of the field of view, degrees. */
export const VIEW_ANGLE = 30;
export const NEAR = 0.1;
export const FAR = 100;
export const AMBIENT = 0.5;
export const DIRECTIONAL = 0.5;
export const DEFAULT_SIZE = 224;
export const SUPERSAMPLE = 2;
export const DEFAULT_LIGHT: readonly [number, number, number] = [0, 1, 0];

export type Vec3 = readonly [number, number, number];

export interface View {
  /** Degrees; 0 looks from -z towards +z, 90 from +x. */
  azimuth: number;
  /** Degrees; positive looks from above. */
  elevation: number;
  /** Eye distance from the origin (default CAMERA_DISTANCE). */
  distance?: number;
  /** Direction TOWARDS the light in object space (default (0,1,0)); normalised before use. */
  light?: Vec3;
}

export class RenderError extends Error {}

export interface Camera {
  eye: Vec3;
  /** Camera axes in world coordinates: screen right, screen up, viewing direction. */
  right: Vec3;
  up: Vec3;
  forward: Vec3;
}

const RAD = Math.PI / 180;
/** Subpixel resolution of the snapped raster coordinates. */
const SUB = 256;
/** Bound of snapped coordinates (2^24 = 65536 px): keeps edge-function products exact (< 2^53). */
const LIMIT = 2 ** 24;
/** Bounding-box width (raster px) from which a face is filled by exact row spans instead of a scan. */
const WIDE = 16;

/** The reference's get_points_from_angles + look_at (with a defined limit when up is parallel to the view). */
export function camera(view: View): Camera {
  const d = view.distance ?? CAMERA_DISTANCE;
  if (!(d > 0) || !Number.isFinite(d)) throw new RenderError(`camera distance must be a positive number, got ${d}`);
  if (!Number.isFinite(view.azimuth) || !Number.isFinite(view.elevation))
    throw new RenderError(`azimuth and elevation must be finite numbers, got (${view.azimuth}, ${view.elevation})`);
  const az = view.azimuth * RAD;
  const el = view.elevation * RAD;
  const eye: Vec3 = [d * Math.cos(el) * Math.sin(az), d * Math.sin(el), -d * Math.cos(el) * Math.cos(az)];
  const fz: Vec3 = [-eye[0] / d, -eye[1] / d, -eye[2] / d];
  // up x forward = (fz.z, 0, -fz.x); it vanishes straight above or below, where its limit from
  // |el| < 90 is (cos az, 0, sin az).
  let rx = fz[2];
  let rz = -fz[0];
  let len = Math.hypot(rx, rz);
  if (len < 1e-12) {
    rx = Math.cos(az);
    rz = Math.sin(az);
    len = 1;
  }
  const right: Vec3 = [rx / len, 0, rz / len];
  const up: Vec3 = [fz[1] * right[2] - fz[2] * right[1], fz[2] * right[0] - fz[0] * right[2], fz[0] * right[1] - fz[1] * right[0]];
  return { eye, right, up, forward: fz };
}

/**
 * Where a point lands in a size x size output image: continuous (col, row) with pixel (r, c) covering
 * [c, c+1) x [r, r+1), row 0 at the top; depth = camera z. For tests and for drawing overlays.
 */
export function projectPoint(p: Vec3, view: View, size = DEFAULT_SIZE): { col: number; row: number; depth: number } {
  const c = camera(view);
  const d = [p[0] - c.eye[0], p[1] - c.eye[1], p[2] - c.eye[2]];
  const dot = (a: Vec3): number => d[0] * a[0] + d[1] * a[1] + d[2] * a[2];
  const z = dot(c.forward);
  const t = Math.tan(VIEW_ANGLE * RAD);
  const x = dot(c.right) / (z * t);
  const y = dot(c.up) / (z * t);
  return { col: ((x + 1) / 2) * size, row: ((1 - y) / 2) * size, depth: z };
}

// Unit normals (v1 - v0) x (v2 - v0) per face, computed once per mesh (meshes are immutable).
const normalCache = new WeakMap<Mesh, Float64Array>();

function faceNormals(mesh: Mesh): Float64Array {
  let n = normalCache.get(mesh);
  if (n) return n;
  const p = mesh.positions;
  const f = mesh.faces;
  n = new Float64Array(f.length);
  for (let i = 0; i < f.length; i += 3) {
    const a = 3 * f[i];
    const b = 3 * f[i + 1];
    const c = 3 * f[i + 2];
    const ux = p[b] - p[a];
    const uy = p[b + 1] - p[a + 1];
    const uz = p[b + 2] - p[a + 2];
    const vx = p[c] - p[a];
    const vy = p[c + 1] - p[a + 1];
    const vz = p[c + 2] - p[a + 2];
    const nx = uy * vz - uz * vy;
    const ny = uz * vx - ux * vz;
    const nz = ux * vy - uy * vx;
    // Same epsilon as the reference's F.normalize: degenerate faces get a ~zero normal (ambient only).
    const len = Math.max(Math.hypot(nx, ny, nz), 1e-5);
    n[i] = nx / len;
    n[i + 1] = ny / len;
    n[i + 2] = nz / len;
  }
  normalCache.set(mesh, n);
  return n;
}

/**
 * Renders meshes into size x size RGB images (CHW planes, values in [0,1]). Holds its scratch buffers,
 * so one instance renders any number of images without allocating; not reentrant.
 */
export class Renderer {
  readonly size: number;
  readonly supersample: number;
  /** Side of the supersampled raster. */
  private readonly side: number;
  /** 1/z of the nearest surface so far per raster pixel (larger is nearer; 0 = nothing drawn). */
  private readonly invDepth: Float64Array;
  /** Shade of the nearest surface per raster pixel (0 = background). */
  private readonly shade: Float32Array;
  /** Raster rows the last image may have drawn on (lo > hi: none): only these need clearing. */
  private dirtyLo: number;
  private dirtyHi = -1;
  private vx = new Float64Array(0);
  private vy = new Float64Array(0);
  private viz = new Float64Array(0);

  constructor(size = DEFAULT_SIZE, supersample = SUPERSAMPLE) {
    if (!Number.isInteger(size) || size < 1) throw new RenderError(`image size must be a positive integer, got ${size}`);
    if (!Number.isInteger(supersample) || supersample < 1) throw new RenderError(`supersampling factor must be a positive integer, got ${supersample}`);
    this.size = size;
    this.supersample = supersample;
    this.side = size * supersample;
    this.invDepth = new Float64Array(this.side * this.side);
    this.shade = new Float32Array(this.side * this.side);
    this.dirtyLo = this.side;
  }

  /** A new CHW image (3 x size x size). */
  render(mesh: Mesh, view: View): Float32Array {
    const out = new Float32Array(3 * this.size * this.size);
    this.renderInto(out, 0, mesh, view);
    return out;
  }

  /**
   * Writes the image as 3 planes (R, G, B; size x size each, row-major) at out[offset...], e.g. image i
   * of an NCHW model input at offset i * 3 * size * size.
   */
  renderInto(out: Float32Array, offset: number, mesh: Mesh, view: View): void {
    const S = this.size;
    if (!Number.isInteger(offset) || offset < 0 || offset + 3 * S * S > out.length)
      throw new RenderError(`cannot write a 3x${S}x${S} image at offset ${offset} of a buffer of ${out.length} floats`);
    this.rasterize(mesh, view);
    this.resolve(out, offset);
  }

  private rasterize(mesh: Mesh, view: View): void {
    const W = this.side;
    const cam = camera(view);
    const light = view.light ?? DEFAULT_LIGHT;
    const ll = Math.hypot(light[0], light[1], light[2]);
    if (!(ll > 0) || !Number.isFinite(ll)) throw new RenderError(`light direction must be a non-zero finite vector, got (${light.join(', ')})`);
    const lx = light[0] / ll;
    const ly = light[1] / ll;
    const lz = light[2] / ll;

    // Vertices to raster coordinates (pixel centres at integers, row 0 at the top), snapped to 1/SUB of
    // a pixel and kept as integers: every edge function below is then computed EXACTLY in doubles, so
    // two faces sharing an edge agree on every pixel (no cracks, no order-dependent seams).
    const nv = mesh.positions.length / 3;
    if (this.vx.length < nv) {
      this.vx = new Float64Array(nv);
      this.vy = new Float64Array(nv);
      this.viz = new Float64Array(nv);
    }
    const { vx, vy, viz } = this;
    const P = mesh.positions;
    const [ex, ey, ez] = cam.eye;
    const [rx, , rz] = cam.right;
    const [ux, uy, uz] = cam.up;
    const [fx, fy, fz] = cam.forward;
    const half = W / 2;
    const k = (half / Math.tan(VIEW_ANGLE * RAD)) * SUB;
    const c0 = (half - 0.5) * SUB;
    for (let i = 0, j = 0; i < nv; i++, j += 3) {
      const dx = P[j] - ex;
      const dy = P[j + 1] - ey;
      const dz = P[j + 2] - ez;
      const z = dx * fx + dy * fy + dz * fz;
      const iz = 1 / z;
      // Clamping only moves vertices > 65536 px off screen (z ~ 0), keeping the products below exact.
      const x = Math.round(c0 + k * (dx * rx + dz * rz) * iz);
      const y = Math.round(c0 - k * (dx * ux + dy * uy + dz * uz) * iz);
      vx[i] = x > LIMIT ? LIMIT : x < -LIMIT ? -LIMIT : x;
      vy[i] = y > LIMIT ? LIMIT : y < -LIMIT ? -LIMIT : y;
      // A vertex at or behind the eye has no projection: its faces are skipped (z <= 0 marks it).
      viz[i] = z > 0 ? iz : -1;
    }

    const depth = this.invDepth;
    const shade = this.shade;
    if (this.dirtyLo <= this.dirtyHi) {
      depth.fill(0, this.dirtyLo * W, (this.dirtyHi + 1) * W);
      shade.fill(0, this.dirtyLo * W, (this.dirtyHi + 1) * W);
    }
    let dirtyLo = W;
    let dirtyHi = -1;
    const izNear = 1 / NEAR;
    const izFar = 1 / FAR;
    const N = faceNormals(mesh);
    const F = mesh.faces;
    const last = W - 1;
    const inv = 1 / SUB;
    for (let f = 0; f < F.length; f += 3) {
      const a = F[f];
      const b = F[f + 1];
      const c = F[f + 2];
      const iz0 = viz[a];
      const iz1 = viz[b];
      const iz2 = viz[c];
      if (iz0 <= 0 || iz1 <= 0 || iz2 <= 0) continue;
      const x0 = vx[a];
      const y0 = vy[a];
      const x1 = vx[b];
      const y1 = vy[b];
      const x2 = vx[c];
      const y2 = vy[c];
      const area = (x1 - x0) * (y2 - y0) - (y1 - y0) * (x2 - x0);
      if (area === 0) continue;
      let minX = Math.ceil(Math.min(x0, x1, x2) * inv);
      let maxX = Math.floor(Math.max(x0, x1, x2) * inv);
      let minY = Math.ceil(Math.min(y0, y1, y2) * inv);
      let maxY = Math.floor(Math.max(y0, y1, y2) * inv);
      if (minX < 0) minX = 0;
      if (minY < 0) minY = 0;
      if (maxX > last) maxX = last;
      if (maxY > last) maxY = last;
      if (minX > maxX || minY > maxY) continue;
      // Near/far: 1/z inside the face lies between its vertices' values, so most faces need no per-pixel test.
      const izMin = Math.min(iz0, iz1, iz2);
      const izMax = Math.max(iz0, iz1, iz2);
      if (izMax <= izFar || izMin >= izNear) continue;
      const clip = izMin <= izFar || izMax >= izNear;
      if (minY < dirtyLo) dirtyLo = minY;
      if (maxY > dirtyHi) dirtyHi = maxY;

      // Raster rows grow downwards, so area < 0 here is counter-clockwise on screen: the orientation in
      // which the reference draws a face as given, lit by (v0 - v1) x (v2 - v1) = -n. Otherwise it draws
      // the reversed copy, lit by +n. Either way: the normal facing the camera.
      const nl = N[f] * lx + N[f + 1] * ly + N[f + 2] * lz;
      const facing = area < 0 ? -nl : nl;
      const s = AMBIENT + DIRECTIONAL * (facing > 0 ? facing : 0);

      // Edge functions e_k(x, y) = A_k x + B_k y + C_k at pixel (x, y): the barycentric weight of vertex k
      // times the area, flipped so the inside is >= 0 (closed triangle, as the reference). Exact integers.
      const sg = area > 0 ? 1 : -1;
      const A0 = sg * (y1 - y2) * SUB;
      const B0 = sg * (x2 - x1) * SUB;
      const C0 = sg * (x1 * y2 - x2 * y1);
      const A1 = sg * (y2 - y0) * SUB;
      const B1 = sg * (x0 - x2) * SUB;
      const C1 = sg * (x2 * y0 - x0 * y2);
      const A2 = sg * (y0 - y1) * SUB;
      const B2 = sg * (x1 - x0) * SUB;
      const C2 = sg * (x0 * y1 - x1 * y0);
      // 1/z is linear in screen space with the same weights (perspective-correct depth).
      const ia = 1 / (sg * area);
      const Az = (A0 * iz0 + A1 * iz1 + A2 * iz2) * ia;
      const Bz = (B0 * iz0 + B1 * iz1 + B2 * iz2) * ia;
      const Cz = (C0 * iz0 + C1 * iz1 + C2 * iz2) * ia;
      if (maxX - minX >= WIDE) {
        // Wide faces: each row's exact span [xl, xr] (e_k(x) = A_k x + d_k >= 0 for all k, each edge bounding
        // x from below (A_k > 0) or above (A_k < 0)), then only the depth test per pixel.
        const q0 = A0 !== 0 ? -1 / A0 : 0;
        const q1 = A1 !== 0 ? -1 / A1 : 0;
        const q2 = A2 !== 0 ? -1 / A2 : 0;
        for (let y = minY; y <= maxY; y++) {
          const d0 = B0 * y + C0;
          const d1 = B1 * y + C1;
          const d2 = B2 * y + C2;
          let xl = minX;
          let xr = maxX;
          if (A0 > 0) xl = Math.max(xl, lower(A0, d0, d0 * q0));
          else if (A0 < 0) xr = Math.min(xr, upper(A0, d0, d0 * q0));
          else if (d0 < 0) continue;
          if (A1 > 0) xl = Math.max(xl, lower(A1, d1, d1 * q1));
          else if (A1 < 0) xr = Math.min(xr, upper(A1, d1, d1 * q1));
          else if (d1 < 0) continue;
          if (A2 > 0) xl = Math.max(xl, lower(A2, d2, d2 * q2));
          else if (A2 < 0) xr = Math.min(xr, upper(A2, d2, d2 * q2));
          else if (d2 < 0) continue;
          let z = Az * xl + Bz * y + Cz;
          const end = y * W + xr;
          for (let idx = y * W + xl; idx <= end; idx++, z += Az)
            // Nearer than what is there, and (reference) strictly between the near and far planes.
            if (z > depth[idx] && (!clip || (z > izFar && z < izNear))) {
              depth[idx] = z;
              shade[idx] = s;
            }
        }
        continue;
      }

      // Small faces (most of a detailed mesh): scan the bounding box row by row with incremental edge
      // functions. Where a row can start: edges with A_k > 0 bound x from below. Only a hint (one pixel
      // early is safe, the exact test decides), so inexact division does not matter.
      const r0 = A0 > 0 ? -1 / A0 : 0;
      const r1 = A1 > 0 ? -1 / A1 : 0;
      const r2 = A2 > 0 ? -1 / A2 : 0;

      for (let y = minY; y <= maxY; y++) {
        const d0 = B0 * y + C0;
        const d1 = B1 * y + C1;
        const d2 = B2 * y + C2;
        let x = minX;
        let lo = Math.max(d0 * r0, d1 * r1, d2 * r2);
        if (lo > x + 1) {
          lo = Math.floor(lo) - 1;
          if (lo > maxX) continue;
          x = lo;
        }
        let e0 = A0 * x + d0;
        let e1 = A1 * x + d1;
        let e2 = A2 * x + d2;
        let z = Az * x + Bz * y + Cz;
        let idx = y * W + x;
        let entered = false;
        for (; x <= maxX; x++) {
          if (e0 >= 0 && e1 >= 0 && e2 >= 0) {
            entered = true;
            if (z > depth[idx] && (!clip || (z > izFar && z < izNear))) {
              depth[idx] = z;
              shade[idx] = s;
            }
          } else if (entered) break; // convex: the row's span is over
          e0 += A0;
          e1 += A1;
          e2 += A2;
          z += Az;
          idx++;
        }
      }
    }
    this.dirtyLo = dirtyLo;
    this.dirtyHi = dirtyHi;
  }

  /** k x k average pooling of the raster into the three (equal, white texture) planes. */
  private resolve(out: Float32Array, offset: number): void {
    const S = this.size;
    const k = this.supersample;
    const W = this.side;
    const plane = S * S;
    const shade = this.shade;
    const norm = 1 / (k * k);
    // Output rows that saw no face are background: zero them in bulk.
    const rLo = Math.min(S, Math.floor(this.dirtyLo / k));
    const rHi = Math.max(rLo - 1, Math.floor(this.dirtyHi / k));
    for (let ch = 0; ch < 3; ch++) {
      const base = offset + ch * plane;
      out.fill(0, base, base + rLo * S);
      out.fill(0, base + (rHi + 1) * S, base + plane);
    }
    if (k === 2) {
      // The default, unrolled (the generic loop below costs as much as rasterizing a small mesh).
      for (let r = rLo; r <= rHi; r++) {
        let i0 = 2 * r * W;
        let i1 = i0 + W;
        let o = offset + r * S;
        for (let c = 0; c < S; c++, i0 += 2, i1 += 2, o++) {
          const v = (shade[i0] + shade[i0 + 1] + shade[i1] + shade[i1 + 1]) * 0.25;
          out[o] = v;
          out[o + plane] = v;
          out[o + 2 * plane] = v;
        }
      }
      return;
    }
    for (let r = rLo; r <= rHi; r++) {
      for (let c = 0; c < S; c++) {
        let sum = 0;
        for (let i = 0; i < k; i++) {
          const row = (r * k + i) * W + c * k;
          for (let j = 0; j < k; j++) sum += shade[row + j];
        }
        const v = sum * norm;
        const o = offset + r * S + c;
        out[o] = v;
        out[o + plane] = v;
        out[o + 2 * plane] = v;
      }
    }
  }
}

/** Smallest integer x with a x + d >= 0 (a > 0), from an estimate t of -d / a (exact: checked both ways). */
function lower(a: number, d: number, t: number): number {
  let x = Math.ceil(t);
  if (a * x + d < 0) x++;
  else if (a * (x - 1) + d >= 0) x--;
  return x;
}

/** Largest integer x with a x + d >= 0 (a < 0), from an estimate t of -d / a (exact: checked both ways). */
function upper(a: number, d: number, t: number): number {
  let x = Math.floor(t);
  if (a * x + d < 0) x--;
  else if (a * (x + 1) + d >= 0) x++;
  return x;
}

// One renderer (scratch buffers) per image size for the functional API.
const renderers = new Map<number, Renderer>();

function rendererFor(size: number): Renderer {
  let r = renderers.get(size);
  if (!r) {
    r = new Renderer(size);
    renderers.set(size, r);
  }
  return r;
}

/** Renders `mesh` seen from `view` into out[offset...] as a 3 x size x size CHW image (see Renderer.renderInto). */
export function renderInto(out: Float32Array, offset: number, mesh: Mesh, view: View, size = DEFAULT_SIZE): void {
  rendererFor(size).renderInto(out, offset, mesh, view);
}

/** A 3 x size x size CHW image of `mesh` seen from `view`. */
export function renderImage(mesh: Mesh, view: View, size = DEFAULT_SIZE): Float32Array {
  return rendererFor(size).render(mesh, view);
}

/** An N x 3 x size x size (NCHW) batch, one image per view: a model input tensor's data. */
export function renderBatch(mesh: Mesh, views: readonly View[], size = DEFAULT_SIZE): Float32Array {
  const out = new Float32Array(views.length * 3 * size * size);
  const r = rendererFor(size);
  views.forEach((v, i) => {
    r.renderInto(out, i * 3 * size * size, mesh, v);
  });
  return out;
}
