"""Trained binary weights: an ``xarray.Dataset`` on disk, a :class:`NetworkWeights` in the model.

The Dataset (what ``Trainer.fit`` produces, ``mx.save`` writes and ``evaluate`` takes) holds one
``int8`` ``+-1`` matrix per layer and one ``float32`` threshold vector per hidden layer; attrs
``config`` (the :class:`~mtjexplore.config.CrossbarConfig` as JSON), ``scale`` (output currents to
logits), ``method`` and ``seed``. Names:

* a two-layer network keeps the original names: ``w1 (input, hidden)``,
  ``w2 (hidden_in, output)``, ``theta (hidden)``;
* ``N`` layers: ``w1 .. wN``, layer ``k`` with dims ``(input | hidden{k-1}_in, hidden{k} | output)``,
  and thresholds ``theta1 .. theta{N-1}`` with dims ``(hidden{k},)``.

The last input row of every ``w`` is its bias row. Weights carry their threshold mode
(:data:`mtjexplore.network.THRESHOLD_MODES`) in attr ``threshold_mode`` (absent: ``"per_neuron"``,
so files written before the modes existed read as they always did); their ``theta`` already
holds what the circuit holds (``k + 1/2``, or one value per layer), and :func:`network_weights`
projects onto the mode again, so a hand-edited file cannot hold more. :func:`network_weights`
reads either layout into a :class:`NetworkWeights`, the one object the forward model, training,
evaluation and remapping pass around.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import xarray as xr

from .config import CrossbarConfig
from .errors import ParameterError

__all__ = ["NetworkWeights", "network_weights", "threshold_mode_of", "weights_config", "weights_dataset",
           "weight_names"]


@dataclass(frozen=True)
class NetworkWeights:
    """Binary weights, thresholds and output scale of an N-layer network as torch tensors.

    Parameters
    ----------
    layers : tuple of torch.Tensor
        ``[n_in + 1, n_out]`` ``+-1`` weights of every layer (last row: bias).
    thresholds : tuple of torch.Tensor
        ``[n_out]`` comparator thresholds of every hidden layer (one fewer than ``layers``).
    scale : float
        Factor from output currents (unit weights) to logits.

    Examples
    --------
    >>> w = NetworkWeights((torch.ones(3, 2), torch.ones(3, 2)), (torch.zeros(2),), 0.5)
    >>> w.n_layers, w.to("cpu").scale
    (2, 0.5)
    """

    layers: tuple
    thresholds: tuple
    scale: float

    def __post_init__(self):
        object.__setattr__(self, "layers", tuple(self.layers))
        object.__setattr__(self, "thresholds", tuple(self.thresholds))
        if len(self.thresholds) != len(self.layers) - 1:
            raise ParameterError(f"NetworkWeights needs one threshold vector per hidden layer: "
                                 f"{len(self.layers)} layers, {len(self.thresholds)} thresholds")

    @property
    def n_layers(self):
        return len(self.layers)

    @property
    def device(self):
        return self.layers[0].device

    def to(self, device=None, dtype=None):
        """The same weights on ``device`` and/or as ``dtype`` (no copy when already there)."""
        move = lambda t: t.to(device=device, dtype=dtype)  # noqa: E731
        return NetworkWeights(tuple(map(move, self.layers)), tuple(map(move, self.thresholds)),
                              self.scale)


def weight_names(n_layers):
    """``(weights, in_dims, out_dims, thresholds)`` variable and dim names for ``n_layers`` layers."""
    if n_layers == 2:
        return ["w1", "w2"], ["input", "hidden_in"], ["hidden", "output"], ["theta"]
    ins = ["input"] + [f"hidden{k}_in" for k in range(1, n_layers)]
    outs = [f"hidden{k}" for k in range(1, n_layers)] + ["output"]
    return ([f"w{k}" for k in range(1, n_layers + 1)], ins, outs,
            [f"theta{k}" for k in range(1, n_layers)])


def weights_dataset(config, layers, thresholds, scale, *, method, seed, threshold_mode=None):
    """Wrap ``+-1`` weight matrices (one per layer), thresholds (one per hidden layer) and the
    output scale into a Dataset (see the module docstring for the names; ``threshold_mode``,
    default :data:`~mtjexplore.network.DEFAULT_THRESHOLD_MODE`, goes to the attrs)."""
    from ._version import __version__
    from .network import DEFAULT_THRESHOLD_MODE, check_threshold_mode

    threshold_mode = check_threshold_mode(DEFAULT_THRESHOLD_MODE if threshold_mode is None else threshold_mode)
    names, ins, outs, thetas = weight_names(config.n_layers)
    data, coords = {}, {}
    for k, (name, d_in, d_out, w) in enumerate(zip(names, ins, outs, layers)):
        what = "input row" if k == 0 else f"{d_in} row"
        data[name] = ((d_in, d_out), np.asarray(w, np.int8),
                      {"long_name": f"layer-{k + 1} binary weights (last {what}: bias)", "units": "1"})
        coords[d_in], coords[d_out] = np.arange(np.shape(w)[0]), np.arange(np.shape(w)[1])
    for name, d_out, theta in zip(thetas, outs, thresholds):
        data[name] = ((d_out,), np.asarray(theta, np.float32),
                      {"long_name": "comparator threshold", "units": "unit weights (G_P - G_AP) x V_read"})
    order = [c for pair in zip(ins, outs) for c in pair]
    coords = {c: coords[c] for c in dict.fromkeys(order)}
    attrs = {"kind": "weights", "config": config.to_json(), "method": method,
             "scale": float(scale), "seed": int(seed), "mtjexplore_version": __version__,
             "threshold_mode": threshold_mode}
    return xr.Dataset(data, coords=coords, attrs=attrs)


def threshold_mode_of(weights):
    """The threshold mode weights were trained in (attr ``threshold_mode``; absent: ``"per_neuron"``,
    the only mode before the attr existed)."""
    from .network import check_threshold_mode

    return check_threshold_mode(weights.attrs.get("threshold_mode", "per_neuron"))


def _check_weights(weights):
    if not isinstance(weights, xr.Dataset) or "w1" not in weights.data_vars or "config" not in weights.attrs:
        raise ParameterError("weights must be the Dataset a Trainer produces (trainer.weights_) "
                             f"with w1, w2 and theta; got {type(weights).__name__}")


def network_weights(weights, config=None, *, device=None, dtype=torch.float32):
    """:class:`NetworkWeights` from a weights Dataset, validated against ``config``.

    Parameters
    ----------
    weights : xarray.Dataset
        Trained weights (``Trainer.weights_`` or a loaded file, either layout). Thresholds are
        projected onto the weights' ``threshold_mode`` (see the module docstring).
    config : CrossbarConfig, optional
        When given, the layer shapes must match it (a leading ``die`` dim, as in per-die
        weight files, then fails: select one die first).
    device : torch.device or str, optional
        Where the tensors go (default: CPU).
    dtype : torch.dtype, default torch.float32
    """
    _check_weights(weights)
    n_layers = (config or weights_config(weights)).n_layers
    names, _, _, thetas = weight_names(n_layers)
    missing = [n for n in names + thetas if n not in weights.data_vars]
    if missing:
        raise ParameterError(f"weights lack {', '.join(missing)} for a {n_layers}-layer network; "
                             "train with the same CrossbarConfig")
    if config is not None:
        expected = config.layer_shapes
        got = [tuple(weights[n].shape) for n in names]
        if got != expected:
            raise ParameterError(f"weights have layer shapes {got} but the dies' configuration needs "
                                 f"{expected}; train with the same CrossbarConfig")
    from .network import project_thresholds

    tensor = lambda n: torch.from_numpy(weights[n].values.astype(np.float32)).to(device, dtype)  # noqa: E731
    thresholds = project_thresholds([tensor(n) for n in thetas], threshold_mode_of(weights))
    return NetworkWeights(tuple(tensor(n) for n in names), tuple(thresholds),
                          float(weights.attrs.get("scale", 1.0)))


def weights_config(weights):
    """The :class:`CrossbarConfig` recorded in a weights Dataset."""
    _check_weights(weights)
    return CrossbarConfig.from_json(weights.attrs["config"])
