// Meshes (src/semantic/mesh.ts, src/semantic/meshes/): the OBJ reader (statements, index forms, fans,
// errors naming the line), the spec's normalisation step by step, and the bundled meshes.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { BUNDLED_MESH_NAMES, faceCount, loadMesh, type Mesh, MeshError, meshFromArrays, normalizeMesh, parseObj, writeObj } from '../../src/semantic/mesh.js';
import { MESH_CLASSES } from '../../src/semantic/meshes/index.js';
import { teapot } from '../../src/semantic/meshes/teapot.js';
import { TEAPOT_PATCHES, TEAPOT_POINTS } from '../../src/semantic/meshes/teapot-data.js';

const faces = (m: Mesh): number[][] => Array.from({ length: faceCount(m) }, (_, i) => Array.from(m.faces.slice(3 * i, 3 * i + 3)));

function extent(m: Mesh): { min: number[]; max: number[] } {
  const min = [Infinity, Infinity, Infinity];
  const max = [-Infinity, -Infinity, -Infinity];
  for (let i = 0; i < m.positions.length; i++) {
    min[i % 3] = Math.min(min[i % 3], m.positions[i]);
    max[i % 3] = Math.max(max[i % 3], m.positions[i]);
  }
  return { min, max };
}

describe('parseObj', () => {
  it('reads v and f, with v/vt/vn, v//vn and v/vt index forms, ignoring other statements and comments', () => {
    const m = parseObj(
      [
        '# a comment',
        'mtllib x.mtl',
        'o thing',
        'v 0 0 0',
        'v 1.5 -2 3e-1',
        'v .5 +1 -0.25 1.0', // optional w
        'vt 0 1',
        'vn 0 0 1',
        'g group',
        's off',
        'usemtl red',
        'f 1/1/1 2/1/1 3/1/1',
        'f 1//1 3//1 2//1',
        'f 3/1 2/1 1/1 # trailing comment',
        'l 1 2',
        '',
      ].join('\r\n'),
    );
    expect(Array.from(m.positions)).toEqual(Array.from(Float32Array.from([0, 0, 0, 1.5, -2, 0.3, 0.5, 1, -0.25])));
    expect(faces(m)).toEqual([
      [0, 1, 2],
      [0, 2, 1],
      [2, 1, 0],
    ]);
  });

  it('resolves negative indices relative to the vertices read so far', () => {
    const m = parseObj('v 0 0 0\nv 1 0 0\nv 0 1 0\nf -3 -2 -1\nv 0 0 1\nf -1 -2 -4\n');
    expect(faces(m)).toEqual([
      [0, 1, 2],
      [3, 2, 0],
    ]);
  });

  it('triangulates polygons as fans from their first vertex (as the reference loader)', () => {
    const m = parseObj('v 0 0 0\nv 1 0 0\nv 1 1 0\nv 0 1 0\nv -1 1 0\nf 1 2 3 4\nf 5 1 2 3 4\n');
    expect(faces(m)).toEqual([
      [0, 1, 2],
      [0, 2, 3],
      [4, 0, 1],
      [4, 1, 2],
      [4, 2, 3],
    ]);
  });

  it('accepts faces that name vertices defined further down', () => {
    expect(faces(parseObj('f 1 2 3\nv 0 0 0\nv 1 0 0\nv 0 1 0\n'))).toEqual([[0, 1, 2]]);
  });

  const bad: [string, string, RegExp][] = [
    ['bad number', 'v 0 0 0\nv 1 x 0\n', /^m\.obj:2: bad number 'x' in 'v 1 x 0'$/],
    ['hex is not an OBJ number', 'v 0x10 0 0\n', /m\.obj:1: bad number '0x10'/],
    ['NaN is not a number', 'v 0 NaN 0\n', /m\.obj:1: bad number 'NaN'/],
    ['overflowing number', 'v 1e999 0 0\n', /m\.obj:1: bad number '1e999'/],
    ['vertex with two coordinates', 'v 1 2\n', /m\.obj:1: vertex with 2 coordinates \(need x y z\) in 'v 1 2'/],
    ['positive index out of range', 'v 0 0 0\nv 1 0 0\nv 0 1 0\n\nf 1 2 4\n', /^m\.obj:5: vertex index 4 out of range \(3 vertices\) in 'f 1 2 4'$/],
    ['negative index out of range', 'v 0 0 0\nv 1 0 0\nf -1 -2 -3\n', /m\.obj:3: vertex index -3 out of range \(2 vertices so far\) in 'f -1 -2 -3'/],
    ['index 0', 'v 0 0 0\nv 1 0 0\nv 0 1 0\nf 0 1 2\n', /m\.obj:4: vertex index 0 \(OBJ indices start at 1\)/],
    ['non-integer index', 'v 0 0 0\nv 1 0 0\nv 0 1 0\nf 1 2.5 3\n', /m\.obj:4: bad vertex index '2\.5'/],
    ['face with two vertices', 'v 0 0 0\nv 1 0 0\nf 1 2\n', /^m\.obj:3: face with 2 vertices \(need at least 3\) in 'f 1 2'$/],
    ['no faces', 'v 0 0 0\nv 1 0 0\nvt 0 0\n', /^m\.obj: no faces \(2 vertices, no 'f' statements\)$/],
    ['empty file', '', /m\.obj: no faces/],
  ];
  for (const [what, text, msg] of bad)
    it(`rejects ${what}, naming the line`, () => {
      expect(() => parseObj(text, 'm.obj')).toThrow(MeshError);
      expect(() => parseObj(text, 'm.obj')).toThrow(msg);
    });
});

describe('normalizeMesh (spec: v -= min; v /= max|v|; v *= 2; v -= max(v)/2)', () => {
  it('follows the four steps exactly on a worked example', () => {
    // v - min(v) = (0,0,0), (2,0,1), (1,4,0); max|v| = 4 -> (0,0,0), (.5,0,.25), (.25,1,0);
    // x2 -> (0,0,0), (1,0,.5), (.5,2,0); max per axis (1,2,.5), minus half of it:
    const m = normalizeMesh(
      meshFromArrays(
        't',
        [
          [1, 2, 3],
          [3, 2, 4],
          [2, 6, 3],
        ],
        [[0, 1, 2]],
      ),
    );
    expect(Array.from(m.positions)).toEqual([-0.5, -1, -0.25, 0.5, -1, 0.25, 0, 1, -0.25]);
  });

  it('uses one scale for all axes (aspect kept) and centres each axis on its own extent', () => {
    const m = normalizeMesh(
      meshFromArrays(
        't',
        [
          [10, 10, 10],
          [14, 11, 10],
          [10, 10, 12],
        ],
        [[0, 1, 2]],
      ),
    );
    const e = extent(m);
    expect(e.min).toEqual([-1, -0.25, -0.5]);
    expect(e.max).toEqual([1, 0.25, 0.5]);
  });

  it('counts unused vertices (as the reference) and rejects a mesh of coincident points', () => {
    const m = normalizeMesh(
      meshFromArrays(
        't',
        [
          [0, 0, 0],
          [1, 0, 0],
          [0, 1, 0],
          [9, 0, 0],
        ],
        [[0, 1, 2]],
      ),
    );
    expect(extent(m).max[0]).toBe(1);
    expect(m.positions[0]).toBe(-1);
    expect(() =>
      normalizeMesh(
        meshFromArrays(
          'dot',
          [
            [1, 1, 1],
            [1, 1, 1],
            [1, 1, 1],
          ],
          [[0, 1, 2]],
        ),
      ),
    ).toThrow(/'dot': all vertices coincide/);
  });
});

describe('bundled meshes and loadMesh', () => {
  it('offers the bunny, the teapot and procedural classes, each normalised, valid and of a classifier-sized density', () => {
    expect(BUNDLED_MESH_NAMES).toEqual(expect.arrayContaining(['bunny', 'teapot', 'torus', 'cone', 'mug', 'chair', 'car', 'cube']));
    expect(MESH_CLASSES.length).toBeGreaterThanOrEqual(8);
    expect(MESH_CLASSES).not.toContain('cube');
    for (const name of BUNDLED_MESH_NAMES) {
      const m = loadMesh(name);
      const nv = m.positions.length / 3;
      const nf = faceCount(m);
      if (name !== 'cube') {
        expect(nf, name).toBeGreaterThanOrEqual(300);
        expect(nf, name).toBeLessThanOrEqual(12000);
      }
      for (let i = 0; i < m.faces.length; i += 3) {
        const [a, b, c] = m.faces.slice(i, i + 3);
        expect(a < nv && b < nv && c < nv && a !== b && b !== c && a !== c, `${name} face ${i / 3}`).toBe(true);
      }
      // Normalised: the longest axis spans exactly [-1, 1], every axis is centred.
      const e = extent(m);
      expect(Math.max(...e.max.map((x, k) => x - e.min[k])), name).toBeCloseTo(2, 6);
      for (let k = 0; k < 3; k++) expect(e.max[k] + e.min[k], `${name} axis ${k}`).toBeCloseTo(0, 6);
    }
    expect(faceCount(loadMesh('cube'))).toBe(12);
  });

  it('loads the Stanford bunny from the npm package (3674 triangles, y up: it is taller than deep)', () => {
    const m = loadMesh('bunny');
    expect(faceCount(m)).toBe(3674);
    expect(m.positions.length / 3).toBe(1839);
    const e = extent(m);
    expect(e.max[1] - e.min[1]).toBeGreaterThan(e.max[2] - e.min[2]);
  });

  it('shares one instance per bundled name', () => {
    expect(loadMesh('torus')).toBe(loadMesh('torus'));
  });

  it('reads OBJ files by path, normalised, and names unknown meshes', () => {
    const dir = mkdtempSync(join(tmpdir(), 'rs-mesh-'));
    const file = join(dir, 'tri.obj');
    writeFileSync(file, 'v 0 0 0\nv 4 0 0\nv 0 2 0\nf 1 2 3\n');
    const m = loadMesh(file);
    expect(extent(m).min).toEqual([-1, -0.5, 0]);
    expect(m.name).toBe(file);
    expect(() => loadMesh('no-such-mesh')).toThrow(/unknown mesh 'no-such-mesh': not a file and not a bundled mesh \(bunny, teapot/);
    expect(() => loadMesh(join(dir, 'missing.obj'))).toThrow(/cannot read mesh file '.*missing\.obj'/);
    writeFileSync(join(dir, 'bad.obj'), 'v 0 0 0\nf 1 1\n');
    expect(() => loadMesh(join(dir, 'bad.obj'))).toThrow(/bad\.obj:2: face with 2 vertices/);
  });

  it('writes OBJ that reads back to the same mesh', () => {
    const m = loadMesh('chair');
    const back = parseObj(writeObj(m), 'chair');
    expect(back.positions).toEqual(m.positions);
    expect(back.faces).toEqual(m.faces);
  });
});

describe('teapot', () => {
  it("holds Newell's table: 32 patches of 16 indices into 306 control points", () => {
    expect(TEAPOT_PATCHES.length).toBe(32 * 16);
    expect(TEAPOT_POINTS.length).toBe(306 * 3);
    expect(Math.max(...TEAPOT_PATCHES)).toBe(305);
    expect(Math.min(...TEAPOT_PATCHES)).toBe(0);
  });

  it('interpolates patch corners and is turned y-up with the spout on +x', () => {
    const m = teapot(6);
    const e = extent(m);
    // Published extents (z up): x from -3 (handle) to 3.45 (spout tip), y within +-2, z from 0 to 3.15.
    expect(e.min[0]).toBeCloseTo(-3, 6);
    expect(e.max[0]).toBeCloseTo(3.434, 2);
    expect(e.min[1]).toBeCloseTo(0, 6);
    expect(e.max[1]).toBeCloseTo(3.15, 6);
    expect(e.max[2]).toBeCloseTo(2, 6);
    // A patch corner is on the surface: (1.4, 0, 2.4) z-up -> (1.4, 2.4, 0) y-up.
    let found = false;
    for (let i = 0; i < m.positions.length; i += 3)
      if (Math.abs(m.positions[i] - 1.4) < 1e-6 && Math.abs(m.positions[i + 1] - 2.4) < 1e-6 && Math.abs(m.positions[i + 2]) < 1e-6) found = true;
    expect(found).toBe(true);
  });

  it('welds patch seams: the default tessellation is one closed-ish surface of ~6k triangles', () => {
    const m = teapot(10);
    expect(faceCount(m)).toBeGreaterThan(6000);
    expect(faceCount(m)).toBeLessThanOrEqual(6400);
    // Without welding the 32 patches would have 32 * 121 vertices.
    expect(m.positions.length / 3).toBeLessThan(32 * 121 * 0.9);
  });
});
