// GraphBuilder: a graph plus the static type and constant value of every tensor in it.
// Every node added through it is type-checked at once by its op's infer rule, so VJP rules,
// losses and upgrades can ask for the shape of anything they just emitted.
import { type Attrs, type Emitter, getOp, type OpCtx, OpError, type TypeInfo } from '../ops/registry.js';
import { type AttrValue, type DType, type Graph, type Node, nodeLabel, scalarI64, type Tensor, tensorFromNumbers } from './ir.js';

export function toAttrs(attrs: Attrs | undefined): Record<string, AttrValue> {
  const out: Record<string, AttrValue> = {};
  if (!attrs) return out;
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined) continue;
    if (typeof v === 'number') out[k] = { type: 'int', value: v };
    else if (typeof v === 'string') out[k] = { type: 'string', value: v };
    else if (Array.isArray(v)) out[k] = { type: 'ints', value: v };
    else out[k] = v;
  }
  return out;
}

export class GraphBuilder implements Emitter {
  readonly types = new Map<string, TypeInfo>();
  readonly constants: Map<string, Tensor>;
  /** Tensors the gradient must not flow through (like torch's .detach()). */
  readonly detached = new Set<string>();
  private counter = 0;
  private readonly used = new Set<string>();

  constructor(
    readonly graph: Graph,
    private readonly prefix = 'rs',
  ) {
    this.constants = graph.initializers;
    for (const i of graph.inputs) this.used.add(i.name);
    for (const n of graph.nodes) for (const o of n.outputs) this.used.add(o);
    for (const k of graph.initializers.keys()) this.used.add(k);
    for (const [k, t] of graph.initializers) this.types.set(k, { dtype: t.dtype, shape: t.dims });
  }

  fresh(hint: string): string {
    let name: string;
    do name = `${this.prefix}/${hint}_${this.counter++}`;
    while (this.used.has(name));
    this.used.add(name);
    return name;
  }

  reserve(name: string): void {
    this.used.add(name);
  }

  type(name: string): TypeInfo {
    const t = this.types.get(name);
    if (!t) throw new OpError(`internal: no type known for tensor '${name}'`);
    return t;
  }

  value(name: string): Tensor | undefined {
    return this.constants.get(name);
  }

  constant(t: Tensor, hint = 'const'): string {
    const name = this.fresh(hint);
    this.constants.set(name, t);
    this.types.set(name, { dtype: t.dtype, shape: t.dims });
    return name;
  }

  ints(values: number[]): string {
    return this.constant(scalarI64(values), 'ints');
  }

  scalar(value: number, dtype: DType = 'float32'): string {
    return this.constant(tensorFromNumbers(dtype, [], [value]), 'scalar');
  }

  emit(opType: string, inputs: string[], attrs?: Attrs): string {
    return this.emitN(opType, inputs, 1, attrs)[0];
  }

  emitN(opType: string, inputs: string[], nOutputs: number, attrs?: Attrs): string[] {
    const hint = opType.toLowerCase();
    const outputs = Array.from({ length: nOutputs }, () => this.fresh(hint));
    const node: Node = { name: outputs[0], opType, domain: '', inputs, outputs, attrs: toAttrs(attrs) };
    this.add(node);
    return outputs;
  }

  /** Appends a node and infers (or folds) its outputs. */
  add(node: Node): void {
    for (const o of node.outputs) this.used.add(o);
    const def = getOp(node.opType);
    if (!def) throw new OpError(`${nodeLabel(node)}: op type not supported`);
    const ctx = this.opCtx(node);
    const folded = def.fold && (def.foldsFromTypes || node.inputs.every((i) => i === '' || this.constants.has(i))) ? def.fold(ctx) : undefined;
    if (folded) {
      folded.forEach((t, k) => {
        if (node.outputs[k]) {
          this.constants.set(node.outputs[k], t);
          this.types.set(node.outputs[k], { dtype: t.dtype, shape: t.dims });
        }
      });
      return;
    }
    const types = def.infer(ctx);
    node.outputs.forEach((o, k) => {
      if (o !== '' && types[k]) this.types.set(o, types[k]);
    });
    this.graph.nodes.push(node);
  }

  /** Returns a copy of `name` that autodiff treats as a constant. */
  detach(name: string): string {
    const d = this.emit('Identity', [name]);
    this.detached.add(d);
    return d;
  }

  /** The Emitter methods bound to this builder, to spread into rule contexts. */
  emitter(): Emitter {
    return {
      emit: this.emit.bind(this),
      emitN: this.emitN.bind(this),
      constant: this.constant.bind(this),
      ints: this.ints.bind(this),
      scalar: this.scalar.bind(this),
      type: this.type.bind(this),
      value: this.value.bind(this),
    };
  }

  opCtx(node: Node): OpCtx {
    const fail = (msg: string): never => {
      throw new OpError(`${nodeLabel(node)}: ${msg}`);
    };
    return {
      node,
      nInputs: node.inputs.length,
      type: (i) => {
        const n = node.inputs[i];
        if (n === undefined || n === '') return undefined;
        const t = this.types.get(n);
        if (!t) fail(`input ${i} ('${n}') has no known type (is it produced later in the graph, or missing?)`);
        return t;
      },
      value: (i) => {
        const n = node.inputs[i];
        return n ? this.constants.get(n) : undefined;
      },
      fail,
    };
  }
}
