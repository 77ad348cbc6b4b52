#!/usr/bin/env bash
# PIR-AT in miniature (pirat.md "What robustscope must show"), everything trained by robustscope itself:
#   (a) clean training;  (b) AT from a random init;  (c) PIR-AT: encoder from a classifier that
#   robustscope adversarially trained on the shapes CLASSIFICATION task, decoder random.
# Same architecture (resnet-tiny-fcn; its encoder = resnet-tiny-cls), data, recipe (AdamW lr 3e-3, wd 1e-2, poly, 1 epoch warm-up,
# batch 8, 64x64 crops, scale augmentation 0.75-1.5 (not 0.5-2: a CPU-sized run sees few images), 100% adversarial PGD-CE 4/255, 2 steps of 0.01, zero init), held-out split
# evaluated every 2 epochs (clean + PGD-10 4/255); final SEA (300 iterations, eccv) on the test split.
# Usage: bash bench/pirat/run.sh [EPOCHS_AT] [EPOCHS_CLEAN] [EPOCHS_CLS]   (writes bench/pirat/results/)
set -euo pipefail
cd "$(dirname "$0")/../.."
EAT=${1:-8}
ECLEAN=${2:-8}
ECLS=${3:-12}
WORK=${WORK:-tmp/pirat}
OUT=${OUT:-bench/pirat/results}
ITERS=${ITERS:-300}
THREADS=${THREADS:-2}
mkdir -p "$WORK" "$OUT"
RS="node bin/robustscope.js"
[ -d "$WORK/train" ] || $RS data shapes --out "$WORK/train" --n 1000 --size 64 --seed 1 --quiet
[ -d "$WORK/val" ] || $RS data shapes --out "$WORK/val" --n 64 --size 64 --seed 2 --quiet
[ -d "$WORK/test" ] || $RS data shapes --out "$WORK/test" --n 32 --size 64 --seed 3 --quiet
[ -d "$WORK/cls" ] || $RS data shapes --task classification --out "$WORK/cls" --n 2000 --size 64 --seed 11 --quiet
[ -d "$WORK/cls-val" ] || $RS data shapes --task classification --out "$WORK/cls-val" --n 200 --size 64 --seed 12 --quiet
COMMON=(--arch resnet-tiny-fcn --data "$WORK/train" --val "$WORK/val" --batch 8 --eval-every 1 --eval-eps 4 --eval-steps 10 --lr 3e-3 --aug-scale 0.75,1.5 --threads "$THREADS" --seed 0)
t() { /usr/bin/time -f '{"wallSeconds": %e, "peakRssKiB": %M}' -o "$OUT/$1.time.json" "${@:2}"; }
t a-clean $RS train "${COMMON[@]}" --epochs "$ECLEAN" --out "$WORK/a-clean"
t b-at $RS train "${COMMON[@]}" --epochs "$EAT" --adv pgd:eps=4,steps=2,step=0.01 --out "$WORK/b-at"
t c-cls $RS train --task classification --arch resnet-tiny-cls --data "$WORK/cls" --val "$WORK/cls-val" --batch 32 --epochs "$ECLS" \
  --adv pgd:eps=4,steps=2,step=0.01 --eval-every 2 --eval-steps 10 --lr 3e-3 --warmup 0 --aug-scale 1,1 --no-blur --threads "$THREADS" --seed 0 --out "$WORK/c-cls"
t c-pirat $RS train "${COMMON[@]}" --epochs "$EAT" --adv pgd:eps=4,steps=2,step=0.01 --init-encoder "$WORK/c-cls/model.onnx" --out "$WORK/c-pirat"
for r in a-clean b-at c-cls c-pirat; do cp "$WORK/$r/train.json" "$OUT/$r.train.json"; done
$RS class-weights --data "$WORK/train" --out "$WORK/weights.json" >/dev/null
for r in a-clean b-at c-pirat; do
  t "sea-$r" $RS attack --model "$WORK/$r/model.onnx" --data "$WORK/test" --eps 1,2,4 --iters "$ITERS" --batch 8 \
    --class-weights "$WORK/weights.json" --threads "$THREADS" --quiet --out "$WORK/sea-$r"
  cp "$WORK/sea-$r/results.json" "$OUT/sea-$r.results.json"
done
node bench/pirat/table.mjs "$OUT" > "$OUT/../results.md"
cat "$OUT/../results.md"
