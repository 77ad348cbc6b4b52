// Finite-difference checks (test/harness/vjp.ts) of the VJP rules rewritten for speed by the engine
// benchmark work, at the points their new formulations depend on. Run:
//   npx vitest run --config bench/vitest.config.ts
import { describe, expect, it } from 'vitest';
import { checkVjp, type OpCase } from '../test/harness/vjp.js';

const TOL = 2e-3;

async function expectVjp(c: OpCase): Promise<void> {
  const r = await checkVjp(c);
  expect(r.scale).toBeGreaterThan(0);
  expect(r.maxErr).toBeLessThan(TOL);
}

/** Uniform in [lo, hi], avoiding +-0.05 around each kink. */
const avoiding =
  (lo: number, hi: number, kinks: number[]) =>
  (r: () => number): number => {
    for (;;) {
      const v = lo + (hi - lo) * r();
      if (kinks.every((k) => Math.abs(v - k) > 0.05)) return v;
    }
  };

describe('HardSigmoid: slope where 0 < y < 1, read off the forward output', () => {
  it('default alpha 0.2, beta 0.5: inputs on both flat parts and the slope (kinks at -2.5, 2.5)', async () => {
    await expectVjp({ op: 'HardSigmoid', inputs: [{ shape: [4, 40], gen: avoiding(-5, 5, [-2.5, 2.5]) }] });
  });
  it("torch's hardsigmoid (alpha 1/6, beta 0.5; kinks at -3, 3)", async () => {
    const alpha = { type: 'float' as const, value: 1 / 6 };
    await expectVjp({ op: 'HardSigmoid', attrs: { alpha, beta: { type: 'float', value: 0.5 } }, inputs: [{ shape: [3, 50], gen: avoiding(-6, 6, [-3, 3]) }] });
  });
  it('the gradient is exactly zero on the flat parts', async () => {
    // Probe: all inputs outside (-2.5, 2.5); FD is 0, so any leak fails the absolute floor of the harness.
    const r = await checkVjp({ op: 'HardSigmoid', inputs: [{ shape: [2, 20], gen: (u) => (u() < 0.5 ? -1 : 1) * (2.6 + 3 * u()) }] });
    expect(r.scale).toBe(0);
  });
});

describe('Erf: 2/sqrt(pi) exp(-x^2) as exp(ln(2/sqrt(pi)) - x^2)', () => {
  it('normal inputs', async () => {
    await expectVjp({ op: 'Erf', inputs: [{ shape: [3, 40] }] });
  });
  it('large |x| (tiny derivative, relative accuracy)', async () => {
    await expectVjp({ op: 'Erf', inputs: [{ shape: [2, 30], gen: avoiding(-3.5, 3.5, []) }] });
  });
});
