// Semantic-robustness benchmark (issue "Performance"): on the bundled mesh classifiers (models/mesh-cls-*),
// 2D semantic-map points per second and the renderer's share of map time (renderSeconds / seconds as
// semanticMap reports them; target < 20%), serial and pipelined (render worker), the same for two other
// 224x224 networks, renders per second of a ~10k-triangle mesh at 224x224 with 2x supersampling (one core;
// bench/render measures it over more meshes and rounds), region-search throughput (OIR_B) and the wall
// time of `semantic demo` at its defaults. Run through bench/semantic/run.sh.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildArch, buildClassifier } from '../../src/arch/index.js';
import { semanticDemo } from '../../src/cli/semantic-demo.js';
import { loadModel, RobustModel } from '../../src/runtime/model.js';
import { DEFAULT_GRID_2D, parseGrid } from '../../src/semantic/grid.js';
import { scoreOracle, semanticMap } from '../../src/semantic/map.js';
import { faceCount, loadMesh, normalizeMesh } from '../../src/semantic/mesh.js';
import { teapot } from '../../src/semantic/meshes/teapot.js';
import { findRegion, REFERENCE_DOMAIN } from '../../src/semantic/regions.js';
import { Renderer, type View } from '../../src/semantic/render.js';
import { viewpointSpace } from '../../src/semantic/space.js';
import { machineInfo } from '../machine.js';

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1] : fallback;
}
const outDir = arg('out', 'bench/semantic');
const threads = Number(arg('threads', '1'));
const skipDemo = process.argv.includes('--skip-demo');
const load0 = loadavg()[0];
const mesh = loadMesh('teapot');
const TEAPOT_LABEL_NAME = 'teapot';

interface MapRow {
  model: string;
  input: number;
  grid: string;
  points: number;
  seconds: number;
  pointsPerSecond: number;
  renderSeconds: number;
  modelSeconds: number;
  renderShare: number;
  mode: 'serial' | 'pipelined';
}
const maps: MapRow[] = [];

/** Classes and input size of a bundled model, from the .json next to it. */
function readMeta(onnx: string): { classes: string[]; data: { size: number } } {
  return JSON.parse(readFileSync(onnx.replace(/\.onnx$/, '.json'), 'utf8'));
}

async function mapRow(name: string, model: RobustModel, size: number, gridText: string, label: number): Promise<void> {
  const grid = parseGrid(gridText);
  // Serial: the main thread renders each batch, then the model scores it (renderSeconds = render time).
  // Pipelined (the default of viewpointSpace): a worker renders batch k+1 while the model scores batch k
  // (renderSeconds = the time the map waits for images: the renderer's part of the map's wall time).
  for (const mode of ['serial', 'pipelined'] as const) {
    const space = viewpointSpace(mesh, { size, worker: mode === 'pipelined' });
    if (mode === 'pipelined' && !space.renderAsync)
      throw new Error('render worker not available: bench/semantic/tsconfig.json must compile src/semantic/render-worker.ts');
    // Warm-up (JIT, onnxruntime session creation, worker start) on a few points, then the timed map without a cache.
    await semanticMap(space, model, { score: 'prob', label }, parseGrid('az=0:360:90,el=0:90:45'), { batchSize: 32 });
    const m = await semanticMap(space, model, { score: 'prob', label }, grid, { batchSize: 32 });
    const row: MapRow = {
      model: name,
      mode,
      input: size,
      grid: gridText,
      points: m.scores.length,
      seconds: m.seconds,
      pointsPerSecond: m.scores.length / m.seconds,
      renderSeconds: m.renderSeconds,
      modelSeconds: m.modelSeconds,
      renderShare: m.renderSeconds / m.seconds,
    };
    maps.push(row);
    console.log(
      `map ${name} (${mode}) ${size}x${size} ${gridText}: ${row.points} points in ${row.seconds.toFixed(1)} s = ${row.pointsPerSecond.toFixed(1)}/s, render ${(100 * row.renderShare).toFixed(1)}%`,
    );
  }
}

const bundled = [
  { name: 'mesh-cls-clean', file: 'models/mesh-cls-clean.onnx' },
  { name: 'mesh-cls-at', file: 'models/mesh-cls-at.onnx' },
];
for (const b of bundled) {
  const meta = readMeta(b.file);
  await mapRow(b.name, await loadModel(b.file, { threads }), meta.data.size, DEFAULT_GRID_2D, meta.classes.indexOf(TEAPOT_LABEL_NAME));
}
// A smaller network at 224x224 (the earlier bundled architecture; untrained weights: the cost does not depend on them), coarser grid.
const big = RobustModel.fromOnnx(buildArch('resnet-tiny-cls', { classes: 10, seed: 0, inputSize: 224 }), { threads });
await mapRow('resnet-tiny-cls (untrained)', big, 224, 'az=0:360:6,el=-10:90:6', 0);
// A network of the paper's scale (ResNet-18 layout: 7x7 stem + max pool, 64-128-256-512, 2 blocks per
// stage; the paper's ResNet50 costs more still), untrained, 224x224: the share a real classifier sees.
const resnet18 = buildClassifier(
  { kind: 'resnet', stem: { channels: 64, kernel: 7, stride: 2, maxPool: true }, widths: [64, 128, 256, 512], depths: [2, 2, 2, 2] },
  { classes: 10, seed: 0, inputSize: 224 },
  'resnet18-layout-cls',
);
await mapRow('ResNet-18 layout (untrained)', RobustModel.fromOnnx(resnet18, { threads }), 224, 'az=0:360:30,el=-10:90:20', 0);

// Renders per second: ~10k triangles at 224x224, 2x supersampling, one core, over 1020 views of the grid.
const t13 = normalizeMesh(teapot(13));
const renderer = new Renderer(224, 2);
const views: View[] = [];
for (let az = 0; az < 360; az += 6) for (let el = -10; el < 90; el += 6) views.push({ azimuth: az, elevation: el });
const buf = new Float32Array(3 * 224 * 224);
for (let i = 0; i < 200; i++) renderer.renderInto(buf, 0, t13, views[(i * 37) % views.length]);
const rt0 = performance.now();
const c0 = process.cpuUsage();
for (const v of views) renderer.renderInto(buf, 0, t13, v);
const renderWall = (performance.now() - rt0) / 1000;
const cu = process.cpuUsage(c0);
const render = {
  mesh: 'teapot, 13x13 quads per patch',
  triangles: faceCount(t13),
  views: views.length,
  rendersPerSecond: views.length / renderWall,
  rendersPerCpuSecond: views.length / ((cu.user + cu.system) / 1e6),
};
console.log(`render ${render.triangles} triangles 224x224 2xSS: ${render.rendersPerSecond.toFixed(1)}/s (${render.rendersPerCpuSecond.toFixed(1)} per CPU s)`);

// Region search: OIR_B (8 points per iteration), 100 iterations from (130, 30), clean bundled model.
const clean = await loadModel('models/mesh-cls-clean.onnx', { threads });
const cleanMeta = readMeta('models/mesh-cls-clean.onnx');
const oracle = scoreOracle(
  viewpointSpace(mesh, { size: cleanMeta.data.size }),
  clean,
  { score: 'prob', label: cleanMeta.classes.indexOf('teapot') },
  {
    axes: ['az', 'el'],
    batchSize: 64,
  },
);
const gt0 = performance.now();
const reg = await findRegion({ method: 'oir_b', score: oracle, start: [130, 30], domain: REFERENCE_DOMAIN, iterations: 100 });
const regionSeconds = (performance.now() - gt0) / 1000;
const region = { method: 'oir_b', iterations: 100, evaluations: reg.evaluations, seconds: regionSeconds, pointsPerSecond: reg.evaluations / regionSeconds };
console.log(`region oir_b 100 iterations: ${reg.evaluations} points in ${regionSeconds.toFixed(1)} s`);

// The demo at its defaults, in a fresh directory (no cache).
let demo: { seconds: number; threads: string } | undefined;
if (!skipDemo) {
  const dir = mkdtempSync(join(tmpdir(), 'rs-bench-semdemo-'));
  const d0 = performance.now();
  await semanticDemo(['--out', dir, '--quiet'], { stdout: process.stdout, stderr: process.stderr });
  demo = { seconds: (performance.now() - d0) / 1000, threads: 'all cores (default)' };
  rmSync(dir, { recursive: true, force: true });
  console.log(`semantic demo (defaults): ${demo.seconds.toFixed(1)} s`);
}

const machine = machineInfo(load0);
mkdirSync(outDir, { recursive: true });
writeFileSync(join(outDir, 'results.json'), `${JSON.stringify({ threads, machine, maps, render, region, demo }, null, 2)}\n`);
const pct = (x: number) => `${(100 * x).toFixed(1)}%`;

/** What the shares mean: the render cost per image is fixed, so its serial share depends on the network's cost. */
function shareNote(): string[] {
  const lines: string[] = [];
  for (const m of maps.filter((x) => x.mode === 'serial')) {
    const r = (1000 * m.renderSeconds) / m.points;
    const f = (1000 * m.modelSeconds) / m.points;
    const p = maps.find((x) => x.mode === 'pipelined' && x.model === m.model);
    lines.push(
      `- ${m.model} at ${m.input}x${m.input}: render ${r.toFixed(2)} ms/image, model ${f.toFixed(2)} ms/image${p ? `; pipelined the map waits ${((1000 * p.renderSeconds) / p.points).toFixed(2)} ms/image for images (${(p.pointsPerSecond / m.pointsPerSecond).toFixed(2)}x the serial throughput)` : ''}.`,
    );
  }
  return [
    'Per image (serially the render share falls as the network grows; pipelined the renderer is hidden behind the model',
    'whenever a render costs less than the model and a core is free for the worker):',
    ...lines,
  ];
}

const md = [
  '# Semantic-robustness benchmark',
  '',
  `Mesh: bundled teapot (${faceCount(mesh)} triangles); true-class probability maps, batches of 32, no score cache,`,
  `onnxruntime ${threads} thread(s); the renderer is single-threaded JavaScript. Serial: the main thread renders a batch,`,
  'then the model scores it. Pipelined (what `semantic map/regions/demo` do): a worker thread renders the next batch while',
  "the model scores this one. Render share = renderSeconds / seconds of semanticMap, i.e. the part of the map's wall time",
  'spent rendering (serial) or waiting for renders (pipelined); target < 20%. Regenerate with `bench/semantic/run.sh`.',
  '',
  '| model | mode | input | grid | points | seconds | points/s | render share | model share |',
  '|---|---|---:|---|---:|---:|---:|---:|---:|',
  ...maps.map(
    (m) =>
      `| ${m.model} | ${m.mode} | ${m.input}x${m.input} | \`${m.grid}\` | ${m.points} | ${m.seconds.toFixed(1)} | ${m.pointsPerSecond.toFixed(1)} | ${pct(m.renderShare)} | ${pct(m.modelSeconds / m.seconds)} |`,
  ),
  '',
  ...shareNote(),
  '',
  `Renderer, ${render.mesh} (${render.triangles} triangles), 224x224, 2x supersampling, one core, ${render.views} views:`,
  `${render.rendersPerSecond.toFixed(1)} renders/s (${render.rendersPerCpuSecond.toFixed(1)} per CPU second). bench/render/results.md has more meshes and rounds.`,
  '',
  `Region search, OIR_B, ${region.iterations} iterations from (130, 30), mesh-cls-clean: ${region.evaluations} points in ${region.seconds.toFixed(1)} s (${region.pointsPerSecond.toFixed(1)} points/s; one oracle call of 8 points per iteration).`,
  '',
  demo
    ? `\`robustscope semantic demo\` at its defaults (2 meshes x 2 models: 270-point maps + top-1 maps, naive/OIR_B/OIR_W from 4 start points +- 1 deg, 60 iterations; ${demo.threads}): ${demo.seconds.toFixed(1)} s.`
    : '(demo not timed: --skip-demo)',
  '',
  `Machine: ${machine.cpu} (${machine.logicalCpus} logical CPUs), Node ${machine.node}; load average ${load0.toFixed(2)} at start,`,
  `${machine.loadAverageAtEnd.toFixed(2)} at end (a shared machine: other work inflates the times). ${machine.date}.`,
  '',
];
writeFileSync(join(outDir, 'results.md'), md.join('\n'));
