"""One place that turns the ``rng``/``seed`` arguments into generators."""

import numpy as np
import torch

from .errors import ParameterError


def as_generator(rng=None):
    """Return a ``numpy.random.Generator`` for an int seed, a Generator or None (fresh entropy)."""
    if isinstance(rng, np.random.Generator):
        return rng
    if rng is None or (isinstance(rng, (int, np.integer)) and not isinstance(rng, bool) and rng >= 0):
        return np.random.default_rng(rng)
    raise ParameterError(
        f"rng/seed must be a non-negative int, a numpy.random.Generator or None; got {rng!r}"
    )


def torch_generator(rng=None):
    """Return a ``torch.Generator`` seeded from ``rng`` (int, numpy Generator, torch Generator, None)."""
    if isinstance(rng, torch.Generator):
        return rng
    seed = int(as_generator(rng).integers(0, 2**63 - 1))
    return torch.Generator().manual_seed(seed)


def seed_attr(seed):
    """The value recorded in result attrs for a seed (-1 when none was given)."""
    return int(seed) if isinstance(seed, (int, np.integer)) else -1
