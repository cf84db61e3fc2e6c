#!/usr/bin/env bash
# Regenerate every shipped result from scratch, in order (2 cores: ~1.5 h in all; see below):
#   1. docs/results/            the 36-die study (mtjexplore reproduce: results.nc, summary.md,
#                               figures, weights, statistics)
#   2. mtjexplore/data/app_weights.nc   the apps' weights and results, copied from that study
#                               (mtjexplore.study.app_data.build_app_data: nothing retrained)
#   3. docs/results/short_strength/     every method against the read-path resistance
#   4. docs/results/defect_aware_fresh/ defect-aware on 200 fresh and 200 double-density dies
#   5. docs/results/seeds/              the study for training seeds 1 and 2, and the spread over seeds
#   6. docs/results/fresh_dies_all_methods/  all five methods on the same 500 fresh dies (seeds 0, 1, 2)
#   7. docs/results/threshold_modes*, spread_correlation.md   the study retrained in the other
#                               threshold modes (seeds 0, 1, 2) and the correlated P/AP spread comparison
#   8. docs/results/threshold_rows/     the half-integer thresholds' extra device rows with their
#                               own spread and defects
#   9. docs/results/deeper/             a three-layer network on tiles against the two-layer one
#  10. README.md                        its result tables (scripts/readme_tables.py; the prose by hand)
#  11. notebooks/                       the tutorials' stored outputs, re-executed (prose by hand)
# Same seeds, same numbers (one torch thread per process: reproducible). Steps 4 and 6 run dies in
# parallel processes (WORKERS, default: the number of cores; the numbers do not depend on it).
# Measured (issue 12, one core each, other jobs running): the study 4.5 min per seed, the read-path
# sweep 20 + 6 min, threshold modes, correlation, rows and the deeper network ~10 min; steps 4 and
# 6 are ~35 core-minutes per seed (16 cores: 4-7 min; 2 cores: about an hour for all of them).
# Usage: scripts/regenerate_results.sh [PYTHON]   (default: python on PATH)
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${1:-python}"
# reproduce runs torch on one thread (--threads 1, its default): the same numbers on the same kind of
# machine and torch version (another CPU or torch rounds training differently: a seed-like change).
# --overwrite starts from scratch; to resume an interrupted step 1, run it again without --overwrite.
"$PY" -m mtjexplore.cli reproduce --out docs/results --overwrite --no-progress
"$PY" scripts/make_app_weights.py --study docs/results --overwrite
# 3: the study's own point (1.8 kOhm, seed 0, all five methods) is reused; the other resistances
# run unaware, remapped and statistics-aware (seed 0, with and without remapping); the default
# and 1.5 kOhm add statistics-aware seeds 1 and 2. Defect-aware runs at every resistance.
TMP="$(mktemp -d)"
trap 'rm -rf "$TMP"' EXIT
"$PY" scripts/short_strength.py --out "$TMP/grid" --threads 1 --software docs/results/weights/software.nc \
    --r-series 750 4500 250 1000 500 1500 3000 --seeds 0 \
    --methods software defect_aware remapped statistics_aware statistics_aware_remapped
"$PY" scripts/short_strength.py --out "$TMP/seeds" --threads 1 --software docs/results/weights/software.nc \
    --r-series 1500 1800 --seeds 1 2 --methods statistics_aware statistics_aware_remapped
"$PY" scripts/short_strength.py --out docs/results/short_strength --overwrite \
    --merge study:docs/results "$TMP/grid/results.nc" "$TMP/seeds/results.nc"
WORKERS="${WORKERS:-$(nproc)}"
"$PY" scripts/defect_aware_fresh.py --n 200 --workers "$WORKERS" --out docs/results/defect_aware_fresh
for s in 1 2; do
    "$PY" -m mtjexplore.cli reproduce --seed "$s" --out "docs/results/seeds/seed$s" --overwrite --no-progress
done
"$PY" scripts/fresh_dies_all_methods.py --n 500 --workers "$WORKERS" --out docs/results/fresh_dies_all_methods
# threshold_modes.py resumes from its stage files, which do not record the dies or statistics they
# were made with: start it from scratch
rm -rf docs/results/threshold_modes
for s in 1 2; do
    "$PY" scripts/fresh_dies_all_methods.py --n 500 --workers "$WORKERS" --seed "$s" \
        --study "docs/results/seeds/seed$s" --out "docs/results/fresh_dies_all_methods/seed$s"
    "$PY" scripts/threshold_modes.py --seed "$s" --study "docs/results/seeds/seed$s" \
        --out "docs/results/threshold_modes/seed$s" --md "docs/results/threshold_modes/seed$s/threshold_modes.md"
done
"$PY" scripts/seed_spread.py docs/results docs/results/seeds/seed1 docs/results/seeds/seed2 \
    --fresh docs/results/fresh_dies_all_methods docs/results/fresh_dies_all_methods/seed1 \
    docs/results/fresh_dies_all_methods/seed2 --out docs/results/seeds/summary.md --summary docs/results/summary.md
"$PY" scripts/threshold_modes.py   # seed 0; its .md gathers the seed-1 and seed-2 runs above
"$PY" scripts/threshold_modes.py --correlation 0.9 --retrain-seeds 0 1 2 3
"$PY" scripts/threshold_rows.py --weights docs/results/weights/software.nc docs/results/weights/statistics_aware.nc \
    --out docs/results/threshold_rows
"$PY" scripts/deeper_network.py --out docs/results/deeper
"$PY" scripts/readme_tables.py   # the README's tables from all of the above
for nb in notebooks/[0-9]*.ipynb; do   # 11: outputs only; no widget state stored in the files
    "$PY" -m nbconvert --to notebook --execute --inplace --ExecutePreprocessor.store_widget_state=False \
        --ExecutePreprocessor.timeout=1800 "$nb"
done
