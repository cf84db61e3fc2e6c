"""pytest setup for the tutorials, which run under nbval (``--nbval-lax``).

The cells of one notebook share one kernel and must run in order on one pytest-xdist worker:
give each notebook its own ``xdist_group`` so ``--dist loadgroup`` keeps it together.
"""

import pytest


@pytest.hookimpl(tryfirst=True)  # before xdist reads the groups
def pytest_collection_modifyitems(config, items):
    for item in items:
        if type(item).__name__ == "IPyNbCell":
            item.add_marker(pytest.mark.xdist_group(f"notebook-{item.parent.name}"))
