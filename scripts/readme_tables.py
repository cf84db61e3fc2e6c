#!/usr/bin/env python3
"""The README's result tables, written from the committed results (no hand copying).

Three marked sections of ``README.md`` (:func:`mtjexplore.study.layout.write_section`) are
replaced on every run: ``study`` (the 36-die study, seed 0, and its 500 fresh dies: the tables of
``docs/results/summary.md``), ``seeds`` (every method over the three training seeds, from
``scripts/seed_spread.py``) and ``read_path`` (every method against the read-path resistance,
from ``docs/results/short_strength``). The prose around them is written by hand.

Usage (the last step of ``scripts/regenerate_results.sh``)::

    python scripts/readme_tables.py [--readme README.md] [--results docs/results]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "scripts"))

import mtjexplore as mx  # noqa: E402
from mtjexplore.study import layout, report  # noqa: E402

import seed_spread  # noqa: E402
import short_strength  # noqa: E402

MADE_BY = "scripts/readme_tables.py"


def study_table(results_dir):
    results = mx.load(results_dir / layout.RESULTS)
    return "\n".join([report.summary_table_markdown(results), "", *report.sensitivity_lines(results)])


def seeds_table(results_dir):
    studies = [results_dir] + sorted(p.parent for p in (results_dir / "seeds").glob("seed*/results.nc"))
    fresh_dir = results_dir / "fresh_dies_all_methods"
    fresh = [fresh_dir] + sorted(p.parent for p in fresh_dir.glob("seed*/results.nc"))
    _, main_table, _ = seed_spread.tables(studies, [f for f in fresh if (f / layout.RESULTS).exists()])
    return "\n".join(main_table)


def read_path_table(results_dir):
    return "\n".join(short_strength.table_lines(mx.load(results_dir / "short_strength" / layout.RESULTS)))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--readme", type=Path, default=REPO / "README.md")
    parser.add_argument("--results", type=Path, default=REPO / "docs" / "results")
    args = parser.parse_args(argv)
    for key, make in (("study", study_table), ("seeds", seeds_table), ("read_path", read_path_table)):
        layout.write_section(args.readme, key, make(args.results), made_by=MADE_BY)
        print(f"{args.readme}: section {key} written")


if __name__ == "__main__":
    main()
