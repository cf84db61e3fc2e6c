"""Dies and die ensembles as ``xarray.Dataset``: the two conductance maps and the defect codes.

A die *is* its maps ``g_p`` (read after writing P) and ``g_ap`` (read after writing AP), in
siemens, one value per physical device. A defect is already in those numbers; the ``defect``
variable is a classification of them (CF flag conventions). Cells of the array that hold no
device (the floorplan's blocks need not fill the rectangle) have ``g = 0`` and the code
``no_device``.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
import xarray as xr

from .config import CrossbarConfig
from .defects import DEFECT_CODES, DEFECT_KINDS, NO_DEVICE, classify_readings
from .defects import defect_conductances
from ._check import check_number
from .errors import ParameterError

__all__ = ["DEFECT_KINDS", "DEFECT_CODES", "NO_DEVICE", "defect_conductances", "die_dataset", "config_of",
           "ideal_die", "set_defects", "ClassifyThresholds", "classify_maps", "classify_defects",
           "check_dies", "as_ensemble", "defect_counts"]


def _version():
    from ._version import __version__

    return __version__


def _defect_attrs():
    return {"long_name": "defect classification", "flag_values": np.array(
        list(range(len(DEFECT_KINDS))) + [NO_DEVICE], dtype=np.uint8),
        "flag_meanings": " ".join(DEFECT_KINDS + ("no_device",))}


def die_dataset(config, g_p, g_ap, defect, *, seed=None, provenance="synthetic"):
    """Wrap maps ``[(die,) row, col]`` into the project's die/ensemble ``xarray.Dataset`` layout."""
    fp = config.floorplan
    dims = ("die", "row", "col") if np.ndim(g_p) == 3 else ("row", "col")
    coords = {"row": np.arange(fp.shape[0]), "col": np.arange(fp.shape[1]),
              "layer": (("row", "col"), fp.layer_map.astype(np.int16),
                        {"long_name": "network layer held by the cell (-1: no device)"})}
    if len(dims) == 3:
        coords["die"] = np.arange(np.shape(g_p)[0])
    ds = xr.Dataset(
        {"g_p": (dims, np.asarray(g_p, dtype=np.float64),
                 {"units": "S", "long_name": "conductance read after writing P"}),
         "g_ap": (dims, np.asarray(g_ap, dtype=np.float64),
                  {"units": "S", "long_name": "conductance read after writing AP"}),
         "defect": (dims, np.asarray(defect, dtype=np.uint8), _defect_attrs())},
        coords=coords,
        attrs={"config": config.to_json(), "seed": -1 if seed is None else int(seed),
               "provenance": provenance, "mtjexplore_version": _version(),
               "read_voltage_v": config.device.read_voltage_v})
    return ds


@functools.lru_cache(maxsize=32)
def _config_from_json(text):
    # One shared (frozen) instance per JSON text, so its cached floorplan is built once, not on
    # every set_defects / die_coefficients call (~8 ms each at paper size).
    return CrossbarConfig.from_json(text)


def config_of(die):
    """The :class:`CrossbarConfig` a die or ensemble was made for (from its attrs)."""
    try:
        return _config_from_json(die.attrs["config"])
    except (KeyError, TypeError, ValueError) as exc:
        raise ParameterError("this Dataset is not an mtjexplore die: its attrs lack a valid "
                             "'config' (make dies with ideal_die, sample_dies or an importer)") from exc


def ideal_die(config):
    """A defect-free die with every device at its nominal conductances.

    Examples
    --------
    >>> from mtjexplore import paper_config
    >>> die = ideal_die(paper_config())
    >>> dict(die.sizes), int((die.defect == 0).sum())
    ({'row': 101, 'col': 200}, 20000)
    """
    d, present = config.device, config.floorplan.present
    g_p = np.where(present, d.g_p_s, 0.0)
    g_ap = np.where(present, d.g_ap_s, 0.0)
    defect = np.where(present, 0, NO_DEVICE).astype(np.uint8)
    return die_dataset(config, g_p, g_ap, defect, provenance="ideal")


def _check_kind(kind):
    if kind not in DEFECT_KINDS:
        raise ParameterError(f"kind must be one of {', '.join(DEFECT_KINDS)}; got {kind!r}")


def _cells(die, rows, cols):
    rows, cols = np.broadcast_arrays(np.atleast_1d(rows).astype(np.int64), np.atleast_1d(cols).astype(np.int64))
    config = config_of(die)
    fp = config.floorplan
    fp.check_cell(rows, cols)
    empty = ~fp.present[rows, cols]
    if empty.any():
        k = int(np.flatnonzero(empty)[0])
        raise ParameterError(f"cell (row={rows.flat[k]}, col={cols.flat[k]}) holds no device: it lies "
                             "outside the floorplan's layer blocks (see die.layer >= 0)")
    return config, rows.ravel(), cols.ravel()


def set_defects(die, rows, cols, kind):
    """Return a copy of ``die`` where the devices at ``(rows, cols)`` have defect ``kind``.

    The maps change consistently with the kind: a short reads ``1/(r_short + r_series)`` in
    both states, an open reads ``g_open`` (0 by default), stuck-P reads its P value in both states,
    stuck-AP its AP value. ``"ok"`` (erase) restores *nominal* healthy conductances (the device's
    own spread sample is not remembered). Devices that were defective take nominal values as their
    healthy baseline before a stuck defect is applied.

    Parameters
    ----------
    die : xarray.Dataset
        One die (no ``die`` dimension; use ``ens.isel(die=k)``).
    rows, cols : int or array_like of int
        Physical cells; broadcast against each other.
    kind : {"ok", "short", "open", "stuck_p", "stuck_ap"}

    Examples
    --------
    >>> from mtjexplore import paper_config
    >>> die = set_defects(ideal_die(paper_config()), [0, 1], [4, 4], "short")
    >>> int((die.defect == 1).sum())
    2
    """
    _check_kind(kind)
    if "die" in die.dims:
        raise ParameterError("set_defects paints one die; select it first, e.g. ens.isel(die=3)")
    config, rows, cols = _cells(die, rows, cols)
    d = config.device
    out = die.copy(deep=True)
    g_p, g_ap = out.g_p.values, out.g_ap.values
    healthy = die.defect.values[rows, cols] == 0
    base_p = np.where(healthy, g_p[rows, cols], d.g_p_s)
    base_ap = np.where(healthy, g_ap[rows, cols], d.g_ap_s)
    if kind == "ok":
        base_p, base_ap = np.full_like(base_p, d.g_p_s), np.full_like(base_ap, d.g_ap_s)
    g_p[rows, cols], g_ap[rows, cols] = defect_conductances(kind, base_p, base_ap, d.g_short_s,
                                                             d.g_open_s)
    out.defect.values[rows, cols] = DEFECT_CODES[kind]
    return out


@dataclass(frozen=True)
class ClassifyThresholds:
    """Thresholds that turn measured conductances into defect kinds.

    The junction resistance in each state is ``R = 1/g - r_series_ohm``.

    Parameters
    ----------
    open_fraction : float, default 0.1
        Open when both conductances are below ``open_fraction * G_AP`` (nominal, incl. series).
    short_fraction : float, default 0.2
        Short when both junction resistances are below ``short_fraction * R_P``.
    stuck_tmr_fraction : float, default 0.25
        Stuck when the measured TMR ``(R_AP - R_P)/R_P`` is below ``stuck_tmr_fraction * tmr``;
        stuck-P if the geometric mean of the two readings is nearer ``R_P`` than ``R_AP`` (log scale).
    """

    open_fraction: float = 0.1
    short_fraction: float = 0.2
    stuck_tmr_fraction: float = 0.25

    def __post_init__(self):
        for name in ("open_fraction", "short_fraction", "stuck_tmr_fraction"):
            value = getattr(self, name)
            check_number(name, value, low=0, high=1, low_open=True, high_open=True)


def classify_maps(device, g_p, g_ap, present, thresholds=None):
    """Defect codes (uint8 array) from conductance arrays; see :class:`ClassifyThresholds`."""
    t = thresholds or ClassifyThresholds()
    codes = classify_readings(device, np.asarray(g_p, float), np.asarray(g_ap, float), t)
    codes[~np.broadcast_to(present, codes.shape)] = NO_DEVICE
    return codes


def classify_defects(die, thresholds=None):
    """Recover defect kinds from a die's (or ensemble's) maps.

    Returns
    -------
    xarray.DataArray
        uint8 codes like ``die.defect`` (``flag_meanings`` in its attrs).

    Examples
    --------
    >>> from mtjexplore import paper_config
    >>> die = set_defects(ideal_die(paper_config()), 0, 0, "open")
    >>> bool((classify_defects(die) == die.defect).all())
    True
    """
    config = config_of(die)
    codes = classify_maps(config.device, die.g_p.values, die.g_ap.values,
                          config.floorplan.present, thresholds)
    return die.defect.copy(data=codes)


def check_dies(dies):
    """Raise a ParameterError unless ``dies`` is a die or an ensemble Dataset; return it."""
    if not isinstance(dies, xr.Dataset) or not {"g_p", "g_ap"} <= set(dies.data_vars):
        raise ParameterError("dies must be an xarray.Dataset with variables g_p and g_ap "
                             f"(a die or an ensemble); got {type(dies).__name__}")
    return dies


def as_ensemble(dies):
    """Give a single die a leading ``die`` dimension; leave ensembles alone."""
    check_dies(dies)
    if "die" in dies.dims:
        return dies
    die_id = int(dies["die"]) if "die" in dies.coords else 0
    return dies.drop_vars("die", errors="ignore").expand_dims(die=[die_id])


def defect_counts(dies):
    """Counts per kind (``kind`` dim) of each die as an ``xarray.DataArray`` (``die`` dim if any)."""
    codes = dies.defect
    counts = [(codes == code).sum(("row", "col")) for code in range(1, len(DEFECT_KINDS))]
    out = xr.concat(counts, dim="kind").assign_coords(kind=list(DEFECT_KINDS[1:]))
    return out.rename("n_defects").assign_attrs(long_name="defective devices", units="1")
