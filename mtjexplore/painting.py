"""Editing a die's defects by hand or at random (the core behind the crossbar painter).

Everything here returns a *new* die through :func:`mtjexplore.die.set_defects`, so painted maps
follow the same device physics as sampled ones. The widgets in :mod:`mtjexplore.widgets` only
call these functions.
"""

from __future__ import annotations


import numpy as np

from ._check import check_number
from ._rng import as_generator, seed_attr
from .die import DEFECT_CODES, DEFECT_KINDS, NO_DEVICE, config_of, set_defects
from .errors import ParameterError

__all__ = ["RANDOM_KINDS", "draw_defect_cells", "clear_defects", "randomize_defects"]

#: Defect kinds that can be placed at random (every kind except ``"ok"``).
RANDOM_KINDS = DEFECT_KINDS[1:]


def _check_rates(rates):
    if not isinstance(rates, dict):
        raise ParameterError("rates must be a dict {kind: fraction of devices}, e.g. "
                             f"{{'short': 7.5e-4}}; got {type(rates).__name__}")
    unknown = sorted(set(rates) - set(RANDOM_KINDS))
    if unknown:
        raise ParameterError(f"rates has unknown kinds {unknown}; allowed: {', '.join(RANDOM_KINDS)}")
    for kind, rate in rates.items():
        check_number(f"rates[{kind!r}]", rate, low=0, high=0.5, high_open=True, hint="a fraction of devices")
    if sum(rates.values()) >= 1:
        raise ParameterError(f"the rates add up to {sum(rates.values())}; they must add up to < 1")
    return [float(rates.get(kind, 0.0)) for kind in RANDOM_KINDS]


def draw_defect_cells(die, rates, seed=None):
    """Choose which healthy devices of ``die`` turn defective, and with which kind.

    Every healthy device (code ``ok``) independently becomes kind ``k`` with probability
    ``rates[k]``; devices that already have a defect keep it.

    Parameters
    ----------
    die : xarray.Dataset
        One die (no ``die`` dimension).
    rates : dict of str to float
        Fraction of devices per kind (``short``, ``open``, ``stuck_p``, ``stuck_ap``); missing
        kinds are 0.
    seed : int, numpy.random.Generator or None

    Returns
    -------
    dict of str to (numpy.ndarray, numpy.ndarray)
        ``{kind: (rows, cols)}`` for every kind drawn at least once.

    Examples
    --------
    >>> from mtjexplore import ideal_die, paper_config
    >>> cells = draw_defect_cells(ideal_die(paper_config()), {"short": 1e-3}, seed=0)
    >>> sorted(cells), len(cells["short"][0]) > 0
    (['short'], True)
    """
    probabilities = _check_rates(rates)
    if "die" in die.dims:
        raise ParameterError("draw_defect_cells works on one die; select it first, e.g. ens.isel(die=3)")
    codes = np.asarray(die.defect.values)
    healthy = np.flatnonzero(codes.ravel() == DEFECT_CODES["ok"])
    u = as_generator(seed).random(healthy.size)
    drawn = np.searchsorted(np.cumsum(probabilities), u, side="right")
    out = {}
    for index, kind in enumerate(RANDOM_KINDS):
        flat = healthy[drawn == index]
        if flat.size:
            out[kind] = np.unravel_index(flat, codes.shape)
    return out


def clear_defects(die):
    """Return a copy of ``die`` without defects: every defective device is erased to nominal
    healthy conductances (:func:`~mtjexplore.die.set_defects` with ``"ok"``); healthy devices keep
    their own values.

    Examples
    --------
    >>> from mtjexplore import defect_counts, paper_config, sample_dies
    >>> die = clear_defects(sample_dies(paper_config(), 1, seed=0).isel(die=0))
    >>> int(defect_counts(die).sum())
    0
    """
    codes = np.asarray(die.defect.values)
    bad = (codes != DEFECT_CODES["ok"]) & (codes != NO_DEVICE)
    if not bad.any():
        return die.copy()
    rows, cols = np.nonzero(bad)
    return set_defects(die, rows, cols, "ok")


def randomize_defects(die, rates, seed=None, *, keep_existing=False):
    """Return a copy of ``die`` with defects at random devices.

    With ``keep_existing=False`` (default) the die's defects are first erased
    (:func:`clear_defects`), so a seed gives the same defect pattern whatever was painted before;
    with True the new defects are added to healthy devices and existing ones stay. Each healthy
    device independently gets kind ``k`` with probability ``rates[k]`` (see
    :func:`draw_defect_cells`); the conductance maps change through
    :func:`mtjexplore.die.set_defects`. Same seed, same die -> same result.

    Parameters
    ----------
    die : xarray.Dataset
        One die (no ``die`` dimension).
    rates : dict of str to float
        Fraction of devices per kind, e.g. ``{"short": 7.5e-4, "open": 5e-5}``.
    seed : int, numpy.random.Generator or None
    keep_existing : bool, default False
        Keep the die's present defects and add the new ones.

    Returns
    -------
    xarray.Dataset
        The new die; ``attrs["provenance"]`` records the randomization and its seed.

    Raises
    ------
    ParameterError
        For unknown kinds or rates outside [0, 0.5).

    Examples
    --------
    >>> from mtjexplore import defect_counts, ideal_die, paper_config
    >>> die = randomize_defects(ideal_die(paper_config()), {"short": 1e-3, "open": 2e-4}, seed=1)
    >>> counts = defect_counts(die)
    >>> int(counts.sel(kind="short")) > int(counts.sel(kind="open")) > 0
    True
    """
    config_of(die)
    _check_rates(rates)
    out = die if keep_existing else clear_defects(die)
    for kind, (rows, cols) in draw_defect_cells(out, rates, seed).items():
        out = set_defects(out, rows, cols, kind)
    out = out.copy() if out is die else out
    described = ", ".join(f"{k}={r:g}" for k, r in rates.items())
    out.attrs["provenance"] = (f"{die.attrs.get('provenance', '')} + random defects ({described}; "
                               f"seed {seed_attr(seed)})").lstrip(" +")
    return out
