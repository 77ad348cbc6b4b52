// The semantic API as a library user reaches it (the package entry, src/index.ts): a viewpoint map of a
// bundled classifier on a bundled mesh, a robust region from a start point, and its SRVR.
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  findRegion,
  loadMesh,
  loadModel,
  parseGrid,
  REFERENCE_DOMAIN,
  restrictSpace,
  scoreOracle,
  semanticMap,
  srvr,
  viewpointSpace,
} from '../../src/index.js';

describe('semantic robustness through the library entry point', () => {
  it('maps the teapot classifier over a small viewpoint grid, grows a region, and reports its SRVR', async () => {
    const model = await loadModel(join(import.meta.dirname, '../../models/mesh-cls-clean.onnx'), { threads: 1 });
    const space = viewpointSpace(loadMesh('teapot'), { size: 224, worker: false });
    const target = { score: 'prob' as const, label: 1 }; // class 1 = teapot (models/mesh-cls-clean.json)
    const map = await semanticMap(space, model, target, parseGrid('az=0:360:120,el=0:90:30'));
    expect(map.dims.map((d) => d.values.length)).toEqual([3, 3]);
    expect(map.scores.every((p) => p >= 0 && p <= 1)).toBe(true);
    // Regions live in (azimuth, elevation); the other viewpoint parameters keep their defaults.
    const azEl = restrictSpace(space, ['az', 'el']);
    const region = await findRegion({ method: 'naive', score: scoreOracle(azEl, model, target), start: [60, 30], domain: REFERENCE_DOMAIN, iterations: 4 });
    expect(region.iterations).toBe(4);
    for (let i = 0; i < 2; i++) expect(region.a[i]).toBeLessThanOrEqual(region.b[i]);
    const s = srvr([region], REFERENCE_DOMAIN);
    expect(s).toBeCloseTo(region.volumeRatio, 12);
  });
});
