// `robustscope data shapes`: the procedural shapes dataset (folder layout, or ImageFolder for classification).
import { generateShapes, type ShapesTask } from '../data/shapes.js';
import { type Command, flag, type Io, int, parse, required, str, UsageError } from './common.js';
import { Progress } from './progress.js';

const HELP = `usage: robustscope data shapes --out DIR [--n 200] [--size 128] [--seed 0] [--task segmentation|classification]

Writes a deterministic procedural dataset: textured, noisy backgrounds with several shape classes
(disc, square, triangle, ring, cross) whose colours come from one shared distribution, so a model
must use shape, not colour; a 1 px ignore band (255) on every boundary. Segmentation uses the
'folder' layout (images/, labels/, classes.json); classification the ImageFolder layout
(DIR/<class>/NNNNN.png), for pretraining robust backbones. The same seed gives identical bytes.

  --out DIR      output directory
  --n N          number of images (default 200)
  --size S       image side in pixels (default 128)
  --seed N       generator seed (default 0); use different seeds for train/val/test splits
  --task T       segmentation (default) | classification
  --quiet        no progress`;

export const dataCommand: Command = {
  name: 'data',
  summary: "datasets robustscope generates itself ('data shapes')",
  help: HELP,
  async run(argv: string[], io: Io): Promise<number> {
    const [sub, ...rest] = argv;
    if (sub === '--help' || sub === '-h' || sub === undefined) {
      io.stdout.write(`${HELP}\n`);
      return sub === undefined ? 2 : 0;
    }
    if (sub !== 'shapes') throw new UsageError(`unknown dataset '${sub}' (available: shapes)`);
    const p = parse(rest, {
      out: { type: 'string' },
      n: { type: 'string' },
      size: { type: 'string' },
      seed: { type: 'string' },
      task: { type: 'string' },
      quiet: { type: 'boolean' },
    });
    if (flag(p, 'help')) {
      io.stdout.write(`${HELP}\n`);
      return 0;
    }
    const task = str(p, 'task') ?? 'segmentation';
    if (task !== 'segmentation' && task !== 'classification') throw new UsageError(`--task must be segmentation or classification, got '${task}'`);
    const progress = new Progress(io.stderr as Io['stderr'] & { isTTY?: boolean }, flag(p, 'quiet') ? 'quiet' : 'auto', 2000);
    const out = required(p, 'out');
    const r = await generateShapes({
      out,
      n: int(p, 'n', 200, 1),
      size: int(p, 'size', 128, 8),
      seed: int(p, 'seed', 0),
      task: task as ShapesTask,
      onProgress: (done, total) => progress.update({ phase: 'shapes', done, total }, done === total),
    });
    progress.finish();
    io.stdout.write(
      `wrote ${r.n} ${r.size}x${r.size} images (${r.task}, seed ${r.seed}) to ${out}; images per class: ${r.names.map((n, k) => `${n} ${r.imagesPerClass[k]}`).join(', ')}\n`,
    );
    return 0;
  },
};
