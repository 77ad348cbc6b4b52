// Results objects built in code for the report tests: a small one full of hostile strings, and a
// realistic-looking demo (shapes dataset, accuracy decaying with the radius, generated gallery PNGs).
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { AttackMetrics, EpsResult, GalleryItem, Metrics, Results, RunConfig } from '../../src/eval/schema.js';
import { rng } from '../harness/rng.js';
import { encodePng } from './png.js';

export const HOSTILE = {
  model: '/models/<script>alert("model")</script>.onnx',
  cls: '<script>alert("class")</script>',
  attack: '<img src=x onerror=alert(1)>',
  id: '"><script>alert("id")</script>',
} as const;

function config(over: { path: string; attacks: string[]; eps: number[]; kind?: RunConfig['attack']['kind']; iters?: number }): RunConfig {
  return {
    model: { path: over.path, sha256: 'ab12cd34ef56ab12cd34ef56ab12cd34ef56ab12cd34ef56ab12cd34ef56ab12' },
    data: { format: 'folder', root: 'data/shapes/test', size: 96, ignoreIndex: 255 },
    attack: {
      kind: over.kind ?? 'sea',
      ensemble: 'eccv',
      attacks: over.attacks,
      norm: 'linf',
      eps: over.eps,
      epsUnit: '1/255',
      iters: over.iters ?? 300,
      batch: 8,
      seed: 0,
      earlyStop: true,
      miouSearch: 'search',
    },
  };
}

function metrics(images: number, aAcc: number, mAcc: number, mIoU: number, meanImageAcc: number, perClassIoU: (number | null)[]): Metrics {
  return { images, aAcc, mAcc, mIoU, meanImageAcc, perClassIoU, perClassAcc: perClassIoU.map((v) => (v === null ? null : Math.min(1, v + 0.05))) };
}

function tinyPng(r: number, g: number, b: number): Buffer {
  const px = new Uint8Array(4 * 4 * 3);
  for (let i = 0; i < 16; i++) px.set([r, g, b], 3 * i);
  return encodePng(4, 4, px);
}

const PANELS = ['image', 'adversarial', 'perturbation', 'label', 'cleanPred', 'advPred'] as const;

/**
 * 2 radii, 3 attacks + worst case, 4 classes (one named with a script tag), 2 gallery items whose
 * PNGs are written to `dir`, except the second item's adversarial prediction (missing on purpose).
 * Values are chosen so each formatted percentage appears once in the metrics table.
 */
export function hostileResults(dir: string): Results {
  const attacks = ['apgd-prr:mask-ce-bal', HOSTILE.attack, 'apgd-prr:js-avg'];
  const am = (base: number, seconds: number): AttackMetrics => ({
    ...metrics(10, base + 0.001, base + 0.002, base + 0.003, base + 0.004, [base, base + 0.01, null, base + 0.02]),
    seconds,
  });
  const byEps: EpsResult[] = [
    {
      eps: 4,
      epsAbs: 4 / 255,
      attacks: { [attacks[0]]: am(0.61, 12.5), [attacks[1]]: am(0.62, 13), [attacks[2]]: am(0.63, 14) },
      worst: {
        ...metrics(10, 0.511, 0.512, 0.513, 0.514, [0.5, 0.51, null, 0.52]),
        acc: 0.514,
        mIoUMethod: 'search',
        winnersAcc: { [attacks[0]]: 6, [attacks[1]]: 4, [attacks[2]]: 0 },
        winnersMIoU: { [attacks[0]]: 5, [attacks[1]]: 5, [attacks[2]]: 0 },
      },
    },
    {
      eps: 8,
      epsAbs: 8 / 255,
      attacks: { [attacks[0]]: am(0.31, 20), [attacks[1]]: am(0.32, 21), [attacks[2]]: am(0.33, 22) },
      worst: {
        ...metrics(10, 0.211, 0.212, 0.213, 0.214, [0.2, 0.21, null, 0.22]),
        acc: 0.214,
        mIoUMethod: 'greedy',
        winnersAcc: { [attacks[0]]: 3, [attacks[1]]: 7 },
        winnersMIoU: { [attacks[0]]: 3, [attacks[1]]: 7 },
      },
    },
  ];
  const galleryDir = join(dir, 'gallery');
  mkdirSync(galleryDir, { recursive: true });
  const gallery: GalleryItem[] = [0, 1].map((k) => {
    const files = Object.fromEntries(PANELS.map((p) => [p, `gallery/${k}_${p}.png`])) as GalleryItem['files'];
    PANELS.forEach((p, j) => {
      if (!(k === 1 && p === 'advPred')) writeFileSync(join(dir, files[p]), tinyPng(40 * j, 200 - 30 * j, 100 + k * 50));
    });
    return { index: k, id: k === 0 ? HOSTILE.id : 'img_0001', eps: 8, attack: HOSTILE.attack, cleanAcc: 0.9876, advAcc: 0.0123, files };
  });
  return {
    schema: 'robustscope/results',
    version: 1,
    createdAt: '2025-01-02T03:04:05.000Z',
    robustscopeVersion: '0.1.0',
    config: config({ path: HOSTILE.model, attacks, eps: [4, 8] }),
    classes: {
      names: ['background', 'circle', HOSTILE.cls, 'square'],
      palette: [
        [0, 0, 0],
        [230, 25, 75],
        [60, 180, 75],
        [0, 130, 200],
      ],
    },
    images: 10,
    clean: metrics(10, 0.911, 0.912, 0.913, 0.914, [0.9, 0.91, null, 0.92]),
    byEps,
    gallery,
    seconds: 102.5,
  };
}

// ---------------------------------------------------------------------------------------------
// Realistic demo: the shapes dataset, a clean-trained and an adversarially trained model.

export const SHAPE_CLASSES = ['background', 'circle', 'square', 'triangle', 'cross', 'ring'];
export const SHAPE_PALETTE: [number, number, number][] = [
  [38, 38, 46],
  [230, 73, 73],
  [66, 135, 245],
  [245, 196, 52],
  [72, 186, 110],
  [176, 96, 220],
];
const IGNORE = 255;
const DEMO_EPS = [0.25, 0.5, 1, 2, 4, 8];
const SEA = ['apgd-prr:mask-ce-bal', 'apgd-prr:mask-ce-avg', 'apgd-prr:js-avg'];

interface Scene {
  image: Float32Array;
  label: Uint8Array;
}

function inside(cls: number, x: number, y: number, cx: number, cy: number, r: number): boolean {
  const dx = x - cx;
  const dy = y - cy;
  switch (cls) {
    case 1:
      return dx * dx + dy * dy <= r * r;
    case 2:
      return Math.abs(dx) <= r * 0.85 && Math.abs(dy) <= r * 0.85;
    case 3:
      return dy <= r * 0.8 && dy >= -r && Math.abs(dx) <= (dy + r) * 0.6;
    case 4:
      return (Math.abs(dx) <= r && Math.abs(dy) <= r * 0.3) || (Math.abs(dy) <= r && Math.abs(dx) <= r * 0.3);
    default: {
      const d = Math.sqrt(dx * dx + dy * dy);
      return d <= r && d >= r * 0.55;
    }
  }
}

/** A textured background with 3 shapes; colours overlap between classes so only shape tells them apart. */
function scene(seed: number, S: number): Scene {
  const r = rng(seed);
  const image = new Float32Array(S * S * 3);
  const label = new Uint8Array(S * S);
  const g = [0.35 + 0.3 * r(), 0.35 + 0.3 * r(), 0.35 + 0.3 * r()];
  const fx = 0.05 + 0.1 * r();
  for (let y = 0; y < S; y++)
    for (let x = 0; x < S; x++) {
      const t = 0.08 * Math.sin(fx * x + 0.7 * Math.sin(0.11 * y)) + 0.06 * (r() - 0.5);
      for (let c = 0; c < 3; c++) image[3 * (y * S + x) + c] = g[c] + t + 0.1 * (y / S - 0.5);
    }
  for (let k = 0; k < 3; k++) {
    const cls = 1 + Math.floor(r() * 5);
    const rad = S * (0.12 + 0.08 * r());
    const cx = rad + r() * (S - 2 * rad);
    const cy = rad + r() * (S - 2 * rad);
    const col = [0.2 + 0.7 * r(), 0.2 + 0.7 * r(), 0.2 + 0.7 * r()];
    for (let y = 0; y < S; y++)
      for (let x = 0; x < S; x++) {
        if (!inside(cls, x, y, cx, cy, rad)) continue;
        const p = y * S + x;
        label[p] = cls;
        const shade = 0.05 * (r() - 0.5) - 0.08 * ((x - cx) / rad);
        for (let c = 0; c < 3; c++) image[3 * p + c] = col[c] + shade;
      }
  }
  // Ignore band on boundaries, as in the shapes data.
  const band = label.slice();
  for (let y = 1; y < S - 1; y++)
    for (let x = 1; x < S - 1; x++) {
      const p = y * S + x;
      if (label[p - 1] !== label[p] || label[p - S] !== label[p]) band[p] = IGNORE;
    }
  return { image, label: band };
}

/** Smooth noise in [0,1] from a few random sinusoids (stands in for adversarial structure). */
function smooth(r: () => number, S: number): Float32Array {
  const out = new Float32Array(S * S);
  const waves = Array.from({ length: 5 }, () => [0.03 + 0.12 * r(), 0.03 + 0.12 * r(), 6.28 * r()]);
  for (let y = 0; y < S; y++) for (let x = 0; x < S; x++) out[y * S + x] = 0.5 + 0.1 * waves.reduce((s, [a, b, ph]) => s + Math.sin(a * x + b * y + ph), 0);
  return out;
}

function toPng(S: number, f: (p: number, c: number) => number): Buffer {
  const px = new Uint8Array(S * S * 3);
  for (let p = 0; p < S * S; p++) for (let c = 0; c < 3; c++) px[3 * p + c] = Math.max(0, Math.min(255, Math.round(255 * f(p, c))));
  return encodePng(S, S, px);
}

function mapPng(S: number, m: Uint8Array): Buffer {
  return toPng(S, (p, c) => (m[p] === IGNORE ? 1 : SHAPE_PALETTE[m[p]][c] / 255));
}

function accuracy(pred: Uint8Array, label: Uint8Array): number {
  let ok = 0;
  let n = 0;
  for (let p = 0; p < label.length; p++) {
    if (label[p] === IGNORE) continue;
    n++;
    if (pred[p] === label[p]) ok++;
  }
  return n ? ok / n : 0;
}

function galleryItem(dir: string, index: number, eps: number, attack: string, strength: number, seed: number): GalleryItem {
  const S = 96;
  const { image, label } = scene(seed, S);
  const r = rng(seed * 7 + 1);
  const blobs = smooth(r, S);
  const clean = new Uint8Array(S * S);
  const adv = new Uint8Array(S * S);
  const wrong = 1 + Math.floor(r() * 5);
  for (let p = 0; p < S * S; p++) {
    const y = label[p] === IGNORE ? 0 : label[p];
    clean[p] = blobs[p] > 0.78 && y !== 0 ? 0 : y;
    // Stronger attacks flip larger low-frequency regions to a wrong class.
    adv[p] = blobs[p] < strength ? (y === wrong ? 0 : wrong) : y;
  }
  const delta = new Float32Array(S * S * 3);
  const e = eps / 255;
  for (let i = 0; i < delta.length; i++) delta[i] = (r() < 0.5 ? -e : e) * (0.6 + 0.4 * blobs[Math.floor(i / 3)]);
  const base = `gallery/${String(index).padStart(4, '0')}`;
  const files = {
    image: `${base}_image.png`,
    adversarial: `${base}_eps${eps}_adv.png`,
    perturbation: `${base}_eps${eps}_delta.png`,
    label: `${base}_label.png`,
    cleanPred: `${base}_pred.png`,
    advPred: `${base}_eps${eps}_advpred.png`,
  };
  mkdirSync(join(dir, 'gallery'), { recursive: true });
  writeFileSync(
    join(dir, files.image),
    toPng(S, (p, c) => image[3 * p + c]),
  );
  writeFileSync(
    join(dir, files.adversarial),
    toPng(S, (p, c) => image[3 * p + c] + delta[3 * p + c]),
  );
  writeFileSync(
    join(dir, files.perturbation),
    toPng(S, (p, c) => 0.5 + (0.5 * delta[3 * p + c]) / e),
  );
  writeFileSync(join(dir, files.label), mapPng(S, label));
  writeFileSync(join(dir, files.cleanPred), mapPng(S, clean));
  writeFileSync(join(dir, files.advPred), mapPng(S, adv));
  return { index, id: `shapes_${String(index).padStart(4, '0')}`, eps, attack, cleanAcc: accuracy(clean, label), advAcc: accuracy(adv, label), files };
}

/**
 * A realistic results file for the shapes demo: `robust` picks the adversarially trained model
 * (lower clean accuracy, slow decay) over the clean one (collapses at small radii).
 */
export function demoResults(dir: string, robust: boolean): Results {
  const clean0 = robust ? 0.874 : 0.951;
  const scale = robust ? 5.5 : 0.45;
  const decay = (eps: number) => 1 / (1 + (eps / scale) ** 1.6);
  const classEase = [1.05, 0.95, 1.0, 0.85, 0.9, 0.8];
  const perClass = (f: number) => classEase.map((k) => Math.max(0, Math.min(1, (robust ? 0.78 : 0.9) * k * f ** (1 / k))));
  const meanOf = (v: number[]) => v.reduce((s, x) => s + x, 0) / v.length;
  const m = (f: number, images = 64): Metrics => {
    const iou = perClass(f);
    return metrics(images, Math.min(1, clean0 * f * 1.02 + 0.01 * (1 - f)), clean0 * f * 0.97, meanOf(iou), clean0 * f, iou);
  };
  const byEps: EpsResult[] = DEMO_EPS.map((eps, k) => {
    const f = decay(eps);
    const attacks: Record<string, AttackMetrics> = {};
    SEA.forEach((a, j) => {
      // Each single attack is a little weaker than the per-image worst case.
      const fa = Math.min(1, f + (1 - f) * [0.1, 0.05, 0.16][j] + 0.01 * j);
      attacks[a] = { ...m(fa), seconds: (robust ? 31 : 24) * (1 + 0.1 * k) + 3 * j };
    });
    const w = m(f);
    return {
      eps,
      epsAbs: eps / 255,
      attacks,
      worst: {
        ...w,
        acc: w.meanImageAcc,
        mIoUMethod: 'search',
        winnersAcc: { [SEA[0]]: 27, [SEA[1]]: 29, [SEA[2]]: 8 },
        winnersMIoU: { [SEA[0]]: 25, [SEA[1]]: 31, [SEA[2]]: 8 },
      },
    };
  });
  const rows = robust ? [0, 1] : [0, 1, 2];
  const galleryEps = robust ? 8 : 1;
  const gallery = rows.map((i) => galleryItem(dir, i, galleryEps, SEA[i % 3], robust ? 0.25 : 0.55, 11 + i * 5));
  const seconds = byEps.reduce((s, e) => s + Object.values(e.attacks).reduce((t, a) => t + a.seconds, 0), 0);
  return {
    schema: 'robustscope/results',
    version: 1,
    createdAt: robust ? '2025-06-01T10:42:13.000Z' : '2025-06-01T10:31:02.000Z',
    robustscopeVersion: '0.1.0',
    config: config({ path: robust ? 'models/shapes-unet-pirat.onnx' : 'models/shapes-unet-clean.onnx', attacks: SEA, eps: DEMO_EPS, iters: 100 }),
    classes: { names: SHAPE_CLASSES, palette: SHAPE_PALETTE },
    images: 64,
    clean: m(1),
    byEps,
    gallery,
    seconds,
  };
}

export function writeResults(dir: string, r: Results): string {
  mkdirSync(dir, { recursive: true });
  const path = join(dir, 'results.json');
  writeFileSync(path, `${JSON.stringify(r, null, 1)}\n`);
  return path;
}
