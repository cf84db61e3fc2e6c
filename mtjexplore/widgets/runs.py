"""The apps' state model for weights: shipped weights (read-only, pinned) and named runs.

* :data:`METHOD_COLORS` -- one colour per training *method name*, used by every view of both
  apps; :func:`method_color` finds it for a method or a run name ("defect-aware, die 7, ...").
* :class:`RunBook` -- the weights an app knows, by name. Shipped weights are frozen (their
  arrays are read-only) and cannot be removed; every run gets its own name
  (:func:`run_name`) and can be removed; :meth:`RunBook.reset` drops every run.

Examples
--------
>>> method_color("statistics_aware") == method_color("statistics-aware, run 2")
True
>>> run_name("defect_aware", die="die 7", painted={"short": 3})
'defect-aware, die 7, painted (3 shorts)'
"""

from __future__ import annotations

import html

from ..defects import REGISTRY
from ..errors import ParameterError
from ..methods import METHOD_COLORS, OTHER_COLOR, method_color, method_label, method_of  # noqa: F401 - re-exported

#: How painted cells of each kind are counted in a run name ("3 shorts").
_PLURAL = {k.name: k.plural for k in REGISTRY}


def run_name(method, *, die=None, painted=None, index=None):
    """A person-readable name of a run: method, die it was trained for, what was painted.

    Parameters
    ----------
    method : str
        Trainer method (``"software"``, ``"defect_aware"``, ``"statistics_aware"``).
    die : str, optional
        The die a defect-aware run was trained for (``"die 7"``).
    painted : dict of str to int, optional
        Cells painted on that die by kind (``{"short": 3}``).
    index : int, optional
        Run number, added as ``run N`` (to tell repeated runs apart).
    """
    parts = [method_label(method)]
    if die is not None:
        parts.append(str(die))
    if painted:
        counts = ", ".join(f"{n} {_PLURAL.get(k, k)}" for k, n in painted.items() if n)
        parts.append(f"painted ({counts})")
    if index is not None:
        parts.append(f"run {index}")
    return ", ".join(parts)


def _freeze(weights):
    frozen = weights.copy(deep=True)
    for var in frozen.data_vars.values():
        var.values.setflags(write=False)
    return frozen


class RunBook:
    """Weights by name: shipped ones (read-only, pinned) first, then runs in order.

    Parameters
    ----------
    shipped : dict of str to xarray.Dataset
        Weights that come with the app. They are copied with read-only arrays: nothing in the
        app can change them, and :meth:`remove` refuses them.

    Examples
    --------
    >>> import numpy as np, xarray as xr
    >>> w = xr.Dataset({"w1": ("i", np.zeros(3))}, attrs={"method": "software"})
    >>> book = RunBook({"software": w})
    >>> book.add(w)
    'software, run 1'
    >>> book.add(w)
    'software, run 2'
    >>> book.remove("software, run 1"); book.names
    ['software', 'software, run 2']
    >>> book["software"].w1.values.flags.writeable
    False
    """

    def __init__(self, shipped=None):
        self._shipped = {str(k): _freeze(w) for k, w in (shipped or {}).items()}
        self._runs = {}
        self._count = 0

    @property
    def names(self):
        """All names: shipped first, then runs in the order they were added."""
        return [*self._shipped, *self._runs]

    @property
    def shipped(self):
        """Names of the shipped (pinned) weights."""
        return list(self._shipped)

    @property
    def runs(self):
        """Names of the runs."""
        return list(self._runs)

    def __getitem__(self, name):
        return self._shipped[name] if name in self._shipped else self._runs[name]

    def __contains__(self, name):
        return name in self._shipped or name in self._runs

    def get(self, name, default=None):
        return self[name] if name in self else default

    def is_shipped(self, name):
        return name in self._shipped

    def add(self, weights, *, die=None, painted=None):
        """Store a run under a new name (:func:`run_name` + its number) and return the name."""
        self._count += 1
        method = str(weights.attrs.get("method") or "weights")
        name = run_name(method, die=die, painted=painted, index=self._count)
        self._runs[name] = weights
        return name

    def remove(self, name):
        """Remove a run; shipped weights cannot be removed (ParameterError)."""
        if name in self._shipped:
            raise ParameterError(f"{name!r} are the shipped weights: they stay (remove a run instead)")
        if name not in self._runs:
            raise ParameterError(f"no run named {name!r}; runs: {', '.join(self._runs) or 'none'}")
        del self._runs[name]

    def reset(self):
        """Remove every run (the shipped weights stay); the run numbers start again at 1."""
        self._runs.clear()
        self._count = 0


def legend_html(names, numbered=True):
    """A vertical legend: one coloured swatch per name (``1 ■ software``), CSS ``method-legend``."""
    rows = []
    for k, name in enumerate(names, start=1):
        color = method_color(name)
        number = f"<b>{k}</b> " if numbered else ""
        rows.append(f"<div class='legend-row' data-color='{color}' title='{html.escape(name)}' "
                    "style='line-height:1.3;margin-bottom:3px'>"
                    f"{number}<span style='display:inline-block;width:11px;height:11px;"
                    f"background:{color};margin:0 4px;vertical-align:middle'></span>"
                    f"{html.escape(name)}</div>")
    return "<div class='method-legend'>" + "".join(rows) + "</div>"
