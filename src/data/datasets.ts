// Dataset layouts, streamed one image at a time in a fixed (sorted or listed) order:
//   folder  DIR/images/*.png|jpg|jpeg + DIR/labels/<stem>.png (+ optional DIR/classes.json)
//   voc     VOCdevkit/VOC2012/{JPEGImages, SegmentationClass, ImageSets/Segmentation/val.txt}
//   ade20k  ADEChallengeData2016/{images,annotations}/validation
// Only the file list is held in memory; images are decoded as they are consumed (one ahead).
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, extname, join } from 'node:path';
import type { Sample } from '../eval/run.js';
import { ADE20K_CLASSES, VOC_CLASSES } from './class-names.js';
import { type Resize, type Rgb, readPair, vocPalette } from './image.js';

export class DatasetError extends Error {}

export type DatasetFormat = 'folder' | 'voc' | 'ade20k';

export interface DatasetOptions {
  format: DatasetFormat;
  root: string;
  /** Evaluation crop (short side resized to it, centre crop), or 'native' (no transform). */
  size: number | 'native';
  /** Only the first N images (in dataset order). */
  limit?: number;
  /** VOC: the boundary label 255 is ignored (default) or mapped to background (the reference's choice). */
  vocBoundary?: 'ignore' | 'background';
  /** ADE20K: label 0 "other" is ignored and classes shift down by one (default, mmseg), or kept as class 0 of 151 (the reference). */
  adeOther?: 'ignore' | 'class0';
  /** Split: VOC ImageSets/Segmentation/<split>.txt (default val); ADE20K training|validation (default validation). */
  split?: string;
}

export interface Dataset {
  format: DatasetFormat;
  classes: { names: string[]; palette?: Rgb[] };
  ignoreIndex: number;
  count: number;
  /** Image ids in dataset order. */
  ids: string[];
  /** A fresh stream over the dataset each call. */
  samples(): AsyncIterable<Sample>;
  /** One sample by index in dataset order (random access for training). */
  get(index: number): Promise<Sample>;
}

interface Entry {
  id: string;
  image: string;
  label: string;
}

const isDir = (p: string) => existsSync(p) && statSync(p).isDirectory();

export function openDataset(opts: DatasetOptions): Dataset {
  if (!isDir(opts.root)) throw new DatasetError(`dataset root '${opts.root}' is not a directory`);
  if (opts.size !== 'native' && !(Number.isInteger(opts.size) && opts.size > 0))
    throw new DatasetError(`dataset size must be a positive integer or 'native', got ${String(opts.size)}`);
  if (opts.limit !== undefined && !(Number.isInteger(opts.limit) && opts.limit > 0))
    throw new DatasetError(`dataset limit must be a positive integer, got ${String(opts.limit)}`);
  const resize: Resize | undefined = opts.size === 'native' ? undefined : { short: opts.size, crop: opts.size };
  let entries: Entry[];
  let classes: Dataset['classes'];
  let ignoreIndex = 255;
  let palette: Rgb[] | undefined;
  let mapLabel: Uint8Array | undefined; // lookup table: file value -> class id
  switch (opts.format) {
    case 'folder': {
      const cj = join(opts.root, 'classes.json');
      classes = { names: [] };
      if (existsSync(cj)) {
        const meta = readClassesJson(cj);
        classes = { names: meta.names, palette: meta.palette };
        if (meta.ignoreIndex !== undefined) ignoreIndex = meta.ignoreIndex;
        // Colour label PNGs are decoded through the palette (single-channel ones hold the ids).
        palette = meta.palette;
      }
      const imgDir = join(opts.root, 'images');
      const labDir = join(opts.root, 'labels');
      if (!isDir(imgDir)) throw new DatasetError(`folder dataset '${opts.root}' has no images/ directory`);
      if (!isDir(labDir)) throw new DatasetError(`folder dataset '${opts.root}' has no labels/ directory`);
      entries = listImages(imgDir, /\.(png|jpe?g)$/i, (stem) => join(labDir, `${stem}.png`));
      break;
    }
    case 'voc': {
      const base = [join(opts.root, 'VOC2012'), join(opts.root, 'VOCdevkit', 'VOC2012'), opts.root].find((b) => isDir(join(b, 'ImageSets'))) ?? opts.root;
      const split = opts.split ?? 'val';
      const list = join(base, 'ImageSets', 'Segmentation', `${split}.txt`);
      if (!existsSync(list)) throw new DatasetError(`VOC list '${list}' not found (expected VOCdevkit/VOC2012/ImageSets/Segmentation/${split}.txt)`);
      entries = readFileSync(list, 'utf8')
        .split(/\r?\n/)
        .map((l) => l.trim())
        .filter(Boolean)
        .map((id) => ({ id, image: join(base, 'JPEGImages', `${id}.jpg`), label: join(base, 'SegmentationClass', `${id}.png`) }));
      // The full 256-entry colour map decodes every palette index; 255 (224,224,192) is the boundary.
      palette = vocPalette();
      classes = { names: VOC_CLASSES, palette: palette.slice(0, VOC_CLASSES.length) };
      if (opts.vocBoundary === 'background') mapLabel = lookup((v) => (v === 255 ? 0 : v));
      break;
    }
    case 'ade20k': {
      const base = isDir(join(opts.root, 'ADEChallengeData2016')) ? join(opts.root, 'ADEChallengeData2016') : opts.root;
      const split = opts.split ?? 'validation';
      const imgDir = join(base, 'images', split);
      if (!isDir(imgDir)) throw new DatasetError(`ADE20K images '${imgDir}' not found (expected ADEChallengeData2016/images/${split})`);
      entries = listImages(imgDir, /\.jpe?g$/i, (stem) => join(base, 'annotations', split, `${stem}.png`));
      const keep = opts.adeOther === 'class0';
      classes = { names: keep ? ['other', ...ADE20K_CLASSES] : [...ADE20K_CLASSES] };
      // mmseg's reduce_zero_label: 0 -> 255, c -> c - 1 (a stray 255 in a file stays ignored).
      if (!keep) mapLabel = lookup((v) => (v === 0 || v === 255 ? 255 : v - 1));
      break;
    }
    default:
      throw new DatasetError(`unknown dataset format '${String(opts.format)}' (folder, voc or ade20k)`);
  }
  if (opts.limit !== undefined) entries = entries.slice(0, opts.limit);
  if (entries.length === 0) throw new DatasetError(`dataset '${opts.root}' (${opts.format}) has no images`);
  // Checked up front, so a run does not fail hours in on a missing file.
  for (const e of entries) {
    if (!existsSync(e.image)) throw new DatasetError(`image '${e.image}' (listed for '${e.id}') does not exist`);
    if (!existsSync(e.label)) throw new DatasetError(`image '${e.image}' has no label file '${e.label}'`);
  }
  const K = classes.names.length;
  const load = async (e: Entry): Promise<Sample> => {
    const s = await readPair(e.image, e.label, palette, resize);
    const raw = s.label;
    const label = mapLabel ? raw.map((v) => (mapLabel as Uint8Array)[v]) : raw;
    if (K > 0)
      for (let p = 0; p < label.length; p++)
        if (label[p] >= K && label[p] !== ignoreIndex) {
          const shown = raw[p] === label[p] ? `${raw[p]}` : `${raw[p]} (class ${label[p]} after mapping)`;
          throw new DatasetError(
            `label '${e.label}' has class id ${shown} at pixel (${p % s.width}, ${Math.floor(p / s.width)}); the dataset has ${K} classes (ids 0..${K - 1}, ignore index ${ignoreIndex})`,
          );
        }
    return { id: e.id, image: s.image, label, width: s.width, height: s.height };
  };
  return {
    format: opts.format,
    classes,
    ignoreIndex,
    count: entries.length,
    ids: entries.map((e) => e.id),
    samples: () => prefetched(entries, load),
    get: (index) => {
      const e = entries[index];
      if (!e) throw new DatasetError(`sample index ${index} is outside the dataset (${entries.length} images)`);
      return load(e);
    },
  };
}

/** Maps every byte value through f once. */
function lookup(f: (v: number) => number): Uint8Array {
  return Uint8Array.from({ length: 256 }, (_, v) => f(v));
}

/** Images in `dir` matching `ext`, sorted by file name; ids are the stems (must be unique). */
function listImages(dir: string, ext: RegExp, labelOf: (stem: string) => string): Entry[] {
  const files = readdirSync(dir)
    .filter((f) => ext.test(f))
    .sort();
  const seen = new Map<string, string>();
  return files.map((f) => {
    const stem = basename(f, extname(f));
    const other = seen.get(stem);
    if (other) throw new DatasetError(`'${join(dir, other)}' and '${join(dir, f)}' have the same name; ids (file stems) must be unique`);
    seen.set(stem, f);
    return { id: stem, image: join(dir, f), label: labelOf(stem) };
  });
}

/** Streams entries in order, decoding the next one while the consumer works on the current one. */
async function* prefetched(entries: Entry[], load: (e: Entry) => Promise<Sample>): AsyncGenerator<Sample> {
  const start = (i: number): Promise<Sample> | undefined => {
    if (i >= entries.length) return undefined;
    const p = load(entries[i]);
    p.catch(() => {}); // rethrown when awaited; never an unhandled rejection if the consumer stops early
    return p;
  };
  let next = start(0);
  for (let i = 0; next; i++) {
    const cur = await next;
    next = start(i + 1);
    yield cur;
  }
}

/**
 * Groups a stream into batches of `size` (the last may be smaller). All samples of a batch must
 * share one size (always true with a crop size; with 'native' sizes differ between images).
 */
export async function* batches(samples: AsyncIterable<Sample>, size: number): AsyncGenerator<Sample[]> {
  if (!(Number.isInteger(size) && size > 0)) throw new DatasetError(`batch size must be a positive integer, got ${size}`);
  let batch: Sample[] = [];
  for await (const s of samples) {
    const first = batch[0];
    if (first && (s.width !== first.width || s.height !== first.height))
      throw new DatasetError(
        `image '${s.id}' is ${s.width}x${s.height} but '${first.id}' in the same batch is ${first.width}x${first.height}; use a fixed size (e.g. --size 512) or batch size 1`,
      );
    batch.push(s);
    if (batch.length === size) {
      yield batch;
      batch = [];
    }
  }
  if (batch.length) yield batch;
}

interface ClassesJson {
  names: string[];
  palette?: Rgb[];
  ignoreIndex?: number;
}

function readClassesJson(path: string): ClassesJson {
  let j: unknown;
  try {
    j = JSON.parse(readFileSync(path, 'utf8'));
  } catch (e) {
    throw new DatasetError(`${path}: not valid JSON (${(e as Error).message})`);
  }
  const o = j as Record<string, unknown>;
  if (!o || typeof o !== 'object' || !Array.isArray(o.names) || o.names.some((n) => typeof n !== 'string'))
    throw new DatasetError(`${path}: "names" must be an array of strings`);
  if (o.names.length > 256) throw new DatasetError(`${path}: ${o.names.length} classes; labels are 8-bit, at most 256 classes`);
  const pal = o.palette;
  if (
    pal !== undefined &&
    (!Array.isArray(pal) || pal.some((c) => !Array.isArray(c) || c.length !== 3 || c.some((v) => !Number.isInteger(v) || v < 0 || v > 255)))
  )
    throw new DatasetError(`${path}: "palette" must be an array of [r, g, b] triples of integers 0..255`);
  const ig = o.ignoreIndex;
  if (ig !== undefined && (!Number.isInteger(ig) || (ig as number) < 0 || (ig as number) > 255))
    throw new DatasetError(`${path}: "ignoreIndex" must be an integer 0..255`);
  return { names: o.names as string[], palette: pal as Rgb[] | undefined, ignoreIndex: ig as number | undefined };
}

/** Pixel counts per class over a dataset (for mask-ce-bal's weights: w_s ~ 1/N_s, sum 1). */
export async function classWeights(ds: Dataset): Promise<{ counts: number[]; weights: number[] }> {
  const K = ds.classes.names.length;
  if (K === 0) throw new DatasetError('class weights need the number of classes (classes.json "names")');
  const counts = new Array<number>(K).fill(0);
  for await (const s of ds.samples()) for (const v of s.label) if (v < K && v !== ds.ignoreIndex) counts[v]++;
  const inv = counts.map((n) => (n > 0 ? 1 / n : 0));
  const sum = inv.reduce((a, b) => a + b, 0);
  return { counts, weights: inv.map((v) => (sum > 0 ? v / sum : 0)) };
}
