#!/usr/bin/env python3
"""Regenerate the packaged example measurement file ``mtjexplore/data/example_measured_SYNTHETIC.csv``.

The data are SYNTHETIC: dies 0..2 of
``reference_ensemble(seed=0, config=example_config(), n_dies=3)`` (a 16 -> 8 -> 10 network,
452 devices per die, MNIST at size=4), written in the measured CSV format
``die,row,col,r_p_ohm,r_ap_ohm`` with resistances rounded to 1 milliohm.

Usage::

    python scripts/make_example_csv.py [--out FILE] [--overwrite]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from mtjexplore.measurements import write_measurements_csv  # noqa: E402
from mtjexplore.reference import (EXAMPLE_CSV, EXAMPLE_DECIMALS, EXAMPLE_N_DIES,  # noqa: E402
                                  EXAMPLE_SEED, example_config, reference_ensemble)

DEFAULT_OUT = REPO / "mtjexplore" / "data" / EXAMPLE_CSV


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--overwrite", action="store_true", help="replace an existing file")
    args = parser.parse_args(argv)
    dies = reference_ensemble(seed=EXAMPLE_SEED, config=example_config(), n_dies=EXAMPLE_N_DIES)
    if args.out.exists() and not args.overwrite:
        print(f"{args.out} exists; pass --overwrite to regenerate it", file=sys.stderr)
        return 1
    path = write_measurements_csv(dies, args.out, overwrite=True, decimals=EXAMPLE_DECIMALS)
    print(f"wrote {path} ({EXAMPLE_N_DIES} dies x {example_config().n_devices} devices)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
