import { describe, expect, it } from 'vitest';
import { run } from './helpers.js';

describe('robustscope (dispatcher)', () => {
  it('--help and help list every command, exit 0', async () => {
    for (const argv of [['--help'], ['help'], ['-h']]) {
      const r = await run(...argv);
      expect(r.code).toBe(0);
      for (const c of ['inspect', 'grad', 'bench', 'demo']) expect(r.stdout).toMatch(new RegExp(`^  ${c} `, 'm'));
    }
  });

  it('no command: usage on stderr, exit 2', async () => {
    const r = await run();
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^usage: robustscope <command>/);
  });

  it('--version prints the package version', async () => {
    const r = await run('--version');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^robustscope \d+\.\d+\.\d+\n$/);
  });

  it('help <command> and <command> --help print that command’s options', async () => {
    const a = await run('help', 'grad');
    const b = await run('grad', '--help');
    expect(a.code).toBe(0);
    expect(b.code).toBe(0);
    expect(a.stdout).toBe(b.stdout);
    expect(a.stdout).toMatch(/--ignore-index/);
    for (const c of ['inspect', 'bench', 'demo']) expect((await run(c, '--help')).stdout).toMatch(new RegExp(`^usage: robustscope ${c}`));
  });

  it('an unknown command or flag is a usage error: one line, usage, exit 2, no stack', async () => {
    const a = await run('atack');
    expect(a.code).toBe(2);
    expect(a.stderr.split('\n')[0]).toBe("robustscope: unknown command 'atack'");
    const b = await run('grad', '--modle', 'm.onnx');
    expect(b.code).toBe(2);
    expect(b.stderr.split('\n')[0]).toBe("robustscope: unknown option '--modle'");
    expect(b.stderr).toMatch(/^usage: robustscope grad/m);
    expect(b.stderr).not.toMatch(/ at .*\.ts:\d+/);
    const c = await run('bench', '--model', 'm.onnx', '--reps', 'ten');
    expect(c.code).toBe(2);
    expect(c.stderr).toMatch(/--reps must be an integer, got 'ten'/);
    const d = await run('inspect');
    expect(d.code).toBe(2);
    expect(d.stderr).toMatch(/MODEL\.onnx is required/);
    const e = await run('grad', '--model', 'm.onnx');
    expect(e.code).toBe(2);
    expect(e.stderr).toMatch(/--input is required/);
    // Node's message for a dash-leading value spans two lines: folded into one.
    const g = await run('grad', '--ignore-index', '-100');
    expect(g.code).toBe(2);
    expect(g.stderr.split('\n')[0]).toMatch(/^robustscope: option '--ignore-index' argument is ambiguous.* use '--ignore-index=-XYZ'\.$/);
    const f = await run('inspect', 'a.onnx', 'b.onnx');
    expect(f.code).toBe(2);
    expect(f.stderr).toMatch(/unexpected argument 'b\.onnx'/);
  });

  it('demo --help explains what the demo does; a missing required option is a usage error', async () => {
    const r = await run('demo', '--help');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/SEA/);
    const a = await run('attack', '--data', 'd', '--eps', '1', '--out', 'o');
    expect(a.code).toBe(2);
    expect(a.stderr.split('\n')[0]).toBe('robustscope: --model is required');
  });
});
