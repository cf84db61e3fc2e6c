#!/usr/bin/env python3
"""Half-integer thresholds built of real device pairs: their spread and defects, measured per die.

In the ``half_integer`` threshold mode (see :mod:`mtjexplore.network`) a hidden neuron's threshold
``theta_j = k_j + 1/2`` is ``|k_j|`` extra always-on device pairs in the neuron's column, written
``-sign(k_j)`` (they add ``-k_j`` unit weights to the column current), plus one half-unit
reference per layer. A layer has ``K = max |k|`` such rows; a column needing fewer has its
remaining ``K - |k_j|`` pairs written alike (both devices in the same state: ~0). The network
model treats these thresholds as exact numbers; this script gives every die of an ensemble its
own ``K x n_hidden`` extra pairs per hidden layer, drawn from the die statistics, and evaluates
the weights with the thresholds those pairs actually make::

    theta_j = 1/2 - sum_r (a_rj + b_rj * w_rj),   w_rj = -sign(k_j) for r < |k_j|, else 0

(``a, b``: :func:`mtjexplore.network.pair_coefficients` of the row's two devices, unit weights;
an ideal pair gives ``a = 0, b = 1`` and ``theta_j = k_j + 1/2`` exactly). The half-unit
reference is still exact (not modelled).

**Pairs written alike.** ``a + b * 0 = a`` is the mean of the pair's both-P current
``g_P+ - g_P-`` and its both-AP current ``g_AP+ - g_AP-``: ideally both are 0, and they differ
from each other only by spread (a defective device reads the same in both states, so a short
shifts both alike). A real circuit writes one of the two; ``--alike p`` or ``--alike ap`` takes
that state's current instead of the mean ``a`` (default ``mean``, the model's ``w = 0``). The
mean averages two independent spreads, so it slightly understates an alike pair's spread (half
the variance of either state): the choice is second order next to a short (measured on the
half-integer weights of ``scripts/threshold_modes.py``: the paired differences with ``p`` or ``ap``
are within one standard error of those with ``mean``).

**How the rows are drawn (device level, not a larger die).** The rows are extra devices of the
*same* die, so they share the die's defect rate: the statistics give every die its own rate per
kind (a gamma draw), and a die with many shorts should put more shorts into its threshold rows
too. Sampling a larger die from ``DefectStatistics`` (a config with extra rows) would draw a new
rate, independent of the die it is added to, and would change the study's own die draw. So the
rows are sampled device by device with the library's pieces: good devices from
:meth:`~mtjexplore.statistics.DefectStatistics.healthy_conductances` (log-normal spread of both
states, fitted medians, series resistance, the P/AP correlation), then each device is defective
with the die's per-device rate of each kind and reads what
:func:`mtjexplore.defects.apply_defects` says (a short ``g_short_s`` in both states, an open
``g_open_s``, a stuck device its own P or AP value). The die's rate is not observed, only its
count ``N`` of each kind on its ``n_devices``; for a device that is not among those counted, the
probability of a defect is the posterior mean of the rate under the statistics' gamma prior
(mean ``m``, shape ``alpha``)::

    p = (alpha + N) / (alpha / m + 1) / n_devices       (m if alpha is inf, 0 if m is 0)

the same formula for the 36 reference dies and the fresh dies (for these the sampled rate exists
inside the draw, but is not part of the library's interface; the posterior mean is exact for one
device, and with ~0.3 shorts per die in the rows, joint draws hardly matter). Positions are
independent (the fitted statistics' spatial model; clustered statistics are refused).

**Determinism and pairing.** Row ``r`` of hidden layer ``l`` of die ``d`` of ensemble ``set`` is
drawn with its own generator, seeded ``derive_seed(seed, "threshold_rows", set, d, l, r)``: the
same seed gives the same numbers, every weights file sees the same devices in its first ``K``
rows, and a die's rows do not depend on how many dies run. The dies themselves are the study's:
the 36 reference dies of :func:`mtjexplore.study.reproduce.measured_dies` and ``--n-fresh`` dies
drawn exactly as :func:`mtjexplore.sensitivity` draws them (seed ``derive_seed(seed,
"sensitivity")``, chunks of 8), so the errors with exact thresholds are the study's numbers, and
the difference with rows is paired die by die.

**How the thresholds enter.** The extra rows are always-on inputs like the bias row, and the
periphery sums a column's currents, so the deviation of their current from ``-k_j`` is added to
the die's bias-row offset ``a`` (in float64, before the coefficients are cast to float32 as
everywhere); weights and evaluation (:func:`mtjexplore.evaluation.evaluate_tensors`) are
unchanged. With zero spread and no defects in the rows the deviation is exactly 0 and the errors
are bit for bit those with exact thresholds (a test checks it).

Writes ``--out``/``results.nc`` and ``summary.md`` (:func:`mtjexplore.study.layout.write_results`)
and prints the summary.

Usage::

    python scripts/threshold_rows.py --weights docs/results/weights/software.nc \\
        docs/results/weights/statistics_aware.nc [--out docs/results/threshold_rows] [--seed 0]
        [--n-fresh 500] [--alike mean|p|ap]
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

import numpy as np
import torch
import xarray as xr
from tqdm import tqdm

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import mtjexplore as mx
from mtjexplore._rng import torch_generator
from mtjexplore.defects import DEFECT_CODES, apply_defects
from mtjexplore.errors import MTJExploreError, ParameterError
from mtjexplore.evaluation import evaluate_tensors
from mtjexplore.network import (
    coefficients_from_maps,
    die_coefficients,
    pair_coefficients,
)
from mtjexplore.statistics import KINDS, load_statistics
from mtjexplore.study import layout, reproduce
from mtjexplore.weights import network_weights, threshold_mode_of, weights_config

CHUNK = 8  # dies per draw and per evaluation chunk: the default of mx.sensitivity and mx.evaluate
ALIKE = ("mean", "p", "ap")
SETS = ("reference", "fresh")


# ----------------------------------------------------------------------------- inputs
def load_weights(paths):
    """``{name: weights}`` of half-integer weights files (name: the file's stem)."""
    out = {}
    for path in paths:
        w = mx.load(path)
        mode = threshold_mode_of(w)
        if mode != "half_integer":
            raise ParameterError(
                f"{path}: threshold mode is {mode!r}, not 'half_integer'; this script measures the "
                "extra device rows of half-integer thresholds (theta = k + 1/2). Pass weights trained "
                "with Trainer(threshold_mode='half_integer')")
        name = Path(path).stem
        out[name if name not in out else str(path)] = w
    return out


def check_shapes(weights, paths, config):
    """Every weights file fits the dies' network."""
    for (name, w), path in zip(weights.items(), paths):
        if weights_config(w).layer_shapes != config.layer_shapes:
            raise ParameterError(f"{path}: layer shapes {weights_config(w).layer_shapes} differ from the "
                                 f"dies' {config.layer_shapes}")


def row_ks(weights):
    """Integer ``k`` per neuron of every hidden layer (``theta = k + 1/2``), int64 tensors."""
    return [torch.floor(t.to(torch.float64)).to(torch.int64) for t in network_weights(weights).thresholds]


def row_statistics(stats, path):
    """The statistics the rows are drawn from: ``path`` (a saved DefectStatistics) or the fitted ones."""
    rows = stats if path is None else load_statistics(path)
    if rows.spatial != "independent":
        raise ParameterError(f"row statistics have spatial={rows.spatial!r}; threshold rows are drawn "
                             "with independent positions only")
    return rows


# ----------------------------------------------------------------------------- device draw
def defect_rates(stats, counts):
    """Per-device probability ``[n_dies, len(KINDS)]`` of each defect kind in a die's extra rows.

    ``counts[kind]``: the die's count ``N`` of that kind (``[n_dies]``); the rate is the
    gamma-Poisson posterior mean ``(alpha + N) / (alpha / m + 1)`` per die, divided by the
    devices of a die (see the module docstring).
    """
    n = stats.config.n_devices
    cols = []
    for kind in KINDS:
        m, alpha = stats.mean_counts[kind], stats.count_shape[kind]
        c = np.asarray(counts[kind], dtype=np.float64)
        if m == 0:
            rate = np.zeros_like(c)
        elif math.isinf(alpha):
            rate = np.full_like(c, m)
        else:
            rate = (alpha + c) / (alpha / m + 1.0)
        cols.append(np.minimum(rate / n, 1.0))
    return np.stack(cols, axis=1)


def draw_row(stats, rates, n_pairs, generator):
    """``(g_p, g_ap, codes)`` of one row of ``n_pairs`` device pairs, each ``[n_pairs, 2]`` (+, -).

    ``rates``: per-device probability of each kind in ``KINDS`` order (:func:`defect_rates`).
    """
    g_p, g_ap = stats.healthy_conductances((n_pairs, 2), generator, torch.float64)
    u = torch.rand((n_pairs, 2), generator=generator, dtype=torch.float64)
    edges = np.cumsum(rates)
    codes = torch.zeros((n_pairs, 2), dtype=torch.uint8)
    for kind, low, high in zip(KINDS, np.concatenate([[0.0], edges[:-1]]), edges):
        codes[(u >= low) & (u < high)] = DEFECT_CODES[kind]
    g_p, g_ap = apply_defects(codes, g_p, g_ap, stats.g_short_s, stats.g_open_s)
    return g_p, g_ap, codes


def draw_die_rows(stats, rates, n_rows, n_pairs, seed, set_name, die, layer):
    """Rows ``0..n_rows-1`` of one die's hidden layer: ``(g_p, g_ap, codes)`` ``[n_rows, n_pairs, 2]``."""
    rows = [draw_row(stats, rates, n_pairs,
                     torch_generator(reproduce.derive_seed(seed, "threshold_rows", set_name, int(die), layer, r)))
            for r in range(n_rows)]
    return tuple(torch.stack(t) for t in zip(*rows))


def row_weights(k, n_rows):
    """``w[r, j] = -sign(k_j)`` for ``r < |k_j|``, else 0 (pairs written alike): ``[n_rows, n]`` float64."""
    r = torch.arange(n_rows).view(-1, 1)
    return torch.where(r < k.abs().view(1, -1), -torch.sign(k).to(torch.float64).view(1, -1),
                       torch.zeros((), dtype=torch.float64))


def row_currents(g_p, g_ap, w, unit, alike="mean"):
    """Current of every extra pair in unit weights, ``[..., n_rows, n]``.

    ``g_p, g_ap``: ``[..., n_rows, n, 2]`` (+ and - device); ``w``: the written weights
    (``+-1``, or 0 for a pair written alike, whose current is ``a`` for ``alike="mean"``, else
    the both-P or both-AP current).
    """
    gp_plus, gp_minus, ga_plus, ga_minus = g_p[..., 0], g_p[..., 1], g_ap[..., 0], g_ap[..., 1]
    a, b = pair_coefficients(gp_plus, ga_plus, gp_minus, ga_minus, unit)
    written = a + b * w
    if alike == "mean":
        same = a
    elif alike == "p":
        same = (gp_plus - gp_minus) / unit
    else:
        same = (ga_plus - ga_minus) / unit
    return torch.where(w == 0, same, written)


def row_thresholds(k, g_p, g_ap, unit, alike="mean"):
    """Actual thresholds ``1/2 - sum_r current[r, j]`` (float64) of neurons with integer parts ``k``.

    ``g_p, g_ap``: ``[..., K, n, 2]`` conductances of the rows (at least ``max |k|`` of them;
    all ``K`` are in the column, the unused ones written alike).
    """
    w = row_weights(k, g_p.shape[-3])
    return 0.5 - row_currents(g_p, g_ap, w, unit, alike).sum(-2)


# ----------------------------------------------------------------------------- ensembles
def _counts(codes):
    """``{kind: [n_dies]}`` defect counts of code maps ``[n_dies, ...]``."""
    flat = np.asarray(codes).reshape(len(codes), -1)
    return {kind: (flat == DEFECT_CODES[kind]).sum(1) for kind in KINDS}


def reference_chunks(dies):
    """``(die_ids, coeffs64, counts)`` of the reference dies in chunks of :data:`CHUNK`."""
    for start in range(0, dies.sizes["die"], CHUNK):
        part = dies.isel(die=slice(start, start + CHUNK))
        yield part.die.values, die_coefficients(part, torch.float64), _counts(part.defect.values)


def fresh_chunks(stats, n_fresh, seed):
    """The same for ``n_fresh`` dies drawn exactly as ``mx.sensitivity(..., seed=seed)`` draws them."""
    generator = torch_generator(seed)
    for start in range(0, n_fresh, CHUNK):
        n = min(CHUNK, n_fresh - start)
        g_p, g_ap, codes = stats.sample_maps(n, generator, torch.float64)
        yield (np.arange(start, start + n), coefficients_from_maps(g_p, g_ap, stats.config, torch.float64),
               _counts(codes.numpy()))


def with_thresholds(coeffs64, thetas_exact, thetas):
    """float32 coefficients whose bias rows carry ``theta_exact - theta`` (per die) on top of ``a``."""
    a = [t.clone() for t in coeffs64.a]
    for layer, (exact, actual) in enumerate(zip(thetas_exact, thetas)):
        a[layer][:, -1, :] += exact.view(1, -1) - actual
    return mx.network.DieCoefficients(a, coeffs64.b).to(dtype=torch.float32)


def run_set(set_name, chunks, n_dies, weights, ks, rows_stats, test, seed, alike):
    """Errors (exact and with rows), thresholds and row defects of every weights file on one ensemble."""
    names = list(weights)
    n_layers = len(ks[names[0]])
    n_rows = [max(int(ks[n][layer].abs().max()) for n in names) for layer in range(n_layers)]
    unit = rows_stats.config.device.delta_g_s
    n_neurons = sum(len(k) for k in ks[names[0]])
    out = {"die_id": np.zeros(n_dies, np.int64),
           "error_exact": np.zeros((len(names), n_dies)), "error_rows": np.zeros((len(names), n_dies)),
           "theta": np.zeros((len(names), n_dies, n_neurons)),
           "row_shorts": np.zeros((len(names), n_dies, n_neurons), np.int8),
           "row_defects": np.zeros((len(names), n_dies, len(KINDS)), np.int16)}
    done = 0
    with tqdm(total=n_dies, desc=f"{set_name} dies", unit="die", file=sys.stderr) as bar:
        for die_ids, coeffs64, counts in chunks:
            n = len(die_ids)
            rates = defect_rates(rows_stats, counts)
            drawn = [[draw_die_rows(rows_stats, rates[i], n_rows[layer], len(ks[names[0]][layer]), seed,
                                    set_name, die_ids[i], layer) for i in range(n)] for layer in range(n_layers)]
            base = coeffs64.to(dtype=torch.float32)
            sl = slice(done, done + n)
            out["die_id"][sl] = die_ids
            for m, name in enumerate(names):
                exact = network_weights(weights[name], dtype=torch.float64).thresholds
                thetas, shorts, defects = [], [], np.zeros((n, len(KINDS)), np.int64)
                for layer, k in enumerate(ks[name]):
                    K = int(k.abs().max())
                    g_p = torch.stack([d[0][:K] for d in drawn[layer]])
                    g_ap = torch.stack([d[1][:K] for d in drawn[layer]])
                    codes = torch.stack([d[2][:K] for d in drawn[layer]]).numpy()
                    thetas.append(row_thresholds(k, g_p, g_ap, unit, alike))
                    shorts.append((codes == DEFECT_CODES["short"]).sum((1, 3)))
                    defects += np.stack([(codes == DEFECT_CODES[kd]).reshape(n, -1).sum(1) for kd in KINDS], 1)
                out["error_exact"][m, sl] = evaluate_tensors(weights[name], base, test, CHUNK)[0].numpy()
                out["error_rows"][m, sl] = evaluate_tensors(
                    weights[name], with_thresholds(coeffs64, exact, thetas), test, CHUNK)[0].numpy()
                out["theta"][m, sl] = torch.cat(thetas, 1).numpy()
                out["row_shorts"][m, sl] = np.concatenate(shorts, 1)
                out["row_defects"][m, sl] = defects
            done += n
            bar.update(n)
    return out


# ----------------------------------------------------------------------------- results
def results_dataset(by_set, weights, ks, ideal, args, stats, rows_stats):
    """One Dataset: dims ``weights``, ``set``, ``die`` (NaN / -1 padded), ``neuron``, ``kind``."""
    names = list(weights)
    n_die = max(len(by_set[s]["die_id"]) for s in by_set)
    sets = list(by_set)

    def padded(key, fill, dtype):
        """``[weights, set, die, ...]`` from each set's ``[weights, die, ...]``."""
        first = by_set[sets[0]][key]
        arr = np.full((len(names), len(sets), n_die) + first.shape[2:], fill, dtype)
        for i, s in enumerate(sets):
            v = by_set[s][key]
            arr[:, i, :v.shape[1]] = v
        return arr

    die_id = np.full((len(sets), n_die), -1, np.int64)
    for i, s in enumerate(sets):
        die_id[i, :len(by_set[s]["die_id"])] = by_set[s]["die_id"]
    layer_of = np.concatenate([np.full(len(k), layer) for layer, k in enumerate(ks[names[0]])])
    index_in = np.concatenate([np.arange(len(k)) for k in ks[names[0]]])
    theta_exact = np.stack([torch.cat([t.to(torch.float64) for t in network_weights(weights[n]).thresholds]).numpy()
                            for n in names])
    n_rows = np.array([[int(k.abs().max()) for k in ks[n]] for n in names])
    dims = ("weights", "set", "die")
    return xr.Dataset(
        {"error_exact": (dims, padded("error_exact", np.nan, float),
                         {"long_name": "test error with exact thresholds (ties as a random tie-break)",
                          "units": "1"}),
         "error_rows": (dims, padded("error_rows", np.nan, float),
                        {"long_name": "test error with the thresholds the die's extra rows make", "units": "1"}),
         "theta": (dims + ("neuron",), padded("theta", np.nan, np.float32),
                   {"long_name": "threshold the extra rows make: 1/2 - sum of their currents",
                    "units": "unit weights"}),
         "theta_exact": (("weights", "neuron"), theta_exact,
                         {"long_name": "exact threshold k + 1/2", "units": "unit weights"}),
         "row_shorts": (dims + ("neuron",), padded("row_shorts", -1, np.int8),
                        {"long_name": "shorted devices in the neuron's extra rows (-1: no die)", "units": "1"}),
         "row_defects": (dims + ("kind",), padded("row_defects", -1, np.int16),
                         {"long_name": "defective devices in the die's extra rows (-1: no die)", "units": "1"}),
         "ideal_error": (("weights",), np.array([ideal[n] for n in names]),
                         {"long_name": "test error on ideal devices, exact thresholds", "units": "1"}),
         "n_rows": (("weights", "layer"), n_rows, {"long_name": "extra rows K = max |k| per hidden layer",
                                                   "units": "1"}),
         "die_id": (("set", "die"), die_id, {"long_name": "die of the set (-1: padding)"})},
        coords={"weights": names, "set": sets, "kind": list(KINDS), "layer": np.arange(n_rows.shape[1]),
                "neuron_layer": ("neuron", layer_of), "neuron_index": ("neuron", index_in)},
        attrs={"kind": "threshold rows", "seed": args.seed, "n_fresh": args.n_fresh,
               "n_test": len(args.test_y), "alike": args.alike,
               "weights_files": " ".join(_shown(p) for p in args.weights),
               "device": stats.config.device.describe(),
               "row_statistics": rows_stats.provenance or "given values",
               "note": "set=reference: the reference dies (measured_dies); fresh: the study's sensitivity "
                       "dies (seed derive_seed(seed, 'sensitivity')). Rows drawn per die with seed "
                       "derive_seed(seed, 'threshold_rows', set, die, layer, row)."})


def _pct(v):
    return f"{100 * v:.2f} %"


def _diff(d, mask):
    """Mean paired difference over the dies of ``mask``, and how many."""
    return f"{100 * d[mask].mean():+.3f} % ({int(mask.sum())} dies)" if mask.any() else "-"


def _shorts(n):
    return f"{int(n)} row short" + ("" if n == 1 else "s")


def _shown(path):
    """``path`` relative to the repository when inside it (how the summary names weights files)."""
    path = Path(path).resolve()
    return str(path.relative_to(REPO)) if path.is_relative_to(REPO) else str(path)


def _set_label(res, s):
    n = int((res.die_id.sel(set=s) >= 0).sum())
    return f"{n} reference dies" if s == "reference" else f"{n} fresh dies"


def summary(res, args):
    """The .md text of a results Dataset."""
    lines = [("| weights | dies | extra rows K | ideal devices | exact thresholds: mean (worst) | gap | "
             "with rows: mean (worst) | gap | paired difference ± s.e. |"),
             "|---|---|---:|---:|---:|---:|---:|---:|---:|"]
    defects = [("| weights | dies | row shorts (dies with one) | other row defects | dies without a row "
               "defect: difference | dies with one | worst die (with rows) | largest increase |"),
               "|---|---|---:|---:|---:|---:|---|---|"]
    spread = []
    for w in res.weights.values:
        ideal = float(res.ideal_error.sel(weights=w))
        k_text = ", ".join(str(int(v)) for v in res.n_rows.sel(weights=w).values)
        for s in res.set.values:
            keep = res.die_id.sel(set=s).values >= 0
            ex = res.error_exact.sel(weights=w, set=s).values[keep]
            ro = res.error_rows.sel(weights=w, set=s).values[keep]
            ids = res.die_id.sel(set=s).values[keep]
            d = ro - ex
            se = d.std(ddof=1) / np.sqrt(len(d)) if len(d) > 1 else float("nan")
            lines.append(f"| {w} | {_set_label(res, s)} | {k_text} | {_pct(ideal)} | {_pct(ex.mean())} "
                         f"({_pct(ex.max())}) | {100 * (ex.mean() - ideal):+.2f} % | {_pct(ro.mean())} "
                         f"({_pct(ro.max())}) | {100 * (ro.mean() - ideal):+.2f} % | "
                         f"{100 * d.mean():+.3f} % ± {100 * se:.3f} |")
            rd = res.row_defects.sel(weights=w, set=s).values[keep]
            shorts = rd[:, list(res.kind.values).index("short")]
            hit = rd.sum(1) > 0
            worst, most = int(np.argmax(ro)), int(np.argmax(d))
            other = ", ".join(f"{int(rd[:, i].sum())} {kd}" for i, kd in enumerate(res.kind.values)
                              if kd != "short" and rd[:, i].sum())
            defects.append(f"| {w} | {_set_label(res, s)} | {int(shorts.sum())} ({int((shorts > 0).sum())}) | "
                           f"{other or 'none'} | {_diff(d, ~hit)} | {_diff(d, hit)} | die {int(ids[worst])}: "
                           f"{_pct(ro[worst])} (exact {_pct(ex[worst])}; {_shorts(shorts[worst])}) | "
                           f"die {int(ids[most])}: {100 * d[most]:+.2f} % ({_shorts(shorts[most])}) |")
            clean = res.row_shorts.sel(weights=w, set=s).values[keep] == 0
            dev = (res.theta.sel(weights=w, set=s).values[keep] - res.theta_exact.sel(weights=w).values)
            no_def = np.broadcast_to(~hit[:, None], dev.shape) & clean
            big = np.abs(dev[~clean])
            shorted = (f"a neuron with a row short is off by {big.min():.2f}-{big.max():.2f} unit weights"
                       if big.size else "no neuron has a row short")
            spread.append(f"- {w}, {_set_label(res, s)}: threshold deviation from spread alone (neurons "
                          f"of dies without a row defect) {dev[no_def].std():.3f} unit weights s.d.; "
                          f"{shorted}.")
    return "\n".join([
        "# Half-integer thresholds of real device pairs: spread and defects of the extra rows", "",
        (f"Device: {res.attrs['device']}. Every die gets its own K x n_hidden extra device pairs per "
        "hidden layer (K = max |k|, theta = k + 1/2), drawn from the statistics "
        f"({'fitted to the 36 reference dies' if args.row_statistics is None else '`' + _shown(args.row_statistics) + '`'}) "
        "with the die's own defect rate (posterior mean given its counts), and the "
        "weights are evaluated with the thresholds those pairs make, 1/2 - sum of their currents "
        f"(pairs written alike: {args.alike!r} current); the half-unit reference stays exact. Dies: "
        "the 36 reference dies and the study's sensitivity dies (the same draw as `mx.sensitivity`, "
        f"seed derive_seed({args.seed}, 'sensitivity')). Errors on {res.attrs['n_test']} test images "
        "(ties as a random tie-break); gap = mean minus ideal devices; paired difference = with rows "
        "minus exact thresholds, die by die, ± its standard error. Made by `scripts/threshold_rows.py` "
        f"(seed {args.seed}; weights: {', '.join(f'`{_shown(p)}`' for p in args.weights)})."), "",
        *lines, "", ("Defects that landed in the extra rows (all K x n_hidden pairs, both devices; the "
        "differences split the paired difference by whether the die's rows hold any defect):"), "",
        *defects, "", *spread, ""])


# ----------------------------------------------------------------------------- main
def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--weights", nargs="+", type=Path, required=True,
                        help="half_integer weights files (mx.load)")
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "results" / "threshold_rows")
    parser.add_argument("--seed", type=int, default=0, help="study seed (fresh dies, rows)")
    parser.add_argument("--n-fresh", type=int, default=500, help="fresh dies (the study's sensitivity dies)")
    parser.add_argument("--n-reference", type=int, default=None,
                        help="use only the first N of the reference dies (default: all 36)")
    parser.add_argument("--n-test", type=int, default=None, help="first N test images (default: all)")
    parser.add_argument("--alike", choices=ALIKE, default="mean",
                        help="current of a pair written alike: a (mean of both-P and both-AP), or one state's")
    parser.add_argument("--row-statistics", type=Path, default=None,
                        help="draw the rows from these saved DefectStatistics (mx.save) instead of the fitted ones")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    try:
        return run(args)
    except MTJExploreError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


def run(args):
    log = lambda msg: print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)
    weights = load_weights(args.weights)
    dies, stats = reproduce.measured_dies()
    check_shapes(weights, args.weights, stats.config)
    rows_stats = row_statistics(stats, args.row_statistics)
    if args.n_reference is not None:
        if not 1 <= args.n_reference <= dies.sizes["die"]:
            raise ParameterError(f"--n-reference must be in 1..{dies.sizes['die']}; got {args.n_reference}")
        dies = dies.isel(die=slice(0, args.n_reference))
    if args.n_fresh < 0:
        raise ParameterError(f"--n-fresh must be >= 0; got {args.n_fresh}")
    _, test = mx.load_mnist(n_train=1, n_test=args.n_test)
    args.test_y = test.y
    ks = {n: row_ks(w) for n, w in weights.items()}
    ideal = {n: float(evaluate_tensors(w, None, test)[0][0]) for n, w in weights.items()}
    common = (weights, ks, rows_stats, test, args.seed, args.alike)
    t0 = time.time()
    by_set = {"reference": run_set("reference", reference_chunks(dies), dies.sizes["die"], *common)}
    log(f"reference dies: {time.time() - t0:.0f} s")
    if args.n_fresh > 0:
        t0 = time.time()
        chunks = fresh_chunks(stats, args.n_fresh, reproduce.derive_seed(args.seed, "sensitivity"))
        by_set["fresh"] = run_set("fresh", chunks, args.n_fresh, *common)
        log(f"fresh dies: {time.time() - t0:.0f} s")
    res = results_dataset(by_set, weights, ks, ideal, args, stats, rows_stats)
    for name in ("theta", "row_shorts"):  # the per-neuron arrays: compressed (netCDF4 zlib), ~10x smaller
        res[name].encoding.update(zlib=True, complevel=4)
    text = summary(res, args)
    layout.write_results(args.out, res, text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
