#!/usr/bin/env python3
"""Spot check of hardware-realistic comparator thresholds on the study's weights (no retraining).

The network's hidden comparators have trained, continuous thresholds ``theta`` (unit weights),
which no MTJ stores. Two things a comparator circuit can hold instead:

* thresholds on a half-integer grid, ``floor(theta) + 1/2``: integers from extra always-on MTJ
  rows plus one shared half-unit offset. On ideal devices every column current is an integer, so
  ``z > theta`` and ``z > floor(theta) + 1/2`` decide identically: nothing changes there;
* one shared reference for all neurons (``floor(median theta) + 1/2``), without retraining.

Evaluates the study's software and statistics-aware weights (``docs/results/weights``) on ideal
devices and the 36 reference dies in each mode and writes ``docs/results/threshold_modes.md``.
Retraining under each mode -- the study under both modes -- is not done here.

Usage::

    python scripts/threshold_modes.py [--out docs/results/threshold_modes.md]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import mtjexplore as mx  # noqa: E402
from mtjexplore.study import layout, reproduce  # noqa: E402

MODES = {"trained (continuous, per neuron)": lambda th: th,
         "half-integer grid, floor(theta) + 1/2": lambda th: np.floor(th) + 0.5,
         "one shared reference, no retraining": lambda th: np.full_like(th, np.floor(np.median(th)) + 0.5)}


def table(study, test, dies):
    lines = ["| weights | thresholds | ideal devices | mean over 36 dies | worst die |", "|---|---|---:|---:|---:|"]
    for name in ("software", "statistics_aware"):
        w = mx.load(layout.weights_path(study, name))
        for mode, f in MODES.items():
            q = w.copy(deep=True)
            q["theta"] = (("hidden",), f(w.theta.values).astype(np.float32), w.theta.attrs)
            ideal = float(mx.evaluate(q, None, test).error)
            e = mx.evaluate(q, dies, test).error.values
            lines.append(f"| {name.replace('_', '-')} | {mode} | {100 * ideal:.2f} % | {100 * e.mean():.2f} % | "
                         f"{100 * e.max():.2f} % |")
    return lines


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "results" / "threshold_modes.md")
    parser.add_argument("--study", type=Path, default=REPO / "docs" / "results",
                        help="a finished `mtjexplore reproduce --out` folder (its weights/)")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    _, test = mx.load_mnist()
    dies, _ = reproduce.measured_dies()
    text = "\n".join(["# Comparator thresholds a circuit can hold (spot check, no retraining)", "",
                      f"Device: {mx.config.paper_device().describe()}. The study's weights with their "
                      "thresholds replaced; errors on the 10,000 test images (ties as a random "
                      "tie-break). Made by `scripts/threshold_modes.py`; see its docstring. Not done: "
                      "training under each mode, and the spread and defects of the extra threshold "
                      "rows themselves.", "", *table(args.study, test, dies), ""])
    layout.write_text(args.out, text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
