// The semantic-robustness report (semantic.json -> one self-contained HTML page, or a section of one):
// each 2D map as a heatmap (colour 0..max f, spec "Semantic maps") with the robust regions drawn as
// rectangles, 1D maps as a line with the regions as bands, a table of the regions and SRVR per method.
// The plots are hand-written SVG (a 120x34 map is 4080 cells; vega would add nothing but weight), so
// every region is exactly one <rect class="region">. No script, no network; every string from the file
// goes through esc() and every number through fmt() before it reaches the page.
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import type { SemanticMapRecord, SemanticRegionRecord, SemanticRegions, SemanticResults } from '../semantic/results.js';
import { esc } from './escape.js';
import { fmtSeconds } from './format.js';
import { reportPage } from './html.js';

/** Outline colours (and dashes) of the regions per method: light on the dark end of the colour map too. */
export const METHOD_STYLE: Record<string, { colour: string; dash: string }> = {
  naive: { colour: '#ffffff', dash: '' },
  oir_b: { colour: '#ff3b30', dash: '6 3' },
  oir_w: { colour: '#00d5ff', dash: '2 2' },
  trap: { colour: '#ff9f1c', dash: '8 3 2 3' },
};
const OTHER_STYLE = { colour: '#ff00ff', dash: '' };
const styleOf = (m: string) => METHOD_STYLE[m] ?? OTHER_STYLE;

// Viridis at 9 stops, linearly interpolated: perceptually ordered, readable in grey.
const VIRIDIS: [number, number, number][] = [
  [68, 1, 84],
  [71, 44, 122],
  [59, 81, 139],
  [44, 113, 142],
  [33, 144, 141],
  [39, 173, 129],
  [92, 200, 99],
  [170, 220, 50],
  [253, 231, 37],
];

export function colourOf(t: number): string {
  const x = Math.max(0, Math.min(1, Number.isFinite(t) ? t : 0)) * (VIRIDIS.length - 1);
  const i = Math.min(VIRIDIS.length - 2, Math.floor(x));
  const f = x - i;
  const c = VIRIDIS[i].map((v, k) => Math.round(v + f * (VIRIDIS[i + 1][k] - v)));
  return `#${c.map((v) => v.toString(16).padStart(2, '0')).join('')}`;
}

/** A number for display: 4 significant digits, no float noise. */
export function fmt(x: number | null | undefined, digits = 4): string {
  if (typeof x !== 'number' || !Number.isFinite(x)) return '—';
  return String(Number(x.toPrecision(digits)));
}
/** Coordinates inside the SVG: 2 decimals. */
const c2 = (x: number) => String(Math.round(x * 100) / 100);
const pct = (x: number) => (Number.isFinite(x) ? `${(100 * x).toFixed(2)}%` : '—');

/** Cell edges of an axis: midpoints between values, the ends mirrored (a single value spans ±0.5). */
function edges(values: readonly number[]): number[] {
  const n = values.length;
  if (n === 1) return [values[0] - 0.5, values[0] + 0.5];
  const e = [values[0] - (values[1] - values[0]) / 2];
  for (let i = 1; i < n; i++) e.push((values[i - 1] + values[i]) / 2);
  e.push(values[n - 1] + (values[n - 1] - values[n - 2]) / 2);
  return e;
}

function ticks(values: readonly number[], want = 7): number[] {
  const step = Math.max(1, Math.ceil(values.length / want));
  return values.filter((_, i) => i % step === 0);
}

const axisTitle = (d: { name: string; unit: string }) => `${d.name}${d.unit ? ` (${d.unit})` : ''}`;

function regionTitle(r: SemanticRegionRecord, axes: readonly string[]): string {
  const iv = axes.map((a, i) => `${a} [${fmt(r.a[i])}, ${fmt(r.b[i])}]`).join(', ');
  return `${r.method} from (${r.start.map((v) => fmt(v)).join(', ')}): ${iv}; ${pct(r.volumeRatio)} of the domain`;
}

interface Frame {
  left: number;
  top: number;
  w: number;
  h: number;
}

function colourBar(f: Frame, max: number, id: string): string {
  const x = f.left + f.w + 18;
  const stops = VIRIDIS.map((_, i) => `<stop offset="${c2(i / (VIRIDIS.length - 1))}" stop-color="${colourOf(i / (VIRIDIS.length - 1))}"/>`).join('');
  return [
    `<defs><linearGradient id="${id}-bar" x1="0" y1="1" x2="0" y2="0">${stops}</linearGradient></defs>`,
    `<rect x="${c2(x)}" y="${f.top}" width="12" height="${f.h}" fill="url(#${id}-bar)" stroke="#8c959f" stroke-width="0.5"/>`,
    `<text x="${c2(x + 16)}" y="${f.top + 4}" font-size="11" dominant-baseline="hanging">${esc(fmt(max, 3))}</text>`,
    `<text x="${c2(x + 16)}" y="${f.top + f.h}" font-size="11">0</text>`,
    `<text x="${c2(x + 6)}" y="${f.top + f.h + 16}" font-size="11" text-anchor="middle">f</text>`,
  ].join('');
}

/**
 * SVG of one map: 2D heatmap (first axis horizontal, second vertical, upwards) or 1D line, with the
 * regions whose axes match the map's drawn on it (clipped to the plot: unclipped quirks regions may
 * extend past the domain). Maps with more than two axes are not drawn (returns '').
 */
export function semanticMapSvg(map: SemanticMapRecord, regions: SemanticRegions | undefined, id: string): string {
  const nd = map.dims.length;
  if (nd < 1 || nd > 2) return '';
  const scores = map.scores.map((s) => (s === null ? Number.NaN : s));
  const finite = scores.filter(Number.isFinite);
  const max = finite.length ? Math.max(...finite) : 0;
  const f: Frame = { left: 52, top: 12, w: 720, h: nd === 2 ? 320 : 240 };
  const W = f.left + f.w + (nd === 2 ? 80 : 20);
  const H = f.top + f.h + 46;
  const dx = map.dims[0];
  const ex = edges(dx.values);
  const sx = (u: number) => f.left + ((u - ex[0]) / (ex[ex.length - 1] - ex[0])) * f.w;
  const parts: string[] = [];
  let sy: (u: number) => number;
  let yAxis: number[];
  let yLabel: string;
  if (nd === 2) {
    const dy = map.dims[1];
    const ey = edges(dy.values);
    sy = (u: number) => f.top + ((ey[ey.length - 1] - u) / (ey[ey.length - 1] - ey[0])) * f.h;
    yAxis = ticks(dy.values);
    yLabel = axisTitle(dy);
    const ny = dy.values.length;
    // Scores are row-major with the last axis (y) fastest.
    for (let i = 0; i < dx.values.length; i++)
      for (let j = 0; j < ny; j++) {
        const v = scores[i * ny + j];
        const x0 = sx(ex[i]);
        const y0 = sy(ey[j + 1]);
        // Cells overlap by a hair so no background seams show between them.
        parts.push(
          `<rect x="${c2(x0)}" y="${c2(y0)}" width="${c2(sx(ex[i + 1]) - x0 + 0.3)}" height="${c2(sy(ey[j]) - y0 + 0.3)}" fill="${Number.isFinite(v) ? colourOf(max > 0 ? v / max : 0) : '#d0d7de'}"/>`,
        );
      }
  } else {
    const top = max > 0 ? max : 1;
    sy = (v: number) => f.top + (1 - v / top) * f.h;
    yAxis = [0, top / 2, top];
    yLabel = 'f';
    const pts = dx.values.map((u, i) => (Number.isFinite(scores[i]) ? `${c2(sx(u))},${c2(sy(scores[i]))}` : '')).filter(Boolean);
    parts.push(`<polyline points="${pts.join(' ')}" fill="none" stroke="#0969da" stroke-width="1.5"/>`);
  }
  // Regions: the map's axes looked up among the region axes by name.
  const drawn: string[] = [];
  if (regions) {
    const ix = regions.axes.indexOf(dx.name);
    const iy = nd === 2 ? regions.axes.indexOf(map.dims[1].name) : -1;
    if (ix >= 0 && (nd === 1 || iy >= 0))
      for (const r of regions.items) {
        // Image runs: a region belongs to one image's map only.
        if (r.subject !== undefined && r.subject !== map.subject) continue;
        const st = styleOf(r.method);
        const x0 = sx(Math.min(r.a[ix], r.b[ix]));
        const x1 = sx(Math.max(r.a[ix], r.b[ix]));
        let y0 = f.top;
        let y1 = f.top + f.h;
        if (nd === 2) {
          y0 = sy(Math.max(r.a[iy], r.b[iy]));
          y1 = sy(Math.min(r.a[iy], r.b[iy]));
        }
        const fill = nd === 2 ? 'none' : st.colour === '#ffffff' ? '#57606a' : st.colour;
        drawn.push(
          `<rect class="region" data-method="${esc(r.method)}" x="${c2(x0)}" y="${c2(y0)}" width="${c2(Math.max(0.5, x1 - x0))}" height="${c2(Math.max(0.5, y1 - y0))}" fill="${fill}" fill-opacity="${nd === 2 ? 0 : 0.18}" stroke="${nd === 2 ? st.colour : fill}" stroke-width="2"${st.dash ? ` stroke-dasharray="${st.dash}"` : ''}><title>${esc(regionTitle(r, regions.axes))}</title></rect>`,
        );
        if (nd === 2)
          drawn.push(`<circle cx="${c2(sx(r.start[ix]))}" cy="${c2(sy(r.start[iy]))}" r="2.5" fill="${st.colour}" stroke="#000" stroke-width="0.5"/>`);
      }
  }
  const axes: string[] = [`<rect x="${f.left}" y="${f.top}" width="${f.w}" height="${f.h}" fill="none" stroke="#8c959f" stroke-width="0.8"/>`];
  for (const t of ticks(dx.values)) {
    const x = sx(t);
    axes.push(
      `<line x1="${c2(x)}" y1="${f.top + f.h}" x2="${c2(x)}" y2="${f.top + f.h + 4}" stroke="#57606a"/><text x="${c2(x)}" y="${f.top + f.h + 16}" font-size="11" text-anchor="middle">${esc(fmt(t))}</text>`,
    );
  }
  for (const t of yAxis) {
    const y = sy(t);
    axes.push(
      `<line x1="${f.left - 4}" y1="${c2(y)}" x2="${f.left}" y2="${c2(y)}" stroke="#57606a"/><text x="${f.left - 6}" y="${c2(y + 4)}" font-size="11" text-anchor="end">${esc(fmt(t, 3))}</text>`,
    );
  }
  axes.push(`<text x="${f.left + f.w / 2}" y="${f.top + f.h + 34}" font-size="12" font-weight="600" text-anchor="middle">${esc(axisTitle(dx))}</text>`);
  axes.push(`<text transform="translate(14 ${f.top + f.h / 2}) rotate(-90)" font-size="12" font-weight="600" text-anchor="middle">${esc(yLabel)}</text>`);
  const clip = `<defs><clipPath id="${id}-clip"><rect x="${f.left}" y="${f.top}" width="${f.w}" height="${f.h}"/></clipPath></defs>`;
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="system-ui, sans-serif" role="img" aria-label="${esc(`semantic map of ${map.subject}`)}">`,
    clip,
    `<g class="cells" shape-rendering="crispEdges">${parts.join('')}</g>`,
    `<g class="regions" clip-path="url(#${id}-clip)">${drawn.join('')}</g>`,
    axes.join(''),
    nd === 2 ? colourBar(f, max, id) : '',
    '</svg>',
  ].join('');
}

function mapStats(m: SemanticMapRecord): { min: number; mean: number; max: number } {
  const v = m.scores.filter((s): s is number => s !== null);
  if (!v.length) return { min: Number.NaN, mean: Number.NaN, max: Number.NaN };
  return { min: Math.min(...v), mean: v.reduce((a, b) => a + b, 0) / v.length, max: Math.max(...v) };
}

function legend(regions: SemanticRegions): string {
  const methods = [...new Set(regions.items.map((r) => r.method))];
  return `<div class="legend">${methods
    .map((m) => {
      const st = styleOf(m);
      return `<span><svg width="26" height="12" aria-hidden="true"><rect x="1" y="1" width="24" height="10" fill="#3b518b" stroke="${st.colour}" stroke-width="2"${st.dash ? ` stroke-dasharray="${st.dash}"` : ''}/></svg> ${esc(m)}</span>`;
    })
    .join('')}</div>`;
}

function regionsTables(r: SemanticResults): string {
  const g = r.regions;
  if (!g) return '';
  const bySubject = g.items.some((it) => it.subject !== undefined);
  const subjectCell = (it: SemanticRegionRecord) => (bySubject ? `<td class="l">${esc(it.subject ?? '')}</td>` : '');
  const head = `<tr>${bySubject ? '<th class="l">image</th>' : ''}<th class="l">method</th><th class="l">start (${esc(g.axes.join(', '))})</th>${g.axes.map((a) => `<th>${esc(a)} from</th><th>${esc(a)} to</th>`).join('')}<th>volume ratio</th><th>iterations</th><th>evaluations</th><th>time</th><th class="l">trace</th></tr>`;
  const rows = g.items.map(
    (it) =>
      `<tr>${subjectCell(it)}<td class="l">${esc(it.method)}</td><td class="l">(${esc(it.start.map((v) => fmt(v)).join(', '))})</td>${g.axes.map((_, i) => `<td>${esc(fmt(it.a[i]))}</td><td>${esc(fmt(it.b[i]))}</td>`).join('')}<td>${esc(pct(it.volumeRatio))}</td><td>${esc(it.iterations)}</td><td>${esc(it.evaluations)}</td><td>${esc(fmtSeconds(it.seconds))}</td><td class="l"><code>${esc(it.trace)}</code></td></tr>`,
  );
  const srvrRows = Object.entries(g.srvr).map(
    ([m, v]) => `<tr><td class="l">${esc(m)}</td><td>${esc(pct(v))}</td><td>${esc(g.items.filter((i) => i.method === m).length)}</td></tr>`,
  );
  const c = g.config;
  const domain = g.axes.map((a, i) => `${a} [${fmt(g.domain[i][0])}, ${fmt(g.domain[i][1])})`).join(' × ');
  const steps = c.fdStep;
  const fdText = Array.isArray(steps) ? g.axes.map((a, i) => `${a} ${fmt(steps[i])}`).join(', ') : fmt(steps);
  return [
    '<section id="regions"><h2>Robust regions</h2>',
    `<p class="caption">Domain ${esc(domain)}. ${esc(c.iterations)} iterations, η ${esc(fmt(c.eta))}, α ${esc(fmt(c.alpha))}, β ${esc(fmt(c.beta))}, λ ${esc(fmt(c.lambda))}, ${c.grad === 'exact' ? 'exact gradients through the graph for OIR_W/trap' : `finite-difference step ${esc(fdText)}`}; ${c.referenceQuirks ? '<b>reference quirks on</b> (G = −∇f for OIR_W/trap, regions not clipped)' : 'corrected mode (regions clipped to the domain, G = +∇f)'}. Out-of-domain points: ${esc(c.outOfDomain)}.</p>`,
    `<table class="srvr"><thead><tr><th class="l">method</th><th>SRVR</th><th>regions</th></tr></thead><tbody>${srvrRows.join('')}</tbody></table>`,
    '<p class="caption">SRVR: mean over the start points of Vol(region ∩ domain) / Vol(domain).</p>',
    `<table class="regions"><thead>${head}</thead><tbody>${rows.join('')}</tbody></table>`,
    '</section>',
  ].join('');
}

/** At most this many maps are drawn (image runs can have one per dataset image); all are tabulated. */
export const MAX_DRAWN_MAPS = 24;

/** The report's body sections for one semantic results file (for embedding in another page too). */
export function renderSemanticSections(r: SemanticResults): string {
  const row = (k: string, v: string) => `<dt>${esc(k)}</dt><dd>${v}</dd>`;
  const rows = [
    row('model', `<code>${esc(r.model.path)}</code>`),
    row('sha256', `<code title="${esc(r.model.sha256)}">${esc(r.model.sha256.slice(0, 12))}</code>`),
  ];
  if (r.model.normalize) rows.push(row('normalisation', `mean ${esc(r.model.normalize.mean.join(', '))}; std ${esc(r.model.normalize.std.join(', '))}`));
  if (r.mesh)
    rows.push(
      row('mesh', `<code>${esc(r.mesh.name)}</code> (geometry ${esc(r.mesh.sha256.slice(0, 12))}), rendered at ${esc(r.mesh.size)}×${esc(r.mesh.size)}`),
    );
  if (r.data) rows.push(row('data', `${esc(r.data.format)} <code>${esc(r.data.root)}</code>`));
  rows.push(row('score', esc(r.score === 'prob' ? 'softmax probability of the true class' : r.score)));
  for (const [k, v] of Object.entries(r.config)) if (v !== null && v !== '') rows.push(row(k, `<code>${esc(v)}</code>`));
  rows.push(
    row('evaluations', `${esc(r.evaluations)} through the model, ${esc(r.cached)} from the cache`),
    row(
      'time',
      `${esc(fmtSeconds(r.timings.seconds))} (images ${esc(fmtSeconds(r.timings.renderSeconds))}, model ${esc(fmtSeconds(r.timings.modelSeconds))}${r.regions ? `, regions ${esc(fmtSeconds(r.timings.regionSeconds))}` : ''})`,
    ),
    row('when', `${esc(r.createdAt)}, robustscope ${esc(r.robustscopeVersion)}`),
  );
  if (r.mapSource) rows.push(row('map from', `<code>${esc(r.mapSource)}</code>`));
  const figures = r.maps.slice(0, MAX_DRAWN_MAPS).map((m, k) => {
    const svg = semanticMapSvg(m, r.regions, `map${k}`);
    const s = mapStats(m);
    const what = `${m.subject}${m.labelName !== undefined ? ` · class ${m.labelName}` : m.label !== undefined ? ` · class ${m.label}` : ''}`;
    const fixed = Object.entries(m.fixed)
      .map(([k2, v]) => `${k2}=${fmt(v)}`)
      .join(', ');
    const body = svg || `<p class="caption">This map has ${esc(m.dims.length)} axes; only 1D and 2D maps are drawn.</p>`;
    return `<figure><h3>${esc(what)}</h3><div class="plot" data-plot="map">${body}</div><figcaption>f from ${esc(fmt(s.min))} to ${esc(fmt(s.max))}, mean ${esc(fmt(s.mean))} over ${esc(m.scores.length)} points${fixed ? `; fixed ${esc(fixed)}` : ''}.</figcaption></figure>`;
  });
  const more =
    r.maps.length > MAX_DRAWN_MAPS ? `<p class="caption">${esc(r.maps.length - MAX_DRAWN_MAPS)} more maps are in the table below, not drawn.</p>` : '';
  const mapTable =
    r.maps.length > 1
      ? `<table class="maps"><thead><tr><th class="l">subject</th><th class="l">class</th><th>min f</th><th>mean f</th><th>max f</th><th>points</th></tr></thead><tbody>${r.maps
          .map((m) => {
            const s = mapStats(m);
            return `<tr><td class="l">${esc(m.subject)}</td><td class="l">${esc(m.labelName ?? m.label ?? '')}</td><td>${esc(fmt(s.min))}</td><td>${esc(fmt(s.mean))}</td><td>${esc(fmt(s.max))}</td><td>${esc(m.scores.length)}</td></tr>`;
          })
          .join('')}</tbody></table>`
      : '';
  return [
    `<section id="run"><h2>Run</h2><div class="card"><dl>${rows.join('')}</dl></div></section>`,
    // No map (e.g. regions over more than two image parameters): the regions table only.
    r.maps.length === 0
      ? ''
      : `<section id="maps"><h2>Semantic map${r.maps.length > 1 ? 's' : ''}</h2>${r.regions ? legend(r.regions) : ''}${figures.join('')}${more}${mapTable}<p class="caption">Colour: f from 0 (dark) to the map's maximum (yellow)${r.regions ? '; rectangles: robust regions, dots: their start points' : ''}.</p></section>`,
    regionsTables(r),
  ].join('\n');
}

/** One self-contained HTML page for a semantic results file (already validated). */
export function renderSemanticReport(r: SemanticResults, title?: string): string {
  const subject = r.mesh ? r.mesh.name : r.data ? r.data.root : (r.maps[0]?.subject ?? '');
  const t = title ?? `Semantic robustness: ${subject}`;
  return reportPage(
    t,
    `<header><h1>${esc(t)}</h1><p class="sub">Score f over semantic parameters (${esc(r.space === 'viewpoint' ? 'camera viewpoint of a rendered mesh' : 'image transforms of dataset images')})${r.regions ? ' and the robust regions found around start points' : ''}.</p>
<nav><a href="#run">Run</a>${r.maps.length ? '<a href="#maps">Maps</a>' : ''}${r.regions ? '<a href="#regions">Regions</a>' : ''}</nav></header>
${renderSemanticSections(r)}
<footer>Generated by robustscope ${esc(r.robustscopeVersion)} from semantic.json (${esc(r.schema)} v${esc(r.version)}). Self-contained: no scripts, no network.</footer>`,
  );
}

export async function writeSemanticReport(r: SemanticResults, out: string): Promise<void> {
  await mkdir(dirname(resolve(out)), { recursive: true });
  await writeFile(out, renderSemanticReport(r));
}
