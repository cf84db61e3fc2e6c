"""Remapping: place a trained network's neurons on a die so that its known defects hurt least.

No retraining: the weights stay as they are; what changes is *where* each neuron sits.

* Every hidden neuron ``j`` gets a physical *slot* ``p``: the layer-1 column pair ``p`` computes
  its current, and its comparator drives layer-2 row ``p`` (a hidden neuron is a column pair in
  layer 1 wired to a row in layer 2, so both move together). The input rows and the two bias rows
  stay where they are.
* Every output neuron ``k`` gets a layer-2 column pair ``q``.
* For every pair, which of its two columns is ``+`` may be exchanged (``swap``). This assumes the
  read-out can reverse the sign of a pair's current difference (one polarity bit per pair in the
  periphery); in the model it is exactly a floorplan whose ``+`` and ``-`` devices are exchanged.

The result is a :class:`Remapping` whose :attr:`~Remapping.floorplan` says where every synapse of
the unchanged weights lives on the die; ``mtjexplore.evaluate(weights, die, data,
floorplans=remapping.floorplan)`` evaluates it, since a die's maps are physical and the floorplan
is what reads them.

Algorithm (block-coordinate descent on a separable estimate of the loss, each block solved exactly
as a linear assignment):

1. From the die's maps, the coefficients ``(a, b)`` of every physical pair, as placed and swapped.
2. *Hidden step* (outputs fixed): ``cost[j, p]`` = increase of the mean cross-entropy on the
   images when hidden neuron ``j`` alone moves onto slot ``p`` (its layer-1 column read through the
   die with the better orientation, and its layer-2 row through the die's row ``p``), everything
   else ideal. A short in layer 2 then lands on the row of a neuron that rarely fires, a short in
   layer 1 on a column where it flips the comparator least.
3. *Output step* (hidden fixed): ``cost[k, q]`` = increase of the loss when output ``k`` alone is
   read from column pair ``q`` (better orientation), the hidden activations taken on the die.
4. Solve each step with the Hungarian algorithm (:func:`linear_assignment`), alternate for
   ``n_rounds``, and keep the placement (identity included) with the lowest loss of the whole die
   network on the images.

The ideal network and the die network at a placement are run by the one forward model,
:func:`mtjexplore.network.forward` (on the placement's effective weights); the cost tables are
this module's own estimates. In a network with more than one hidden layer the last hidden layer
and the output layer are placed ("layer 1" and "layer 2" above): the earlier layers keep their
placement and their activations are computed on the die, as the inputs of the last two. Everything
runs on ``device`` (default CPU).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np
import torch
import xarray as xr

from .config import CrossbarConfig
from .datasets import ImageData
from .die import as_ensemble, config_of
from .errors import ParameterError
from .floorplan import Floorplan
from ._check import check_device, check_int
from .network import die_coefficients, forward, tie_error, with_bias
from .weights import network_weights, weights_config

__all__ = ["Remapping", "linear_assignment", "remap", "remapped_floorplan"]


# ------------------------------------------------------------------ linear assignment
def linear_assignment(cost):
    """Minimum-cost assignment of rows to columns (Hungarian algorithm, O(n^2 m)).

    A small numpy replacement for ``scipy.optimize.linear_sum_assignment`` (scipy is not a core
    dependency), with the same return convention.

    Parameters
    ----------
    cost : array_like, shape (n, m)
        Finite costs.

    Returns
    -------
    rows, cols : numpy.ndarray
        ``min(n, m)`` index pairs, ``rows`` sorted: row ``rows[i]`` goes to column ``cols[i]``.

    Examples
    --------
    >>> linear_assignment([[4, 1, 3], [2, 0, 5], [3, 2, 2]])
    (array([0, 1, 2]), array([1, 0, 2]))
    """
    cost = np.asarray(cost, dtype=np.float64)
    if cost.ndim != 2 or not np.isfinite(cost).all():
        raise ParameterError(f"cost must be a 2-d array of finite numbers; got shape {cost.shape}")
    if cost.shape[0] > cost.shape[1]:
        cols, rows = linear_assignment(cost.T)
        order = np.argsort(rows)
        return rows[order], cols[order]
    owner = _hungarian(cost)
    cols = np.flatnonzero(owner >= 0)
    rows = owner[cols]
    order = np.argsort(rows)
    return rows[order], cols[order]


def _hungarian(cost):
    """Row owning each column (-1: none) for ``n <= m``; potentials ``u``, ``v`` (1-based)."""
    n, m = cost.shape
    u, v = np.zeros(n + 1), np.zeros(m + 1)
    owner = np.zeros(m + 1, dtype=np.int64)  # 1-based row per column; column 0 is a sentinel
    way = np.zeros(m + 1, dtype=np.int64)
    for i in range(1, n + 1):
        owner[0], j0 = i, 0
        min_v = np.full(m + 1, np.inf)
        used = np.zeros(m + 1, dtype=bool)
        while owner[j0] != 0:
            used[j0] = True
            i0 = owner[j0]
            reduced = cost[i0 - 1] - u[i0] - v[1:]
            better = ~used[1:] & (reduced < min_v[1:])
            min_v[1:][better] = reduced[better]
            way[1:][better] = j0
            candidates = np.where(used[1:], np.inf, min_v[1:])
            j1 = int(np.argmin(candidates)) + 1
            delta = candidates[j1 - 1]
            u[owner[used]] += delta
            v[used] -= delta
            min_v[~used] -= delta
            j0 = j1
        while j0:
            j1 = way[j0]
            owner[j0] = owner[j1]
            j0 = j1
    return owner[1:] - 1


# ------------------------------------------------------------------ the result
@dataclass(frozen=True, eq=False)
class Remapping:
    """Where a die holds each neuron of a trained network's last hidden layer and its outputs.

    Parameters
    ----------
    config : CrossbarConfig
    hidden_slot : numpy.ndarray of int, shape (n_hidden,)
        Physical slot (layer-1 column pair and layer-2 row, in default numbering) of hidden neuron
        ``j``.
    hidden_swap : numpy.ndarray of bool, shape (n_hidden,)
        True where hidden neuron ``j``'s ``+`` device sits in its pair's ``-`` column.
    output_slot, output_swap : numpy.ndarray, shape (n_outputs,)
        The same for the layer-2 column pairs of the output neurons.
    loss_before, loss_after, error_before, error_after : float
        Cross-entropy and error of the die network on the remapping images at the default
        placement and at this one.
    """

    config: CrossbarConfig
    hidden_slot: np.ndarray
    hidden_swap: np.ndarray
    output_slot: np.ndarray
    output_swap: np.ndarray
    loss_before: float = float("nan")
    loss_after: float = float("nan")
    error_before: float = float("nan")
    error_after: float = float("nan")

    def __post_init__(self):
        sizes = {"hidden": _last_hidden(self.config), "output": self.config.n_outputs}
        for part, n in sizes.items():
            slot = np.asarray(getattr(self, f"{part}_slot"), dtype=np.int64)
            swap = np.asarray(getattr(self, f"{part}_swap"), dtype=bool)
            if sorted(slot.tolist()) != list(range(n)) or swap.shape != (n,):
                raise ParameterError(f"{part}_slot must be a permutation of 0..{n - 1} and "
                                     f"{part}_swap {n} booleans; got {slot.tolist()} and shape {swap.shape}")
            object.__setattr__(self, f"{part}_slot", slot)
            object.__setattr__(self, f"{part}_swap", swap)

    @classmethod
    def identity(cls, config):
        """The default placement (every neuron in its own pair, nothing swapped)."""
        h, o = _last_hidden(config), config.n_outputs
        return cls(config, np.arange(h), np.zeros(h, bool), np.arange(o), np.zeros(o, bool))

    @property
    def is_identity(self):
        return (np.array_equal(self.hidden_slot, np.arange(_last_hidden(self.config)))
                and np.array_equal(self.output_slot, np.arange(self.config.n_outputs))
                and not self.hidden_swap.any() and not self.output_swap.any())

    @cached_property
    def floorplan(self):
        """The :class:`~mtjexplore.floorplan.Floorplan` placing the unchanged weights on the die."""
        return remapped_floorplan(self.config.floorplan, self.hidden_slot, self.hidden_swap,
                                  self.output_slot, self.output_swap)

    def to_dataset(self):
        """The remapping as an ``xarray.Dataset`` (for saving next to the weights)."""
        long = {"hidden_slot": "physical slot (layer-1 column pair, layer-2 row) of the hidden neuron",
                "hidden_swap": "hidden neuron's + device in its pair's - column",
                "output_slot": "physical layer-2 column pair of the output neuron",
                "output_swap": "output neuron's + device in its pair's - column"}
        data = {name: ((name.split("_")[0],), getattr(self, name), {"long_name": text})
                for name, text in long.items()}
        attrs = {"kind": "remapping", "config": self.config.to_json()}
        attrs.update({k: float(getattr(self, k)) for k in
                      ("loss_before", "loss_after", "error_before", "error_after")})
        return xr.Dataset(data, coords={"hidden": np.arange(_last_hidden(self.config)),
                                        "output": np.arange(self.config.n_outputs)}, attrs=attrs)

    @classmethod
    def from_dataset(cls, ds):
        """Inverse of :meth:`to_dataset`."""
        keys = ("loss_before", "loss_after", "error_before", "error_after")
        return cls(CrossbarConfig.from_json(ds.attrs["config"]),
                   *(ds[n].values for n in ("hidden_slot", "hidden_swap", "output_slot", "output_swap")),
                   **{k: float(ds.attrs.get(k, np.nan)) for k in keys})


def _last_hidden(config):
    """Neurons of the hidden layer that remapping places (the last one)."""
    return config.layer_sizes[-2]


def remapped_floorplan(floorplan, hidden_slot, hidden_swap, output_slot, output_swap):
    """Floorplan with hidden neuron ``j`` on slot ``hidden_slot[j]`` (its layer-1 column pair and
    its layer-2 row move together) and output ``k`` on layer-2 column pair ``output_slot[k]``.

    In a deeper network "layer 1" and "layer 2" are the last two layers (the last hidden layer and
    the output layer); earlier layers keep their placement.

    Examples
    --------
    >>> from mtjexplore import paper_config
    >>> fp = paper_config().floorplan
    >>> new = remapped_floorplan(fp, np.roll(np.arange(90), 1), np.zeros(90, bool), np.arange(10),
    ...                          np.eye(10, dtype=bool)[0])
    >>> new.locate(*fp.position(0, 5, 89, "+")), new.locate(*fp.position(1, 89, 0, "+"))
    ((0, 5, 0, '+'), (1, 0, 0, '-'))
    """
    hid, out = floorplan.n_layers - 2, floorplan.n_layers - 1
    if hid < 0 or floorplan.layer_shape(out)[0] != len(hidden_slot) + 1:
        raise ParameterError("remapping needs a floorplan whose last layer's rows are the last "
                             "hidden layer's neurons plus one bias row")
    fp = floorplan.remapped(hid, hidden_slot, hidden_swap)
    rows, cols = list(fp.rows), list(fp.cols)
    order = np.append(np.asarray(hidden_slot), len(hidden_slot))  # the bias row stays
    rows[out], cols[out] = rows[out][order], cols[out][order]
    return Floorplan(fp.shape, tuple(rows), tuple(cols), fp.tile_shape).remapped(out, output_slot, output_swap)


# ------------------------------------------------------------------ costs
@dataclass
class _Problem:
    """Everything the cost functions need, as float32 tensors."""

    x1: torch.Tensor        # [n, n_in + 1] images with bias
    y: torch.Tensor         # [n]
    w1: torch.Tensor        # [n_in + 1, H]
    w2: torch.Tensor        # [H + 1, K]
    theta: torch.Tensor     # [H]
    scale: float
    a1: torch.Tensor        # [2 (swap), n_in + 1, H] die coefficients per physical pair
    b1: torch.Tensor
    a2: torch.Tensor        # [2, H + 1, K]
    b2: torch.Tensor

    @cached_property
    def ideal(self):
        h = (self.x1 @ self.w1 > self.theta).float()
        return h, forward(self.x1[:, :-1], [self.w1, self.w2], [self.theta])

    @cached_property
    def die_hidden(self):
        """``[2 (swap), n, p, j]`` bool: hidden neuron ``j`` fires on slot ``p`` (all placements)."""
        n_hid = self.w1.shape[1]
        out = torch.empty((2, self.x1.shape[0], n_hid, n_hid), dtype=torch.bool, device=self.x1.device)
        for s in range(2):
            for start in range(0, n_hid, 15):
                p = slice(start, min(start + 15, n_hid))
                z = (self.x1[:, None, :] * self.b1[s, :, p].T) @ self.w1
                out[s, :, p] = z + (self.x1 @ self.a1[s, :, p])[:, :, None] > self.theta
        return out

    @cached_property
    def flip_loss(self):
        """Per image: loss change when hidden neuron ``j`` alone turns on / off (``[n, j]`` each)."""
        h_ideal, o_ideal = self.ideal
        w2 = self.w2[: self.w1.shape[1]]
        loss0 = self.ce_images(o_ideal)[:, None]
        return self.ce_images(o_ideal[:, None, :] + w2) - loss0, self.ce_images(o_ideal[:, None, :] - w2) - loss0

    @cached_property
    def clean_hidden_cost(self):
        """``[2 (swap), p, j]`` loss change of hidden neuron ``j`` on slot ``p``, layer 2 ideal."""
        h_ideal, _ = self.ideal
        gain, drop = self.flip_loss
        fires = (1 - h_ideal) * gain - h_ideal * drop
        out = torch.empty(self.die_hidden.shape[:1] + self.die_hidden.shape[2:], device=self.x1.device)
        for s in range(2):
            for start in range(0, out.shape[1], 15):
                p = slice(start, min(start + 15, out.shape[1]))
                out[s, p] = (self.die_hidden[s, :, p].float() * fires[:, None, :]).mean(0)
        return out + (h_ideal * drop).mean(0)

    def ce_images(self, outputs):
        """Cross-entropy per image of ``outputs[n, ..., K]`` -> ``[n, ...]``."""
        logits = outputs * self.scale
        index = self.y.view(-1, *([1] * (logits.dim() - 1))).expand(*logits.shape[:-1], 1)
        return torch.logsumexp(logits, -1) - logits.gather(-1, index).squeeze(-1)

    def ce(self, outputs):
        """Mean cross-entropy over images of ``outputs[n, ..., K]`` -> ``[...]``."""
        return self.ce_images(outputs).mean(0)


def _hidden_cost(pb, out_slot, out_swap, tolerance=0.3):
    """``cost[j, p]`` and best orientation ``swap[j, p]`` of hidden neuron ``j`` on slot ``p``.

    Layer-2 rows whose coefficients are within ``tolerance`` unit weights of ideal count as ideal
    (:attr:`_Problem.clean_hidden_cost`); the few defective rows are costed exactly.
    """
    h_ideal, o_ideal = pb.ideal
    n_hid = pb.w1.shape[1]
    w2 = pb.w2[:n_hid]
    t = torch.as_tensor(out_swap, dtype=torch.long, device=pb.w1.device)
    q = torch.as_tensor(out_slot, dtype=torch.long, device=pb.w1.device)
    a_row, b_row = pb.a2[t, :n_hid, q].T, pb.b2[t, :n_hid, q].T          # [p, k] given the outputs
    dirty = torch.nonzero(((a_row.abs() + (b_row - 1).abs()).amax(1) > tolerance)).ravel()
    base = o_ideal[:, None, :] - h_ideal[:, :, None] * w2                 # [n, j, k]
    loss0 = pb.ce(o_ideal)
    costs = pb.clean_hidden_cost.clone()                                  # [swap, p, j]
    for s in range(2):
        for p in dirty.tolist():
            row = a_row[p] + b_row[p] * w2                                # [j, k]
            costs[s, p] = pb.ce(base + pb.die_hidden[s, :, p, :, None] * row) - loss0
    best, swap = costs.min(0)
    return best.T.double().cpu().numpy(), swap.T.cpu().numpy().astype(bool)


def _hidden_weights(pb, hid_slot, hid_swap):
    """Effective layer-1 weights ``[n_in + 1, H]`` of the die with the hidden placement."""
    s = torch.as_tensor(hid_swap, dtype=torch.long, device=pb.w1.device)
    p = torch.as_tensor(hid_slot, dtype=torch.long, device=pb.w1.device)
    return pb.a1[s, :, p].T + pb.b1[s, :, p].T * pb.w1


def _die_hidden(pb, hid_slot, hid_swap):
    """Hidden activations ``[n, H + 1]`` (bias included) of the die with the hidden placement."""
    w_eff = _hidden_weights(pb, hid_slot, hid_swap)
    return with_bias((pb.x1 @ w_eff > pb.theta).float())


def _output_cost(pb, hid_slot, hid_swap):
    """``cost[k, q]`` and best orientation of output ``k`` on layer-2 column pair ``q``."""
    h1 = _die_hidden(pb, hid_slot, hid_swap)
    rows = torch.as_tensor(np.append(hid_slot, len(hid_slot)), dtype=torch.long, device=pb.w1.device)
    reference = h1 @ pb.w2                                                # [n, k]
    n_out = pb.w2.shape[1]
    costs = torch.empty(2, n_out, n_out, device=pb.w1.device)                                  # [swap, k, q]
    eye = torch.eye(n_out, dtype=torch.bool, device=pb.w1.device)
    for s in range(2):
        moved = (h1 @ pb.a2[s][rows])[:, None, :] + torch.einsum("nr,rq,rk->nkq", h1, pb.b2[s][rows], pb.w2)
        outputs = torch.where(eye[None, :, None, :], moved[..., None], reference[:, None, None, :])
        costs[s] = pb.ce(outputs)
    best, swap = costs.min(0)
    return best.double().cpu().numpy(), swap.cpu().numpy().astype(bool)


def _die_loss(pb, placement):
    """Cross-entropy and error of the whole die network at a placement (hid/out slot and swap)."""
    hid_slot, hid_swap, out_slot, out_swap = placement
    dev = pb.w1.device
    rows = torch.as_tensor(np.append(hid_slot, len(hid_slot)), dtype=torch.long, device=dev)
    t = torch.as_tensor(out_swap, dtype=torch.long, device=dev)
    q = torch.as_tensor(out_slot, dtype=torch.long, device=dev)
    a, b = pb.a2[t[None, :], rows[:, None], q[None, :]], pb.b2[t[None, :], rows[:, None], q[None, :]]
    layers = [_hidden_weights(pb, hid_slot, hid_swap), a + b * pb.w2]
    outputs = forward(pb.x1[:, :-1], layers, [pb.theta])
    error = tie_error(outputs, pb.y).mean()
    return float(pb.ce(outputs)), float(error)


# ------------------------------------------------------------------ the search
def _problem(weights, die, data, n_images, seed, device):
    config = weights_config(weights)
    die = as_ensemble(die)
    if die.sizes["die"] != 1:
        raise ParameterError(f"remap takes one die; got an ensemble of {die.sizes['die']} "
                             "(select one with ens.isel(die=k))")
    if config_of(die).layer_shapes != config.layer_shapes:
        raise ParameterError("the die was made for a different network size than the weights")
    if not isinstance(data, ImageData):
        raise ParameterError(f"data must be an ImageData (from load_mnist); got {type(data).__name__}")
    if len(data) > n_images:
        data = data.subset(n_images, seed=seed)
    net = network_weights(weights, config, device=device)
    fp = config.floorplan
    hid, out = config.n_layers - 2, config.n_layers - 1
    flipped = fp.remapped(hid, None, np.ones(_last_hidden(config), bool)).remapped(
        out, None, np.ones(config.n_outputs, bool))
    coeffs = [die_coefficients(die, floorplan=f, device=device) for f in (fp, flipped)]
    stack = lambda name, layer: torch.stack([getattr(c, name)[layer][0] for c in coeffs])  # noqa: E731
    x1 = with_bias(torch.tensor(np.asarray(data.x), dtype=torch.float32)).to(device)
    for layer in range(hid):  # deeper networks: earlier layers at their own placement, on the die
        w_eff = coeffs[0].a[layer][0] + coeffs[0].b[layer][0] * net.layers[layer]
        x1 = with_bias((x1 @ w_eff > net.thresholds[layer]).float())
    y = torch.tensor(np.asarray(data.y), dtype=torch.int64).to(device)
    return _Problem(x1, y, net.layers[hid], net.layers[out], net.thresholds[hid], net.scale,
                    stack("a", hid), stack("b", hid), stack("a", out), stack("b", out))


def _assign(cost, swap):
    rows, cols = linear_assignment(cost)
    return cols, swap[rows, cols]


def remap(weights, die, data, *, n_images=2000, n_rounds=2, seed=0, device=None):
    """Choose where each neuron of ``weights`` sits on ``die`` so its defects hurt least.

    See the module docstring for the algorithm. The weights are not changed; the returned
    :class:`Remapping` holds the placement and its floorplan.

    Parameters
    ----------
    weights : xarray.Dataset
        Trained weights (``Trainer.weights_``).
    die : xarray.Dataset
        One die (its measured maps).
    data : ImageData
        Images the damage is estimated on (training images: the test set stays unseen).
    n_images : int, default 2000
        At most this many images are drawn (seeded) from ``data``.
    n_rounds : int, default 2
        Alternations of the hidden and the output assignment.
    seed : int, default 0
        Seed of the image draw.
    device : torch.device or str, optional
        Where the cost tables are computed (default CPU).

    Returns
    -------
    Remapping
        Never worse on the images than the default placement (which it returns if nothing helps).

    Examples
    --------
    >>> import mtjexplore as mx
    >>> train, test = mx.load_mnist(n_train=2000, n_test=500)
    >>> w = mx.Trainer(mx.paper_config(), epochs=1, seed=0).fit(train).weights_
    >>> die = mx.sample_dies(mx.paper_config(), 1, seed=3).isel(die=0)
    >>> r = remap(w, die, train, n_images=500)
    >>> r.loss_after <= r.loss_before
    True
    >>> res = mx.evaluate(w, die, test, floorplans=r.floorplan)
    """
    check_int("n_images", n_images, low=1)
    check_int("n_rounds", n_rounds, low=1)
    device = check_device(device)
    with torch.no_grad():
        pb = _problem(weights, die, data, n_images, seed, device)
        config = weights_config(weights)
        start = Remapping.identity(config)
        placement = (start.hidden_slot, start.hidden_swap, start.output_slot, start.output_swap)
        loss0, err0 = _die_loss(pb, placement)
        best = (loss0, err0, placement)
        for _ in range(n_rounds):
            hid = _assign(*_hidden_cost(pb, placement[2], placement[3]))
            out = _assign(*_output_cost(pb, *hid))
            placement = hid + out
            loss, err = _die_loss(pb, placement)
            if loss < best[0]:
                best = (loss, err, placement)
    return Remapping(config, *best[2], loss_before=loss0, loss_after=best[0],
                     error_before=err0, error_after=best[1])
