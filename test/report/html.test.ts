// The HTML report from results built in code: table values, one SVG per plot, gallery data URIs,
// escaping of hostile strings, the missing-PNG placeholder, and results-file validation errors.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Results } from '../../src/eval/schema.js';
import { renderReport, writeReport } from '../../src/report/html.js';
import { demoResults, hostileResults, writeResults } from './fixtures.js';
import { encodePng } from './png.js';

const tmp = mkdtempSync(join(tmpdir(), 'rs-report-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** Rows of the first table with class `cls`, each as its cells' text (tags stripped, entities kept). */
function tableRows(html: string, cls: string): { cls: string; cells: string[] }[] {
  const start = html.indexOf(`<table class="${cls}"`);
  expect(start).toBeGreaterThanOrEqual(0);
  const table = html.slice(start, html.indexOf('</table>', start));
  return [...table.matchAll(/<tr(?: class="([^"]*)")?>(.*?)<\/tr>/g)].map((m) => ({
    cls: m[1] ?? '',
    cells: [...m[2].matchAll(/<t[dh][^>]*>(.*?)<\/t[dh]>/g)].map((c) => c[1].replace(/<[^>]+>/g, '')),
  }));
}

describe('renderReport on a hostile results file', () => {
  const dir = join(tmp, 'hostile');
  let results: Results;
  let html: string;
  beforeAll(async () => {
    mkdirSync(dir, { recursive: true });
    results = hostileResults(dir);
    html = await renderReport([results], { resultsDirs: [dir] });
  });

  it('puts every clean, per-attack and worst-case value in the table as a percentage, with the attack seconds', () => {
    const rows = tableRows(html, 'metrics').map((r) => r.cells);
    expect(rows[0]).toEqual(['ε', 'attack', 'aAcc', 'mAcc', 'mIoU', 'mean image acc', 'time', 'notes']);
    expect(rows[1]).toEqual(['0', 'clean', '91.1%', '91.2%', '91.3%', '91.4%', '', '']);
    // Radius cell spans its group, so only the group's first row has it.
    expect(rows[2]).toEqual(['4/255', 'apgd-prr:mask-ce-bal', '61.1%', '61.2%', '61.3%', '61.4%', '12.5 s', '']);
    expect(rows[3]).toEqual(['&lt;img src=x onerror=alert(1)&gt;', '62.1%', '62.2%', '62.3%', '62.4%', '13.0 s', '']);
    expect(rows[4]).toEqual(['apgd-prr:js-avg', '63.1%', '63.2%', '63.3%', '63.4%', '14.0 s', '']);
    expect(rows[5]).toEqual(['worst case', '51.1%', '51.2%', '51.3%', '51.4%', '39.5 s', 'won 6 · 4 · 0; mIoU search']);
    expect(rows[6][0]).toBe('8/255');
    expect(rows[9]).toEqual(['worst case', '21.1%', '21.2%', '21.3%', '21.4%', '1 min 3 s', 'won 3 · 7 · 0; mIoU greedy']);
    expect(rows).toHaveLength(10);
  });

  it('marks the worst-case rows (bold) and only them', () => {
    const classes = tableRows(html, 'metrics').map((r) => r.cls);
    expect(classes.filter((c) => c.includes('worst'))).toHaveLength(2);
    expect(html).toMatch(/tr\.worst td\{font-weight:700/);
  });

  it('shows run metadata: model path, sha256 prefix, data, attack, seed, iterations, time, version', () => {
    expect(html).toContain('ab12cd34ef56</code>');
    expect(html).not.toContain('>ab12cd34ef56ab12cd34ef56');
    expect(html).toContain('<code>data/shapes/test</code>');
    expect(html).toContain('<dt>seed</dt><dd>0</dd>');
    expect(html).toContain('<dt>iterations</dt><dd>300, batch 8');
    expect(html).toContain('2025-01-02T03:04:05.000Z');
    expect(html).toContain('<dt>robustscope</dt><dd>0.1.0</dd>');
    expect(html).toContain('ε ∈ {4/255, 8/255}');
  });

  it('inlines exactly one SVG per plot', () => {
    expect(html.match(/<svg[\s>]/g)).toHaveLength(2);
    expect(html).toMatch(/<div class="plot" data-plot="curves"><svg /);
    expect(html).toMatch(/<div class="plot" data-plot="per-class"><svg /);
    // The curves: three panels, a legend entry per attack (escaped) and for the worst case.
    const curves = html.slice(html.indexOf('data-plot="curves"'), html.indexOf('data-plot="per-class"'));
    for (const t of ['pixel accuracy (aAcc)', 'mean per-image accuracy', '>mIoU<', 'apgd-prr:js-avg', '&lt;img src=x onerror=alert(1)&gt;', '>worst case<'])
      expect(curves).toContain(t);
    const perClass = html.slice(html.indexOf('data-plot="per-class"'), html.indexOf('</figure>', html.indexOf('data-plot="per-class"')));
    for (const t of ['>background<', '>square<', 'worst, ε=4/255', 'worst, ε=8/255']) expect(perClass).toContain(t);
  });

  it('embeds the gallery PNGs as data URIs, byte for byte', () => {
    const uris = [...html.matchAll(/<img[^>]* src="([^"]*)"/g)].map((m) => m[1]);
    expect(uris).toHaveLength(11); // 2 items x 6 panels, one file missing
    for (const u of uris) expect(u.startsWith('data:image/png;base64,')).toBe(true);
    const first = Buffer.from(uris[0].slice('data:image/png;base64,'.length), 'base64');
    expect(first.equals(readFileSync(join(dir, results.gallery[0].files.image)))).toBe(true);
    expect(html).toContain('accuracy clean 98.8% → adversarial 1.2%');
  });

  it('shows a visible placeholder for the missing PNG', () => {
    expect(html.match(/class="missing"/g)).toHaveLength(1);
    expect(html).toMatch(/<div class="missing"[^>]*><b>image unavailable<\/b><span>gallery\/1_advPred\.png<\/span><span>\(file missing\)<\/span>/);
  });

  it('escapes every hostile string: no markup from the data reaches the page', () => {
    expect(html.toLowerCase()).not.toContain('<script');
    expect(html).not.toContain('<img src=x');
    expect(html).not.toContain('"><script');
    expect(html).toContain('&lt;script&gt;alert(&quot;class&quot;)&lt;/script&gt;');
    expect(html).toContain('/models/&lt;script&gt;alert(&quot;model&quot;)&lt;/script&gt;.onnx');
    expect(html).toContain('&quot;&gt;&lt;script&gt;alert(&quot;id&quot;)&lt;/script&gt;');
    // Every tag named img is ours (a gallery data URI), none comes from an attack name.
    for (const tag of html.match(/<img\b[^>]*>/g) ?? []) expect(tag).toMatch(/ src="data:image\/png;base64,[A-Za-z0-9+/=]+"/);
  });

  it('refers to nothing outside the page (no network at view time)', () => {
    expect(html).not.toMatch(/(?:src|href)\s*=\s*["']?(?:https?:)?\/\//i);
    expect(html).not.toMatch(/@import|url\(/i);
  });

  it('follows gallery paths only inside the results directory and embeds only PNGs', async () => {
    writeFileSync(join(tmp, 'outside.png'), encodePng(1, 1, new Uint8Array([1, 2, 3])));
    writeFileSync(join(dir, 'gallery', 'fake.png'), 'not a png');
    const r = structuredClone(results);
    r.gallery[0].files.image = '../outside.png';
    r.gallery[0].files.label = 'gallery/fake.png';
    r.gallery[0].files.cleanPred = join(dir, 'gallery', '0_cleanPred.png'); // absolute
    const out = await renderReport([r], { resultsDirs: [dir] });
    expect(out).toContain('(outside the results directory)');
    expect(out).toContain('(not a PNG file)');
    expect(out).toContain('(not a relative path)');
    expect(out.match(/class="missing"/g)).toHaveLength(4);
  });

  it('overlays several models: one SVG per plot, each model named, a metrics table each', async () => {
    const dir2 = join(tmp, 'second');
    mkdirSync(dir2, { recursive: true });
    const other = hostileResults(dir2);
    other.config.model.path = 'models/robust-seg.onnx';
    const out = await renderReport([results, other], { resultsDirs: [dir, dir2], title: 'A <b>title</b>' });
    expect(out.match(/<svg[\s>]/g)).toHaveLength(2);
    expect(out.match(/<table class="metrics">/g)).toHaveLength(2);
    expect(out).toContain('<h1>A &lt;b&gt;title&lt;/b&gt;</h1>');
    const curves = out.slice(out.indexOf('data-plot="curves"'), out.indexOf('data-plot="per-class"'));
    expect(curves).toContain('robust-seg');
  });
});

describe('writeReport', () => {
  const dir = join(tmp, 'demo');
  let path: string;
  let good: Results;
  beforeAll(() => {
    good = demoResults(dir, false);
    path = writeResults(dir, good);
  });

  const writeBad = (name: string, edit: (r: Record<string, unknown>) => void): string => {
    const r = structuredClone(good) as unknown as Record<string, unknown>;
    edit(r);
    const p = join(tmp, `${name}.json`);
    writeFileSync(p, JSON.stringify(r));
    return p;
  };

  it('writes one self-contained HTML file from a results file or its directory', async () => {
    const out = join(tmp, 'out', 'nested', 'report.html');
    await writeReport([path], out);
    const html = readFileSync(out, 'utf8');
    expect(html.startsWith('<!DOCTYPE html>')).toBe(true);
    expect(html).toContain('shapes-unet-clean');
    expect(html.match(/src="data:image\/png;base64,/g)).toHaveLength(18);
    await writeReport([dir], join(tmp, 'from-dir.html'));
    expect(readFileSync(join(tmp, 'from-dir.html'), 'utf8')).toBe(html);
  });

  it('rejects a file of another schema, naming the file and the field', async () => {
    const p = writeBad('schema', (r) => {
      r.schema = 'someone/else';
    });
    await expect(writeReport([p], join(tmp, 'x.html'))).rejects.toThrow(`${p}: field 'schema' is "someone/else"; expected "robustscope/results"`);
  });

  it('rejects another results version', async () => {
    const p = writeBad('version', (r) => {
      r.version = 2;
    });
    await expect(writeReport([path, p], join(tmp, 'x.html'))).rejects.toThrow(`${p}: field 'version' is 2; this robustscope reads results version 1`);
  });

  it('names a missing nested field by its path', async () => {
    const p = writeBad('missing', (r) => {
      delete ((r.byEps as Record<string, unknown>[])[1].worst as Record<string, unknown>).mIoU;
    });
    await expect(writeReport([p], join(tmp, 'x.html'))).rejects.toThrow(`${p}: field 'byEps[1].worst.mIoU' is missing`);
  });

  it('names a field of the wrong type or out of range', async () => {
    const p = writeBad('type', (r) => {
      (r.gallery as { files: Record<string, unknown> }[])[2].files.advPred = 7;
    });
    await expect(writeReport([p], join(tmp, 'x.html'))).rejects.toThrow(`${p}: field 'gallery[2].files.advPred' should be a string, got a number`);
    const q = writeBad('range', (r) => {
      (r.clean as Record<string, unknown>).aAcc = 95.1;
    });
    await expect(writeReport([q], join(tmp, 'x.html'))).rejects.toThrow(`${q}: field 'clean.aAcc' should be in [0, 1], got 95.1`);
  });

  it('reports unreadable and non-JSON files by name', async () => {
    const bad = join(tmp, 'bad.json');
    writeFileSync(bad, '{"schema": "robustscope/results", ');
    await expect(writeReport([bad], join(tmp, 'x.html'))).rejects.toThrow(`${bad}: is not valid JSON`);
    await expect(writeReport([join(tmp, 'nope.json')], join(tmp, 'x.html'))).rejects.toThrow(`${join(tmp, 'nope.json')}: no such file`);
    await expect(writeReport([], join(tmp, 'x.html'))).rejects.toThrow('at least one');
  });
});
