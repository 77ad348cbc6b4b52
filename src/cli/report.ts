// `robustscope report`: one self-contained HTML page from one or more results.json files.
import { writeReport } from '../report/html.js';
import { type Command, flag, type Io, parse, required, UsageError } from './common.js';

const HELP = `usage: robustscope report RESULTS.json|DIR [MORE.json ...] --out report.html

Writes ONE self-contained HTML file (no network at view time) from results alone: run metadata,
clean and robust accuracy / mIoU per radius and attack with the worst case, curves (several runs
overlaid), per-class IoU and the gallery of adversarial images.

  --out FILE     the HTML file to write
  -h, --help     this help`;

export const reportCommand: Command = {
  name: 'report',
  summary: 'HTML report (tables, curves, per-class IoU, gallery) from results.json files',
  help: HELP,
  async run(argv: string[], io: Io): Promise<number> {
    const p = parse(argv, { out: { type: 'string' } }, 64);
    if (flag(p, 'help')) {
      io.stdout.write(`${HELP}\n`);
      return 0;
    }
    const out = required(p, 'out');
    if (p.positionals.length === 0) throw new UsageError('give at least one results.json (or results directory)');
    await writeReport(p.positionals, out);
    io.stdout.write(`wrote ${out}\n`);
    return 0;
  },
};
