import { describe, expect, it } from 'vitest';
import { awayFromZero, checkVjp, positive } from '../harness/vjp.js';

const TOL = 2e-3;
describe('elementwise VJPs vs finite differences', () => {
  it('Add with broadcasting reduces the gradient of the broadcast operand', async () => {
    const r = await checkVjp({ op: 'Add', inputs: [{ shape: [2, 3, 4] }, { shape: [3, 1] }] });
    expect(r.maxErr).toBeLessThan(TOL);
  });
  it('Mul with broadcasting', async () => {
    const r = await checkVjp({ op: 'Mul', inputs: [{ shape: [2, 3, 4] }, { shape: [4] }] });
    expect(r.maxErr).toBeLessThan(TOL);
  });
  it('Relu away from the kink', async () => {
    const r = await checkVjp({ op: 'Relu', inputs: [{ shape: [3, 5], gen: awayFromZero }] });
    expect(r.maxErr).toBeLessThan(TOL);
  });
  it('Sqrt on positive inputs', async () => {
    const r = await checkVjp({ op: 'Sqrt', inputs: [{ shape: [3, 5], gen: positive }] });
    expect(r.maxErr).toBeLessThan(TOL);
  });
  it('ReduceMean over axes given as an attribute at opset 13 (upgrade to input form)', async () => {
    const r = await checkVjp({ op: 'ReduceMean', opset: 13, attrs: { axes: [1], keepdims: 0 }, inputs: [{ shape: [2, 3, 4] }] });
    expect(r.maxErr).toBeLessThan(TOL);
  });
  it('ReduceSumSquare over two axes, keepdims 0 and 1, and with the opset-13 axes attribute', async () => {
    for (const keepdims of [0, 1]) {
      const r = await checkVjp({ op: 'ReduceSumSquare', attrs: { keepdims }, inputs: [{ shape: [2, 3, 4] }, { shape: [2], values: [0, 2], dtype: 'int64' }] });
      expect(r.maxErr).toBeLessThan(TOL);
    }
    const r = await checkVjp({ op: 'ReduceSumSquare', opset: 13, attrs: { axes: [1], keepdims: 0 }, inputs: [{ shape: [2, 3, 4] }] });
    expect(r.maxErr).toBeLessThan(TOL);
  });
});
