#!/usr/bin/env python3
"""Every method of the study on dies it has never seen: fresh dies drawn from the fitted statistics.

The study's sensitivity section evaluates the two methods that need nothing per die (unaware and
statistics-aware) on 500 fresh dies. This script puts all five methods on the *same* fresh dies:
the study's committed software and statistics-aware weights mapped unchanged, both remapped onto
each die (the study's remapping, first image draw), and defect-aware weights trained on each die
(the study's rounds). Per die and method it records the test error; ``summary.md`` gives mean,
median, worst and the gap to the study's software baseline +- its standard error over dies.

Usage::

    python scripts/fresh_dies_all_methods.py [--n 500] [--workers 15] [--out docs/results/fresh_dies_all_methods]

About 10 s per die on one core; each die's seeds depend only on its index, so the numbers do not
depend on ``--workers``. Partial results are written every ``--save-every`` dies.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch
import xarray as xr

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import mtjexplore as mx  # noqa: E402
from mtjexplore.methods import REGISTRY  # noqa: E402
from mtjexplore.remap import remap  # noqa: E402
from mtjexplore.study import layout, reproduce  # noqa: E402
from mtjexplore.study.workers import process_map  # noqa: E402

METHODS = tuple(m.name for m in REGISTRY)
_WORKER = {}


def _init_worker(folder, settings):
    torch.set_num_threads(1)
    train, test = mx.load_mnist(n_train=settings.n_train, n_test=settings.n_test)
    weights = {m: mx.load(layout.weights_path(folder, m)) for m in ("software", "statistics_aware")}
    _WORKER.update(weights=weights, settings=settings, train=train, test=test)


def _one_die(task):
    k, die, seed = task
    w, s, train, test = _WORKER["weights"], _WORKER["settings"], _WORKER["train"], _WORKER["test"]
    out = {}
    for name in ("software", "statistics_aware"):
        out[name] = float(mx.evaluate(w[name], die, test).error[0])
    for name, base in (("remapped", "software"), ("statistics_aware_remapped", "statistics_aware")):
        r = remap(w[base], die.isel(die=0), train, n_images=s.n_remap_images, seed=reproduce.remap_seed(seed))
        out[name] = float(mx.evaluate(w[base], die, test, floorplans=r.floorplan).error[0])
    da = reproduce.train_defect_aware_until(w["software"], die, train,
                                            reproduce.derive_seed(seed, "fresh_all_defect_aware", k), s)
    out["defect_aware"] = float(mx.evaluate(da, die, test).error[0])
    return k, out


def _dataset(error, done, base, seed):
    return xr.Dataset({"error": (("method", "die"), error, {"long_name": "test error", "units": "1"}),
                       "done": (("die",), done),
                       "ideal_error": ((), base, {"long_name": "software weights on ideal devices"})},
                      coords={"method": list(METHODS), "die": np.arange(error.shape[1])},
                      attrs={"seed": int(seed), "device": mx.paper_device().describe(),
                             "mtjexplore_version": mx.__version__})


def summary(res):
    done = res.done.values.astype(bool)
    base = float(res.ideal_error)
    lines = ["# Every method on fresh dies", "",
             f"Device: {res.attrs['device']}. {int(done.sum())} dies drawn afresh from the statistics "
             f"fitted to the 36 reference dies; the study's committed weights (seed {res.attrs['seed']}), its remapping "
             "(first image draw) and its defect-aware rounds, all on the same dies. Gap: mean error "
             f"minus the software baseline on ideal devices ({100 * base:.2f} %), ± its standard error "
             "over the dies. Made by `scripts/fresh_dies_all_methods.py`.", "",
             "| method | what it needs to know about a die | mean | median | worst | gap ± s.e. |",
             "|---|---|---:|---:|---:|---:|"]
    for m in REGISTRY:
        e = res.error.sel({"method": m.name}).values[done]
        se = e.std(ddof=1) / np.sqrt(e.size) if e.size > 1 else float("nan")
        lines.append(f"| {m.figure_label} | {m.needs} | {100 * e.mean():.2f} % | {100 * np.median(e):.2f} % | "
                     f"{100 * e.max():.2f} % | {100 * (e.mean() - base):+.2f} % ± {100 * se:.2f} |")
    return "\n".join(lines) + "\n"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "results" / "fresh_dies_all_methods")
    parser.add_argument("--study", type=Path, default=REPO / "docs" / "results",
                        help="a finished study folder (its weights/)")
    parser.add_argument("--n", type=int, default=500)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--save-every", type=int, default=100)
    args = parser.parse_args(argv)
    start = time.perf_counter()
    settings = reproduce.full_settings()
    _, stats = reproduce.measured_dies()
    dies = stats.sample(args.n, reproduce.derive_seed(args.seed, "fresh_dies_all_methods"))
    _init_worker(args.study, settings)
    base = float(mx.evaluate(_WORKER["weights"]["software"], None, _WORKER["test"]).error)
    error, done = np.full((len(METHODS), args.n), np.nan), np.zeros(args.n, dtype=np.int8)
    tasks = [(k, dies.isel(die=[k]), args.seed) for k in range(args.n)]
    args.out.mkdir(parents=True, exist_ok=True)
    with process_map(args.workers, _init_worker, (args.study, settings)) as pmap:
        for n_done, (k, out) in enumerate(pmap(_one_die, tasks), start=1):
            for m, value in out.items():
                error[METHODS.index(m), k] = value
            done[k] = 1
            print(f"die {k}: " + ", ".join(f"{m} {100 * v:.2f} %" for m, v in out.items()), flush=True)
            if n_done % args.save_every == 0 or n_done == args.n:
                res = _dataset(error, done, base, args.seed)
                res.attrs["total_s"] = round(time.perf_counter() - start, 1)
                res.to_netcdf(args.out / "partial.nc")
                (args.out / "summary.md").write_text(summary(res))
    res = _dataset(error, done, base, args.seed)
    res.attrs["total_s"] = round(time.perf_counter() - start, 1)
    text = summary(res)
    layout.write_results(args.out, res, text)
    (args.out / "partial.nc").unlink(missing_ok=True)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
