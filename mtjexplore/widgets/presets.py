"""One-click scenarios for the apps, each a call into the core (no device physics here).

* :data:`PRESETS` -- name -> (button label, one-line explanation).
* :func:`preset_die` -- the die a preset gives, made by :mod:`mtjexplore.painting`,
  :func:`mtjexplore.die.set_defects` and :class:`mtjexplore.DefectStatistics`.
* :func:`config_with_read_path` / :func:`read_path_note` -- the read-path (series) resistance,
  which decides how hard a short pulls (:meth:`mtjexplore.config.DeviceParams.describe`).

Examples
--------
>>> from mtjexplore import paper_config, sample_dies
>>> ens = sample_dies(paper_config(), 3, seed=0)
>>> loaded = ens.isel(die=0)
>>> die, note = preset_die("output_short", loaded, ens)
>>> int((die.defect.values == 1).sum() - (loaded.defect.values == 1).sum()), note.split(":")[0]
(1, 'One short added in the output layer')
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from ..config import paper_config
from ..defects import DEFECTIVE_KINDS
from ..die import config_of, defect_counts, set_defects
from ..errors import ParameterError
from ..painting import clear_defects, randomize_defects
from ..reference import reference_statistics

#: Presets: name -> (button label, explanation shown after it is applied).
PRESETS = {
    "clean": ("Clean die", "Clean die: every defect of this die erased (device spread stays)."),
    "output_short": ("1 short, output layer",
                     "One short added in the output layer: the bias device of output 3 (always "
                     "on), so digit 3 gets extra current for every image."),
    "hidden_short": ("1 short, hidden layer",
                     "One short added in the hidden layer: the bias device of hidden neuron 3 "
                     "(always on); it pushes one of 90 neurons, and the others still vote."),
    "worst": ("Worst reference die", "The worst die of the reference ensemble (highest error of "
              "the first shipped weights; most shorts without weights)."),
    "shorts_1pct": ("1 % shorts", "1 % of this die's healthy devices shorted at random (about "
                    "200 of 20,000 added; the reference dies have about 0.075 %)."),
    "clustered": ("Clustered defects", "A die whose defects cluster in whole rows, columns or "
                  "blobs (80 % of them), with the reference defect rates."),
}
#: The bias devices the two single-short presets paint: (layer, neuron).
SINGLE_SHORTS = {"output_short": (1, 3), "hidden_short": (0, 3)}
#: Read-path resistances offered, ohm (the sourced range is about 0.75-4.5 kOhm; see DESIGN).
READ_PATH_CHOICES_OHM = (300.0, 750.0, 1800.0, 3000.0, 4500.0)


def preset_die(name, die, ensemble, *, seed=0, errors=None):
    """The die preset ``name`` gives, and the sentence explaining it.

    Parameters
    ----------
    name : str
        One of :data:`PRESETS`.
    die : xarray.Dataset
        The die loaded now: the single-short and 1 % presets add to its defects, the clean
        preset erases them.
    ensemble : xarray.Dataset
        The reference ensemble (for ``"worst"``).
    seed : int, default 0
        Seed of the random presets (``shorts_1pct``, ``clustered``).
    errors : array_like, optional
        Error per die of ``ensemble`` (``"worst"`` picks its largest; else the most shorts).

    Returns
    -------
    die : xarray.Dataset
    note : str
    """
    if name not in PRESETS:
        raise ParameterError(f"preset must be one of {', '.join(PRESETS)}; got {name!r}")
    note = PRESETS[name][1]
    if name == "worst":
        die_id = worst_die(ensemble, errors)
        return ensemble.sel(die=die_id), f"{note} It is die {die_id}."
    if name == "clustered":
        return clustered_die(config_of(die), seed), note
    if name in SINGLE_SHORTS:
        layer, neuron = SINGLE_SHORTS[name]
        fp = config_of(die).floorplan
        bias_row = fp.layer_shape(layer)[0] - 1
        return set_defects(die, *fp.position(layer, bias_row, neuron, "+"), "short"), note
    if name == "shorts_1pct":
        return randomize_defects(die, {"short": 0.01}, seed, keep_existing=True), note
    return clear_defects(die), note


def worst_die(ensemble, errors=None):
    """Die id with the largest ``errors`` (per die), or with the most shorts without errors."""
    ids = [int(d) for d in ensemble.die.values]
    if errors is not None and len(errors) == len(ids) and np.isfinite(errors).any():
        return ids[int(np.nanargmax(np.asarray(errors, dtype=float)))]
    shorts = defect_counts(ensemble).sel(kind="short").values
    return ids[int(np.argmax(shorts))]


def clustered_die(config, seed=0):
    """One die sampled from the reference statistics with clustered defect positions."""
    stats = dataclasses.replace(reference_statistics(config), spatial="clustered",
                                count_shape={k: math.inf for k in DEFECTIVE_KINDS})
    die = stats.sample(1, seed).isel(die=0).drop_vars("die", errors="ignore")
    die.attrs["label"] = f"clustered die (seed {seed})"
    return die


def config_with_read_path(config, r_series_ohm):
    """``config`` with another read-path (series) resistance, ohm."""
    config = paper_config() if config is None else config
    device = dataclasses.replace(config.device, r_series_ohm=float(r_series_ohm))
    return dataclasses.replace(config, device=device)


def read_path_note(config):
    """One line for people: the read path and how hard a short pulls (from the core)."""
    device = config.device
    return (f"read path {device.r_series_ohm:,.0f} Ω in series: a short passes "
            f"{device.short_to_weight_ratio:.1f} unit weights of current")
