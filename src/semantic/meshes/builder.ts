// A small mesh builder with the primitives the procedural meshes are made of (boxes, surfaces of
// revolution, tori, hexahedra, parametric patches). Coincident vertices are welded so seams and poles
// do not leave cracks, and triangles that collapse to a repeated vertex are dropped.
import type { Mesh } from '../mesh.js';

export type Vec3 = [number, number, number];
/** Maps a primitive's local coordinates into the mesh (translation, rotation, scaling). */
export type Place = (p: Vec3) => Vec3;

export const identity: Place = (p) => p;

export function translate(t: Vec3, inner: Place = identity): Place {
  return (p) => {
    const q = inner(p);
    return [q[0] + t[0], q[1] + t[1], q[2] + t[2]];
  };
}

/** Local y axis -> mesh x axis (local x -> -y): lays a y-axis primitive (revolve, cylinder) along x. */
export const yToX: Place = ([x, y, z]) => [y, -x, z];
/** Local y axis -> mesh z axis (local z -> -y): e.g. wheel axles. */
export const yToZ: Place = ([x, y, z]) => [x, -z, y];

export class MeshBuilder {
  private readonly pos: number[] = [];
  private readonly idx: number[] = [];
  private readonly weld = new Map<string, number>();

  vertex(p: Vec3): number {
    // Welding at 1e-9 merges seams computed along different paths (patch borders, cos(2pi) vs cos(0)).
    const key = `${Math.round(p[0] * 1e9)},${Math.round(p[1] * 1e9)},${Math.round(p[2] * 1e9)}`;
    const hit = this.weld.get(key);
    if (hit !== undefined) return hit;
    const i = this.pos.length / 3;
    this.pos.push(p[0], p[1], p[2]);
    this.weld.set(key, i);
    return i;
  }

  tri(a: number, b: number, c: number): void {
    if (a !== b && b !== c && a !== c) this.idx.push(a, b, c);
  }

  quad(a: number, b: number, c: number, d: number): void {
    this.tri(a, b, c);
    this.tri(a, c, d);
  }

  /** A parametric surface f(u, v) over [0,1]^2 cut into nu x nv quads. */
  surface(nu: number, nv: number, f: (u: number, v: number) => Vec3, place: Place = identity): void {
    const id: number[] = [];
    for (let i = 0; i <= nu; i++) for (let j = 0; j <= nv; j++) id.push(this.vertex(place(f(i / nu, j / nv))));
    const at = (i: number, j: number): number => id[i * (nv + 1) + j];
    for (let i = 0; i < nu; i++) for (let j = 0; j < nv; j++) this.quad(at(i, j), at(i + 1, j), at(i + 1, j + 1), at(i, j + 1));
  }

  get triangleCount(): number {
    return this.idx.length / 3;
  }

  build(name: string): Mesh {
    return { name, positions: Float32Array.from(this.pos), faces: Uint32Array.from(this.idx) };
  }
}

/** Axis-aligned box from `lo` to `hi`, each side cut into div x div quads. */
export function box(b: MeshBuilder, lo: Vec3, hi: Vec3, place: Place = identity, div = 1): void {
  const lerp = (k: number, t: number): number => lo[k] + (hi[k] - lo[k]) * t;
  for (const axis of [0, 1, 2]) {
    const a1 = (axis + 1) % 3;
    const a2 = (axis + 2) % 3;
    for (const side of [0, 1]) {
      b.surface(
        div,
        div,
        (u, v) => {
          const p: Vec3 = [0, 0, 0];
          p[axis] = side ? hi[axis] : lo[axis];
          p[a1] = lerp(a1, u);
          p[a2] = lerp(a2, v);
          return p;
        },
        place,
      );
    }
  }
}

/**
 * Surface of revolution about the local y axis: the polyline profile [(radius, y), ...] swept through
 * `segments` steps. A profile point with radius 0 becomes one pole vertex (by welding).
 */
export function revolve(b: MeshBuilder, profile: readonly (readonly [number, number])[], segments: number, place: Place = identity): void {
  b.surface(
    segments,
    profile.length - 1,
    (u, v) => {
      const [r, y] = profile[Math.round(v * (profile.length - 1))];
      const t = 2 * Math.PI * u;
      return [r * Math.cos(t), y, r * Math.sin(t)];
    },
    place,
  );
}

/** Closed cylinder (or frustum) about the local y axis, from y0 (radius r0) to y1 (radius r1). */
export function cylinder(b: MeshBuilder, r0: number, r1: number, y0: number, y1: number, segments: number, place: Place = identity, rings = 1): void {
  const profile: [number, number][] = [[0, y0]];
  for (let i = 0; i <= rings; i++) profile.push([r0 + ((r1 - r0) * i) / rings, y0 + ((y1 - y0) * i) / rings]);
  profile.push([0, y1]);
  revolve(b, profile, segments, place);
}

/**
 * Torus about the local y axis (major radius R, tube radius r). `arc` limits the sweep (radians,
 * measured from +x towards +z), leaving an open tube, e.g. a mug handle.
 */
export function torus(b: MeshBuilder, R: number, r: number, nu: number, nv: number, place: Place = identity, arc: [number, number] = [0, 2 * Math.PI]): void {
  b.surface(
    nu,
    nv,
    (u, v) => {
      const t = arc[0] + (arc[1] - arc[0]) * u;
      const s = 2 * Math.PI * v;
      const rr = R + r * Math.cos(s);
      return [rr * Math.cos(t), r * Math.sin(s), rr * Math.sin(t)];
    },
    place,
  );
}

/**
 * Hexahedron from 8 corners: c[0..3] one quad face (in order around it), c[4..7] the opposite face with
 * c[4+i] joined to c[i]. Sides are cut into div x div quads (bilinear), for meshes of a reasonable density.
 */
export function hexa(b: MeshBuilder, c: readonly Vec3[], place: Place = identity, div = 1): void {
  const face = (p: Vec3, q: Vec3, r: Vec3, s: Vec3): void =>
    b.surface(
      div,
      div,
      (u, v) => {
        const out: Vec3 = [0, 0, 0];
        for (let k = 0; k < 3; k++) out[k] = (1 - u) * (1 - v) * p[k] + u * (1 - v) * q[k] + u * v * r[k] + (1 - u) * v * s[k];
        return out;
      },
      place,
    );
  face(c[0], c[1], c[2], c[3]);
  face(c[4], c[5], c[6], c[7]);
  for (let i = 0; i < 4; i++) {
    const j = (i + 1) % 4;
    face(c[i], c[j], c[4 + j], c[4 + i]);
  }
}
