// The attack command's view of a dataset: samples, class names/palette and the gallery writer.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type DatasetFormat, openDataset } from '../data/datasets.js';
import { defaultPalette, palettePng, type Rgb, rgbPng } from '../data/image.js';
import { galleryStem } from '../eval/aggregate.js';
import type { GalleryWriter, Sample } from '../eval/run.js';
import type { RunConfig } from '../eval/schema.js';

export interface EvalData {
  count: number;
  samples: () => AsyncIterable<Sample>;
  classes: { names: string[]; palette?: Rgb[] };
  gallery: GalleryWriter;
}

export async function openEvalData(cfg: RunConfig['data']): Promise<EvalData> {
  const ds = openDataset({ format: cfg.format as DatasetFormat, root: cfg.root, size: cfg.size, limit: cfg.limit });
  const palette = ds.classes.palette ?? defaultPalette(Math.max(ds.classes.names.length, 32));
  return { count: ds.count, samples: () => ds.samples(), classes: ds.classes, gallery: pngGallery(palette) };
}

/** Gallery PNGs: image, label and predictions in the dataset palette, perturbation amplified to [0,1]. */
export function pngGallery(palette: Rgb[]): GalleryWriter {
  const write = (dir: string, name: string, png: Buffer): string => {
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, name), png);
    return name;
  };
  return {
    async writeClean(dir, s, cleanPred) {
      const stem = galleryStem(s.id);
      return {
        image: write(dir, `${stem}.image.png`, await rgbPng(s.image, s.width, s.height)),
        label: write(dir, `${stem}.label.png`, await palettePng(Uint8Array.from(s.label), s.width, s.height, palette)),
        cleanPred: write(dir, `${stem}.pred.png`, await palettePng(cleanPred, s.width, s.height, palette)),
      };
    },
    async writeAdv(dir, s, tag, adv, epsAbs, advPred) {
      const stem = galleryStem(s.id);
      // 0.5 + delta / (2 eps): the full eps range maps onto [0, 1].
      const pert = Float32Array.from(adv, (v, i) => (epsAbs > 0 ? 0.5 + (v - s.image[i]) / (2 * epsAbs) : 0.5));
      return {
        adversarial: write(dir, `${stem}.${tag}.adv.png`, await rgbPng(adv, s.width, s.height)),
        perturbation: write(dir, `${stem}.${tag}.pert.png`, await rgbPng(pert, s.width, s.height)),
        advPred: write(dir, `${stem}.${tag}.advpred.png`, await palettePng(advPred, s.width, s.height, palette)),
      };
    },
  };
}
