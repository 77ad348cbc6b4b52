#!/usr/bin/env bash
# Training-step benchmark (issue 5): one PIR-AT training step (PGD-CE attack, eps 4/255, 2 steps of 0.01,
# zero init, eval mode; training-mode forward, batch-mean CE + 0.4 * aux CE, backward; AdamW lr 1e-3
# wd 1e-2) of robustscope vs the SAME model and recipe in PyTorch eager, side by side, same threads.
# Writes bench/train-step/results.md (the table) and bench/train-step/results.json (every timing).
#
#   bench/train-step/run.sh [--rounds 3] [--reps 10] [--warmup 3] [--threads 2] [--batch 8] [--size 64]
#                           [--nice N] [--name results] [arch ...]
#
# --nice N runs every worker under `nice -n N` (negative: ahead of other jobs on a shared machine; needs root);
# --name NAME writes bench/train-step/NAME.md and NAME.json instead of results.md / results.json.
#
# Default archs: resnet-tiny-fcn resnet-tiny-upernet convnext-tiny-upernet (buildArch, seed 0, 6 classes).
# Needs a built dist/ (npm run build), /usr/bin/python3 with torch, numpy and PIL. Per round and arch three
# fresh processes run one after the other, in alternating order: robustscope, PyTorch, and PyTorch with
# glibc told to keep freed memory (MALLOC_MMAP_THRESHOLD_/MALLOC_TRIM_THRESHOLD_, see bench/results/engine.md
# on this VM's page-fault tax). The PyTorch runs first check their eval-mode logits against robustscope's.
set -euo pipefail
cd "$(dirname "$0")/../.."

rounds=3 reps=10 warmup=3 threads=2 batch=8 size=64 nice=0 name=results archs=()
while [ $# -gt 0 ]; do
  case "$1" in
    --rounds) rounds=$2; shift 2 ;;
    --reps) reps=$2; shift 2 ;;
    --warmup) warmup=$2; shift 2 ;;
    --threads) threads=$2; shift 2 ;;
    --batch) batch=$2; shift 2 ;;
    --size) size=$2; shift 2 ;;
    --nice) nice=$2; shift 2 ;;
    --name) name=$2; shift 2 ;;
    -h|--help) sed -n '2,20p' "$0"; exit 0 ;;
    *) archs+=("$1"); shift ;;
  esac
done
[ ${#archs[@]} -gt 0 ] || archs=(resnet-tiny-fcn resnet-tiny-upernet convnext-tiny-upernet)
[ -f dist/src/train/trainable.js ] || npm run build

cache=bench/.cache/train-step
py=/usr/bin/python3
res="$cache/runs/$name"
rm -rf "$cache/data" "$cache/models" "$res"
mkdir -p "$res"

# 1. The batch: the first $batch images of a procedural shapes dataset (6 classes, ignore band 255).
node bin/robustscope.js data shapes --out "$cache/data" --n "$batch" --size "$size" --seed 0 --quiet

# 2. Models (robustscope's buildArch, seed 0) and their dumps for the PyTorch rebuild.
node bench/train-step/build-models.mjs "$cache/models" 6 0 "${archs[@]}"
for a in "${archs[@]}"; do node tools/sea-reference/dump-model.mjs "$cache/models/$a/model.onnx" "$cache/models/$a/dump"; done

common=(--batch "$batch" --warmup "$warmup" --reps "$reps" --threads "$threads")
run_rs() { nice -n "$nice" node bench/train-step/train-step.mjs --model "$cache/models/$1/model.onnx" --data "$cache/data" --out "$2/$1.robustscope.json" --logits "$cache/models/$1/logits.bin" "${common[@]}"; }
run_pt() { nice -n "$nice" $py tools/train-bench/train_step.py --dump "$cache/models/$1/dump" --meta "$cache/models/$1/meta.json" --data "$cache/data" --ref-logits "$cache/models/$1/logits.bin" --out "$2/$1.$3.json" "${common[@]}"; }
run_ptm() { MALLOC_MMAP_THRESHOLD_=33554432 MALLOC_TRIM_THRESHOLD_=4294967296 run_pt "$1" "$2" pytorch-malloc; }

# 3. Rounds: every arch, the three processes in alternating order (the load changes within a round too).
for r in $(seq 1 "$rounds"); do
  d="$res/round-$r"
  mkdir -p "$d"
  for a in "${archs[@]}"; do
    cut -d' ' -f1 /proc/loadavg >"$d/$a.load"
    # robustscope writes the eval-mode logits of the seed-0 weights the PyTorch runs check against
    # (the same in every round), so it goes first whenever they do not exist yet.
    if [ $((r % 2)) -eq 1 ] || [ ! -f "$cache/models/$a/logits.bin" ]; then
      run_rs "$a" "$d"; run_pt "$a" "$d" pytorch; run_ptm "$a" "$d"
    else
      run_ptm "$a" "$d"; run_pt "$a" "$d" pytorch; run_rs "$a" "$d"
    fi
  done
done

# 4. The table.
node bench/train-step/report.mjs --in "$res" --models "$cache/models" --out bench/train-step --name "$name" \
  --cmd "bench/train-step/run.sh --rounds $rounds --reps $reps --warmup $warmup --threads $threads --batch $batch --size $size --nice $nice --name $name ${archs[*]}"
# biome formats the repository's JSON (bench/ is checked).
npx biome format --write "bench/train-step/$name.json" >/dev/null 2>&1 || true
echo "wrote bench/train-step/$name.md and bench/train-step/$name.json"
