"""Trained binary weights as an ``xarray.Dataset`` (what Trainer.fit produces and evaluate takes)."""

from __future__ import annotations

import numpy as np
import torch
import xarray as xr

from .config import CrossbarConfig
from .errors import ParameterError


def weights_dataset(config, w1, w2, theta, scale, *, method, seed):
    """Wrap ``+-1`` weight matrices, thresholds and the output scale into a Dataset."""
    from ._version import __version__

    n_in, n_hid, n_out = config.n_inputs, config.n_hidden, config.n_outputs
    return xr.Dataset(
        {"w1": (("input", "hidden"), np.asarray(w1, np.int8),
                {"long_name": "layer-1 binary weights (last input row: bias)", "units": "1"}),
         "w2": (("hidden_in", "output"), np.asarray(w2, np.int8),
                {"long_name": "layer-2 binary weights (last hidden_in row: bias)", "units": "1"}),
         "theta": (("hidden",), np.asarray(theta, np.float32),
                   {"long_name": "comparator threshold", "units": "unit weights (G_P - G_AP) x V_read"})},
        coords={"input": np.arange(n_in + 1), "hidden": np.arange(n_hid),
                "hidden_in": np.arange(n_hid + 1), "output": np.arange(n_out)},
        attrs={"kind": "weights", "config": config.to_json(), "method": method,
               "scale": float(scale), "seed": int(seed), "mtjexplore_version": __version__})


def _check_weights(weights):
    if not isinstance(weights, xr.Dataset) or not {"w1", "w2", "theta"} <= set(weights.data_vars):
        raise ParameterError("weights must be the Dataset a Trainer produces (trainer.weights_) "
                             f"with w1, w2 and theta; got {type(weights).__name__}")


def weights_tensors(weights, config=None):
    """``(w1, w2, theta, scale)`` torch tensors from a weights Dataset, validated against ``config``."""
    _check_weights(weights)
    if config is not None:
        expected = [(config.n_inputs + 1, config.n_hidden), (config.n_hidden + 1, config.n_outputs)]
        got = [weights.w1.shape, weights.w2.shape]
        if [tuple(s) for s in got] != expected:
            raise ParameterError(f"weights have layer shapes {got} but the dies' configuration needs "
                                 f"{expected}; train with the same CrossbarConfig")
    w1 = torch.from_numpy(weights.w1.values.astype(np.float32))
    w2 = torch.from_numpy(weights.w2.values.astype(np.float32))
    theta = torch.from_numpy(weights.theta.values.astype(np.float32))
    return w1, w2, theta, float(weights.attrs.get("scale", 1.0))


def weights_config(weights):
    """The :class:`CrossbarConfig` recorded in a weights Dataset."""
    _check_weights(weights)
    return CrossbarConfig.from_json(weights.attrs["config"])
