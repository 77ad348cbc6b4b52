// `robustscope semantic map|regions` through main(), in-process, with a tiny ONNX classifier (global
// average pool + Gemm: f has a closed form in the channel means) and the bundled cube at 16x16:
// files and schema fields, scores against the renderer + closed form, the cache (a re-run evaluates 0
// points), one region per method x start with its trace, SRVR = mean of the volume ratios computed here
// from the written a, b, out-of-domain points under --reference-quirks, the report (one rectangle per
// region, escaped names), image-transform maps on class folders and segmentation data, and bad input.
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { labelPng, rgbPng } from '../../src/data/image.js';
import { loadMesh, writeObj } from '../../src/semantic/mesh.js';
import { renderImage } from '../../src/semantic/render.js';
import type { SemanticResults } from '../../src/semantic/results.js';
import { pixelLinearOnnx } from '../harness/tiny-models.js';
import { run, tempDir, writeGapClassifier, writeModel } from './helpers.js';

const W = [
  [4, 1, 1],
  [0, 0, 0],
  [-3, -2, -1],
];
const B = [-2, 0.3, 0.5];
const dir = tempDir('rs-cli-semantic-');
const modelPath = writeGapClassifier(dir, 'tiny.onnx', W, B);
const EVIL_CLASS = '<script>alert("c")</script>';
writeFileSync(join(dir, 'classes.json'), JSON.stringify([EVIL_CLASS, 'mug', 'chair']));

function prob(means: number[], label: number): number {
  const z = W.map((row, k) => row[0] * means[0] + row[1] * means[1] + row[2] * means[2] + B[k]);
  const mx = Math.max(...z);
  const e = z.map((v) => Math.exp(v - mx));
  return e[label] / e.reduce((a, b) => a + b, 0);
}
function means(img: Float32Array, C = 3): number[] {
  const n = img.length / C;
  return Array.from({ length: C }, (_, c) => img.subarray(c * n, (c + 1) * n).reduce((a, b) => a + b, 0) / n);
}
const readJson = (p: string): SemanticResults => JSON.parse(readFileSync(p, 'utf8'));
const count = (s: string, sub: string) => s.split(sub).length - 1;

const GRID = 'az=0:360:90,el=0:60:30'; // 4 x 2 = 8 renders

describe('semantic map --mesh', () => {
  const out = join(dir, 'map');
  it('writes semantic.json (schema robustscope/semantic v1) with scores equal to render + closed-form softmax', async () => {
    const r = await run('semantic', 'map', '--model', modelPath, '--mesh', 'cube', '--class', '0', '--size', '16', '--grid', GRID, '--out', out, '--quiet');
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(existsSync(join(out, 'report.html'))).toBe(true);
    const j = readJson(join(out, 'semantic.json'));
    expect(j.schema).toBe('robustscope/semantic');
    expect(j.version).toBe(1);
    expect(j.command).toBe('map');
    expect(j.model.sha256).toBe(createHash('sha256').update(readFileSync(modelPath)).digest('hex'));
    expect(j.mesh?.name).toBe('cube');
    expect(j.maps).toHaveLength(1);
    const m = j.maps[0];
    expect(m.dims.map((d) => [d.name, d.unit, d.values])).toEqual([
      ['az', 'deg', [0, 90, 180, 270]],
      ['el', 'deg', [0, 30]],
    ]);
    expect(m.label).toBe(0);
    expect(m.labelName).toBe(EVIL_CLASS);
    expect(j.evaluations).toBe(8);
    expect(j.cached).toBe(0);
    const cube = loadMesh('cube');
    // Row-major, el fastest.
    const want = [0, 90, 180, 270].flatMap((az) => [0, 30].map((el) => prob(means(renderImage(cube, { azimuth: az, elevation: el }, 16)), 0)));
    m.scores.forEach((s, i) => {
      expect(s).toBeCloseTo(want[i], 5);
    });
    expect(new Set(want.map((v) => v.toFixed(4))).size).toBeGreaterThan(1); // the map is not flat
    expect(typeof j.timings.seconds).toBe('number');
  });

  it('a re-run reads every point from DIR/cache (0 new evaluations, same scores)', async () => {
    const before = readJson(join(out, 'semantic.json'));
    const r = await run('semantic', 'map', '--model', modelPath, '--mesh', 'cube', '--class', '0', '--size', '16', '--grid', GRID, '--out', out, '--json');
    expect(r.code).toBe(0);
    const j = readJson(join(out, 'semantic.json'));
    expect(j.evaluations).toBe(0);
    expect(j.cached).toBe(8);
    expect(j.maps[0].scores).toEqual(before.maps[0].scores);
    const done = JSON.parse(r.stdout.trim().split('\n').pop() as string);
    expect(done).toMatchObject({ event: 'done', evaluations: 0, cached: 8 });
  });

  it('--class by name from classes.json next to the model; the report escapes it and draws the heatmap', async () => {
    const o = join(dir, 'map-named');
    const r = await run('semantic', 'map', '--model', modelPath, '--mesh', 'cube', '--class', 'chair', '--size', '16', '--grid', GRID, '--out', o, '--quiet');
    expect(r.code).toBe(0);
    expect(readJson(join(o, 'semantic.json')).maps[0].label).toBe(2);
    const html = readFileSync(join(o, 'report.html'), 'utf8');
    expect(html).toContain('<svg');
    expect(count(html, 'class="region"')).toBe(0);
    expect(html).not.toContain('<script');
  });
});

describe('semantic regions', () => {
  const out = join(dir, 'regions');
  const args = [
    'semantic',
    'regions',
    '--model',
    modelPath,
    '--mesh',
    'cube',
    '--class',
    '0',
    '--size',
    '16',
    '--start',
    '130,30',
    '--start',
    '50,20',
    '--iters',
    '3',
    '--grid',
    'az=0:360:90,el=-10:90:50',
    '--out',
    out,
    '--quiet',
  ];
  const domainVol = 360 * 100;
  const ratio = (a: number[], b: number[]) =>
    (Math.max(0, Math.min(b[0], 360) - Math.max(a[0], 0)) * Math.max(0, Math.min(b[1], 90) - Math.max(a[1], -10))) / domainVol;

  it('one region per method x start (default naive, oir_b, oir_w), traces written, SRVR = mean volume ratio', async () => {
    const r = await run(...args);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const j = readJson(join(out, 'semantic.json'));
    expect(j.command).toBe('regions');
    const g = j.regions;
    if (!g) throw new Error('no regions');
    expect(g.axes).toEqual(['az', 'el']);
    expect(g.domain).toEqual([
      [0, 360],
      [-10, 90],
    ]);
    expect(g.items.map((i) => `${i.method}@${i.start.join(',')}`)).toEqual([
      'naive@130,30',
      'naive@50,20',
      'oir_b@130,30',
      'oir_b@50,20',
      'oir_w@130,30',
      'oir_w@50,20',
    ]);
    for (const it of g.items) {
      expect(it.iterations).toBe(3);
      expect(it.volumeRatio).toBeCloseTo(ratio(it.a, it.b), 12);
      // Grown from u0 -/+ 1e-5, around the start.
      expect(it.a[0]).toBeLessThan(it.start[0]);
      expect(it.b[0]).toBeGreaterThan(it.start[0]);
      const trace = JSON.parse(readFileSync(join(out, it.trace), 'utf8'));
      expect(it.trace).toBe(`traces/${it.method}-${it.start.join('_')}.json`);
      expect(trace.method).toBe(it.method);
      expect(trace.steps).toHaveLength(3);
      expect(trace.steps[0].a[0]).toBeCloseTo(it.start[0] - 1e-5, 9);
      expect(trace.final.a).toEqual(it.a);
    }
    for (const m of ['naive', 'oir_b', 'oir_w']) {
      const rs = g.items.filter((i) => i.method === m);
      expect(g.srvr[m]).toBeCloseTo(rs.reduce((s, i) => s + ratio(i.a, i.b), 0) / rs.length, 12);
    }
    expect(g.config).toMatchObject({ iterations: 3, eta: 0.1, alpha: 0.05, beta: 0.0009, lambda: 0.1, fdStep: 1, referenceQuirks: false });
    expect(j.maps[0].dims.map((d) => d.values.length)).toEqual([4, 2]);
    expect(j.evaluations).toBeGreaterThan(8);
    const html = readFileSync(join(out, 'report.html'), 'utf8');
    expect(html).toContain('<svg');
    expect(count(html, 'class="region"')).toBe(6);
  });

  it('a re-run evaluates nothing new (map and oracle share the cache)', async () => {
    const r = await run(...args);
    expect(r.code).toBe(0);
    const j = readJson(join(out, 'semantic.json'));
    expect(j.evaluations).toBe(0);
    expect(j.cached).toBeGreaterThan(0);
  });

  it('--map reuses an earlier map; the regions are drawn on it', async () => {
    const o = join(dir, 'regions-on-map');
    const r = await run(
      'semantic',
      'regions',
      '--model',
      modelPath,
      '--mesh',
      'cube',
      '--class',
      '0',
      '--size',
      '16',
      '--method',
      'trap',
      '--start',
      '200,15',
      '--iters',
      '2',
      '--map',
      join(dir, 'map'),
      '--out',
      o,
      '--quiet',
    );
    expect(r.code).toBe(0);
    const j = readJson(join(o, 'semantic.json'));
    expect(j.mapSource).toBe(join(dir, 'map', 'semantic.json'));
    expect(j.maps[0].scores).toEqual(readJson(join(dir, 'map', 'semantic.json')).maps[0].scores);
    expect(j.regions?.items.map((i) => i.method)).toEqual(['trap']);
    expect(count(readFileSync(join(o, 'report.html'), 'utf8'), 'class="region"')).toBe(1);
  });

  it('--reference-quirks: regions are not clipped and out-of-domain points are evaluated, not fatal', async () => {
    // Start on the domain's corner (0, 90): the initial region already pokes out (az < 0, el > 90).
    const base = ['semantic', 'regions', '--model', modelPath, '--mesh', 'cube', '--class', '0', '--size', '16', '--start', '0,90', '--iters', '2'];
    const q = join(dir, 'quirks');
    const r = await run(...base, '--method', 'naive,oir_b,oir_w,trap', '--reference-quirks', '--grid', 'az=0:360:180,el=0:90:45', '--out', q, '--quiet');
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const j = readJson(join(q, 'semantic.json'));
    expect(j.regions?.config.referenceQuirks).toBe(true);
    expect(j.regions?.config.outOfDomain).toMatch(/same camera position.*pole.*modulo 360/);
    for (const it of j.regions?.items ?? []) {
      expect(it.a[0]).toBeLessThan(0);
      expect(it.b[1]).toBeGreaterThan(90);
      expect(it.volumeRatio).toBeCloseTo(ratio(it.a, it.b), 12);
    }
    // Corrected mode: clipped into the domain, and OIR_W's finite differences at el = 90 + 1 still work.
    const c = join(dir, 'corrected');
    const r2 = await run(...base, '--method', 'oir_w', '--grid', 'az=0:360:180,el=0:90:45', '--out', c, '--quiet');
    expect(r2.code).toBe(0);
    const it = readJson(join(c, 'semantic.json')).regions?.items[0];
    expect(it?.a[0]).toBeGreaterThanOrEqual(0);
    expect(it?.b[1]).toBeLessThanOrEqual(90);
  });
});

describe('report escaping', () => {
  it('a malicious mesh file name and class name reach the page escaped only', async () => {
    const evilMesh = join(dir, '<img src=x onerror=alert(1)>.obj');
    writeFileSync(evilMesh, writeObj(loadMesh('cube')));
    const o = join(dir, 'evil');
    const r = await run(
      'semantic',
      'regions',
      '--model',
      modelPath,
      '--mesh',
      evilMesh,
      '--class',
      EVIL_CLASS,
      '--size',
      '16',
      '--method',
      'naive',
      '--start',
      '130,30',
      '--iters',
      '1',
      '--grid',
      'az=0:360:180,el=0:60:30',
      '--out',
      o,
      '--quiet',
    );
    expect(r.code).toBe(0);
    const html = readFileSync(join(o, 'report.html'), 'utf8');
    expect(html).not.toContain('<img src=x');
    expect(html).toContain('&lt;img src=x onerror=alert(1)&gt;');
    expect(html).not.toContain('<script');
    expect(html).toContain('&lt;script&gt;alert(&quot;c&quot;)&lt;/script&gt;');
  });
});

describe('semantic map --data (image transforms)', () => {
  it('class folders: one map per image, labels from the folders, f = closed form of brightness x contrast', async () => {
    const data = join(dir, 'cls');
    const imgs: Record<string, Float32Array> = {};
    for (const [k, c] of ['a', 'b'].entries()) {
      mkdirSync(join(data, c), { recursive: true });
      // 8-bit exact values in [0.3, 0.7]: no clamping for brightness <= 1 and contrast <= 1.
      const img = Float32Array.from({ length: 3 * 6 * 6 }, (_, i) => Math.round(255 * (0.3 + 0.4 * (((i * 7 + k * 13) % 17) / 16))) / 255);
      imgs[`${c}/x.png`] = img;
      writeFileSync(join(data, c, 'x.png'), await rgbPng(img, 6, 6));
    }
    const o = join(dir, 'cls-out');
    const r = await run(
      'semantic',
      'map',
      '--model',
      modelPath,
      '--data',
      data,
      '--transform',
      'brightness=0.5:1.5:0.5,contrast=0.5:1.5:0.5',
      '--limit',
      '2',
      '--out',
      o,
      '--quiet',
    );
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const j = readJson(join(o, 'semantic.json'));
    expect(j.space).toBe('image');
    expect(j.score).toBe('prob');
    expect(j.maps.map((m) => [m.subject, m.label])).toEqual([
      ['a/x.png', 0],
      ['b/x.png', 1],
    ]);
    for (const m of j.maps) {
      const m0 = means(imgs[m.subject]);
      const M = (m0[0] + m0[1] + m0[2]) / 3;
      const want = [0.5, 1].flatMap((b) =>
        [0.5, 1].map((c) =>
          prob(
            m0.map((x) => (b * x - b * M) * c + b * M),
            m.label as number,
          ),
        ),
      );
      m.scores.forEach((s, i) => {
        expect(s).toBeCloseTo(want[i], 5);
      });
    }
    expect(j.evaluations).toBe(8);
    expect(readFileSync(join(o, 'report.html'), 'utf8')).toContain('<svg');
  });

  it('segmentation folder: pixel accuracy is invariant under quarter turns (labels turn with the image)', async () => {
    const data = join(dir, 'seg');
    mkdirSync(join(data, 'images'), { recursive: true });
    mkdirSync(join(data, 'labels'), { recursive: true });
    writeFileSync(join(data, 'classes.json'), JSON.stringify({ names: ['dark', 'bright'] }));
    // Per-pixel model: logit1 - logit0 = 2 r - 1, i.e. class 1 where the red channel > 0.5.
    const seg = writeModel(
      dir,
      'seg.onnx',
      pixelLinearOnnx(
        [
          [0, 0, 0],
          [2, 0, 0],
        ],
        [0, -1],
      ),
    );
    const H = 4;
    const img = new Float32Array(3 * H * H);
    const lab = new Uint8Array(H * H);
    for (let p = 0; p < H * H; p++) {
      img[p] = p % 3 === 0 ? 0.8 : 0.2;
      lab[p] = p % 2; // agrees with the prediction where (p%3===0) === (p%2===1)
    }
    writeFileSync(join(data, 'images', 's0.png'), await rgbPng(img, H, H));
    writeFileSync(join(data, 'labels', 's0.png'), await labelPng(lab, H, H));
    let agree = 0;
    for (let p = 0; p < H * H; p++) if ((img[p] > 0.5 ? 1 : 0) === lab[p]) agree++;
    const o = join(dir, 'seg-out');
    const r = await run('semantic', 'map', '--model', seg, '--data', data, '--transform', 'rotation=0:360:90', '--out', o, '--quiet');
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const j = readJson(join(o, 'semantic.json'));
    expect(j.score).toBe('pixel-acc');
    expect(j.maps[0].subject).toBe('s0');
    expect(j.maps[0].scores).toHaveLength(4);
    for (const s of j.maps[0].scores) expect(s).toBeCloseTo(agree / (H * H), 12);
  });
});

describe('bad input names the option', () => {
  const base = ['semantic', 'map', '--model', modelPath, '--size', '16', '--out', join(dir, 'bad')];
  const cases: [string, string[], number, RegExp][] = [
    ['unknown mesh', ['--mesh', 'nosuchmesh', '--class', '0'], 2, /--mesh: unknown mesh 'nosuchmesh'/],
    ['class out of range', ['--mesh', 'cube', '--class', '7'], 2, /--class 7 is out of range: the model has 3 classes/],
    ['unknown class name', ['--mesh', 'cube', '--class', 'sofa'], 2, /--class 'sofa' is not a class/],
    ['grid with 2 fields', ['--mesh', 'cube', '--class', '0', '--grid', 'az=0:360'], 2, /--grid: .*az=0:360.*3 fields/],
    [
      'grid outside the domain',
      ['--mesh', 'cube', '--class', '0', '--grid', 'az=0:360:90,el=0:150:30'],
      2,
      /--grid: el=120 is outside the domain of 'el' \[-90, 90\]/,
    ],
    ['grid with an unknown parameter', ['--mesh', 'cube', '--class', '0', '--grid', 'zoom=1:2:1'], 2, /--grid: .*no parameter 'zoom'/],
    ['neither mesh nor data', ['--class', '0'], 2, /--mesh.*--data/],
  ];
  for (const [what, extra, code, msg] of cases)
    it(what, async () => {
      const r = await run(...base, ...extra);
      expect(r.code).toBe(code);
      expect(r.stderr).toMatch(msg);
    });
  it('missing model file, bad method, bad start, unknown subcommand', async () => {
    let r = await run('semantic', 'map', '--model', join(dir, 'nope.onnx'), '--mesh', 'cube', '--class', '0', '--out', join(dir, 'bad'));
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/--model: '.*nope.onnx' not found/);
    const reg = ['semantic', 'regions', '--model', modelPath, '--mesh', 'cube', '--class', '0', '--out', join(dir, 'bad')];
    r = await run(...reg, '--method', 'naive,fast');
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--method: unknown method 'fast'/);
    r = await run(...reg, '--start', '400,10');
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--start '400,10': az = 400 is outside/);
    r = await run(...reg, '--eta=-1');
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--eta must be a number > 0/);
    r = await run('semantic', 'frobnicate');
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/unknown subcommand 'frobnicate'/);
  });
  it('help texts', async () => {
    for (const sub of [[], ['map'], ['regions']]) {
      const r = await run('semantic', ...sub, '--help');
      expect(r.code).toBe(0);
      expect(r.stdout).toMatch(/^usage: robustscope semantic/);
    }
  });
});
