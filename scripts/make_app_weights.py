#!/usr/bin/env python3
"""Build ``mtjexplore/data/app_weights.nc``: the weights and study results the Voilà apps show.

The apps must open in seconds, so they train nothing at start-up. This script repeats the
training steps of ``mtjexplore reproduce`` (:mod:`mtjexplore.study.reproduce`: the same 36 reference
dies, the statistics fitted to them, the recipes of :mod:`mtjexplore.recipes` and the same
derived seeds, on the full MNIST training set), so the apps show the numbers of
``docs/results/summary.md``:

* ``software``: the software baseline;
* ``statistics_aware``: fine-tuned from it on dies sampled from the fitted statistics;
* ``defect_aware``: fine-tuned on each die of the reference ensemble (only the errors are kept);

evaluates all three on the reference ensemble (test set) and the first two on freshly sampled
dies (sensitivity), and writes one NetCDF file with three groups: ``software`` and
``statistics_aware`` (weights Datasets as ``Trainer.weights_``) and ``results``
(``error(method, die)``, ``loss(method, die)``, ``sens_error(sens_method, sample)``).
Read them with :func:`mtjexplore.study.app_data.app_weights` / :func:`~mtjexplore.study.app_data.app_results`.

Usage::

    python scripts/make_app_weights.py [--out FILE] [--n-sensitivity 500] [--seed 0] [--overwrite]
    python scripts/make_app_weights.py --from-study docs/results [--out FILE] [--overwrite]

Training takes about 3 minutes on 2 cores. Rerun it whenever the recipes, the device defaults or
the reference dies change. With one torch thread (the default) the weights are bit-for-bit those
of ``mtjexplore reproduce --seed 0`` run with one thread. ``--from-study DIR`` trains nothing: it
copies the weights and results a ``mtjexplore reproduce --out DIR`` run wrote (seconds), so the
apps show exactly the numbers of that study; ``scripts/regenerate_results.sh`` uses it.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
import xarray as xr

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import mtjexplore as mx  # noqa: E402
from mtjexplore.study import reproduce  # noqa: E402
from mtjexplore.die import config_of  # noqa: E402

DEFAULT_OUT = REPO / "mtjexplore" / "data" / "app_weights.nc"
METHODS = ("software", "defect_aware", "statistics_aware")


def train_all(ensemble, stats, train, test, seed, log):
    """The study's three trainings, with :func:`mtjexplore.study.reproduce.derive_seed`'s seeds."""
    settings, cfg = reproduce.full_settings(), config_of(ensemble)

    def progress(name):
        def callback(info):
            if info.step == info.n_steps or info.step % 1000 == 0:
                log(f"{name}: step {info.step}/{info.n_steps}, loss {info.loss:.3f}")
        return callback

    sw = reproduce.train_software(cfg, train, reproduce.derive_seed(seed, "software"), settings,
                                  progress("software"))
    log(f"software: ideal error {float(mx.evaluate(sw, None, test).error):.4f}")
    da_err, da_loss = [], []
    for k in range(ensemble.sizes["die"]):
        die = ensemble.isel(die=[k])
        w = reproduce.train_defect_aware(sw, die, train, reproduce.derive_seed(seed, "defect_aware", int(die.die[0])),
                                         settings)
        res = mx.evaluate(w, die, test)
        da_err.append(float(res.error.values[0]))
        da_loss.append(float(res.loss.values[0]))
        log(f"defect_aware: die {k} error {da_err[-1]:.4f}")
    sa = reproduce.train_statistics_aware(sw, stats, train, reproduce.derive_seed(seed, "statistics_aware"),
                                          settings, progress("statistics_aware"))
    return sw, sa, np.array(da_err), np.array(da_loss)


def results_dataset(ensemble, stats, sw, sa, da_err, da_loss, test, n_sens, seed):
    per = {"software": mx.evaluate(sw, ensemble, test), "statistics_aware": mx.evaluate(sa, ensemble, test)}
    base = per["software"]
    error = np.stack([base.error.values, da_err, per["statistics_aware"].error.values])
    loss = np.stack([base.loss.values, da_loss, per["statistics_aware"].loss.values])
    sens_seed = reproduce.derive_seed(seed, "sensitivity")  # the same dies for both, as the study
    sens = [mx.sensitivity(w, stats, n_sens, test, seed=sens_seed).error.values for w in (sw, sa)]
    coords = {"method": list(METHODS), "die": base.die.values, "sample": np.arange(n_sens),
              "sens_method": ["software", "statistics_aware"]}
    coords.update({name: base[name] for name in base.coords if name.startswith("n_")})
    settings = reproduce.full_settings()
    return xr.Dataset(
        {"error": (("method", "die"), error, {"long_name": "misclassification error", "units": "1"}),
         "loss": (("method", "die"), loss, {"long_name": "cross-entropy loss", "units": "1"}),
         "sens_error": (("sens_method", "sample"), np.stack(sens),
                        {"long_name": "error on freshly sampled dies", "units": "1"}),
         "ideal_error": ((), float(mx.evaluate(sw, None, test).error),
                         {"long_name": "software weights on ideal devices", "units": "1"})},
        coords=coords,
        attrs={"kind": "results", "dies": ensemble.attrs.get("provenance", ""),
               "statistics": "fitted to the dies (mtjexplore.study.reproduce.measured_dies)",
               "seed": int(seed), "sensitivity_seed": int(sens_seed),
               "recipes": repr({m: reproduce.recipe(m, settings) for m in METHODS}),
               "mtjexplore_version": mx.__version__})


def from_study(folder):
    """The three groups from a finished study folder (``mtjexplore reproduce --out folder``)."""
    folder = Path(folder)
    study = mx.load(folder / "results.nc")
    sw = mx.load(folder / "weights" / "software.nc")
    sa = mx.load(folder / "weights" / "statistics_aware.nc")
    sens_methods = ["software", "statistics_aware"]
    coords = {"method": list(METHODS), "die": study.die.values, "sample": study.sample.values,
              "sens_method": sens_methods}
    coords.update({name: study[name] for name in study.coords
                   if name.startswith("n_") and study[name].dims == ("die",)})
    pick = lambda var, methods: study[var].sel({"method": list(methods)}).values  # noqa: E731
    results = xr.Dataset(
        {"error": (("method", "die"), pick("error", METHODS),
                   {"long_name": "misclassification error", "units": "1"}),
         "loss": (("method", "die"), pick("loss", METHODS), {"long_name": "cross-entropy loss", "units": "1"}),
         "sens_error": (("sens_method", "sample"), pick("sens_error", sens_methods),
                        {"long_name": "error on freshly sampled dies", "units": "1"}),
         "ideal_error": ((), float(study.ideal_error.sel({"method": "software"})),
                         {"long_name": "software weights on ideal devices", "units": "1"})},
        coords=coords,
        attrs={"kind": "results", "dies": study.attrs.get("dies", ""),
               "statistics": "fitted to the dies (mtjexplore.study.reproduce.measured_dies)",
               "seed": int(study.attrs["seed"]), "device": study.attrs.get("device", ""),
               "recipes": study.attrs.get("recipes", ""), "source": f"copied from the study in {folder.name}/",
               "mtjexplore_version": mx.__version__})
    return {"software": sw, "statistics_aware": sa, "results": results}


def write(out, groups):
    """Write the groups into one NetCDF file, atomically (temporary name, then rename)."""
    fd, tmp = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent)
    os.close(fd)
    try:
        mode = "w"
        for name, ds in groups.items():
            ds.to_netcdf(tmp, group=name, mode=mode, engine="netcdf4")
            mode = "a"
        os.chmod(tmp, 0o644)  # mkstemp makes it private; package data must be readable
        os.replace(tmp, out)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--n-sensitivity", type=int, default=500, help="sampled dies (default 500, as the study)")
    parser.add_argument("--seed", type=int, default=0, help="the study's seed (default 0, as docs/results)")
    parser.add_argument("--overwrite", action="store_true")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    parser.add_argument("--from-study", type=Path, default=None,
                        help="copy weights and results from this `mtjexplore reproduce --out` folder")
    args = parser.parse_args(argv)
    if args.out.exists() and not args.overwrite:
        parser.error(f"{args.out} exists; pass --overwrite to replace it")
    torch.set_num_threads(args.threads)
    start = time.monotonic()

    def log(message):
        print(f"[{time.monotonic() - start:6.1f} s] {message}", flush=True)

    if args.from_study is not None:
        groups = from_study(args.from_study)
        write(args.out, groups)
        means = groups["results"].error.mean("die")
        log(f"wrote {args.out} from {args.from_study}: mean error "
            + ", ".join(f"{m} {float(means.sel({'method': m})):.4f}" for m in METHODS))
        return 0

    ensemble, stats = reproduce.measured_dies()
    train, test = mx.load_mnist()
    sw, sa, da_err, da_loss = train_all(ensemble, stats, train, test, args.seed, log)
    results = results_dataset(ensemble, stats, sw, sa, da_err, da_loss, test, args.n_sensitivity, args.seed)
    write(args.out, {"software": sw, "statistics_aware": sa, "results": results})
    means = results.error.mean("die")
    log(f"wrote {args.out}: mean error " + ", ".join(f"{m} {float(means.sel({'method': m})):.4f}" for m in METHODS))
    return 0


if __name__ == "__main__":
    sys.exit(main())
