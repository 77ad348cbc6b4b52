// Seeded parameter initialisers. Every parameter draws from its own generator, derived from the model
// seed and the parameter's name, so adding or reordering layers never changes the other weights.
//
//   conv weights      Kaiming normal, mode fan_out, gain sqrt(2) (relu): std = sqrt(2 / (out * kh * kw)),
//                     as torchvision's ResNet (fan_out ignores groups, as torch does)
//   linear weights    truncated normal, std 0.02, resampled outside +-2 std (ConvNeXt / timm style)
//   biases            zeros
//   norm scale/shift  ones / zeros; BatchNormalization running mean / var zeros / ones
import { Rng } from '../util/random.js';

export type Init = { kind: 'kaiming-fan-out' } | { kind: 'trunc-normal'; std: number } | { kind: 'constant'; value: number };

export const KAIMING: Init = { kind: 'kaiming-fan-out' };
export const LINEAR: Init = { kind: 'trunc-normal', std: 0.02 };
export const ZEROS: Init = { kind: 'constant', value: 0 };
export const ONES: Init = { kind: 'constant', value: 1 };

/** torch's fan_out of a weight [out, in/groups, ...kernel]: out * prod(kernel). */
export function fanOut(dims: readonly number[]): number {
  let f = dims[0];
  for (let k = 2; k < dims.length; k++) f *= dims[k];
  return f;
}

/** Values of the parameter `name` with shape `dims`, drawn from (seed, name). */
export function initValues(init: Init, dims: readonly number[], seed: number, name: string): Float32Array {
  const n = dims.reduce((a, b) => a * b, 1);
  const out = new Float32Array(n);
  if (init.kind === 'constant') return out.fill(init.value);
  const r = Rng.derive(seed, 'init', name);
  if (init.kind === 'kaiming-fan-out') {
    const std = Math.sqrt(2 / fanOut(dims));
    for (let i = 0; i < n; i++) out[i] = std * r.normal();
    return out;
  }
  for (let i = 0; i < n; i++) {
    let z = r.normal();
    while (Math.abs(z) > 2) z = r.normal();
    out[i] = init.std * z;
  }
  return out;
}
