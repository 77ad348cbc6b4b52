// `robustscope semantic regions --data` (issue 6; semantic.md "Gradients of f w.r.t. u": central finite
// differences, or exact through the graph for image-space transforms) through main(), in-process, with a
// tiny classifier (global average pool + Gemm) on a tiny class-folder dataset written here. Under
// brightness and contrast (no clamping in the domains used) f has a closed form in the channel means, so
// the references are independent of the image transforms and the ONNX graph: the regions are recomputed
// with findRegion on the closed-form f, and on its analytic df/dbrightness for OIR_W.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { labelPng, rgbPng } from '../../src/data/image.js';
import { findRegion, type RegionMethod } from '../../src/semantic/regions.js';
import type { SemanticResults } from '../../src/semantic/results.js';
import { run, tempDir, writeGapClassifier } from './helpers.js';

const W = [
  [4, 1, 1],
  [0, 0, 0],
  [-3, -2, -1],
];
const B = [-2, 0.3, 0.5];
const dir = tempDir('rs-cli-semantic-img-regions-');
const modelPath = writeGapClassifier(dir, 'tiny.onnx', W, B);

const softmax = (z: number[]) => {
  const mx = Math.max(...z);
  const e = z.map((v) => Math.exp(v - mx));
  const s = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / s);
};
const logits = (m: number[]) => W.map((row, k) => row[0] * m[0] + row[1] * m[1] + row[2] * m[2] + B[k]);
const channelMeans = (img: Float32Array) => [0, 1, 2].map((c) => img.subarray(c * 36, (c + 1) * 36).reduce((a, b) => a + b, 0) / 36);
/** f(brightness, contrast): x -> b x, then (x - M) c + M with M the grey mean (no clamping for pixels in [0.3, 0.7] here). */
function closedF(img: Float32Array, label: number, b: number, c: number): number {
  const m0 = channelMeans(img);
  const M = (m0[0] + m0[1] + m0[2]) / 3;
  return softmax(logits(m0.map((x) => (b * x - b * M) * c + b * M)))[label];
}
/** d f(b, 1) / db: z = b W m0 + B, so df/db = p_l (z'_l - sum_k p_k z'_k) with z' = W m0. */
function closedDfDb(img: Float32Array, label: number, b: number): number {
  const m0 = channelMeans(img);
  const p = softmax(logits(m0.map((x) => b * x)));
  const dz = W.map((row) => row[0] * m0[0] + row[1] * m0[1] + row[2] * m0[2]);
  return p[label] * (dz[label] - p.reduce((s, pk, k) => s + pk * dz[k], 0));
}

// Two classes, one 6x6 image each; 8-bit exact values in [0.3, 0.7].
const data = join(dir, 'cls');
const imgs: Record<string, { img: Float32Array; label: number }> = {};
async function writeData(): Promise<void> {
  if (existsSync(join(data, 'b', 'x.png'))) return;
  for (const [k, c] of ['a', 'b'].entries()) {
    mkdirSync(join(data, c), { recursive: true });
    const img = Float32Array.from({ length: 3 * 36 }, (_, i) => Math.round(255 * (0.3 + 0.4 * (((i * 7 + k * 13) % 17) / 16))) / 255);
    imgs[`${c}/x.png`] = { img, label: k };
    writeFileSync(join(data, c, 'x.png'), await rgbPng(img, 6, 6));
  }
}
const readJson = (p: string): SemanticResults => JSON.parse(readFileSync(p, 'utf8'));
const count = (s: string, sub: string) => s.split(sub).length - 1;
const base = (out: string) => ['semantic', 'regions', '--model', modelPath, '--data', data, '--out', out, '--quiet'];

describe('semantic regions --data: one region set per image', () => {
  it('one region per image x method x start, each equal to findRegion on the closed-form f; SRVR = mean volume ratio', async () => {
    await writeData();
    const out = join(dir, 'bc');
    const r = await run(
      ...base(out),
      '--limit',
      '2',
      '--axes',
      'brightness,contrast',
      '--domain',
      'brightness=0.6:1.2,contrast=0.6:1.2',
      '--start',
      '1,1',
      '--start',
      '0.9,1.1',
      '--iters',
      '15',
      '--eta',
      '1',
    );
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const j = readJson(join(out, 'semantic.json'));
    expect(j.command).toBe('regions');
    expect(j.space).toBe('image');
    expect(j.score).toBe('prob');
    const g = j.regions;
    if (!g) throw new Error('no regions');
    expect(g.axes).toEqual(['brightness', 'contrast']);
    expect(g.domain).toEqual([
      [0.6, 1.2],
      [0.6, 1.2],
    ]);
    expect(g.config).toMatchObject({ grad: 'fd', fdStep: [0.01, 0.01], iterations: 15, eta: 1 });
    // Image by image (streamed), then method, then start.
    expect(g.items.map((i) => `${i.subject}:${i.method}@${i.start.join(',')}`)).toEqual(
      ['a/x.png', 'b/x.png'].flatMap((s) => ['naive', 'oir_b', 'oir_w'].flatMap((m) => [`${s}:${m}@1,1`, `${s}:${m}@0.9,1.1`])),
    );
    const ratio = (a: number[], b: number[]) =>
      (Math.max(0, Math.min(b[0], 1.2) - Math.max(a[0], 0.6)) * Math.max(0, Math.min(b[1], 1.2) - Math.max(a[1], 0.6))) / 0.36;
    for (const it of g.items) {
      const { img, label } = imgs[it.subject as string];
      const ref = await findRegion({
        method: it.method as RegionMethod,
        score: async (ps) => Float64Array.from(ps, (u) => closedF(img, label, u[0], u[1])),
        fdStep: [0.01, 0.01],
        start: it.start,
        domain: [
          [0.6, 1.2],
          [0.6, 1.2],
        ],
        eta: 1,
        iterations: 15,
      });
      for (let i = 0; i < 2; i++) {
        expect(it.a[i]).toBeCloseTo(ref.a[i], 4);
        expect(it.b[i]).toBeCloseTo(ref.b[i], 4);
      }
      expect(it.volumeRatio).toBeCloseTo(ratio(it.a, it.b), 12);
      const trace = JSON.parse(readFileSync(join(out, it.trace), 'utf8'));
      expect(it.trace).toBe(`traces/${(it.subject as string).replace('/', '_')}/${it.method}-${it.start.join('_')}.json`);
      expect(trace.subject).toBe(it.subject);
      expect(trace.axes).toEqual(['brightness', 'contrast']);
      expect(trace.steps).toHaveLength(15);
    }
    // Several regions grew well past the 2e-5 start without filling the domain, so the comparison means something.
    expect(g.items.filter((i) => i.b[0] - i.a[0] > 0.01 && i.b[0] - i.a[0] < 0.59).length).toBeGreaterThanOrEqual(3);
    for (const m of ['naive', 'oir_b', 'oir_w']) {
      const rs = g.items.filter((i) => i.method === m);
      expect(rs).toHaveLength(4);
      expect(g.srvr[m]).toBeCloseTo(rs.reduce((s, i) => s + ratio(i.a, i.b), 0) / 4, 12);
    }
    // A cheap 12 x 12 map of the first image over the domain; the report draws its regions only on it.
    expect(j.maps).toHaveLength(1);
    expect(j.maps[0].subject).toBe('a/x.png');
    const [bv, cv] = j.maps[0].dims.map((d) => d.values);
    expect([bv.length, cv.length, bv[0], bv[11], cv[0], cv[11]]).toEqual([12, 12, 0.6, 1.2, 0.6, 1.2]);
    expect(j.maps[0].scores[5 * 12 + 7]).toBeCloseTo(closedF(imgs['a/x.png'].img, 0, bv[5], cv[7]), 5);
    const html = readFileSync(join(out, 'report.html'), 'utf8');
    expect(html).toContain('<svg');
    expect(count(html, 'class="region"')).toBe(6);
    expect(html).toContain('<th class="l">image</th>');
    expect(j.config).toMatchObject({ axes: 'brightness,contrast', domain: 'brightness=0.6:1.2,contrast=0.6:1.2', grad: 'fd', images: 2 });
  });

  it('--grad exact and --grad fd give the OIR_W region of the analytic gradient; negating G (quirks) does not', async () => {
    await writeData();
    // 1-D brightness with a large beta so that G visibly moves the region (1-D OIR_W: gA has (beta r / 2) G(a)).
    const args = [
      '--image',
      'b/x.png',
      '--axes',
      'brightness',
      '--domain',
      'brightness=0.5:1.3',
      '--method',
      'oir_w',
      '--beta',
      '0.5',
      '--eta',
      '0.05',
      '--iters',
      '15',
    ];
    const region = async (extra: string[], name: string) => {
      const r = await run(...base(join(dir, name)), ...args, ...extra);
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      const j = readJson(join(dir, name, 'semantic.json'));
      return { j, it: j.regions?.items[0] as NonNullable<SemanticResults['regions']>['items'][number] };
    };
    const exact = await region(['--grad', 'exact'], 'exact');
    const fd = await region(['--grad', 'fd'], 'fd');
    const quirks = await region(['--reference-quirks'], 'quirks');
    expect(exact.j.regions?.config.grad).toBe('exact');
    expect(fd.j.regions?.config.grad).toBe('fd');
    const { img, label } = imgs['b/x.png'];
    const ref = await findRegion({
      method: 'oir_w',
      grad: async (ps) => ({
        f: Float64Array.from(ps, (u) => closedF(img, label, u[0], 1)),
        grad: ps.map((u) => Float64Array.of(closedDfDb(img, label, u[0]))),
      }),
      start: [1],
      domain: [[0.5, 1.3]],
      beta: 0.5,
      eta: 0.05,
      iterations: 15,
    });
    const dist = (x: { a: ArrayLike<number>; b: ArrayLike<number> }) => Math.max(Math.abs(x.a[0] - ref.a[0]), Math.abs(x.b[0] - ref.b[0]));
    // Exact: f and df/du of the 2 corners per iteration in one call; FD: each corner and its 2 shifts.
    expect(exact.it.evaluations).toBe(15 * 2);
    expect(fd.it.evaluations).toBe(15 * 2 * 3);
    expect(dist(exact.it)).toBeLessThan(1e-5);
    expect(dist(fd.it)).toBeLessThan(1e-4);
    expect(dist(quirks.it)).toBeGreaterThan(1e-2); // G matters in this setting
    expect(ref.b[0] - ref.a[0]).toBeGreaterThan(0.1);
    // The 1-D map is drawn as a line with the region as a band.
    expect(count(readFileSync(join(dir, 'exact', 'report.html'), 'utf8'), 'class="region"')).toBe(1);
  });

  it('defaults: start = the identity, domain tx/ty = +-W/2, +-H/2 and blur [0, 3]; no map for 3 axes', async () => {
    await writeData();
    const out = join(dir, 'defaults');
    const r = await run(...base(out), '--axes', 'tx,blur', '--method', 'naive', '--iters', '2', '--image', 'b/x.png');
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const j = readJson(join(out, 'semantic.json'));
    expect(j.regions?.domain).toEqual([
      [-3, 3],
      [0, 3],
    ]);
    expect(j.regions?.items.map((i) => [i.subject, i.start])).toEqual([['b/x.png', [0, 0]]]);
    expect(j.maps[0].dims.map((d) => [d.values[0], d.values.length])).toEqual([
      [-3, 12],
      [0, 12],
    ]);
    const out3 = join(dir, 'three');
    const r3 = await run(...base(out3), '--axes', 'rot,scale,contrast', '--method', 'naive', '--iters', '1');
    expect(r3.code).toBe(0);
    const j3 = readJson(join(out3, 'semantic.json'));
    expect(j3.regions?.axes).toEqual(['rotation', 'scale', 'contrast']);
    expect(j3.regions?.domain).toEqual([
      [-180, 180],
      [0.5, 2],
      [0, 2],
    ]);
    expect(j3.regions?.items[0].start).toEqual([0, 1, 1]);
    expect(j3.maps).toHaveLength(0);
    const html = readFileSync(join(out3, 'report.html'), 'utf8');
    expect(html).not.toContain('<svg');
    expect(html).toContain('id="regions"');
  });
});

describe('semantic regions: bad input names the option', () => {
  it('--grad exact is rejected for --mesh (viewpoint) and for segmentation scores', async () => {
    let r = await run('semantic', 'regions', '--model', modelPath, '--mesh', 'cube', '--class', '0', '--grad', 'exact', '--out', join(dir, 'bad'));
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--grad exact is for image-space regions \(--data\)/);
    const seg = join(dir, 'seg');
    mkdirSync(join(seg, 'images'), { recursive: true });
    mkdirSync(join(seg, 'labels'), { recursive: true });
    writeFileSync(join(seg, 'classes.json'), JSON.stringify({ names: ['dark', 'bright'] }));
    writeFileSync(join(seg, 'images', 's0.png'), await rgbPng(new Float32Array(3 * 16).fill(0.5), 4, 4));
    writeFileSync(join(seg, 'labels', 's0.png'), await labelPng(new Uint8Array(16), 4, 4));
    r = await run('semantic', 'regions', '--model', modelPath, '--data', seg, '--axes', 'rotation', '--grad', 'exact', '--out', join(dir, 'bad'));
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--grad exact needs the classifier score 'prob'; 'pixel-acc'/);
  });

  it('bad --axes, --domain, --start, --grad', async () => {
    await writeData();
    const b = base(join(dir, 'bad'));
    const cases: [string[], RegExp][] = [
      [['--axes', 'rotation,zoom'], /--axes: unknown parameter 'zoom'/],
      [['--axes', 'rotation,rot'], /--axes: 'rotation' is named twice/],
      [['--axes', 'scale', '--domain', 'scale=0:2'], /--domain: scale=0 is outside the valid range of 'scale'/],
      [['--axes', 'rotation', '--domain', 'rotation=45:-45'], /--domain part 'rotation=45:-45': needs finite numbers lo < hi/],
      [['--axes', 'rotation', '--domain', 'rotation=-45'], /--domain part 'rotation=-45': expected name=lo:hi/],
      [['--axes', 'rotation', '--domain', 'brightness=0.5:1.5'], /--domain: 'brightness' is not one of --axes \(rotation\)/],
      [['--axes', 'rotation,brightness', '--start', '1,2,3'], /--start '1,2,3' must have 2 numbers/],
      [['--axes', 'brightness', '--domain', 'brightness=1.2:1.7'], /--start: the default start \(the identity, brightness=1\) is outside/],
      [['--axes', 'rotation', '--start', '200'], /--start '200': rotation = 200 is outside the region domain \[-180, 180\]/],
      [['--axes', 'rotation', '--grad', 'auto'], /--grad must be fd or exact, got 'auto'/],
      [['--axes', 'rotation,brightness', '--fd-step', '1,2,3'], /--fd-step must be one number > 0 or one per axis/],
      [[], /--axes is required/],
    ];
    for (const [extra, msg] of cases) {
      const r = await run(...b, ...extra);
      expect(r.code, extra.join(' ')).toBe(2);
      expect(r.stderr).toMatch(msg);
    }
    const r = await run('semantic', 'regions', '--model', modelPath, '--mesh', 'cube', '--class', '0', '--axes', 'rotation', '--out', join(dir, 'bad'));
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--axes is for --data regions, not --mesh/);
  });
});
