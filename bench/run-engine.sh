#!/usr/bin/env bash
# Engine benchmark: robustscope vs PyTorch eager, forward and forward + input gradient, side by side.
# Writes bench/results/engine.md (the table) and bench/results/engine.json (every timing).
#
#   bench/run-engine.sh [--rounds R] [--reps N] [--warmup W] [--threads T] [arch ...]
#
# Needs (dev machine only): Debian python3-torch + python3-torchvision + python3-onnx for /usr/bin/python3
# (tools/bench exports the models once into tools/bench/.cache, gitignored), optionally libjemalloc2 (the second PyTorch
# baseline), and the repository's node_modules. Each round runs every architecture in a fresh process
# pair; rounds repeat the whole set so the table shows the machine's noise.
set -euo pipefail
cd "$(dirname "$0")/.."

rounds=2 reps=12 warmup=5 threads=2 archs=()
while [ $# -gt 0 ]; do
  case "$1" in
    --rounds) rounds=$2; shift 2 ;;
    --reps) reps=$2; shift 2 ;;
    --warmup) warmup=$2; shift 2 ;;
    --threads) threads=$2; shift 2 ;;
    -h|--help) sed -n '2,11p' "$0"; exit 0 ;;
    *) archs+=("$1"); shift ;;
  esac
done
[ ${#archs[@]} -gt 0 ] || archs=(lraspp_mobilenet_v3 resnet18 convnext_upernet segmenter_vit unet normalized_convnet)

# 1. Models, inputs and float64 reference gradients (skipped when up to date).
/usr/bin/python3 tools/bench/export.py "${archs[@]}" 2>&1 | grep -v -i warning || true

# 2. Compile the benchmark (src is compiled along with it into tools/bench/.cache/build; dist/ is left alone).
npx tsc -p bench/tsconfig.json || echo "warning: type errors above; running the emitted JavaScript anyway" >&2

# 3. Side-by-side runs, one fresh process pair per architecture and round.
out=tools/bench/.cache/results
rm -rf "$out"
for r in $(seq 1 "$rounds"); do
  mkdir -p "$out/round-$r"
  for a in "${archs[@]}"; do
    node tools/bench/.cache/build/bench/engine.js --arch "$a" --reps "$reps" --warmup "$warmup" --threads "$threads" --out "$out/round-$r/$a.json"
  done
done

# 4. The table.
node tools/bench/.cache/build/bench/report.js --in "$out" --out bench/results
echo "wrote bench/results/engine.md and bench/results/engine.json"
