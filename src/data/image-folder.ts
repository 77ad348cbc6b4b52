// Classification data in the ImageFolder layout (DIR/<class>/*.png|jpg), as `robustscope data shapes
// --task classification` writes it: class ids follow DIR/classes.json when present, else the sorted
// folder names. Only the file list is held in memory; images are decoded on demand.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { DatasetError } from './datasets.js';
import { readRgb } from './image.js';

export interface ClassSample {
  id: string;
  image: Float32Array;
  classId: number;
  width: number;
  height: number;
}

export interface ClassificationDataset {
  classes: string[];
  count: number;
  /** `<class>/<file>` in dataset order (class by class, files sorted). */
  ids: string[];
  labels: Int32Array;
  get(index: number): Promise<ClassSample>;
}

export function openImageFolder(root: string, opts: { limit?: number } = {}): ClassificationDataset {
  if (!existsSync(root) || !statSync(root).isDirectory()) throw new DatasetError(`dataset root '${root}' is not a directory`);
  const dirs = readdirSync(root)
    .filter((d) => statSync(join(root, d)).isDirectory())
    .sort();
  let classes = dirs;
  const cj = join(root, 'classes.json');
  if (existsSync(cj)) {
    let names: unknown;
    try {
      const meta = JSON.parse(readFileSync(cj, 'utf8')) as { names?: unknown } | unknown[];
      names = Array.isArray(meta) ? meta : (meta as { names?: unknown }).names;
    } catch (e) {
      throw new DatasetError(`'${cj}' is not valid JSON: ${(e as Error).message}`);
    }
    if (!Array.isArray(names) || !names.every((n) => typeof n === 'string'))
      throw new DatasetError(`'${cj}' must hold a list of class names (or {"names": [...]})`);
    classes = names as string[];
    for (const d of dirs) if (!classes.includes(d)) throw new DatasetError(`folder '${join(root, d)}' is not a class listed in '${cj}'`);
  }
  if (classes.length < 2) throw new DatasetError(`classification dataset '${root}' needs at least 2 class folders, found ${classes.length}`);
  const files: { id: string; path: string; classId: number }[] = [];
  classes.forEach((c, k) => {
    const dir = join(root, c);
    if (!existsSync(dir)) return;
    for (const f of readdirSync(dir)
      .filter((f) => /\.(png|jpe?g)$/i.test(f))
      .sort())
      files.push({ id: `${c}/${f}`, path: join(dir, f), classId: k });
  });
  const list = opts.limit !== undefined ? files.slice(0, opts.limit) : files;
  if (list.length === 0) throw new DatasetError(`classification dataset '${root}' has no images`);
  return {
    classes,
    count: list.length,
    ids: list.map((f) => f.id),
    labels: Int32Array.from(list, (f) => f.classId),
    async get(index) {
      const f = list[index];
      if (!f) throw new DatasetError(`sample index ${index} is outside the dataset (${list.length} images)`);
      const img = await readRgb(f.path);
      return { id: f.id, image: img.data, classId: f.classId, width: img.width, height: img.height };
    },
  };
}
