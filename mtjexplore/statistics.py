"""Defect statistics of a population of dies: fit them to measured dies, sample new dies.

The model (assumptions, since the paper's measured maps are not public):

* Good devices: junction resistances log-normal around ``median_r_p_ohm`` / ``median_r_ap_ohm``
  (default: the config's ``R_P`` / ``R_AP``) with spreads ``spread_p`` / ``spread_ap`` (std of
  ``ln R``), independently per device; within one device ``ln R_P`` and ``ln R_AP`` have
  correlation ``spread_correlation`` (default: the config's ``device.spread_correlation``, 0.9;
  0: independent); the series resistance adds on top.
* Defect counts: dies differ. Each die draws its own rate for every kind from a gamma
  distribution (mean ``mean_counts[kind] / n_devices``, shape ``count_shape[kind]``; ``inf``
  means every die has the same rate), and each device is defective with that probability, so
  counts per die are close to negative binomial (variance ``mean + mean**2 / shape``): a median of
  a dozen shorts and a tail of dies with several times more, as on real wafers.
* Positions: ``spatial="independent"`` (default) places defects independently and uniformly over
  the devices. ``spatial="clustered"`` asks "what if defects cluster?": see
  :class:`DefectStatistics`.
* Defective devices: a short reads ``g_short_s`` and an open ``g_open_s`` in both states
  (measured values when fitted, else the config's); a stuck device reads its own P (stuck-P) or
  AP (stuck-AP) value in both states.

:meth:`DefectStatistics.fit` estimates all of this from an ensemble of (measured) dies.
"""

from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass

import numpy as np
import torch
import xarray as xr

from . import _files
from ._rng import seed_attr, torch_generator
from .config import CrossbarConfig
from .die import (DEFECT_CODES, DEFECT_KINDS, NO_DEVICE, as_ensemble, classify_maps, config_of,
                  defect_conductances, die_dataset)
from ._check import check_int, check_number
from .defects import REGISTRY
from .errors import DataFileError, MTJExploreError, ParameterError

__all__ = ["KINDS", "SPATIAL_MODELS", "CLUSTER_SHAPES", "DefectStatistics", "load_statistics",
           "measured_spread_correlation", "sample_dies"]

KINDS = DEFECT_KINDS[1:]
SPATIAL_MODELS = ("independent", "clustered")
CLUSTER_SHAPES = ("row", "col", "blob")
_OBJECT_TAG = "DefectStatistics"


def _number(name, value, low, high=math.inf, *, inclusive_high=False, allow_inf=False):
    """:func:`~mtjexplore._check.check_number` in ``[low, high)`` (``]`` with ``inclusive_high``)."""
    if math.isinf(high):
        return check_number(name, value, low=low, allow_inf=allow_inf and inclusive_high)
    return check_number(name, value, low=low, high=high, high_open=not inclusive_high, allow_inf=allow_inf)


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
        Log-normal spread (std of ``ln R``) of good devices' P / AP junction resistance; None
        takes ``config.device.spread``.
    spread_correlation : float or None
        Correlation of ``ln R_P`` and ``ln R_AP`` of one good device, in [-1, 1]; None takes
        ``config.device.spread_correlation`` (default 0.9, argued in :mod:`mtjexplore.config`;
        0: independent). Saved by :meth:`to_dataset` only when
        non-zero.
    median_r_p_ohm, median_r_ap_ohm : float or None
        Median junction resistance of good devices in P / AP, ohm (series resistance not
        included); None takes ``config.device.r_p_ohm`` / ``r_ap_ohm``.
    g_short_s, g_open_s : float or None
        Conductance a shorted / open device reads in both states, siemens (series resistance
        included); None takes ``config.device.g_short_s`` / ``g_open_s``.
    spatial : {"independent", "clustered"}, default "independent"
        Where defects sit on a die. ``"independent"``: every device equally likely.
        ``"clustered"``: each sampled die gets ``n_clusters`` clusters, each a whole physical
        row (``"row"``), a whole column (``"col"``) or the devices within
        ``cluster_radius_cells`` of a centre (``"blob"``), the shape drawn uniformly from
        ``cluster_shapes`` and the position uniformly over the devices. A device's defect
        probability is multiplied by ``(1 - cluster_fraction) + cluster_fraction * H``, where
        ``H`` counts the clusters covering the device, normalised to mean 1 over the die's
        devices. The expected count per die is unchanged (unless a probability would exceed 1
        inside a cluster and is clipped); a fraction ``cluster_fraction`` of the defects falls
        inside clusters. All kinds share the die's clusters.
    cluster_fraction : float, default 0.8
        Share of defects that fall inside clusters, in [0, 1] (clustered only).
    n_clusters : int, default 2
        Clusters per die (clustered only).
    cluster_radius_cells : float, default 2.0
        Radius of a ``"blob"`` cluster in cells (Euclidean, on the physical array).
    cluster_shapes : tuple of str, default ("row", "col", "blob")
        Cluster shapes to draw from.
    provenance : str, default ""
        Where the numbers come from (set by :meth:`fit` and the reference presets).

    Examples
    --------
    >>> from mtjexplore import paper_config
    >>> stats = DefectStatistics(paper_config(), {"short": 15})
    >>> ens = stats.sample(4, seed=0)
    >>> dict(ens.sizes)
    {'die': 4, 'row': 101, 'col': 200}
    >>> clustered = dataclasses.replace(stats, spatial="clustered", cluster_shapes=("row",))
    >>> clustered.sample(2, seed=0).defect.dims
    ('die', 'row', 'col')
    """

    config: CrossbarConfig
    mean_counts: dict = dataclasses.field(default_factory=lambda: {"short": 15.0})
    count_shape: dict = dataclasses.field(default_factory=dict)
    spread_p: float | None = None
    spread_ap: float | None = None
    spread_correlation: float | None = None
    median_r_p_ohm: float | None = None
    median_r_ap_ohm: float | None = None
    g_short_s: float | None = None
    g_open_s: float | None = None
    spatial: str = "independent"
    cluster_fraction: float = 0.8
    n_clusters: int = 2
    cluster_radius_cells: float = 2.0
    cluster_shapes: tuple = CLUSTER_SHAPES
    provenance: str = ""

    def __post_init__(self):
        if not isinstance(self.config, CrossbarConfig):
            raise ParameterError(f"config must be a CrossbarConfig; got {type(self.config).__name__}")
        self._check_counts()
        d = self.config.device
        defaults = {"spread_p": d.spread, "spread_ap": d.spread, "median_r_p_ohm": d.r_p_ohm,
                    "median_r_ap_ohm": d.r_ap_ohm, "g_short_s": d.g_short_s, "g_open_s": d.g_open_s}
        for name, default in defaults.items():
            value = getattr(self, name)
            value = default if value is None else value
            high = 1.0 if name.startswith("spread") else math.inf
            value = _number(name, value, 0.0, high)
            if name.startswith("median") and value <= 0:
                raise ParameterError(f"{name} must be > 0 ohm; got {value!r}")
            object.__setattr__(self, name, value)
        rho = d.spread_correlation if self.spread_correlation is None else self.spread_correlation
        object.__setattr__(self, "spread_correlation",
                           _number("spread_correlation", rho, -1.0, 1.0, inclusive_high=True))
        self._check_spatial()

    def _check_counts(self):
        for field in ("mean_counts", "count_shape"):
            given = getattr(self, field)
            if not isinstance(given, dict):
                raise ParameterError(f"{field} must be a dict kind -> number; got {given!r}")
            unknown = set(given) - set(KINDS)
            if unknown:
                raise ParameterError(f"{field} has unknown kinds {sorted(unknown)}; allowed: "
                                     f"{', '.join(KINDS)}")
        n = self.config.n_devices
        means = {k: _number(f"mean_counts[{k!r}]", self.mean_counts.get(k, 0.0), 0.0, n,
                            inclusive_high=True) for k in KINDS}
        shapes = {k: _number(f"count_shape[{k!r}]", self.count_shape.get(k, 2.0), 0.0,
                             allow_inf=True, inclusive_high=True) for k in KINDS}
        for k, v in shapes.items():
            if v <= 0:
                raise ParameterError(f"count_shape[{k!r}] must be > 0 (inf for equal rates); got {v}")
        if sum(means.values()) > 0.5 * n:
            raise ParameterError("the mean defect counts add up to more than half the devices")
        object.__setattr__(self, "mean_counts", means)
        object.__setattr__(self, "count_shape", shapes)

    def _check_spatial(self):
        if self.spatial not in SPATIAL_MODELS:
            raise ParameterError(f"spatial must be one of {', '.join(SPATIAL_MODELS)}; "
                                 f"got {self.spatial!r}")
        object.__setattr__(self, "cluster_fraction",
                           _number("cluster_fraction", self.cluster_fraction, 0.0, 1.0,
                                   inclusive_high=True))
        object.__setattr__(self, "cluster_radius_cells",
                           _number("cluster_radius_cells", self.cluster_radius_cells, 0.0))
        object.__setattr__(self, "n_clusters", check_int("n_clusters", self.n_clusters, low=1, high=1000))
        shapes = (self.cluster_shapes,) if isinstance(self.cluster_shapes, str) else self.cluster_shapes
        shapes = tuple(shapes) if isinstance(shapes, (tuple, list)) else None
        if not shapes or not set(shapes) <= set(CLUSTER_SHAPES) or len(set(shapes)) != len(shapes):
            raise ParameterError(f"cluster_shapes must be a non-empty tuple of distinct names from "
                                 f"{CLUSTER_SHAPES}; got {self.cluster_shapes!r}")
        object.__setattr__(self, "cluster_shapes", shapes)
        if not isinstance(self.provenance, str):
            raise ParameterError(f"provenance must be a str; got {self.provenance!r}")

    # ------------------------------------------------------------------ sampling
    def healthy_conductances(self, shape, generator, dtype=torch.float32):
        """``(g_p, g_ap)`` tensors of ``shape`` for good devices: log-normal junctions + series.

        ``ln R_P`` and ``ln R_AP`` of a device have correlation ``spread_correlation``
        (``z_ap = rho * z_p + sqrt(1 - rho^2) * z'``; with 0 the draws are those of independent
        states, bit for bit).
        """
        r_series = self.config.device.r_series_ohm
        z_p = torch.randn(shape, generator=generator, dtype=dtype)
        r_p = self.median_r_p_ohm * torch.exp(self.spread_p * z_p)
        z_ap = torch.randn(shape, generator=generator, dtype=dtype)
        rho = self.spread_correlation
        if rho != 0:
            z_ap = rho * z_p + math.sqrt(1.0 - rho * rho) * z_ap
        r_ap = self.median_r_ap_ohm * torch.exp(self.spread_ap * z_ap)
        return 1.0 / (r_p + r_series), 1.0 / (r_ap + r_series)

    def sample_maps(self, n_dies, generator, dtype=torch.float32, *, device=None):
        """Sample ``(g_p, g_ap, defect)`` tensors of shape ``[n_dies, n_rows, n_cols]``.

        The fast path used by statistics-aware training (called every step); :meth:`sample`
        wraps it in a Dataset. Vectorized over dies and devices. Drawn on the CPU with the CPU
        ``generator`` (the same dies for a seed on every device), then moved to ``device``
        (default: left on the CPU).
        """
        maps = self._sample_maps(n_dies, generator, dtype)
        return maps if device is None else tuple(t.to(device) for t in maps)

    def rescaled(self, config):
        """The same statistics for another network: per-device defect rates kept.

        ``mean_counts`` (defects per die) scale with the number of devices,
        ``config.n_devices / self.config.n_devices``; spreads, medians, defect conductances,
        count shapes and the spatial model stay as they are. Use it to train a bigger (or
        deeper) network with statistics measured on the paper's dies.

        Parameters
        ----------
        config : CrossbarConfig
            The network the statistics should describe (same devices, any size or tiling).

        Examples
        --------
        >>> from mtjexplore import CrossbarConfig, paper_config
        >>> s = DefectStatistics(paper_config(), {"short": 15})
        >>> big = s.rescaled(CrossbarConfig(layer_sizes=(196, 128, 64, 10), tile_shape=(101, 200)))
        >>> round(big.mean_counts["short"], 2), big.mean_counts["short"] / big.config.n_devices
        (51.18, 0.00075)
        """
        if not isinstance(config, CrossbarConfig):
            raise ParameterError(f"config must be a CrossbarConfig; got {type(config).__name__}")
        factor = config.n_devices / self.config.n_devices
        note = f"rescaled to {config.n_devices} devices from: {self.provenance or 'given values'}"
        return dataclasses.replace(self, config=config, provenance=note,
                                   mean_counts={k: v * factor for k, v in self.mean_counts.items()})

    def _sample_maps(self, n_dies, generator, dtype):
        fp = self.config.floorplan
        shape = (n_dies,) + fp.shape
        present = torch.as_tensor(fp.present)
        g_p, g_ap = self.healthy_conductances(shape, generator, dtype)
        kinds = self._draw_kinds(n_dies, generator, dtype).reshape(shape)
        for kind in KINDS:
            mask = kinds == DEFECT_CODES[kind]
            if mask.any():
                new_p, new_ap = defect_conductances(kind, g_p, g_ap, self.g_short_s, self.g_open_s)
                g_p, g_ap = torch.where(mask, new_p, g_p), torch.where(mask, new_ap, g_ap)
        kinds = torch.where(present, kinds, torch.full_like(kinds, NO_DEVICE))
        zero = torch.zeros((), dtype=dtype)
        return torch.where(present, g_p, zero), torch.where(present, g_ap, zero), kinds

    def _draw_kinds(self, n_dies, generator, dtype):
        """Defect code per cell: a uniform draw against each die's cumulative per-kind rates.

        Clustering divides the uniform draw by the cell's probability multiplier ``w``
        (``P(u / w < e) = min(e * w, 1)``).
        """
        n_cells = math.prod(self.config.floorplan.shape)
        n = self.config.n_devices
        rates = torch.stack([self._die_rates(kind, n_dies, generator) / n for kind in KINDS], dim=1)
        edges = torch.cumsum(rates.to(torch.float64), dim=1).clamp(max=1.0).to(dtype)
        weights = self._cluster_weights(n_dies, generator, dtype) if self.spatial == "clustered" else None
        u = torch.rand((n_dies, n_cells), generator=generator, dtype=dtype)
        if weights is not None:
            u = torch.where(weights > 0, u / weights, torch.full_like(u, math.inf))
        codes = torch.searchsorted(edges.contiguous(), u, right=True) + 1
        return torch.where(codes > len(KINDS), torch.zeros_like(codes), codes).to(torch.uint8)

    def _cluster_weights(self, n_dies, generator, dtype):
        """Per-cell probability multiplier ``[n_dies, n_cells]``, mean 1 over each die's devices."""
        fp = self.config.floorplan
        n_rows, n_cols = fp.shape
        present = torch.as_tensor(fp.present)
        device_cells = torch.nonzero(present.ravel()).squeeze(1)
        k = self.n_clusters
        centre = device_cells[torch.randint(len(device_cells), (n_dies, k), generator=generator)]
        which = torch.randint(len(self.cluster_shapes), (n_dies, k), generator=generator)
        dr = torch.arange(n_rows).view(1, 1, -1, 1) - (centre // n_cols)[..., None, None]
        dc = torch.arange(n_cols).view(1, 1, 1, -1) - (centre % n_cols)[..., None, None]
        masks = {"row": dr == 0, "col": dc == 0,
                 "blob": dr * dr + dc * dc <= self.cluster_radius_cells ** 2}
        hit = torch.zeros((n_dies, k, n_rows, n_cols), dtype=torch.bool)
        for index, name in enumerate(self.cluster_shapes):
            hit |= (which == index)[..., None, None] & masks[name]
        density = (hit.sum(1) * present).to(dtype)
        density = density * (present.sum() / density.sum((1, 2), keepdim=True))
        weights = (1.0 - self.cluster_fraction) + self.cluster_fraction * density
        return weights.reshape(n_dies, -1)

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
        n_dies = check_int("n_dies", n_dies, low=1)
        g_p, g_ap, kinds = self.sample_maps(n_dies, torch_generator(seed), torch.float64)
        return die_dataset(self.config, g_p.numpy(), g_ap.numpy(), kinds.numpy(),
                           seed=seed_attr(seed), provenance="sampled from DefectStatistics")

    def __call__(self, n_dies, rng=None):
        return self.sample(n_dies, rng)

    # ------------------------------------------------------------------ fitting
    @classmethod
    def fit(cls, ensemble, *, thresholds=None, fit_correlation=False, **options):
        """Estimate the statistics of an ensemble of (measured) dies.

        * Per-die counts of each defect kind (from the ``defect`` variable, or from classifying
          the maps when it is missing or ``thresholds`` is given) give ``mean_counts`` and, by the
          method of moments on ``variance = mean + mean**2 / shape``, ``count_shape``
          (``inf`` when the variance does not exceed the mean, or with one die).
        * Good devices give ``median_r_*_ohm = exp(mean ln R)`` and ``spread_* = std ln R`` of the
          junction resistance ``R = 1/g - r_series_ohm`` in each state.
        * Shorted / open devices give ``g_short_s`` / ``g_open_s`` (mean over both states;
          the config's value when the ensemble has none).
        * With ``fit_correlation=True``, ``spread_correlation`` is the measured correlation of
          ``ln R_P`` and ``ln R_AP`` over the good devices (:func:`measured_spread_correlation`);
          by default it is the config's (0), so studies fitted before it existed sample the
          same dies.

        Parameters
        ----------
        ensemble : xarray.Dataset
            A die or an ensemble (e.g. from :func:`mtjexplore.read_measurements`).
        thresholds : ClassifyThresholds, optional
            Reclassify the maps with these thresholds instead of using ``defect``.
        fit_correlation : bool, default False
            Fit ``spread_correlation`` too (see above).
        **options
            Other fields of the result, e.g. ``spatial="clustered"``.

        Returns
        -------
        DefectStatistics

        Examples
        --------
        >>> from mtjexplore import paper_config, sample_dies
        >>> stats = DefectStatistics.fit(sample_dies(paper_config(), 8, seed=0))
        >>> round(stats.spread_p, 3)
        0.05
        """
        ens = as_ensemble(ensemble)
        config = config_of(ens)
        present = config.floorplan.present
        g_p, g_ap = np.asarray(ens.g_p.values, float), np.asarray(ens.g_ap.values, float)
        if thresholds is not None or "defect" not in ens:
            codes = classify_maps(config.device, g_p, g_ap, present, thresholds)
        else:
            codes = np.asarray(ens.defect.values)
        codes = np.where(present, codes, NO_DEVICE)
        means, shapes = _fit_counts(codes)
        fitted = {"mean_counts": means, "count_shape": shapes,
                  **_fit_good(config, g_p, g_ap, codes == DEFECT_CODES["ok"]),
                  **_fit_defective(g_p, g_ap, codes),
                  **({"spread_correlation": _fit_correlation(config, g_p, g_ap, codes == DEFECT_CODES["ok"])}
                     if fit_correlation else {}),
                  "provenance": (f"fitted on {codes.shape[0]} dies"
                                 f" ({ens.attrs.get('provenance', 'unknown source')})")}
        return cls(config, **{**fitted, **options})

    # ------------------------------------------------------------------ persistence
    def to_dataset(self):
        """The statistics as an ``xarray.Dataset`` (what :func:`mtjexplore.save` writes).

        Examples
        --------
        >>> from mtjexplore import paper_config
        >>> s = DefectStatistics(paper_config(), {"short": 15})
        >>> DefectStatistics.from_dataset(s.to_dataset()) == s
        True
        """
        scalar = {"spread_p": ("1", "std of ln R_P of good devices"),
                  "spread_ap": ("1", "std of ln R_AP of good devices"),
                  "median_r_p_ohm": ("ohm", "median junction R_P of good devices"),
                  "median_r_ap_ohm": ("ohm", "median junction R_AP of good devices"),
                  "g_short_s": ("S", "conductance of a shorted device"),
                  "g_open_s": ("S", "conductance of an open device")}
        if self.spread_correlation != 0:  # files written before it existed stay identical
            scalar["spread_correlation"] = ("1", "correlation of ln R_P and ln R_AP of a good device")
        data = {name: ((), getattr(self, name), {"units": u, "long_name": text})
                for name, (u, text) in scalar.items()}
        data["mean_counts"] = (("kind",), [self.mean_counts[k] for k in KINDS],
                               {"units": "1", "long_name": "mean defective devices per die"})
        data["count_shape"] = (("kind",), [self.count_shape[k] for k in KINDS],
                               {"units": "1", "long_name": "gamma shape of the per-die defect "
                                                           "rate (inf: equal rates)"})
        from ._version import __version__

        attrs = {"mtjexplore_object": _OBJECT_TAG, "config": self.config.to_json(),
                 "spatial": self.spatial, "cluster_fraction": self.cluster_fraction,
                 "n_clusters": self.n_clusters, "cluster_radius_cells": self.cluster_radius_cells,
                 "cluster_shapes": " ".join(self.cluster_shapes), "provenance": self.provenance,
                 "mtjexplore_version": __version__}
        return xr.Dataset(data, coords={"kind": list(KINDS)}, attrs=attrs)

    @classmethod
    def from_dataset(cls, ds):
        """Inverse of :meth:`to_dataset`.

        Raises
        ------
        ParameterError
            ``ds`` does not hold DefectStatistics, or an attribute or variable is missing or
            malformed (the message names it).
        """
        if not isinstance(ds, xr.Dataset) or ds.attrs.get("mtjexplore_object") != _OBJECT_TAG:
            raise ParameterError("this Dataset does not hold DefectStatistics (attrs "
                                 "'mtjexplore_object' is not 'DefectStatistics'); write one with "
                                 "mx.save(stats, path)")
        config = _field(ds, "attribute", "config", CrossbarConfig.from_json)
        _files.check_config_size("DefectStatistics", config, _config_too_large,
                                 fix="fix the attribute or write the statistics again")
        kinds = _field(ds, "coordinate", "kind", _kinds)
        return cls(
            config,
            mean_counts=_field(ds, "variable", "mean_counts", lambda v: _by_kind(kinds, v)),
            count_shape=_field(ds, "variable", "count_shape", lambda v: _by_kind(kinds, v)),
            **{name: _field(ds, "variable", name, float) for name in _SCALARS},
            spread_correlation=(_field(ds, "variable", "spread_correlation", float)
                                if "spread_correlation" in ds.data_vars else 0.0),
            spatial=_field(ds, "attribute", "spatial", _text),
            cluster_fraction=_field(ds, "attribute", "cluster_fraction", float),
            n_clusters=_field(ds, "attribute", "n_clusters", _integer),
            cluster_radius_cells=_field(ds, "attribute", "cluster_radius_cells", float),
            cluster_shapes=_field(ds, "attribute", "cluster_shapes", lambda v: tuple(_text(v).split())),
            provenance=str(ds.attrs.get("provenance", "")))


_SCALARS = ("spread_p", "spread_ap", "median_r_p_ohm", "median_r_ap_ohm", "g_short_s", "g_open_s")
#: What a malformed attribute or variable can raise while it is converted.
_FIELD_ERRORS = (KeyError, TypeError, ValueError, AttributeError, IndexError, OverflowError,
                 RecursionError, json.JSONDecodeError, MTJExploreError)


def _field(ds, kind, name, convert):
    """``convert`` applied to attribute / variable / coordinate ``name``; a ParameterError naming it."""
    source = ds.attrs if kind == "attribute" else ds
    if name not in source:
        raise ParameterError(f"DefectStatistics {kind} {name!r} is missing")
    try:
        return convert(source[name])
    except _FIELD_ERRORS as exc:
        raise ParameterError(f"DefectStatistics {kind} {name!r} is malformed "
                             f"({type(exc).__name__}: {str(exc)[:200]})") from None


def _kinds(var):
    kinds = [str(k) for k in np.asarray(var.values).ravel()]
    if sorted(kinds) != sorted(KINDS):
        raise ValueError(f"expected the kinds {', '.join(KINDS)} once each; got {kinds}")
    return kinds


def _by_kind(kinds, var):
    values = [float(v) for v in np.asarray(var.values).ravel()]
    if len(values) != len(kinds):
        raise ValueError(f"{len(values)} values for {len(kinds)} kinds")
    return dict(zip(kinds, values))


def _text(value):
    if not isinstance(value, str):
        raise TypeError(f"expected text, got {type(value).__name__}")
    return value


def _integer(value):
    number = float(value)
    if not abs(number) < 2**31 or number != round(number):
        raise ValueError(f"expected an integer, got {value!r}")
    return int(number)


def _config_too_large(_where, problem, fix):
    return ParameterError(f"DefectStatistics {problem}; {fix}")


def _fit_counts(codes):
    """Method-of-moments mean count and gamma shape per kind from codes ``[die, row, col]``."""
    means, shapes = {}, {}
    for kind in KINDS:
        counts = (codes == DEFECT_CODES[kind]).sum((1, 2)).astype(float)
        mean = float(counts.mean())
        var = float(counts.var(ddof=1)) if len(counts) > 1 else 0.0
        means[kind] = mean
        shapes[kind] = mean * mean / (var - mean) if var > mean and mean > 0 else math.inf
    return means, shapes


def _fit_good(config, g_p, g_ap, good):
    """Median and log-normal spread of the good devices' junction resistance in each state."""
    if not good.any():
        raise ParameterError("cannot fit DefectStatistics: the ensemble has no good (ok) devices "
                             "to estimate the spread from")
    out = {}
    for state, g in (("p", g_p), ("ap", g_ap)):
        with np.errstate(divide="ignore", invalid="ignore"):
            log_r = np.log(1.0 / g[good] - config.device.r_series_ohm)
        log_r = log_r[np.isfinite(log_r)]
        if log_r.size == 0:
            raise ParameterError(f"cannot fit DefectStatistics: no good device has a finite "
                                 f"junction resistance in state {state.upper()}")
        out[f"median_r_{state}_ohm"] = float(np.exp(log_r.mean()))
        out[f"spread_{state}"] = float(log_r.std(ddof=1)) if log_r.size > 1 else 0.0
    return out


def _fit_correlation(config, g_p, g_ap, good):
    """Correlation of ``ln R_P`` and ``ln R_AP`` (junction only) over the good devices."""
    with np.errstate(divide="ignore", invalid="ignore"):
        log_p = np.log(1.0 / g_p[good] - config.device.r_series_ohm)
        log_ap = np.log(1.0 / g_ap[good] - config.device.r_series_ohm)
    ok = np.isfinite(log_p) & np.isfinite(log_ap)
    if ok.sum() < 3:
        raise ParameterError("cannot fit spread_correlation: fewer than 3 good devices with finite "
                             "junction resistances in both states")
    return float(np.clip(np.corrcoef(log_p[ok], log_ap[ok])[0, 1], -1.0, 1.0))


def measured_spread_correlation(ensemble):
    """Measured correlation of ``ln R_P`` and ``ln R_AP`` over the good devices of an ensemble.

    The junction resistance is ``1 / g - r_series_ohm`` of the ensemble's device; good devices
    are those its ``defect`` variable marks ``ok``.

    Examples
    --------
    >>> from mtjexplore import paper_config
    >>> round(measured_spread_correlation(DefectStatistics(paper_config()).sample(2, seed=0)), 2)
    0.9
    """
    ens = as_ensemble(ensemble)
    config = config_of(ens)
    present = config.floorplan.present
    g_p, g_ap = np.asarray(ens.g_p.values, float), np.asarray(ens.g_ap.values, float)
    codes = np.asarray(ens.defect.values) if "defect" in ens else classify_maps(config.device, g_p, g_ap, present)
    good = (codes == DEFECT_CODES["ok"]) & np.broadcast_to(present, codes.shape)
    return _fit_correlation(config, g_p, g_ap, good)


def _fit_defective(g_p, g_ap, codes):
    """Mean conductance of shorted and open devices (None: none seen, keep the config's)."""
    out = {}
    for kind in ("short", "open"):
        mask = codes == DEFECT_CODES[kind]
        out[f"g_{kind}_s"] = float((g_p[mask].mean() + g_ap[mask].mean()) / 2) if mask.any() else None
    return out


def load_statistics(path, *, max_bytes=None):
    """Read :class:`DefectStatistics` written by ``mx.save(stats, path)``.

    Parameters
    ----------
    path : str or os.PathLike
    max_bytes : int, optional
        Largest file accepted (default ``mtjexplore._files.MAX_INPUT_BYTES``, 1 GiB).

    Raises
    ------
    DataFileError
        If the file is missing, not a regular file, unreadable, or does not hold
        DefectStatistics; a malformed attribute or variable is named.

    Examples
    --------
    >>> import mtjexplore as mx, tempfile, os
    >>> s = DefectStatistics(mx.paper_config(), {"short": 15}, spatial="clustered")
    >>> p = mx.save(s, os.path.join(tempfile.mkdtemp(), "stats.nc"))
    >>> load_statistics(p) == s
    True
    """
    from .io import load

    ds = load(path, max_bytes=max_bytes)
    try:
        return DefectStatistics.from_dataset(ds)
    except ParameterError as exc:
        raise DataFileError(f"'{path}': {exc}; write the statistics again with mx.save(stats, path) "
                            "or fix the file") from None


def _gamma_ppf(alpha, u):
    """Inverse CDF of the standard gamma distribution (numpy/scipy-free fallback via bisection)."""
    lo, hi = torch.zeros_like(u), torch.full_like(u, 1.0) * (alpha * 20 + 50)
    for _ in range(80):
        mid = (lo + hi) / 2
        below = torch.special.gammainc(alpha, mid) < u
        lo, hi = torch.where(below, mid, lo), torch.where(below, hi, mid)
    return (lo + hi) / 2


def sample_dies(config, n_dies=36, *, rates=None, short_rate=None, open_rate=None, stuck_p_rate=None,
                stuck_ap_rate=None, rate_shape=2.0, seed=None):
    """Sample an ensemble of dies with given per-device defect rates.

    Parameters
    ----------
    config : CrossbarConfig
    n_dies : int, default 36
    rates : dict of str to float, optional
        Mean fraction of devices per die with each defect kind; kinds not given keep their
        reference rate (:attr:`mtjexplore.defects.DefectKind.reference_rate`; on 20,000 devices:
        15 shorts, 1 open, 0.5 stuck-P and 0.5 stuck-AP per die on average -- "mostly shorts").
    short_rate, open_rate, stuck_p_rate, stuck_ap_rate : float, optional
        The same for one kind each (kept for existing code; override ``rates``).
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
    given = {"short": short_rate, "open": open_rate, "stuck_p": stuck_p_rate, "stuck_ap": stuck_ap_rate}
    if rates is not None and not isinstance(rates, dict):
        raise ParameterError(f"rates must be a dict {{kind: fraction of devices}}; got {type(rates).__name__}")
    unknown = sorted(set(rates or {}) - set(KINDS))
    if unknown:
        raise ParameterError(f"rates has unknown defect kinds {unknown}; known: {', '.join(KINDS)}")
    rates = {**{k.name: k.reference_rate for k in REGISTRY[1:]}, **(rates or {}),
             **{k: v for k, v in given.items() if v is not None}}
    for name, rate in rates.items():
        check_number(f"rate of {name!r}", rate, low=0, high=0.5, high_open=True,
                     hint="a fraction of devices")
    stats = DefectStatistics(config, {k: r * n for k, r in rates.items()},
                             {k: rate_shape for k in KINDS})
    return stats.sample(n_dies, seed)
