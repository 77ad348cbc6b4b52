// Robust-backbone initialisation (PIR-AT): copy encoder weights from a classifier ONNX into a
// segmentation model by a name mapping such as 'enc.*=backbone.*' (target pattern = source pattern,
// '*' matches any suffix), and say exactly what matched and what did not.
import type { Model, Tensor } from '../onnx/ir.js';

export class TransferError extends Error {}

export interface TransferReport {
  /** target <- source, copied. */
  copied: { target: string; source: string; values: number }[];
  /** Target tensors matched by the pattern whose source tensor does not exist. */
  missing: { target: string; source: string }[];
  /** Both exist but the shapes differ (not copied). */
  shapeMismatch: { target: string; source: string; targetDims: number[]; sourceDims: number[] }[];
  /** Source tensors under the source pattern that no target tensor took. */
  unused: string[];
}

function parseMap(map: string): { tPrefix: string; sPrefix: string } {
  const m = /^([^=*]*)\*=([^=*]*)\*$/.exec(map.trim());
  if (!m) throw new TransferError(`--map must look like 'TARGET_PREFIX*=SOURCE_PREFIX*' (e.g. 'enc.*=backbone.*'), got '${map}'`);
  return { tPrefix: m[1], sPrefix: m[2] };
}

/** Returns a copy of `target` with the mapped initializers taken from `source`, and the report. */
export function transferWeights(target: Model, source: Model, map: string): { model: Model; report: TransferReport } {
  const { tPrefix, sPrefix } = parseMap(map);
  const inits = new Map(target.graph.initializers);
  const report: TransferReport = { copied: [], missing: [], shapeMismatch: [], unused: [] };
  const taken = new Set<string>();
  for (const [name, t] of target.graph.initializers) {
    if (!name.startsWith(tPrefix)) continue;
    const sName = sPrefix + name.slice(tPrefix.length);
    const s = source.graph.initializers.get(sName);
    if (!s) {
      report.missing.push({ target: name, source: sName });
      continue;
    }
    if (s.dtype !== t.dtype || s.dims.length !== t.dims.length || s.dims.some((d, i) => d !== t.dims[i])) {
      report.shapeMismatch.push({ target: name, source: sName, targetDims: [...t.dims], sourceDims: [...s.dims] });
      continue;
    }
    inits.set(name, { dtype: s.dtype, dims: [...s.dims], data: s.data.slice() } as Tensor);
    taken.add(sName);
    report.copied.push({ target: name, source: sName, values: s.data.length });
  }
  for (const name of source.graph.initializers.keys()) if (name.startsWith(sPrefix) && !taken.has(name)) report.unused.push(name);
  if (report.copied.length === 0)
    throw new TransferError(
      `--map '${map}' copied nothing: no initializer of the target starts with '${tPrefix}' and has a same-named '${sPrefix}...' tensor in the source`,
    );
  return { model: { ...target, graph: { ...target.graph, initializers: inits } }, report };
}

export function formatTransferReport(r: TransferReport): string {
  const n = r.copied.reduce((a, c) => a + c.values, 0);
  const lines = [`encoder init: copied ${r.copied.length} tensors (${n.toLocaleString('en-US')} values)`];
  if (r.missing.length) lines.push(`  not in the source (kept at init): ${r.missing.map((m) => `${m.target} <- ${m.source}`).join(', ')}`);
  if (r.shapeMismatch.length)
    lines.push(`  shape mismatch (kept at init): ${r.shapeMismatch.map((m) => `${m.target} [${m.targetDims}] vs ${m.source} [${m.sourceDims}]`).join(', ')}`);
  if (r.unused.length) lines.push(`  source tensors not used: ${r.unused.join(', ')}`);
  return lines.join('\n');
}
