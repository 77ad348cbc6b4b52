// bench/pirat/results.md from the JSON files run.sh writes (results/).
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const dir = process.argv[2];
const read = (f) => (existsSync(join(dir, f)) ? JSON.parse(readFileSync(join(dir, f), 'utf8')) : undefined);
const pct = (v) => (v === undefined || v === null ? '–' : (100 * v).toFixed(1));
const runs = [
  ['a-clean', '(a) clean training'],
  ['b-at', '(b) AT from random init'],
  ['c-pirat', '(c) PIR-AT (encoder from robustscope-AT classifier)'],
];
const logs = Object.fromEntries(runs.map(([k]) => [k, read(`${k}.train.json`)]));
const cls = read('c-cls.train.json');
const time = (k) => read(`${k}.time.json`);
const bFinal = logs['b-at']?.evals.at(-1)?.adv.mIoU;
const target = bFinal === undefined ? undefined : 0.95 * bFinal;
const reach = (log) => log?.evals.find((e) => e.adv.mIoU >= target)?.epoch;

const lines = [];
lines.push('# PIR-AT in miniature: (a) clean, (b) AT, (c) PIR-AT — all trained by robustscope');
lines.push('');
const nEpochs = (log) => log?.epochs.length ?? '?';
lines.push(
  `Command: \`bash bench/pirat/run.sh ${nEpochs(logs['b-at'])} ${nEpochs(logs['a-clean'])} ${nEpochs(cls)}\` (epochs of AT and PIR-AT, clean, classifier). Data: \`robustscope data shapes\``,
);
lines.push('64x64, train 1000 images (seed 1), held-out 64 (seed 2, used for model selection curves), test 32 (seed 3, used only');
lines.push('for the final SEA); classifier pretraining on 2000 single-shape images (seed 11, held-out 200, seed 12).');
lines.push(
  'Architecture `resnet-tiny-fcn` (250k parameters; its encoder is that of `resnet-tiny-cls`) for all three; recipe of pirat.md with lr 3e-3 instead of 1e-3 (a CPU-sized run sees few images): AdamW wd 1e-2 (no decay',
);
lines.push('on norms/biases), poly 1.0 after 1 epoch of linear warm-up, batch 8, augmentation (flip, scale 0.75-1.5 instead of 0.5-2, pad, crop, blur),');
lines.push('100% adversarial batches PGD-CE eps 4/255, 2 steps of 0.01, zero init, model in eval mode while attacking.');
lines.push('2 onnxruntime threads on the 2-core machine (its load during the run: results.notes.md).');
lines.push('');
lines.push('## Training');
lines.push('');
lines.push('| run | epochs | wall time | held-out clean mIoU | held-out PGD-10 4/255 mIoU | first epoch with PGD mIoU >= 95% of (b) final | peak RSS MiB |');
lines.push('|---|---|---|---|---|---|---|');
if (cls) {
  const e = cls.evals.at(-1);
  const tt = time('c-cls');
  lines.push(
    `| classifier for (c): resnet-tiny-cls, AT 4/255 (batch 32, no scale/blur augmentation, no warm-up) | ${cls.epochs.length} | ${tt ? `${tt.wallSeconds.toFixed(0)} s` : '–'} | clean acc ${pct(e?.clean.acc)} | PGD-10 acc ${pct(e?.adv.acc)} | – | ${tt ? (tt.peakRssKiB / 1024).toFixed(0) : '–'} |`,
  );
}
for (const [k, name] of runs) {
  const l = logs[k];
  if (!l) continue;
  const e = l.evals.at(-1);
  const tt = time(k);
  lines.push(
    `| ${name} | ${l.epochs.length} | ${tt ? `${tt.wallSeconds.toFixed(0)} s` : `${l.seconds.toFixed(0)} s`} | ${pct(e?.clean.mIoU)} | ${pct(e?.adv.mIoU)} | ${k === 'a-clean' ? '–' : (reach(l) ?? 'not reached')} | ${tt ? (tt.peakRssKiB / 1024).toFixed(0) : '–'} |`,
  );
}
const bReach = reach(logs['b-at']);
const cReach = reach(logs['c-pirat']);
if (bReach !== undefined && cReach !== undefined) {
  lines.push('');
  lines.push(
    `(c) first reaches 95% of (b)'s final held-out PGD mIoU (${pct(target)}%) at epoch ${cReach}, (b) itself at epoch ${bReach}: ${(bReach / cReach).toFixed(1)}x fewer epochs (the classifier's epochs come on top; see results.notes.md).`,
  );
}
lines.push('');
lines.push('## Held-out robust mIoU (PGD-10, 4/255) during training');
lines.push('');
const epochs = [...new Set(runs.flatMap(([k]) => logs[k]?.evals.map((e) => e.epoch) ?? []))].sort((a, b) => a - b);
lines.push(`| epoch | ${runs.map(([, n]) => n).join(' | ')} |`);
lines.push(`|---|${runs.map(() => '---').join('|')}|`);
for (const ep of epochs)
  lines.push(
    `| ${ep} | ${runs
      .map(([k]) => {
        const e = logs[k]?.evals.find((v) => v.epoch === ep);
        return e ? `${pct(e.clean.mIoU)} / ${pct(e.adv.mIoU)}` : '';
      })
      .join(' | ')} |`,
  );
lines.push('');
lines.push('(clean / PGD mIoU, %)');
lines.push('');
lines.push('## SEA on the test split (300 iterations, eccv ensemble; acc = mean per-image accuracy; %)');
lines.push('');
const sea = Object.fromEntries(runs.map(([k]) => [k, read(`sea-${k}.results.json`)]));
const eps = sea['b-at']?.byEps.map((e) => e.eps) ?? sea['a-clean']?.byEps.map((e) => e.eps) ?? [];
lines.push(`| run | clean acc / mIoU | ${eps.map((e) => `SEA ${e}/255 acc / mIoU`).join(' | ')} | SEA wall time |`);
lines.push(`|---|---|${eps.map(() => '---').join('|')}|---|`);
for (const [k, name] of runs) {
  const r = sea[k];
  if (!r) continue;
  const tt = time(`sea-${k}`);
  lines.push(
    `| ${name} | ${pct(r.clean.aAcc)} / ${pct(r.clean.mIoU)} | ${r.byEps.map((e) => `${pct(e.worst.acc)} / ${pct(e.worst.mIoU)}`).join(' | ')} | ${tt ? `${tt.wallSeconds.toFixed(0)} s` : '–'} |`,
  );
}
console.log(lines.join('\n'));
