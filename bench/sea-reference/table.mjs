// Builds bench/sea-reference/results.md from the JSON files run.sh writes (results/).
// Usage: node bench/sea-reference/table.mjs bench/sea-reference/results
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const dir = process.argv[2];
const read = (f) => JSON.parse(readFileSync(join(dir, f), 'utf8'));
const pct = (v) => (100 * v).toFixed(1);
const LOSSES = ['mask-ce-bal', 'mask-ce-avg', 'js-avg'];
const lines = [];
const timing = [];
let first;
for (const variant of ['noignore', 'ignore']) {
  for (const m of ['clean', 'at']) {
    const tag = `${m}-${variant}`;
    if (!existsSync(join(dir, `reference-${tag}.json`)) || !existsSync(join(dir, `robustscope-${tag}.json`))) continue;
    const ref = read(`reference-${tag}.json`);
    const rs = read(`robustscope-${tag}.json`);
    const rss = read(`robustscope-${tag}.rss.json`).peakRssKiB / 1024;
    first ??= { ref, rs };
    for (const r of rs.byEps) {
      const e = ref.eps[String(r.eps)];
      if (!e) continue;
      const w = r.worst;
      const dAcc = 100 * (w.acc - e.worst.meanImageAcc);
      const dIoU = 100 * (w.mIoU - e.worst.mIoU);
      const ok = dAcc <= 1.0 && dIoU <= 1.0 ? 'yes' : 'NO';
      const single = (get) => LOSSES.map(get).join(' / ');
      lines.push(
        `| ${m} | ${variant === 'ignore' ? '1 px ignore band' : 'no ignore'} | ${r.eps} | ${pct(e.worst.meanImageAcc)} / ${pct(e.worst.mIoU)} | ${pct(w.acc)} / ${pct(w.mIoU)} | ${dAcc >= 0 ? '+' : ''}${dAcc.toFixed(1)} / ${dIoU >= 0 ? '+' : ''}${dIoU.toFixed(1)} | ${ok} | ${single((l) => pct(e.perAttack[l].mIoU))} | ${single((l) => pct(r.attacks[`apgd-prr:${l}`].mIoU))} |`,
      );
      const rsSec = LOSSES.reduce((s, l) => s + r.attacks[`apgd-prr:${l}`].seconds, 0);
      timing.push(
        `| ${m} | ${variant} | ${r.eps} | ${(e.seconds / ref.images).toFixed(2)} | ${(rsSec / rs.images).toFixed(2)} | ${(rsSec / e.seconds).toFixed(2)} | ${ref.peakRssMiB.toFixed(0)} | ${rss.toFixed(0)} |`,
      );
    }
  }
}
const clean = first ? `clean model on these images: aAcc ${pct(first.ref.clean.aAcc)} (reference rebuild) / ${pct(first.rs.clean.aAcc)} (robustscope)` : '';
console.log(`# SEA: robustscope vs the reference implementation

Reference: nmndeep/Robust-Segmentation \`semseg/attacker.py\` (\`apgd_largereps\` over \`apgd_train\`, losses
mask-ce-bal, mask-ce-avg, js-avg, \`use_rs=True\`, track loss ce-avg, early stop), driven like its
\`tools/infer.py\`, worst-case mIoU by its \`tools/worse_only.py\` search; run at dev time with Debian's
PyTorch ${first?.ref.torch ?? ''} on the SAME ONNX weights (rebuilt from an ONNX dump by a small PyTorch interpreter, now tools/train-bench/onnx_torch_train.py; logits checked
against robustscope's to < 1e-4). robustscope: \`robustscope attack\` (SEA eccv). Both: ${first?.ref.images ?? '?'} test images of
\`robustscope data shapes --n 32 --size 64 --seed 3\`, class weights from a 200-image training split (seed 1),
${first?.ref.iters ?? '?'} iterations per loss (90/90/120 PRR), batch 8, seed 0, 2 threads, linf.
${clean}

Command: \`REFERENCE=/tmp/rs bash bench/sea-reference/run.sh\` (REFERENCE = a checkout of the reference;
raw JSON in results/).

## Accuracy (acc = mean over images of the worst per-image pixel accuracy; %)
Acceptance: robustscope's SEA acc and mIoU at most 1.0 point above the reference's (lower = stronger attack).

| model | labels | eps (/255) | reference acc / mIoU | robustscope acc / mIoU | diff (pt) | within +1.0 | reference mIoU per loss (bal / avg / js) | robustscope mIoU per loss |
|---|---|---|---|---|---|---|---|---|
${lines.join('\n')}

With the ignore band the reference is handicapped by the defect sea.md describes (ignore pixels count
as correct inside its loop, not at the start), so its returned points rarely move; the no-ignore rows
are the like-for-like comparison.

## Wall time (SEA = 3 losses x 300 iterations; seconds per image; peak RSS of the whole process, MiB)

| model | labels | eps | reference s/img | robustscope s/img | ratio | reference RSS | robustscope RSS |
|---|---|---|---|---|---|---|---|
${timing.join('\n')}

Early stop (every image of a batch at 0 accuracy) makes the iteration count depend on the attack's
progress, so rows where one tool stops earlier are not pure speed comparisons.`);
