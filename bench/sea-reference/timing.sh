#!/usr/bin/env bash
# SEA wall time, robustscope vs the reference, side by side: the same model (the bundled clean demo
# model, rebuilt in PyTorch for the reference), the same 8 images (one batch), eps 4/255, 300 iterations
# per loss (90/90/120 PRR) x 3 losses, 2 threads each; R rounds, the two tools alternating, each run a
# fresh process. Reports the attack's seconds per image (model load and compilation excluded on both
# sides: each tool's own per-attack timer) and peak RSS of the whole process.
# Usage: REFERENCE=/tmp/rs bash bench/sea-reference/timing.sh [ROUNDS]   (after run.sh has prepared tmp/)
set -euo pipefail
cd "$(dirname "$0")/../.."
REFERENCE=${REFERENCE:-/tmp/rs}
ROUNDS=${1:-2}
WORK=${WORK:-tmp/sea-reference}
OUT=bench/sea-reference/results/timing
mkdir -p "$OUT"
RS="node bin/robustscope.js"
data="$WORK/test-noignore"
node tools/sea-reference/dump-model.mjs models/shapes-seg-clean.onnx "$WORK/dump-clean" >/dev/null
for r in $(seq 1 "$ROUNDS"); do
  /usr/bin/python3 tools/sea-reference/run_reference.py --reference "$REFERENCE" --model-dump "$WORK/dump-clean" \
    --data "$data" --class-weights "$WORK/weights.json" --eps 4 --iters 300 --batch 8 --limit 8 --threads 2 \
    --out "$OUT/reference-$r.json" >/dev/null
  rm -rf "$WORK/timing-rs"
  /usr/bin/time -f '%M' -o "$OUT/robustscope-$r.rss" $RS attack --model models/shapes-seg-clean.onnx --data "$data" \
    --eps 4 --iters 300 --batch 8 --limit 8 --threads 2 --seed 0 --class-weights "$WORK/weights.json" --quiet --out "$WORK/timing-rs"
  cp "$WORK/timing-rs/results.json" "$OUT/robustscope-$r.json"
done
node -e '
const fs = require("fs"); const dir = process.argv[1]; const R = Number(process.argv[2]);
const rows = []; const ratios = [];
for (let r = 1; r <= R; r++) {
  const ref = JSON.parse(fs.readFileSync(`${dir}/reference-${r}.json`));
  const rs = JSON.parse(fs.readFileSync(`${dir}/robustscope-${r}.json`));
  const refS = ref.eps["4"].seconds / ref.images;
  const rsS = Object.values(rs.byEps[0].attacks).reduce((s, a) => s + a.seconds, 0) / rs.images;
  const rss = Number(fs.readFileSync(`${dir}/robustscope-${r}.rss`, "utf8")) / 1024;
  ratios.push(rsS / refS);
  rows.push(`| ${r} | ${refS.toFixed(2)} | ${rsS.toFixed(2)} | ${(rsS / refS).toFixed(2)} | ${ref.peakRssMiB.toFixed(0)} | ${rss.toFixed(0)} |`);
}
ratios.sort((a, b) => a - b);
console.log(["| round | reference s/image | robustscope s/image | ratio | reference peak RSS MiB | robustscope peak RSS MiB |", "|---|---|---|---|---|---|", ...rows].join("\n"));
console.log(`\nmedian ratio robustscope / reference: ${ratios[Math.floor(ratios.length / 2)].toFixed(2)} (${R} rounds; load average at the end ${require("os").loadavg()[0].toFixed(1)})`);
' "$OUT" "$ROUNDS" | tee bench/sea-reference/timing.md
