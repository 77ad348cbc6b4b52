// What the report shows of one results file, derived once: a unique label, the attack order, class
// labels, and the worst case at each radius (also when the file has no explicit one).
import { basename } from 'node:path';
import type { EpsResult, Metrics, Results } from '../eval/schema.js';

export interface ModelView {
  /** Unique display label (model file name, disambiguated). */
  label: string;
  results: Results;
  /** Directory the gallery paths are relative to. */
  dir: string;
  attacks: string[];
  /** One unique label per class index. */
  classes: string[];
}

export interface Worst {
  metrics: Metrics;
  /** 'worst case' for an ensemble, the attack's name for a single attack. */
  label: string;
  /** True when the file had no per-image worst case and the lowest-accuracy attack stands in for it. */
  approximate: boolean;
}

/** Attack names in run order (ties go to the earlier attack), then any others found in byEps. */
export function attackOrder(r: Results): string[] {
  const seen = new Set<string>();
  const out: string[] = [];
  const add = (a: string) => {
    if (!seen.has(a)) {
      seen.add(a);
      out.push(a);
    }
  };
  r.config.attack.attacks.forEach(add);
  for (const e of r.byEps) Object.keys(e.attacks).forEach(add);
  return out;
}

/** Class labels for every index any metric mentions; missing or repeated names get made unique. */
export function classLabels(r: Results): string[] {
  let K = r.classes.names.length;
  const all: Metrics[] = [r.clean, ...r.byEps.flatMap((e) => [...Object.values(e.attacks), ...(e.worst ? [e.worst] : [])])];
  for (const m of all) K = Math.max(K, m.perClassIoU.length, m.perClassAcc.length);
  const used = new Set<string>();
  const out: string[] = [];
  for (let i = 0; i < K; i++) {
    let name = r.classes.names[i] ?? `class ${i}`;
    if (used.has(name)) name = `${name} #${i}`;
    used.add(name);
    out.push(name);
  }
  return out;
}

export function worstOf(e: EpsResult, attacks: string[]): Worst | undefined {
  if (e.worst) return { metrics: e.worst, label: 'worst case', approximate: false };
  const present = attacks.filter((a) => e.attacks[a]);
  if (present.length === 0) return undefined;
  if (present.length === 1) return { metrics: e.attacks[present[0]], label: present[0], approximate: false };
  const lowest = present.reduce((a, b) => (e.attacks[b].meanImageAcc < e.attacks[a].meanImageAcc ? b : a));
  return { metrics: e.attacks[lowest], label: 'worst case', approximate: true };
}

export function modelViews(results: Results[], dirs: string[]): ModelView[] {
  const base = results.map((r) => basename(r.config.model.path).replace(/\.onnx$/i, '') || r.config.model.path || 'model');
  return results.map((r, i) => {
    const clash = base.filter((b) => b === base[i]).length > 1;
    const dirName = basename(dirs[i]);
    let label = clash ? `${base[i]} (${dirName || i + 1})` : base[i];
    // Still equal (same model, same directory name): number them.
    if (clash && base.some((b, j) => j !== i && b === base[i] && basename(dirs[j]) === dirName)) label = `${base[i]} (${i + 1})`;
    return { label, results: r, dir: dirs[i], attacks: attackOrder(r), classes: classLabels(r) };
  });
}
