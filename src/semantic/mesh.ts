// Triangle meshes for the semantic-robustness renderer: an OBJ reader, the reference's normalisation
// (spec "Mesh normalisation") and loadMesh(name | path) over the bundled meshes (src/semantic/meshes/).
import { existsSync, readFileSync } from 'node:fs';
import { BUNDLED_MESH_NAMES, bundledMesh, MESH_CLASSES } from './meshes/index.js';

export class MeshError extends Error {}

export interface Mesh {
  name: string;
  /** x, y, z per vertex (y is up, as the renderer's camera assumes). */
  positions: Float32Array;
  /** Three vertex indices per triangle. */
  faces: Uint32Array;
}

export function vertexCount(mesh: Mesh): number {
  return mesh.positions.length / 3;
}

export function faceCount(mesh: Mesh): number {
  return mesh.faces.length / 3;
}

/** Builds a mesh from nested arrays (e.g. the `bunny` package's positions and cells), checking the indices. */
export function meshFromArrays(name: string, positions: readonly (readonly number[])[], cells: readonly (readonly number[])[]): Mesh {
  const p = new Float32Array(positions.length * 3);
  positions.forEach((v, i) => {
    if (v.length < 3 || !v.slice(0, 3).every(Number.isFinite)) throw new MeshError(`mesh '${name}': vertex ${i} is not three finite numbers`);
    p.set(v.slice(0, 3), i * 3);
  });
  const f: number[] = [];
  cells.forEach((c, i) => {
    if (c.length < 3) throw new MeshError(`mesh '${name}': face ${i} has ${c.length} vertices (need at least 3)`);
    for (const k of c)
      if (!Number.isInteger(k) || k < 0 || k >= positions.length)
        throw new MeshError(`mesh '${name}': face ${i} index ${k} out of range (${positions.length} vertices)`);
    for (let k = 1; k + 1 < c.length; k++) f.push(c[0], c[k], c[k + 1]);
  });
  if (f.length === 0) throw new MeshError(`mesh '${name}': no faces`);
  return { name, positions: p, faces: Uint32Array.from(f) };
}

// A decimal or exponent number, as OBJ writers emit them (no hex, no Infinity/NaN words).
const NUMBER = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;
const INTEGER = /^[+-]?\d+$/;

/**
 * Parses Wavefront OBJ text: `v` and `f` statements (f tokens `v`, `v/vt`, `v/vt/vn`, `v//vn`; negative
 * indices count back from the latest vertex); polygons become triangle fans from their first vertex, as
 * the reference's loader does. Every other statement (vt, vn, g, o, s, usemtl, l, ...) is ignored.
 * Positions are returned as written (see normalizeMesh). Errors name `source:line` and the line.
 */
export function parseObj(text: string, source = 'OBJ'): Mesh {
  const pos: number[] = [];
  const tri: number[] = [];
  // Faces that index vertices defined later in the file: checked once the vertex count is known.
  const forward: { line: number; content: string; index: number }[] = [];
  const lines = text.split(/\r?\n/);
  for (let ln = 0; ln < lines.length; ln++) {
    const content = lines[ln].trim();
    const hash = content.indexOf('#');
    const body = (hash >= 0 ? content.slice(0, hash) : content).trim();
    if (body === '') continue;
    const tok = body.split(/\s+/);
    const fail = (msg: string): never => {
      throw new MeshError(`${source}:${ln + 1}: ${msg} in '${content}'`);
    };
    if (tok[0] === 'v') {
      if (tok.length < 4) fail(`vertex with ${tok.length - 1} coordinates (need x y z)`);
      const xyz = [0, 0, 0];
      for (let k = 1; k < tok.length; k++) {
        // Extra values (w, or the r g b some writers append) must still be numbers.
        const x = NUMBER.test(tok[k]) ? Number(tok[k]) : Number.NaN;
        if (!Number.isFinite(x)) fail(`bad number '${tok[k]}'`);
        if (k <= 3) xyz[k - 1] = x;
      }
      pos.push(xyz[0], xyz[1], xyz[2]);
    } else if (tok[0] === 'f') {
      const n = tok.length - 1;
      if (n < 3) fail(`face with ${n} vertices (need at least 3)`);
      const nv = pos.length / 3;
      const idx: number[] = [];
      for (let k = 1; k <= n; k++) {
        const s = tok[k].split('/')[0];
        if (!INTEGER.test(s)) fail(`bad vertex index '${tok[k]}'`);
        const i = Number(s);
        if (i === 0) fail(`vertex index 0 (OBJ indices start at 1)`);
        if (i < 0) {
          if (nv + i < 0) fail(`vertex index ${i} out of range (${nv} vertices so far)`);
          idx.push(nv + i);
        } else {
          if (i > nv) forward.push({ line: ln + 1, content, index: i });
          idx.push(i - 1);
        }
      }
      for (let k = 1; k + 1 < n; k++) tri.push(idx[0], idx[k], idx[k + 1]);
    }
  }
  const nv = pos.length / 3;
  for (const f of forward)
    if (f.index > nv) throw new MeshError(`${source}:${f.line}: vertex index ${f.index} out of range (${nv} vertices) in '${f.content}'`);
  if (tri.length === 0) throw new MeshError(`${source}: no faces (${nv} vertices, no 'f' statements)`);
  return { name: source, positions: Float32Array.from(pos), faces: Uint32Array.from(tri) };
}

/** OBJ text of a mesh (1-based triangle faces), e.g. to export a bundled mesh. */
export function writeObj(mesh: Mesh): string {
  const out: string[] = [`# ${mesh.name}: ${vertexCount(mesh)} vertices, ${faceCount(mesh)} triangles`];
  const p = mesh.positions;
  for (let i = 0; i < p.length; i += 3) out.push(`v ${p[i]} ${p[i + 1]} ${p[i + 2]}`);
  const f = mesh.faces;
  for (let i = 0; i < f.length; i += 3) out.push(`f ${f[i] + 1} ${f[i + 1] + 1} ${f[i + 2] + 1}`);
  return `${out.join('\n')}\n`;
}

/**
 * The reference's normalisation, step by step as the spec states it: v -= min(v) (per axis);
 * v /= max|v| (one scalar over all coordinates); v *= 2; v -= max(v)/2 (per axis). The result is
 * centred and its longest extent spans [-1, 1]. All vertices count, used by a face or not (as in the reference).
 */
export function normalizeMesh(mesh: Mesh): Mesh {
  const p = mesh.positions;
  const n = p.length / 3;
  if (n === 0) throw new MeshError(`mesh '${mesh.name}': no vertices`);
  const v = Float64Array.from(p);
  const min = [Infinity, Infinity, Infinity];
  for (let i = 0; i < n; i++) for (let k = 0; k < 3; k++) min[k] = Math.min(min[k], v[3 * i + k]);
  let scale = 0;
  for (let i = 0; i < v.length; i++) {
    v[i] -= min[i % 3];
    scale = Math.max(scale, Math.abs(v[i]));
  }
  if (!(scale > 0)) throw new MeshError(`mesh '${mesh.name}': all vertices coincide (zero extent), cannot normalise`);
  const max = [-Infinity, -Infinity, -Infinity];
  for (let i = 0; i < v.length; i++) {
    v[i] = (v[i] / scale) * 2;
    max[i % 3] = Math.max(max[i % 3], v[i]);
  }
  for (let i = 0; i < v.length; i++) v[i] -= max[i % 3] / 2;
  return { name: mesh.name, positions: Float32Array.from(v), faces: mesh.faces };
}

export { BUNDLED_MESH_NAMES, MESH_CLASSES };

const cache = new Map<string, Mesh>();

/**
 * A normalised mesh: a bundled one by name (see BUNDLED_MESH_NAMES; no network needed) or an OBJ file.
 * A spec that looks like a path (has a slash or ends in .obj) is always read as a file. Bundled meshes
 * are built once and shared: treat meshes as immutable.
 */
export function loadMesh(spec: string): Mesh {
  const looksLikePath = /[/\\]/.test(spec) || /\.obj$/i.test(spec);
  if (!looksLikePath) {
    const hit = cache.get(spec);
    if (hit) return hit;
    const raw = bundledMesh(spec);
    if (raw) {
      const m = normalizeMesh(raw);
      cache.set(spec, m);
      return m;
    }
    if (!existsSync(spec)) throw new MeshError(`unknown mesh '${spec}': not a file and not a bundled mesh (${BUNDLED_MESH_NAMES.join(', ')})`);
  }
  let text: string;
  try {
    text = readFileSync(spec, 'utf8');
  } catch (e) {
    throw new MeshError(`cannot read mesh file '${spec}': ${(e as Error).message}`);
  }
  return normalizeMesh(parseObj(text, spec));
}
