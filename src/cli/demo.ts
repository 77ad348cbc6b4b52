// PLACEHOLDER: `robustscope demo` is being written separately and will replace this file.
import { type Command, flag, type Io, parse } from './common.js';

const HELP = `usage: robustscope demo

(placeholder) Will download a small segmentation model and a few images, run a short SEA attack and
write an HTML report. Not implemented yet.`;

export const demoCommand: Command = {
  name: 'demo',
  summary: '(placeholder) end-to-end demo on a small model',
  help: HELP,
  async run(argv: string[], io: Io): Promise<number> {
    const p = parse(argv, {});
    if (flag(p, 'help')) {
      io.stdout.write(`${HELP}\n`);
      return 0;
    }
    io.stdout.write('robustscope demo: placeholder. The demo (small model, a few images, a short SEA attack, HTML report) is not implemented yet.\n');
    return 0;
  },
};
