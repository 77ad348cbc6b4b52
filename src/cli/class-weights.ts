// `robustscope class-weights`: mask-ce-bal's per-class weights from a TRAINING split (sea.md).
import { writeFileSync } from 'node:fs';
import { classWeights, type DatasetFormat, openDataset } from '../data/datasets.js';
import { type Command, flag, type Io, int, parse, required, str, UsageError } from './common.js';

const HELP = `usage: robustscope class-weights --data DIR --out weights.json [--format folder|voc|ade20k] [--split NAME]

Counts the labelled pixels of every class over a training split and writes the weights of the
balanced masked cross-entropy (mask-ce-bal): w_s proportional to 1/N_s, normalised to sum 1
(classes without pixels get 0). Use the file with 'robustscope attack --class-weights'.

  --data DIR      dataset root (its TRAINING split: the weights must not come from the test set)
  --format F      folder (default) | voc | ade20k
  --split NAME    voc: ImageSets/Segmentation/NAME.txt (default train); ade20k: training
  --limit N       only the first N images
  --out FILE      where to write {"weights": [...], "counts": [...], "classes": [...]}`;

export const classWeightsCommand: Command = {
  name: 'class-weights',
  summary: 'per-class weights for the mask-ce-bal loss, from a training split',
  help: HELP,
  async run(argv: string[], io: Io): Promise<number> {
    const p = parse(argv, {
      data: { type: 'string' },
      format: { type: 'string' },
      split: { type: 'string' },
      limit: { type: 'string' },
      out: { type: 'string' },
    });
    if (flag(p, 'help')) {
      io.stdout.write(`${HELP}\n`);
      return 0;
    }
    const format = str(p, 'format') ?? 'folder';
    if (!['folder', 'voc', 'ade20k'].includes(format)) throw new UsageError(`--format must be folder, voc or ade20k, got '${format}'`);
    const split = str(p, 'split') ?? (format === 'voc' ? 'train' : format === 'ade20k' ? 'training' : undefined);
    const ds = openDataset({ format: format as DatasetFormat, root: required(p, 'data'), size: 'native', limit: int(p, 'limit', undefined, 1), split });
    const out = required(p, 'out');
    const { counts, weights } = await classWeights(ds);
    writeFileSync(out, `${JSON.stringify({ weights, counts, classes: ds.classes.names }, null, 1)}\n`);
    io.stdout.write(
      `${ds.classes.names.map((n, k) => `${n.padEnd(16)} ${String(counts[k]).padStart(10)} px  w=${weights[k].toFixed(5)}`).join('\n')}\nwrote ${out}\n`,
    );
    return 0;
  },
};
