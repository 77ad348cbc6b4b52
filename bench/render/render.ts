// Renderer benchmark (issue "Performance"): renders per second of a ~10k-triangle mesh at 224x224 with
// 2x supersampling on one core (the renderer is plain single-threaded JavaScript), each image written
// into a 32-image NCHW batch tensor as a semantic map does. Views: the spec's 2D map grid (azimuth
// 0..357 step 3 x elevation -10..89 step 3 = 4080 views), so one round costs what rendering a full map does.
// Run through bench/render/run.sh; writes results.json (every round) and results.md (the table).
import { mkdirSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { faceCount, loadMesh, type Mesh, normalizeMesh } from '../../src/semantic/mesh.js';
import { teapot } from '../../src/semantic/meshes/teapot.js';
import { Renderer, type View } from '../../src/semantic/render.js';
import { machineInfo } from '../machine.js';

interface CaseResult {
  mesh: string;
  triangles: number;
  /** Mean fraction of non-background output pixels over the views (raster work grows with it). */
  coverage: number;
  /** Per round, over wall-clock time. */
  rendersPerSecond: number[];
  /** Per round, over this process's CPU time (less sensitive to other processes on a shared machine). */
  rendersPerCpuSecond: number[];
  medianRendersPerSecond: number;
  medianRendersPerCpuSecond: number;
  medianMsPerRender: number;
  /** Seconds to render all 4080 views of a 2D map. */
  secondsPerMap: number;
}

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1] : fallback;
}

const rounds = Number(arg('rounds', '3'));
const size = Number(arg('size', '224'));
const outDir = arg('out', 'bench/render');
const BATCH = 32;

const views: View[] = [];
for (let az = 0; az < 360; az += 3) for (let el = -10; el < 90; el += 3) views.push({ azimuth: az, elevation: el });

const cases: [string, Mesh][] = [
  ['teapot, 13x13 quads per patch', normalizeMesh(teapot(13))],
  ['teapot (bundled, 10x10)', loadMesh('teapot')],
  ['bunny', loadMesh('bunny')],
  ['car', loadMesh('car')],
  ['cube', loadMesh('cube')],
];

const renderer = new Renderer(size);
const plane = 3 * size * size;
const batch = new Float32Array(BATCH * plane);

/** Wall-clock and CPU seconds to render every view once. */
function round(mesh: Mesh): { wall: number; cpu: number } {
  const c0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < views.length; i++) renderer.renderInto(batch, (i % BATCH) * plane, mesh, views[i]);
  const wall = Number(process.hrtime.bigint() - t0) / 1e9;
  const c = process.cpuUsage(c0);
  return { wall, cpu: (c.user + c.system) / 1e6 };
}

function coverage(mesh: Mesh): number {
  let covered = 0;
  const sample = views.filter((_, i) => i % 17 === 0);
  for (const v of sample) {
    renderer.renderInto(batch, 0, mesh, v);
    for (let p = 0; p < size * size; p++) if (batch[p] > 0) covered++;
  }
  return covered / (sample.length * size * size);
}

const median = (x: number[]): number => [...x].sort((a, b) => a - b)[Math.floor(x.length / 2)];
const load0 = loadavg()[0];
const results: CaseResult[] = [];
for (const [name, mesh] of cases) {
  for (let i = 0; i < 300; i++) renderer.renderInto(batch, 0, mesh, views[(i * 37) % views.length]); // warm-up (JIT)
  const rps: number[] = [];
  const cps: number[] = [];
  for (let r = 0; r < rounds; r++) {
    const t = round(mesh);
    rps.push(views.length / t.wall);
    cps.push(views.length / t.cpu);
  }
  const med = median(rps);
  results.push({
    mesh: name,
    triangles: faceCount(mesh),
    coverage: coverage(mesh),
    rendersPerSecond: rps,
    rendersPerCpuSecond: cps,
    medianRendersPerSecond: med,
    medianRendersPerCpuSecond: median(cps),
    medianMsPerRender: 1000 / med,
    secondsPerMap: views.length / med,
  });
  console.log(
    `${name}: ${faceCount(mesh)} triangles, ${med.toFixed(1)} renders/s (rounds ${rps.map((x) => x.toFixed(1)).join(', ')}), ${median(cps).toFixed(1)} per CPU second`,
  );
}

const machine = machineInfo(load0);
mkdirSync(outDir, { recursive: true });
writeFileSync(
  join(outDir, 'results.json'),
  `${JSON.stringify({ size, supersample: 2, batch: BATCH, views: views.length, rounds, machine, results }, null, 2)}\n`,
);
const md = [
  '# Renderer benchmark',
  '',
  `${size}x${size} RGB, 2x supersampling (rasterized at ${2 * size}x${2 * size}, 2x2 average pooled), one core, each image`,
  `written into a ${BATCH}-image NCHW batch tensor. Views: the 2D semantic-map grid (${views.length} views, azimuth`,
  '0..357 step 3 x elevation -10..89 step 3); median of the rounds (ms/render and s per map from wall-clock',
  'time). Regenerate with `bench/render/run.sh`.',
  '',
  '| mesh | triangles | coverage | renders/s | renders per CPU s | ms/render | s per 2D map |',
  '|---|---:|---:|---:|---:|---:|---:|',
  ...results.map(
    (r) =>
      `| ${r.mesh} | ${r.triangles} | ${(100 * r.coverage).toFixed(1)}% | ${r.medianRendersPerSecond.toFixed(1)} | ${r.medianRendersPerCpuSecond.toFixed(1)} | ${r.medianMsPerRender.toFixed(2)} | ${r.secondsPerMap.toFixed(1)} |`,
  ),
  '',
  `Machine: ${machine.cpu} (${machine.logicalCpus} logical CPUs), Node ${machine.node}; load average ${load0.toFixed(2)} at start,`,
  `${machine.loadAverageAtEnd.toFixed(2)} at end (a shared machine: other work inflates the times). ${machine.date}.`,
  '',
];
writeFileSync(join(outDir, 'results.md'), md.join('\n'));
