"""Defect statistics of a population of dies, and sampling new dies from them.

The model (assumptions, since the paper's measured maps are not public):

* Good devices: junction resistances log-normal around ``R_P`` / ``R_AP`` with spreads
  ``spread_p`` / ``spread_ap`` (std of ``ln R``), independently per device and state; the series
  resistance adds on top.
* Defect counts: dies differ. Each die draws its own rate for every kind from a gamma
  distribution (mean ``mean_counts[kind] / n_devices``, shape ``count_shape[kind]``; ``inf``
  means every die has the same rate), and each device is defective with that probability, so
  counts per die are close to negative binomial: a median of a dozen shorts and a tail of dies
  with several times more, as on real wafers.
* Positions: independent and uniform over the devices.
* Defective devices read the conductances of :func:`mtjexplore.die.defect_conductances`.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import numpy as np
import torch

from ._rng import seed_attr, torch_generator
from .config import CrossbarConfig
from .die import DEFECT_CODES, DEFECT_KINDS, NO_DEVICE, die_dataset
from .errors import ParameterError

KINDS = DEFECT_KINDS[1:]


@dataclass(frozen=True)
class DefectStatistics:
    """Statistics of dies from which new dies are sampled (the statistics-aware sampler).

    Parameters
    ----------
    config : CrossbarConfig
        Network and device of the dies.
    mean_counts : dict of str to float
        Mean defective devices per die for each kind (``short``, ``open``, ``stuck_p``,
        ``stuck_ap``); missing kinds are 0.
    count_shape : dict of str to float
        Gamma shape of the per-die rate for each kind (smaller: dies differ more; ``inf``: all
        dies share one rate, counts Poisson). Missing kinds use 2.0.
    spread_p, spread_ap : float or None
        Log-normal spread of good devices' P / AP junction resistance; None takes
        ``config.device.spread``.

    Examples
    --------
    >>> from mtjexplore import paper_config
    >>> stats = DefectStatistics(paper_config(), {"short": 15})
    >>> ens = stats.sample(4, seed=0)
    >>> dict(ens.sizes)
    {'die': 4, 'row': 101, 'col': 200}
    """

    config: CrossbarConfig
    mean_counts: dict = dataclasses.field(default_factory=lambda: {"short": 15.0})
    count_shape: dict = dataclasses.field(default_factory=dict)
    spread_p: float | None = None
    spread_ap: float | None = None

    def __post_init__(self):
        for field in ("mean_counts", "count_shape"):
            given = getattr(self, field)
            unknown = set(given) - set(KINDS)
            if unknown:
                raise ParameterError(f"{field} has unknown kinds {sorted(unknown)}; allowed: "
                                     f"{', '.join(KINDS)}")
        default_shape = {k: 2.0 for k in KINDS}
        object.__setattr__(self, "mean_counts", {k: float(self.mean_counts.get(k, 0.0)) for k in KINDS})
        object.__setattr__(self, "count_shape", {**default_shape, **{k: float(v) for k, v in self.count_shape.items()}})
        n = self.config.n_devices
        for k in KINDS:
            if not 0 <= self.mean_counts[k] <= n:
                raise ParameterError(f"mean_counts[{k!r}] must be in [0, {n}] (devices per die); "
                                     f"got {self.mean_counts[k]}")
            if not self.count_shape[k] > 0:
                raise ParameterError(f"count_shape[{k!r}] must be > 0 (inf for equal rates); "
                                     f"got {self.count_shape[k]}")
        if sum(self.mean_counts.values()) > 0.5 * n:
            raise ParameterError("the mean defect counts add up to more than half the devices")
        for name in ("spread_p", "spread_ap"):
            value = getattr(self, name)
            value = self.config.device.spread if value is None else value
            if not 0 <= value < 1:
                raise ParameterError(f"{name} must be in [0, 1) (std of ln R); got {value}")
            object.__setattr__(self, name, float(value))

    def sample_maps(self, n_dies, generator, dtype=torch.float32):
        """Sample ``(g_p, g_ap, defect)`` tensors of shape ``[n_dies, n_rows, n_cols]``.

        The fast path used by statistics-aware training; :meth:`sample` wraps it in a Dataset.
        """
        d, fp = self.config.device, self.config.floorplan
        shape = (n_dies,) + fp.shape
        present = torch.as_tensor(fp.present)
        r_p = d.r_p_ohm * torch.exp(self.spread_p * torch.randn(shape, generator=generator, dtype=dtype))
        r_ap = d.r_ap_ohm * torch.exp(self.spread_ap * torch.randn(shape, generator=generator, dtype=dtype))
        g_p, g_ap = 1.0 / (r_p + d.r_series_ohm), 1.0 / (r_ap + d.r_series_ohm)
        kinds = self._draw_kinds(n_dies, generator, dtype).reshape(shape)
        for kind in KINDS:
            mask = kinds == DEFECT_CODES[kind]
            if mask.any():
                new_p, new_ap = _defect_tensors(d, kind, g_p, g_ap)
                g_p, g_ap = torch.where(mask, new_p, g_p), torch.where(mask, new_ap, g_ap)
        kinds = torch.where(present, kinds, torch.full_like(kinds, NO_DEVICE))
        zero = torch.zeros((), dtype=dtype)
        return torch.where(present, g_p, zero), torch.where(present, g_ap, zero), kinds

    def _draw_kinds(self, n_dies, generator, dtype):
        """Defect code per cell: a uniform draw against each die's cumulative per-kind rates."""
        n_cells = math.prod(self.config.floorplan.shape)
        n = self.config.n_devices
        rates = torch.stack([self._die_rates(kind, n_dies, generator) / n for kind in KINDS], dim=1)
        edges = torch.cumsum(rates.to(torch.float64), dim=1).clamp(max=1.0).to(dtype)
        u = torch.rand((n_dies, n_cells), generator=generator, dtype=dtype)
        codes = torch.searchsorted(edges.contiguous(), u, right=True) + 1
        return torch.where(codes > len(KINDS), torch.zeros_like(codes), codes).to(torch.uint8)

    def _die_rates(self, kind, n_dies, generator):
        mean, shape = self.mean_counts[kind], self.count_shape[kind]
        if mean == 0 or math.isinf(shape):
            return torch.full((n_dies,), mean, dtype=torch.float64)
        alpha = torch.full((n_dies,), shape, dtype=torch.float64)
        # torch._standard_gamma takes no generator: draw it through a seeded uniform instead.
        u = torch.rand(n_dies, generator=generator, dtype=torch.float64)
        return _gamma_ppf(alpha, u) * (mean / shape)

    def sample(self, n_dies, seed=None):
        """Sample an ensemble of ``n_dies`` new dies (``xarray.Dataset`` with a ``die`` dim)."""
        if not isinstance(n_dies, (int, np.integer)) or n_dies < 1:
            raise ParameterError(f"n_dies must be an int >= 1; got {n_dies!r}")
        g_p, g_ap, kinds = self.sample_maps(int(n_dies), torch_generator(seed), torch.float64)
        return die_dataset(self.config, g_p.numpy(), g_ap.numpy(), kinds.numpy(),
                           seed=seed_attr(seed), provenance="sampled from DefectStatistics")

    def __call__(self, n_dies, rng=None):
        return self.sample(n_dies, rng)


def _defect_tensors(device, kind, g_p, g_ap):
    if kind == "short":
        return torch.full_like(g_p, device.g_short_s), torch.full_like(g_ap, device.g_short_s)
    if kind == "open":
        return torch.full_like(g_p, device.g_open_s), torch.full_like(g_ap, device.g_open_s)
    if kind == "stuck_p":
        return g_p, g_p
    return g_ap, g_ap


def _gamma_ppf(alpha, u):
    """Inverse CDF of the standard gamma distribution (numpy/scipy-free fallback via bisection)."""
    lo, hi = torch.zeros_like(u), torch.full_like(u, 1.0) * (alpha * 20 + 50)
    for _ in range(80):
        mid = (lo + hi) / 2
        below = torch.special.gammainc(alpha, mid) < u
        lo, hi = torch.where(below, mid, lo), torch.where(below, hi, mid)
    return (lo + hi) / 2


def sample_dies(config, n_dies=36, *, short_rate=7.5e-4, open_rate=5e-5, stuck_p_rate=2.5e-5,
                stuck_ap_rate=2.5e-5, rate_shape=2.0, seed=None):
    """Sample an ensemble of dies with given per-device defect rates.

    Parameters
    ----------
    config : CrossbarConfig
    n_dies : int, default 36
    short_rate, open_rate, stuck_p_rate, stuck_ap_rate : float
        Mean fraction of devices per die with each defect. Defaults (on 20,000 devices): 15
        shorts, 1 open, 0.5 stuck-P and 0.5 stuck-AP per die on average -- "mostly shorts".
    rate_shape : float, default 2.0
        Gamma shape of the per-die rate (2.0: median about 12 shorts, a few dies above 35).
    seed : int or None

    Examples
    --------
    >>> from mtjexplore import paper_config
    >>> ens = sample_dies(paper_config(), 3, seed=1)
    >>> ens.attrs["seed"]
    1
    """
    n = config.n_devices
    rates = {"short": short_rate, "open": open_rate, "stuck_p": stuck_p_rate, "stuck_ap": stuck_ap_rate}
    for name, rate in rates.items():
        if not (isinstance(rate, (int, float)) and 0 <= rate < 0.5):
            raise ParameterError(f"{name}_rate must be a fraction of devices in [0, 0.5); got {rate!r}")
    stats = DefectStatistics(config, {k: r * n for k, r in rates.items()},
                             {k: rate_shape for k in KINDS})
    return stats.sample(n_dies, seed)
