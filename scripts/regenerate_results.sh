#!/usr/bin/env bash
# Regenerate every shipped result from scratch, in order (2 cores: ~25-45 min in all):
#   1. docs/results/            the 36-die study (mtjexplore reproduce: results.nc, summary.md,
#                               figures, weights, statistics)
#   2. mtjexplore/data/app_weights.nc   the apps' weights and results, copied from that study
#   3. docs/results/short_strength/     every method against the read-path resistance
# Same seeds, same numbers (torch threads fixed at 2, what `mtjexplore reproduce` uses here).
# Usage: scripts/regenerate_results.sh [PYTHON]   (default: python on PATH)
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${1:-python}"
"$PY" -c "import sys, torch; torch.set_num_threads(2); from mtjexplore.cli import main; sys.exit(main(sys.argv[1:]))" \
    reproduce --out docs/results --overwrite --no-progress
"$PY" scripts/make_app_weights.py --from-study docs/results --overwrite
"$PY" scripts/short_strength.py --out docs/results/short_strength --overwrite --threads 2
