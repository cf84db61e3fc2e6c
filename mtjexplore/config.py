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
"""

from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass
from functools import cached_property

from .errors import ParameterError


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
        and AP resistance (drawn independently).
    r_series_ohm : float, default 1800.0
        Access transistor and line resistance in series with every junction, ohm (may be 0).
        The default is argued in the module docstring (published device models: 0.75-4.5 kOhm).
    r_short_ohm : float, default 30.0
        Resistance of a shorted junction, ohm (the series resistance comes on top).
    r_open_ohm : float, default inf
        Resistance of an open device, ohm (``inf``: no current).
    read_voltage_v : float, default 0.1
        Voltage applied to an active row during a read, volt.

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

    def __post_init__(self):
        _positive_finite("r_p_ohm", self.r_p_ohm, "parallel-state junction resistance in ohm")
        _positive_finite("tmr", self.tmr, "TMR = (R_AP - R_P) / R_P")
        _positive_finite("read_voltage_v", self.read_voltage_v)
        for name in ("spread", "r_series_ohm", "r_short_ohm"):
            value = getattr(self, name)
            _require(isinstance(value, (int, float)) and not isinstance(value, bool)
                     and math.isfinite(value) and value >= 0, name, "a finite number >= 0", value)
        _require(self.spread < 1, "spread", "< 1 (std of ln R)", self.spread)
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


@dataclass(frozen=True)
class CrossbarConfig:
    """Network sizes and device parameters of one die.

    The network is ``n_inputs + 1 (bias) -> n_hidden + 1 (bias) -> n_outputs`` with every weight a
    differential pair of MTJs, so a die holds ``2 * ((n_inputs+1)*n_hidden + (n_hidden+1)*n_outputs)``
    devices.

    Parameters
    ----------
    n_inputs : int, default 100
        Input rows (pixels of a ``size x size`` image), bias row not counted.
    n_hidden : int, default 90
        Hidden comparator neurons.
    n_outputs : int, default 10
        Output classes.
    device : DeviceParams
        Electrical device parameters.

    Examples
    --------
    >>> paper_config().n_devices
    20000
    """

    n_inputs: int = 100
    n_hidden: int = 90
    n_outputs: int = 10
    device: DeviceParams = dataclasses.field(default_factory=DeviceParams)

    def __post_init__(self):
        for name in ("n_inputs", "n_hidden", "n_outputs"):
            value = getattr(self, name)
            _require(isinstance(value, int) and not isinstance(value, bool) and value >= 1,
                     name, "an int >= 1", value)
        _require(self.n_outputs >= 2, "n_outputs", "an int >= 2", self.n_outputs)
        _require(isinstance(self.device, DeviceParams), "device", "a DeviceParams", self.device)

    @property
    def layer_shapes(self):
        """``[(rows, neurons)]`` of the two weight matrices, bias rows included."""
        return [(self.n_inputs + 1, self.n_hidden), (self.n_hidden + 1, self.n_outputs)]

    @property
    def n_devices(self):
        """MTJs on one die (two per weight)."""
        return sum(2 * r * c for r, c in self.layer_shapes)

    def describe(self):
        """One line: network sizes, devices per die and :meth:`DeviceParams.describe`."""
        return (f"{self.n_inputs}+1 -> {self.n_hidden}+1 -> {self.n_outputs}, {self.n_devices} MTJs "
                f"per die; {self.device.describe()}")

    def __str__(self):
        return self.describe()

    @cached_property
    def floorplan(self):
        """The default :class:`~mtjexplore.floorplan.Floorplan` (layer blocks side by side)."""
        from .floorplan import Floorplan

        return Floorplan.side_by_side(self.layer_shapes)

    def to_json(self):
        """Serialise to a JSON string (stored in dataset attrs)."""
        return json.dumps(dataclasses.asdict(self))

    @classmethod
    def from_json(cls, text):
        """Inverse of :meth:`to_json`."""
        data = json.loads(text)
        return cls(**{**data, "device": DeviceParams(**data["device"])})

    # cached_property needs a __dict__; frozen dataclasses allow it via object.__setattr__
    def __getstate__(self):
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}

    def __setstate__(self, state):
        for key, value in state.items():
            object.__setattr__(self, key, value)


def paper_device():
    """Device parameters used for the reproduction (see the module docstring for the argument)."""
    return DeviceParams()


def paper_config(device=None):
    """The paper's network as we infer it: 100+1 -> 90+1 -> 10, differential pairs, 20,000 MTJs.

    Examples
    --------
    >>> cfg = paper_config()
    >>> cfg.layer_shapes
    [(101, 90), (91, 10)]
    """
    return CrossbarConfig(device=device or paper_device())
