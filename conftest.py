"""Test tiers and notebook ordering for the whole suite (tests/, notebooks/, mtjexplore/).

Tiers (``python -m pytest -m unit`` runs one), given by where a test lives:

* ``unit``: fast, in-process, no subprocess or server -- ``tests/unit``, ``tests/widgets`` and the
  doctests in ``mtjexplore/``;
* ``integration``: Dask clusters, Voila servers, subprocess scripts and the notebooks (each
  notebook runs in a kernel of its own) -- ``tests/integration``, ``notebooks/``,
  ``mtjexplore/apps/``;
* ``study``: slow accuracy checks on the full study -- ``tests/study``;
* ``browser``: real Chromium against the Voila apps -- ``tests/browser``.

A notebook's cells share one kernel, so they must run in order on one pytest-xdist worker. The
README's test command uses ``--dist loadfile``, which keeps every file (so every notebook) on one
worker whatever the pytest and xdist versions (``--dist loadgroup`` silently ignores its marks
with pytest >= 9.2 and xdist 3.8). If some other distribution splits a notebook anyway, its later
cells fail with a message that says so instead of a ``NameError`` from a kernel that never saw the
earlier cells.
"""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent
TIERS = {
    "unit": ("tests/unit", "tests/widgets", "mtjexplore"),
    "integration": ("tests/integration", "notebooks", "mtjexplore/apps"),
    "study": ("tests/study",),
    "browser": ("tests/browser",),
}
_started_notebooks: set[str] = set()


def pytest_configure(config):
    for tier, folders in TIERS.items():
        config.addinivalue_line("markers", f"{tier}: tests under {', '.join(folders)} (see conftest.py)")


def tier_of(path):
    """The tier of a test file: the one whose folder is the longest prefix of its path."""
    rel = Path(path).resolve().relative_to(ROOT).as_posix()
    best = max(((len(folder), tier) for tier, folders in TIERS.items() for folder in folders
                if rel == folder or rel.startswith(folder + "/")), default=(0, "unit"))
    return best[1]


def _is_notebook_cell(item):
    return type(item).__name__ == "IPyNbCell"


def pytest_collection_modifyitems(config, items):
    for item in items:
        item.add_marker(getattr(pytest.mark, tier_of(item.path)))


def pytest_runtest_setup(item):
    if not _is_notebook_cell(item):
        return
    notebook = str(item.path)
    if notebook not in _started_notebooks and item.cell_num != 0:
        pytest.fail(f"{item.path.name}: cell {item.cell_num} would run in a kernel that did not run the "
                    "notebook's earlier cells (they went to another pytest-xdist worker). Run the "
                    "notebooks with '--dist loadfile' (the README's command) or without -n.",
                    pytrace=False)
    _started_notebooks.add(notebook)
