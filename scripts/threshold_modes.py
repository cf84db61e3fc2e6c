#!/usr/bin/env python3
"""The study's baseline and statistics-aware figures with each comparator threshold mode, retrained.

The hidden comparators' thresholds ``theta`` can be (``Trainer(threshold_mode=...)``, see
:mod:`mtjexplore.network`):

* ``half_integer`` (the default, the committed study): ``k + 1/2`` unit weights per neuron --
  ``|k|`` extra always-on device pairs and one shared half-unit reference per layer -- trained
  with straight-through rounding;
* ``per_neuron``: continuous, one trimmed reference per column;
* ``shared``: one continuous reference per hidden layer.

For every mode other than the study's own (``--study``'s settings) this runs the study's recipe
from scratch: the software
recipe on all of MNIST (seed ``derive_seed(seed, "software")``, as the study), then
statistics-aware fine-tuning on dies sampled from the statistics fitted to the 36 reference dies
(seed ``derive_seed(seed, "statistics_aware")``). Both are evaluated on ideal devices, on the 36
reference dies and on 500 dies freshly sampled from the statistics (seed
``derive_seed(seed, "sensitivity")``: the very dies of the study's sensitivity sampling). The
study's own mode's rows are the committed study (``docs/results/results.nc``), not recomputed.

Each mode's weights and evaluation are stage files under ``--out``/``weights`` and
``--out``/``stages``: a rerun resumes. Writes ``--out``/``results.nc`` and ``summary.md`` (via
:func:`mtjexplore.study.layout.write_results`) and the same text to
``docs/results/threshold_modes.md``.

With ``--correlation RHO`` it instead compares dies sampled with correlated P/AP spread
(``DefectStatistics.spread_correlation``, issue 12): the committed software and statistics-aware
weights on ``--n-corr`` dies sampled from the fitted statistics with correlation 0 and ``RHO``
(same seed: the same defects and P draws, only the AP draws differ), plus statistics-aware
weights fine-tuned on dies with correlation 0 and ``RHO`` (``--retrain-seeds``), writing
``docs/results/spread_correlation.md``.

Usage::

    python scripts/threshold_modes.py [--modes per_neuron shared] [--out docs/results/threshold_modes]
    python scripts/threshold_modes.py --correlation 0.9 [--n-corr 200] [--retrain-seeds 0 1]
"""

from __future__ import annotations

import argparse
import json
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
    """``error[method, set, die]`` (NaN-padded) of one mode's weights, a stage file; ``weights()``
    gives the weights (called only when the stage is not there yet)."""
    def compute():
        n = max(dies.sizes["die"], n_fresh)
        err = np.full((len(METHODS), len(SETS), n), np.nan)
        trained = weights()
        for m, method in enumerate(METHODS):
            w = trained[method]
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
    """``(mode, errors)``: the threshold mode the committed study was trained in (per_neuron before
    the setting existed) and its errors in the layout of :func:`evaluate_mode`."""
    res = mx.load(Path(study) / layout.RESULTS)
    mode = json.loads(res.attrs.get("settings", "{}")).get("threshold_mode", "per_neuron")
    n = max(res.sizes["die"], n_fresh)
    err = np.full((len(METHODS), len(SETS), n), np.nan)
    index = [str(v) for v in res.method.values]  # by position: .sel on this coordinate misbehaves
    for m, method in enumerate(METHODS):
        k = index.index(method)
        err[m, 0, 0] = float(res.ideal_error.values[k])
        err[m, 1, :res.sizes["die"]] = res.error.values[k]
        err[m, 2, :n_fresh] = res.sens_error.values[k, :n_fresh]
    return mode, err


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
    parser.add_argument("--modes", nargs="+", default=None, choices=mx.network.THRESHOLD_MODES,
                        help="modes to train (default: every mode but the study's own)")
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "results" / "threshold_modes")
    parser.add_argument("--md", type=Path, default=REPO / "docs" / "results" / "threshold_modes.md")
    parser.add_argument("--study", type=Path, default=REPO / "docs" / "results",
                        help="the committed study (its results.nc gives its own mode's rows)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--n-fresh", type=int, default=500)
    parser.add_argument("--correlation", type=float, default=None,
                        help="run the correlated-spread comparison with this correlation instead")
    parser.add_argument("--n-corr", type=int, default=200)
    parser.add_argument("--retrain-seeds", type=int, nargs="*", default=None,
                        help="with --correlation: also fine-tune statistics-aware weights (from the committed "
                             "software weights) on dies with correlation 0 and RHO, with these study seeds")
    parser.add_argument("--tiny", action="store_true",
                        help="a smoke run: the study's tiny settings (its numbers mean nothing)")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    log = lambda msg: print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)  # noqa: E731
    settings = reproduce.tiny_settings() if args.tiny else reproduce.full_settings()
    train, test = mx.load_mnist(n_train=settings.n_train, n_test=settings.n_test)
    data = argparse.Namespace(train=train, test=test)
    dies, stats = reproduce.measured_dies()
    if args.correlation is not None:
        return correlation_main(args, data, dies, stats, settings, log)
    own, committed = committed_errors(args.study, args.n_fresh)
    errors = {own: committed}
    weights = {own: {m: mx.load(layout.weights_path(args.study, m)) for m in METHODS}}
    for mode in args.modes or [m for m in mx.network.THRESHOLD_MODES if m != own]:
        def trained(mode=mode):
            if mode not in weights:
                weights[mode] = train_mode(mode, args.out, data, stats, args.seed, settings, log)
            return weights[mode]
        errors[mode] = evaluate_mode(mode, trained, args.out, data, dies, stats, args.seed, args.n_fresh, log)
        if mode in ("half_integer", "shared"):
            trained()  # their circuit values are reported below
    errors = {m: errors[m] for m in mx.network.THRESHOLD_MODES if m in errors}
    extra = {mode: ({m: k_counts(w) for m, w in weights[mode].items()} if mode == "half_integer" else
                    {m: float(w.theta.values[0]) for m, w in weights[mode].items()})
             for mode in ("half_integer", "shared") if mode in weights}
    results = xr.Dataset(
        {"error": (("mode", "method", "set", "die"), np.stack(list(errors.values())),
                   {"long_name": "test error (ties as a random tie-break)", "units": "1"})},
        coords={"mode": list(errors), "method": list(METHODS), "set": list(SETS)},
        attrs={"kind": "threshold modes", "seed": args.seed, "n_fresh": args.n_fresh, "study_mode": own,
               "device": stats.config.device.describe(),
               "note": "set=ideal: die 0 only; reference_36: dies 0..35; fresh_500: the study's "
                       f"sensitivity dies. {own} rows are the committed study."})
    seed_text, seed_errors = other_seeds(args.out)
    text = report({args.seed: errors, **seed_errors}, extra, own) + seed_text
    layout.write_results(args.out, results, text)
    layout.write_text(args.md, text)
    print(text)
    return 0


def k_counts(weights):
    """``{k: neurons}`` of a half-integer mode's ``theta = k + 1/2``."""
    k, n = np.unique(np.floor(weights.theta.values).astype(int), return_counts=True)
    return dict(zip(k.tolist(), n.tolist()))


def other_seeds(out):
    """Tables of the runs with other seeds kept under ``out/seed<k>`` (``--seed k --out out/seed<k>
    --study docs/results/seeds/seed<k>``), if any."""
    parts, by_seed = [], {}
    for path in sorted(Path(out).glob("seed*/results.nc")):
        res = mx.load(path)
        errors = {str(m): res.error.values[i] for i, m in enumerate(res.mode.values)}
        by_seed[int(res.attrs["seed"])] = errors
        own = res.attrs.get("study_mode", "per_neuron")
        parts += [f"### Training seed {res.attrs['seed']} (`{path.parent.relative_to(REPO)}`; {own} rows "
                  f"from `docs/results/seeds/seed{res.attrs['seed']}`)", "", *table(errors), ""]
    if not parts:
        return "", by_seed
    return "\n".join(["", "## Other training seeds", "",
                      "The same runs with another study seed (training, and the 500 fresh dies, "
                      "follow the seed; the 36 dies are the same).", "", *parts]), by_seed


def seed_summary(by_seed):
    """Per mode, over the training seeds: software on ideal devices and the statistics-aware gaps."""
    sd = lambda v: f" ± {np.std(v, ddof=1):.2f}" if len(v) > 1 else ""  # noqa: E731
    lines = ["| thresholds | software, ideal devices | unaware gap, 36 / 500 dies | "
             "statistics-aware, 36 dies: mean error | gap | statistics-aware, 500 dies: mean error | gap |",
             "|---|---:|---:|---:|---:|---:|---:|"]
    for mode in mx.network.THRESHOLD_MODES:
        errs = [err[mode] for err in by_seed.values() if mode in err]
        if not errs:
            continue
        base = np.array([100 * e[0, 0, 0] for e in errs])
        mean = lambda m, k: np.array([100 * np.nanmean(e[m, k]) for e in errs])  # noqa: E731
        lines.append(f"| {mode} | {base.mean():.2f} %{sd(base)} | "
                     f"{(mean(0, 1) - base).mean():+.2f} / {(mean(0, 2) - base).mean():+.2f} % | "
                     + " | ".join(f"{mean(1, k).mean():.2f} %{sd(mean(1, k))} | "
                                  f"{(mean(1, k) - base).mean():+.2f} %{sd(mean(1, k) - base)}" for k in (1, 2)) + " |")
    return lines


def report(by_seed, extra, own):
    """The .md text: ``by_seed`` maps training seeds to their errors (the first is tabled); ``own``
    is the committed study's threshold mode."""
    seed, errors = next(iter(by_seed.items()))
    notes = []
    for mode, info in extra.items():
        if mode == "half_integer":
            notes.append("half_integer: theta = k + 1/2 with neurons per k " + ", ".join(
                f"{counts} ({m.replace('_', '-')})" for m, counts in info.items()) +
                ": a layer needs max |k| extra always-on rows of device pairs.")
        else:
            notes.append(f"{mode}: the shared reference is " + ", ".join(
                f"{v:.3f} ({m.replace('_', '-')})" for m, v in info.items()) + " unit weights.")
    seeds = ", ".join(str(k) for k in by_seed)
    return "\n".join([
        "# Comparator thresholds a circuit can hold: the study retrained in each mode", "",
        f"Device: {mx.config.paper_device().describe()}. Software recipe from scratch on all of "
        "MNIST, then the statistics-aware recipe, in each threshold mode "
        "(`Trainer(threshold_mode=...)`, see `mtjexplore/network.py`), with the study's seeds. "
        "Errors on the 10,000 test images (ties as a random tie-break); gap = mean minus the same "
        "mode's software error on ideal devices. 36 dies: the reference dies; 500 fresh dies: the "
        "study's sensitivity dies (sampled from the statistics fitted to the 36). The "
        f"{own} rows are the committed study (`docs/results/results.nc`, and `docs/results/seeds` "
        "for the other seeds). Made by `scripts/threshold_modes.py` (data: "
        "`docs/results/threshold_modes/results.nc`, weights in `docs/results/threshold_modes/weights`).", "",
        f"## Over training seeds {seeds} (mean ± s.d. over seeds)", "", *seed_summary(by_seed), "",
        f"## Training seed {seed}", "", *table(errors), "", *[f"- {n}" for n in notes], "",
        "## Which mode is the default", "",
        "- **half_integer** (the default) is built from what the die already has: the integer part "
        "from extra always-on device pairs in each column (written +1 or -1, or alike for 0), the "
        "half from one half-unit reference per layer (e.g. the comparator offset, or a pair of "
        "devices of half area). A layer needs max |k| extra rows (the k counts above: 2-3 rows in "
        "layer 1, 360-540 MTJs, 1.8-2.7 % of the 20,000) and one reference; it is written like the "
        "weights, not trimmed.",
        "- **per_neuron** needs a trimmed analog reference per hidden column (90 on the paper's "
        "die): a DAC or trimmed current source each, programmed per chip, none of it MTJs, and "
        "each with its own error (not modelled). On ideal devices the column currents are "
        "integers, so its continuous values decide exactly as `floor(theta) + 1/2`: the precision "
        "buys nothing there.",
        "- **shared** is the cheapest circuit (one reference per layer, no extra rows); its "
        "trained reference lands on or near an integer, the decision boundary of integer column "
        "currents, and its software baseline is the least stable over seeds.", "",
        "The default is chosen by what the circuit can hold, not by the table: half_integer is "
        "the mode a crossbar of MTJ rows plus one reference per layer realises without per-column "
        "trimming. The table says what it costs against the other two; differences of a few "
        "tenths of a percent are within the seed-to-seed spread. Read the gaps with the "
        "baselines: a mode whose software baseline is lower shows a larger gap for the same "
        "statistics-aware error on the dies (compare the mean-error columns).", "",
        "The half-integer thresholds above are exact numbers in unit weights. The extra rows' "
        "own spread and defects are measured separately, on the same dies "
        "([threshold_rows/](threshold_rows/summary.md)). Not modelled: the spread of the "
        "half-unit or shared references.", ""])


def correlation_main(args, data, dies, stats, settings, log):
    """The committed weights on dies sampled with spread correlation 0 and ``args.correlation``."""
    import dataclasses

    rho = args.correlation
    study_rho = stats.spread_correlation  # the study's dies and training (the device's default)

    def said(r):
        return ", the study's and the default" if r == study_rho else ""

    weights = {m: mx.load(layout.weights_path(args.study, m)) for m in METHODS}
    measured = mx.statistics.measured_spread_correlation(dies)
    dies_rho = mx.die.config_of(dies).device.spread_correlation
    for train_seed in (args.retrain_seeds or []):
        for r in (0.0, rho):  # paired: the same seed trained on independent and correlated dies
            t0 = time.time()
            weights[f"statistics_aware (seed {train_seed}, trained at {r:g})"] = _stage(
                args.out / "weights" / f"statistics_aware_seed{train_seed}_corr{r:g}.nc",
                lambda: reproduce.train_statistics_aware(
                    weights["software"], dataclasses.replace(stats, spread_correlation=r), data.train,
                    reproduce.derive_seed(train_seed, "statistics_aware"), settings))
            log(f"statistics-aware seed {train_seed} at correlation {r:g}: {time.time() - t0:.0f} s")
    seed = reproduce.derive_seed(args.seed, "spread_correlation")
    err = {}
    for name, w in weights.items():
        for r in (0.0, rho):
            t0 = time.time()
            err[name, r] = mx.sensitivity(w, dataclasses.replace(stats, spread_correlation=r), args.n_corr,
                                          data.test, seed=seed).error.values
            log(f"{name} on correlation {r:g}: {100 * err[name, r].mean():.2f} % ({time.time() - t0:.0f} s)")
    pct = lambda v: f"{100 * v:.2f} %"  # noqa: E731
    lines = [f"| weights | ideal devices | correlation 0: mean ± s.e. (worst) | correlation {rho:g} | "
             "paired difference ± s.e. |", "|---|---:|---:|---:|---:|"]
    for name, w in weights.items():
        a, b = err[name, 0.0], err[name, rho]
        d = b - a
        se = lambda v: v.std(ddof=1) / np.sqrt(len(v))  # noqa: E731
        lines.append(f"| {name.replace('_', '-')} | {pct(float(mx.evaluate(w, None, data.test).error))} | "
                     f"{pct(a.mean())} ± {100 * se(a):.2f} ({pct(a.max())}) | "
                     f"{pct(b.mean())} ± {100 * se(b):.2f} ({pct(b.max())}) | "
                     f"{100 * d.mean():+.3f} % ± {100 * se(d):.3f} |")
    effect = []
    for r in (0.0, rho):  # training at rho minus training at 0, per seed, on dies with correlation r
        d = [100 * (err[f"statistics_aware (seed {k}, trained at {rho:g})", r].mean()
                    - err[f"statistics_aware (seed {k}, trained at 0)", r].mean()) for k in args.retrain_seeds or []]
        if d:
            effect.append(f"on dies with correlation {r:g}: " + ", ".join(f"{v:+.2f} %" for v in d) +
                          f" (mean {np.mean(d):+.2f} %" + (f" ± {np.std(d, ddof=1):.2f} s.d.)" if len(d) > 1 else ")"))
    effect_text = ([f"Training at correlation {rho:g} instead of 0 (same seed, same software start), per seed "
                    f"{args.retrain_seeds}: " + "; ".join(effect) + ".", ""] if effect else [])
    text = "\n".join([
        "# Correlated P/AP spread of one junction", "",
        f"Device: {stats.config.device.describe()}. {args.n_corr} dies sampled from the statistics "
        f"fitted to the 36 reference dies, once with independent P and AP draws (correlation 0{said(0)}) "
        f"and once with `spread_correlation={rho:g}` (the argued value{said(rho)}, see "
        "`mtjexplore/config.py`); the same seed, so the same defects and the same P draws, only the "
        "AP draws differ: the difference is paired. Committed study weights (`docs/results/weights`)"
        + (", plus statistics-aware weights fine-tuned from the committed software weights on dies "
           f"with correlation 0 and {rho:g} (the study's recipe; study seeds {args.retrain_seeds}; at "
           f"seed 0 and correlation {study_rho:g} that is the committed study's training)"
           if args.retrain_seeds else "") +
        ". Errors on the 10,000 test images (ties as a random tie-break). Made by "
        f"`scripts/threshold_modes.py --correlation {rho:g}`.", "",
        *lines, "", *effect_text,
        f"Measured correlation of ln R_P and ln R_AP over the good devices of the 36 reference dies: "
        f"{measured:+.4f} (they were generated with correlation {dies_rho:g}; "
        "`DefectStatistics.fit(..., fit_correlation=True)` would return the measured value).", "",
        "Why so little changes: a differential pair reads `g_P(+) - g_AP(-)` for `w = +1` and "
        "`g_AP(+) - g_P(-)` for `w = -1`: one device in P and the other in AP, so each effective "
        "weight's distribution (and the error distribution over dies) does not depend on the "
        "correlation within a junction. It matters only where both states of one device meet: the "
        "split into offset and gain the statistics-aware gradient uses, and remapping (which swaps "
        "the two devices of a pair).", ""])
    layout.write_text(REPO / "docs" / "results" / "spread_correlation.md", text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
