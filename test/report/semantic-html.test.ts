// The semantic report (src/report/semantic-html.ts) and the semantic.json reader (src/semantic/results.ts)
// on hand-made results: heatmap cells coloured on 0..max f with viridis' published end colours, regions as
// exactly one rectangle each at the pixel position of their bounds (higher elevation up), 1D maps as a line
// with bands, every string escaped, no script or external resource, and the validator's messages.
import { describe, expect, it } from 'vitest';
import { colourOf, MAX_DRAWN_MAPS, renderSemanticReport, semanticMapSvg } from '../../src/report/semantic-html.js';
import { type SemanticMapRecord, type SemanticResults, SemanticResultsError, validateSemanticResults } from '../../src/semantic/results.js';

const count = (s: string, sub: string) => s.split(sub).length - 1;

function map2d(scores: (number | null)[] = [0, 0.2, 0.4, 0.6, 0.8, 0.5, null, 0.1]): SemanticMapRecord {
  return {
    subject: 'bunny',
    label: 3,
    labelName: 'rabbit',
    dims: [
      { name: 'az', unit: 'deg', values: [0, 90, 180, 270] },
      { name: 'el', unit: 'deg', values: [0, 30] },
    ],
    fixed: { distance: 2.732 },
    scores,
    evaluations: 8,
    cached: 0,
    seconds: 1,
  };
}

function results(over: Partial<SemanticResults> = {}): SemanticResults {
  return {
    schema: 'robustscope/semantic',
    version: 1,
    command: 'regions',
    createdAt: '2025-01-01T00:00:00.000Z',
    robustscopeVersion: '0.1.0',
    model: { path: '/m/model.onnx', sha256: 'ab'.repeat(32) },
    space: 'viewpoint',
    score: 'prob',
    mesh: { name: 'bunny', sha256: 'cd'.repeat(32), size: 224 },
    config: { grid: 'az=0:360:90,el=0:60:30', class: 3 },
    maps: [map2d()],
    regions: {
      axes: ['az', 'el'],
      domain: [
        [0, 360],
        [-10, 90],
      ],
      config: {
        methods: ['naive', 'oir_b'],
        iterations: 800,
        eta: 0.1,
        alpha: 0.05,
        beta: 0.0009,
        lambda: 0.1,
        fdStep: 1,
        referenceQuirks: false,
        outOfDomain: 'wrap/clamp',
      },
      items: [
        {
          method: 'naive',
          start: [45, 15],
          a: [0, 0],
          b: [90, 30],
          volumeRatio: 0.075,
          iterations: 800,
          evaluations: 3200,
          seconds: 2,
          trace: 'traces/naive-45_15.json',
        },
        {
          method: 'oir_b',
          start: [200, 15],
          a: [180, 10],
          b: [225, 20],
          volumeRatio: 0.0125,
          iterations: 800,
          evaluations: 6400,
          seconds: 3,
          trace: 'traces/oir_b-200_15.json',
        },
      ],
      srvr: { naive: 0.075, oir_b: 0.0125 },
    },
    evaluations: 10,
    cached: 2,
    timings: { seconds: 5, renderSeconds: 1, modelSeconds: 2, regionSeconds: 3 },
    ...over,
  };
}

/** Attributes of the region rectangles, in order. */
function regionRects(html: string): Record<string, string>[] {
  return [...html.matchAll(/<rect class="region"([^>]*)>/g)].map((m) => Object.fromEntries([...m[1].matchAll(/([\w-]+)="([^"]*)"/g)].map((a) => [a[1], a[2]])));
}

describe('semantic map SVG', () => {
  it('viridis end colours: 0 -> #440154, 1 -> #fde725 (the published colour map)', () => {
    expect(colourOf(0)).toBe('#440154');
    expect(colourOf(1)).toBe('#fde725');
  });

  it('2D heatmap: one cell per point, coloured on 0..max f, missing scores grey', () => {
    const svg = semanticMapSvg(map2d(), undefined, 't');
    const cells = svg.split('<g class="cells"')[1].split('</g>')[0];
    expect(count(cells, '<rect')).toBe(8);
    expect(count(cells, 'fill="#fde725"')).toBe(1); // the max (0.8) is the top of the scale
    expect(count(cells, 'fill="#440154"')).toBe(1); // 0
    expect(count(cells, 'fill="#d0d7de"')).toBe(1); // null
    expect(count(svg, 'class="region"')).toBe(0);
  });

  it('each region is one rectangle at its bounds: x = 52 + (az + 45) * 2, y from el with up positive', () => {
    const r = results();
    const svg = semanticMapSvg(r.maps[0], r.regions, 't');
    const rects = regionRects(svg);
    expect(rects).toHaveLength(2);
    // Plot 720 x 320 px at (52, 12); az cells span [-45, 315] (360 deg -> 2 px/deg), el cells [-15, 45] (60 deg -> 16/3 px/deg).
    expect(Number(rects[0].x)).toBeCloseTo(52 + 45 * 2, 2);
    expect(Number(rects[0].width)).toBeCloseTo(90 * 2, 2);
    expect(Number(rects[0].y)).toBeCloseTo(12 + (45 - 30) * (320 / 60), 2);
    expect(Number(rects[0].height)).toBeCloseTo(30 * (320 / 60), 2);
    expect(rects[0]['data-method']).toBe('naive');
    expect(Number(rects[1].x)).toBeCloseTo(52 + 225 * 2, 2);
    expect(Number(rects[1].y)).toBeCloseTo(12 + (45 - 20) * (320 / 60), 2);
    expect(rects[0].stroke).not.toBe(rects[1].stroke);
  });

  it('a map with axes (el, az) still puts each region on the right axes', () => {
    const m = map2d();
    m.dims = [m.dims[1], m.dims[0]];
    const r = results();
    const rects = regionRects(semanticMapSvg(m, r.regions, 't'));
    // x is now el: cells span [-15, 45] over 720 px (12 px/deg); the naive region spans el 0..30.
    expect(Number(rects[0].x)).toBeCloseTo(52 + 15 * 12, 2);
    expect(Number(rects[0].width)).toBeCloseTo(30 * 12, 2);
  });

  it('1D map: a polyline and the regions as bands over their az interval', () => {
    const m: SemanticMapRecord = { ...map2d([0.1, 0.9, 0.5, 0.3]), dims: [{ name: 'az', unit: 'deg', values: [0, 90, 180, 270] }], fixed: { el: 35 } };
    const svg = semanticMapSvg(m, results().regions, 't');
    expect(count(svg, '<polyline')).toBe(1);
    const rects = regionRects(svg);
    expect(rects).toHaveLength(2);
    expect(Number(rects[0].height)).toBeCloseTo(240, 2); // full height of the 1D plot
  });

  it('maps with 3 axes are not drawn', () => {
    const m = map2d(new Array(8).fill(0.5));
    m.dims = [
      { name: 'az', unit: 'deg', values: [0, 90] },
      { name: 'el', unit: 'deg', values: [0, 30] },
      { name: 'distance', unit: '', values: [2, 3] },
    ];
    expect(semanticMapSvg(m, undefined, 't')).toBe('');
    expect(renderSemanticReport(results({ maps: [m], regions: undefined }))).toContain('only 1D and 2D maps are drawn');
  });
});

describe('semantic report page', () => {
  it('self-contained: no script, no external resource; regions table and SRVR per method', () => {
    const html = renderSemanticReport(results());
    expect(html.startsWith('<!DOCTYPE html>')).toBe(true);
    expect(html).not.toMatch(/<script|<link|src="http|href="http/i);
    expect(count(html, 'class="region"')).toBe(2);
    expect(html).toContain('7.50%'); // naive SRVR
    expect(html).toContain('1.25%'); // oir_b SRVR
    expect(html).toContain('traces/oir_b-200_15.json');
  });

  it('escapes every string from the file (subject, class, mesh, method, paths, config)', () => {
    const evil = '<img src=x onerror=alert(1)>';
    const r = results({
      model: { path: `/m/${evil}.onnx`, sha256: `${evil}${'0'.repeat(40)}` },
      mesh: { name: evil, sha256: evil, size: 16 },
      config: { grid: evil, class: 0 },
      mapSource: evil,
    });
    r.maps[0].subject = evil;
    r.maps[0].labelName = `"'${evil}`;
    const g = r.regions;
    if (!g) throw new Error('regions');
    g.items[1].method = 'oir_b' as 'oir_b';
    g.items[0].method = `"><svg onload=alert(2)>` as 'naive';
    g.items[0].trace = evil;
    g.srvr = { '"><svg onload=alert(2)>': 0.5 };
    g.config.outOfDomain = evil;
    const html = renderSemanticReport(r);
    expect(html).not.toContain('<img');
    expect(html).not.toContain('<svg onload');
    expect(html).toContain('data-method="&quot;&gt;&lt;svg onload=alert(2)&gt;"');
    expect(html).toContain('&lt;img src=x onerror=alert(1)&gt;');
    expect(count(html, 'class="region"')).toBe(2);
  });

  it(`draws at most ${MAX_DRAWN_MAPS} maps and tabulates all`, () => {
    const maps = Array.from({ length: MAX_DRAWN_MAPS + 3 }, (_, k) => ({ ...map2d(), subject: `img${k}` }));
    const html = renderSemanticReport(results({ maps, regions: undefined, space: 'image' }));
    expect(count(html, 'data-plot="map"')).toBe(MAX_DRAWN_MAPS);
    expect(html).toContain('3 more maps');
    expect(html).toContain(`<td class="l">img${MAX_DRAWN_MAPS + 2}</td>`);
  });
});

describe('validateSemanticResults', () => {
  it('accepts a valid file (as JSON) and rejects bad ones naming the field', () => {
    const ok = JSON.parse(JSON.stringify(results()));
    expect(validateSemanticResults(ok, 'f.json').maps[0].scores).toHaveLength(8);
    const bad = (mut: (o: Record<string, unknown>) => void, msg: RegExp) => {
      const o = JSON.parse(JSON.stringify(results()));
      mut(o);
      expect(() => validateSemanticResults(o, 'f.json')).toThrow(SemanticResultsError);
      expect(() => validateSemanticResults(o, 'f.json')).toThrow(msg);
    };
    bad((o) => {
      o.schema = 'robustscope/results';
    }, /f.json: field 'schema'.*not a semantic results file/);
    bad((o) => {
      o.version = 2;
    }, /field 'version'/);
    bad((o) => {
      (o.maps as { scores: unknown[] }[])[0].scores.pop();
    }, /field 'maps\[0\].scores' has 7 values; the axes make 8 points/);
    bad((o) => {
      (o.regions as { items: { a: unknown[] }[] }).items[1].a = [1];
    }, /field 'regions.items\[1\].a' has 1 values/);
    bad((o) => {
      (o.maps as { scores: unknown[] }[])[0].scores[2] = 'x';
    }, /maps\[0\].scores\[2\]/);
  });
});
