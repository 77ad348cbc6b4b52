// The report in a real browser: Debian's headless Chromium (driven by playwright-core, no browser
// download) opens the file, and we check that nothing errs, that every plot has a size, that every
// gallery image decodes, that no script from the data runs, and take screenshots. .ci/run installs
// chromium; without /usr/bin/chromium this test is skipped with a message.
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { type BrowserContext, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeReport } from '../../src/report/html.js';
import { demoResults, hostileResults, writeResults } from './fixtures.js';

const CHROMIUM = '/usr/bin/chromium';
const HAVE_CHROMIUM = existsSync(CHROMIUM);
const ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];
/** The committed screenshot the README shows. */
const DOCS_SCREENSHOT = resolve(import.meta.dirname, '../../docs/report-screenshot.png');
const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

if (!HAVE_CHROMIUM) console.warn(`report browser test SKIPPED: ${CHROMIUM} not found (install it with: apt-get install -y chromium)`);

interface PageCheck {
  problems: string[];
  dialogs: string[];
  requests: string[];
}

/** Opens `file` and records console errors, page errors, dialogs (a script from the data) and requests. */
async function open(ctx: BrowserContext, file: string): Promise<{ page: Page; seen: PageCheck }> {
  const page = await ctx.newPage();
  const seen: PageCheck = { problems: [], dialogs: [], requests: [] };
  page.on('console', (m) => {
    if (m.type() === 'error' || m.type() === 'warning') seen.problems.push(`console ${m.type()}: ${m.text()}`);
  });
  page.on('pageerror', (e) => seen.problems.push(`page error: ${e.message}`));
  page.on('dialog', (d) => {
    seen.dialogs.push(d.message());
    void d.dismiss();
  });
  page.on('request', (r) => seen.requests.push(r.url()));
  await page.goto(pathToFileURL(file).href, { waitUntil: 'load' });
  await page.waitForFunction(() => Array.from(document.images).every((i) => i.complete));
  return { page, seen };
}

async function plotBoxes(page: Page): Promise<{ plot: string; width: number; height: number; marks: number }[]> {
  return page.$$eval('.plot', (divs) =>
    divs.map((d) => {
      const svg = d.querySelector('svg');
      const box = svg?.getBoundingClientRect();
      return { plot: d.getAttribute('data-plot') ?? '?', width: box?.width ?? 0, height: box?.height ?? 0, marks: svg?.querySelectorAll('path').length ?? 0 };
    }),
  );
}

async function galleryImages(page: Page): Promise<{ alt: string; naturalWidth: number; shown: number }[]> {
  return page.$$eval('.g-imgs img', (imgs) =>
    (imgs as HTMLImageElement[]).map((i) => ({ alt: i.alt, naturalWidth: i.naturalWidth, shown: i.getBoundingClientRect().width })),
  );
}

describe.skipIf(!HAVE_CHROMIUM)('report in headless Chromium', () => {
  let tmp = '';
  let ctx: BrowserContext;
  beforeAll(async () => {
    tmp = mkdtempSync(join(tmpdir(), 'rs-report-browser-'));
    ctx = await chromium.launchPersistentContext(join(tmp, 'profile'), {
      executablePath: CHROMIUM,
      headless: true,
      args: ARGS,
      viewport: { width: 1280, height: 1000 },
      offline: true,
    });
  });
  afterAll(async () => {
    await ctx?.close();
    if (tmp) rmSync(tmp, { recursive: true, force: true });
    rmSync(join(tmpdir(), 'robustscope-report-example'), { recursive: true, force: true });
  });

  it('renders the two-model demo report: no errors, plots sized, images decoded; screenshots saved', async () => {
    // A fixed directory, because the report shows it and the committed screenshot should not change.
    const runs = join(tmpdir(), 'robustscope-report-example');
    rmSync(runs, { recursive: true, force: true });
    const clean = writeResults(join(runs, 'shapes-unet-clean'), demoResults(join(runs, 'shapes-unet-clean'), false));
    const robust = writeResults(join(runs, 'shapes-unet-pirat'), demoResults(join(runs, 'shapes-unet-pirat'), true));
    const file = join(tmp, 'report.html');
    await writeReport([clean, robust], file);
    const { page, seen } = await open(ctx, file);

    expect(seen.problems).toEqual([]);
    expect(seen.requests.filter((u) => !u.startsWith('file:') && !u.startsWith('data:'))).toEqual([]);
    const plots = await plotBoxes(page);
    expect(plots.map((p) => p.plot)).toEqual(['curves', 'per-class']);
    for (const p of plots) {
      expect(p.width, p.plot).toBeGreaterThan(200);
      expect(p.height, p.plot).toBeGreaterThan(150);
      expect(p.marks, p.plot).toBeGreaterThan(10);
    }
    const imgs = await galleryImages(page);
    expect(imgs).toHaveLength(5 * 6); // 3 rows for the clean model, 2 for the robust one
    for (const i of imgs) {
      expect(i.naturalWidth, i.alt).toBe(96);
      expect(i.shown, i.alt).toBeGreaterThan(50);
    }

    // Kept after the run for a person to look at.
    const full = join(tmpdir(), 'robustscope-report-full.png');
    await page.screenshot({ path: full, fullPage: true });
    expect(readFileSync(full).subarray(0, 8).equals(PNG_SIGNATURE)).toBe(true);
    // The committed screenshot (the top of the page: run cards and curves) is refreshed only on
    // request (UPDATE_SCREENSHOT=1), so test runs leave the checkout clean.
    const top = await page.screenshot({ fullPage: true, clip: { x: 0, y: 0, width: 1280, height: 1080 } });
    expect(top.subarray(0, 8).equals(PNG_SIGNATURE)).toBe(true);
    if (process.env.UPDATE_SCREENSHOT === '1') writeFileSync(DOCS_SCREENSHOT, top);
    await page.close();
  });

  it('runs no script from hostile strings and shows the placeholder for a missing PNG', async () => {
    const dir = join(tmp, 'hostile');
    const results = writeResults(dir, hostileResults(dir));
    const file = join(tmp, 'hostile.html');
    await writeReport([results], file);
    const { page, seen } = await open(ctx, file);

    expect(seen.dialogs).toEqual([]);
    expect(seen.problems).toEqual([]);
    expect(await page.evaluate(() => document.scripts.length)).toBe(0);
    expect((await plotBoxes(page)).every((p) => p.width > 0 && p.height > 0)).toBe(true);
    const imgs = await galleryImages(page);
    expect(imgs).toHaveLength(11);
    for (const i of imgs) expect(i.naturalWidth, i.alt).toBe(4);
    const missing = page.locator('.missing');
    expect(await missing.count()).toBe(1);
    expect(await missing.isVisible()).toBe(true);
    expect(await missing.textContent()).toContain('gallery/1_advPred.png');
    // The hostile class name is shown as text.
    expect(await page.locator('.legend').textContent()).toContain('<script>alert("class")</script>');
    await page.close();
  });
});
