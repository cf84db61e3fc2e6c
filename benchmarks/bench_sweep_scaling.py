"""Sweep scaling on this machine: the same grid on a LocalCluster of 2 workers vs 1 worker.

The grid (defect-aware fine-tuning and remapping on 12 dies) has no serial dependency once the
shared software weights exist, so they are trained once up front and copied into every run's
cells folder. Per repetition and worker count, interleaved (1, 2, 1, 2, ...):

* ``start_s``: start the LocalCluster and warm its workers (imports, MNIST loaded);
* ``cells_s``: ``run_sweep`` on that cluster (all 24 cells, results stored and merged);

and the speed-up ``cells_s(1 worker) / cells_s(2 workers)`` of each repetition; the median is
reported, and the same for start + cells. ``sum_cell_seconds`` (the cells' own wall times added up)
and ``worker_utilisation`` (that sum over ``cells_s x workers``) show whether the workers were
busy with cells or waiting, and how much slower each cell ran next to another one. Shared machines drift, so the ratios of interleaved
runs are what to read, with the load average recorded next to them.
Writes ``benchmarks/results/sweep_scaling.json``. Run: ``python benchmarks/bench_sweep_scaling.py``.
"""

import argparse
import dataclasses
import json
import logging
import os
import platform
import shutil
import statistics
import tempfile
import time
from pathlib import Path

from mtjexplore.study.sweep import SweepGrid, _data, cells_folder, run_sweep

OUT = Path(__file__).parent / "results" / "sweep_scaling.json"
GRID = SweepGrid(methods=("defect_aware", "remapped"), densities=(1.0,), seeds=(0,),
                 dies=tuple(range(12)), n_train=10000, n_test=2000, max_epochs=2, n_remap_images=2000)


def _warm(n_train, n_test):
    import torch

    torch.set_num_threads(1)
    _data(n_train, n_test)
    return os.getpid()


def timed_run(n_workers, template, work):
    from dask.distributed import Client, LocalCluster

    out = work / f"w{n_workers}-{time.monotonic_ns()}.nc"
    shutil.copytree(template, cells_folder(out))
    start = time.perf_counter()
    with LocalCluster(n_workers=n_workers, threads_per_worker=1, processes=True, host="127.0.0.1",
                      dashboard_address=None, silence_logs=logging.ERROR) as cluster, Client(cluster) as client:
        pids = set(client.run(_warm, GRID.n_train, GRID.n_test).values())
        started = time.perf_counter()
        res = run_sweep(GRID, out, scheduler=client, progress=False)
        done = time.perf_counter()
    assert len(pids) == n_workers and res.attrs["n_cells_run"] == len(GRID.cells())
    busy = float(res.cell_seconds.sum())
    return {"workers": n_workers, "start_s": round(started - start, 2), "cells_s": round(done - started, 2),
            "sum_cell_seconds": round(busy, 2),
            "worker_utilisation": round(busy / ((done - started) * n_workers), 3),
            "mean_error": float(res.error.mean())}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=2)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="sweep-scaling-"))
    try:
        # the shared software weights, once (serial), then copied into every run's cells folder
        seed_grid = dataclasses.replace(GRID, methods=("software",), dies=(0,))
        run_sweep(seed_grid, work / "template.nc", scheduler="serial", progress=False)
        template = cells_folder(work / "template.nc")
        for cell in template.glob("*.nc"):
            cell.unlink()
        load_before = os.getloadavg()
        runs = []
        for rep in range(args.reps):
            for n in (1, 2):
                runs.append({"rep": rep, **timed_run(n, template, work)})
                print(runs[-1], flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    assert len({r["mean_error"] for r in runs}) == 1, "every run must compute the same cells"
    pairs = [(a, b) for a in runs for b in runs if a["rep"] == b["rep"] and a["workers"] == 1 and b["workers"] == 2]
    cells = [a["cells_s"] / b["cells_s"] for a, b in pairs]
    total = [(a["start_s"] + a["cells_s"]) / (b["start_s"] + b["cells_s"]) for a, b in pairs]
    result = {
        "benchmark": "sweep scaling: LocalCluster 2 workers vs 1 worker, same grid",
        "grid": {"methods": GRID.methods, "dies": len(GRID.dies), "cells": len(GRID.cells()),
                 "n_train": GRID.n_train, "n_test": GRID.n_test, "max_epochs": GRID.max_epochs},
        "speedup_cells_median": round(statistics.median(cells), 3),
        "speedup_with_cluster_start_median": round(statistics.median(total), 3),
        "speedups_cells": [round(r, 3) for r in cells], "runs": runs,
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                    "load_average_before": [round(v, 2) for v in load_before],
                    "load_average_after": [round(v, 2) for v in os.getloadavg()]},
    }
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(result, indent=1) + "\n")
    print(json.dumps({k: result[k] for k in ("speedup_cells_median", "speedup_with_cluster_start_median")}))


if __name__ == "__main__":
    main()
