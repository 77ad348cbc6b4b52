// The CLI dispatcher: `robustscope <command> [options]`. main() returns the exit code:
// 0 ok, 1 the run failed (bad file, unsupported model, ...), 2 wrong usage.
import { attackCommand } from './attack.js';
import { benchCommand } from './bench.js';
import { classWeightsCommand } from './class-weights.js';
import { CliError, type Command, type Io, processIo, UsageError, version } from './common.js';
import { dataCommand } from './data.js';
import { demoCommand } from './demo.js';
import { gradCommand } from './grad.js';
import { inspectCommand } from './inspect.js';
import { reportCommand } from './report.js';
import { semanticCommand } from './semantic.js';
import { trainCommand } from './train.js';

export const COMMANDS: Command[] = [
  demoCommand,
  attackCommand,
  semanticCommand,
  trainCommand,
  reportCommand,
  dataCommand,
  classWeightsCommand,
  inspectCommand,
  gradCommand,
  benchCommand,
];

function usage(): string {
  const w = Math.max(...COMMANDS.map((c) => c.name.length));
  return [
    'usage: robustscope <command> [options]',
    '',
    'commands:',
    ...COMMANDS.map((c) => `  ${c.name.padEnd(w)}  ${c.summary}`),
    `  ${'help'.padEnd(w)}  list commands, or 'help <command>' for one command's options`,
    '',
    "run 'robustscope <command> --help' for the options of a command; --version prints the version.",
  ].join('\n');
}

export async function main(argv: string[], io: Io = processIo): Promise<number> {
  const [name, ...rest] = argv;
  let cmd: Command | undefined;
  try {
    if (name === undefined) {
      io.stderr.write(`${usage()}\n`);
      return 2;
    }
    if (name === '--help' || name === '-h' || name === 'help') {
      if (name === 'help' && rest.length > 0) {
        const c = COMMANDS.find((k) => k.name === rest[0]);
        if (!c) throw new UsageError(`unknown command '${rest[0]}'`);
        io.stdout.write(`${c.help}\n`);
      } else io.stdout.write(`${usage()}\n`);
      return 0;
    }
    if (name === '--version' || name === '-V' || name === 'version') {
      io.stdout.write(`robustscope ${version()}\n`);
      return 0;
    }
    cmd = COMMANDS.find((k) => k.name === name);
    if (!cmd) throw new UsageError(name.startsWith('-') ? `unknown option '${name}' (options go after the command)` : `unknown command '${name}'`);
    return await cmd.run(rest, io);
  } catch (e) {
    return reportError(e, io, cmd);
  }
}

function reportError(e: unknown, io: Io, cmd: Command | undefined): number {
  io.stderr.write(`robustscope: ${oneLine(e instanceof Error ? e.message : String(e))}\n`);
  if (e instanceof UsageError) {
    const u = cmd ? cmd.help.split('\n\n')[0] : usage();
    io.stderr.write(`${u}\n`);
    if (cmd) io.stderr.write(`run 'robustscope ${cmd.name} --help' for details.\n`);
    return 2;
  }
  // Expected failures carry their own message; a stack only helps for bugs, and only on request.
  if (!(e instanceof CliError) && e instanceof Error && process.env.ROBUSTSCOPE_DEBUG) io.stderr.write(`${e.stack}\n`);
  return 1;
}

/** Multi-line messages (e.g. the unsupported-ops list) folded into one line. */
function oneLine(msg: string): string {
  const lines = msg
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '');
  return lines.length <= 1 ? (lines[0] ?? '') : `${lines[0]} ${lines.slice(1).join('; ')}`;
}
