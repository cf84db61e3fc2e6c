"""Fresh dies for every statistics-aware training step, at a small fraction of a step's cost.

Sampling a whole die (two log-normal draws and a defect draw for each of 20,000 cells) costs
several milliseconds, more than a training step itself. :class:`DieStream` keeps the method
(fresh defects at fresh places on every step, drawn from the statistics) and makes it cheap:

* the device-to-device spread of good devices comes from a small pool of fully sampled healthy
  dies, redrawn every ``refresh`` steps (by default once per epoch); each step picks pool members
  at random;
* the defects are drawn afresh for every die of every step: per-die counts from the gamma-Poisson
  model of :class:`~mtjexplore.statistics.DefectStatistics` (rates drawn for a whole epoch at once)
  and uniform positions. Positions are drawn with replacement, so with ~17 defects among 20,000
  devices about 1 die in 140 loses one defect to a collision;
* only the synapses holding a defect get their coefficients recomputed.

It supports ``spatial="independent"`` statistics; clustered statistics fall back to exact
per-step sampling in the Trainer.
"""

from __future__ import annotations

import dataclasses

import torch

from .die import DEFECT_CODES
from .network import DieCoefficients, coefficients_from_maps
from .statistics import KINDS


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
    """

    def __init__(self, stats, dies_per_step, generator, refresh, pool_size=16):
        self.stats, self.k, self.gen = stats, dies_per_step, generator
        self.refresh, self.pool_size = refresh, pool_size
        self.config = stats.config
        fp = self.config.floorplan
        cells = torch.nonzero(torch.as_tensor(fp.present).ravel()).squeeze(1)
        inverse = torch.as_tensor(fp._inverse.reshape(-1, 3))[cells].long()
        layer = torch.as_tensor(fp.layer_map.ravel())[cells].long()
        self.cells, self.cell_layer, self.cell_ijs = cells, layer, inverse
        self.n_cols = fp.shape[1]
        self.pair_flat = [torch.as_tensor(r * fp.shape[1] + c).long() for r, c in zip(fp.rows, fp.cols)]
        self.healthy = dataclasses.replace(stats, mean_counts={k: 0.0 for k in KINDS})
        self.step = 0

    def _refill(self):
        n_draws = self.refresh * self.k
        g_p, g_ap, _ = self.healthy.sample_maps(self.pool_size, self.gen)
        self.pool_maps = (g_p.flatten(1), g_ap.flatten(1))
        self.pool = coefficients_from_maps(g_p, g_ap, self.config)
        rates = torch.stack([self.stats._die_rates(kind, n_draws, self.gen) for kind in KINDS], 1)
        counts = torch.poisson(rates, generator=self.gen).long()          # [n_draws, n_kinds]
        kinds = torch.repeat_interleave(torch.arange(1, len(KINDS) + 1).repeat(n_draws), counts.ravel())
        owner = torch.repeat_interleave(torch.arange(n_draws), counts.sum(1))
        sites = torch.randint(len(self.cells), (len(owner),), generator=self.gen)
        self.defects = (owner, sites, kinds)
        self.starts = torch.cat([torch.zeros(1, dtype=torch.long), counts.sum(1).cumsum(0)])

    def __call__(self):
        if self.step % self.refresh == 0:
            self._refill()
        first = (self.step % self.refresh) * self.k
        self.step += 1
        pick = torch.randint(self.pool_size, (self.k,), generator=self.gen)
        lo, hi = int(self.starts[first]), int(self.starts[first + self.k])
        owner, sites, kinds = (t[lo:hi] for t in self.defects)
        coeffs = DieCoefficients([a[pick] for a in self.pool.a], [b[pick] for b in self.pool.b])
        if hi > lo:
            self._apply(coeffs, pick, owner - first, sites, kinds)
        return coeffs

    def _apply(self, coeffs, pick, die, sites, kinds):
        """Overwrite the coefficients of every synapse that holds one of the step's defects."""
        g_p = self.pool_maps[0][pick]
        g_ap = self.pool_maps[1][pick]
        cells = self.cells[sites]
        old_p, old_ap = g_p[die, cells], g_ap[die, cells]
        s = self.stats
        new_p = torch.where(kinds == DEFECT_CODES["short"], s.g_short_s,
                            torch.where(kinds == DEFECT_CODES["open"], s.g_open_s,
                                        torch.where(kinds == DEFECT_CODES["stuck_ap"], old_ap, old_p)))
        new_ap = torch.where(kinds == DEFECT_CODES["stuck_p"], old_p,
                             torch.where(kinds == DEFECT_CODES["stuck_ap"], old_ap, new_p))
        g_p[die, cells], g_ap[die, cells] = new_p.to(g_p.dtype), new_ap.to(g_ap.dtype)
        self.last_maps = (g_p, g_ap)  # the step's full maps (kept for checks; no copy)
        layer, ijs = self.cell_layer[sites], self.cell_ijs[sites]
        fp, unit = self.config.floorplan, self.config.device.delta_g_s
        for index in range(fp.n_layers):
            sel = layer == index
            if not sel.any():
                continue
            d, i, j = die[sel], ijs[sel, 0], ijs[sel, 1]
            flat = self.pair_flat[index][i, j]                  # [m, 2] cells of (+, -)
            gp, ga = g_p[d[:, None], flat], g_ap[d[:, None], flat]
            b = ((gp[:, 0] - ga[:, 0]) + (gp[:, 1] - ga[:, 1])) / 2
            a = (ga[:, 0] - gp[:, 1]) + b
            coeffs.a[index][d, i, j] = (a / unit).to(coeffs.a[index].dtype)
            coeffs.b[index][d, i, j] = (b / unit).to(coeffs.b[index].dtype)
