"""The study over three training seeds: every method on the 36 dies and on 500 fresh dies.

Reads the ``results.nc`` of full studies that differ only in ``--seed`` (the 36 dies and the fitted
statistics are the same: they depend on ``--die-seed``; training, remapping's image draws and the
fresh dies drawn from the statistics follow ``--seed``) and, with ``--fresh``, the matching
``scripts/fresh_dies_all_methods.py`` folders (every method on 500 fresh dies, one folder per seed).
Writes two Markdown tables:

* per method and ensemble: mean, median and worst die (each averaged over seeds; worst: the worst
  of all seeds) and the gap to each seed's own software baseline, mean +- s.d. over seeds;
* the gap of every seed, so one can see which seed moves what.

``--summary`` also puts the first table into a study's ``summary.md`` (between marker comments,
replaced on every run), so the study's own summary shows its spread over seeds.

Usage (what ``scripts/regenerate_results.sh`` runs after the studies and the fresh-die runs)::

    python scripts/seed_spread.py docs/results docs/results/seeds/seed1 docs/results/seeds/seed2 \\
        --fresh docs/results/fresh_dies_all_methods docs/results/fresh_dies_all_methods/seed1 \\
                docs/results/fresh_dies_all_methods/seed2 --out docs/results/seeds/summary.md \
        --summary docs/results/summary.md
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import xarray as xr

from mtjexplore.methods import REGISTRY
from mtjexplore.study import layout

EVERY_FRESH = "500 fresh dies"  # scripts/fresh_dies_all_methods.py: every method on the same dies
STUDY_FRESH = "500 fresh dies, sensitivity draw"  # the study's own draw (the two die-independent methods)


def errors(results, fresh=None):
    """``base, {(method, ensemble): per-die errors}`` of one seed."""
    base = float(results.ideal_error.sel({"method": "software"}))
    out = {}
    for m in REGISTRY:
        if m.name in results.method.values:
            out[m.name, "36 dies"] = results.error.sel({"method": m.name}).values
            if "sens_error" in results:
                e = results.sens_error.sel({"method": m.name}).values
                if np.isfinite(e).any():
                    out[m.name, STUDY_FRESH] = e[np.isfinite(e)]
        if fresh is not None and m.name in fresh.method.values:
            out[m.name, EVERY_FRESH] = fresh.error.sel({"method": m.name}).values[fresh.done.values.astype(bool)]
    return base, out


def _load(path):
    with xr.open_dataset(Path(path) / "results.nc") as res:
        return res.load()


def tables(folders, fresh_folders=()):
    runs = {}
    fresh = {int(r.attrs["seed"]): r for r in map(_load, fresh_folders)}
    for folder in folders:
        res = _load(folder)
        seed = int(res.attrs["seed"])
        runs[seed] = errors(res, fresh.get(seed))
    seeds = sorted(runs)
    bases = np.array([runs[s][0] for s in seeds])
    pct = lambda v: f"{100 * v:.2f} %"  # noqa: E731
    sd = lambda v: f" ± {100 * np.std(v, ddof=1):.2f}" if len(v) > 1 else ""  # noqa: E731
    main = ["| method | ensemble | seeds | mean | median | worst | gap ± s.d. over seeds |",
            "|---|---|---:|---:|---:|---:|---:|",
            f"| software baseline (ideal devices) | — | {len(seeds)} | {pct(bases.mean())}{sd(bases)} | | | |"]
    per_seed = ["| method | ensemble | " + " | ".join(f"seed {s}" for s in seeds) + " |",
                "|---|---|" + "---:|" * len(seeds)]
    for m in REGISTRY:
        for ensemble in ("36 dies", EVERY_FRESH, STUDY_FRESH):
            have = [s for s in seeds if (m.name, ensemble) in runs[s][1]]
            if not have:
                continue
            e = [runs[s][1][m.name, ensemble] for s in have]
            gaps = np.array([x.mean() - runs[s][0] for s, x in zip(have, e)])
            main.append(f"| {m.figure_label} | {ensemble} | {len(have)} | {pct(np.mean([x.mean() for x in e]))} | "
                        f"{pct(np.mean([np.median(x) for x in e]))} | {pct(max(x.max() for x in e))} | "
                        f"{100 * gaps.mean():+.2f} %{sd(gaps)} |")
            cells = {s: f"{100 * g:+.2f} %" for s, g in zip(have, gaps)}
            per_seed.append(f"| {m.figure_label} | {ensemble} | " + " | ".join(cells.get(s, "—") for s in seeds) + " |")
    return seeds, main, per_seed


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folders", nargs="+", help="study output folders (each with results.nc)")
    parser.add_argument("--fresh", nargs="*", default=(),
                        help="scripts/fresh_dies_all_methods.py output folders (one per seed)")
    parser.add_argument("--out", default=None, help="write the Markdown here (default: print)")
    parser.add_argument("--summary", default=None,
                        help="also put the table into this study summary.md (a marked section)")
    args = parser.parse_args(argv)
    seeds, main_table, per_seed = tables(args.folders, args.fresh)
    text = "\n".join([
        f"# The study over training seeds {', '.join(map(str, seeds))}", "",
        "Gap: a seed's mean error minus that seed's own software baseline (ideal devices). The 36 "
        "dies and the fitted statistics are the same for every seed; training, remapping's image "
        "draws and the fresh dies drawn from the statistics follow the seed, so the spread over "
        "seeds includes all three. Mean and median: averaged over seeds; worst: the worst die of "
        "any seed. \"500 fresh dies\": every method on the same dies "
        "(`docs/results/fresh_dies_all_methods`); \"sensitivity draw\": the study's own 500 fresh "
        "dies, on which it evaluates the two methods that need nothing per die. Made by "
        "`scripts/seed_spread.py`.", "", *main_table, "", "## Gap per seed", "",
        *per_seed, ""])
    if args.out:
        Path(args.out).write_text(text)
    if args.summary:
        layout.write_section(args.summary, "seeds", made_by="scripts/seed_spread.py", text="\n".join([
            f"## Over training seeds {', '.join(map(str, seeds))}", "",
            "Every method on the 36 dies and on 500 fresh dies, for each training seed's study; gap to "
            "each seed's own software baseline, mean ± s.d. over seeds (per seed: "
            "[seeds/summary.md](seeds/summary.md)).", "", *main_table]))
    print(text)


if __name__ == "__main__":
    main()
