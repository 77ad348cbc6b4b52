// Rendering on a worker thread. onnxruntime-node runs a model synchronously on the main thread, so a
// semantic map that renders batch k+1 on a worker while the model scores batch k keeps the renderer off
// the critical path (map.ts pipelines it). The worker is the compiled render-worker.js next to this
// module; where it does not exist (sources run directly, e.g. under the test runner) callers fall back
// to rendering on the main thread: same images, only slower.
import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { Mesh } from './mesh.js';
import { RenderError, type View } from './render.js';

const WORKER_URL = new URL('./render-worker.js', import.meta.url);

/**
 * Whether a render worker can run beside onnxruntime without taking its cores: only when the model runs on
 * fewer threads than there are cores (measured: with onnxruntime on every core of a 2-core machine the
 * extra thread made `semantic demo` 17% slower; with 1 thread of 2 it made maps 1.2-1.4x faster).
 */
export function renderWorkerHelps(onnxThreads: number | undefined): boolean {
  const cores = availableParallelism();
  return (onnxThreads ?? cores) < cores;
}

type Waiter = { resolve: (images: Float32Array) => void; reject: (e: Error) => void; buffer: SharedArrayBuffer };

/** One worker thread rendering batches of views of one mesh at one image size. */
export class RenderWorker {
  private readonly worker: Worker;
  private readonly waiting = new Map<number, Waiter>();
  private nextId = 0;
  private failed: Error | undefined;

  /** Whether the compiled worker script is there (false when running from TypeScript sources). */
  static available(): boolean {
    return WORKER_URL.protocol === 'file:' && existsSync(fileURLToPath(WORKER_URL));
  }

  constructor(
    mesh: Mesh,
    readonly size: number,
  ) {
    this.worker = new Worker(WORKER_URL, { workerData: { positions: mesh.positions, faces: mesh.faces, name: mesh.name, size } });
    // Idle workers must not keep the process alive; a pending request refs it (render()).
    this.worker.unref();
    this.worker.on('message', (m: { id: number; error?: string }) => {
      const w = this.waiting.get(m.id);
      if (!w) return;
      this.settle(m.id);
      if (m.error !== undefined) w.reject(new RenderError(m.error));
      else w.resolve(new Float32Array(w.buffer));
    });
    const fail = (e: Error): void => {
      this.failed = new RenderError(`render worker: ${e.message}`);
      for (const [id, w] of [...this.waiting]) {
        this.settle(id);
        w.reject(this.failed);
      }
    };
    this.worker.on('error', fail);
    this.worker.on('exit', (code) => {
      if (this.waiting.size) fail(new Error(`exited with code ${code}`));
    });
  }

  /** Renders `views` into a new shared buffer of views.length CHW images. */
  render(views: readonly View[]): Promise<Float32Array> {
    if (this.failed) return Promise.reject(this.failed);
    const buffer = new SharedArrayBuffer(views.length * 3 * this.size * this.size * 4);
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      if (this.waiting.size === 0) this.worker.ref();
      this.waiting.set(id, { resolve, reject, buffer });
      this.worker.postMessage({ id, views, buffer });
    });
  }

  async close(): Promise<void> {
    await this.worker.terminate();
  }

  private settle(id: number): void {
    this.waiting.delete(id);
    if (this.waiting.size === 0) this.worker.unref();
  }
}
