"""Evaluate trained weights on ideal devices, one die, an ensemble, or freshly sampled dies."""

from __future__ import annotations

import numpy as np
import torch
import xarray as xr

from ._check import check_device, check_int
from ._rng import seed_attr, torch_generator
from .datasets import ImageData
from .die import as_ensemble, config_of, defect_counts
from .errors import ParameterError
from .floorplan import Floorplan
from .network import DieCoefficients, die_coefficients, evaluate_chunk, sample_coefficients
from .weights import network_weights, weights_config

__all__ = ["evaluate", "evaluate_tensors", "sensitivity", "data_tensors", "ideal_coefficients"]


def data_tensors(data, n_inputs, *, device=None):
    """``(x1t, y)``: validated inputs ``[n_inputs + 1, n]`` (bias row included) and labels, on
    ``device`` (moved once)."""
    if not isinstance(data, ImageData):
        raise ParameterError(f"data must be an ImageData (from load_mnist); got {type(data).__name__}")
    if data.x.shape[1] != n_inputs:
        raise ParameterError(f"data has {data.x.shape[1]} inputs per image, the network {n_inputs}")
    x1 = torch.nn.functional.pad(torch.tensor(np.asarray(data.x), dtype=torch.float32), (0, 1), value=1.0)
    return (x1.T.contiguous().to(device),
            torch.tensor(np.asarray(data.y), dtype=torch.int64).to(device))


def ideal_coefficients(config, *, device=None):
    """Coefficients of one ideal die (``a = 0``, ``b = 1``)."""
    shapes = config.layer_shapes
    return DieCoefficients([torch.zeros((1,) + s, device=device) for s in shapes],
                           [torch.ones((1,) + s, device=device) for s in shapes])


IMAGE_BLOCK = 2048  # images per block: keeps a block's hidden currents in cache (see benchmarks/)


@torch.no_grad()
def evaluate_tensors(weights, coeffs, data, chunk_size=8, *, device=None):
    """Error and loss tensors ``[n_dies]`` (on the CPU) for precomputed coefficients (None:
    ideal devices).

    Dies go in chunks of ``chunk_size``, images in blocks of ``IMAGE_BLOCK``; the work runs on
    ``device`` (default: the coefficients' device, else CPU), where weights and images are moved
    once and each chunk of coefficients once.
    """
    config = weights_config(weights)
    device = check_device(device if device is not None or coeffs is None else coeffs.device)
    net = network_weights(weights, config, device=device)
    coeffs = ideal_coefficients(config, device=device) if coeffs is None else coeffs
    x1t, y = data_tensors(data, config.n_inputs, device=device)
    blocks = [(x1t[:, s:s + IMAGE_BLOCK].contiguous(), y[s:s + IMAGE_BLOCK])
              for s in range(0, len(y), IMAGE_BLOCK)]
    errors, losses = [], []
    for start in range(0, coeffs.n_dies, chunk_size):
        part = coeffs.select(slice(start, start + chunk_size)).to(device)
        sums = [evaluate_chunk(xb, yb, net, part) for xb, yb in blocks]
        errors.append(sum(e * len(yb) for (e, _), (_, yb) in zip(sums, blocks)) / len(y))
        losses.append(sum(l * len(yb) for (_, l), (_, yb) in zip(sums, blocks)) / len(y))
    return torch.cat(errors).cpu(), torch.cat(losses).cpu()


def _check_chunk(chunk_size):
    check_int("chunk_size", chunk_size, low=1, hint="dies per chunk")


def _floorplan_coefficients(dies, floorplans):
    """Coefficients of every die read through its own floorplan (one Floorplan, or one per die)."""
    n_dies = dies.sizes["die"]
    if isinstance(floorplans, Floorplan):
        fps = [floorplans] * n_dies
    else:
        fps = list(floorplans) if isinstance(floorplans, (list, tuple)) else []
    if len(fps) != n_dies or not all(isinstance(fp, Floorplan) for fp in fps):
        raise ParameterError(f"floorplans must be a Floorplan or a sequence of {n_dies} Floorplans "
                             f"(one per die); got {type(floorplans).__name__}"
                             + (f" of length {len(fps)}" if fps else ""))
    default = config_of(dies).floorplan
    need = (default.shape, [default.layer_shape(i) for i in range(default.n_layers)])
    for k, fp in enumerate(fps):
        got = (fp.shape, [fp.layer_shape(i) for i in range(fp.n_layers)])
        if got != need:
            raise ParameterError(f"floorplans[{k}] has (array shape, layer shapes) {got}; the dies "
                                 f"need {need}")
    parts = [die_coefficients(dies.isel(die=[k]), floorplan=fp) for k, fp in enumerate(fps)]
    n_layers = len(parts[0].a)
    return DieCoefficients([torch.cat([p.a[i] for p in parts]) for i in range(n_layers)],
                           [torch.cat([p.b[i] for p in parts]) for i in range(n_layers)])


def evaluate(weights, dies, data, *, chunk_size=8, floorplans=None, device=None):
    """Misclassification error and loss of ``weights`` on every die.

    The effective weights of a chunk of dies are built at once and all images go through each
    chunk in two large matrix products; memory is bounded by ``chunk_size`` dies at a time.

    Parameters
    ----------
    weights : xarray.Dataset
        Trained weights (``Trainer.weights_``).
    dies : xarray.Dataset or None
        A die, an ensemble (``die`` dim), or None for ideal devices.
    data : ImageData
    chunk_size : int, default 8
    floorplans : Floorplan or sequence of Floorplan, optional
        Where the synapses sit on each die when not at the configuration's default places: one
        floorplan for all dies or one per die (e.g. ``[r.floorplan for r in remappings]`` from
        :func:`mtjexplore.remap.remap`).
    device : torch.device or str, optional
        Where the products run (default CPU; e.g. ``"cuda"``). Coefficients are computed on the
        CPU in float64 and each chunk of dies moves once; results come back to the CPU.

    Returns
    -------
    xarray.Dataset
        ``error(die)`` (fraction), ``loss(die)`` (cross-entropy), defect counts per die as coords.

    Examples
    --------
    >>> import mtjexplore as mx
    >>> train, test = mx.load_mnist(n_train=2000, n_test=500)
    >>> w = mx.Trainer(mx.paper_config(), epochs=1, seed=0).fit(train).weights_
    >>> res = mx.evaluate(w, mx.sample_dies(mx.paper_config(), 3, seed=0), test)
    >>> res.error.dims
    ('die',)
    """
    _check_chunk(chunk_size)
    device = check_device(device)
    config = weights_config(weights)
    if dies is None:
        error, loss = evaluate_tensors(weights, None, data, device=device)
        return _result(error, loss, {"die": [-1]}, weights, "ideal devices").squeeze("die", drop=True)
    dies = as_ensemble(dies)
    if config_of(dies).layer_shapes != config.layer_shapes:
        raise ParameterError("the dies were made for a different network size than the weights")
    coeffs = die_coefficients(dies) if floorplans is None else _floorplan_coefficients(dies, floorplans)
    error, loss = evaluate_tensors(weights, coeffs, data, chunk_size, device=device)
    coords = {"die": dies.die.values}
    if "defect" in dies:
        counts = defect_counts(dies)
        coords["n_defects"] = ("die", counts.sum("kind").values)
        coords.update({f"n_{k}": ("die", counts.sel(kind=k).values) for k in counts.kind.values})
    return _result(error, loss, coords, weights, dies.attrs.get("provenance", ""))


def _result(error, loss, coords, weights, provenance):
    from ._version import __version__

    return xr.Dataset(
        {"error": (("die",), error.numpy(), {"long_name": "misclassification error", "units": "1"}),
         "loss": (("die",), loss.numpy(), {"long_name": "cross-entropy loss", "units": "1"})},
        coords=coords,
        attrs={"kind": "results", "method": weights.attrs.get("method", ""),
               "dies": provenance, "mtjexplore_version": __version__})


def sensitivity(weights, sampler, n_samples, data, *, seed=None, chunk_size=8, device=None):
    """Distribution of loss and error of ``weights`` over ``n_samples`` freshly sampled dies.

    The paper's "sampling the network loss function": how a solution fares on dies it has never
    seen, drawn from the same statistics. Dies are drawn on the CPU (the same dies for a seed on
    every device); the products run on ``device`` (default CPU).

    Returns
    -------
    xarray.Dataset
        ``error(sample)`` and ``loss(sample)``.
    """
    check_int("n_samples", n_samples, low=1)
    _check_chunk(chunk_size)
    device = check_device(device)
    generator = torch_generator(seed)
    errors, losses = [], []
    for start in range(0, n_samples, chunk_size):
        n = min(chunk_size, n_samples - start)
        coeffs = sample_coefficients(sampler, n, generator, getattr(sampler, "config", None))
        e, l = evaluate_tensors(weights, coeffs, data, chunk_size, device=device)
        errors.append(e)
        losses.append(l)
    out = _result(torch.cat(errors), torch.cat(losses), {"die": np.arange(n_samples)}, weights,
                  "sampled for sensitivity")
    out = out.rename({"die": "sample"})
    out.attrs["seed"] = seed_attr(seed)
    return out
