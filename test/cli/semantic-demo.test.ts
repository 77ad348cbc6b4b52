// `robustscope semantic demo` on the bundled mesh classifiers, on a tiny configuration (6-point grid, 2
// region iterations, 1 start point). Pins: it runs through offline and writes semantic.json + report.html;
// the map scores are the softmax true-class probability of the render at each grid point (checked against
// an independent forward pass), map accuracy is the top-1 rate, SRVR is the mean clipped region volume
// over 36000 deg^2; and the two helpers: viewpoint reflection past the pole, coalesced oracle calls.
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { packageRoot } from '../../src/cli/common.js';
import { coalesce, reflectViewpoint, type SemanticDemoResults, semanticDemo } from '../../src/cli/semantic-demo.js';
import { loadModel } from '../../src/runtime/model.js';
import { loadMesh } from '../../src/semantic/mesh.js';
import { renderImage } from '../../src/semantic/render.js';
import { validateSemanticResults } from '../../src/semantic/results.js';
import { tempDir } from './helpers.js';

function io() {
  const o = { stdout: '', stderr: '' };
  return {
    o,
    io: {
      stdout: { write: (s: string) => (o.stdout += s) },
      stderr: { write: (s: string) => (o.stderr += s) },
    },
  };
}

const dir = tempDir('rs-semdemo-');
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('semantic demo (tiny configuration)', () => {
  it('runs through on the bundled classifiers and writes semantic.json and report.html', async () => {
    const out = join(dir, 'run');
    const { o, io: cap } = io();
    const code = await semanticDemo(
      ['--out', out, '--meshes', 'teapot', '--grid', 'az=0:360:120,el=-10:90:50', '--iters', '2', '--starts', '1', '--threads', '1'],
      cap,
    );
    expect(code).toBe(0);
    expect(existsSync(join(out, 'semantic.json'))).toBe(true);
    expect(existsSync(join(out, 'report.html'))).toBe(true);
    const r = JSON.parse(readFileSync(join(out, 'semantic.json'), 'utf8')) as SemanticDemoResults;
    // 2 models x 1 mesh maps; 2 models x 3 methods x 1 start regions.
    expect(r.maps.map((m) => m.model)).toEqual(['clean', 'adversarial']);
    expect(r.regions.length).toBe(6);
    expect(r.summary.map((s) => `${s.model}/${s.method}`)).toEqual([
      'clean/naive',
      'clean/oir_b',
      'clean/oir_w',
      'adversarial/naive',
      'adversarial/oir_b',
      'adversarial/oir_w',
    ]);
    // Grid: az 0,120,240 x el -10,40 (stop exclusive), el fastest.
    expect(r.maps[0].dims).toEqual([
      { name: 'az', values: [0, 120, 240] },
      { name: 'el', values: [-10, 40] },
    ]);

    // Independent forward pass: softmax of the model's logits on the render at each grid point.
    const teapot = loadMesh('teapot');
    for (const [k, m] of r.maps.entries()) {
      const model = await loadModel(join(packageRoot(), 'models', r.models[k].file), { threads: 1 });
      const label = r.models[k].classes.indexOf('teapot');
      expect(m.label).toBe(label);
      let i = 0;
      for (const az of [0, 120, 240])
        for (const el of [-10, 40]) {
          const image = renderImage(teapot, { azimuth: az, elevation: el }, r.config.imageSize);
          const s = r.config.imageSize;
          const { logits } = await model.forward({ data: image, dims: [1, 3, s, s] });
          const max = Math.max(...logits);
          const e = Array.from(logits, (x) => Math.exp(x - max));
          const p = e[label] / e.reduce((a, b) => a + b, 0);
          expect(m.scores[i]).toBeCloseTo(p, 4);
          const argmax = e.indexOf(Math.max(...e));
          expect(m.top1[i]).toBe(argmax === label ? 1 : 0);
          i++;
        }
      expect(m.accuracy).toBeCloseTo(m.top1.reduce((a, b) => a + b, 0) / 6, 12);
    }

    // Volume ratio = area of the region clipped to [0,360] x [-10,90] over 36000; SRVR = mean (1 start: equal).
    for (const g of r.regions) {
      const w = Math.max(0, Math.min(g.b[0], 360) - Math.max(g.a[0], 0));
      const h = Math.max(0, Math.min(g.b[1], 90) - Math.max(g.a[1], -10));
      expect(g.volumeRatio).toBeCloseTo((w * h) / 36000, 6);
      const s = r.summary.find((x) => x.model === g.model && x.method === g.method);
      expect(s?.srvr).toBe(g.volumeRatio);
      expect(g.start).toEqual([130, 30]);
    }
    // Per (model, mesh): a standard semantic.json (the project's schema, validated) and its report.
    expect(r.runs.map((x) => x.results)).toEqual([join('clean', 'teapot', 'semantic.json'), join('adversarial', 'teapot', 'semantic.json')]);
    for (const run of r.runs) {
      const std = validateSemanticResults(JSON.parse(readFileSync(join(out, run.results), 'utf8')));
      const demoMap = r.maps.find((m) => m.model === run.model);
      // The standard file stores rounded scores: compare within that rounding, not digit by digit.
      const want = demoMap?.scores ?? [];
      expect(std.maps[0].scores).toHaveLength(want.length);
      const worst = Math.max(...std.maps[0].scores.map((v, i) => Math.abs((v ?? Number.NaN) - want[i])));
      expect(worst).toBeLessThan(1e-5);
      expect(std.regions?.items.length).toBe(3);
      expect(existsSync(join(out, run.report))).toBe(true);
    }
    const html = readFileSync(join(out, 'report.html'), 'utf8');
    expect(html).toContain('<h2>teapot</h2>');
    expect(html).toContain('adversarial: map accuracy');
    // The table is printed.
    expect(o.stdout).toMatch(/model\s+mesh\s+method\s+SRVR\s+map acc/);
    expect(o.stdout).toMatch(/clean\s+teapot\s+oir_b/);

    // A re-run reads every score back from the cache: same results, no new map evaluations.
    const again = await semanticDemo(
      ['--out', out, '--meshes', 'teapot', '--grid', 'az=0:360:120,el=-10:90:50', '--iters', '2', '--starts', '1', '--threads', '1', '--quiet'],
      io().io,
    );
    expect(again).toBe(0);
    const r2 = JSON.parse(readFileSync(join(out, 'semantic.json'), 'utf8')) as SemanticDemoResults;
    expect(r2.maps.map((m) => m.evaluations)).toEqual([0, 0]);
    expect(r2.regions.map((g) => g.a)).toEqual(r.regions.map((g) => g.a));
  }, 120_000);

  it('prints its help and rejects a mesh the models do not know', async () => {
    const { o, io: cap } = io();
    expect(await semanticDemo(['--help'], cap)).toBe(0);
    expect(o.stdout).toMatch(/^usage: robustscope semantic demo/);
    await expect(semanticDemo(['--out', join(dir, 'bad'), '--meshes', 'cube'], io().io)).rejects.toThrow(/'cube' is not a class of the bundled models/);
    await expect(semanticDemo(['--out', join(dir, 'bad'), '--grid', 'el=-10:90:10,az=0:360:10'], io().io)).rejects.toThrow(/axes az then el/);
  });
});

describe('reflectViewpoint', () => {
  it('maps elevation past the pole to the same eye (az + 180, 180 - el): the render is the same', () => {
    expect(Array.from(reflectViewpoint(Float64Array.from([10, 95])))).toEqual([190, 85]);
    expect(Array.from(reflectViewpoint(Float64Array.from([10, -93])))).toEqual([190, -87]);
    const inside = Float64Array.from([10, 90]);
    expect(reflectViewpoint(inside)).toEqual(inside);
    const mesh = loadMesh('chair');
    const a = renderImage(mesh, { azimuth: 30, elevation: 97 }, 32);
    const b = renderImage(mesh, { azimuth: 210, elevation: 83 }, 32);
    let diff = 0;
    for (let i = 0; i < a.length; i++) diff = Math.max(diff, Math.abs(a[i] - b[i]));
    // Identical up to float rounding of the eye position (a rare edge pixel may flip).
    expect(diff).toBeLessThanOrEqual(0.25);
    expect(a.reduce((s, v) => s + v, 0)).toBeCloseTo(
      b.reduce((s, v) => s + v, 0),
      -1,
    );
  });
});

describe('coalesce', () => {
  it('merges calls made in the same turn into one underlying call and returns each caller its own scores', async () => {
    const calls: number[] = [];
    const f = coalesce(async (points) => {
      calls.push(points.length);
      return Float64Array.from(points, (p) => p[0] * 10 + p[1]);
    });
    const P = (a: number, b: number) => Float64Array.from([a, b]);
    const [x, y, z] = await Promise.all([f([P(1, 2)]), f([P(3, 4), P(5, 6)]), f([])]);
    expect(calls).toEqual([3]);
    expect(Array.from(x)).toEqual([12]);
    expect(Array.from(y)).toEqual([34, 56]);
    expect(Array.from(z)).toEqual([]);
    const w = await f([P(7, 8)]);
    expect(Array.from(w)).toEqual([78]);
    expect(calls).toEqual([3, 1]);
  });

  it('rejects every merged caller when the underlying call fails', async () => {
    const f = coalesce(async () => {
      throw new Error('model failed');
    });
    const r = await Promise.allSettled([f([Float64Array.from([0, 0])]), f([Float64Array.from([1, 1])])]);
    expect(r.map((s) => s.status)).toEqual(['rejected', 'rejected']);
  });
});
