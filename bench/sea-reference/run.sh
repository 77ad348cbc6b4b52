#!/usr/bin/env bash
# robustscope SEA vs the reference SEA (nmndeep/Robust-Segmentation) on the bundled demo models:
# same ONNX weights (rebuilt in PyTorch by tools/train-bench/onnx_torch_train.py, logits checked), same
# 32 test images, same class weights, eps 1/4/8 /255, 300 iterations, batch 8, 2 threads each. The two
# tools run one after the other per model (side by side on the same machine state).
# Dev time only: needs Debian's python3-torch and a checkout of the reference at $REFERENCE
# (e.g. git archive of the fetched mirror into /tmp/rs). Writes bench/sea-reference/results/.
# Usage: REFERENCE=/tmp/rs bash bench/sea-reference/run.sh [ITERS] [EPS]
set -euo pipefail
cd "$(dirname "$0")/../.."
REFERENCE=${REFERENCE:-/tmp/rs}
ITERS=${1:-300}
EPS=${2:-1,4,8}
WORK=${WORK:-tmp/sea-reference}
OUT=bench/sea-reference/results
mkdir -p "$WORK" "$OUT"
npx tsc -p tsconfig.build.json
RS="node bin/robustscope.js"
[ -d "$WORK/test" ] || $RS data shapes --out "$WORK/test" --n 32 --size 64 --seed 3 --quiet
[ -d "$WORK/train" ] || $RS data shapes --out "$WORK/train" --n 200 --size 64 --seed 1 --quiet
$RS class-weights --data "$WORK/train" --out "$WORK/weights.json" >/dev/null
# The shapes data has a 1 px ignore band (255) on every boundary. The reference counts ignore pixels
# as correct inside its APGD loop but not at the initial point (sea.md), which cripples it on such data;
# the 'noignore' variant relabels the band as background so both tools attack the same problem.
if [ ! -d "$WORK/test-noignore" ]; then
  cp -r "$WORK/test" "$WORK/test-noignore"
  /usr/bin/python3 -c "
import glob, numpy as np
from PIL import Image
for f in glob.glob('$WORK/test-noignore/labels/*.png'):
    a = np.asarray(Image.open(f)).copy(); a[a == 255] = 0; Image.fromarray(a).save(f)"
fi
for variant in noignore ignore; do
  data="$WORK/test"; [ "$variant" = noignore ] && data="$WORK/test-noignore"
  for m in clean at; do
    tag=$m-$variant
    model=models/shapes-seg-$m.onnx
    node tools/sea-reference/dump-model.mjs "$model" "$WORK/dump-$m" >/dev/null
    /usr/bin/python3 tools/sea-reference/run_reference.py --reference "$REFERENCE" --model-dump "$WORK/dump-$m" \
      --data "$data" --class-weights "$WORK/weights.json" --eps "$EPS" --iters "$ITERS" --batch 8 \
      --threads 2 --dump-logits "$WORK/logits-$m.npy" --out "$OUT/reference-$tag.json"
    node tools/sea-reference/check-logits.mjs "$model" "$data" "$WORK/logits-$m.npy"
    rm -rf "$WORK/rs-$tag"
    /usr/bin/time -f '%M' -o "$WORK/rs-$tag.rss" $RS attack --model "$model" --data "$data" --eps "$EPS" \
      --iters "$ITERS" --batch 8 --threads 2 --seed 0 --class-weights "$WORK/weights.json" --quiet --out "$WORK/rs-$tag"
    cp "$WORK/rs-$tag/results.json" "$OUT/robustscope-$tag.json"
    echo "{\"peakRssKiB\": $(cat "$WORK/rs-$tag.rss")}" > "$OUT/robustscope-$tag.rss.json"
  done
done
node bench/sea-reference/table.mjs "$OUT" > bench/sea-reference/results.md
cat bench/sea-reference/results.md
