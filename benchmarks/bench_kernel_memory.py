#!/usr/bin/env python3
"""Where an app kernel's memory goes: USS and RSS of a real ipykernel after each loading stage.

A kernel is started with ``jupyter_client`` (as Voilà starts one) and made to run the explorer
app's loading in stages, one ``execute_request`` each; after every stage the kernel process's
memory is read from outside with ``psutil.Process.memory_full_info()``:

* USS (unique set size): pages only this kernel holds -- what one more student costs;
* RSS: every page it maps, shared ones included (libtorch's code, a memory-mapped data cache).

Stages: a bare kernel; ``import torch``; numpy/xarray and the core package; the MNIST data; the
36 reference dies; the shipped weights; the widget libraries (ipywidgets, bqplot); building the
Explorer (its first evaluations included); one training epoch; after the run.

Run twice to compare: ``--env-preset none`` (a kernel as before this change) and
``--env-preset app`` (the environment the app server gives its kernels:
:func:`mtjexplore.serve.appserver.kernel_env`). Writes JSON and a Markdown table.

Usage::

    python benchmarks/bench_kernel_memory.py [--out benchmarks/results/kernel_memory.json]
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import sys
import time
from pathlib import Path

import psutil

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
MIB = 2**20
APPS = REPO / "mtjexplore" / "apps"

#: (name, code) run one after the other in one kernel, in the explorer notebook's order.
STAGES = [
    ("bare kernel (Python + ipykernel)", "pass"),
    ("import torch", "import torch\ntorch.set_num_threads(1)"),
    ("numpy, xarray, mtjexplore core", "import numpy, xarray\nimport mtjexplore as mx"),
    ("MNIST data (load_mnist)", "train, test = mx.load_mnist()"),
    ("36 reference dies + statistics",
     "from mtjexplore.study.reproduce import measured_dies\nensemble, stats = measured_dies()"),
    ("shipped weights",
     ("from mtjexplore.study.app_data import app_weights\n"
      "weights = {'software': app_weights('software'),"
      " 'statistics_aware': app_weights('statistics_aware')}")),
    ("widget libraries (ipywidgets, bqplot, ipyevents)",
     "import ipywidgets, bqplot, ipyevents\nfrom mtjexplore.widgets import Explorer"),
    ("Explorer built (first evaluations included)",
     ("app = Explorer(ensemble, train, test, weights=weights, sampler=stats,"
      " ensemble_factory=lambda config: mx.reference_ensemble(config=config))\n"
      "app.refresh()")),
    ("one training run (software, 1 epoch)",
     ("app.training.epochs.value = 1\nassert app.training.start()\nassert app.training.wait(600)\n"
      "assert app.training.history is not None, app.training.status.value")),
    ("after the run (gc)", "import gc\ngc.collect()"),
]


def memory(pid):
    info = psutil.Process(pid).memory_full_info()
    return round(info.uss / MIB, 1), round(info.rss / MIB, 1), round(info.pss / MIB, 1)


def start_kernel(env):
    from jupyter_client.manager import start_new_kernel

    return start_new_kernel(kernel_name="python3", cwd=str(APPS), env={**os.environ, **env})


def start_neighbour(env, timeout_s):
    """A second kernel with the app loaded, as on a server with more than one student: pages it
    maps too (libraries, the memory-mapped data cache) are then shared, not unique."""
    km, kc = start_kernel(env)
    code = "\n".join(code for _, code in STAGES[:8])
    reply = kc.execute_interactive(code, timeout=timeout_s, output_hook=lambda msg: None)
    if reply["content"]["status"] != "ok":
        raise RuntimeError(f"the neighbour kernel failed: {reply['content'].get('evalue')}")
    return km, kc


def run_stages(env, timeout_s, neighbour=False):
    other = start_neighbour(env, timeout_s) if neighbour else None
    km, kc = start_kernel(env)
    try:
        pid = km.provisioner.process.pid
        rows = []
        for name, code in STAGES:
            start = time.perf_counter()
            reply = kc.execute_interactive(code, timeout=timeout_s, output_hook=lambda msg: None)
            seconds = time.perf_counter() - start
            if reply["content"]["status"] != "ok":
                raise RuntimeError(f"stage {name!r} failed: {reply['content'].get('evalue')}")
            time.sleep(0.5)  # let the kernel settle (a measurement, not a synchronisation)
            uss, rss, pss = memory(pid)
            rows.append({"stage": name, "uss_mib": uss, "rss_mib": rss, "pss_mib": pss,
                         "seconds": round(seconds, 2)})
            print(f"  {name:52s} USS {uss:7.1f}  RSS {rss:7.1f}  PSS {pss:7.1f} MiB ({seconds:.1f} s)",
                  flush=True)
        return rows
    finally:
        for manager, client in [(km, kc), *([other] if other else [])]:
            client.stop_channels()
            manager.shutdown_kernel(now=True)


def preset_env(preset):
    if preset == "none":
        return {}
    from mtjexplore.serve.appserver import kernel_env

    return kernel_env()


def markdown(results):
    lines = []
    for res in results:
        lines += [f"### Kernel environment: `{res['env_preset']}`", "", f"`{json.dumps(res['env'])}`", "",
                  f"Load average before: {res['load_avg_before']}; after: {res['load_avg_after']}.", "",
                  f"A neighbour kernel with the app loaded was running: {res['neighbour']}.", "",
                  "| stage | USS MiB | ΔUSS | RSS MiB | ΔRSS | PSS MiB | s |",
                  "|---|---:|---:|---:|---:|---:|---:|"]
        prev_u = prev_r = 0.0
        for row in res["stages"]:
            lines.append(f"| {row['stage']} | {row['uss_mib']:.0f} | {row['uss_mib'] - prev_u:+.0f} | "
                         f"{row['rss_mib']:.0f} | {row['rss_mib'] - prev_r:+.0f} | {row['pss_mib']:.0f} | "
                         f"{row['seconds']:.1f} |")
            prev_u, prev_r = row["uss_mib"], row["rss_mib"]
        lines.append("")
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--env-preset", choices=["none", "app", "both"], default="both")
    parser.add_argument("--timeout", type=float, default=600.0)
    parser.add_argument("--no-neighbour", action="store_true",
                        help="measure a kernel alone (default: a second app kernel runs alongside)")
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results" / "kernel_memory.json")
    args = parser.parse_args(argv)
    presets = ["none", "app"] if args.env_preset == "both" else [args.env_preset]
    results = []
    for preset in presets:
        env = preset_env(preset)
        print(f"kernel environment {preset}: {env}", flush=True)
        load_before = round(os.getloadavg()[0], 2)
        stages = run_stages(env, args.timeout, neighbour=not args.no_neighbour)
        results.append({"env_preset": preset, "env": env, "neighbour": not args.no_neighbour,
                        "load_avg_before": load_before,
                        "load_avg_after": round(os.getloadavg()[0], 2), "stages": stages})
    out = {"benchmark": "app kernel memory per loading stage (USS/RSS, psutil memory_full_info)",
           "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
           "cpus": os.cpu_count(), "results": results}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(out, indent=2) + "\n")
    args.out.with_suffix(".table.md").write_text(markdown(results))
    print(markdown(results))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
