"""``mtjexplore reproduce``: the 36-die study from the command line (options and printing only)."""

from __future__ import annotations

import importlib.util
from dataclasses import replace
from pathlib import Path

from ..network import DEFAULT_THRESHOLD_MODE, THRESHOLD_MODES
from ..study import report
from ..study.reproduce import PRESETS, reproduce


def add_arguments(parser):
    """Options of ``mtjexplore reproduce``."""
    parser.add_argument("--dies", type=int, default=36, help="dies in the study (default 36)")
    parser.add_argument("--seed", type=int, default=0, help="seed of all training and sampling (default 0)")
    parser.add_argument("--out", default="mtjexplore-results",
                        help="output folder (default ./mtjexplore-results)")
    size = parser.add_mutually_exclusive_group()
    size.add_argument("--quick", action="store_true",
                      help="short run for tests: 5,120 / 2,000 images, 2 epochs, 8 samples")
    size.add_argument("--tiny", action="store_true",
                      help="smallest run, for tests of resuming (scripts/kill_loop_reproduce.py): "
                           "1,000 / 400 images, 1 epoch, 3 samples; its numbers mean nothing")
    parser.add_argument("--ensemble", default=None,
                        help="measured dies, .csv (die,row,col,r_p_ohm,r_ap_ohm) or NetCDF "
                             "(default: the synthetic reference ensemble)")
    parser.add_argument("--die-seed", type=int, default=0, help="seed of the reference ensemble")
    parser.add_argument("--overwrite", action="store_true",
                        help="delete the study files in --out and start over (a rerun with the same "
                             "settings resumes instead: finished stages are reused)")
    parser.add_argument("--threshold-mode", choices=THRESHOLD_MODES, default=DEFAULT_THRESHOLD_MODE,
                        help="what the hidden comparators' thresholds can be (default "
                             f"{DEFAULT_THRESHOLD_MODE}: k + 1/2 unit weights from extra device rows; "
                             "see mtjexplore.network)")
    parser.add_argument("--threads", type=int, default=1,
                        help="torch threads (default 1: the same numbers on every machine)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")


def run(args):
    """Run ``mtjexplore reproduce``; print the summary table and where the files are."""
    preset = "tiny" if args.tiny else "quick" if args.quick else "full"
    settings = replace(PRESETS[preset](), threshold_mode=args.threshold_mode)
    results = reproduce(args.dies, args.seed, args.out, quick=args.quick or args.tiny,
                        progress=not args.no_progress, ensemble=args.ensemble,
                        die_seed=args.die_seed, overwrite=args.overwrite, settings=settings,
                        n_threads=args.threads)
    print(report.summary_table_markdown(results))
    out = Path(args.out).resolve()
    if importlib.util.find_spec("matplotlib") is not None:
        print(f"\nresults, figures and summary written to {out}")
    else:
        print(f"\nresults and summary written to {out}")
        print('figures skipped: they need matplotlib: pip install "mtjexplore[plots]", then run '
              'this command again (the finished stages are reused)')
    return 0
