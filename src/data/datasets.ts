// Dataset layouts, streamed one image at a time in a fixed (sorted or listed) order:
//   folder  DIR/images/*.png|jpg|jpeg + DIR/labels/<stem>.png (+ optional DIR/classes.json)
//   voc     VOCdevkit/VOC2012/{JPEGImages, SegmentationClass, ImageSets/Segmentation/val.txt}
//   ade20k  ADEChallengeData2016/{images,annotations}/validation
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, extname, join } from 'node:path';
import type { Sample } from '../eval/run.js';
import { ADE20K_CLASSES, VOC_CLASSES } from './class-names.js';
import { type Resize, type Rgb, readLabel, readRgb, vocPalette } from './image.js';

export class DatasetError extends Error {}

export type DatasetFormat = 'folder' | 'voc' | 'ade20k';

export interface DatasetOptions {
  format: DatasetFormat;
  root: string;
  /** Evaluation crop (short side resized to it, centre crop), or 'native'. */
  size: number | 'native';
  limit?: number;
  /** VOC: the boundary label 255 is ignored (default) or mapped to background (the reference's choice). */
  vocBoundary?: 'ignore' | 'background';
  /** ADE20K: label 0 "other" is ignored and classes shift down by one (default), or kept as class 0 of 151. */
  adeOther?: 'ignore' | 'class0';
  /** split for VOC (ImageSets/Segmentation/<split>.txt) and ADE20K (training|validation). */
  split?: string;
}

export interface Dataset {
  classes: { names: string[]; palette?: Rgb[] };
  ignoreIndex: number;
  count: number;
  samples(): AsyncIterable<Sample>;
}

interface Entry {
  id: string;
  image: string;
  label: string;
}

export function openDataset(opts: DatasetOptions): Dataset {
  if (!existsSync(opts.root) || !statSync(opts.root).isDirectory()) throw new DatasetError(`dataset root '${opts.root}' is not a directory`);
  const resize: Resize | undefined = opts.size === 'native' ? undefined : { short: opts.size, crop: opts.size };
  let entries: Entry[];
  let classes: Dataset['classes'];
  let ignoreIndex = 255;
  let palette: Rgb[] | undefined;
  let mapLabel: ((v: number) => number) | undefined;
  switch (opts.format) {
    case 'folder': {
      const cj = join(opts.root, 'classes.json');
      classes = { names: [] };
      if (existsSync(cj)) {
        const meta = readClassesJson(cj);
        classes = { names: meta.names, palette: meta.palette };
        if (meta.ignoreIndex !== undefined) ignoreIndex = meta.ignoreIndex;
      }
      const imgDir = join(opts.root, 'images');
      const labDir = join(opts.root, 'labels');
      if (!existsSync(imgDir)) throw new DatasetError(`folder dataset '${opts.root}' has no images/ directory`);
      if (!existsSync(labDir)) throw new DatasetError(`folder dataset '${opts.root}' has no labels/ directory`);
      entries = readdirSync(imgDir)
        .filter((f) => /\.(png|jpe?g)$/i.test(f))
        .sort()
        .map((f) => {
          const stem = basename(f, extname(f));
          return { id: stem, image: join(imgDir, f), label: join(labDir, `${stem}.png`) };
        });
      break;
    }
    case 'voc': {
      const base = existsSync(join(opts.root, 'VOC2012'))
        ? join(opts.root, 'VOC2012')
        : existsSync(join(opts.root, 'VOCdevkit', 'VOC2012'))
          ? join(opts.root, 'VOCdevkit', 'VOC2012')
          : opts.root;
      const list = join(base, 'ImageSets', 'Segmentation', `${opts.split ?? 'val'}.txt`);
      if (!existsSync(list))
        throw new DatasetError(`VOC list '${list}' not found (expected VOCdevkit/VOC2012/ImageSets/Segmentation/${opts.split ?? 'val'}.txt)`);
      entries = readFileSync(list, 'utf8')
        .split(/\r?\n/)
        .map((l) => l.trim())
        .filter(Boolean)
        .map((id) => ({ id, image: join(base, 'JPEGImages', `${id}.jpg`), label: join(base, 'SegmentationClass', `${id}.png`) }));
      palette = vocPalette();
      classes = { names: VOC_CLASSES, palette: palette.slice(0, 21) };
      if (opts.vocBoundary === 'background') mapLabel = (v) => (v === 255 ? 0 : v);
      break;
    }
    case 'ade20k': {
      const base = existsSync(join(opts.root, 'ADEChallengeData2016')) ? join(opts.root, 'ADEChallengeData2016') : opts.root;
      const split = opts.split ?? 'validation';
      const imgDir = join(base, 'images', split);
      if (!existsSync(imgDir)) throw new DatasetError(`ADE20K images '${imgDir}' not found (expected ADEChallengeData2016/images/${split})`);
      entries = readdirSync(imgDir)
        .filter((f) => /\.jpe?g$/i.test(f))
        .sort()
        .map((f) => {
          const stem = basename(f, extname(f));
          return { id: stem, image: join(imgDir, f), label: join(base, 'annotations', split, `${stem}.png`) };
        });
      const keep = opts.adeOther === 'class0';
      classes = { names: keep ? ['other', ...ADE20K_CLASSES] : ADE20K_CLASSES };
      if (!keep) mapLabel = (v) => (v === 0 ? 255 : v - 1);
      break;
    }
  }
  if (opts.limit !== undefined) entries = entries.slice(0, opts.limit);
  if (entries.length === 0) throw new DatasetError(`dataset '${opts.root}' (${opts.format}) has no images`);
  const missing = entries.find((e) => !existsSync(e.label));
  if (missing) throw new DatasetError(`image '${missing.image}' has no label file '${missing.label}'`);
  const K = classes.names.length;
  return {
    classes,
    ignoreIndex,
    count: entries.length,
    async *samples() {
      for (const e of entries) {
        const img = await readRgb(e.image, resize);
        const lab = await readLabel(e.label, palette, resize);
        if (lab.width !== img.width || lab.height !== img.height)
          throw new DatasetError(`label '${e.label}' is ${lab.width}x${lab.height} but image '${e.image}' is ${img.width}x${img.height}`);
        const data = mapLabel ? lab.data.map(mapLabel) : lab.data;
        if (K > 0)
          for (let p = 0; p < data.length; p++)
            if (data[p] >= K && data[p] !== ignoreIndex)
              throw new DatasetError(
                `label '${e.label}' has class id ${data[p]} at pixel (${p % lab.width}, ${Math.floor(p / lab.width)}); the dataset has ${K} classes (ignore index ${ignoreIndex})`,
              );
        yield { id: e.id, image: img.data, label: data, width: img.width, height: img.height };
      }
    },
  };
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
  for await (const s of ds.samples()) for (const v of s.label) if (v < K) counts[v]++;
  const inv = counts.map((n) => (n > 0 ? 1 / n : 0));
  const sum = inv.reduce((a, b) => a + b, 0);
  return { counts, weights: inv.map((v) => (sum > 0 ? v / sum : 0)) };
}
