#!/usr/bin/env bash
# Dev-time: trains the bundled shapes segmentation models (models/shapes-seg-{clean,at}.onnx) with
# robustscope's OWN trainer (`robustscope train`), measures each on the test split with PGD (20
# iterations, the CLI's baseline attack) and writes models/shapes-seg-<mode>.{onnx,json}.
#
#   bash tools/demo-models/train.sh clean     # clean cross-entropy, 30 epochs
#   bash tools/demo-models/train.sh at        # 100% adversarial batches, PGD-CE 4/255, 3 steps, 40 epochs
#
# Recipe: compact-skip (full-resolution stem, one-skip decoder: the shapes are a few pixels wide, so an
# output-stride-8 decoder blurs them), 2000 training images (seed 1), held-out 200 (seed 2, every 5 epochs,
# first 100), test 200 (seed 3 = the demo's test set); AdamW lr 3e-3, wd 1e-4, poly schedule after one
# epoch of warm-up, batch 16, flips only (the shapes are already at many scales; no blur).
# Env: WORK (default tmp/demo-models), THREADS (default 2), EPOCHS (override).
set -euo pipefail
cd "$(dirname "$0")/../.."
mode=${1:?usage: bash tools/demo-models/train.sh clean|at}
WORK=${WORK:-tmp/demo-models}
THREADS=${THREADS:-2}
RS="node bin/robustscope.js"
[ -d "$WORK/data/test" ] || node tools/demo-models/gen-data.mjs "$WORK/data"
COMMON=(--arch compact-skip --data "$WORK/data/train" --val "$WORK/data/val" --batch 16 --lr 3e-3 --weight-decay 1e-4
  --aug-scale 1,1 --no-blur --eval-every 5 --eval-limit 100 --eval-eps 4 --threads "$THREADS" --seed 0 --quiet)
case "$mode" in
  clean) args=(--epochs "${EPOCHS:-30}") ;;
  at) args=(--epochs "${EPOCHS:-40}" --adv pgd:eps=4,steps=3,step=0.0131) ;;
  *) echo "unknown mode '$mode' (clean|at)" >&2; exit 2 ;;
esac
/usr/bin/time -f '{"wallSeconds": %e, "peakRssKiB": %M}' -o "$WORK/$mode.time.json" \
  $RS train "${COMMON[@]}" "${args[@]}" --out "$WORK/$mode"
$RS attack --model "$WORK/$mode/model.onnx" --data "$WORK/data/test" --attack pgd --iters 20 --eps 1,2,4,8 \
  --threads "$THREADS" --quiet --out "$WORK/$mode-test"
cp "$WORK/$mode/model.onnx" "models/shapes-seg-$mode.onnx"
node tools/demo-models/write-meta.mjs "$mode" "$WORK" "bash tools/demo-models/train.sh $*"
