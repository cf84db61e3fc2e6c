#!/usr/bin/env python3
"""The study's baseline and statistics-aware figures with each comparator threshold mode, retrained.

The hidden comparators' thresholds ``theta`` can be (``Trainer(threshold_mode=...)``, see
:mod:`mtjexplore.network`):

* ``per_neuron`` (the default, the committed study): continuous, one trimmed reference per column;
* ``half_integer``: ``k + 1/2`` unit weights per neuron -- ``|k|`` extra always-on device pairs and
  one shared half-unit reference per layer -- trained with straight-through rounding;
* ``shared``: one continuous reference per hidden layer.

For every mode other than ``per_neuron`` this runs the study's recipe from scratch: the software
recipe on all of MNIST (seed ``derive_seed(seed, "software")``, as the study), then
statistics-aware fine-tuning on dies sampled from the statistics fitted to the 36 reference dies
(seed ``derive_seed(seed, "statistics_aware")``). Both are evaluated on ideal devices, on the 36
reference dies and on 500 dies freshly sampled from the statistics (seed
``derive_seed(seed, "sensitivity")``: the very dies of the study's sensitivity sampling). The
``per_neuron`` row is the committed study (``docs/results/results.nc``), not recomputed.

Each mode's weights and evaluation are stage files under ``--out``/``weights`` and
``--out``/``stages``: a rerun resumes. Writes ``--out``/``results.nc`` and ``summary.md`` (via
:func:`mtjexplore.study.layout.write_results`) and the same text to
``docs/results/threshold_modes.md``.

Usage::

    python scripts/threshold_modes.py [--modes half_integer shared] [--out docs/results/threshold_modes]
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
from mtjexplore.study import layout, reproduce  # noqa: E402

METHODS = ("software", "statistics_aware")
SETS = ("ideal", "reference_36", "fresh_500")


def _stage(path, compute):
    """Load ``path`` if it exists, else compute, save and return it."""
    if path.exists():
        return mx.load(path)
    ds = compute()
    path.parent.mkdir(parents=True, exist_ok=True)
    mx.save(ds, path, overwrite=True)
    return ds


def train_mode(mode, out, data, stats, seed, settings, log):
    """``{software, statistics_aware}`` weights trained in ``mode`` (stage files)."""
    kwargs = reproduce.recipe("software", settings)
    t0 = time.time()
    software = _stage(out / "weights" / f"{mode}_software.nc", lambda: mx.Trainer(
        stats.config, method="software", threshold_mode=mode, seed=reproduce.derive_seed(seed, "software"),
        **kwargs).fit(data.train).weights_)
    log(f"{mode}: software {time.time() - t0:.0f} s")
    t0 = time.time()
    stat = _stage(out / "weights" / f"{mode}_statistics_aware.nc", lambda: reproduce.train_statistics_aware(
        software, stats, data.train, reproduce.derive_seed(seed, "statistics_aware"), settings))
    log(f"{mode}: statistics-aware {time.time() - t0:.0f} s")
    return {"software": software, "statistics_aware": stat}


def evaluate_mode(mode, weights, out, data, dies, stats, seed, n_fresh, log):
    """``error[method, set, die]`` (NaN-padded) of one mode's weights, a stage file."""
    def compute():
        n = max(dies.sizes["die"], n_fresh)
        err = np.full((len(METHODS), len(SETS), n), np.nan)
        for m, method in enumerate(METHODS):
            w = weights[method]
            err[m, 0, 0] = float(mx.evaluate(w, None, data.test).error)
            err[m, 1, :dies.sizes["die"]] = mx.evaluate(w, dies, data.test).error.values
            err[m, 2, :n_fresh] = mx.sensitivity(w, stats, n_fresh, data.test,
                                                 seed=reproduce.derive_seed(seed, "sensitivity")).error.values
        return xr.Dataset({"error": (("method", "set", "die"), err)},
                          coords={"method": list(METHODS), "set": list(SETS)})
    t0 = time.time()
    ds = _stage(out / "stages" / f"{mode}_evaluation.nc", compute)
    log(f"{mode}: evaluation {time.time() - t0:.0f} s")
    return ds.error.values


def committed_errors(study, n_fresh):
    """The committed study's ``per_neuron`` errors in the same layout."""
    res = mx.load(Path(study) / layout.RESULTS)
    n = max(res.sizes["die"], n_fresh)
    err = np.full((len(METHODS), len(SETS), n), np.nan)
    index = [str(v) for v in res.method.values]  # by position: .sel on this coordinate misbehaves
    for m, method in enumerate(METHODS):
        k = index.index(method)
        err[m, 0, 0] = float(res.ideal_error.values[k])
        err[m, 1, :res.sizes["die"]] = res.error.values[k]
        err[m, 2, :n_fresh] = res.sens_error.values[k, :n_fresh]
    return err


def threshold_range(weights):
    """``(min k, max k)`` of a half-integer mode's ``theta = k + 1/2`` (extra rows needed: max |k|)."""
    k = np.floor(weights.theta.values).astype(int)
    return int(k.min()), int(k.max())


def table(errors):
    pct = lambda v: f"{100 * v:.2f} %"  # noqa: E731
    lines = ["| thresholds | weights | ideal devices | 36 dies: mean (worst) | gap | "
             "500 fresh dies: mean (worst) | gap |", "|---|---|---:|---:|---:|---:|---:|"]
    for mode, err in errors.items():
        base = err[0, 0, 0]
        for m, method in enumerate(METHODS):
            ref, fresh = err[m, 1][~np.isnan(err[m, 1])], err[m, 2][~np.isnan(err[m, 2])]
            lines.append(f"| {mode} | {method.replace('_', '-')} | {pct(err[m, 0, 0])} | "
                         f"{pct(ref.mean())} ({pct(ref.max())}) | {100 * (ref.mean() - base):+.2f} % | "
                         f"{pct(fresh.mean())} ({pct(fresh.max())}) | {100 * (fresh.mean() - base):+.2f} % |")
    return lines


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--modes", nargs="+", default=["half_integer", "shared"],
                        choices=[m for m in mx.network.THRESHOLD_MODES if m != "per_neuron"])
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "results" / "threshold_modes")
    parser.add_argument("--md", type=Path, default=REPO / "docs" / "results" / "threshold_modes.md")
    parser.add_argument("--study", type=Path, default=REPO / "docs" / "results",
                        help="the committed study (its results.nc gives the per_neuron rows)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--n-fresh", type=int, default=500)
    parser.add_argument("--tiny", action="store_true",
                        help="a smoke run: the study's tiny settings (its numbers mean nothing)")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    log = lambda msg: print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)  # noqa: E731
    settings = reproduce.tiny_settings() if args.tiny else reproduce.full_settings()
    train, test = mx.load_mnist(n_train=settings.n_train, n_test=settings.n_test)
    data = argparse.Namespace(train=train, test=test)
    dies, stats = reproduce.measured_dies()
    errors, extra = {"per_neuron": committed_errors(args.study, args.n_fresh)}, {}
    for mode in args.modes:
        weights = train_mode(mode, args.out, data, stats, args.seed, settings, log)
        errors[mode] = evaluate_mode(mode, weights, args.out, data, dies, stats, args.seed, args.n_fresh, log)
        if mode == "half_integer":
            extra[mode] = {m: threshold_range(w) for m, w in weights.items()}
        else:
            extra[mode] = {m: float(w.theta.values[0]) for m, w in weights.items()}
    results = xr.Dataset(
        {"error": (("mode", "method", "set", "die"), np.stack(list(errors.values())),
                   {"long_name": "test error (ties as a random tie-break)", "units": "1"})},
        coords={"mode": list(errors), "method": list(METHODS), "set": list(SETS)},
        attrs={"kind": "threshold modes", "seed": args.seed, "n_fresh": args.n_fresh,
               "device": stats.config.device.describe(),
               "note": "set=ideal: die 0 only; reference_36: dies 0..35; fresh_500: the study's "
                       "sensitivity dies. per_neuron rows are the committed study."})
    text = report(errors, extra)
    layout.write_results(args.out, results, text)
    layout.write_text(args.md, text)
    print(text)
    return 0


def report(errors, extra):
    notes = []
    for mode, info in extra.items():
        if mode == "half_integer":
            notes.append("half_integer: theta = k + 1/2 with k in " + ", ".join(
                f"[{lo}, {hi}] ({m.replace('_', '-')})" for m, (lo, hi) in info.items()) +
                ": the extra always-on rows a layer needs are max |k|.")
        else:
            notes.append(f"{mode}: the shared reference is " + ", ".join(
                f"{v:.3f} ({m.replace('_', '-')})" for m, v in info.items()) + " unit weights.")
    return "\n".join([
        "# Comparator thresholds a circuit can hold: the study retrained in each mode", "",
        f"Device: {mx.config.paper_device().describe()}. Software recipe from scratch on all of "
        "MNIST, then the statistics-aware recipe, in each threshold mode "
        "(`Trainer(threshold_mode=...)`, see `mtjexplore/network.py`), with the study's seeds. "
        "Errors on the 10,000 test images (ties as a random tie-break); gap = mean minus the same "
        "mode's software error on ideal devices. 36 dies: the reference dies; 500 fresh dies: the "
        "study's sensitivity dies (sampled from the statistics fitted to the 36). The per_neuron "
        "rows are the committed study (`docs/results/results.nc`). Made by "
        "`scripts/threshold_modes.py` (data: `docs/results/threshold_modes/results.nc`).", "",
        *table(errors), "", *[f"- {n}" for n in notes], "",
        "Not modelled: the spread and defects of the half-integer mode's extra rows and of the "
        "half-unit or shared references (the thresholds are exact numbers in unit weights).", ""])


if __name__ == "__main__":
    sys.exit(main())
