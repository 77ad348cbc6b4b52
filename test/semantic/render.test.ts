// The rasterizer (src/semantic/render.ts) against the spec's reference renderer conventions: camera and
// projection (a hand-computed vertex lands on its pixel), flat object-space shading, double-sided faces
// lit from the side facing the camera, near/far, 2x supersampling, watertight shared edges, batch
// rendering into NCHW tensors, and golden images of a cube.
//
// Golden PNGs: test/fixtures/render/*.png. After a deliberate change of the renderer, look at the new
// images and rewrite them with RS_UPDATE_GOLDEN=1 npx vitest run test/semantic/render.test.ts
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { decodeRgb, rgbPng } from '../../src/data/image.js';
import { loadMesh, type Mesh } from '../../src/semantic/mesh.js';
import { CAMERA_DISTANCE, camera, projectPoint, RenderError, Renderer, renderBatch, renderImage, renderInto, type View } from '../../src/semantic/render.js';

const tri = (name: string, p: number[]): Mesh => ({ name, positions: Float32Array.from(p), faces: Uint32Array.from([0, 1, 2]) });
/** Quad from corners in order, as two triangles sharing the diagonal p0-p2. */
const quad = (name: string, p: number[]): Mesh => ({ name, positions: Float32Array.from(p), faces: Uint32Array.from([0, 1, 2, 0, 2, 3]) });
const px = (img: Float32Array, size: number, row: number, col: number, ch = 0): number => img[ch * size * size + row * size + col];
/** The value at the output pixel where a world point projects. */
function at(img: Float32Array, size: number, p: [number, number, number], view: View): number {
  const q = projectPoint(p, view, size);
  return px(img, size, Math.floor(q.row), Math.floor(q.col));
}
const cube = loadMesh('cube');
// z tan 30 for a point at the origin seen from the default distance: where screen +-1 lies in world units.
const HALF_WIDTH = CAMERA_DISTANCE * Math.tan(Math.PI / 6);

describe('camera (spec: eye = d (cos el sin az, sin el, -cos el cos az), look-at origin, up (0,1,0))', () => {
  it('places the eye by the formula, in degrees, at distance 2.732 by default', () => {
    const c = camera({ azimuth: 90, elevation: 0 });
    expect(c.eye[0]).toBeCloseTo(2.732, 12);
    expect(c.eye[1]).toBeCloseTo(0, 12);
    expect(c.eye[2]).toBeCloseTo(0, 12);
    const d = camera({ azimuth: 30, elevation: 20, distance: 5 });
    const r = Math.PI / 180;
    expect(d.eye[0]).toBeCloseTo(5 * Math.cos(20 * r) * Math.sin(30 * r), 12);
    expect(d.eye[1]).toBeCloseTo(5 * Math.sin(20 * r), 12);
    expect(d.eye[2]).toBeCloseTo(-5 * Math.cos(20 * r) * Math.cos(30 * r), 12);
  });

  it("uses the reference's look_at axes (right = up x forward) and stays defined looking straight down", () => {
    const c = camera({ azimuth: 0, elevation: 0 });
    expect(c.forward).toEqual([-0, -0, 1]);
    expect(c.right).toEqual([1, 0, 0]);
    const top = camera({ azimuth: 40, elevation: 90 });
    const r = Math.PI / 180;
    // Limit of the |el| < 90 axes: right = (cos az, 0, sin az).
    expect(top.right[0]).toBeCloseTo(Math.cos(40 * r), 9);
    expect(top.right[2]).toBeCloseTo(Math.sin(40 * r), 9);
    expect(top.forward[1]).toBeCloseTo(-1, 12);
    const img = renderImage(cube, { azimuth: 40, elevation: 90 }, 16);
    expect(Number.isFinite(img.reduce((a, b) => a + b))).toBe(true);
    expect(px(img, 16, 8, 8)).toBe(1); // the top face, lit by the light straight above
  });
});

describe("projection (spec: x' = x / (z tan 30), 224 px, y up)", () => {
  it('puts a hand-computed vertex on its pixel', () => {
    // az 90: eye (2.732, 0, 0), forward -x, right +z, up +y. Point (0, 0.3, 0.6): camera (0.6, 0.3, 2.732);
    // z tan30 = 2.732 / sqrt(3) = 1.577321; x' = 0.380392, y' = 0.190196;
    // col = (x' + 1) / 2 * 224 = 154.6039, row = (1 - y') / 2 * 224 = 90.6981.
    const view = { azimuth: 90, elevation: 0 };
    const q = projectPoint([0, 0.3, 0.6], view, 224);
    expect(q.col).toBeCloseTo(154.6039, 3);
    expect(q.row).toBeCloseTo(90.6981, 3);
    expect(q.depth).toBeCloseTo(2.732, 12);
    // Rendered: a small triangle around that point, facing the camera, lights pixel (row 90, col 154) most.
    const e = 0.004;
    const m = tri('dot', [0, 0.3 - e, 0.6 - e, 0, 0.3 - e, 0.6 + e, 0, 0.3 + e, 0.6]);
    const img = renderImage(m, view, 224);
    let best = -1;
    for (let i = 0; i < 224 * 224; i++) if (best < 0 || img[i] > img[best]) best = i;
    expect([Math.floor(best / 224), best % 224]).toEqual([90, 154]);
    expect(img[best]).toBeGreaterThan(0);
  });

  it('shows world +x on the right and +y at the top from az 0 (the reference look_at, a mirror of a physical camera)', () => {
    const view = { azimuth: 0, elevation: 0 };
    expect(projectPoint([0.5, 0, 0], view, 100).col).toBeGreaterThan(50);
    expect(projectPoint([0, 0.5, 0], view, 100).row).toBeLessThan(50);
    // The front face of the cube (z = -1, at depth 1.732 ~ 2.732 - 1) just fills the frame.
    const q = projectPoint([1, 1, -1], view, 100);
    expect(q.col).toBeCloseTo(100, 2);
    expect(q.row).toBeCloseTo(0, 2);
  });
});

describe('flat shading in object space (spec: 0.5 ambient + 0.5 max(0, n . (0,1,0)), white texture)', () => {
  it('lights the top face 1.0 and side faces 0.5, equally in R, G and B', () => {
    const view = { azimuth: 20, elevation: 30, distance: 5 };
    const img = renderImage(cube, view, 64);
    expect(at(img, 64, [0, 1, 0], view)).toBe(1);
    expect(at(img, 64, [0, 0, -1], view)).toBe(0.5);
    expect(at(img, 64, [1, 0, 0], view)).toBe(0.5);
    const q = projectPoint([0, 1, 0], view, 64);
    for (const ch of [1, 2]) expect(px(img, 64, Math.floor(q.row), Math.floor(q.col), ch)).toBe(1);
  });

  it('lights in object space: the shade of a face does not change with the viewpoint', () => {
    for (const az of [0, 77, 180, 263]) {
      const view = { azimuth: az, elevation: 45, distance: 5 };
      expect(at(renderImage(cube, view, 48), 48, [0, 1, 0], view)).toBe(1);
    }
  });

  it('follows the light direction parameter (normalised)', () => {
    const view = { azimuth: 60, elevation: 20, distance: 5, light: [2, 0, 0] as const };
    const img = renderImage(cube, view, 64);
    expect(at(img, 64, [1, 0, 0], view)).toBe(1);
    expect(at(img, 64, [0, 1, 0], view)).toBe(0.5);
    expect(at(img, 64, [0, 0, -1], view)).toBe(0.5);
    const diag = { ...view, light: [1, 1, 0] as const };
    const img2 = renderImage(cube, diag, 64);
    expect(at(img2, 64, [1, 0, 0], diag)).toBeCloseTo(0.5 + 0.5 * Math.SQRT1_2, 6);
    expect(at(img2, 64, [0, 1, 0], diag)).toBeCloseTo(0.5 + 0.5 * Math.SQRT1_2, 6);
  });
});

describe('double-sided faces (spec: "faces double-sided"; reference: fill_back copies, back copies culled)', () => {
  // One triangle whose normal (by its winding, (v1-v0)x(v2-v0)) is (0, 0.6, -0.8): towards an eye at -z, tilted up.
  const t = tri('tilted', [-0.5, -0.4, -0.3, 0.5, -0.4, -0.3, 0, 0.4, 0.3]);
  const centroid: [number, number, number] = [0, -0.4 / 3, -0.1];

  it('is visible from both sides, lit with the normal facing the camera (0.8 in front, ambient 0.5 behind)', () => {
    const front = { azimuth: 0, elevation: 0 };
    const back = { azimuth: 180, elevation: 0 };
    expect(at(renderImage(t, front, 64), 64, centroid, front)).toBeCloseTo(0.8, 6);
    // |n . l| would give 0.8 here too; the reference lights the back copy by -n: 0.5 + 0.5 max(0, -0.6).
    expect(at(renderImage(t, back, 64), 64, centroid, back)).toBe(0.5);
  });

  it('does not depend on the winding of the faces', () => {
    const reversed = tri('reversed', [0.5, -0.4, -0.3, -0.5, -0.4, -0.3, 0, 0.4, 0.3]);
    for (const view of [
      { azimuth: 0, elevation: 0 },
      { azimuth: 180, elevation: 10 },
      { azimuth: 250, elevation: -10 },
    ])
      expect(renderImage(reversed, view, 32)).toEqual(renderImage(t, view, 32));
  });

  it('lights the cube bottom seen from below with the ambient term only', () => {
    const view = { azimuth: 30, elevation: -40, distance: 5 };
    expect(at(renderImage(cube, view, 64), 64, [0, -1, 0], view)).toBe(0.5);
  });
});

describe('z-buffer, near and far (spec: near 0.1, far 100)', () => {
  it('draws the nearer of two overlapping faces whatever their order', () => {
    const near = [-0.5, -0.5, -0.5, 0.5, -0.5, -0.5, 0.5, 0.5, -0.5, -0.5, 0.5, -0.5]; // z = -0.5, faces the eye (0.5)
    const far = [-1, -1, 0.2, 1, -1, 0.2, 1, 1, 0.5, -1, 1, 0.5]; // leaning back: its visible side faces up a little
    const twoQuads = (first: number[], second: number[]): Mesh => ({
      name: 'two',
      positions: Float32Array.from([...first, ...second]),
      faces: Uint32Array.from([0, 1, 2, 0, 2, 3, 4, 5, 6, 4, 6, 7]),
    });
    const view = { azimuth: 0, elevation: 0 };
    const a = renderImage(twoQuads(near, far), view, 32);
    const b = renderImage(twoQuads(far, near), view, 32);
    expect(px(a, 32, 16, 16)).toBe(0.5);
    expect(px(b, 32, 16, 16)).toBe(0.5);
    // Row 8 (y' 0.44..0.5) is above the near quad (y' <= 0.39) and inside the far one (y' <= 0.54).
    expect(px(a, 32, 8, 16)).toBeGreaterThan(0.5);
    expect(px(b, 32, 8, 16)).toBe(px(a, 32, 8, 16));
  });

  it('skips surface closer than the near plane or beyond the far plane', () => {
    // A face-on quad at camera depth 0.05 (nearer than near) and 0.2 (drawn).
    const at_ = (depth: number): Mesh => {
      const z = -CAMERA_DISTANCE + depth;
      return quad('q', [-0.05, -0.05, z, 0.05, -0.05, z, 0.05, 0.05, z, -0.05, 0.05, z]);
    };
    const view = { azimuth: 0, elevation: 0 };
    expect(Math.max(...renderImage(at_(0.05), view, 16))).toBe(0);
    expect(px(renderImage(at_(0.2), view, 16), 16, 8, 8)).toBe(0.5);
    // The cube spans depths d - 1 .. d + 1 (a few raster pixels at 64 px): drawn at d = 99, gone at 102.
    expect(Math.max(...renderImage(cube, { azimuth: 0, elevation: 0, distance: 99 }, 64))).toBeGreaterThan(0);
    expect(Math.max(...renderImage(cube, { azimuth: 0, elevation: 0, distance: 102 }, 64))).toBe(0);
  });
});

describe('anti-aliasing (spec: render at 2x, 2x2 average pooling)', () => {
  // A face-on quad from world x = xe to beyond the right border, xe chosen so the edge falls between the
  // two subsample columns of output column 20 (S = 32): x' = (2c + 1) / S - 1 = 0.28125, x = x' z tan30.
  const S = 32;
  const xe = 0.28125 * HALF_WIDTH;
  const half = quad('half', [xe, -3, 0, 3, -3, 0, 3, 3, 0, xe, 3, 0]);
  const view = { azimuth: 0, elevation: 0 };

  it('gives edge pixels the mean of their 2x2 subsamples', () => {
    const img = renderImage(half, view, S);
    for (const row of [3, 16, 30]) {
      expect(px(img, S, row, 19)).toBe(0);
      expect(px(img, S, row, 20)).toBe(0.25); // one of two subsample columns covered: 0.5 / 2
      expect(px(img, S, row, 21)).toBe(0.5);
    }
  });

  it('has only hard edges without supersampling; with it, silhouette pixels take intermediate values', () => {
    const hard = new Renderer(S, 1).render(half, view);
    expect(new Set(hard)).toEqual(new Set([0, 0.5]));
    const soft = renderImage(loadMesh('cone'), { azimuth: 10, elevation: 0 }, S);
    // The cone's faces are lit 0.5..0.93; values below 0.5 are background mixed into edge pixels.
    expect([...new Set(soft)].some((v) => v > 0 && v < 0.5)).toBe(true);
  });
});

describe('watertight shared edges', () => {
  it('leaves no crack along a diagonal that passes exactly through pixel centres', () => {
    // Square x', y' in [-0.5, 0.5] at S = 32: raster (64 px) corners at 15.5 and 47.5, so the shared
    // diagonal X + Y = 63 runs through subsample centres, which both triangles must cover.
    const h = 0.5 * HALF_WIDTH;
    const sq = quad('square', [-h, -h, 0, h, -h, 0, h, h, 0, -h, h, 0]);
    const img = renderImage(sq, { azimuth: 0, elevation: 0 }, 32);
    for (let r = 8; r < 24; r++) for (let c = 8; c < 24; c++) expect(px(img, 32, r, c), `${r},${c}`).toBe(0.5);
    // The square's sides lie on output pixel borders: no partial pixels around it.
    for (const [r, c] of [
      [7, 12],
      [24, 12],
      [12, 7],
      [12, 24],
      [7, 7],
    ])
      expect(px(img, 32, r, c)).toBe(0);
  });
});

describe('renderInto / renderBatch (NCHW model input)', () => {
  it('writes 3 x S x S at the offset and nothing else, the same as single renders', () => {
    const S = 24;
    const views: View[] = [
      { azimuth: 130, elevation: 30 },
      { azimuth: 50, elevation: 20 },
      { azimuth: 200, elevation: 15, light: [0, 0, -1] },
    ];
    const mug = loadMesh('mug');
    const n = 3 * S * S;
    const out = new Float32Array(7 + views.length * n + 5).fill(-7);
    views.forEach((v, i) => {
      renderInto(out, 7 + i * n, mug, v, S);
    });
    expect(Array.from(out.subarray(0, 7))).toEqual(Array(7).fill(-7));
    expect(Array.from(out.subarray(7 + views.length * n))).toEqual(Array(5).fill(-7));
    views.forEach((v, i) => {
      expect(out.subarray(7 + i * n, 7 + (i + 1) * n)).toEqual(renderImage(mug, v, S));
    });
    expect(renderBatch(mug, views, S)).toEqual(out.subarray(7, 7 + views.length * n));
    expect(() => renderInto(out, out.length - n + 1, mug, views[0], S)).toThrow(RenderError);
  });

  it('forgets the previous image: a renderer reused across meshes and views equals a fresh one', () => {
    const r = new Renderer(40);
    const fresh = (m: Mesh, v: View) => new Renderer(40).render(m, v);
    const seq: [string, View][] = [
      ['table', { azimuth: 10, elevation: 60 }],
      ['bottle', { azimuth: 99, elevation: -5 }],
      ['cube', { azimuth: 0, elevation: 0, distance: 40 }],
      ['bunny', { azimuth: 300, elevation: 20 }],
    ];
    for (const [name, v] of seq) expect(r.render(loadMesh(name), v), name).toEqual(fresh(loadMesh(name), v));
  });

  it('rejects bad sizes, distances and light directions', () => {
    expect(() => new Renderer(0)).toThrow(/image size must be a positive integer/);
    expect(() => renderImage(cube, { azimuth: 0, elevation: 0, distance: -1 }, 8)).toThrow(/distance must be a positive number/);
    expect(() => renderImage(cube, { azimuth: Number.NaN, elevation: 0 }, 8)).toThrow(/azimuth and elevation must be finite/);
    expect(() => renderImage(cube, { azimuth: 0, elevation: 0, light: [0, 0, 0] }, 8)).toThrow(/light direction/);
  });
});

describe('golden images of the cube (test/fixtures/render)', () => {
  const dir = join(import.meta.dirname, '..', 'fixtures', 'render');
  const S = 64;
  const cases: [string, View][] = [
    ['cube-az30-el20-d5', { azimuth: 30, elevation: 20, distance: 5 }],
    ['cube-az130-el30', { azimuth: 130, elevation: 30 }],
    ['cube-az225-el-10-d5', { azimuth: 225, elevation: -10, distance: 5 }],
    // A light from the right, above and in front tells the three visible faces apart (0.5 + 0.5 n.l).
    ['cube-az30-el20-d5-light', { azimuth: 30, elevation: 20, distance: 5, light: [1, 2, -3] }],
  ];
  // Asymmetric: the mug's handle is on +x, so the image also pins the left-right convention.
  const meshes: Record<string, string> = { 'mug-az0-el20': 'mug' };
  cases.push(['mug-az0-el20', { azimuth: 0, elevation: 20 }]);
  for (const [name, view] of cases)
    it(`matches ${name}.png`, async () => {
      const img = renderImage(loadMesh(meshes[name] ?? 'cube'), view, S);
      const file = join(dir, `${name}.png`);
      if (process.env.RS_UPDATE_GOLDEN === '1' || !existsSync(file)) {
        mkdirSync(dir, { recursive: true });
        writeFileSync(file, await rgbPng(img, S, S));
        if (process.env.RS_UPDATE_GOLDEN !== '1') throw new Error(`wrote missing golden ${file}: check it and rerun`);
      }
      const ref = await decodeRgb(file);
      expect([ref.width, ref.height]).toEqual([S, S]);
      let off = 0;
      let sum = 0;
      for (let p = 0; p < S * S; p++)
        for (let ch = 0; ch < 3; ch++) {
          const d = Math.abs(img[ch * S * S + p] * 255 - ref.data[p * 3 + ch]);
          sum += d;
          if (d > 2) off++;
        }
      // Tolerance for floating-point changes: a handful of edge pixels may move, nothing more.
      expect(off).toBeLessThanOrEqual(6);
      expect(sum / (3 * S * S)).toBeLessThan(0.5);
    });
});
