// `robustscope report`: one self-contained HTML page from one or more results.json files. Plots are
// inline SVG rendered at build time, gallery PNGs are data URIs, the style is inline: the page needs
// no network and runs no script. Every string from a results file goes through esc().
import { mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import type { GalleryItem, Metrics, Results } from '../eval/schema.js';
import { embedPng } from './embed.js';
import { esc } from './escape.js';
import { fmtEps, fmtSeconds, pct } from './format.js';
import { curvesSvg, perClassSvg } from './plots.js';
import { ResultsFileError, validateResults } from './validate.js';
import { type ModelView, modelViews, worstOf } from './view.js';

export { ResultsFileError, validateResults } from './validate.js';

export interface ReportOptions {
  /** The directory of each results file (gallery paths are relative to it), in the same order. */
  resultsDirs: string[];
  title?: string;
}

export const REPORT_CSS = `
:root{--fg:#1f2328;--muted:#59636e;--line:#d0d7de;--soft:#f6f8fa;--accent:#0969da}
*{box-sizing:border-box}
body{margin:0;font:15px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,"Liberation Sans",Arial,sans-serif;color:var(--fg);background:#fff}
main{max-width:1180px;margin:0 auto;padding:24px 28px 48px}
h1{font-size:26px;margin:0 0 4px}h2{font-size:20px;margin:36px 0 10px;padding-bottom:4px;border-bottom:1px solid var(--line)}
h3{font-size:16px;margin:20px 0 8px}
.sub{color:var(--muted);margin:0 0 12px}
nav a{color:var(--accent);text-decoration:none;margin-right:14px;font-size:14px}
code{font:13px ui-monospace,SFMono-Regular,Menlo,Consolas,"Liberation Mono",monospace;background:var(--soft);padding:1px 4px;border-radius:4px;word-break:break-all}
.cards{display:grid;grid-template-columns:repeat(auto-fit,minmax(300px,1fr));gap:14px}
.card{border:1px solid var(--line);border-radius:8px;padding:12px 16px;background:#fff}
.card h3{margin:0 0 6px}
.headline{display:flex;flex-wrap:wrap;gap:8px 22px;margin:6px 0 2px}
.kpi{display:flex;flex-direction:column}.kpi b{font-size:22px;font-variant-numeric:tabular-nums}.kpi span{color:var(--muted);font-size:12px}
dl{display:grid;grid-template-columns:max-content 1fr;gap:2px 14px;margin:8px 0 0;font-size:14px}
dt{color:var(--muted)}dd{margin:0;min-width:0}
table{border-collapse:collapse;font-size:14px;font-variant-numeric:tabular-nums;margin:6px 0 14px}
th,td{padding:4px 10px;border-bottom:1px solid var(--line);text-align:right;white-space:nowrap}
th{background:var(--soft);font-weight:600}
td.l,th.l{text-align:left}
tr.worst td{font-weight:700;background:#fff8e6}
tr.clean td{background:#f0faf2}
tr.first td{border-top:2px solid #afb8c1}
td.eps{vertical-align:top;font-weight:600;background:#fff!important}
td.note{font-weight:400!important;color:var(--muted);font-size:12px;white-space:normal;text-align:left;max-width:300px}
figure{margin:0}
.plot{overflow-x:auto;margin:6px 0 4px}.plot svg{max-width:100%;height:auto}
figcaption,.caption{color:var(--muted);font-size:13px}
.heat td{min-width:64px}.heat td.na{color:#8c959f;background:#f6f8fa}
.tables{display:flex;flex-wrap:wrap;gap:8px 28px;align-items:flex-start}
.sw{display:inline-block;width:12px;height:12px;border-radius:3px;border:1px solid rgba(0,0,0,.25);vertical-align:-1px;margin-right:6px}
.legend{display:flex;flex-wrap:wrap;gap:4px 16px;font-size:13px;margin:4px 0 12px}
.g-row{border:1px solid var(--line);border-radius:8px;padding:8px 10px;margin:0 0 12px}
.g-cap{font-size:14px;margin-bottom:6px}.g-cap .acc{font-variant-numeric:tabular-nums}
.g-imgs{display:grid;grid-template-columns:repeat(6,minmax(0,1fr));gap:8px}
.g-imgs figure{margin:0;text-align:center}
.g-imgs img{width:100%;height:auto;display:block;border-radius:4px;background:var(--soft)}
.g-imgs img.map{image-rendering:pixelated}
.missing{aspect-ratio:1/1;display:flex;flex-direction:column;align-items:center;justify-content:center;border:2px dashed #cf222e;border-radius:4px;color:#cf222e;font-size:12px;padding:6px;background:#fff5f5;overflow:hidden;word-break:break-all}
footer{margin-top:40px;color:var(--muted);font-size:12px}
`;

const GALLERY_PANELS: { key: keyof GalleryItem['files']; title: string; map: boolean }[] = [
  { key: 'image', title: 'image', map: false },
  { key: 'adversarial', title: 'adversarial', map: false },
  { key: 'perturbation', title: 'perturbation (amplified)', map: false },
  { key: 'label', title: 'ground truth', map: true },
  { key: 'cleanPred', title: 'clean prediction', map: true },
  { key: 'advPred', title: 'adversarial prediction', map: true },
];

const epsOf = (m: ModelView, eps: number) => fmtEps(eps, m.results.config.attack.epsUnit);

function swatch(m: ModelView, ci: number): string {
  const rgb = m.results.classes.palette?.[ci];
  // Validated numbers only; rounded so nothing but digits reaches the style attribute.
  return rgb ? `<span class="sw" style="background:rgb(${rgb.map((v) => Math.round(Number(v)) || 0).join(',')})"></span>` : '';
}

function headline(m: ModelView): string {
  const r = m.results;
  const kpi = (value: string, label: string) => `<div class="kpi"><b>${esc(value)}</b><span>${esc(label)}</span></div>`;
  const parts = [kpi(pct(r.clean.meanImageAcc), 'clean accuracy'), kpi(pct(r.clean.mIoU), 'clean mIoU')];
  const withWorst = r.byEps.filter((e) => worstOf(e, m.attacks));
  for (const e of [withWorst[0], withWorst[withWorst.length - 1]].filter((e, i, a) => e && a.indexOf(e) === i)) {
    const w = worstOf(e, m.attacks);
    if (w) parts.push(kpi(`${pct(w.metrics.meanImageAcc)} / ${pct(w.metrics.mIoU)}`, `robust acc / mIoU at ε=${epsOf(m, e.eps)}`));
  }
  return `<div class="headline">${parts.join('')}</div>`;
}

function metadata(m: ModelView, resultsDir: string): string {
  const r = m.results;
  const { model, data, attack } = r.config;
  const row = (k: string, v: string) => `<dt>${esc(k)}</dt><dd>${v}</dd>`;
  const rows = [row('model', `<code>${esc(model.path)}</code>`), row('sha256', `<code title="${esc(model.sha256)}">${esc(model.sha256.slice(0, 12))}</code>`)];
  if (model.output !== undefined) rows.push(row('output', `<code>${esc(model.output)}</code>`));
  if (model.normalize) rows.push(row('normalisation', `mean ${esc(model.normalize.mean.join(', '))}; std ${esc(model.normalize.std.join(', '))}`));
  rows.push(
    row(
      'data',
      `${esc(data.format)} <code>${esc(data.root)}</code>, size ${esc(data.size)}${data.limit !== undefined ? `, limit ${esc(data.limit)}` : ''}, ignore index ${esc(data.ignoreIndex)}`,
    ),
    row('images', `${esc(r.images)} (${esc(m.classes.length)} classes)`),
    row(
      'attack',
      `${esc(attack.kind)}${attack.ensemble ? ` (ensemble ${esc(attack.ensemble)})` : ''}${attack.loss ? `, loss ${esc(attack.loss)}` : ''}: ${m.attacks.map((a) => `<code>${esc(a)}</code>`).join(' ')}`,
    ),
    row('threat', `${esc(attack.norm)}, ε ∈ {${attack.eps.map((e) => esc(epsOf(m, e))).join(', ')}}${attack.epsUnit === 'abs' ? ' (image scale)' : ''}`),
    row(
      'iterations',
      `${esc(attack.iters)}, batch ${esc(attack.batch)}, early stop ${attack.earlyStop ? 'on' : 'off'}, worst-case mIoU by ${esc(attack.miouSearch)}${attack.classWeights ? ', class weights given' : ''}`,
    ),
    row('seed', esc(attack.seed)),
    row('when', `${esc(r.createdAt)}, attack time ${esc(fmtSeconds(r.seconds))}`),
    row('robustscope', esc(r.robustscopeVersion)),
    row('results', `<code>${esc(resultsDir)}</code>`),
  );
  return `<div class="card"><h3>${esc(m.label)}</h3>${headline(m)}<dl>${rows.join('')}</dl></div>`;
}

function metricCells(x: Metrics): string {
  return [x.aAcc, x.mAcc, x.mIoU, x.meanImageAcc].map((v) => `<td>${pct(v)}</td>`).join('');
}

function metricsTable(m: ModelView): string {
  const r = m.results;
  const head =
    '<tr><th class="l">ε</th><th class="l">attack</th><th>aAcc</th><th>mAcc</th><th>mIoU</th><th>mean image acc</th><th>time</th><th class="l">notes</th></tr>';
  const body = [`<tr class="clean"><td class="l">0</td><td class="l">clean</td>${metricCells(r.clean)}<td></td><td class="note"></td></tr>`];
  for (const e of r.byEps) {
    // One group of rows per radius: the attacks, then the worst case in bold.
    const group: { cls: string; cells: string }[] = [];
    for (const a of m.attacks) {
      const x = e.attacks[a];
      if (x) group.push({ cls: '', cells: `<td class="l">${esc(a)}</td>${metricCells(x)}<td>${esc(fmtSeconds(x.seconds))}</td><td class="note"></td>` });
    }
    const w = worstOf(e, m.attacks);
    if (w && (e.worst || w.approximate)) {
      const total = Object.values(e.attacks).reduce((s, x) => s + x.seconds, 0);
      const note = e.worst
        ? `won ${m.attacks
            .filter((a) => e.attacks[a])
            .map((a) => esc(e.worst?.winnersAcc[a] ?? 0))
            .join(' · ')}; mIoU ${esc(e.worst.mIoUMethod)}`
        : 'lowest-accuracy attack (no per-image worst case in the file)';
      group.push({
        cls: 'worst',
        cells: `<td class="l">worst case</td>${metricCells(w.metrics)}<td title="sum over the attacks">${esc(fmtSeconds(total))}</td><td class="note">${note}</td>`,
      });
    }
    group.forEach((g, i) => {
      const cls = [g.cls, i === 0 ? 'first' : ''].filter(Boolean).join(' ');
      const eps = i === 0 ? `<td class="l eps" rowspan="${group.length}">${esc(epsOf(m, e.eps))}</td>` : '';
      body.push(`<tr${cls ? ` class="${cls}"` : ''}>${eps}${g.cells}</tr>`);
    });
  }
  return `<table class="metrics"><thead>${head}</thead><tbody>${body.join('')}</tbody></table>`;
}

function heatColour(v: number): string {
  // Red (0) through yellow to green (1): the hue carries the value, the number in the cell is exact.
  return `hsl(${Math.round(120 * Math.max(0, Math.min(1, v)))},70%,86%)`;
}

function heatTable(m: ModelView): string {
  const r = m.results;
  const cols: [string, (number | null)[]][] = [['clean', r.clean.perClassIoU]];
  for (const e of r.byEps) {
    const w = worstOf(e, m.attacks);
    if (w) cols.push([`ε=${epsOf(m, e.eps)}`, w.metrics.perClassIoU]);
  }
  const head = `<tr><th class="l">class</th>${cols.map(([h]) => `<th>${esc(h)}</th>`).join('')}</tr>`;
  const body = m.classes.map((name, ci) => {
    const cells = cols.map(([, iou]) => {
      const v = iou[ci];
      return typeof v === 'number' ? `<td style="background:${heatColour(v)}">${pct(v)}</td>` : '<td class="na" title="class absent">—</td>';
    });
    return `<tr><td class="l">${swatch(m, ci)}${esc(name)}</td>${cells.join('')}</tr>`;
  });
  return `<div><table class="heat"><caption class="caption">${esc(m.label)}: IoU per class, clean and worst case</caption><thead>${head}</thead><tbody>${body.join('')}</tbody></table></div>`;
}

async function galleryRow(m: ModelView, g: GalleryItem): Promise<string> {
  const figures = await Promise.all(
    GALLERY_PANELS.map(async ({ key, title, map }) => {
      const rel = g.files[key];
      const img = await embedPng(m.dir, rel);
      const body = img.ok
        ? `<img${map ? ' class="map"' : ''} src="${img.uri}" alt="${esc(`${title}: ${g.id}`)}">`
        : `<div class="missing" role="img" aria-label="${esc(`${title} missing`)}"><b>image unavailable</b><span>${esc(rel)}</span><span>(${esc(img.reason)})</span></div>`;
      return `<figure>${body}<figcaption>${esc(title)}</figcaption></figure>`;
    }),
  );
  const cap = `<code>${esc(g.id)}</code> · ε=${esc(epsOf(m, g.eps))} · ${esc(g.attack)} · <span class="acc">accuracy clean ${pct(g.cleanAcc)} → adversarial ${pct(g.advAcc)}</span>`;
  return `<div class="g-row"><div class="g-cap">${cap}</div><div class="g-imgs">${figures.join('')}</div></div>`;
}

async function gallery(m: ModelView, several: boolean): Promise<string> {
  const r = m.results;
  const head = several ? `<h3>${esc(m.label)}</h3>` : '';
  if (!r.gallery.length) return `${head}<p class="caption">No gallery images in this run (attack with --save-adv N to keep some).</p>`;
  const legend = r.classes.palette ? `<div class="legend">${m.classes.map((c, i) => `<span>${swatch(m, i)}${esc(c)}</span>`).join('')}</div>` : '';
  const rows: string[] = [];
  for (const g of r.gallery) rows.push(await galleryRow(m, g));
  return `${head}${legend}${rows.join('')}`;
}

/** The report page for the given results (already validated), one section each, plots overlaid. */
export async function renderReport(results: Results[], opts: ReportOptions): Promise<string> {
  if (results.length === 0) throw new Error('renderReport: no results given');
  if (opts.resultsDirs.length !== results.length) throw new Error(`renderReport: ${results.length} results but ${opts.resultsDirs.length} result directories`);
  const models = modelViews(results, opts.resultsDirs);
  const several = models.length > 1;
  const title = opts.title ?? (several ? `Robustness report: ${models.map((m) => m.label).join(' vs ')}` : `Robustness report: ${models[0].label}`);
  const [curves, perClass] = await Promise.all([curvesSvg(models), perClassSvg(models)]);
  const galleries: string[] = [];
  for (const m of models) galleries.push(await gallery(m, several));
  const versions = [...new Set(results.map((r) => r.robustscopeVersion))];
  const sections = [
    `<header><h1>${esc(title)}</h1><p class="sub">${several ? `${models.length} models` : 'One model'} under ${esc([...new Set(results.map((r) => r.config.attack.kind))].join(', '))} attack; accuracies are fractions of labelled pixels, the worst case is taken per image over the attacks.</p>`,
    '<nav><a href="#run">Run</a><a href="#curves">Curves</a><a href="#metrics">Metrics</a><a href="#per-class">Per class</a><a href="#gallery">Gallery</a></nav></header>',
    `<section id="run"><h2>Run</h2><div class="cards">${models.map((m) => metadata(m, m.dir)).join('')}</div></section>`,
    `<section id="curves"><h2>Accuracy and mIoU against the radius</h2><figure><div class="plot" data-plot="curves">${curves}</div><figcaption>${several ? 'One colour per model: bold solid line = its worst case, thin dashed lines = single attacks.' : 'One line per attack; bold black = worst case over the attacks.'} ε = 0 is the clean model.</figcaption></figure></section>`,
    `<section id="metrics"><h2>Clean and robust metrics</h2>${models.map((m) => `${several ? `<h3>${esc(m.label)}</h3>` : ''}${metricsTable(m)}`).join('')}<p class="caption">aAcc: all correct / all labelled pixels. mAcc: mean per-class accuracy. mean image acc: mean over images of per-image accuracy (SEA's robust accuracy for the worst case). Bold: worst case over the attacks per image; “won”: how many images each attack won (lowest accuracy), in the order of the rows above; “mIoU”: how the worst-case mIoU was found.</p></section>`,
    `<section id="per-class"><h2>Per-class IoU</h2><figure><div class="plot" data-plot="per-class">${perClass}</div><figcaption>Clean IoU of each class next to its worst-case IoU at each radius.</figcaption></figure><div class="tables">${models.map(heatTable).join('')}</div></section>`,
    `<section id="gallery"><h2>Gallery</h2>${galleries.join('')}</section>`,
    `<footer>Generated by robustscope ${esc(versions.join(', '))} from ${results.length} results file${several ? 's' : ''}. Self-contained: no scripts, no network.</footer>`,
  ];
  return reportPage(title, sections.join('\n'));
}

/** The shell of every robustscope HTML page: escaped title, the shared stylesheet, no scripts. */
export function reportPage(title: string, body: string): string {
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${esc(title)}</title>
<style>${REPORT_CSS}</style>
</head>
<body><main>
${body}
</main></body>
</html>
`;
}

/** Reads and validates one results.json (a results directory may be given for its results.json). */
export async function readResultsFile(path: string): Promise<Results> {
  let file = path;
  let text: string;
  try {
    if ((await stat(file)).isDirectory()) file = join(file, 'results.json');
    text = await readFile(file, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new ResultsFileError(file, '', code === 'ENOENT' ? 'no such file' : `cannot be read (${code ?? String(e)})`);
  }
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (e) {
    throw new ResultsFileError(file, '', `is not valid JSON (${(e as Error).message})`);
  }
  return validateResults(data, file);
}

/** Reads one or more results files (or results directories) and writes ONE self-contained HTML file. */
export async function writeReport(resultsPaths: string[], out: string): Promise<void> {
  if (resultsPaths.length === 0) throw new Error('report: give at least one results.json');
  const results: Results[] = [];
  const dirs: string[] = [];
  for (const p of resultsPaths) {
    results.push(await readResultsFile(p));
    // Kept as given (relative to the working directory): it is also what the report shows.
    dirs.push((await stat(p)).isDirectory() ? p : dirname(p));
  }
  const html = await renderReport(results, { resultsDirs: dirs });
  await mkdir(dirname(resolve(out)), { recursive: true });
  await writeFile(out, html);
}
