"""The one forward model of the binary N-layer MTJ network, for ideal weights, one die or many.

Every synapse is a differential pair. With ``u = (1 + w) / 2`` (1 when the ``+`` device is
written P), the current difference of a pair is linear in the binary weight ``w``::

    G+ - G-  =  a + b * w,   b = ((g_p+ - g_ap+) + (g_p- - g_ap-)) / 2,   a = (g_ap+ - g_p-) + b

so a die enters the network as two coefficient tensors per layer, ``a`` and ``b``, in units of
the nominal unit weight ``G_P - G_AP`` (an ideal die gives ``a = 0``, ``b = 1`` exactly). A
defective device has ``g_p == g_ap``: it contributes to ``a`` only and passes no gradient to the
weight through ``b``. Hidden neurons are comparators (``h = 1`` when the column current exceeds
the threshold ``theta``); the output is the class with the largest current. Layers are given as
lists (:class:`~mtjexplore.weights.NetworkWeights`), any number of them; a two-layer network runs
exactly the floating-point operations it always did.

**Tiles.** A layer whose block spans several tiles in rows (see :mod:`mtjexplore.floorplan`) has
one partial column current per tile; the periphery adds them. That sum is the column sum over all
the layer's rows that ``x @ W`` computes, so the model needs no per-tile step (up to float
rounding, which the tests bound).

**Ties at the output.** On ideal devices every output current is an integer number of unit
weights, so several classes often carry exactly the largest current (about 5 % of the MNIST test
images for the baseline). ``argmax`` would then pick the first class, an advantage the hardware
does not have: a physical winner-take-all breaks an exact tie by noise. :func:`tie_error` is the
one place where the error is counted, and it counts a tie as the hardware would on average: an
image whose largest output is shared by ``k`` classes *including* the true label is ``(k - 1) / k``
of an error (the expected error of a uniformly random tie-break), and a tie not containing the
label is a full error. The result is deterministic (no random draw) and equals plain
``argmax`` counting whenever there is no tie, which on dies with device spread is practically
always.

**Threshold modes** (:data:`THRESHOLD_MODES`, issue 12): what the comparator circuit holds as
``theta``. Training keeps a continuous parameter per neuron; :func:`circuit_thresholds` maps it to
the circuit's values in the forward pass, and the weights file stores those values, so evaluation
sees exactly what the circuit holds.

* ``"half_integer"`` (default): ``theta = k + 1/2`` with integer ``k`` per neuron: ``|k|`` extra
  always-on device pairs in the column (written ``+1`` or ``-1``; a pair written alike passes 0)
  and one half-unit reference shared by the whole layer. Trained with straight-through rounding
  (``floor(t) + 1/2`` forward, identity backward). On ideal devices every column current is an
  integer, so any threshold in ``(k, k + 1)`` decides as ``k + 1/2``: nothing is lost there.
  The thresholds here are exact numbers in unit weights; the extra rows' own spread and defects
  are measured separately (``scripts/threshold_rows.py``, ``docs/results/threshold_rows``).
* ``"per_neuron"``: a continuous, trained threshold per comparator. A circuit needs a trimmed
  reference per column (a DAC or a trimmed current source each): 90 trims on the paper's die,
  none of them MTJs. Weights files without a ``threshold_mode`` attr (written before the modes
  existed) are per-neuron.
* ``"shared"``: one trained continuous reference per hidden layer, the same for all its
  comparators (one trimmed reference per layer).

**Why half_integer is the default.** It is what a circuit built of the die's own device pairs plus
one reference per layer holds (2-3 extra rows in the paper's layer 1, ``|k| <= 2-3``: 360-540
MTJs, 1.8-2.7 % of the die), written like the weights rather than trimmed, and retrained it costs
no more than the seed-to-seed spread (``docs/results/threshold_modes.md``, three training seeds).
``per_neuron`` needs a trimmed analog reference per column, and on ideal devices its continuous
values decide as ``floor(theta) + 1/2`` anyway.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from .die import check_dies, config_of
from .errors import ParameterError

__all__ = ["DEFAULT_THRESHOLD_MODE", "THRESHOLD_MODES", "DieCoefficients", "binarize_weights", "check_threshold_mode",
           "circuit_thresholds", "coefficients_from_maps", "comparator", "die_coefficients",
           "effective_weights", "evaluate_chunk", "forward", "pair_coefficients",
           "project_thresholds", "sample_coefficients", "tie_error", "with_bias"]

#: What a comparator's threshold can be (see the module docstring); the first is the default.
THRESHOLD_MODES = ("half_integer", "per_neuron", "shared")
#: The default threshold mode (what a circuit of device rows plus one reference per layer holds).
DEFAULT_THRESHOLD_MODE = THRESHOLD_MODES[0]


@dataclass
class DieCoefficients:
    """Per-layer ``(a, b)`` tensors of shape ``[n_dies, n_in, n_out]`` (unit-weight units)."""

    a: list
    b: list

    @property
    def n_dies(self):
        return self.a[0].shape[0]

    def effective(self, layer, w):
        """Effective weights ``a + b * w`` of a layer, ``[n_dies, n_in, n_out]``."""
        return torch.addcmul(self.a[layer], self.b[layer], w)

    def select(self, index):
        """Coefficients of a subset of dies (``index``: slice or index tensor)."""
        return DieCoefficients([t[index] for t in self.a], [t[index] for t in self.b])

    @property
    def device(self):
        return self.a[0].device

    def to(self, device=None, dtype=None):
        """The coefficients on ``device`` and/or as ``dtype`` (no copy when already there)."""
        return DieCoefficients([t.to(device=device, dtype=dtype) for t in self.a],
                               [t.to(device=device, dtype=dtype) for t in self.b])


@functools.lru_cache(maxsize=16)
def _pair_index(floorplan, layer):
    """Flat cell indices ``[2, n_in * n_out]`` of the ``+`` and ``-`` devices of a layer."""
    flat = floorplan.rows[layer] * floorplan.shape[1] + floorplan.cols[layer]
    return torch.as_tensor(flat.reshape(-1, 2).T.copy())


def pair_coefficients(gp_plus, ga_plus, gp_minus, ga_minus, unit):
    """``(a, b)`` in unit weights of differential pairs from their four conductances (see above)."""
    b = ((gp_plus - ga_plus) + (gp_minus - ga_minus)) / 2
    a = (ga_plus - gp_minus) + b
    return a / unit, b / unit


def coefficients_from_maps(g_p, g_ap, config, dtype=torch.float32, floorplan=None):
    """Build :class:`DieCoefficients` from map tensors ``[n_dies, n_rows, n_cols]`` in one go.

    ``floorplan`` (default ``config.floorplan``) says which devices hold which synapse, e.g. a
    remapped floorplan from :func:`mtjexplore.remap.remap`. The result is on the maps' device.
    """
    fp = config.floorplan if floorplan is None else floorplan
    unit = config.device.delta_g_s
    g_p, g_ap = g_p.reshape(g_p.shape[0], -1), g_ap.reshape(g_ap.shape[0], -1)
    a_all, b_all = [], []
    for layer in range(fp.n_layers):
        plus, minus = (t.to(g_p.device) for t in _pair_index(fp, layer))
        gp_plus, gp_minus = g_p.index_select(1, plus), g_p.index_select(1, minus)
        ga_plus, ga_minus = g_ap.index_select(1, plus), g_ap.index_select(1, minus)
        a, b = pair_coefficients(gp_plus, ga_plus, gp_minus, ga_minus, unit)
        shape = (g_p.shape[0],) + fp.layer_shape(layer)
        a_all.append(a.to(dtype).view(shape))
        b_all.append(b.to(dtype).view(shape))
    return DieCoefficients(a_all, b_all)


def die_coefficients(dies, dtype=torch.float32, floorplan=None, *, device=None):
    """:class:`DieCoefficients` of a die or an ensemble (``xarray.Dataset``), computed in float64.

    ``floorplan`` (default: the dies' configuration's) places the synapses on the maps. The
    coefficients are computed on the CPU (the same numbers on every device) and moved once to
    ``device`` (default: CPU).
    """
    config = config_of(check_dies(dies))
    shape = (-1,) + config.floorplan.shape
    g_p = torch.from_numpy(np.asarray(dies.g_p.values, dtype=np.float64).reshape(shape))
    g_ap = torch.from_numpy(np.asarray(dies.g_ap.values, dtype=np.float64).reshape(shape))
    return coefficients_from_maps(g_p, g_ap, config, dtype, floorplan).to(device)


def sample_coefficients(sampler, n_dies, generator, config, *, map_dtype=torch.float64,
                        device=None):
    """Coefficients of ``n_dies`` dies freshly drawn from ``sampler``, on ``device``.

    ``sampler`` is a :class:`~mtjexplore.statistics.DefectStatistics` (or anything with
    ``sample_maps(n, generator, dtype)``) or a callable ``f(n_dies, seed) -> Dataset``. The draw
    uses the CPU ``generator`` (the same dies for a seed on every device).
    """
    if hasattr(sampler, "sample_maps"):
        g_p, g_ap, _ = sampler.sample_maps(n_dies, generator, map_dtype)
        return coefficients_from_maps(g_p, g_ap, config).to(device)
    seed = int(torch.randint(0, 2**31 - 1, (1,), generator=generator))
    return die_coefficients(sampler(n_dies, seed), device=device)


class _SignSTE(torch.autograd.Function):
    @staticmethod
    def forward(ctx, latent):
        ctx.save_for_backward(latent)
        return torch.where(latent >= 0, 1.0, -1.0).to(latent.dtype)

    @staticmethod
    def backward(ctx, grad):
        (latent,) = ctx.saved_tensors
        return grad * (latent.abs() <= 1).to(grad.dtype)


class _StepSTE(torch.autograd.Function):
    """Comparator: forward ``z > 0``; backward a triangular surrogate of half-width ``width``."""

    @staticmethod
    def forward(ctx, z, width):
        ctx.save_for_backward(z)
        ctx.width = width
        return (z > 0).to(z.dtype)

    @staticmethod
    def backward(ctx, grad):
        (z,) = ctx.saved_tensors
        w = ctx.width
        return grad * torch.clamp(1 - z.abs() / w, min=0) / w, None


class _EffectiveSTE(torch.autograd.Function):
    """``a + b * sign(latent)`` with a straight-through gradient to ``latent`` (one node)."""

    @staticmethod
    def forward(ctx, latent, a, b):
        ctx.save_for_backward(latent, b)
        return torch.addcmul(a, b, torch.where(latent >= 0, 1.0, -1.0).to(latent.dtype))

    @staticmethod
    def backward(ctx, grad):
        latent, b = ctx.saved_tensors
        return (grad * b).sum(0) * (latent.abs() <= 1).to(grad.dtype), None, None


def effective_weights(latent, coeffs, layer):
    """Training: a layer's effective weights ``[n_dies, n_in, n_out]`` on dies, from latent weights."""
    return _EffectiveSTE.apply(latent, coeffs.a[layer], coeffs.b[layer])


def binarize_weights(latent):
    """``sign`` with a straight-through gradient (clipped to ``|latent| <= 1``)."""
    return _SignSTE.apply(latent)


def comparator(z, width):
    """Binary hidden activation with a straight-through surrogate gradient."""
    return _StepSTE.apply(z, width)


class _HalfIntegerSTE(torch.autograd.Function):
    """``floor(t) + 1/2`` forward, identity backward (straight-through rounding)."""

    @staticmethod
    def forward(ctx, t):
        return torch.floor(t) + 0.5

    @staticmethod
    def backward(ctx, grad):
        return grad


def check_threshold_mode(mode):
    """``mode`` if it is one of :data:`THRESHOLD_MODES`, else a ParameterError naming them."""
    if not isinstance(mode, str) or mode not in THRESHOLD_MODES:
        raise ParameterError(f"threshold_mode must be one of {', '.join(THRESHOLD_MODES)}; got {mode!r} "
                             "(see mtjexplore.network: what the comparator circuit holds)")
    return mode


def circuit_thresholds(thresholds, mode=DEFAULT_THRESHOLD_MODE):
    """The thresholds a comparator circuit of ``mode`` holds, from trained per-neuron values.

    Differentiable (training): ``"per_neuron"`` returns them unchanged (the very tensors);
    ``"half_integer"`` rounds each to ``floor(t) + 1/2`` with a straight-through gradient;
    ``"shared"`` replaces every layer's vector by its mean (one reference per layer; each
    neuron's parameter gets ``1 / n`` of the gradient). Idempotent on its own output up to the
    float rounding of a mean (:func:`project_thresholds` is exact).

    Examples
    --------
    >>> t = [torch.tensor([0.2, 1.7, -0.4])]
    >>> circuit_thresholds(t, "half_integer")[0].tolist()
    [0.5, 1.5, -0.5]
    >>> round(float(circuit_thresholds(t, "shared")[0][2]), 4)
    0.5
    """
    check_threshold_mode(mode)
    if mode == "per_neuron":
        return list(thresholds)
    if mode == "half_integer":
        return [_HalfIntegerSTE.apply(t) for t in thresholds]
    return [t.mean().expand_as(t) for t in thresholds]


@torch.no_grad()
def project_thresholds(thresholds, mode=DEFAULT_THRESHOLD_MODE):
    """Exact, idempotent version of :func:`circuit_thresholds` for stored thresholds (no gradient).

    ``"shared"`` keeps a vector whose entries are already equal (a saved file) as it is.
    """
    check_threshold_mode(mode)
    if mode == "per_neuron":
        return list(thresholds)
    return [t if mode == "shared" and t.numel() and bool((t == t.reshape(-1)[0]).all())
            else circuit_thresholds([t], mode)[0].clone() for t in thresholds]


def with_bias(x):
    """Append the always-on bias row input (a column of ones)."""
    return F.pad(x, (0, 1), value=1.0)


def forward(x, layers, thresholds, coeffs=None, *, width=None, temperature=0.0):
    """Output currents (unit-weight units) of the network.

    Parameters
    ----------
    x : torch.Tensor
        ``[n, n_inputs]`` 0/1 inputs, or ``[n_dies, n, n_inputs]`` (one batch per die).
    layers : sequence of torch.Tensor
        ``[n_in + 1, n_out]`` binary weights (+-1) of every layer, first to last (or, in
        training, effective weights ``[n_dies, n_in + 1, n_out]`` of dies).
    thresholds : sequence of torch.Tensor
        ``[n_out]`` comparator thresholds of every hidden layer.
    coeffs : DieCoefficients or None
        None for ideal devices; else the dies' coefficients, and the result has a leading die dim.
    width : float or None
        Surrogate-gradient half-width of the comparators (training only; default
        ``sqrt(n_in + 1)`` of each layer).
    temperature : float, default 0
        Training only: when > 0 the comparators are relaxed to ``sigmoid(z / temperature)``
        (annealed to 0 early in training, after which they are hard with a surrogate gradient).

    Returns
    -------
    torch.Tensor
        ``[n, n_outputs]`` (ideal) or ``[n_dies, n, n_outputs]``.
    """
    a = x
    for layer, w in enumerate(layers):
        x1 = with_bias(a)
        z = x1 @ w if coeffs is None else torch.matmul(x1, coeffs.effective(layer, w))
        if layer == len(layers) - 1:
            return z
        z = z - thresholds[layer]
        if temperature > 0:
            a = torch.sigmoid(z / temperature)
        else:
            a = comparator(z, width or float(w.shape[-2]) ** 0.5)


def tie_error(outputs, y):
    """Per-image error of winner-take-all outputs with exact ties counted as a random tie-break.

    Parameters
    ----------
    outputs : torch.Tensor
        ``[..., n, n_classes]`` output currents or logits (any positive scaling of them).
    y : torch.Tensor
        ``[n]`` (or broadcastable to ``outputs.shape[:-1]``) true labels, int64.

    Returns
    -------
    torch.Tensor
        ``[..., n]`` float64: 0 when the label alone has the largest output; ``(k - 1) / k`` when
        the largest output is shared exactly by ``k`` classes, the label among them (the expected
        error of a uniformly random tie-break, as the noise of a physical winner-take-all would
        break it); 1 when the label is not among the largest. See the module docstring.

    Examples
    --------
    >>> out = torch.tensor([[3., 1., 0.], [2., 2., 0.], [2., 2., 2.], [2., 2., 5.]])
    >>> tie_error(out, torch.tensor([0, 1, 2, 0])).tolist()
    [0.0, 0.5, 0.6666666666666666, 1.0]
    """
    top = outputs.amax(-1, keepdim=True)
    at_top = outputs == top
    k = at_top.sum(-1).to(torch.float64)
    label = y.expand(outputs.shape[:-1]).unsqueeze(-1)
    label_on_top = at_top.gather(-1, label).squeeze(-1)
    return torch.where(label_on_top, (k - 1) / k, torch.ones_like(k))


def evaluate_chunk(x1t, y, weights, coeffs, scale=None, *, predictions=False):
    """Errors and mean cross-entropy of every die in ``coeffs`` on all images.

    ``x1t`` is the ``[n_inputs + 1, n_images]`` input matrix (bias row included), transposed
    once by the caller; ``weights`` a :class:`~mtjexplore.weights.NetworkWeights` on the same
    device (``scale``, if given, overrides ``weights.scale``). Layer 1 of all dies is one GEMM,
    ``[W1_die0 | W1_die1 | ...]^T @ x1t``, the thresholds folded into the bias row; the
    comparators run in place on its output; every further layer is one batched product per
    chunk. Returns two ``[n_dies]`` tensors (error fraction, with ties counted by
    :func:`tie_error`; loss float64); with ``predictions=True`` also the ``[n_dies, n]`` predicted
    classes (the first of exactly tied outputs), from the same pass.
    """
    layers, thresholds = weights.layers, weights.thresholds
    scale = weights.scale if scale is None else scale
    n_dies, (n_in, n_hid) = coeffs.n_dies, coeffs.a[0].shape[1:]
    n = x1t.shape[1]
    w1_all = coeffs.effective(0, layers[0]).transpose(1, 2).reshape(n_dies * n_hid, n_in)
    w1_all[:, -1] -= thresholds[0].repeat(n_dies)  # the bias row carries -theta: z - theta in the GEMM
    h = torch.mm(w1_all, x1t).gt_(0).view(n_dies, n_hid, n)          # comparators: 1 if z > theta
    for layer in range(1, len(layers) - 1):                            # further hidden layers
        w_eff = coeffs.effective(layer, layers[layer]).transpose(1, 2)  # [n_dies, n_out, n_hid + 1]
        bias = w_eff[:, :, n_hid:] - thresholds[layer].view(1, -1, 1)
        h = torch.baddbmm(bias, w_eff[:, :, :n_hid], h).gt_(0)
        n_hid = h.shape[1]
    w2_eff = coeffs.effective(len(layers) - 1, layers[-1]).transpose(1, 2)  # [n_dies, n_out, n_hid + 1]
    logits = torch.baddbmm(w2_eff[:, :, n_hid:], w2_eff[:, :, :n_hid], h)  # [n_dies, n_out, n]
    logits = logits.transpose(1, 2).contiguous().mul_(scale)         # [n_dies, n, n_out]
    wrong = tie_error(logits, y).mean(1)
    top = logits.amax(2)
    log_norm = top + (logits - top.unsqueeze(2)).exp_().sum(2).log_()
    loss = (log_norm - logits.gather(2, y.expand(n_dies, n).unsqueeze(2)).squeeze(2)).mean(1)
    if predictions:
        return wrong, loss.to(torch.float64), logits.argmax(2)
    return wrong, loss.to(torch.float64)
