"""``mtjexplore reproduce``: the 36-die study of Borders et al. (2024), headless.

Steps, all through the package's one forward model:

1. the software baseline (ideal devices);
2. the baseline mapped unchanged onto every die (``software``);
3. defect-aware fine-tuning on each die's own maps (``defect_aware``, one set of weights per die),
   in rounds until the die is within 1.5 % of the baseline on training images or stops improving
   (:func:`train_defect_aware_until`);
4. statistics-aware fine-tuning on dies sampled afresh from the statistics fitted to the
   ensemble (``statistics_aware``, one set of weights for all dies);
5. beyond the paper: the software and the statistics-aware weights *remapped* onto each die
   without retraining (``remapped``, ``statistics_aware_remapped``; see :mod:`mtjexplore.remap`);
6. every solution evaluated on every die, and the sensitivity sampling (the error distribution
   over dies freshly drawn from the statistics) of the two die-independent solutions.

With an output folder every step's result is its own file, written atomically, and a rerun
reuses the finished ones (:mod:`mtjexplore.study.layout`): an interrupted study resumes stage by
stage and ends with what an uninterrupted one writes. The study runs torch on one thread unless
told otherwise (the thread count changes the order of floating-point additions).

The training recipes come from :mod:`mtjexplore.recipes`; ``quick`` only shortens them (epochs,
images, samples) and goes through the same code. The step functions here (``train_software``,
``train_defect_aware``, ...) are also what :mod:`mtjexplore.study.sweep` runs in each cell.
"""

from __future__ import annotations

import importlib.util
import json
import sys
import zlib
from contextlib import contextmanager
from dataclasses import asdict, dataclass, fields
from pathlib import Path

import numpy as np
import torch
import xarray as xr

from .. import recipes
from ..datasets import load_mnist
from ..die import DEFECT_KINDS, as_ensemble, config_of, defect_counts
from ..errors import ParameterError
from ..evaluation import evaluate, sensitivity
from ..io import save
from ..measurements import read_measurements
from ..network import DEFAULT_THRESHOLD_MODE, check_threshold_mode
from ..remap import Remapping, remap
from ..reference import N_REFERENCE_DIES, reference_ensemble
from ..statistics import DefectStatistics
from ..training import Trainer
from .layout import (RESULTS, STAGES, STATISTICS, SUMMARY, WEIGHTS, MemoryStore, StudyFolder,
                     StudyMismatchError, dataset_hash, die_stage, weights_path)  # noqa: F401 (re-exported)

METHODS = ("software", "defect_aware", "statistics_aware", "remapped", "statistics_aware_remapped")
PAPER_GAP = 0.02  # the paper: statistics-aware mean error within 2 % of the software baseline
STRETCH_GAP = 0.01


# ---------------------------------------------------------------- settings and seeds
@dataclass(frozen=True)
class StudySettings:
    """How much work a study does: the full study or the quick one (same code paths).

    Parameters
    ----------
    n_train, n_test : int or None
        Training / test images (None: all of MNIST, 60,000 / 10,000).
    max_epochs : int or None
        Cap on every recipe's epochs (None: the recipes as they are).
    n_sensitivity : int
        Dies sampled from the statistics for the sensitivity histograms.
    n_remap_images : int
        Training images the remapping estimates damage on (2,000: ~0.3-3 s per die on 2 cores;
        all 60,000 measured at ~30 s per die, too slow for a 36-die study of two solutions).
    n_remap_subsets : int
        Independent draws of those images (1 to ``n_remap_subsets``): the remapped rows report
        the first draw, and the spread of the 36-die mean over all draws is their uncertainty
        from the choice of images (it was larger than the standard error over dies).
    threshold_mode : str
        What the hidden comparators' thresholds can be (:data:`mtjexplore.network.THRESHOLD_MODES`,
        default ``"half_integer"``): the software baseline is trained in it, and the fine-tuned
        methods keep it.
    """

    n_train: int | None = None
    n_test: int | None = None
    max_epochs: int | None = None
    n_sensitivity: int = 500
    n_remap_images: int = 2000
    n_remap_subsets: int = 3
    threshold_mode: str = DEFAULT_THRESHOLD_MODE

    def __post_init__(self):
        check_threshold_mode(self.threshold_mode)
        optional = ("n_train", "n_test", "max_epochs")
        for name in optional + ("n_sensitivity", "n_remap_images", "n_remap_subsets"):
            value = getattr(self, name)
            ok = isinstance(value, (int, np.integer)) and not isinstance(value, bool) and value >= 1
            if not (ok or (value is None and name in optional)):
                raise ParameterError(f"{name} must be an int >= 1{' or None' if name in optional else ''}; "
                                     f"got {value!r}")


def full_settings():
    """The study as published: all of MNIST, full recipes, 500 sensitivity samples."""
    return StudySettings()


def quick_settings():
    """A quick run for tests and demos: 5,120 / 2,000 images, 2 epochs, 8 samples.

    5,120 = 40 batches of 128: no short last batch to split among the statistics-aware dies.
    """
    return StudySettings(n_train=5120, n_test=2000, max_epochs=2, n_sensitivity=8, n_remap_images=1000,
                         n_remap_subsets=2)


def tiny_settings():
    """The smallest study, for tests of the machinery (resuming, the ``kill -9`` loop of
    ``scripts/kill_loop_reproduce.py``): 1,000 / 400 images, 1 epoch, 3 samples, 300 remapping
    images in 2 draws. Its numbers mean nothing; every stage and file of the study is there.
    """
    return StudySettings(n_train=1000, n_test=400, max_epochs=1, n_sensitivity=3, n_remap_images=300,
                         n_remap_subsets=2)


#: Named settings of ``mtjexplore reproduce`` (``--quick``, ``--tiny``; default ``full``).
PRESETS = {"full": full_settings, "quick": quick_settings, "tiny": tiny_settings}


def recipe(method, settings):
    """Trainer keyword arguments of ``method`` from :mod:`mtjexplore.recipes`, epochs capped."""
    makers = {"software": recipes.software_recipe, "defect_aware": recipes.defect_aware_recipe,
              "statistics_aware": recipes.statistics_aware_recipe}
    if method not in makers:
        raise ParameterError(f"method must be one of {', '.join(makers)} (the trained methods); got {method!r}")
    kwargs = makers[method]()
    if settings.max_epochs is not None:
        kwargs["epochs"] = min(kwargs.get("epochs", settings.max_epochs), settings.max_epochs)
    return kwargs


def derive_seed(seed, *keys):
    """A seed for one step, fixed by the run's ``seed`` and the step's coordinates.

    Keys may be ints, floats (rounded to 1e-9) or strings, so every cell of a sweep or step of a
    study gets its own stream whatever order the steps run in.

    Examples
    --------
    >>> derive_seed(0, "defect_aware", 3) == derive_seed(0, "defect_aware", 3)
    True
    >>> derive_seed(0, "defect_aware", 3) == derive_seed(0, "defect_aware", 4)
    False
    """
    def as_int(key):
        if isinstance(key, str):
            return zlib.crc32(key.encode())
        if isinstance(key, (float, np.floating)):
            return int(round(float(key) * 1e9)) % 2**63
        return int(key) % 2**63

    words = [as_int(seed)] + [as_int(k) for k in keys]
    return int(np.random.SeedSequence(words).generate_state(1, dtype=np.uint64)[0] >> np.uint64(2))


# ---------------------------------------------------------------- the measured dies
def measured_dies(n_dies=36, *, ensemble=None, die_seed=0):
    """The ensemble the study runs on and the statistics fitted to it.

    Parameters
    ----------
    n_dies : int, default 36
        The first ``n_dies`` dies of the ensemble are kept.
    ensemble : xarray.Dataset or path, optional
        Measured dies: a Dataset, or a ``.csv`` / NetCDF file read with
        :func:`mtjexplore.read_measurements`; default: the reference ensemble
        (:func:`mtjexplore.reference.reference_ensemble`).
    die_seed : int, default 0
        Seed of the reference ensemble.

    Returns
    -------
    dies : xarray.Dataset
    statistics : DefectStatistics
        Fitted to ``dies``.
    """
    if ensemble is None:
        # the first n of the 36 reference dies, so a short study runs on the full study's dies
        big = isinstance(n_dies, (int, np.integer)) and n_dies > N_REFERENCE_DIES
        dies = reference_ensemble(seed=die_seed, n_dies=int(n_dies) if big else N_REFERENCE_DIES)
    else:
        dies = as_ensemble(read_measurements(ensemble) if isinstance(ensemble, (str, Path)) else ensemble)
    available = dies.sizes["die"]
    if not isinstance(n_dies, (int, np.integer)) or isinstance(n_dies, bool) or not 1 <= n_dies <= available:
        raise ParameterError(f"n_dies must be an int in 1..{available} (the dies in the ensemble); "
                             f"got {n_dies!r}")
    dies = dies.isel(die=slice(0, int(n_dies)))
    return dies, DefectStatistics.fit(dies)


# ---------------------------------------------------------------- study steps (shared with sweep)
def train_software(config, train, seed, settings, callback=None):
    """Software baseline weights (ideal devices)."""
    kwargs = recipe("software", settings)
    return Trainer(config, method="software", seed=seed, threshold_mode=settings.threshold_mode,
                   **kwargs).fit(train, callback=callback).weights_


def train_defect_aware(software, die, train, seed, settings, callback=None):
    """Defect-aware fine-tuning of ``software`` weights on one die's maps."""
    kwargs = recipe("defect_aware", settings)
    trainer = Trainer(config_of(die), method="defect_aware", die=die, seed=seed, **kwargs)
    return trainer.fit(train, init=software, callback=callback).weights_


#: Defect-aware target: every die within this of the software baseline (the study's claim).
DEFECT_AWARE_TARGET = 0.015


def train_defect_aware_until(software, die, train, seed, settings, *, target=DEFECT_AWARE_TARGET,
                             max_rounds=4, min_gain=0.001, n_check=10_000, callback=None):
    """Defect-aware fine-tuning in rounds of the recipe until the die is within ``target``.

    Round 1 is :func:`train_defect_aware`. After each round the die's error is measured on
    ``n_check`` training images (seeded; the test set stays unseen) against the software weights
    on ideal devices on the same images; another round (the recipe again, from the last weights,
    its own seed) runs while the gap exceeds ``target``, the last round gained at least
    ``min_gain``, and fewer than ``max_rounds`` ran. A die it cannot bring within ``target`` is
    left with its best weights and reported by the study.

    Returns
    -------
    weights : xarray.Dataset
        With attrs ``rounds`` and ``check_gap`` (the final gap on the check images).
    """
    from ..evaluation import evaluate

    check = train.subset(min(n_check, len(train)), seed=derive_seed(seed, "check"))
    base = float(evaluate(software, None, check).error)
    weights = train_defect_aware(software, die, train, seed, settings, callback)
    gap = float(evaluate(weights, die, check).error[0]) - base
    rounds = 1
    while gap > target and rounds < max_rounds:
        more = Trainer(config_of(die), method="defect_aware", die=die, seed=derive_seed(seed, "round", rounds),
                       **recipe("defect_aware", settings)).fit(train, init=weights, callback=callback).weights_
        new_gap = float(evaluate(more, die, check).error[0]) - base
        rounds += 1
        gained = gap - new_gap
        if new_gap < gap:
            weights, gap = more, new_gap
        if gained < min_gain:
            break
    weights.attrs.update(rounds=rounds, check_gap=gap)
    return weights


def train_statistics_aware(software, statistics, train, seed, settings, callback=None, **overrides):
    """Statistics-aware fine-tuning of ``software`` weights on dies sampled from ``statistics``.

    ``overrides`` replace or add Trainer keyword arguments of the recipe (e.g. ``loss_cap=3``).
    """
    kwargs = {**recipe("statistics_aware", settings), **overrides}
    trainer = Trainer(statistics.config, method="statistics_aware", sampler=statistics, seed=seed,
                      **kwargs)
    return trainer.fit(train, init=software, callback=callback).weights_


def remap_seed(seed, subset=0):
    """Seed of the remapping's image draw number ``subset`` (0: the one the study reports)."""
    return derive_seed(seed, "remap") if subset == 0 else derive_seed(seed, "remap", subset)


def remap_dies(weights, dies, train, seed, settings, on_die=None, subset=0):
    """One :class:`~mtjexplore.remap.Remapping` of ``weights`` per die (``on_die()`` after each).

    ``subset`` picks the draw of the remapping images (:func:`remap_seed`).
    """
    out = []
    for k in range(dies.sizes["die"]):
        out.append(remap(weights, dies.isel(die=k), train, n_images=settings.n_remap_images,
                         seed=remap_seed(seed, subset)))
        if on_die is not None:
            on_die()
    return out


# ---------------------------------------------------------------- progress
class _Stages:
    """One tqdm bar per stage of the study; the files each stage reused, and its seconds.

    A stage's seconds are the summed computation times of its files (recorded in each file), so
    a resumed study reports what the work took, not what this run spent on it.
    """

    def __init__(self, enabled):
        self.enabled = enabled
        self.timings, self.reused = {}, {}
        self._bar, self._name, self._files = None, None, []

    def start(self, name, total, unit):
        from tqdm import tqdm

        self._bar = tqdm(total=total, desc=f"{name:<26}", unit=unit, disable=not self.enabled,
                         leave=True, dynamic_ncols=True)
        self._name, self._files = name, []
        self.reused[name] = 0
        return self._bar

    def step(self, n=1):
        self._bar.update(n)

    def callback(self, info):
        """Trainer callback: one tick per step (returns None: never stops training)."""
        self._bar.update(1)

    def on_file(self, relative):
        """A stage file of the current stage was written or reused."""
        self._files.append(relative)

    def on_reuse(self, relative):
        self.reused[self._name] = self.reused.get(self._name, 0) + 1

    def done(self, store):
        self._bar.close()
        self.timings[self._name] = round(sum(store.seconds.get(f, 0.0) for f in set(self._files)), 3)
        if self.reused.get(self._name) and self.enabled:
            print(f"{self._name:<26} reused {self.reused[self._name]} of {len(set(self._files))} "
                  f"finished stage files", file=sys.stderr, flush=True)


def _n_steps(method, settings, n_train):
    kwargs = recipe(method, settings)
    return kwargs.get("epochs", 20) * -(-n_train // kwargs.get("batch_size", 128))


class _Data:
    """MNIST as the settings ask for it, loaded on first use (a resumed study may need none)."""

    def __init__(self, settings):
        self.settings, self._pair = settings, None

    def _load(self):
        if self._pair is None:
            self._pair = load_mnist(n_train=self.settings.n_train, n_test=self.settings.n_test)
        return self._pair

    @property
    def train(self):
        return self._load()[0]

    @property
    def test(self):
        return self._load()[1]


def _stage(store, stages, relative, compute):
    """``store.dataset(relative, compute)`` counted in the current stage."""
    ds = store.dataset(relative, compute)
    stages.on_file(relative)
    return ds


# ---------------------------------------------------------------- the study, stage by stage
def _train_all(store, dies, stats, data, seed, settings, stages):
    """``{software, defect_aware: [per die], statistics_aware}`` weights, each a stage file."""
    n_dies, n = dies.sizes["die"], settings.n_train or 60_000
    stages.start("software baseline", _n_steps("software", settings, n), "step")
    software = _stage(store, stages, f"{WEIGHTS}/software.nc", lambda: train_software(
        config_of(dies), data.train, derive_seed(seed, "software"), settings, stages.callback))
    stages.done(store)
    stages.start("defect-aware (per die)", n_dies * _n_steps("defect_aware", settings, n), "step")
    per_die = []
    for k in range(n_dies):
        die_id = int(dies.die[k])
        per_die.append(_stage(store, stages, die_stage("defect_aware", die_id), lambda: train_defect_aware_until(
            software, dies.isel(die=[k]), data.train, derive_seed(seed, "defect_aware", die_id), settings,
            callback=stages.callback)))
    stages.done(store)
    stages.start("statistics-aware", _n_steps("statistics_aware", settings, n), "step")
    stat_aware = _stage(store, stages, f"{WEIGHTS}/statistics_aware.nc", lambda: train_statistics_aware(
        software, stats, data.train, derive_seed(seed, "statistics_aware"), settings, stages.callback))
    stages.done(store)
    return {"software": software, "defect_aware": per_die, "statistics_aware": stat_aware}


REMAPPED = {"remapped": "software", "statistics_aware_remapped": "statistics_aware"}


def _remap_all(store, weights, dies, data, seed, settings, stages):
    """``{method: [[Remapping per die] per image subset]}`` for the two remapped methods."""
    out = {}
    for method, base in REMAPPED.items():
        stages.start(f"remapping {base}", settings.n_remap_subsets * dies.sizes["die"], "die")
        out[method] = []
        for i in range(settings.n_remap_subsets):
            row = []
            for k in range(dies.sizes["die"]):
                ds = _stage(store, stages, die_stage(method, int(dies.die[k]), subset=i), lambda: remap(
                    weights[base], dies.isel(die=k), data.train, n_images=settings.n_remap_images,
                    seed=remap_seed(seed, i)).to_dataset())
                row.append(Remapping.from_dataset(ds))
                stages.step()
            out[method].append(row)
        stages.done(store)
    return out


def _remap_subset_errors(weights, remaps, dies, test):
    """``[remap_method, remap_subset, die]`` test errors of every image subset's placements."""
    return np.stack([np.stack([evaluate(weights[base], dies, test,
                                        floorplans=[r.floorplan for r in placements]).error.values
                               for placements in remaps[method]])
                     for method, base in REMAPPED.items()])


def _evaluate_method(method, weights, remaps, dies, test):
    """``error``, ``loss`` (die) and ``ideal_error``, ``ideal_loss`` of one method, a Dataset."""
    ideal = (np.nan, np.nan)
    if method == "defect_aware":
        res = xr.concat([evaluate(w, dies.isel(die=[k]), test) for k, w in enumerate(weights[method])],
                        dim="die")
    elif method in remaps:
        base = weights[REMAPPED[method]]
        res = evaluate(base, dies, test, floorplans=[r.floorplan for r in remaps[method][0]])
        on_ideal = evaluate(base, None, test)  # the same function as its base on ideal devices
        ideal = float(on_ideal.error), float(on_ideal.loss)
    else:
        res = evaluate(weights[method], dies, test)
        on_ideal = evaluate(weights[method], None, test)
        ideal = float(on_ideal.error), float(on_ideal.loss)
    return xr.Dataset({"error": ("die", res.error.values), "loss": ("die", res.loss.values),
                       "ideal_error": ideal[0], "ideal_loss": ideal[1]})


def _evaluate_all(store, weights, remaps, dies, data, stages):
    """``error``, ``loss`` ``[method, die]``, ``ideal`` ``[2, method]`` and the remap subsets'
    errors ``[remap_method, remap_subset, die]``; one stage file per method."""
    stages.start("evaluation", len(METHODS) + 1, "method")
    parts = []
    for method in METHODS:
        parts.append(_stage(store, stages, f"{STAGES}/evaluation/{method}.nc",
                            lambda: _evaluate_method(method, weights, remaps, dies, data.test)))
        stages.step()
    subsets = _stage(store, stages, f"{STAGES}/remap_subset_error.nc", lambda: xr.Dataset(
        {"remap_subset_error": (("remap_method", "remap_subset", "die"),
                                _remap_subset_errors(weights, remaps, dies, data.test))}))
    stages.step()
    stages.done(store)
    error = np.stack([p.error.values for p in parts])
    loss = np.stack([p.loss.values for p in parts])
    ideal = np.array([[float(p.ideal_error) for p in parts], [float(p.ideal_loss) for p in parts]])
    return error, loss, ideal, subsets.remap_subset_error.values


def _sensitivity_all(store, weights, stats, data, seed, settings, stages):
    """``sens_error``, ``sens_loss`` ``[method, sample]`` (NaN for the per-die methods)."""
    k = settings.n_sensitivity
    err, loss = np.full((len(METHODS), k), np.nan), np.full((len(METHODS), k), np.nan)
    stages.start("sensitivity sampling", 2 * k, "die")
    for method in ("software", "statistics_aware"):
        m = METHODS.index(method)
        # the same seed for both: the two solutions meet the same sampled dies
        res = _stage(store, stages, f"{STAGES}/sensitivity/{method}.nc", lambda: xr.Dataset(
            {name: ("sample", values.values) for name, values in
             sensitivity(weights[method], stats, k, data.test, seed=derive_seed(seed, "sensitivity"))
             [["error", "loss"]].items()}))
        err[m], loss[m] = res.error.values, res.loss.values
        stages.step(k)
    stages.done(store)
    return err, loss


# ---------------------------------------------------------------- the results Dataset
def die_coords(dies):
    """Per-die defect counts as coordinates: ``n_<kind>`` and ``n_<kind>_layer<l>`` (l = 1, 2).

    Examples
    --------
    >>> import mtjexplore as mx
    >>> coords = die_coords(mx.sample_dies(mx.paper_config(), 2, seed=0))
    >>> sorted(coords)[:3]
    ['n_defects', 'n_defects_layer1', 'n_defects_layer2']
    """
    dies = as_ensemble(dies)
    counts = defect_counts(dies)
    coords = {"n_defects": ("die", counts.sum("kind").values, {"long_name": "defective devices"})}
    coords.update({f"n_{k}": ("die", counts.sel(kind=k).values) for k in DEFECT_KINDS[1:]})
    layer_map = config_of(dies).floorplan.layer_map
    codes = dies.defect.values
    for layer in range(int(layer_map.max()) + 1):
        inside = codes[:, layer_map == layer]
        name = f"layer{layer + 1}"
        coords[f"n_defects_{name}"] = ("die", ((inside > 0) & (inside < 255)).sum(1),
                                       {"long_name": f"defective devices in {name}"})
        for code, kind in enumerate(DEFECT_KINDS[1:], start=1):
            coords[f"n_{kind}_{name}"] = ("die", (inside == code).sum(1))
    return coords


def _remap_vars(remaps, subset_errors):
    """The ``remapped`` placements per die as variables (slots and swaps), and the test errors of
    the placements found on each draw of the remapping images."""
    placements = remaps["remapped"][0]
    stack = lambda name: np.stack([getattr(r, name) for r in placements])  # noqa: E731
    return {"remap_hidden_slot": (("die", "hidden"), stack("hidden_slot"),
                                  {"long_name": "slot of each hidden neuron (remapped software weights)"}),
            "remap_hidden_swap": (("die", "hidden"), stack("hidden_swap")),
            "remap_output_slot": (("die", "output"), stack("output_slot")),
            "remap_output_swap": (("die", "output"), stack("output_swap")),
            "remap_subset_error": (("remap_method", "remap_subset", "die"), subset_errors,
                                   {"long_name": "test error of the placements found on each draw of "
                                                 "the remapping's training images", "units": "1"})}


def _results_dataset(dies, stats, arrays, run_attrs):
    from .._version import __version__

    error, loss, ideal, sens_error, sens_loss, remaps, subset_errors, rounds = arrays
    unit = {"units": "1"}
    data = {
        "defect_aware_rounds": (("die",), rounds, {"long_name": "rounds of defect-aware fine-tuning "
                                                                "(train_defect_aware_until)"}),
        "error": (("method", "die"), error, {"long_name": "misclassification error", **unit}),
        "loss": (("method", "die"), loss, {"long_name": "cross-entropy loss", **unit}),
        "ideal_error": (("method",), ideal[0], {"long_name": "error on ideal devices", **unit}),
        "ideal_loss": (("method",), ideal[1], {"long_name": "loss on ideal devices", **unit}),
        "sens_error": (("method", "sample"), sens_error,
                       {"long_name": "error on dies sampled from the statistics", **unit}),
        "sens_loss": (("method", "sample"), sens_loss,
                      {"long_name": "loss on dies sampled from the statistics", **unit}),
        **_remap_vars(remaps, subset_errors)}
    coords = {"method": list(METHODS), "die": dies.die.values, "remap_method": list(REMAPPED),
              "remap_subset": np.arange(subset_errors.shape[1]),
              "sample": np.arange(sens_error.shape[1]), **die_coords(dies)}
    attrs = {"kind": "study results", "config": config_of(dies).to_json(),
             "device": config_of(dies).device.describe(),
             "error_counting": "ties at the output: a k-way tie containing the label counts "
                               "(k-1)/k of an error (mtjexplore.network.tie_error)",
             "statistics": json.dumps({f.name: getattr(stats, f.name) for f in fields(stats)
                                       if f.name != "config"}),
             "recipes": json.dumps({m: recipe(m, run_attrs["settings"])
                                    for m in ("software", "defect_aware", "statistics_aware")}),
             "paper_gap": PAPER_GAP, "stretch_gap": STRETCH_GAP, "defect_aware_target": DEFECT_AWARE_TARGET,
             "mtjexplore_version": __version__,
             "dies": dies.attrs.get("provenance", ""),
             **{k: (json.dumps(v) if isinstance(v, dict) else v) for k, v in run_attrs.items()
                if k != "settings"},
             "settings": json.dumps(asdict(run_attrs["settings"]))}
    return xr.Dataset(data, coords=coords, attrs=attrs)


# ---------------------------------------------------------------- the API and the command
@contextmanager
def torch_threads(n_threads):
    """Run the block on ``n_threads`` torch threads (None: as set), restoring the setting after.

    The thread count changes the order of floating-point additions in torch's reductions, so
    the study's numbers depend on it (a last-bit change of a loss was measured between one and
    two threads); the study and every sweep cell run on one thread by default.
    """
    if n_threads is None:
        yield
        return
    if not isinstance(n_threads, (int, np.integer)) or isinstance(n_threads, bool) or n_threads < 1:
        raise ParameterError(f"n_threads must be an int >= 1 or None; got {n_threads!r}")
    before = torch.get_num_threads()
    torch.set_num_threads(int(n_threads))
    try:
        yield
    finally:
        torch.set_num_threads(before)


def reproduce(n_dies=36, seed=0, out=None, quick=False, progress=True, *, ensemble=None,
              die_seed=0, settings=None, overwrite=False, n_threads=1):
    """Run the whole study; return the results and write them to ``out`` when given.

    With ``out``, the study is resumable stage by stage (:mod:`mtjexplore.study.layout`): every
    stage (each trained weights, each die's defect-aware weights and placements, each method's
    evaluation and sensitivity, the results, each figure, the summary) is written atomically as
    its own file, and a rerun with the same settings reuses the finished files ("reused" in the
    progress) and computes the rest; the finished folder is what an uninterrupted run writes.

    Parameters
    ----------
    n_dies : int, default 36
        Dies of the ensemble the study runs on.
    seed : int, default 0
        Seed of every training, remapping and sampling step (each step derives its own).
    out : str or os.PathLike, optional
        Folder for ``results.nc``, the weights, the figures and ``summary.md`` (created); see
        :mod:`mtjexplore.study.layout` for its files.
    quick : bool, default False
        :func:`quick_settings` instead of :func:`full_settings` (ignored when ``settings`` given).
    progress : bool, default True
        Show a progress bar per stage (and how many finished files each stage reused).
    ensemble : xarray.Dataset or path, optional
        Measured dies to use instead of the reference ensemble.
    die_seed : int, default 0
        Seed of the reference ensemble.
    settings : StudySettings, optional
    overwrite : bool, default False
        Delete the study files in ``out`` first and start over (needed when ``out`` holds a
        study of other settings).
    n_threads : int or None, default 1
        Torch threads the study runs on (restored after). One thread makes the numbers the
        same on every machine, whatever its core count (:func:`torch_threads`); None leaves
        torch's setting.

    Returns
    -------
    xarray.Dataset
        ``error(method, die)``, ``loss(method, die)``, ``ideal_error(method)``,
        ``sens_error(method, sample)``, the remapped placements, per-die (and per-layer) defect
        counts as coords; attrs record config, statistics, recipes, seeds and timings (seconds
        each stage's computation took).

    Raises
    ------
    StudyMismatchError
        ``out`` holds a study of other settings (the message names the folder and the settings
        that differ) and ``overwrite`` is False.

    Examples
    --------
    >>> tiny = StudySettings(n_train=1000, n_test=400, max_epochs=1, n_sensitivity=2, n_remap_images=300)
    >>> res = reproduce(1, seed=0, settings=tiny, progress=False)
    >>> res.error.dims, res.sizes["method"]
    (('method', 'die'), 5)
    """
    settings = settings or (quick_settings() if quick else full_settings())
    with torch_threads(n_threads):
        return _reproduce(n_dies, seed, out, quick, progress, ensemble, die_seed, settings, overwrite)


def _reproduce(n_dies, seed, out, quick, progress, ensemble, die_seed, settings, overwrite):
    dies, stats = measured_dies(n_dies, ensemble=ensemble, die_seed=die_seed)
    stages = _Stages(progress)
    store = _open_store(out, study_fingerprint(dies, seed, die_seed, settings, quick), overwrite, stages)
    data = _Data(settings)
    if out is not None:
        store.dataset(STATISTICS, stats.to_dataset)
    weights = _train_all(store, dies, stats, data, seed, settings, stages)
    remaps = _remap_all(store, weights, dies, data, seed, settings, stages)
    error, loss, ideal, subset_errors = _evaluate_all(store, weights, remaps, dies, data, stages)
    sens_error, sens_loss = _sensitivity_all(store, weights, stats, data, seed, settings, stages)
    stages.timings["total"] = round(sum(stages.timings.values()), 3)
    rounds = np.array([w.attrs.get("rounds", 1) for w in weights["defect_aware"]], dtype=np.int64)

    def results():
        run_attrs = {"seed": int(seed), "die_seed": int(die_seed), "quick": int(bool(quick)),
                     "n_train": len(data.train), "n_test": len(data.test), "timings_s": stages.timings,
                     "settings": settings}
        return _results_dataset(dies, stats, (error, loss, ideal, sens_error, sens_loss, remaps,
                                              subset_errors, rounds), run_attrs)

    results = store.dataset(RESULTS, results)
    if out is not None:
        _write_finals(store, results, weights)
    return results


def study_fingerprint(dies, seed, die_seed, settings, quick):
    """The settings a study folder's files must share to be reused (:mod:`.layout`'s manifest).

    The code itself is represented by the package version only: after changing the code, start
    over with ``overwrite=True`` (``scripts/regenerate_results.sh`` does).
    """
    from .._version import __version__

    return {"mtjexplore_version": __version__, "seed": int(seed), "die_seed": int(die_seed), "quick": int(bool(quick)),
            "settings": asdict(settings), "n_dies": int(dies.sizes["die"]),
            "dies_hash": dataset_hash(dies), "config": json.loads(config_of(dies).to_json()),
            "recipes": {m: recipe(m, settings) for m in ("software", "defect_aware", "statistics_aware")}}


def _open_store(out, fingerprint, overwrite, stages):
    if out is None:
        return MemoryStore()
    from .report import FIGURES

    return StudyFolder(out, fingerprint, overwrite=overwrite, figures=FIGURES, on_reuse=stages.on_reuse)


def _per_die_weights(parts, dies):
    """One Dataset of the per-die weights; each die's ``scale``, ``seed``, ``rounds`` as variables.

    ``xr.concat`` keeps only the first die's attributes, so the per-die values are variables and
    the attributes ``scale`` and ``seed`` are dropped (``evaluate`` on ``ds.isel(die=k)`` needs
    ``.assign_attrs(scale=float(ds.scale[k]))``).
    """
    per_die = xr.concat(parts, dim="die", combine_attrs="drop_conflicts").assign_coords(die=dies)
    for name in ("scale", "seed", "rounds", "check_gap"):
        values = [p.attrs.get(name, np.nan) for p in parts]
        per_die[name] = ("die", np.asarray(values))
        per_die.attrs.pop(name, None)
    per_die.attrs["note"] = ("per-die weights: scale, seed, rounds and check_gap are variables; "
                             "for die k use ds.isel(die=k).assign_attrs(scale=float(ds.scale[k]))")
    return per_die


def _write_finals(store, results, weights):
    """The per-die weights file, the figures and the summary: each written once, atomically."""
    from . import report

    store.dataset(f"{WEIGHTS}/defect_aware.nc",
                  lambda: _per_die_weights(weights["defect_aware"], results.die.values))
    figures, drawn = {}, False
    if importlib.util.find_spec("matplotlib") is not None:
        for name in report.FIGURES:
            figures[name], reused = store.file(f"{name}.png",
                                               lambda tmp: report.save_figure(results, name, tmp))
            drawn = drawn or not reused
    # a summary written before the figures existed (no matplotlib then) is written again
    store.file(SUMMARY, lambda tmp: Path(tmp).write_text(report.summary_markdown(results, figures),
                                                         encoding="utf-8"), replace=drawn)


def write_outputs(results, weights, folder, *, statistics=None, overwrite=False):
    """Write ``results.nc``, ``weights/*.nc``, ``statistics.nc``, the PNG figures and
    ``summary.md`` into ``folder`` (the layout of :mod:`.layout`), each file atomically.

    For results computed in memory (``reproduce(out=None)``); ``reproduce(out=...)`` writes the
    same files itself, stage by stage. Returns the dict of written paths (figures only when
    matplotlib is installed).
    """
    from . import report

    folder = Path(folder)
    (folder / WEIGHTS).mkdir(parents=True, exist_ok=True)
    paths = {"results": save(results, folder / RESULTS, overwrite=overwrite)}
    per_die = _per_die_weights(weights["defect_aware"], results.die.values)
    for name, ds in (("software", weights["software"]), ("statistics_aware", weights["statistics_aware"]),
                     ("defect_aware", per_die)):
        paths[f"weights_{name}"] = save(ds, weights_path(folder, name), overwrite=True)
    if statistics is not None:
        paths["statistics"] = save(statistics.to_dataset(), folder / STATISTICS, overwrite=True)
    try:
        figures = report.save_figures(results, folder)
    except ImportError:
        figures = {}
    paths.update(figures)
    paths["summary"] = report.write_summary(results, folder / SUMMARY, figures=figures)
    return paths
