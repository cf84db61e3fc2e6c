"""Device parameters and crossbar/network configuration (frozen, validated, SI units in names).

The defaults describe a typical STT-MRAM junction read through an access transistor; the paper's
exact device values are not all public, so each default is argued below and can be changed with
``dataclasses.replace``.

* ``r_p_ohm = 3 kOhm`` and ``tmr = 1.5`` (so ``R_AP = 7.5 kOhm``): typical CoFeB/MgO junctions.
* ``spread = 0.05``: 5 % device-to-device log-normal spread of each junction's P and AP
  resistance (standard deviation of ``ln R``), typical of a mature MTJ process.
* ``r_short_ohm = 30``: a junction whose barrier is broken conducts like a metal via.
* ``r_series_ohm = 1800``: every junction is read through its access transistor and the bit and
  source lines, and this resistance is what bounds a short's current, so it decides how much
  damage a short does. It is argued from published device models, not from any result of the
  study (which it changes a lot: see ``docs/results/short_strength``):

  - A 1T1MTJ access transistor is sized for the *write* current (~40-150 uA), not for reading.
    NVSim's sample STT-RAM cell has R_on = 6 kOhm with 0.15 V across its access device at
    40.8 uA, i.e. ~3.7 kOhm at write bias.
  - NVSim's transistor tables give R_eff * W = 643 / 828 / 1362 Ohm*um at 22 / 45 / 65 nm; at
    memory-cell widths of 4.5-8.5 F that is 2-6.5 kOhm, and about 0.5-0.7x of it at a 0.1 V read
    (deeper in the linear region): ~1-4.5 kOhm.
  - NeuroSim sizes the access transistor at 0.25x the device R_on: 750 Ohm for R_P = 3 kOhm, a
    deliberately wide (several-cell) transistor, the low end.

  The supported range is therefore ~0.75-4.5 kOhm. We take its middle: the 45 nm node at a
  mid-sized cell (6.5 F, ~0.29 um) gives 828 / 0.29 = 2.8 kOhm at write bias, x0.6 at a 0.1 V
  read = 1.7 kOhm, plus ~0.1 kOhm of bit/source line; NVSim's sample cell at read bias is
  1.9-2.6 kOhm; the geometric centre of 0.75-4.5 kOhm is 1.84 kOhm. Hence 1.8 kOhm. With it a
  shorted junction reads ``1/1830 S``, about 5.4x the current difference ``G_P - G_AP`` of a
  normal synapse (at 750 Ohm 9.5x, at 4.5 kOhm 4.3x; with no series resistance 167x). See
  ``DeviceParams.short_to_weight_ratio`` and ``DeviceParams.describe``. (Before issue 12 the
  default was 500 Ohm, a guess outside this range: a short then passed 11.7 unit weights.)
* ``read_voltage_v = 0.1``: a read well below the switching voltage.
* ``spread_correlation = 0.9``: the correlation of ``ln R_P`` and ``ln R_AP`` of one junction
  (issue 12). Physically it is high: a junction's resistance in both states is
  ``RA / area`` (times ``1 + TMR`` for AP), so the area variation of patterning moves ``ln R_P``
  and ``ln R_AP`` by the same amount (correlation 1 from area alone), and so does a
  barrier-thickness (RA) variation, to first order; only a device-to-device variation of the TMR
  decorrelates them. With ``ln R_AP = ln R_P + ln(1 + TMR)``, a 5 % spread of ``ln R_P`` and a
  TMR spread of ~3 % of 1.5 (``std ln(1 + TMR)`` ~ 0.018) give ``0.05 / sqrt(0.05^2 + 0.018^2)``
  ~ 0.94; we argue **0.9** (a TMR spread up to ~5 %), and it is the default (files written
  before the option existed, whose device has no ``spread_correlation``, read as 0.0: independent
  draws, as they were made). What it changes is small by construction: a
  differential pair's weight ``w = +1`` reads ``g_P(+) - g_AP(-)`` and ``w = -1`` reads
  ``g_AP(+) - g_P(-)``, always one device in P and the *other* in AP, so for fixed weights the
  distribution of every effective weight (hence of the error over dies) does not depend on
  the correlation; it shifts the split into offset ``a`` and gain ``b`` that the training
  gradient and remapping (which sees both states of a device) use. Measured in
  ``docs/results/spread_correlation.md``.
"""

from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass
from functools import cached_property

from .errors import ParameterError

__all__ = ["CrossbarConfig", "DeviceParams", "paper_config", "paper_device"]


def _require(ok, name, rule, value, hint=""):
    if not ok:
        hint = f" ({hint})" if hint else ""
        raise ParameterError(f"{name} must be {rule}; got {value!r}{hint}")


def _positive_finite(name, value, hint=""):
    _require(isinstance(value, (int, float)) and not isinstance(value, bool)
             and math.isfinite(value) and value > 0, name, "a finite number > 0", value, hint)


@dataclass(frozen=True)
class DeviceParams:
    """Electrical parameters of one MTJ device and its read-out.

    Parameters
    ----------
    r_p_ohm : float, default 3000.0
        Junction resistance in the parallel (low-resistance) state, ohm.
    tmr : float, default 1.5
        Tunnel magnetoresistance ratio ``(R_AP - R_P) / R_P``.
    spread : float, default 0.05
        Device-to-device log-normal spread: standard deviation of ``ln R`` of each junction's P
        and AP resistance.
    r_series_ohm : float, default 1800.0
        Access transistor and line resistance in series with every junction, ohm (may be 0).
        The default is argued in the module docstring (published device models: 0.75-4.5 kOhm).
    r_short_ohm : float, default 30.0
        Resistance of a shorted junction, ohm (the series resistance comes on top).
    r_open_ohm : float, default inf
        Resistance of an open device, ohm (``inf``: no current).
    read_voltage_v : float, default 0.1
        Voltage applied to an active row during a read, volt.
    spread_correlation : float, default 0.9
        Correlation of ``ln R_P`` and ``ln R_AP`` of one junction, in [-1, 1], used where dies
        are sampled from :class:`~mtjexplore.statistics.DefectStatistics` (the physically argued
        value, module docstring); 0: independent draws. Written to JSON only when non-zero; a
        device read from JSON without it has 0 (files written before it existed).

    Examples
    --------
    >>> d = DeviceParams()
    >>> round(d.short_to_weight_ratio, 1)
    5.4
    >>> print(d.describe())
    R_P 3 kΩ, TMR 1.5, 5 % spread, read path 1.8 kΩ in series: a short passes 5.4 unit weights
    """

    r_p_ohm: float = 3000.0
    tmr: float = 1.5
    spread: float = 0.05
    r_series_ohm: float = 1800.0
    r_short_ohm: float = 30.0
    r_open_ohm: float = math.inf
    read_voltage_v: float = 0.1
    spread_correlation: float = 0.9

    def __post_init__(self):
        _positive_finite("r_p_ohm", self.r_p_ohm, "parallel-state junction resistance in ohm")
        _positive_finite("tmr", self.tmr, "TMR = (R_AP - R_P) / R_P")
        _positive_finite("read_voltage_v", self.read_voltage_v)
        for name in ("spread", "r_series_ohm", "r_short_ohm"):
            value = getattr(self, name)
            _require(isinstance(value, (int, float)) and not isinstance(value, bool)
                     and math.isfinite(value) and value >= 0, name, "a finite number >= 0", value)
        _require(self.spread < 1, "spread", "< 1 (std of ln R)", self.spread)
        rho = self.spread_correlation
        _require(isinstance(rho, (int, float)) and not isinstance(rho, bool) and -1 <= rho <= 1,
                 "spread_correlation", "a number in [-1, 1]", rho,
                 "correlation of ln R_P and ln R_AP of one junction")
        _require(isinstance(self.r_open_ohm, (int, float)) and self.r_open_ohm > self.r_p_ohm * (1 + self.tmr),
                 "r_open_ohm", "larger than R_AP = r_p_ohm * (1 + tmr) (use inf for no current)",
                 self.r_open_ohm)
        _require(self.r_short_ohm < self.r_p_ohm, "r_short_ohm", f"< r_p_ohm = {self.r_p_ohm}",
                 self.r_short_ohm)

    @property
    def r_ap_ohm(self):
        """Antiparallel junction resistance, ohm."""
        return self.r_p_ohm * (1.0 + self.tmr)

    @property
    def g_p_s(self):
        """Nominal conductance read after writing P (junction + series), siemens."""
        return 1.0 / (self.r_p_ohm + self.r_series_ohm)

    @property
    def g_ap_s(self):
        """Nominal conductance read after writing AP (junction + series), siemens."""
        return 1.0 / (self.r_ap_ohm + self.r_series_ohm)

    @property
    def g_short_s(self):
        """Conductance of a shorted device (short + series), siemens."""
        return 1.0 / (self.r_short_ohm + self.r_series_ohm)

    @property
    def g_open_s(self):
        """Conductance of an open device, siemens (0 for ``r_open_ohm = inf``)."""
        return 0.0 if math.isinf(self.r_open_ohm) else 1.0 / (self.r_open_ohm + self.r_series_ohm)

    @property
    def delta_g_s(self):
        """Unit weight: ``G_P - G_AP`` of a nominal device, siemens (``w = +-1`` gives ``+-delta_g_s``)."""
        return self.g_p_s - self.g_ap_s

    @property
    def short_to_weight_ratio(self):
        """How many unit weights of current one shorted device adds (``g_short / delta_g``)."""
        return self.g_short_s / self.delta_g_s

    def describe(self):
        """One line for people: the main parameters and how hard a short pulls, in unit weights."""
        return (f"R_P {_ohm(self.r_p_ohm)}, TMR {self.tmr:g}, {100 * self.spread:g} % spread, "
                f"read path {_ohm(self.r_series_ohm)} in series: a short passes "
                f"{self.short_to_weight_ratio:.1f} unit weights")

    def __str__(self):
        return self.describe()


def _ohm(value):
    """``1800.0`` -> ``'1.8 kΩ'``, ``500.0`` -> ``'500 Ω'``."""
    return f"{value / 1000:g} kΩ" if value >= 1000 else f"{value:g} Ω"


_LEGACY_DEFAULTS = {"n_inputs": 100, "n_hidden": 90, "n_outputs": 10}


@dataclass(frozen=True, init=False)
class CrossbarConfig:
    """Network sizes, crossbar tile size and device parameters of one die.

    The network is ``layer_sizes[0] + 1 (bias) -> layer_sizes[1] + 1 (bias) -> ... ->
    layer_sizes[-1]``: every hidden layer is a row of comparators with trainable thresholds, the
    last layer a winner-take-all, every layer has an always-on bias row and every weight is a
    differential pair of MTJs, so a die holds ``sum(2 * (n_in + 1) * n_out)`` devices.

    Each layer's device block (``n_in + 1`` rows by ``2 * n_out`` columns) is cut into pieces of
    at most ``tile_shape`` and placed on crossbar tiles; the die's physical ``(row, col)`` array is
    the tiles side by side (see :meth:`mtjexplore.floorplan.Floorplan.tiled`).

    Parameters
    ----------
    n_inputs, n_hidden, n_outputs : int, optional
        The two-layer shorthand: ``layer_sizes = (n_inputs, n_hidden, n_outputs)`` (defaults
        100, 90, 10). ``n_hidden`` may also be a tuple of hidden sizes (several hidden layers).
        Given together with ``layer_sizes`` they replace its first entry, its first hidden entry
        (all hidden entries for a tuple) and its last entry, so
        ``dataclasses.replace(cfg, n_hidden=50)`` works as before.
    device : DeviceParams, optional
        Electrical device parameters (default ``DeviceParams()``).
    layer_sizes : tuple of int, optional, keyword-only
        Neurons per layer, inputs first, outputs last (bias rows not counted); at least one hidden
        layer, at least 2 outputs.
    tile_shape : tuple of int or None, keyword-only, default None
        ``(rows, cols)`` of one crossbar tile (``cols`` even: columns come in ``+/-`` pairs).
        None: one tile just large enough for all layer blocks side by side, whatever the sizes
        (the paper's die: 101 x 200 for 100 -> 90 -> 10); :attr:`tile` gives the shape in use.
        Configurations compare equal when sizes, tile in use and device agree.

    Attributes
    ----------
    n_inputs, n_outputs : int
        ``layer_sizes[0]`` and ``layer_sizes[-1]`` (read-only).
    n_hidden : int
        Size of the *first* hidden layer (read-only; the only one in a two-layer network).
    hidden_sizes : tuple of int
        All hidden layer sizes.
    tile : tuple of int
        ``(rows, cols)`` of the tiles in use (``tile_shape``, or the single tile it stands for).

    Examples
    --------
    >>> paper_config().n_devices
    20000
    >>> cfg = CrossbarConfig(layer_sizes=(196, 128, 64, 10), tile_shape=(101, 200))
    >>> cfg.layer_shapes, cfg.n_devices, cfg.floorplan.n_tiles
    ([(197, 128), (129, 64), (65, 10)], 68244, 5)
    >>> CrossbarConfig(layer_sizes=(100, 90, 10), tile_shape=(101, 200)) == paper_config()
    True
    >>> dataclasses.replace(paper_config(), n_hidden=95).tile
    (101, 210)
    """

    layer_sizes: tuple = (100, 90, 10)
    tile_shape: tuple = None
    device: DeviceParams = dataclasses.field(default_factory=DeviceParams)

    def __init__(self, n_inputs=None, n_hidden=None, n_outputs=None, device=None, *,
                 layer_sizes=None, tile_shape=None):
        legacy = {"n_inputs": n_inputs, "n_hidden": n_hidden, "n_outputs": n_outputs}
        base = _LEGACY_DEFAULTS
        if layer_sizes is not None:
            sizes = _check_sizes(layer_sizes)
            base = {"n_inputs": sizes[0], "n_hidden": sizes[1:-1], "n_outputs": sizes[-1]}
            if isinstance(legacy["n_hidden"], int) and not isinstance(legacy["n_hidden"], bool):
                legacy["n_hidden"] = (legacy["n_hidden"], *sizes[2:-1])
        layer_sizes = _legacy_sizes({k: (base[k] if v is None else v) for k, v in legacy.items()})
        device = DeviceParams() if device is None else device
        _require(isinstance(device, DeviceParams), "device", "a DeviceParams", device)
        object.__setattr__(self, "layer_sizes", layer_sizes)
        object.__setattr__(self, "tile_shape", _check_tile(tile_shape))
        object.__setattr__(self, "device", device)

    def __eq__(self, other):
        if not isinstance(other, CrossbarConfig):
            return NotImplemented
        return (self.layer_sizes, self.tile, self.device) == (other.layer_sizes, other.tile, other.device)

    def __hash__(self):
        return hash((self.layer_sizes, self.tile, self.device))

    @property
    def tile(self):
        """``(rows, cols)`` of the tiles in use."""
        return _single_tile(self.layer_shapes) if self.tile_shape is None else self.tile_shape

    @property
    def n_inputs(self):
        """Input rows (pixels of a ``size x size`` image), bias row not counted."""
        return self.layer_sizes[0]

    @property
    def n_hidden(self):
        """Comparator neurons of the first hidden layer (see :attr:`hidden_sizes` for all)."""
        return self.layer_sizes[1]

    @property
    def hidden_sizes(self):
        """Sizes of all hidden layers."""
        return self.layer_sizes[1:-1]

    @property
    def n_outputs(self):
        """Output classes."""
        return self.layer_sizes[-1]

    @property
    def n_layers(self):
        """Weight layers (hidden layers + the output layer)."""
        return len(self.layer_sizes) - 1

    @property
    def layer_shapes(self):
        """``[(rows, neurons)]`` of the weight matrices, bias rows included."""
        return [(n_in + 1, n_out) for n_in, n_out in zip(self.layer_sizes[:-1], self.layer_sizes[1:])]

    @property
    def n_devices(self):
        """MTJs on one die (two per weight)."""
        return sum(2 * r * c for r, c in self.layer_shapes)

    def describe(self):
        """One line: network sizes, devices per die and :meth:`DeviceParams.describe`."""
        sizes = " -> ".join(f"{n}+1" for n in self.layer_sizes[:-1]) + f" -> {self.n_outputs}"
        tiles = self.floorplan.n_tiles
        on = "" if tiles == 1 else f" on {tiles} tiles of {self.tile[0]} x {self.tile[1]}"
        return f"{sizes}, {self.n_devices} MTJs per die{on}; {self.device.describe()}"

    def __str__(self):
        return self.describe()

    @cached_property
    def floorplan(self):
        """The default :class:`~mtjexplore.floorplan.Floorplan`: layer pieces on tiles (first fit)."""
        from .floorplan import Floorplan

        return Floorplan.tiled(self.layer_shapes, self.tile)

    def to_json(self):
        """Serialise to a JSON string (stored in dataset attrs).

        A two-layer network on one tile is written in the original format
        (``n_inputs``/``n_hidden``/``n_outputs``), so files stay readable by earlier versions;
        any other network as ``layer_sizes`` and ``tile_shape``.
        """
        device = dataclasses.asdict(self.device)
        if device["spread_correlation"] == 0:  # files written before it existed stay identical
            del device["spread_correlation"]
        if len(self.layer_sizes) == 3 and self.tile == _single_tile(self.layer_shapes):
            return json.dumps({"n_inputs": self.n_inputs, "n_hidden": self.n_hidden,
                               "n_outputs": self.n_outputs, "device": device})
        tile = None if self.tile_shape is None else list(self.tile_shape)
        return json.dumps({"layer_sizes": list(self.layer_sizes), "tile_shape": tile, "device": device})

    @classmethod
    def from_json(cls, text):
        """Inverse of :meth:`to_json` (reads both formats)."""
        data = json.loads(text)
        # a device written before spread_correlation existed (or with 0) was drawn independently
        data = {**data, "device": DeviceParams(**{"spread_correlation": 0.0, **data["device"]})}
        for key in ("layer_sizes", "tile_shape"):
            if isinstance(data.get(key), list):
                data[key] = tuple(data[key])
        return cls(**data)

    # cached_property needs a __dict__; frozen dataclasses allow it via object.__setattr__
    def __getstate__(self):
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}

    def __setstate__(self, state):
        for key, value in state.items():
            object.__setattr__(self, key, value)


def _is_int(value):
    return isinstance(value, int) and not isinstance(value, bool)


def _legacy_sizes(legacy):
    for name in ("n_inputs", "n_outputs"):
        _require(_is_int(legacy[name]) and legacy[name] >= 1, name, "an int >= 1", legacy[name])
    hidden = legacy["n_hidden"]
    hidden = tuple(hidden) if isinstance(hidden, (tuple, list)) and hidden else hidden
    ok = (_is_int(hidden) and hidden >= 1) or (
        isinstance(hidden, tuple) and all(_is_int(h) and h >= 1 for h in hidden))
    _require(ok, "n_hidden", "an int >= 1 (or a tuple of them: one per hidden layer)", hidden)
    _require(legacy["n_outputs"] >= 2, "n_outputs", "an int >= 2", legacy["n_outputs"])
    hidden = hidden if isinstance(hidden, tuple) else (hidden,)
    return (legacy["n_inputs"], *hidden, legacy["n_outputs"])


def _check_sizes(sizes):
    ok = isinstance(sizes, (tuple, list)) and len(sizes) >= 3
    _require(ok, "layer_sizes", "a tuple (n_inputs, *hidden_sizes, n_outputs) with at least one "
             "hidden layer", sizes)
    for k, n in enumerate(sizes):
        _require(_is_int(n) and n >= (2 if k == len(sizes) - 1 else 1), f"layer_sizes[{k}]",
                 f"an int >= {2 if k == len(sizes) - 1 else 1}", n)
    return tuple(int(n) for n in sizes)


def _single_tile(layer_shapes):
    """One tile holding every layer block side by side (the paper's die)."""
    return (max(r for r, _ in layer_shapes), sum(2 * c for _, c in layer_shapes))


def _check_tile(tile_shape):
    if tile_shape is None:
        return None
    ok = (isinstance(tile_shape, (tuple, list)) and len(tile_shape) == 2
          and all(_is_int(n) and n >= 1 for n in tile_shape))
    _require(ok, "tile_shape", "a pair (rows, cols) of ints >= 1, or None", tile_shape)
    _require(tile_shape[1] % 2 == 0, "tile_shape", "(rows, cols) with cols even (+/- column pairs)",
             tile_shape)
    return tuple(int(n) for n in tile_shape)


def paper_device():
    """Device parameters used for the reproduction (see the module docstring for the argument)."""
    return DeviceParams()


def paper_config(device=None):
    """The paper's network as we infer it: 100+1 -> 90+1 -> 10, differential pairs, 20,000 MTJs,
    on one 101 x 200 tile (layer 1 in columns 0..179, layer 2 in 180..199).

    Examples
    --------
    >>> cfg = paper_config()
    >>> cfg.layer_shapes
    [(101, 90), (91, 10)]
    """
    return CrossbarConfig(device=device or paper_device())
