// Rendering on a worker thread (src/semantic/render-pool.ts, render-worker.ts) and the pipelined map
// (map.ts renders batch k+1 on the worker while the model scores batch k). The worker is the COMPILED
// dist/src/semantic/render-worker.js (`npm test` builds dist/ first), so this file loads the compiled
// viewpoint space; the map code under test is the source one. Pins: worker images are bit-identical to
// main-thread renders; a pipelined map gives the same scores as a serial one, in the same order, for every
// batch split; bad points are rejected with the same error before reaching the worker; sources run
// directly (no compiled worker) fall back to main-thread rendering.
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import type { ImageBatch } from '../../src/runtime/model.js';
import { parseGrid } from '../../src/semantic/grid.js';
import { scoreOracle, semanticMap } from '../../src/semantic/map.js';
import { loadMesh } from '../../src/semantic/mesh.js';
import { RenderWorker } from '../../src/semantic/render-pool.js';
import type { ForwardModel } from '../../src/semantic/score.js';
import * as srcSpace from '../../src/semantic/space.js';

const DIST_SPACE = resolve(__dirname, '../../dist/src/semantic/space.js');

async function distSpace(): Promise<typeof srcSpace> {
  // A missing build is a failure, not a skip: npm test builds dist/ before running the tests.
  expect(existsSync(DIST_SPACE), `${DIST_SPACE} missing: run 'npm run build'`).toBe(true);
  return (await import(pathToFileURL(DIST_SPACE).href)) as typeof srcSpace;
}

// A model whose 3 logits are the channel means of each image: scores depend on every pixel.
const meanModel: ForwardModel = {
  async forward(x: ImageBatch) {
    const [n, c, h, w] = x.dims;
    const out = new Float32Array(n * c);
    for (let i = 0; i < n; i++)
      for (let k = 0; k < c; k++) {
        let s = 0;
        const o = (i * c + k) * h * w;
        for (let j = 0; j < h * w; j++) s += x.data[o + j];
        out[i * c + k] = (40 * s) / (h * w) - k;
      }
    return { logits: out, logitsDims: [n, c] };
  },
};

describe('render worker', () => {
  const mesh = loadMesh('teapot');

  it('is not used when the sources run directly (no compiled worker next to them): main-thread rendering', () => {
    expect(RenderWorker.available()).toBe(false);
    expect(srcSpace.viewpointSpace(mesh, { size: 16 }).renderAsync).toBeUndefined();
  });

  it('renders the same images as the main thread, bit for bit, for any viewpoint and light', async () => {
    const { viewpointSpace } = await distSpace();
    const worker = viewpointSpace(mesh, { size: 48 });
    const local = viewpointSpace(mesh, { size: 48, worker: false });
    expect(worker.renderAsync).toBeDefined();
    expect(local.renderAsync).toBeUndefined();
    const points = [
      [0, 0, 2.732, 0, 90],
      [130, 30, 2.732, 0, 90],
      [275.5, -10, 2.2, 40, 20],
      [359, 89, 3.5, 200, -45],
    ].map((p) => Float64Array.from(p));
    const a = await worker.renderAsync?.(points);
    const b = new Float32Array(points.length * 3 * 48 * 48);
    local.render(points, b);
    expect(a?.length).toBe(b.length);
    expect(Buffer.from(new Uint8Array((a as Float32Array).buffer)).equals(Buffer.from(b.buffer))).toBe(true);
    expect(b.some((v) => v > 0)).toBe(true);
  });

  it('rejects a bad point with the space error before rendering anything', async () => {
    const { viewpointSpace } = await distSpace();
    const space = viewpointSpace(mesh, { size: 16 });
    const bad = [Float64Array.from([0, 95, 2.732, 0, 90])];
    expect(() => space.render(bad, new Float32Array(3 * 16 * 16))).toThrow(/el/);
    expect(() => space.renderAsync?.(bad)).toThrow(/el/);
  });

  // 32: the whole grid is one batch, which map.ts renders on the main thread (nothing to overlap).
  for (const batchSize of [1, 7, 32]) {
    it(`a pipelined map equals the serial one (batch ${batchSize}), and its render time is only the wait for images`, async () => {
      const { viewpointSpace } = await distSpace();
      const grid = parseGrid('az=0:360:45,el=-10:90:25');
      const target = { score: 'prob', label: 1 } as const;
      const piped = await semanticMap(viewpointSpace(mesh, { size: 24 }), meanModel, target, grid, { batchSize });
      const serial = await semanticMap(viewpointSpace(mesh, { size: 24, worker: false }), meanModel, target, grid, { batchSize });
      expect(piped.scores.length).toBe(8 * 4);
      expect(Array.from(piped.scores)).toEqual(Array.from(serial.scores));
      expect(new Set(piped.scores).size).toBeGreaterThan(4);
      expect(piped.renderSeconds).toBeLessThanOrEqual(piped.seconds);
    });
  }

  it('the region oracle (a restricted space) pipelines too, with the same scores', async () => {
    const { viewpointSpace } = await distSpace();
    const target = { score: 'prob', label: 0 } as const;
    const pts = [
      [10, 5],
      [200, 40],
      [10, 5],
      [300, -5],
    ].map((p) => Float64Array.from(p));
    const piped = viewpointSpace(mesh, { size: 24 });
    const sub = srcSpace.restrictSpace(piped, ['az', 'el']);
    expect(sub.renderAsync).toBeDefined();
    const f1 = await scoreOracle(piped, meanModel, target, { axes: ['az', 'el'], batchSize: 2 })(pts);
    const f2 = await scoreOracle(viewpointSpace(mesh, { size: 24, worker: false }), meanModel, target, { axes: ['az', 'el'], batchSize: 2 })(pts);
    expect(Array.from(f1)).toEqual(Array.from(f2));
    expect(f1[0]).toBe(f1[2]);
  });
});
