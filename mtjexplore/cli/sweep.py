"""``mtjexplore sweep``: a parameter sweep on Dask from the command line (options and printing only)."""

from __future__ import annotations

from pathlib import Path

from ..errors import ParameterError, require
from ..study.reproduce import METHODS
from ..study.sweep import SweepGrid, run_sweep


def parse_ints(text, name, count=False):
    """Parse ``"0-3"`` (0..3) or ``"1,4,5"``; with ``count``, a bare ``"8"`` means 0..7.

    Examples
    --------
    >>> parse_ints("0-2,7", "dies"), parse_ints("3", "dies", count=True)
    ((0, 1, 2, 7), (0, 1, 2))
    """
    try:
        if count and text.strip().isdigit():
            return tuple(range(int(text)))
        out = []
        for part in text.split(","):
            lo, _, hi = part.strip().partition("-")
            out.extend(range(int(lo), int(hi) + 1) if hi else [int(lo)])
        return tuple(out)
    except ValueError:
        raise ParameterError(f"--{name} must be a count, a range like 0-7 or a list like 0,3,5; "
                             f"got {text!r}") from None


def _parse_floats(text, name):
    try:
        return tuple(float(v) for v in text.split(","))
    except ValueError:
        raise ParameterError(f"--{name} must be a comma-separated list of numbers; got {text!r}") from None


def add_arguments(parser):
    """Options of ``mtjexplore sweep``."""
    parser.add_argument("--out", default="sweep.nc", help="output .nc or .zarr (default sweep.nc); "
                        "finished cells are kept in <stem>.cells/ next to it")
    parser.add_argument("--methods", default=",".join(METHODS), help=f"any of {', '.join(METHODS)}")
    parser.add_argument("--densities", default="1", help="defect-density multipliers, e.g. 0.5,1,2")
    parser.add_argument("--seeds", default="0", help="training seeds, e.g. 0-4 or 0,1")
    parser.add_argument("--dies", default="36", help="a count (8: dies 0..7), a range or a list")
    parser.add_argument("--n-train", type=int, default=None, help="training images (default all)")
    parser.add_argument("--n-test", type=int, default=None, help="test images (default all)")
    parser.add_argument("--max-epochs", type=int, default=None, help="cap on the recipes' epochs")
    parser.add_argument("--quick", action="store_true", help="5,120 / 2,000 images, 2 epochs")
    parser.add_argument("--scheduler", default=None,
                        help="Dask scheduler address (tcp://host:8786), or 'serial'; default: a "
                             "LocalCluster on 127.0.0.1")
    parser.add_argument("--workers", type=int, default=2, help="LocalCluster worker processes (default 2)")
    parser.add_argument("--no-resume", action="store_true", help="discard stored cells and start over")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def grid_from_args(args):
    """The :class:`SweepGrid` the command-line options describe."""
    quick = {"n_train": 5120, "n_test": 2000, "max_epochs": 2, "n_remap_images": 1000} if args.quick else {}
    sizes = {k: v for k, v in (("n_train", args.n_train), ("n_test", args.n_test),
                               ("max_epochs", args.max_epochs)) if v is not None}
    return SweepGrid(methods=tuple(m.strip() for m in args.methods.split(",")),
                     densities=_parse_floats(args.densities, "densities"),
                     seeds=parse_ints(args.seeds, "seeds"),
                     dies=parse_ints(args.dies, "dies", count=True), **{**quick, **sizes})


def run(args):
    """Run ``mtjexplore sweep``; print where the merged results are and the mean error table."""
    if args.scheduler != "serial":
        require(("dask", "distributed"), "Dask", "dask")
    grid = grid_from_args(args)
    res = run_sweep(grid, args.out, scheduler=args.scheduler, n_workers=args.workers,
                    resume=not args.no_resume, progress=not args.no_progress)
    print(f"{res.attrs['n_cells_run']} cells run, {res.attrs['n_cells_skipped']} reused, on "
          f"{res.attrs['scheduler']}, in {res.attrs['elapsed_s']:.1f} s")
    print("mean error over seeds and dies (rows: method, columns: density):")
    print(res.error.mean(("seed", "die")).to_pandas().round(4))
    print(f"merged results: {Path(args.out).resolve()}")
    return 0

