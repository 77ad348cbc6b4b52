// Worker-thread entry of RenderWorker (render-pool.ts): renders batches of views of one mesh into
// shared memory, so the main thread can run the model on one batch while this renders the next.
import { parentPort, workerData } from 'node:worker_threads';
import type { Mesh } from './mesh.js';
import { Renderer, type View } from './render.js';

interface Init {
  positions: Float32Array;
  faces: Uint32Array;
  name: string;
  size: number;
}
interface Request {
  id: number;
  views: View[];
  buffer: SharedArrayBuffer;
}

const init = workerData as Init;
const mesh: Mesh = { name: init.name, positions: init.positions, faces: init.faces };
const renderer = new Renderer(init.size);
const n = 3 * init.size * init.size;
parentPort?.on('message', (req: Request) => {
  try {
    const out = new Float32Array(req.buffer);
    for (const [i, v] of req.views.entries()) renderer.renderInto(out, i * n, mesh, v);
    parentPort?.postMessage({ id: req.id });
  } catch (e) {
    parentPort?.postMessage({ id: req.id, error: e instanceof Error ? e.message : String(e) });
  }
});
