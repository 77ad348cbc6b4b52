#!/usr/bin/env bash
# Semantic-robustness benchmark: map points per second on the bundled mesh classifiers, the renderer's
# share of map time, renders per second of a ~10k-triangle mesh at 224x224 (2x supersampling, one core),
# region-search throughput and the `semantic demo` wall time. Writes bench/semantic/results.{md,json}.
#
#   bench/semantic/run.sh [--skip-demo] [--threads N]
set -euo pipefail
cd "$(dirname "$0")/../.."
npx tsc -p bench/semantic/tsconfig.json
node tmp/bench-semantic/bench/semantic/semantic.js --out bench/semantic "$@"
