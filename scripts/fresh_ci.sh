#!/usr/bin/env bash
# Run CI as a fresh machine would: a new clone of this repository's HEAD, a brand-new venv,
# `CI=true bash .ci/run`; prints exit code, wall time, commit and venv size.
# Usage: bash scripts/fresh_ci.sh [WORKDIR]   (default: a new temporary folder)
set -u
repo=$(cd "$(dirname "$0")/.." && pwd)
d=${1:-$(mktemp -d)}
mkdir -p "$d"
[ -e "$repo/../shared" ] && ln -sfn "$(cd "$repo/../shared" && pwd)" "$d/shared"   # CI has shared/ beside the clone
git clone -q "$repo" "$d/main"
python -m venv "$d/venv"
cd "$d/main" || exit 1
start=$(date +%s)
( . "$d/venv/bin/activate" && CI=true bash .ci/run ) > "$d/log.txt" 2>&1
rc=$?
echo "rc=$rc wall_s=$(( $(date +%s) - start )) commit=$(git rev-parse --short HEAD) venv=$(du -sh "$d/venv" | cut -f1) log=$d/log.txt"
grep -E "(passed|failed).* in [0-9.]+s" "$d/log.txt" | tail -n 1
exit $rc
