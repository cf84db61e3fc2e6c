#!/usr/bin/env python3
"""Defect-aware training on dies it has never been tuned on: fresh and double-density dies.

The study's defect-aware claim ("every die within 1.5 % of the baseline") is checked on the 36
reference dies. This script draws ``--n`` dies afresh from the statistics fitted to them and
``--n`` from the same statistics with every defect count doubled, trains defect-aware weights on
each exactly as the study does (:func:`mtjexplore.study.reproduce.train_defect_aware_until`: rounds of
the recipe until within 1.5 % on training images or a plateau), and reports per die the test
error, the gap to the study's software baseline and the rounds, and the dies it could not bring
within 1.5 %. Writes ``results.nc`` and ``summary.md`` to ``--out``.

Usage::

    python scripts/defect_aware_fresh.py [--out docs/results/defect_aware_fresh] [--n 200] [--seed 0] [--workers 14]

About 5 s per die on one core; ``--workers`` runs dies in parallel processes (each die's seed
depends only on its ensemble and index, so the numbers do not depend on the worker count).
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time
from pathlib import Path

import numpy as np
import torch
import xarray as xr

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import mtjexplore as mx  # noqa: E402
from mtjexplore.study import reproduce  # noqa: E402
from mtjexplore.study import layout  # noqa: E402
from mtjexplore.study.workers import process_map  # noqa: E402

ENSEMBLES = ("fresh", "double_density")


_WORKER = {}


def _init_worker(software, settings):
    torch.set_num_threads(1)
    train, test = mx.load_mnist(n_train=settings.n_train, n_test=settings.n_test)
    _WORKER.update(software=software, settings=settings, train=train, test=test)


def _one_die(task):
    """Defect-aware weights for one die and their test error; seeds depend on (ensemble, die) only."""
    e, k, die, seed = task
    w = reproduce.train_defect_aware_until(_WORKER["software"], die, _WORKER["train"],
                                           reproduce.derive_seed(seed, "defect_aware_fresh", e, k),
                                           _WORKER["settings"])
    return e, k, float(mx.evaluate(w, die, _WORKER["test"]).error[0]), int(w.attrs["rounds"])


def run(software, n, seed, settings, workers=1):
    _, stats = reproduce.measured_dies()
    doubled = dataclasses.replace(stats, mean_counts={k: 2 * v for k, v in stats.mean_counts.items()})
    _init_worker(software, settings)
    base = float(mx.evaluate(software, None, _WORKER["test"]).error)
    error = np.full((2, n), np.nan)
    rounds = np.zeros((2, n), dtype=np.int64)
    shorts = np.zeros((2, n), dtype=np.int64)
    tasks = []
    for e, st in enumerate((stats, doubled)):
        dies = st.sample(n, reproduce.derive_seed(seed, "fresh_dies", ENSEMBLES[e]))
        shorts[e] = mx.defect_counts(dies).sel(kind="short").values
        tasks += [(e, k, dies.isel(die=[k]), seed) for k in range(n)]
    with process_map(workers, _init_worker, (software, settings)) as pmap:
        for e, k, err, r in pmap(_one_die, tasks):
            error[e, k], rounds[e, k] = err, r
            print(f"{ENSEMBLES[e]} die {k}: {int(shorts[e, k])} shorts, error {100 * err:.2f} %, rounds {r}",
                  flush=True)
    return xr.Dataset(
        {"error": (("ensemble", "die"), error, {"long_name": "defect-aware test error", "units": "1"}),
         "rounds": (("ensemble", "die"), rounds),
         "n_short": (("ensemble", "die"), shorts),
         "ideal_error": ((), base, {"long_name": "software weights on ideal devices"})},
        coords={"ensemble": list(ENSEMBLES), "die": np.arange(n)},
        attrs={"seed": int(seed), "target": reproduce.DEFECT_AWARE_TARGET,
               "device": mx.config.paper_device().describe(), "mtjexplore_version": mx.__version__})


def summary(res):
    target = float(res.attrs["target"])
    lines = ["# Defect-aware training on fresh and double-density dies", "",
             f"Device: {res.attrs['device']}. Software baseline {100 * float(res.ideal_error):.2f} %. "
             f"Each die drawn afresh from the statistics fitted to the 36 reference dies (or with every "
             f"defect count doubled) and trained defect-aware as the study does (rounds until within "
             f"{100 * target:.1f} % on training images or a plateau). Made by "
             "`scripts/defect_aware_fresh.py`.", "",
             "| dies | n | within 1.5 % | mean gap | worst gap | needed > 1 round | not within 1.5 % |",
             "|---|---:|---:|---:|---:|---:|---|"]
    for e in res.ensemble.values:
        r = res.sel(ensemble=e)
        gap = r.error.values - float(res.ideal_error)
        bad = [f"die {k} ({100 * g:+.2f} %, {int(r.n_short[k])} shorts)" for k, g in enumerate(gap) if g > target]
        lines.append(f"| {e.replace('_', ' ')} | {gap.size} | {int((gap <= target).sum())} | {100 * gap.mean():+.2f} % | "
                     f"{100 * gap.max():+.2f} % | {int((r.rounds.values > 1).sum())} | {', '.join(bad) or 'none'} |")
    return "\n".join(lines) + "\n"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "results" / "defect_aware_fresh")
    parser.add_argument("--software", type=Path, default=layout.weights_path(REPO / "docs" / "results", "software"))
    parser.add_argument("--n", type=int, default=200)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workers", type=int, default=1,
                        help="processes, one torch thread each (the result does not depend on it)")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    start = time.perf_counter()
    res = run(mx.load(args.software), args.n, args.seed, reproduce.full_settings(), args.workers)
    res.attrs["total_s"] = round(time.perf_counter() - start, 1)
    text = summary(res)
    layout.write_results(args.out, res, text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
