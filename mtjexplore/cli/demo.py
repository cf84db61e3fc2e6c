"""``mtjexplore demo``: train, map onto sampled dies and print the table, headless."""

from __future__ import annotations

import sys

import numpy as np
from tqdm.auto import tqdm

from .. import recipes
from ..datasets import load_mnist
from ..config import paper_config
from ..evaluation import evaluate
from ..reference import reference_ensemble, reference_statistics
from ..training import Trainer


def add_arguments(parser):
    parser.add_argument("--dies", type=int, default=8, help="dies to sample (default 8)")
    parser.add_argument("--seed", type=int, default=0, help="seed of training and sampling (default 0)")
    parser.add_argument("--epochs", type=int, default=None,
                        help="software epochs (default: the recipe's)")


def _fit(trainer, train, init, label):
    bar = tqdm(total=1.0, desc=label, unit="run", bar_format="{desc}: {percentage:3.0f}%|{bar}| {elapsed}")

    def progress(info):
        bar.n = info.fraction
        bar.refresh()

    trainer.fit(train, init=init, callback=progress)
    bar.close()
    return trainer.weights_


def _stage(text):
    """Say on stderr what starts now (the table goes to stdout)."""
    tqdm.write(f"mtjexplore demo: {text} ...", file=sys.stderr)


def run(args):
    _stage(f"loading MNIST and sampling {args.dies} dies")
    train, test = load_mnist()
    cfg = paper_config()
    ens = reference_ensemble(seed=args.seed, n_dies=args.dies)
    sw_kw = recipes.software_recipe()
    if args.epochs:
        sw_kw["epochs"] = args.epochs
    sw = _fit(Trainer(cfg, seed=args.seed, **sw_kw), train, None, "software")
    sa = _fit(Trainer(cfg, method="statistics_aware", sampler=reference_statistics(),
                      seed=args.seed, **recipes.statistics_aware_recipe()), train, sw,
              "statistics-aware")
    _stage(f"evaluating both sets of weights on {args.dies} dies")
    base = float(evaluate(sw, None, test).error)
    unaware, aware = evaluate(sw, ens, test), evaluate(sa, ens, test)
    print(f"\nsoftware baseline (ideal devices): {100 * base:.2f} % error\n")
    print(f"{'die':>4} {'shorts':>6} {'software weights':>17} {'statistics-aware':>17}")
    for k in range(ens.sizes["die"]):
        print(f"{k:>4} {int(unaware.n_short[k]):>6} {100 * float(unaware.error[k]):>16.2f}% "
              f"{100 * float(aware.error[k]):>16.2f}%")
    print(f"{'mean':>11} {100 * float(np.mean(unaware.error)):>16.2f}% {100 * float(np.mean(aware.error)):>16.2f}%")
    return 0
