#!/usr/bin/env python3
"""What one short costs: the study's software weights on an ideal die with one shorted device.

For each layer, ``--n`` random devices of that layer (seeded) are shorted one at a time on an
otherwise ideal die of the default device, and the test error is compared with the baseline on
ideal devices. Tutorial 2 quotes the result ("one hidden-layer short costs about ...").

Usage::

    python scripts/one_short_cost.py [--weights docs/results/weights/software.nc] [--n 200] [--seed 0]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import mtjexplore as mx  # noqa: E402
from mtjexplore.fast_eval import DieEvaluator  # noqa: E402


def one_short_gaps(weights, test, n, seed, config=None):
    """``{layer: gaps}`` of ``n`` single shorts per layer (1: hidden, 2: output)."""
    config = config or mx.paper_config()
    fast = DieEvaluator(weights, test)
    base = fast.evaluate(None)[0]
    ideal = mx.ideal_die(config)
    layer_map = config.floorplan.layer_map
    rng = np.random.default_rng(seed)
    out = {}
    for layer in (0, 1):
        rows, cols = np.nonzero(layer_map == layer)
        pick = rng.choice(rows.size, size=n, replace=False)
        gaps = [fast.evaluate(mx.set_defects(ideal, [int(rows[k])], [int(cols[k])], "short"))[0] - base
                for k in pick]
        out[layer + 1] = np.array(gaps)
    return base, out


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--weights", type=Path, default=REPO / "docs" / "results" / "weights" / "software.nc")
    parser.add_argument("--n", type=int, default=200)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    _, test = mx.load_mnist()
    base, gaps = one_short_gaps(mx.load(args.weights), test, args.n, args.seed)
    print(f"device: {mx.config.paper_device().describe()}; baseline {100 * base:.2f} %")
    for layer, g in gaps.items():
        print(f"layer {layer}: one short costs {100 * g.mean():+.2f} points on average, "
              f"median {100 * np.median(g):+.2f}, at most {100 * g.max():+.2f} ({g.size} placements)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
