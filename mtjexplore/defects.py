"""The defect kinds: one registry with each kind's code, names, colour, physics and detection.

Everything that knows about defect kinds reads this table: the die's ``defect`` codes and their
CF flag attributes, painting and random defects, the statistics (fit and sampling), the
statistics-aware die stream, the classification of measured maps, the reference ensemble's
rates, and the widgets' palette, colours and labels. Adding a kind is one :class:`DefectKind`
entry in :data:`REGISTRY` (``tests/unit/test_defects.py`` shows that everything follows).

**Codes are append-only.** A saved die stores codes, not names (``defect`` is ``uint8``, with the
names in its ``flag_meanings`` attribute), so a code, once given, keeps its meaning for ever: a new
kind takes the next free code; a kind is never removed or renumbered. ``tests/unit/test_defects.py``
checks the table against a die file saved by version 0.1 (``tests/data/die_v0_1.nc``).

Physics of a defective device (``g_p``, ``g_ap``: conductances read after writing P and AP,
read path included; "healthy" values are the device's own, with its spread):

========== ==== ================================================================================
kind       code reads
========== ==== ================================================================================
ok         0    its healthy ``g_p`` and ``g_ap``
short      1    ``g_short`` in both states: a broken barrier, only the read path limits the current
open       2    ``g_open`` (0 for ``r_open = inf``) in both states
stuck_p    3    its healthy ``g_p`` in both states (the free layer cannot leave P)
stuck_ap   4    its healthy ``g_ap`` in both states
========== ==== ================================================================================
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

__all__ = ["DefectKind", "REGISTRY", "DEFECT_KINDS", "DEFECT_CODES", "DEFECTIVE_KINDS", "NO_DEVICE",
           "KIND_COLORS", "KIND_LABELS", "kind", "defect_conductances", "apply_defects",
           "classify_readings"]

#: Code of a cell of the array that holds no device (not a defect kind; CF ``no_device``).
NO_DEVICE = 255


@dataclass(frozen=True)
class DefectKind:
    """One defect kind.

    Parameters
    ----------
    code : int
        Its code in saved dies (append-only: see the module docstring).
    name : str
        Identifier used in the API and in files (``"stuck_p"``).
    label, plural : str
        What people read (``"stuck-P"``, ``"stuck-P"``; ``"short"``, ``"shorts"``).
    color : str
        CSS colour in the painter, legends and the neuron view.
    description : str
        One sentence for tooltips and docs.
    reference_rate : float
        Mean fraction of devices with this defect in the reference ensemble (the defaults of
        :func:`mtjexplore.sample_dies`; 0 for ``ok``).
    reads : callable
        ``reads(g_p, g_ap, g_short, g_open) -> (g_p, g_ap)``: what a device with this defect
        reads, from its healthy values. Elementwise, on numpy arrays and torch tensors alike.
    detect : callable or None
        ``detect(r_p, r_ap, g_p, g_ap, device, thresholds) -> bool array``: which measured
        devices show this defect (junction resistances ``r_*`` with the read path removed).
        Kinds are detected in ``precedence`` order, a later one overriding an earlier one.
    precedence : int
        Order of detection (higher wins where two kinds' rules both match).
    """

    code: int
    name: str
    label: str
    plural: str
    color: str
    description: str
    reference_rate: float
    reads: Callable
    detect: Callable | None = None
    precedence: int = 0


def _stuck(r_p, r_ap, device, thresholds):
    tmr = (r_ap - r_p) / r_p
    return tmr < thresholds.stuck_tmr_fraction * device.tmr


def _near_p(r_p, r_ap, device):
    return np.log(r_p * r_ap) < np.log(device.r_p_ohm * device.r_ap_ohm)


#: Every defect kind, in code order (``REGISTRY[i].code == i``).
REGISTRY = (
    DefectKind(0, "ok", "healthy", "erased", "#dfe7ef", "a healthy device with its own spread",
               0.0, lambda g_p, g_ap, g_short, g_open: (g_p, g_ap)),
    DefectKind(1, "short", "short", "shorts", "#d62728",
               "the junction conducts in both states (only the read path limits it)", 7.5e-4,
               lambda g_p, g_ap, g_short, g_open: (g_p * 0 + g_short, g_ap * 0 + g_short),
               lambda r_p, r_ap, g_p, g_ap, device, t: np.maximum(r_p, r_ap) < t.short_fraction * device.r_p_ohm,
               precedence=1),
    DefectKind(2, "open", "open", "opens", "#222222", "no current in either state", 5e-5,
               lambda g_p, g_ap, g_short, g_open: (g_p * 0 + g_open, g_ap * 0 + g_open),
               lambda r_p, r_ap, g_p, g_ap, device, t: np.maximum(g_p, g_ap) < t.open_fraction * device.g_ap_s,
               precedence=2),
    DefectKind(3, "stuck_p", "stuck-P", "stuck-P", "#1f77b4",
               "reads its low-resistance (P) value whatever is written", 2.5e-5,
               lambda g_p, g_ap, g_short, g_open: (g_p, g_p),
               lambda r_p, r_ap, g_p, g_ap, device, t: _stuck(r_p, r_ap, device, t) & _near_p(r_p, r_ap, device)),
    DefectKind(4, "stuck_ap", "stuck-AP", "stuck-AP", "#ff9f1c",
               "reads its high-resistance (AP) value whatever is written", 2.5e-5,
               lambda g_p, g_ap, g_short, g_open: (g_ap, g_ap),
               lambda r_p, r_ap, g_p, g_ap, device, t: _stuck(r_p, r_ap, device, t) & ~_near_p(r_p, r_ap, device)),
)

#: Kind names in code order (``DEFECT_KINDS[code]``), ``ok`` first.
DEFECT_KINDS = tuple(k.name for k in REGISTRY)
#: Code of each kind name.
DEFECT_CODES = {k.name: k.code for k in REGISTRY}
#: The kinds that are defects (all but ``ok``), in code order.
DEFECTIVE_KINDS = DEFECT_KINDS[1:]
#: Colour of each kind, and of cells without a device (``no_device``).
KIND_COLORS = {**{k.name: k.color for k in REGISTRY}, "no_device": "#ffffff"}
#: What people read for each kind (``ok`` is "healthy").
KIND_LABELS = {**{k.name: k.label for k in REGISTRY}, "no_device": "no device"}


def kind(name):
    """The :class:`DefectKind` called ``name`` (``KeyError`` naming the known kinds otherwise)."""
    if name not in DEFECT_CODES:
        raise KeyError(f"no defect kind {name!r}; known: {', '.join(DEFECT_KINDS)}")
    return REGISTRY[DEFECT_CODES[name]]


def defect_conductances(name, g_p, g_ap, g_short_s, g_open_s):
    """``(g_p, g_ap)`` a device reads once it has defect ``name``, from its healthy values.

    Works elementwise on numpy arrays and torch tensors alike.
    """
    return kind(name).reads(g_p, g_ap, g_short_s, g_open_s)


def apply_defects(codes, g_p, g_ap, g_short_s, g_open_s):
    """Conductances of devices with defect ``codes`` (any array of codes; ``ok`` keeps its values).

    ``codes``, ``g_p`` and ``g_ap`` are broadcastable torch tensors (or numpy arrays); every kind
    of the registry is applied where its code is found.
    """
    where = np.where if isinstance(codes, np.ndarray) else _torch_where
    new_p, new_ap = g_p, g_ap
    for k in REGISTRY[1:]:
        hit = codes == k.code
        kp, kap = k.reads(g_p, g_ap, g_short_s, g_open_s)
        new_p, new_ap = where(hit, kp, new_p), where(hit, kap, new_ap)
    return new_p, new_ap


def _torch_where(mask, a, b):
    import torch

    return torch.where(mask, a, b)


def classify_readings(device, g_p, g_ap, thresholds):
    """Defect codes (``uint8``) of measured conductances, by each kind's ``detect`` rule."""
    with np.errstate(divide="ignore", invalid="ignore"):
        r_p = 1.0 / g_p - device.r_series_ohm
        r_ap = 1.0 / g_ap - device.r_series_ohm
        codes = np.zeros(g_p.shape, dtype=np.uint8)
        for k in sorted((k for k in REGISTRY if k.detect is not None), key=lambda k: k.precedence):
            codes[k.detect(r_p, r_ap, g_p, g_ap, device, thresholds)] = k.code
    return codes
