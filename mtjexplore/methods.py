"""The training methods' colours, shared by the apps' views and the study's figures.

:data:`METHOD_COLORS` maps a method name to its colour; :func:`method_color` finds it for a
method name, a study row (``"statistics_aware_remapped"``) or an app run's name
(``"defect-aware, die 7, run 2"``). Pure Python: the core's figures and the widgets both use it.

Examples
--------
>>> method_color("statistics_aware") == method_color("statistics-aware, run 2")
True
>>> method_of("remapped"), method_of("statistics_aware_remapped")
('remap', 'statistics_aware_remapped')
"""

from __future__ import annotations

__all__ = ["METHOD_COLORS", "OTHER_COLOR", "method_of", "method_color"]

#: Colour of each training method (keyed by method name; a run has its method's colour).
METHOD_COLORS = {
    "software": "#7f7f7f",                   # grey: the baseline
    "defect_aware": "#9467bd",               # purple
    "statistics_aware": "#2ca02c",           # green
    "remap": "#8c564b",                      # brown (the study's "remapped" row)
    "statistics_aware_remapped": "#1f77b4",  # blue
}
#: Colour of weights whose method is not one of the above.
OTHER_COLOR = "#17becf"
_LONGEST_FIRST = sorted(METHOD_COLORS, key=len, reverse=True)


def method_of(name):
    """The method a weights name belongs to (``"defect-aware, die 7"`` -> ``"defect_aware"``)."""
    key = str(name).strip().lower().replace("-", "_").replace(" ", "_")
    for method in _LONGEST_FIRST:
        if key.startswith(method):
            return method
    if key.startswith("remapped"):
        return "remap"
    return None


def method_color(name):
    """The colour of a method or of a run of it (:data:`METHOD_COLORS`; else :data:`OTHER_COLOR`)."""
    return METHOD_COLORS.get(method_of(name), OTHER_COLOR)
