"""Figures and the Markdown summary of a study's results (:func:`mtjexplore.study.reproduce.reproduce`).

matplotlib is an optional extra (``pip install mtjexplore[plots]``): it is imported inside the
plotting functions only, and figures are built with ``matplotlib.figure.Figure`` (no pyplot, no
global state, no display needed). The summary needs nothing beyond xarray.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import xarray as xr

from ..methods import REGISTRY, method_color
from ..yields import die_yield

METHOD_LABELS = {m.name: m.figure_label for m in REGISTRY}
_MARKERS = {m.name: m.marker for m in REGISTRY}
FIGURES = ("error_per_die", "error_vs_defects", "sensitivity", "die_yield")


def _pick(data, method):
    """``data.sel(method=...)`` (``sel``'s own ``method`` keyword would swallow that spelling)."""
    return data.sel({"method": method})


def _label(method):
    return METHOD_LABELS.get(str(method), str(method))


def baseline_error(results):
    """Error of the software weights on ideal devices: the baseline every gap is measured from."""
    return float(_pick(results.ideal_error, "software"))


def method_summary(results):
    """Mean, median and worst error over the dies per method, and the mean's gap to the baseline.

    Returns
    -------
    xarray.Dataset
        ``mean_error``, ``median_error``, ``worst_error``, ``gap`` (mean minus the software
        baseline on ideal devices) and ``gap_se`` (standard error of that mean over the dies:
        how much the gap would move with another sample of as many dies), all fractions, with a
        ``method`` dim.
    """
    error = results.error
    n = error.count("die")
    out = xr.Dataset({"mean_error": error.mean("die"), "median_error": error.median("die"),
                      "worst_error": error.max("die"),
                      "gap_se": error.std("die", ddof=1) / np.sqrt(n).where(n > 1)})
    out["gap"] = out.mean_error - baseline_error(results)
    for name in out.data_vars:
        out[name].attrs["units"] = "1"
    return out


def _pct(value, signed=False):
    if not np.isfinite(value):
        return "—"
    return f"{100 * value:+.2f} %" if signed else f"{100 * value:.2f} %"


def _se(value):
    return f" ± {100 * value:.2f}" if np.isfinite(value) else ""


def device_line(results):
    """``Device: ...`` with the strength of a short in unit weights (from the results' config)."""
    from ..config import CrossbarConfig

    if "config" not in results.attrs:
        return ""
    return "Device: " + CrossbarConfig.from_json(results.attrs["config"]).device.describe() + "."


def remap_subset_gaps(results, method):
    """Gap of the 36-die mean for each draw of the remapping images (None if not recorded)."""
    if "remap_subset_error" not in results or method not in results.remap_method.values:
        return None
    sub = results.remap_subset_error.sel(remap_method=method)
    return (sub.mean("die") - baseline_error(results)).values


def _subset_note(results, method):
    gaps = remap_subset_gaps(results, method)
    if gaps is None or gaps.size < 2:
        return ""
    return (f"; image draws {100 * gaps.min():+.2f} to {100 * gaps.max():+.2f} "
            f"(s.d. {100 * gaps.std(ddof=1):.2f}, {gaps.size} draws)")


def summary_table_markdown(results):
    """Markdown table: mean / median / worst error per method and the gap to the baseline.

    Preceded by the device line (:func:`device_line`). Remapped rows add the range of the gap
    over the draws of the remapping's training images (:func:`remap_subset_gaps`).
    """
    s = method_summary(results)
    lines = [device_line(results), ""] if device_line(results) else []
    lines += ["| method | mean error | median | worst die | gap to baseline (± s.e. over dies) "
              "| on ideal devices |", "|---|---:|---:|---:|---:|---:|"]
    for method in results.method.values:
        row = _pick(s, method)
        lines.append(f"| {_label(method)} | {_pct(float(row.mean_error))} | "
                     f"{_pct(float(row.median_error))} | {_pct(float(row.worst_error))} | "
                     f"{_pct(float(row.gap), signed=True)}{_se(float(row.gap_se))}"
                     f"{_subset_note(results, method)} | "
                     f"{_pct(float(_pick(results.ideal_error, method)))} |")
    return "\n".join(lines)


def defect_aware_sentence(results):
    """Rounds of defect-aware training and the dies it could not bring within its target."""
    if "defect_aware" not in results.method.values:
        return ""
    target = float(results.attrs.get("defect_aware_target", 0.015))
    gaps = _pick(results.error, "defect_aware").values - baseline_error(results)
    outside = [f"die {int(d)} ({100 * g:+.2f} %)" for d, g in zip(results.die.values, gaps) if g > target]
    text = (f"Defect-aware training runs in rounds of its recipe until the die is within "
            f"{100 * target:.1f} % of the baseline on training images or stops improving")
    if "defect_aware_rounds" in results:
        r = results.defect_aware_rounds.values
        text += f" ({int((r > 1).sum())} of {r.size} dies needed more than one round, at most {int(r.max())})"
    return text + (". On the test set, dies not within {:.1f} %: ".format(100 * target)
                   + (", ".join(outside) if outside else "none") + ".")


def unaware_sentence(results):
    """What software weights mapped unchanged do: mean gap, dies past 2 %, worst die."""
    gaps = _pick(results.error, "software").values - baseline_error(results)
    return (f"Software weights mapped unchanged (unaware) lose {100 * gaps.mean():+.2f} % on average; "
            f"{int((gaps > 0.02).sum())} of {gaps.size} dies lose more than 2 %, "
            f"{int((gaps > 0.05).sum())} more than 5 %; the worst die {100 * gaps.max():+.2f} %.")


def _paper_comparison(results):
    row = _pick(method_summary(results), "statistics_aware")
    gap, se = float(row.gap), float(row.gap_se)
    paper = float(results.attrs.get("paper_gap", 0.02))
    stretch_gap = float(results.attrs.get("stretch_gap", 0.01))
    verdict = "met" if gap <= paper else "not met"
    stretch = "met" if gap <= stretch_gap else "not met"
    return (f"**Paper:** statistics-aware weights reach a mean error across the dies within "
            f"{100 * paper:.0f} % of the software baseline. **Here:** {_pct(gap, signed=True)} "
            f"(baseline {_pct(baseline_error(results))} on ideal devices) — criterion {verdict}; "
            f"stretch goal ({100 * stretch_gap:.0f} %) {stretch}."
            + (f" With {int(results.error.count('die').max())} dies the mean gap is known to "
               f"± {100 * se:.2f} % (standard error over the dies); the sensitivity section "
               "below gives it on many more dies drawn from the same statistics."
               if np.isfinite(se) else ""))


def _layer_notes(results):
    """Where the damage comes from: dies with and without shorts in the output layer."""
    if "n_short_layer2" not in results.coords:
        return []
    out_short = results.n_short_layer2.values > 0
    lines = [f"- Dies with at least one short in the output layer (layer 2): "
             f"{int(out_short.sum())} of {out_short.size}; shorts per die in layer 1: median "
             f"{np.median(results.n_short_layer1.values):.0f}, in layer 2: median "
             f"{np.median(results.n_short_layer2.values):.0f} (max {results.n_short_layer2.values.max()})."]
    for method in results.method.values:
        err = _pick(results.error, method).values
        with_s = err[out_short].mean() if out_short.any() else np.nan
        without = err[~out_short].mean() if (~out_short).any() else np.nan
        lines.append(f"- {_label(method)}: mean error {_pct(with_s)} on dies with output-layer "
                     f"shorts, {_pct(without)} on the others.")
    return lines


def _die_table(results):
    methods = list(results.method.values)
    head = "| die | defects | shorts layer 1 | shorts layer 2 | " + " | ".join(map(_label, methods)) + " |"
    lines = [head, "|" + "---:|" * (4 + len(methods))]
    for k in range(results.sizes["die"]):
        d = results.isel(die=k)
        counts = [int(d.n_defects), int(d.n_short_layer1), int(d.n_short_layer2)]
        errs = [_pct(float(_pick(d.error, m))) for m in methods]
        lines.append(f"| {int(d.die)} | " + " | ".join(map(str, counts)) + " | " + " | ".join(errs) + " |")
    return lines


def sensitivity_lines(results):
    sens = results.sens_error.dropna("method", how="all")
    if sens.sizes.get("method", 0) == 0:
        return []
    lines = [f"Each solution evaluated on {results.sizes['sample']} dies drawn afresh from the "
             "fitted statistics (the same dies for every solution).", "",
             "| method | mean | gap to baseline (± s.e.) | median | 95th percentile | worst |",
             "|---|---:|---:|---:|---:|---:|"]
    for method in sens.method.values:
        e = _pick(sens, method).values
        se = e.std(ddof=1) / np.sqrt(e.size) if e.size > 1 else np.nan
        lines.append(f"| {_label(method)} | {_pct(e.mean())} | "
                     f"{_pct(e.mean() - baseline_error(results), signed=True)}{_se(se)} | "
                     f"{_pct(np.median(e))} | {_pct(np.percentile(e, 95))} | {_pct(e.max())} |")
    return lines


def summary_markdown(results, figures=None):
    """The study's summary as Markdown: tables, the paper comparison, per-layer notes, figures.

    Parameters
    ----------
    results : xarray.Dataset
        What :func:`mtjexplore.study.reproduce.reproduce` returns.
    figures : dict of str to path, optional
        Figures to link (by file name, relative to the summary).
    """
    a = results.attrs
    stats = json.loads(a.get("statistics", "{}")).get("mean_counts", {})
    timings = json.loads(a.get("timings_s", "{}"))
    lines = [
        f"# Reproduction of Borders et al. (2024): {results.sizes['die']} dies", "",
        f"Seed {a.get('seed')}, {a.get('n_train')} training / {a.get('n_test')} test images"
        f"{' (quick mode)' if a.get('quick') else ''}; comparator thresholds: "
        f"{json.loads(a.get('settings', '{}')).get('threshold_mode', 'per_neuron')} "
        f"(`mtjexplore.network`); dies: {a.get('dies', '')}; statistics "
        f"fitted to them (mean defects per die: "
        + ", ".join(f"{k} {v:.2f}" for k, v in stats.items()) + f"); mtjexplore {a.get('mtjexplore_version')}.",
        "", "## Error per method", "", summary_table_markdown(results), "", _paper_comparison(results),
        "", unaware_sentence(results), "", defect_aware_sentence(results),
        "", "Errors count a tie for the largest output as a physical winner-take-all would break it, "
        "by noise: a k-way tie that contains the true label is (k − 1)/k of an error, one that does "
        "not is a full error (`mtjexplore.network.tie_error`). Ideal devices give integer outputs "
        "and tie often; dies with device spread practically never.",
        "", "Remapping chooses, per die, which column pair serves which neuron and which column of "
        "a pair is `+`, from the die's maps, without retraining (see `mtjexplore.remap`). It estimates "
        "the damage on a draw of training images; the remapped rows report the first draw, and "
        "the range over independent draws (same weights, same dies) is the uncertainty that "
        "matters most for them.",
        "", "## Where the damage comes from (per layer)", "", *_layer_notes(results), "",
        *_die_table(results), "", "## Sensitivity", "", *sensitivity_lines(results), ""]
    if figures:
        lines += ["## Figures", ""] + [f"![{name}]({Path(p).name})" for name, p in figures.items()] + [""]
    lines += ["## Run", "", "Recipes (Trainer keyword arguments): `" + a.get("recipes", "") + "`", "",
              "Timings (s): " + ", ".join(f"{k} {v:.1f}" for k, v in timings.items()), ""]
    return "\n".join(lines)


def write_summary(results, path, figures=None):
    """Write :func:`summary_markdown` to ``path``; returns the path."""
    from .layout import write_text

    return write_text(path, summary_markdown(results, figures))


# ---------------------------------------------------------------- figures
def _axes(ax, size=(7.0, 4.0)):
    if ax is not None:
        return ax
    from matplotlib.figure import Figure

    return Figure(figsize=size, layout="constrained").add_subplot()


def _baseline_lines(ax, results, horizontal=True):
    base = 100 * baseline_error(results)
    paper = 100 * float(results.attrs.get("paper_gap", 0.02))
    line = ax.axhline if horizontal else ax.axvline
    line(base, color="k", lw=1, ls="-", label=f"software baseline ({base:.1f} %)")
    line(base + paper, color="k", lw=1, ls=":", label=f"baseline + {paper:.0f} % (paper)")


def plot_error_per_die(results, ax=None):
    """Error of every method on every die, dies ordered by their number of defects."""
    ax = _axes(ax, (9.0, 4.0))
    order = np.argsort(results.n_defects.values, kind="stable")
    x = np.arange(order.size)
    for method in results.method.values:
        ax.plot(x, 100 * _pick(results.error, method).values[order], _MARKERS.get(str(method), "o"),
                color=method_color(method), ms=5, alpha=0.8, label=_label(method))
    _baseline_lines(ax, results)
    ax.set_xticks(x, [f"{int(results.die[i])}\n{int(results.n_defects[i])}" for i in order], fontsize=6)
    ax.set(xlabel="die (id / defects), by number of defects", ylabel="test error (%)",
           title="Error per die and method")
    ax.legend(fontsize=7, ncols=2)
    return ax


def plot_error_vs_defects(results, ax=None):
    """Error against the die's defect count; hollow markers: dies with output-layer shorts."""
    ax = _axes(ax)
    n = results.n_defects.values
    out_short = results.n_short_layer2.values > 0 if "n_short_layer2" in results.coords else np.zeros(n.size, bool)
    for method in results.method.values:
        err = 100 * _pick(results.error, method).values
        color = method_color(method)
        ax.scatter(n[~out_short], err[~out_short], marker=_MARKERS.get(str(method), "o"), color=color,
                   s=22, label=_label(method))
        ax.scatter(n[out_short], err[out_short], marker=_MARKERS.get(str(method), "o"),
                   facecolors="none", edgecolors=color, s=22)
    _baseline_lines(ax, results)
    ax.set(xlabel="defective devices on the die", ylabel="test error (%)",
           title="Error vs defects (hollow: short in the output layer)")
    ax.legend(fontsize=7)
    return ax


def plot_sensitivity(results, ax=None):
    """Histograms of the error over dies sampled from the statistics (sensitivity sampling)."""
    ax = _axes(ax)
    sens = results.sens_error.dropna("method", how="all")
    values = 100 * sens.values[np.isfinite(sens.values)]
    bins = np.linspace(values.min(), values.max(), 31) if values.size else 10
    for method in sens.method.values:
        ax.hist(100 * _pick(sens, method).values, bins=bins, alpha=0.5, color=method_color(method),
                label=f"{_label(method)} (mean {100 * float(_pick(sens, method).mean()):.1f} %)")
    _baseline_lines(ax, results, horizontal=False)
    ax.set(xlabel="test error (%)", ylabel="sampled dies",
           title=f"Sensitivity: {results.sizes['sample']} dies drawn from the statistics")
    ax.legend(fontsize=7)
    return ax


def plot_yield(results, ax=None):
    """Die yield: fraction of the dies whose error is at most a given error."""
    ax = _axes(ax)
    err = 100 * results.error.values
    grid = np.linspace(np.nanmin(err) - 0.5, np.nanmax(err) + 0.5, 400)
    for method in results.method.values:
        ax.plot(grid, die_yield(100 * _pick(results.error, method).values, grid), color=method_color(method),
                label=_label(method))
    _baseline_lines(ax, results, horizontal=False)
    ax.set(xlabel="error threshold (%)", ylabel="fraction of dies at or below",
           title="Die yield", ylim=(0, 1.02))
    ax.legend(fontsize=7)
    return ax


def save_figure(results, name, path, *, dpi=130):
    """Draw figure ``name`` (one of :data:`FIGURES`) and save it as PNG at ``path``.

    Raises
    ------
    ImportError
        If matplotlib is not installed (``pip install mtjexplore[plots]``).
    """
    makers = {"error_per_die": plot_error_per_die, "error_vs_defects": plot_error_vs_defects,
              "sensitivity": plot_sensitivity, "die_yield": plot_yield}
    ax = makers[name](results)
    ax.figure.savefig(path, dpi=dpi, format="png")
    return Path(path)


def save_figures(results, folder, *, dpi=130):
    """Save the four figures as PNG in ``folder``, each atomically; returns ``{name: path}``.

    Raises
    ------
    ImportError
        If matplotlib is not installed (``pip install mtjexplore[plots]``).
    """
    import matplotlib  # noqa: F401 - fail before writing anything

    from ..io import atomic_write

    folder = Path(folder)
    paths = {}
    for name in FIGURES:
        paths[name] = atomic_write(folder / f"{name}.png",
                                   lambda tmp: save_figure(results, name, tmp, dpi=dpi), overwrite=True)
    return paths
