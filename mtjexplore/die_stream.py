"""Fresh dies for every statistics-aware training step, at a small fraction of a step's cost.

Sampling a whole die (two log-normal draws and a defect draw for each of 20,000 cells) costs
several milliseconds, more than a training step itself. :class:`DieStream` keeps the method
(fresh defects at fresh places on every step, drawn from the statistics) and makes it cheap:

* the device-to-device spread of good devices comes from a small pool of healthy dies (log-normal
  junction resistances as in the statistics), redrawn every ``refresh`` steps (by default once
  per epoch); each step picks pool members at random;
* the defects are drawn afresh for every die of every step: per-die counts from the gamma-Poisson
  model of :class:`~mtjexplore.statistics.DefectStatistics` (rates drawn for a whole epoch at once)
  and uniform positions. Positions are drawn with replacement, so with ~17 defects among 20,000
  devices about 1 die in 140 loses one defect to a collision;
* only the synapses holding a defect get their coefficients recomputed, for the dies of many
  steps at once (about 512 dies per chunk), so a step only takes a view of ready tensors.

It supports ``spatial="independent"`` statistics; clustered statistics fall back to exact
per-step sampling in the Trainer.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from .defects import apply_defects
from .network import DieCoefficients, pair_coefficients
from .statistics import KINDS

__all__ = ["DieStream"]


class DieStream:
    """Yield :class:`DieCoefficients` of ``dies_per_step`` freshly sampled dies per call.

    Parameters
    ----------
    stats : DefectStatistics
        Independent-position statistics to sample from.
    dies_per_step : int
    generator : torch.Generator
    refresh : int
        Steps between redraws of the spread pool and of the per-die defect rates.
    pool_size : int, default 16
        Healthy dies in the spread pool.
    device : torch.device or str, optional
        Where the coefficients are handed out (default CPU). Drawing runs on the CPU with the
        CPU ``generator`` (the same dies for a seed on every device); each chunk of many steps'
        coefficients moves to ``device`` once.
    """

    def __init__(self, stats, dies_per_step, generator, refresh, pool_size=16, *, device=None):
        self.stats, self.k, self.gen = stats, dies_per_step, generator
        self.refresh, self.pool_size = refresh, pool_size
        self.device = torch.device("cpu") if device is None else torch.device(device)
        self.config = stats.config
        fp = self.config.floorplan
        self.cells = torch.nonzero(torch.as_tensor(fp.present).ravel()).squeeze(1)
        # synapses of all layers numbered 0..n_synapses-1 (layer 0 first, row-major (i, j))
        pairs = [torch.as_tensor(r * fp.shape[1] + c).reshape(-1, 2) for r, c in zip(fp.rows, fp.cols)]
        self.pair_cells = torch.cat(pairs).long()                  # [n_synapses, 2]: + and - cells
        self.syn_of_cell = torch.full((fp.shape[0] * fp.shape[1],), -1, dtype=torch.long)
        n_syn = len(self.pair_cells)
        self.syn_of_cell[self.pair_cells[:, 0]] = torch.arange(n_syn)
        self.syn_of_cell[self.pair_cells[:, 1]] = torch.arange(n_syn)
        self.shapes = [fp.layer_shape(layer) for layer in range(fp.n_layers)]
        self.chunk_steps = max(1, min(refresh, 512 // dies_per_step))
        self.step = 0

    def _healthy_pool(self):
        """Pool of healthy dies: pair conductances ``[pool, n_synapses, 2]``."""
        return self.stats.healthy_conductances((self.pool_size,) + self.pair_cells.shape, self.gen)

    def _refill(self):
        self.pool_gp, self.pool_gap = self._healthy_pool()
        self.pool_a, self.pool_b = _pair_coefficients(self.pool_gp, self.pool_gap,
                                                      self.config.device.delta_g_s)
        n_draws = self.refresh * self.k
        rates = self._die_rates(n_draws)
        counts = torch.poisson(rates, generator=self.gen).long()          # [n_draws, n_kinds]
        kinds = torch.repeat_interleave(torch.arange(1, len(KINDS) + 1).repeat(n_draws), counts.ravel())
        owner = torch.repeat_interleave(torch.arange(n_draws), counts.sum(1))
        sites = self.cells[torch.randint(len(self.cells), (len(owner),), generator=self.gen)]
        self.defects = (owner, sites, kinds)
        self.starts = torch.cat([torch.zeros(1, dtype=torch.long), counts.sum(1).cumsum(0)]).tolist()

    def _die_rates(self, n_draws):
        """Per-die mean defect counts ``[n_draws, n_kinds]``: gamma-distributed, as in the statistics."""
        rng = np.random.default_rng(int(torch.randint(0, 2**62, (1,), generator=self.gen)))
        columns = []
        for kind in KINDS:
            mean, shape = self.stats.mean_counts[kind], self.stats.count_shape[kind]
            if mean == 0 or math.isinf(shape):
                columns.append(np.full(n_draws, mean))
            else:
                columns.append(rng.gamma(shape, mean / shape, n_draws))
        return torch.from_numpy(np.stack(columns, 1))

    def __call__(self):
        offset = self.step % self.refresh
        if offset == 0:
            self._refill()
        if offset % self.chunk_steps == 0:
            self._make_chunk(offset * self.k, min(self.chunk_steps, self.refresh - offset) * self.k)
        self.step += 1
        rows = slice((offset % self.chunk_steps) * self.k, (offset % self.chunk_steps + 1) * self.k)
        return self._split(self.chunk_a[rows], self.chunk_b[rows])

    def _make_chunk(self, first, n_draws):
        """Coefficients of ``n_draws`` dies (several steps) at once: pool rows plus defects."""
        pick = torch.randint(self.pool_size, (n_draws,), generator=self.gen)
        a, b = self.pool_a[pick], self.pool_b[pick]                     # [n_draws, n_synapses]
        lo, hi = self.starts[first], self.starts[first + n_draws]
        owner, sites, kinds = (t[lo:hi] for t in self.defects)
        self.last_chunk = (pick, owner - first, sites, kinds)  # kept for checks
        if hi > lo:
            self._apply(a, b, pick, owner - first, sites, kinds)
        self.chunk_a, self.chunk_b = a.to(self.device), b.to(self.device)

    def _split(self, a, b):
        out_a, out_b, offset = [], [], 0
        for n_in, n_out in self.shapes:
            n = n_in * n_out
            out_a.append(a[:, offset:offset + n].reshape(-1, n_in, n_out))
            out_b.append(b[:, offset:offset + n].reshape(-1, n_in, n_out))
            offset += n
        return DieCoefficients(out_a, out_b)

    def _apply(self, a, b, pick, die, sites, kinds):
        """Recompute the coefficients of every synapse that holds a defect, for all dies at once."""
        syn = self.syn_of_cell[sites]
        side = (self.pair_cells[syn, 1] == sites).long()               # 0: + device, 1: - device
        keys, slot = torch.unique(die * len(self.pair_cells) + syn, return_inverse=True)
        u_die, u_syn = keys // len(self.pair_cells), keys % len(self.pair_cells)
        gp, gap = self.pool_gp[pick[u_die], u_syn], self.pool_gap[pick[u_die], u_syn]  # [u, 2]
        own_p, own_ap = gp[slot, side], gap[slot, side]
        new_p, new_ap = _defect_values(self.stats, kinds, own_p, own_ap)
        gp[slot, side], gap[slot, side] = new_p, new_ap   # a device drawn twice keeps one kind
        a[u_die, u_syn], b[u_die, u_syn] = _pair_coefficients(gp, gap, self.config.device.delta_g_s)


def _pair_coefficients(gp, gap, unit):
    """``a``, ``b`` of pairs from ``[..., 2]`` (+, -) conductances."""
    return pair_coefficients(gp[..., 0], gap[..., 0], gp[..., 1], gap[..., 1], unit)


def _defect_values(stats, kinds, own_p, own_ap):
    """``(g_p, g_ap)`` of defective devices from their kinds and healthy values (the registry's physics)."""
    return apply_defects(kinds, own_p, own_ap, stats.g_short_s, stats.g_open_s)
