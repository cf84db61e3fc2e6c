"""An app's shareable state as a URL query string, and back (pure Python, no widgets).

What a link holds (every key optional; a missing key keeps the app's default):

=================  ==========================================================================
``die``            die id of the ensemble (``die=7``)
``preset``         a scenario preset applied to that die (``preset=output_short``)
``seed``           seed of the random presets and of training (``seed=3``)
``short``, ...     painted cells per kind, ``row.col`` pairs joined by ``,``
                   (``short=50.100,50.101&ok=3.4``; ``ok`` = erased)
``method``         training method (``method=statistics_aware``)
``rs_ohm``         read-path (series) resistance in ohm (``rs_ohm=1800``)
``panels``         visible panels, joined by ``,`` (``panels=painter,training``)
``<name>_hide``    ``true`` hides control ``<name>`` (as TensorFlow Playground's ``_hide``)
=================  ==========================================================================

:func:`decode` never raises on a bad link: it returns the default state and a note naming the
bad setting, which the app shows on the page.

Examples
--------
>>> limits = StateLimits(die_ids=range(36), shape=(101, 200), presets=("clean",),
...                      methods=("software",), panels=("painter", "training"),
...                      controls=("randomize",))
>>> state = AppState(die=7, seed=3, cells=(("short", 50, 100), ("short", 50, 101)))
>>> query = encode(state)
>>> query
'die=7&seed=3&short=50.100%2C50.101'
>>> decode(query, limits) == (state, [])
True
>>> print(decode("die=99", limits)[1][0])
die=99 is not one of the ensemble's die ids (0..35); the default state is shown instead
"""

from __future__ import annotations

import dataclasses
import math
import urllib.parse
from dataclasses import dataclass

from ..defects import DEFECTIVE_KINDS

#: Kinds a link can paint, in the order they are written (``ok`` erases).
CELL_KINDS = DEFECTIVE_KINDS + ("ok",)
#: Query keys the server adds itself (Voilà's template and theme): never a bad setting.
SERVER_KEYS = ("voila-template", "voila-theme", "template", "theme", "token")
#: Most painted cells a link may hold (longer URLs break in some browsers and proxies).
MAX_CELLS = 2000
_R_SERIES_RANGE_OHM = (0.0, 100_000.0)


class StateError(ValueError):
    """One setting of a link is malformed; the message names it (shown on the page)."""


@dataclass(frozen=True)
class AppState:
    """Everything a link restores; None (or empty) means "the app's default"."""

    die: int | None = None
    preset: str | None = None
    seed: int | None = None
    cells: tuple = ()
    method: str | None = None
    r_series_ohm: float | None = None
    panels: tuple | None = None
    hidden: tuple = ()


@dataclass(frozen=True)
class StateLimits:
    """What an app accepts: its die ids, array shape, presets, methods, panels and controls."""

    die_ids: tuple = ()
    shape: tuple = (0, 0)
    presets: tuple = ()
    methods: tuple = ()
    panels: tuple = ()
    controls: tuple = ()
    r_series_range_ohm: tuple = _R_SERIES_RANGE_OHM

    def __post_init__(self):
        object.__setattr__(self, "die_ids", tuple(int(d) for d in self.die_ids))


def encode(state):
    """The query string (without ``?``) of ``state``; default (None/empty) fields are left out."""
    pairs = []
    if state.die is not None:
        pairs.append(("die", str(int(state.die))))
    if state.preset:
        pairs.append(("preset", state.preset))
    if state.seed is not None:
        pairs.append(("seed", str(int(state.seed))))
    for kind in CELL_KINDS:
        cells = [f"{r}.{c}" for k, r, c in state.cells if k == kind]
        if cells:
            pairs.append((kind, ",".join(cells)))
    if state.method:
        pairs.append(("method", state.method))
    if state.r_series_ohm is not None:
        pairs.append(("rs_ohm", f"{float(state.r_series_ohm):g}"))
    if state.panels is not None:
        pairs.append(("panels", ",".join(state.panels)))
    pairs.extend((f"{name}_hide", "true") for name in state.hidden)
    return urllib.parse.urlencode(pairs)


def decode(query, limits):
    """``(AppState, notes)`` from a query string; a malformed one gives the default state.

    Parameters
    ----------
    query : str
        The page's query string, with or without the leading ``?`` (``QUERY_STRING``).
    limits : StateLimits
        What the app accepts.

    Returns
    -------
    state : AppState
        The state the link asks for, or ``AppState()`` (the default) when any setting is bad.
    notes : list of str
        Sentences for the page: the bad setting and that the default is shown, or keys that
        were not understood (ignored). Empty for a good link.
    """
    try:
        pairs = urllib.parse.parse_qsl(str(query or "").lstrip("?"), keep_blank_values=True,
                                       strict_parsing=False, max_num_fields=200)
    except ValueError as exc:
        return AppState(), [f"the link could not be read ({exc}); the default state is shown instead"]
    try:
        return _decode_pairs(pairs, limits)
    except StateError as exc:
        return AppState(), [f"{exc}; the default state is shown instead"]


def _decode_pairs(pairs, limits):
    values, notes, cells, hidden = {}, [], [], []
    for key, value in pairs:
        if key in values or (key in CELL_KINDS and any(k == key for k, _, _ in cells)):
            raise StateError(f"{key} is given twice")
        if key in CELL_KINDS:
            cells.extend((key, r, c) for r, c in _cells(key, value, limits.shape))
        elif key.endswith("_hide"):
            hidden.append(_hidden(key, value, limits.controls))
        elif key in ("die", "preset", "seed", "method", "rs_ohm", "panels"):
            values[key] = value
        elif key not in SERVER_KEYS:
            notes.append(f"the link's setting {key[:40]!r} is not known here and was ignored")
    if len(cells) > MAX_CELLS:
        raise StateError(f"the link paints {len(cells)} cells; at most {MAX_CELLS} fit in a link")
    state = AppState(
        die=_die(values.get("die"), limits.die_ids), preset=_choice("preset", values.get("preset"), limits.presets),
        seed=_integer("seed", values.get("seed")), cells=tuple(cells),
        method=_choice("method", values.get("method"), limits.methods),
        r_series_ohm=_resistance(values.get("rs_ohm"), limits.r_series_range_ohm),
        panels=_panels(values.get("panels"), limits.panels), hidden=tuple(hidden))
    return state, notes


def _short(value):
    text = str(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _integer(name, value):
    if value is None:
        return None
    text = value.strip()
    if not text.lstrip("-").isdigit() or len(text) > 19:
        raise StateError(f"{name}={_short(value)} is not a whole number")
    return int(text)


def _die(value, die_ids):
    die = _integer("die", value)
    if die is not None and die not in die_ids:
        ids = list(die_ids)
        allowed = (f"{ids[0]}..{ids[-1]}" if ids and ids == list(range(ids[0], ids[-1] + 1))
                   else ", ".join(map(str, ids[:8])))
        raise StateError(f"die={die} is not one of the ensemble's die ids ({allowed})")
    return die


def _choice(name, value, allowed):
    if value is None:
        return None
    if value not in allowed:
        raise StateError(f"{name}={_short(value)} is not one of {', '.join(allowed)}")
    return value


def _resistance(value, bounds):
    if value is None:
        return None
    try:
        number = float(value)
    except ValueError:
        raise StateError(f"rs_ohm={_short(value)} is not a number of ohms") from None
    low, high = bounds
    if not math.isfinite(number) or not low <= number <= high:
        raise StateError(f"rs_ohm={_short(value)} is outside {low:g}..{high:g} ohm")
    return number


def _panels(value, allowed):
    if value is None:
        return None
    names = tuple(p for p in value.split(",") if p)
    bad = [p for p in names if p not in allowed]
    if bad:
        raise StateError(f"panels: {_short(bad[0])} is not one of {', '.join(allowed)}")
    return names


def _hidden(key, value, controls):
    name = key[: -len("_hide")]
    if name not in controls:
        raise StateError(f"{_short(key)}: no control {_short(name)!r} to hide (controls: "
                         f"{', '.join(controls)})")
    if value.lower() not in ("true", "1"):
        raise StateError(f"{_short(key)}={_short(value)}: only 'true' hides a control")
    return name


def _cells(kind, value, shape):
    out = []
    for item in value.split(","):
        parts = item.split(".")
        if len(parts) != 2 or not all(p.isdigit() and len(p) < 7 for p in parts):
            raise StateError(f"{kind}={_short(value)}: cells must be row.col pairs of whole "
                             f"numbers joined by ',' (e.g. {kind}=50.100,50.101)")
        row, col = int(parts[0]), int(parts[1])
        if not (row < shape[0] and col < shape[1]):
            raise StateError(f"{kind}: cell {row}.{col} is outside the {shape[0]} x {shape[1]} array")
        out.append((row, col))
    return out


def replace(state, **changes):
    """``dataclasses.replace`` for :class:`AppState` (a convenience for the apps)."""
    return dataclasses.replace(state, **changes)
