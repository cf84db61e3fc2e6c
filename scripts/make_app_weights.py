#!/usr/bin/env python3
"""Build ``mtjexplore/data/app_weights.nc`` from a finished study (a thin wrapper).

The apps must open in seconds, so they train nothing at start-up; they read the weights and
results of the study. This script trains nothing either: it calls
:func:`mtjexplore.study.app_data.build_app_data`, which copies the software and statistics-aware
weights and the per-die results of a ``mtjexplore reproduce --out DIR`` folder (default
``docs/results``) into the three groups of the file (``software``, ``statistics_aware``,
``results``), so the apps show exactly the numbers of that study. To change the shipped weights,
rerun the study (``scripts/regenerate_results.sh``, or ``mtjexplore reproduce --out DIR``, which
resumes an interrupted run) and then this script.

Usage::

    python scripts/make_app_weights.py [--study docs/results] [--out FILE] [--overwrite]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from mtjexplore.errors import FileExistsRefusedError, MTJExploreError  # noqa: E402
from mtjexplore.study.app_data import APP_WEIGHTS, app_results, build_app_data  # noqa: E402


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--study", "--from-study", type=Path, default=REPO / "docs" / "results",
                        help="a finished `mtjexplore reproduce --out` folder (default docs/results)")
    parser.add_argument("--out", type=Path, default=APP_WEIGHTS)
    parser.add_argument("--overwrite", action="store_true")
    args = parser.parse_args(argv)
    try:
        path = build_app_data(args.study, args.out, overwrite=args.overwrite)
    except FileExistsRefusedError:
        parser.exit(2, f"{parser.prog}: error: {args.out} exists; pass --overwrite to replace it\n")
    except MTJExploreError as exc:
        parser.exit(2, f"{parser.prog}: error: {exc}\n")
    if path.resolve() == APP_WEIGHTS.resolve():
        means = app_results().error.mean("die")
        print(f"wrote {path} from {args.study}: mean error "
              + ", ".join(f"{m} {float(means.sel({'method': m})):.4f}" for m in means.method.values))
    else:
        print(f"wrote {path} from {args.study}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
