// Optimizers over named Float32Array parameters (TrainableModel.parameters(), updated in place), with
// PyTorch semantics and PyTorch's float32 operation order (single-tensor path of torch.optim 1.13; torch >= 2
// computes exp_avg with lerp_, an ulp apart at most), so a trajectory matches torch (fixture: bit-exact
// AdamW, SGD <= 1 ulp):
//
//   AdamW (torch.optim.AdamW): decoupled weight decay p <- p * (1 - lr*wd) BEFORE the Adam update;
//     m <- b1*m + (1-b1)*g;  v <- b2*v + (1-b2)*g^2;  t <- t+1 (per parameter)
//     p <- p - (lr / (1 - b1^t)) * m / (sqrt(v) / sqrt(1 - b2^t) + eps)      (eps added to sqrt(v_hat))
//   SGD (torch.optim.SGD, dampening 0 by default): weight decay COUPLED into the gradient as torch does,
//     d = g + wd*p;  buf <- d at the first step, else buf <- momentum*buf + (1-dampening)*d;
//     d <- nesterov ? d + momentum*buf : buf;  p <- p - lr*d.
//     With `decoupledWeightDecay: true` (SGDW) the decay is instead p <- p * (1 - lr*wd) before the step
//     and d = g.
//
// Weight decay: by default parameters whose role (params.ts) is 'norm' or 'bias' get none.
// Parameter groups: a group takes the parameters whose name matches a prefix or predicate (first group
// wins; the rest form the group 'default') and scales the optimizer's lr (e.g. encoder 0.1, decoder 1
// for a 1:10 ratio). The schedule sets `lr` before each step; a group's lr is lr * lrScale.
// Parameters without a gradient in a step are skipped and their step count does not advance (as in
// torch, where grad is None).
import { AdamWSimd } from './adamw-simd.js';
import type { ParamRole } from './params.js';

export class OptimizerError extends Error {}

/** What an optimizer needs from a model; TrainableModel satisfies it. */
export interface ParamSource {
  parameters(): Map<string, Float32Array>;
  parameterInfo(): readonly { name: string; role: ParamRole }[];
}

export interface ParamGroupSpec {
  name: string;
  /** Parameters whose name starts with one of these prefixes. */
  prefix?: string | readonly string[];
  /** Parameters for which this returns true (alternative or addition to `prefix`). */
  match?: (name: string, role: ParamRole) => boolean;
  /** Multiplier of the optimizer's lr for this group (default 1). */
  lrScale?: number;
  /** Weight decay of this group (default: the optimizer's). */
  weightDecay?: number;
  /** Roles without weight decay in this group (default: the optimizer's). */
  noDecayRoles?: readonly ParamRole[];
}

export interface OptimizerOptions {
  /** Learning rate (before group scaling); a schedule overwrites `optimizer.lr` each step. */
  lr: number;
  /** Weight decay (AdamW default 1e-2, SGD default 0, as in torch). */
  weightDecay?: number;
  /** Roles that get no weight decay (default ['norm', 'bias']; [] decays everything, as torch does). */
  noDecayRoles?: readonly ParamRole[];
  groups?: readonly ParamGroupSpec[];
}

export interface AdamWOptions extends OptimizerOptions {
  /** (beta1, beta2), default (0.9, 0.999). */
  betas?: readonly [number, number];
  /** Default 1e-8. */
  eps?: number;
}

export interface SgdOptions extends OptimizerOptions {
  /** Default 0 (torch); PIR-AT uses 0.9. */
  momentum?: number;
  /** Default 0. */
  dampening?: number;
  nesterov?: boolean;
  /** SGDW: p <- p*(1 - lr*wd) before the step instead of adding wd*p to the gradient (default false). */
  decoupledWeightDecay?: boolean;
}

export type OptimizerKind = 'adamw' | 'sgd';

export interface ParamStateEntry {
  name: string;
  /** Updates applied to this parameter (torch's per-parameter `step`). */
  step: number;
  /** AdamW: exp_avg, exp_avg_sq; SGD: momentum_buffer (absent before the first step, as in torch). */
  buffers: Record<string, Float32Array>;
}

/** Everything needed to resume exactly; see checkpoint-state.ts for its binary form. */
export interface OptimizerState {
  kind: OptimizerKind;
  /** step() calls so far. */
  steps: number;
  lr: number;
  /** Scalar hyperparameters; loadState checks they match (a resumed run with other settings is not a resume). */
  hyper: Record<string, number | boolean>;
  /** Per parameter: its group's lr scale and its effective weight decay (checked like `hyper`). */
  groups: { name: string; group: string; lrScale: number; weightDecay: number }[];
  params: ParamStateEntry[];
}

export interface GroupSummary {
  name: string;
  lrScale: number;
  /** Current lr of the group (lr * lrScale). */
  lr: number;
  params: { name: string; role: ParamRole; weightDecay: number }[];
}

interface Slot {
  name: string;
  param: Float32Array;
  role: ParamRole;
  group: string;
  lrScale: number;
  weightDecay: number;
  step: number;
  buffers: Record<string, Float32Array>;
}

const f32 = Math.fround;
const DEFAULT_NO_DECAY: readonly ParamRole[] = ['norm', 'bias'];

function checkNumber(what: string, v: number, min = 0): void {
  if (!Number.isFinite(v) || v < min) throw new OptimizerError(`${what} must be a finite number >= ${min}, got ${v}`);
}

function matches(g: ParamGroupSpec, name: string, role: ParamRole): boolean {
  const prefixes = g.prefix === undefined ? [] : typeof g.prefix === 'string' ? [g.prefix] : g.prefix;
  return prefixes.some((p) => name.startsWith(p)) || (g.match !== undefined && g.match(name, role));
}

export abstract class Optimizer {
  abstract readonly kind: OptimizerKind;
  /** Current base learning rate; set it from the schedule before each step. */
  lr: number;
  /** step() calls so far. */
  steps = 0;
  protected readonly slots: Slot[] = [];
  private readonly byName = new Map<string, Slot>();

  protected constructor(source: ParamSource, opts: OptimizerOptions, defaultWeightDecay: number) {
    checkNumber('lr', opts.lr);
    this.lr = opts.lr;
    const roles = new Map(source.parameterInfo().map((p) => [p.name, p.role] as const));
    const wd = opts.weightDecay ?? defaultWeightDecay;
    checkNumber('weightDecay', wd);
    const groups = opts.groups ?? [];
    const seen = new Set<string>();
    for (const g of groups) {
      if (g.name === 'default' || seen.has(g.name)) throw new OptimizerError(`parameter group name '${g.name}' is reserved or repeated`);
      seen.add(g.name);
      if (g.prefix === undefined && g.match === undefined) throw new OptimizerError(`parameter group '${g.name}' needs a prefix or a match predicate`);
      checkNumber(`lrScale of group '${g.name}'`, g.lrScale ?? 1);
      checkNumber(`weightDecay of group '${g.name}'`, g.weightDecay ?? 0);
    }
    for (const [name, param] of source.parameters()) {
      const role = roles.get(name);
      if (role === undefined) throw new OptimizerError(`parameter '${name}' has no entry in parameterInfo()`);
      const g = groups.find((spec) => matches(spec, name, role));
      const noDecay = g?.noDecayRoles ?? opts.noDecayRoles ?? DEFAULT_NO_DECAY;
      const slot: Slot = {
        name,
        param,
        role,
        group: g?.name ?? 'default',
        lrScale: g?.lrScale ?? 1,
        weightDecay: noDecay.includes(role) ? 0 : (g?.weightDecay ?? wd),
        step: 0,
        buffers: {},
      };
      this.slots.push(slot);
      this.byName.set(name, slot);
    }
  }

  /** One update of every parameter that has a gradient in `grads`, in place. */
  step(grads: Map<string, Float32Array>): void {
    for (const [name, g] of grads) {
      const s = this.byName.get(name);
      if (!s) throw new OptimizerError(`gradient for '${name}', which is not a parameter of this optimizer`);
      if (g.length !== s.param.length) throw new OptimizerError(`gradient of '${name}' has ${g.length} values, the parameter ${s.param.length}`);
    }
    checkNumber('lr', this.lr);
    for (const s of this.slots) {
      const g = grads.get(s.name);
      if (!g) continue;
      s.step++;
      this.update(s, g, this.lr * s.lrScale);
    }
    this.steps++;
  }

  protected abstract update(s: Slot, g: Float32Array, lr: number): void;
  protected abstract hyper(): Record<string, number | boolean>;

  /** Groups with their current lr and each parameter's effective weight decay. */
  groups(): GroupSummary[] {
    const out = new Map<string, GroupSummary>();
    for (const s of this.slots) {
      let g = out.get(s.group);
      if (!g) {
        g = { name: s.group, lrScale: s.lrScale, lr: this.lr * s.lrScale, params: [] };
        out.set(s.group, g);
      }
      g.params.push({ name: s.name, role: s.role, weightDecay: s.weightDecay });
    }
    return [...out.values()];
  }

  /** A snapshot (copies) of the optimizer state. */
  state(): OptimizerState {
    return {
      kind: this.kind,
      steps: this.steps,
      lr: this.lr,
      hyper: this.hyper(),
      groups: this.slots.map((s) => ({ name: s.name, group: s.group, lrScale: s.lrScale, weightDecay: s.weightDecay })),
      params: this.slots.map((s) => ({
        name: s.name,
        step: s.step,
        buffers: Object.fromEntries(Object.entries(s.buffers).map(([k, v]) => [k, Float32Array.from(v)])),
      })),
    };
  }

  /**
   * Restores a state() of an optimizer with the same kind, parameters and hyperparameters (checked,
   * so a resume cannot silently change the recipe). The parameter VALUES are the model's, restored
   * separately.
   */
  loadState(st: OptimizerState): void {
    if (st.kind !== this.kind) throw new OptimizerError(`optimizer state is for '${st.kind}', this optimizer is '${this.kind}'`);
    const hyper = this.hyper();
    for (const k of new Set([...Object.keys(hyper), ...Object.keys(st.hyper)]))
      if (hyper[k] !== st.hyper[k]) throw new OptimizerError(`optimizer state has ${k} = ${st.hyper[k]}, this optimizer ${hyper[k]}`);
    const names = new Set(this.slots.map((s) => s.name));
    const stNames = new Set(st.params.map((p) => p.name));
    for (const n of stNames) if (!names.has(n)) throw new OptimizerError(`optimizer state has parameter '${n}', which this optimizer does not`);
    for (const n of names) if (!stNames.has(n)) throw new OptimizerError(`optimizer state lacks parameter '${n}'`);
    for (const g of st.groups) {
      const s = this.byName.get(g.name);
      if (!s) throw new OptimizerError(`optimizer state has a group entry for unknown parameter '${g.name}'`);
      if (s.group !== g.group || s.lrScale !== g.lrScale || s.weightDecay !== g.weightDecay)
        throw new OptimizerError(
          `parameter '${g.name}': state has group '${g.group}' (lrScale ${g.lrScale}, weightDecay ${g.weightDecay}), ` +
            `this optimizer '${s.group}' (lrScale ${s.lrScale}, weightDecay ${s.weightDecay})`,
        );
    }
    const loaded = new Map<string, { step: number; buffers: Record<string, Float32Array> }>();
    for (const p of st.params) {
      const s = this.byName.get(p.name) as Slot;
      if (!Number.isInteger(p.step) || p.step < 0) throw new OptimizerError(`parameter '${p.name}': bad step ${p.step}`);
      const buffers: Record<string, Float32Array> = {};
      for (const [k, v] of Object.entries(p.buffers)) {
        if (!this.bufferNames().includes(k)) throw new OptimizerError(`parameter '${p.name}': unknown state buffer '${k}'`);
        if (v.length !== s.param.length)
          throw new OptimizerError(`parameter '${p.name}': buffer '${k}' has ${v.length} values, the parameter ${s.param.length}`);
        buffers[k] = Float32Array.from(v);
      }
      loaded.set(p.name, { step: p.step, buffers });
    }
    // Validated completely before anything changes.
    for (const s of this.slots) {
      const l = loaded.get(s.name) as { step: number; buffers: Record<string, Float32Array> };
      s.step = l.step;
      s.buffers = l.buffers;
    }
    this.steps = st.steps;
    this.lr = st.lr;
  }

  protected abstract bufferNames(): string[];
}

export class AdamW extends Optimizer {
  readonly kind = 'adamw';
  readonly beta1: number;
  readonly beta2: number;
  readonly eps: number;

  constructor(source: ParamSource, opts: AdamWOptions) {
    super(source, opts, 1e-2);
    [this.beta1, this.beta2] = opts.betas ?? [0.9, 0.999];
    this.eps = opts.eps ?? 1e-8;
    for (const [k, v] of [
      ['beta1', this.beta1],
      ['beta2', this.beta2],
    ] as const)
      if (!(v >= 0 && v < 1)) throw new OptimizerError(`AdamW ${k} must be in [0, 1), got ${v}`);
    checkNumber('eps', this.eps);
    this.simd = AdamWSimd.create(this.slots.map((sl) => sl.param.length));
  }

  /** The WebAssembly SIMD kernel (bit-identical to the JS loop; undefined where unavailable). */
  private readonly simd: AdamWSimd | undefined;
  private readonly views = new Map<string, [Float32Array, Float32Array]>();
  /** Set false to run the reference JS loop (tests compare the two). */
  useSimd = true;

  /** Which implementation updates: the WebAssembly SIMD kernel or the JavaScript loop. */
  get kernel(): 'wasm-simd' | 'js' {
    return this.simd && this.useSimd ? 'wasm-simd' : 'js';
  }

  protected hyper(): Record<string, number | boolean> {
    return { beta1: this.beta1, beta2: this.beta2, eps: this.eps };
  }

  /** The slot's moment buffers as views into the SIMD kernel's memory (moving loaded state there once). */
  private simdMoments(s: Slot): [Float32Array, Float32Array] {
    const simd = this.simd as AdamWSimd;
    let views = this.views.get(s.name);
    if (!views) {
      views = simd.allocate(s.param.length);
      this.views.set(s.name, views);
    }
    const [m, v] = views;
    for (const [k, view] of [
      ['exp_avg', m],
      ['exp_avg_sq', v],
    ] as const) {
      const cur = s.buffers[k];
      if (cur === view) continue;
      if (cur) view.set(cur);
      else view.fill(0);
      s.buffers[k] = view;
    }
    return views;
  }

  protected bufferNames(): string[] {
    return ['exp_avg', 'exp_avg_sq'];
  }

  protected update(s: Slot, g: Float32Array, lr: number): void {
    const p = s.param;
    const n = p.length;
    const b1 = f32(this.beta1);
    const b2 = f32(this.beta2);
    const a1 = f32(1 - this.beta1);
    const a2 = f32(1 - this.beta2);
    const decay = f32(1 - lr * s.weightDecay);
    const bc1 = 1 - this.beta1 ** s.step;
    const bc2sqrt = f32(Math.sqrt(1 - this.beta2 ** s.step));
    const negStep = f32(-(lr / bc1));
    const eps = f32(this.eps);
    const decayed = s.weightDecay !== 0 && lr !== 0;
    if (this.simd && this.useSimd) {
      const [m, v] = this.simdMoments(s);
      this.simd.update(p, g, m, v, { b1, a1, b2, a2, decay: decayed ? decay : 1, bc2sqrt, negStep, eps });
      return;
    }
    s.buffers.exp_avg ??= new Float32Array(n);
    s.buffers.exp_avg_sq ??= new Float32Array(n);
    const m = s.buffers.exp_avg;
    const v = s.buffers.exp_avg_sq;
    // Each f32() is one rounding of a torch float32 tensor op, in torch's order.
    for (let i = 0; i < n; i++) {
      const gi = g[i];
      const pi = decayed ? f32(p[i] * decay) : p[i];
      const mi = f32(f32(m[i] * b1) + f32(gi * a1));
      const vi = f32(f32(v[i] * b2) + f32(f32(a2 * gi) * gi));
      const denom = f32(f32(f32(Math.sqrt(vi)) / bc2sqrt) + eps);
      m[i] = mi;
      v[i] = vi;
      p[i] = f32(pi + f32(f32(negStep * mi) / denom));
    }
  }
}

export class SGD extends Optimizer {
  readonly kind = 'sgd';
  readonly momentum: number;
  readonly dampening: number;
  readonly nesterov: boolean;
  readonly decoupledWeightDecay: boolean;

  constructor(source: ParamSource, opts: SgdOptions) {
    super(source, opts, 0);
    this.momentum = opts.momentum ?? 0;
    this.dampening = opts.dampening ?? 0;
    this.nesterov = opts.nesterov ?? false;
    this.decoupledWeightDecay = opts.decoupledWeightDecay ?? false;
    checkNumber('momentum', this.momentum);
    checkNumber('dampening', this.dampening);
    if (this.nesterov && (this.momentum <= 0 || this.dampening !== 0))
      throw new OptimizerError('Nesterov momentum requires momentum > 0 and dampening 0 (as in torch)');
  }

  protected hyper(): Record<string, number | boolean> {
    return { momentum: this.momentum, dampening: this.dampening, nesterov: this.nesterov, decoupledWeightDecay: this.decoupledWeightDecay };
  }

  protected bufferNames(): string[] {
    return ['momentum_buffer'];
  }

  protected update(s: Slot, g: Float32Array, lr: number): void {
    const p = s.param;
    const n = p.length;
    const wd = f32(s.weightDecay);
    const coupled = s.weightDecay !== 0 && !this.decoupledWeightDecay;
    const decay = this.decoupledWeightDecay && s.weightDecay !== 0 ? f32(1 - lr * s.weightDecay) : 1;
    const mom = f32(this.momentum);
    const keep = f32(1 - this.dampening);
    const negLr = f32(-lr);
    let buf = s.buffers.momentum_buffer;
    const first = buf === undefined;
    if (this.momentum !== 0 && !buf) {
      buf = new Float32Array(n);
      s.buffers.momentum_buffer = buf;
    }
    for (let i = 0; i < n; i++) {
      const pi = decay !== 1 ? f32(p[i] * decay) : p[i];
      let d = coupled ? f32(g[i] + f32(wd * pi)) : g[i];
      if (buf) {
        // torch: the buffer starts as a copy of d (no dampening on the first step).
        const b = first ? d : f32(f32(buf[i] * mom) + f32(keep * d));
        buf[i] = b;
        d = this.nesterov ? f32(d + f32(mom * b)) : b;
      }
      p[i] = f32(pi + f32(negLr * d));
    }
  }
}
