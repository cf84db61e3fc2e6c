"""The methods: one registry with each method's name, labels, colour, recipe and what it needs.

The study's rows, its figures (colours, markers, labels), the apps' run names and colours and the
training recipes all read :data:`REGISTRY`. Three methods train (:class:`~mtjexplore.Trainer`'s
``method``); the remapped ones rearrange trained weights on each die
(:func:`mtjexplore.remap.remap`) and take the recipe of the method they remap.

What each needs to know about a die is part of the entry (``needs``): it is what decides where a
method can be used (a die measured in full, or only the fab's statistics).

Examples
--------
>>> method("statistics_aware").recipe()["dies_per_step"]
2
>>> method_color("statistics_aware") == method_color("statistics-aware, run 2")
True
>>> method_of("remapped"), method_of("statistics_aware_remapped"), method_of("defect-aware, die 7")
('remapped', 'statistics_aware_remapped', 'defect_aware')
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from . import recipes

__all__ = ["Method", "REGISTRY", "TRAINED", "STUDY_METHODS", "METHOD_COLORS", "OTHER_COLOR",
           "method", "method_of", "method_color", "method_label"]


@dataclass(frozen=True)
class Method:
    """One method of the study.

    Parameters
    ----------
    name : str
        Identifier in results files and the API (``"statistics_aware_remapped"``).
    label : str
        Short name for people (``"statistics-aware, remapped"``); app runs start with it.
    figure_label : str
        Longer name in the study's figures and tables.
    color, marker : str
        Colour (CSS hex) and matplotlib marker, the same in every figure and app.
    needs : str
        What the method must know about a die before it is used on it.
    recipe : callable
        ``recipe() -> dict`` of :class:`~mtjexplore.Trainer` keyword arguments (for a remapped
        method: the recipe of the weights it remaps).
    remaps : str or None
        For a remapped method: the trained method whose weights it remaps on each die.
    """

    name: str
    label: str
    figure_label: str
    color: str
    marker: str
    needs: str
    recipe: Callable
    remaps: str | None = None

    @property
    def trained(self):
        """The :class:`~mtjexplore.Trainer` method that makes its weights."""
        return self.remaps or self.name


#: Every method, in the order of the study's rows.
REGISTRY = (
    Method("software", "software", "software weights, unaware", "#7f7f7f", "o",
           "nothing (trained on ideal devices)", recipes.software_recipe),
    Method("defect_aware", "defect-aware", "defect-aware (per die)", "#9467bd", "s",
           "the die's own measured maps (one training per die)", recipes.defect_aware_recipe),
    Method("statistics_aware", "statistics-aware", "statistics-aware", "#2ca02c", "D",
           "only the fab's defect statistics (one training for every die)",
           recipes.statistics_aware_recipe),
    Method("remapped", "remapped", "software weights, remapped", "#8c564b", "^",
           "the die's maps (to place the neurons), no retraining", recipes.software_recipe,
           remaps="software"),
    Method("statistics_aware_remapped", "statistics-aware, remapped", "statistics-aware, remapped",
           "#1f77b4", "v", "the fab's statistics to train; the die's maps to place the neurons",
           recipes.statistics_aware_recipe, remaps="statistics_aware"),
)
_BY_NAME = {m.name: m for m in REGISTRY}
#: The methods that train weights (a :class:`~mtjexplore.Trainer` ``method``).
TRAINED = tuple(m.name for m in REGISTRY if m.remaps is None)
#: The study's rows, in order.
STUDY_METHODS = tuple(m.name for m in REGISTRY)
#: Colour of each method (a run has its method's colour).
METHOD_COLORS = {m.name: m.color for m in REGISTRY}
#: Colour of weights whose method is not one of the above.
OTHER_COLOR = "#17becf"
_LONGEST_FIRST = sorted(METHOD_COLORS, key=len, reverse=True)


def method(name):
    """The :class:`Method` called ``name`` (``KeyError`` naming the known methods otherwise)."""
    if name not in _BY_NAME:
        raise KeyError(f"no method {name!r}; known: {', '.join(_BY_NAME)}")
    return _BY_NAME[name]


def method_of(name):
    """The method a weights or run name belongs to (``"defect-aware, die 7"`` -> ``"defect_aware"``)."""
    key = str(name).strip().lower().replace("-", "_").replace(", ", "_").replace(" ", "_")
    for candidate in _LONGEST_FIRST:
        if key.startswith(candidate):
            return candidate
    return None


def method_color(name):
    """The colour of a method or of a run of it (:data:`METHOD_COLORS`; else :data:`OTHER_COLOR`)."""
    return METHOD_COLORS.get(method_of(name), OTHER_COLOR)


def method_label(name, figure=False):
    """What people read for a method (``figure=True``: the figures' longer label)."""
    m = _BY_NAME.get(str(name))
    if m is None:
        return str(name)
    return m.figure_label if figure else m.label
