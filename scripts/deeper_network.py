"""A three-layer network across several crossbar tiles, trained with all three methods (issue 11).

Trains, for the paper's two-layer network (10x10 inputs -> 90 -> 10, one 101 x 200 tile) and a
three-layer network (14x14 inputs -> 128 -> 64 -> 10, five 101 x 200 tiles), the software baseline
and statistics-aware weights (the recipes of :mod:`mtjexplore.recipes`), and defect-aware weights
on a few sampled dies; evaluates them on an ensemble of dies sampled from the reference
statistics (per-device defect rates kept, so the bigger die holds ~3.4x more defects:
:meth:`mtjexplore.DefectStatistics.rescaled`); writes

* ``results.nc``: per network, method and die the error and the error of the same weights on
  ideal devices, plus the software weights' ideal error;
* ``gap.png``: left, mean error on the dies minus the network's software error on ideal devices
  (the paper's gap), per method; right, minus the *same* weights' error on ideal devices (the
  damage the defects do: fine-tuning also trains on, so the two differ);
* ``summary.md``: what was run and measured.

Usage::

    python scripts/deeper_network.py                  # ~10-20 min on 2 cores
    python scripts/deeper_network.py --quick --out /tmp/deeper   # ~1 min, for a look

Defect-aware weights are fine-tuned on each of the first ``--defect-aware-dies`` dies and
evaluated on that die only (the method's promise); the other methods on all dies.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch
import xarray as xr

import mtjexplore as mx
from mtjexplore.recipes import defect_aware_recipe, software_recipe, statistics_aware_recipe

NETWORKS = {
    "two-layer": {"layer_sizes": (100, 90, 10), "size": 10},
    "three-layer": {"layer_sizes": (196, 128, 64, 10), "size": 14},
}
METHODS = ("software", "defect_aware", "statistics_aware")
TILE = (101, 200)


def settings(quick):
    if quick:
        return {"n_train": 6000, "n_test": 2000, "epochs": 3, "sa_epochs": 3, "da_epochs": 1,
                "n_dies": 12, "n_da_dies": 2}
    return {"n_train": None, "n_test": None, "epochs": None, "sa_epochs": None, "da_epochs": None,
            "n_dies": 36, "n_da_dies": 6}


def _recipe(recipe, epochs):
    return recipe if epochs is None else {**recipe, "epochs": epochs}


def run_network(name, opts, seed, log):
    """Errors ``[method, die]`` and the ideal error of one network."""
    spec = NETWORKS[name]
    config = mx.CrossbarConfig(layer_sizes=spec["layer_sizes"], tile_shape=TILE)
    train, test = mx.load_mnist(size=spec["size"], n_train=opts["n_train"], n_test=opts["n_test"])
    stats = mx.reference_statistics().rescaled(config)
    dies = stats.sample(opts["n_dies"], seed=seed + 1)
    t0 = time.perf_counter()
    sw = mx.Trainer(config, seed=seed, **_recipe(software_recipe(), opts["epochs"])).fit(train).weights_
    log(f"{name}: {config.describe()}; software trained in {time.perf_counter() - t0:.0f} s")
    ideal = float(mx.evaluate(sw, None, test).error)
    errors = np.full((len(METHODS), opts["n_dies"]), np.nan)
    own_ideal = np.full_like(errors, np.nan)
    errors[0], own_ideal[0] = mx.evaluate(sw, dies, test).error.values, ideal
    t0 = time.perf_counter()
    sa = mx.Trainer(config, method="statistics_aware", sampler=stats, seed=seed,
                    **_recipe(statistics_aware_recipe(), opts["sa_epochs"])).fit(train, init=sw).weights_
    errors[2] = mx.evaluate(sa, dies, test).error.values
    own_ideal[2] = float(mx.evaluate(sa, None, test).error)
    log(f"{name}: statistics-aware trained in {time.perf_counter() - t0:.0f} s")
    for k in range(opts["n_da_dies"]):
        die = dies.isel(die=k)
        da = mx.Trainer(config, method="defect_aware", die=die, seed=seed + k,
                        **_recipe(defect_aware_recipe(), opts["da_epochs"])).fit(train, init=sw).weights_
        errors[1, k] = float(mx.evaluate(da, die, test).error[0])
        own_ideal[1, k] = float(mx.evaluate(da, None, test).error)
    log(f"{name}: ideal {100 * ideal:.2f} %; mean on dies " + ", ".join(
        f"{m} {100 * np.nanmean(e):.2f} %" for m, e in zip(METHODS, errors)))
    counts = mx.defect_counts(dies).sum("kind").values
    return xr.Dataset(
        {"error": (("method", "die"), errors, {"long_name": "misclassification error", "units": "1"}),
         "own_ideal_error": (("method", "die"), own_ideal,
                             {"long_name": "error of the same weights on ideal devices", "units": "1"}),
         "ideal_error": ((), ideal, {"long_name": "software weights on ideal devices", "units": "1"}),
         "n_defects": (("die",), counts, {"long_name": "defective devices on the die"})},
        coords={"method": list(METHODS), "die": np.arange(opts["n_dies"])},
        attrs={"config": config.to_json(), "n_devices": config.n_devices,
               "n_tiles": config.floorplan.n_tiles, "image_size": spec["size"]})


def run(opts, seed, log=print):
    parts = [run_network(name, opts, seed, log).expand_dims(network=[name]) for name in NETWORKS]
    out = xr.concat(parts, "network", data_vars="all", coords="minimal", compat="override",
                    combine_attrs="drop")
    out["n_devices"] = ("network", [p.attrs["n_devices"] for p in parts])
    out["n_tiles"] = ("network", [p.attrs["n_tiles"] for p in parts])
    out.attrs.update({"seed": seed, **{k: -1 if v is None else v for k, v in opts.items()},
                      "mtjexplore_version": mx.__version__, "kind": "deeper network study"})
    return out


def gaps(results, own=False):
    """Mean error on the dies minus the network's software error on ideal devices, or (``own``)
    minus the same weights' error on ideal devices: ``[network, method]`` in points."""
    reference = results.own_ideal_error if own else results.ideal_error
    return 100 * (results.error - reference).mean("die", skipna=True)


def plot(results, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 3.8), sharey=True)
    width = 0.38
    x = np.arange(len(METHODS))
    titles = ("minus the software weights on ideal devices", "minus the same weights on ideal devices")
    for ax, own, title in zip(axes, (False, True), titles):
        g = gaps(results, own)
        reference = results.own_ideal_error if own else results.ideal_error
        for i, net in enumerate(results.network.values):
            per_die = 100 * (results.error - reference).sel(network=net)
            label = (f"{net}: {int(results.n_devices.sel(network=net)):,} MTJs, "
                     f"{int(results.n_tiles.sel(network=net))} tile(s)")
            ax.bar(x + (i - 0.5) * width, g.sel(network=net).values, width, label=label, alpha=0.8)
            for m in range(len(METHODS)):
                pts = per_die.values[m][np.isfinite(per_die.values[m])]
                ax.plot(np.full(len(pts), x[m] + (i - 0.5) * width), pts, ".", color="k", ms=3)
        ax.axhline(0, color="k", lw=0.8)
        ax.set_xticks(x, ["software\n(unaware)", "defect-aware\n(own die)", "statistics-aware"])
        ax.set_title(f"error on dies {title}", fontsize=10)
    axes[0].set_ylabel("gap (points); bars: mean, dots: dies")
    axes[0].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def summary(results, seconds):
    g, own = gaps(results), gaps(results, own=True)
    lines = ["# A three-layer network across tiles (issue 11)", "",
             "Written by `scripts/deeper_network.py`"
             f"{' --quick' if results.attrs['n_dies'] < 36 else ''} in {seconds / 60:.1f} min "
             f"(seed {results.attrs['seed']}, one torch thread).", "",
             "Two networks, each on dies of 101 x 200-cell tiles, dies sampled from the reference "
             "statistics with the per-device defect rates kept (`DefectStatistics.rescaled`): the "
             "three-layer die has ~3.4x the devices and so ~3.4x the defects.", "",
             "| network | MTJs | tiles | software error (ideal) | gap: software | gap: defect-aware "
             "(own die) | gap: statistics-aware |", "|---|---|---|---|---|---|---|"]
    for net in results.network.values:
        r = results.sel(network=net)
        cells = [f"{g.sel({'network': net, 'method': m}).item():+.2f} % "
                 f"({own.sel({'network': net, 'method': m}).item():+.2f} %)" for m in METHODS]
        lines.append(f"| {net} | {int(r.n_devices):,} | {int(r.n_tiles)} | "
                     f"{100 * float(r.ideal_error):.2f} % | " + " | ".join(cells) + " |")
    n_da = int(np.isfinite(results.error.sel({'method': 'defect_aware'}).values[0]).sum())
    sw_da = 100 * (results.error.sel({"method": "software"}).isel(die=slice(0, n_da)).mean("die")
                   - results.ideal_error)
    lines += ["", f"Gap = mean error on the {results.sizes['die']} sampled test dies minus the same "
              "network's software weights on ideal devices (defect-aware: mean over the first "
              f"{n_da} dies, each with weights fine-tuned on it; the software weights' gap on those "
              f"dies: " + ", ".join(f"{n} {v:+.2f} %" for n, v in zip(results.network.values, sw_da.values))
              + "). In brackets: the mean error on the dies minus the *same* weights' error on ideal "
              "devices, i.e. the damage the defects do (defect-aware and statistics-aware weights are "
              "fine-tuned from the software weights for 3 and 20 more epochs, which also lowers their "
              "ideal error: that is why a gap can be negative). Recipes: `mtjexplore.recipes` "
              f"(epochs: {_epochs(results)}). Training images: "
              f"{'all 60,000' if results.attrs['n_train'] < 0 else results.attrs['n_train']}; test images: "
              f"{'all 10,000' if results.attrs['n_test'] < 0 else results.attrs['n_test']}.", "",
              "![gap](gap.png)", ""]
    return "\n".join(lines)


def _epochs(results):
    e = {k: results.attrs[k] for k in ("epochs", "sa_epochs", "da_epochs")}
    return "recipe defaults" if all(v < 0 for v in e.values()) else \
        f"software {e['epochs']}, statistics-aware {e['sa_epochs']}, defect-aware {e['da_epochs']}"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="docs/results/deeper")
    parser.add_argument("--quick", action="store_true", help="small run (~1 min)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    results = run(settings(args.quick), args.seed)
    seconds = time.perf_counter() - t0
    results.to_netcdf(out / "results.nc")
    plot(results, out / "gap.png")
    (out / "summary.md").write_text(summary(results, seconds))
    print((out / "summary.md").read_text())


if __name__ == "__main__":
    main()
