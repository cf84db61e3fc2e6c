"""The study's gaps over three training seeds: how much of each number is training noise.

Reads the ``results.nc`` of full studies that differ only in ``--seed`` (the 36 dies and the fitted
statistics are the same: they depend on ``--die-seed``; training, remapping's image draws and the
500 fresh dies drawn from the statistics follow ``--seed``) and writes a Markdown table: per
method, the mean gap to that seed's own software baseline on the 36 dies and on the 500 fresh dies,
for every seed, and their mean +- standard deviation over seeds.

Usage (what ``scripts/regenerate_results.sh`` would run after the seed-0 study)::

    for s in 1 2; do mtjexplore reproduce --seed $s --out docs/results/seeds/seed$s --no-progress; done
    python scripts/seed_spread.py docs/results docs/results/seeds/seed1 docs/results/seeds/seed2 \\
        --out docs/results/seeds/summary.md
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import xarray as xr

from mtjexplore.methods import REGISTRY


def gaps(results):
    """``{method: (gap on the dies, gap on the fresh dies or nan)}`` against the seed's baseline."""
    base = float(results.ideal_error.sel({"method": "software"}))
    out = {}
    for m in REGISTRY:
        if m.name not in results.method.values:
            continue
        dies = float(results.error.sel({"method": m.name}).mean()) - base
        fresh = results.sens_error.sel({"method": m.name}).values if "sens_error" in results else []
        fresh = float(np.nanmean(fresh)) - base if np.isfinite(fresh).any() else float("nan")
        out[m.name] = (dies, fresh)
    return base, out


def _pct(value):
    return "—" if not np.isfinite(value) else f"{100 * value:+.2f} %"


def table(folders):
    runs = []
    for folder in folders:
        with xr.open_dataset(Path(folder) / "results.nc") as res:
            runs.append((int(res.attrs["seed"]), *gaps(res.load())))
    runs.sort()
    seeds = [s for s, _, _ in runs]
    lines = ["| method | ensemble | " + " | ".join(f"seed {s}" for s in seeds) + " | mean ± s.d. over seeds |",
             "|---|---|" + "---:|" * (len(seeds) + 1)]
    lines.append("| software baseline (ideal devices) | — | "
                 + " | ".join(f"{100 * b:.2f} %" for _, b, _ in runs)
                 + f" | {100 * np.mean([b for _, b, _ in runs]):.2f} % ± {100 * np.std([b for _, b, _ in runs], ddof=1):.2f} |")
    for m in REGISTRY:
        for k, ensemble in enumerate(("36 dies", "500 fresh dies")):
            values = np.array([g[m.name][k] for _, _, g in runs if m.name in g])
            if not np.isfinite(values).any():
                continue
            lines.append(f"| {m.figure_label} | {ensemble} | " + " | ".join(_pct(v) for v in values)
                         + f" | {100 * values.mean():+.2f} % ± {100 * values.std(ddof=1):.2f} |")
    return seeds, "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folders", nargs="+", help="study output folders (each with results.nc)")
    parser.add_argument("--out", default=None, help="write the Markdown here (default: print)")
    args = parser.parse_args(argv)
    seeds, body = table(args.folders)
    text = (f"# The study over training seeds {', '.join(map(str, seeds))}\n\n"
            "Gaps are each seed's mean error minus that seed's own software baseline (ideal "
            "devices). The 36 dies and the fitted statistics are the same for every seed; training, "
            "remapping's image draws and the 500 fresh dies drawn from the statistics follow the "
            "seed, so the spread over seeds includes all three. Made by "
            "`scripts/seed_spread.py`.\n\n" + body + "\n")
    if args.out:
        Path(args.out).write_text(text)
    print(text)


if __name__ == "__main__":
    main()
