#!/usr/bin/env bash
# Renderer benchmark: renders per second at 224x224 (2x supersampling) on one core, over the spec's 2D
# semantic-map grid of views. Writes bench/render/results.md and bench/render/results.json.
#
#   bench/render/run.sh [--rounds R] [--size S]
set -euo pipefail
cd "$(dirname "$0")/../.."
npx tsc -p bench/render/tsconfig.json
node tmp/bench-render/bench/render/render.js --out bench/render "$@"
