// The report's plots: Vega-Lite specs compiled and rendered to SVG strings in Node at report time
// (vega's headless View needs no browser or canvas), so the page needs no script to show them.
// User strings (attack, class and model names) only ever enter the specs as data values, never
// as expressions; vega's SVG writer escapes them.
import { parse, Error as VegaLogError, View, logger as vegaLogger } from 'vega';
import { compile, type TopLevelSpec } from 'vega-lite';
import { fmtEps } from './format.js';
import { type ModelView, worstOf } from './view.js';

const FONT = 'system-ui, -apple-system, "Segoe UI", Roboto, "Liberation Sans", Arial, sans-serif';
/** Distinct hues for attacks (one model) or models (several). */
export const SERIES_COLOURS = ['#4c78a8', '#f58518', '#54a24b', '#b279a2', '#9d755d', '#72b7b2', '#eeca3b', '#ff9da6', '#bab0ac', '#e45756'];
const WORST_COLOUR = '#111827';
const CLEAN_COLOUR = '#2f9e44';

const CONFIG = {
  font: FONT,
  view: { stroke: '#d0d7de' },
  axis: { labelFontSize: 11, titleFontSize: 12, titleFontWeight: 600, gridColor: '#eef1f4', labelOverlap: 'greedy' },
  legend: { labelFontSize: 11, titleFontSize: 12, labelLimit: 260 },
  header: { labelFontSize: 13, labelFontWeight: 600, titleFontSize: 12 },
} as const;

export async function specToSvg(spec: TopLevelSpec): Promise<string> {
  const log = vegaLogger(VegaLogError);
  const vg = compile(spec, { logger: log }).spec;
  const view = new View(parse(vg), { renderer: 'none', logLevel: VegaLogError });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

const LINE_LEGEND = { symbolType: 'stroke', symbolStrokeWidth: 3, symbolSize: 220 };

const METRICS = [
  { key: 'aAcc', title: 'pixel accuracy (aAcc)' },
  { key: 'meanImageAcc', title: 'mean per-image accuracy' },
  { key: 'mIoU', title: 'mIoU' },
] as const;

interface CurveRow {
  model: string;
  series: string;
  kind: 'attack' | 'worst case';
  eps: number;
  metric: string;
  value: number;
}

/** Radius on a common axis: the command-line unit when all runs share it, image units otherwise. */
function epsAxis(models: ModelView[]): { of: (eps: number, epsAbs: number) => number; title: string } {
  const units = new Set(models.map((m) => m.results.config.attack.epsUnit));
  const norms = [...new Set(models.map((m) => m.results.config.attack.norm))].join('/');
  if (units.size === 1 && units.has('1/255')) return { of: (eps) => eps, title: `ε (${norms}, in 1/255)` };
  return { of: (_eps, abs) => abs, title: `ε (${norms}, image scale [0, 1])` };
}

/**
 * Accuracy and mIoU against the radius, one panel per metric. One model: a line per attack and the
 * worst case in bold black. Several: a colour per model, its worst case solid and bold, its attacks
 * thin and dashed. Every line starts at the clean value (radius 0).
 */
export async function curvesSvg(models: ModelView[]): Promise<string> {
  const axis = epsAxis(models);
  const rows: CurveRow[] = [];
  for (const m of models) {
    const r = m.results;
    for (const { key, title } of METRICS) {
      const push = (series: string, kind: CurveRow['kind'], eps: number, value: number) =>
        rows.push({ model: m.label, series, kind, eps, metric: title, value });
      const hasWorst = r.byEps.some((e) => worstOf(e, m.attacks)?.label === 'worst case');
      for (const a of m.attacks) {
        const at = r.byEps.filter((e) => e.attacks[a]);
        if (!at.length) continue;
        // A lone attack is its own worst case: draw it once, highlighted.
        const kind = hasWorst ? 'attack' : 'worst case';
        push(a, kind, 0, r.clean[key]);
        for (const e of at) push(a, kind, axis.of(e.eps, e.epsAbs), e.attacks[a][key]);
      }
      if (hasWorst) {
        push('worst case', 'worst case', 0, r.clean[key]);
        for (const e of r.byEps) {
          const w = worstOf(e, m.attacks);
          if (w) push('worst case', 'worst case', axis.of(e.eps, e.epsAbs), w.metrics[key]);
        }
      }
    }
  }
  const xs = rows.map((r) => r.eps).filter((x) => x > 0);
  const xMax = Math.max(1e-12, ...xs);
  const xMinPos = xs.length ? Math.min(...xs) : xMax;
  const ticks = [0, ...new Set(xs)].sort((a, b) => a - b);
  // Radii usually double (0.25 .. 8): sqrt spreads the small ones without losing the clean point at 0.
  const xScale = xMax / xMinPos >= 8 ? { type: 'sqrt' as const, domain: [0, xMax], nice: false } : { type: 'linear' as const, domain: [0, xMax], nice: false };
  const x = {
    field: 'eps',
    type: 'quantitative' as const,
    title: axis.title,
    scale: xScale,
    axis: { values: ticks.length <= 12 ? ticks : undefined, format: '.4~g' },
  };
  const y = { field: 'value', type: 'quantitative' as const, title: null, scale: { domain: [0, 1] }, axis: { format: '.0%', tickCount: 5 } };
  const single = models.length === 1;
  const seriesDomain = single ? [...new Set(rows.map((r) => r.series))] : [];
  const seriesRange = seriesDomain.map((s, i) =>
    s === 'worst case' || rows.find((r) => r.series === s)?.kind === 'worst case' ? WORST_COLOUR : SERIES_COLOURS[i % SERIES_COLOURS.length],
  );
  const colour = single
    ? {
        field: 'series',
        type: 'nominal' as const,
        title: 'attack',
        sort: seriesDomain,
        scale: { domain: seriesDomain, range: seriesRange },
        legend: LINE_LEGEND,
      }
    : {
        field: 'model',
        type: 'nominal' as const,
        title: 'model',
        sort: models.map((m) => m.label),
        scale: { domain: models.map((m) => m.label), range: models.map((_, i) => SERIES_COLOURS[i % SERIES_COLOURS.length]) },
        legend: LINE_LEGEND,
      };
  const kindScale = <T extends number | number[]>(range: T[]) => ({ domain: ['attack', 'worst case'], range });
  const spec: TopLevelSpec = {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    config: CONFIG,
    data: { values: rows },
    facet: { column: { field: 'metric', type: 'nominal', title: null, sort: METRICS.map((m) => m.title) } },
    spec: {
      width: 250,
      height: 210,
      layer: [
        {
          mark: { type: 'line', strokeCap: 'round' },
          encoding: {
            x,
            y,
            color: colour,
            detail: { field: 'series', type: 'nominal' },
            size: { field: 'kind', type: 'nominal', title: 'line', scale: kindScale([1.6, 3.2]), legend: null },
            strokeDash: {
              field: 'kind',
              type: 'nominal',
              scale: kindScale(
                single
                  ? [
                      [1, 0],
                      [1, 0],
                    ]
                  : [
                      [5, 3],
                      [1, 0],
                    ],
              ),
              legend: null,
            },
            opacity: { field: 'kind', type: 'nominal', scale: kindScale(single ? [0.9, 1] : [0.6, 1]), legend: null },
          },
        },
        {
          mark: { type: 'point', filled: true },
          encoding: {
            x,
            y,
            color: colour,
            detail: { field: 'series', type: 'nominal' },
            size: { field: 'kind', type: 'nominal', scale: kindScale([14, 40]), legend: null },
          },
        },
      ],
    },
    resolve: { scale: { y: 'shared' } },
  };
  return specToSvg(spec);
}

/** Interpolates from light orange to dark red: later radii are darker. */
function rampColour(i: number, n: number): string {
  const a = [253, 174, 107];
  const b = [127, 0, 0];
  const t = n <= 1 ? 1 : i / (n - 1);
  return `rgb(${a.map((v, k) => Math.round(v + (b[k] - v) * t)).join(',')})`;
}

/**
 * Per-class IoU, clean next to the worst case at each radius, as grouped bars (one row of bars per
 * model). With very many classes only the clean and largest radius are drawn; the heat table in the
 * page has every number.
 */
export async function perClassSvg(models: ModelView[]): Promise<string> {
  const rows: { model: string; cls: string; ci: number; series: string; value: number }[] = [];
  const seriesNames: string[] = ['clean'];
  let maxClasses = 1;
  for (const m of models) maxClasses = Math.max(maxClasses, m.classes.length);
  for (const m of models) {
    const r = m.results;
    const unit = r.config.attack.epsUnit;
    let eps = r.byEps.filter((e) => worstOf(e, m.attacks));
    if (maxClasses * (eps.length + 1) > 240) eps = eps.slice(-1);
    const series: [string, (number | null)[]][] = [['clean', r.clean.perClassIoU]];
    for (const e of eps)
      series.push([`worst, ε=${fmtEps(e.eps, unit)}`, (worstOf(e, m.attacks) as NonNullable<ReturnType<typeof worstOf>>).metrics.perClassIoU]);
    for (const [name, iou] of series) {
      if (!seriesNames.includes(name)) seriesNames.push(name);
      m.classes.forEach((cls, ci) => {
        const v = iou[ci];
        if (typeof v === 'number') rows.push({ model: m.label, cls, ci, series: name, value: v });
      });
    }
  }
  // Every class gets its place on the axis, also one whose IoU is undefined everywhere.
  const classDomain = [...new Set(models.flatMap((m) => m.classes))];
  const nEps = seriesNames.length - 1;
  const range = seriesNames.map((_, i) => (i === 0 ? CLEAN_COLOUR : rampColour(i - 1, nEps)));
  // Width per bar; the groups of bars (one per class) follow from it.
  const bar = Math.max(5, Math.min(16, Math.floor(760 / Math.max(1, maxClasses * seriesNames.length))));
  const longest = Math.max(...classDomain.map((c) => c.length));
  const slanted = longest * 6.5 > bar * seriesNames.length + 8;
  const inner: TopLevelSpec = {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    config: CONFIG,
    data: { values: rows },
    width: { step: bar, for: 'offset' },
    height: 200,
    mark: { type: 'bar' },
    encoding: {
      x: {
        field: 'cls',
        type: 'nominal',
        title: null,
        scale: { domain: classDomain },
        axis: { labelAngle: slanted ? -35 : 0, labelAlign: slanted ? 'right' : 'center', labelOverlap: false, labelLimit: 120 },
      },
      xOffset: { field: 'series', type: 'nominal', sort: seriesNames, scale: { domain: seriesNames } },
      y: { field: 'value', type: 'quantitative', title: 'IoU', scale: { domain: [0, 1] }, axis: { format: '.0%', tickCount: 5 } },
      color: {
        field: 'series',
        type: 'nominal',
        title: null,
        sort: seriesNames,
        scale: { domain: seriesNames, range },
        legend: { orient: 'top', direction: 'horizontal' },
      },
    },
  };
  if (models.length === 1) return specToSvg(inner);
  const { data, config, $schema, ...rest } = inner as TopLevelSpec & Record<string, unknown>;
  const spec = {
    $schema,
    config,
    data,
    facet: { row: { field: 'model', type: 'nominal', title: null, sort: models.map((m) => m.label), header: { labelAngle: 0, labelAlign: 'left' } } },
    spec: rest,
  } as TopLevelSpec;
  return specToSvg(spec);
}
