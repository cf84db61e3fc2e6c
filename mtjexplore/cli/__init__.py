"""The ``mtjexplore`` command line: ``demo``, ``app``, ``reproduce``, ``sweep``.

Each subcommand is a module of this package (argument parsing and printing only; the work is done
by the core, :mod:`mtjexplore.study` and :mod:`mtjexplore.serve`), which provides ``add_arguments(parser)`` and
``run(args) -> int``; this file only dispatches. A subcommand whose optional dependencies are
missing says which extra to install (:class:`MissingDependencyError`), never shows a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import re
import sys

from ..errors import MissingDependencyError, MTJExploreError, require  # noqa: F401 - re-exported

COMMANDS = {
    "demo": ("mtjexplore.cli.demo", "train, map onto sampled dies and print the table (headless)"),
    "app": ("mtjexplore.cli.app", "serve the Voila apps (explorer, ensemble), to one user or a class"),
    "reproduce": ("mtjexplore.cli.reproduce", "reproduce the 36-die study headlessly"),
    "sweep": ("mtjexplore.cli.sweep", "run a parameter sweep on Dask"),
}


def plain_text(text):
    """Help text without reStructuredText markup: ``code`` -> code, :class:`X` -> X.

    Examples
    --------
    >>> plain_text("The ``mtjexplore`` command: :func:`run`")
    'The mtjexplore command: run'
    """
    text = re.sub(r":[a-z]+:`~?([^`]+)`", r"\1", text)
    return re.sub(r"``([^`]+)``", r"\1", text)


def build_parser():
    """The argument parser of ``mtjexplore`` with every subcommand whose module imports."""
    parser = argparse.ArgumentParser(prog="mtjexplore", description=plain_text(__doc__.splitlines()[0]))
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
        _plain_help(p)
        p.set_defaults(_run=mod.run)
    return parser


def _plain_help(parser):
    for action in parser._actions:
        if isinstance(action.help, str):
            action.help = plain_text(action.help)


def main(argv=None):
    """Run ``mtjexplore``; returns the exit code (2 for a user error or a missing extra)."""
    args = build_parser().parse_args(argv)
    try:
        return args._run(args)
    except MissingDependencyError as exc:
        print(f"mtjexplore {args.command}: {exc}", file=sys.stderr)
        return 2
    except MTJExploreError as exc:
        print(f"mtjexplore {args.command}: error: {exc}", file=sys.stderr)
        return 2

