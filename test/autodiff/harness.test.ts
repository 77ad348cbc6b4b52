// The finite-difference harness must be able to fail: break a rule on purpose and check it is caught.
import { describe, expect, it } from 'vitest';
import { getOp, type VjpRule } from '../../src/ops/registry.js';
import { checkVjp } from '../harness/vjp.js';

async function withRule<T>(op: string, rule: VjpRule, f: () => Promise<T>): Promise<T> {
  const def = getOp(op);
  if (!def) throw new Error(op);
  const saved = def.vjp;
  def.vjp = rule;
  try {
    return await f();
  } finally {
    def.vjp = saved;
  }
}

describe('VJP harness', () => {
  it('accepts the correct Exp rule', async () => {
    expect((await checkVjp({ op: 'Exp', inputs: [{ shape: [4, 3] }] })).maxErr).toBeLessThan(2e-3);
  });
  it('rejects a wrong Exp rule (gradient = g instead of g*exp(x)) in per-coordinate mode', async () => {
    const r = await withRule(
      'Exp',
      (c) => [c.gy(0)],
      () => checkVjp({ op: 'Exp', inputs: [{ shape: [4, 3] }] }),
    );
    expect(r.maxErr).toBeGreaterThan(0.1);
  });
  it('rejects a rule that is off by a factor 1.01 in random-direction mode (large inputs)', async () => {
    const r = await withRule(
      'Exp',
      (c) => [c.emit('Mul', [c.emit('Mul', [c.gy(0) as string, c.y(0)]), c.scalar(1.01)])],
      () => checkVjp({ op: 'Exp', inputs: [{ shape: [8, 64] }] }),
    );
    expect(r.maxErr).toBeGreaterThan(2e-3);
  });
});
