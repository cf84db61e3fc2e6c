"""Die yield: the fraction of dies whose error is at most a specification (one definition).

The study's figure, the ensemble view's slider and the study app's curves all use
:func:`die_yield`, so a die exactly at the specification counts the same everywhere.
"""

from __future__ import annotations

import numpy as np

__all__ = ["die_yield"]

_TOLERANCE = 1e-9  # relative: an error equal to the spec up to rounding (e.g. 8.25 % vs 0.0825 * 100)


def die_yield(errors, spec):
    """Fraction of dies with ``error <= spec``.

    Parameters
    ----------
    errors : array_like
        ``[..., n_dies]`` errors (any unit: fractions or percent, the same as ``spec``). A die
        without a result (NaN) counts as not meeting the specification.
    spec : float or array_like
        One specification, or ``[k]`` of them (a yield curve).

    Returns
    -------
    float or numpy.ndarray
        ``[...]`` for a scalar ``spec``, ``[..., k]`` for ``k`` specifications.

    Examples
    --------
    >>> die_yield([0.08, 0.09, 0.10, 0.12], 0.10)
    0.75
    >>> die_yield([[8.0, 9.0], [7.0, 12.0]], [8.5, 12.0]).tolist()
    [[0.5, 1.0], [0.5, 1.0]]
    """
    errors = np.asarray(errors, dtype=float)
    specs = np.atleast_1d(np.asarray(spec, dtype=float))
    limit = specs + _TOLERANCE * np.maximum(1.0, np.abs(specs))
    out = (errors[..., :, None] <= limit).mean(axis=-2)
    if np.ndim(spec) == 0:
        out = out[..., 0]
        return float(out) if out.ndim == 0 else out
    return out
