"""The ``mtjexplore`` command line: ``demo``, ``app``, ``reproduce``, ``sweep``.

Each subcommand lives in the module that owns it, which provides ``add_arguments(parser)`` and
``run(args) -> int``; this file only dispatches.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from .errors import MTJExploreError

COMMANDS = {
    "demo": ("mtjexplore.demo", "train, map onto sampled dies and print the table (headless)"),
    "app": ("mtjexplore.appserver", "serve a Voila app (explorer, ensemble) on 127.0.0.1"),
    "reproduce": ("mtjexplore.reproduce", "reproduce the 36-die study headlessly"),
    "sweep": ("mtjexplore.sweep", "run a parameter sweep on Dask"),
}


def build_parser():
    parser = argparse.ArgumentParser(prog="mtjexplore", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    for name, (module, help_text) in COMMANDS.items():
        try:
            mod = importlib.import_module(module)
        except ModuleNotFoundError as exc:
            if exc.name != module:
                raise
            continue
        p = sub.add_parser(name, help=help_text, description=help_text)
        mod.add_arguments(p)
        p.set_defaults(_run=mod.run)
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    try:
        return args._run(args)
    except MTJExploreError as exc:
        print(f"mtjexplore {args.command}: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
