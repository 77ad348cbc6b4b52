// Parameter spaces (src/semantic/space.ts): the viewpoint space renders what render.ts renders for the
// same camera (az, el, distance) and light direction (light_az, light_el with the camera's angle
// convention; default (0,1,0)); the image space applies image-transform.ts with its parameters in
// order; restrictSpace pins the other parameters; domains give errors naming the parameter; keys change
// with what changes the images.
import { describe, expect, it } from 'vitest';
import { transformImage, transformLabels } from '../../src/semantic/image-transform.js';
import { loadMesh } from '../../src/semantic/mesh.js';
import { renderImage } from '../../src/semantic/render.js';
import {
  canonicalViewpoint,
  directionFromAngles,
  IMAGE_DIMS,
  imageSpace,
  restrictSpace,
  SpaceError,
  VIEWPOINT_DIMS,
  viewpointSpace,
} from '../../src/semantic/space.js';
import { Rng } from '../../src/util/random.js';

const cube = loadMesh('cube');
const SIZE = 24;
const P = (...v: number[]) => Float64Array.from(v);
const same = (a: Float32Array, b: Float32Array) => expect(Array.from(a)).toEqual(Array.from(b));

describe('viewpoint space', () => {
  const space = viewpointSpace(cube, { size: SIZE });
  const n = 3 * SIZE * SIZE;
  it('has az, el, distance, light_az, light_el with the spec defaults (distance 2.732, light (0,1,0))', () => {
    expect(space.dims.map((d) => d.name)).toEqual(['az', 'el', 'distance', 'light_az', 'light_el']);
    expect(space.dims.map((d) => d.default)).toEqual([0, 0, 2.732, 0, 90]);
    expect(space.imageShape).toEqual([3, SIZE, SIZE]);
    expect(directionFromAngles(0, 90)).toEqual([0, 1, -0]);
  });
  it('renders a batch into NCHW, image i equal to renderImage at (az_i, el_i) with the default camera and light', () => {
    const pts = [P(30, 20, 2.732, 0, 90), P(130, -5, 2.732, 0, 90), P(200, 60, 2.732, 0, 90)];
    const out = new Float32Array(3 * n);
    space.render(pts, out);
    pts.forEach((p, i) => {
      same(out.subarray(i * n, (i + 1) * n), renderImage(cube, { azimuth: p[0], elevation: p[1] }, SIZE));
    });
  });
  it('passes distance and the light direction (light_az 90, light_el 0 is +x; light_az 0, light_el 0 is -z)', () => {
    const out = new Float32Array(n);
    space.render([P(40, 25, 4, 90, 0)], out);
    same(out, renderImage(cube, { azimuth: 40, elevation: 25, distance: 4, light: [1, 0, 0] }, SIZE));
    space.render([P(40, 25, 2.732, 0, 0)], out);
    same(out, renderImage(cube, { azimuth: 40, elevation: 25, light: [0, 0, -1] }, SIZE));
    // And the light really matters: +x light differs from the default.
    expect(Array.from(out)).not.toEqual(Array.from(renderImage(cube, { azimuth: 40, elevation: 25 }, SIZE)));
  });
  it('writes at an offset', () => {
    const out = new Float32Array(2 * n).fill(-1);
    space.render([P(10, 10, 2.732, 0, 90)], out, n);
    expect(out[n - 1]).toBe(-1);
    same(out.subarray(n), renderImage(cube, { azimuth: 10, elevation: 10 }, SIZE));
  });
  it('rejects points outside the domain naming the parameter (el beyond 90, distance at the near plane)', () => {
    const out = new Float32Array(n);
    expect(() => space.render([P(0, 95, 2.732, 0, 90)], out)).toThrow(SpaceError);
    expect(() => space.render([P(0, 95, 2.732, 0, 90)], out)).toThrow(/el=95 is outside its domain \[-90, 90\]/);
    expect(() => space.render([P(0, 0, 0.1, 0, 90)], out)).toThrow(/distance=0.1 .*near plane/);
    expect(() => space.render([P(0, 0)], out)).toThrow(/needs 5 values/);
  });
  it('its key names the mesh geometry and the image size', () => {
    expect(viewpointSpace(cube, { size: SIZE }).key).toEqual(space.key);
    expect(viewpointSpace(cube, { size: 32 }).key).not.toEqual(space.key);
    expect(viewpointSpace(loadMesh('teapot'), { size: SIZE }).key.mesh).not.toEqual(space.key.mesh);
  });
});

describe('image space', () => {
  const shape = { channels: 3, height: 6, width: 5 };
  const r = new Rng(7);
  const img = Float32Array.from({ length: 90 }, () => r.next());
  const space = imageSpace(img, shape);
  it('has rotation, scale, tx, ty, brightness, contrast, blur with identity defaults', () => {
    expect(space.dims.map((d) => d.name)).toEqual(['rotation', 'scale', 'tx', 'ty', 'brightness', 'contrast', 'blur']);
    expect(IMAGE_DIMS.map((d) => d.default)).toEqual([0, 1, 0, 0, 1, 1, 0]);
    const out = new Float32Array(90);
    space.render([Float64Array.from(space.dims, (d) => d.default)], out);
    same(out, img);
  });
  it('point (rotation, scale, tx, ty, brightness, contrast, blur) renders transformImage with those values', () => {
    const out = new Float32Array(180);
    space.render([P(17, 1.1, 0.5, -1, 0.8, 1.3, 0.7), P(0, 1, 0, 0, 0.5, 1, 0)], out);
    same(out.subarray(0, 90), transformImage(img, shape, { rotation: 17, scale: 1.1, tx: 0.5, ty: -1, brightness: 0.8, contrast: 1.3, blur: 0.7 }));
    // Brightness 0.5 alone is x / 2 (hand formula).
    for (let i = 0; i < 90; i++) expect(out[90 + i]).toBeCloseTo(img[i] / 2, 6);
  });
  it('label maps follow the geometry with the ignore index outside', () => {
    const labels = Uint8Array.from({ length: 30 }, (_, i) => i % 3);
    const ls = imageSpace(img, shape, { labels, ignoreIndex: 7 });
    const out = new Int32Array(60);
    ls.renderLabels?.([P(0, 1, 1, 0, 1, 1, 0), P(90, 1, 0, 0, 0.5, 1, 2)], out);
    for (let y = 0; y < 6; y++) for (let x = 0; x < 5; x++) expect(out[y * 5 + x]).toBe(x === 0 ? 7 : labels[y * 5 + x - 1]);
    expect(Array.from(out.subarray(30))).toEqual(Array.from(transformLabels(labels, 6, 5, { rotation: 90 }, 7)));
    expect(ls.key).not.toEqual(space.key);
    expect(space.renderLabels).toBeUndefined();
  });
  it('rejects bad shapes, label maps and out-of-domain points', () => {
    expect(() => imageSpace(img, { channels: 3, height: 5, width: 5 })).toThrow(/90 values do not make a 3x5x5 image/);
    expect(() => imageSpace(img, shape, { labels: new Uint8Array(29) })).toThrow(/label map has 29 values/);
    expect(() => space.render([P(0, 1, 0, 0, -1, 1, 0)], new Float32Array(90))).toThrow(/brightness=-1 is outside/);
    expect(() => space.render([P(0, 1, 0, 0, 1, 1, -0.5)], new Float32Array(90))).toThrow(/blur=-0.5 is outside/);
  });
  it('its key changes with the image content', () => {
    const other = Float32Array.from(img);
    other[5] += 0.01;
    expect(imageSpace(other, shape).key).not.toEqual(space.key);
    expect(imageSpace(Float32Array.from(img), shape).key).toEqual(space.key);
  });
});

describe('restrictSpace', () => {
  const shape = { channels: 1, height: 4, width: 4 };
  const img = Float32Array.from({ length: 16 }, (_, i) => i / 20);
  const space = imageSpace(img, shape);
  it('varies the named axes and pins the rest to fixed values or defaults', () => {
    const sub = restrictSpace(space, ['brightness'], { rotation: 90 });
    expect(sub.dims.map((d) => d.name)).toEqual(['brightness']);
    const out = new Float32Array(16);
    sub.render([P(0.5)], out);
    // rotation 90 (out[r][c] = in[c][3-r]) then x 0.5.
    for (let rr = 0; rr < 4; rr++) for (let c = 0; c < 4; c++) expect(out[rr * 4 + c]).toBeCloseTo(img[c * 4 + 3 - rr] * 0.5, 6);
  });
  it('accepts aliases and records pins in its key', () => {
    const v = viewpointSpace(cube, { size: SIZE });
    const a = restrictSpace(v, ['azimuth'], { elevation: 35 });
    expect(a.dims.map((d) => d.name)).toEqual(['az']);
    expect(a.key.pinned).toEqual({ el: 35, distance: 2.732, light_az: 0, light_el: 90 });
    expect(restrictSpace(v, ['az'], { el: 30 }).key).not.toEqual(a.key);
    const out = new Float32Array(3 * SIZE * SIZE);
    a.render([P(120)], out);
    same(out, renderImage(cube, { azimuth: 120, elevation: 35 }, SIZE));
  });
  it('errors: unknown parameter, axis also pinned, pinned value outside the domain, wrong point length', () => {
    expect(() => restrictSpace(space, ['yaw'])).toThrow(/no parameter 'yaw'/);
    expect(() => restrictSpace(space, ['blur'], { blur: 1 })).toThrow(/both an axis and pinned/);
    expect(() => restrictSpace(space, ['blur'], { scale: -1 })).toThrow(/scale=-1 is outside/);
    expect(() => restrictSpace(space, ['blur']).render([P(1, 2)], new Float32Array(16))).toThrow(/needs 1 values/);
  });
  it('VIEWPOINT_DIMS and IMAGE_DIMS are what the spaces use', () => {
    expect(viewpointSpace(cube, { size: 8 }).dims).toBe(VIEWPOINT_DIMS);
    expect(space.dims).toBe(IMAGE_DIMS);
  });
});

describe('canonicalViewpoint (points outside the renderer domain, semantic.md camera)', () => {
  it('maps a point past a pole to the same camera position: (az + 180, +-180 - el), azimuth modulo 360', () => {
    const eye = (az: number, el: number) => {
      const r = Math.PI / 180;
      return [Math.cos(el * r) * Math.sin(az * r), Math.sin(el * r), -Math.cos(el * r) * Math.cos(az * r)];
    };
    for (const [az, el] of [
      [10, 95],
      [370, 95],
      [-20, -100],
      [45, 270],
      [200, 30],
      [-5, 0],
    ]) {
      const q = canonicalViewpoint(Float64Array.from([az, el, 2.732]));
      expect(q[1]).toBeGreaterThanOrEqual(-90);
      expect(q[1]).toBeLessThanOrEqual(90);
      expect(q[0]).toBeGreaterThanOrEqual(0);
      expect(q[0]).toBeLessThan(360);
      expect(q[2]).toBe(2.732);
      const [a, b] = [eye(az, el), eye(q[0], q[1])];
      for (let i = 0; i < 3; i++) expect(b[i]).toBeCloseTo(a[i], 12);
    }
    expect(Array.from(canonicalViewpoint(Float64Array.from([10, 95])))).toEqual([190, 85]);
  });
});
