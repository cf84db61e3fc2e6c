"""One estimator for the three training methods: software, defect-aware and statistics-aware."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
import xarray as xr

from ._rng import seed_attr, torch_generator
from .config import CrossbarConfig
from .datasets import ImageData
from .die import as_ensemble, config_of
from .die_stream import DieStream
from .errors import NotFittedError, ParameterError
from .statistics import DefectStatistics
from .network import (binarize_weights, die_coefficients, effective_weights, forward,
                      sample_coefficients)
from .weights import weights_dataset, weights_tensors

METHODS = ("software", "defect_aware", "statistics_aware")
DIE_LOSSES = ("mean", "worst")


@dataclass(frozen=True)
class StepInfo:
    """What a training callback receives after every step."""

    step: int
    n_steps: int
    epoch: int
    loss: float
    val_error: float | None = None  # set on the last step of an epoch when validation is given

    @property
    def fraction(self):
        return self.step / self.n_steps


class _Model(torch.nn.Module):
    def __init__(self, config, generator):
        super().__init__()
        shapes = config.layer_shapes
        self.latent = torch.nn.ParameterList(
            [torch.nn.Parameter(torch.rand(s, generator=generator) * 0.2 - 0.1) for s in shapes])
        self.theta = torch.nn.Parameter(torch.zeros(config.n_hidden))
        self.log_scale = torch.nn.Parameter(torch.tensor(math.log(0.3)))

    def load(self, weights):
        w1, w2, theta, scale = weights_tensors(weights)
        with torch.no_grad():
            for p, w in zip(self.latent, (w1, w2)):
                p.copy_(0.1 * w)
            self.theta.copy_(theta)
            self.log_scale.fill_(math.log(scale))

    def logits(self, x, coeffs=None, width=None, temperature=0.0):
        if coeffs is None:
            w1, w2 = (binarize_weights(p) for p in self.latent)
        else:  # effective weights of the dies; x is [n_dies, n, n_inputs]
            w1, w2 = (effective_weights(p, coeffs, layer) for layer, p in enumerate(self.latent))
        return forward(x, w1, w2, self.theta, width=width,
                       temperature=temperature) * self.log_scale.exp()

    def clip(self):
        with torch.no_grad():
            for p in self.latent:
                p.clamp_(-1, 1)


class Trainer:
    """Train binary MTJ-network weights (scikit-learn style: ``fit`` returns ``self``).

    Parameters
    ----------
    config : CrossbarConfig, optional
        Network and device; taken from ``die`` or ``sampler`` when omitted.
    method : {"software", "defect_aware", "statistics_aware"}
        ``software``: ideal devices. ``defect_aware``: the given ``die``'s maps in the forward
        pass (defective devices get no gradient). ``statistics_aware``: fresh dies from
        ``sampler`` at every step.
    die : xarray.Dataset, optional
        The die for ``defect_aware``.
    sampler : DefectStatistics or callable, optional
        For ``statistics_aware``: an object with ``sample_maps(n, generator)`` (fast path, e.g.
        :class:`~mtjexplore.DefectStatistics`) or a callable ``f(n_dies, rng) -> Dataset``.
    dies_per_step : int, default 2
        Statistics-aware only: dies sampled per step; the batch is split among them.
    die_loss : {"mean", "worst"}, default "mean"
        How the per-die losses of a step combine: their mean, or the mean of the worst half.
    epochs : int, default 20
    batch_size : int, default 128
    lr : float, default 0.01
        Adam learning rate (cosine decay to 0 over the run).
    activity_penalty : float, default 0.0
        Weight of a penalty on the mean hidden activity (sparser hidden codes).
    surrogate_width : float, default 3.0
        Half-width (unit weights) of the comparators' triangular surrogate gradient.
    soft_start : float, default 0.0
        Initial temperature of sigmoid-relaxed comparators, annealed linearly to hard
        comparators over the first ``soft_fraction`` of the steps (0: hard from the start).
    soft_fraction : float, default 0.7
    output_scale : float or None, default None
        Fixed factor from output currents (unit weights) to the logits of the cross-entropy;
        None learns it. A smaller value demands larger current margins between classes.
    loss_cap : float or None, default None
        Cap each image's cross-entropy smoothly at ``loss_cap`` nats (``cap * tanh(loss / cap)``).
        Without it, when shorts are very strong, the few images a sampled die makes hopeless
        dominate the mean loss and training shrinks the output scale until little is learned
        (see ``docs/results/short_strength``); with a cap they count as "wrong", no more.
    exact_sampling : bool, default False
        Statistics-aware only: sample every die of every step in full (slow). By default a
        :class:`~mtjexplore.die_stream.DieStream` draws fresh defects every step on spread
        maps from a pool refreshed every epoch (independent-position statistics only).
    n_val_dies : int, default 8
        Statistics-aware validation: dies sampled once (seeded) to report the mean error on.
    seed : int or None

    Examples
    --------
    >>> import mtjexplore as mx
    >>> train, test = mx.load_mnist(n_train=2000, n_test=500)
    >>> sw = mx.Trainer(mx.paper_config(), epochs=2, seed=0).fit(train)
    >>> sw.weights_.w1.shape
    (101, 90)
    """

    def __init__(self, config=None, *, method="software", die=None, sampler=None,
                 dies_per_step=2, die_loss="mean", epochs=20, batch_size=128, lr=1e-2,
                 activity_penalty=0.0, surrogate_width=3.0, soft_start=0.0, soft_fraction=0.7,
                 n_val_dies=8, output_scale=None, loss_cap=None, exact_sampling=False, seed=None):
        self.config = config
        self.method = method
        self.die = die
        self.sampler = sampler
        self.dies_per_step = dies_per_step
        self.die_loss = die_loss
        self.epochs = epochs
        self.batch_size = batch_size
        self.lr = lr
        self.activity_penalty = activity_penalty
        self.surrogate_width = surrogate_width
        self.soft_start = soft_start
        self.soft_fraction = soft_fraction
        self.n_val_dies = n_val_dies
        self.output_scale = output_scale
        self.loss_cap = loss_cap
        self.exact_sampling = exact_sampling
        self.seed = seed

    # ---------------------------------------------------------------- validation
    def _validate(self, train):
        if self.method not in METHODS:
            raise ParameterError(f"method must be one of {', '.join(METHODS)}; got {self.method!r}")
        if self.die_loss not in DIE_LOSSES:
            raise ParameterError(f"die_loss must be one of {DIE_LOSSES}; got {self.die_loss!r}")
        for name in ("epochs", "batch_size", "dies_per_step", "n_val_dies"):
            value = getattr(self, name)
            if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < 1:
                raise ParameterError(f"{name} must be an int >= 1; got {value!r}")
        for name in ("output_scale", "loss_cap"):
            value = getattr(self, name)
            if value is not None and not (isinstance(value, (int, float)) and not isinstance(value, bool)
                                          and math.isfinite(value) and value > 0):
                raise ParameterError(f"{name} must be None or a finite number > 0; got {value!r}")
        for name, strict in (("lr", True), ("surrogate_width", True), ("activity_penalty", False),
                             ("soft_start", False), ("soft_fraction", True)):
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0 \
                    or (strict and value == 0) or (name == "soft_fraction" and value > 1):
                rule = "in (0, 1]" if name == "soft_fraction" else ("> 0" if strict else ">= 0")
                raise ParameterError(f"{name} must be a finite number {rule}; got {value!r}")
        if not isinstance(train, ImageData):
            raise ParameterError(f"train must be an ImageData (from load_mnist); got {type(train).__name__}")
        if self.method == "defect_aware" and self.die is None:
            raise ParameterError("method='defect_aware' needs die=... (one die, e.g. ens.isel(die=3))")
        if self.method == "defect_aware" and "die" in as_ensemble(self.die).dims and as_ensemble(self.die).sizes["die"] != 1:
            raise ParameterError("defect_aware trains on one die; select it with ens.isel(die=k)")
        if self.method == "statistics_aware" and self.sampler is None:
            raise ParameterError("method='statistics_aware' needs sampler=... (a DefectStatistics "
                                 "or a callable returning dies)")
        config = self._resolve_config()
        if train.x.shape[1] != config.n_inputs:
            raise ParameterError(f"train has {train.x.shape[1]} inputs per image but the network has "
                                 f"n_inputs={config.n_inputs}; load the data with size={int(config.n_inputs ** 0.5)}")
        return config

    def _resolve_config(self):
        config = self.config
        if config is None and self.die is not None:
            config = config_of(self.die)
        if config is None and hasattr(self.sampler, "config"):
            config = self.sampler.config
        if not isinstance(config, CrossbarConfig):
            raise ParameterError(f"config must be a CrossbarConfig (e.g. paper_config()); got {config!r}")
        return config

    # ---------------------------------------------------------------- dies per step
    def _die_source(self, config, generator, n_batches=1):
        """A function giving the DieCoefficients for one step (None for software)."""
        if self.method == "software":
            return lambda: None
        if self.method == "defect_aware":
            fixed = die_coefficients(self.die)
            return lambda: fixed
        k = self.dies_per_step
        if isinstance(self.sampler, DefectStatistics) and self.sampler.spatial == "independent" \
                and not self.exact_sampling:
            return DieStream(self.sampler, k, generator, refresh=n_batches)
        return lambda: sample_coefficients(self.sampler, k, generator, config, map_dtype=torch.float32)

    def _validation_coeffs(self, config):
        if self.method == "software":
            return None
        if self.method == "defect_aware":
            return die_coefficients(self.die)
        generator = torch_generator(10_007 + seed_attr(self.seed))
        return sample_coefficients(self.sampler, self.n_val_dies, generator, config)

    # ---------------------------------------------------------------- training
    def _temperature(self, step, n_steps):
        return self.soft_start * max(0.0, 1.0 - step / (self.soft_fraction * n_steps))

    def _step_loss(self, model, x, y, coeffs, temperature):
        kw = {"width": self.surrogate_width, "temperature": temperature}
        if coeffs is None:
            logits = model.logits(x, **kw)
            return self._cross_entropy(logits, y), logits
        if x.shape[0] < coeffs.n_dies:  # a last batch smaller than dies_per_step
            coeffs = coeffs.select(slice(0, x.shape[0]))
        k = coeffs.n_dies
        n = (x.shape[0] // k) * k
        xs, ys = x[:n].view(k, n // k, -1), y[:n]
        logits = model.logits(xs, coeffs, **kw)
        flat = logits.reshape(n, -1)
        if self.die_loss == "mean" or k == 1:
            return self._cross_entropy(flat, ys), flat
        per_die = self._cross_entropy(flat, ys, reduction="none").view(k, -1).mean(1)
        return per_die.topk(max(1, k // 2)).values.mean(), flat

    def _cross_entropy(self, logits, y, reduction="mean"):
        """Cross-entropy (per image with ``reduction="none"``), smoothly capped at ``loss_cap``."""
        if self.loss_cap is None:
            return F.cross_entropy(logits, y, reduction=reduction)
        loss = self.loss_cap * torch.tanh(F.cross_entropy(logits, y, reduction="none") / self.loss_cap)
        return loss.mean() if reduction == "mean" else loss

    def fit(self, train, *, init=None, validation=None, callback=None):
        """Train on ``train``; returns ``self`` with ``weights_``, ``history_`` set.

        Parameters
        ----------
        train : ImageData
        init : xarray.Dataset, optional
            Weights to start from (fine-tuning), e.g. ``software_trainer.weights_``.
        validation : ImageData, optional
            Evaluated at the end of every epoch (on the ideal network, the die, or the
            statistics-aware validation dies) into ``history_.val_error``.
        callback : callable, optional
            ``callback(StepInfo)`` after every step; returning True stops training after that step.
        """
        config = self._validate(train)
        generator = torch_generator(self.seed)
        model = _Model(config, generator)
        if init is not None:
            weights_tensors(init, config)
            model.load(init)
        if self.output_scale is not None:
            with torch.no_grad():
                model.log_scale.fill_(math.log(self.output_scale))
            model.log_scale.requires_grad_(False)
        x = torch.tensor(np.asarray(train.x), dtype=torch.float32)
        y = torch.tensor(np.asarray(train.y), dtype=torch.int64)
        n_batches = math.ceil(len(train) / self.batch_size)
        n_steps = self.epochs * n_batches
        optimizer = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=self.lr)
        schedule = torch.optim.lr_scheduler.LambdaLR(
            optimizer, lambda s: 0.5 * (1 + math.cos(math.pi * min(s, n_steps) / n_steps)))
        draw = self._die_source(config, generator, n_batches)
        val_coeffs = self._validation_coeffs(config) if validation is not None else None
        step, losses, epoch_rows, stopped = 0, [], [], False
        for epoch in range(self.epochs):
            order = torch.randperm(len(train), generator=generator)
            model.train()
            for start in range(0, len(train), self.batch_size):
                idx = order[start:start + self.batch_size]
                loss, _ = self._step_loss(model, x[idx], y[idx], draw(),
                                          self._temperature(step, n_steps))
                if self.activity_penalty:
                    loss = loss + self.activity_penalty * self._activity(model, x[idx])
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                schedule.step()
                model.clip()
                step += 1
                losses.append(loss.item())
                last = start + self.batch_size >= len(train)
                val_error = None
                if last and validation is not None:
                    val_error = self._val_error(model, validation, val_coeffs)
                    epoch_rows.append((epoch, float(np.mean(losses[-n_batches:])), val_error))
                elif last:
                    epoch_rows.append((epoch, float(np.mean(losses[-n_batches:])), np.nan))
                if callback is not None and callback(StepInfo(step, n_steps, epoch, losses[-1], val_error)):
                    stopped = True
                    break
            if stopped:
                break
        self.model_ = model
        self.weights_ = self._export(model, config)
        self.history_ = self._history(losses, epoch_rows, n_batches, stopped)
        return self

    def _activity(self, model, x):
        w1 = binarize_weights(model.latent[0])
        z = F.pad(x, (0, 1), value=1.0) @ w1 - model.theta
        return torch.sigmoid(z / 4).mean()

    @torch.no_grad()
    def _val_error(self, model, data, coeffs):
        from .evaluation import evaluate_tensors

        weights = self._export(model, self._resolve_config())
        error, _ = evaluate_tensors(weights, coeffs, data)
        return float(error.mean())

    def _export(self, model, config):
        w1, w2 = (binarize_weights(p).detach().numpy() for p in model.latent)
        return weights_dataset(config, w1, w2, model.theta.detach().numpy(),
                               model.log_scale.exp().item(), method=self.method,
                               seed=seed_attr(self.seed))

    def _history(self, losses, epoch_rows, n_batches, stopped):
        epochs = np.array([r[0] for r in epoch_rows], dtype=np.int64)
        return xr.Dataset(
            {"loss": (("step",), np.array(losses), {"long_name": "training loss (cross-entropy)"}),
             "epoch_loss": (("epoch",), np.array([r[1] for r in epoch_rows]),
                            {"long_name": "mean training loss of the epoch"}),
             "val_error": (("epoch",), np.array([r[2] for r in epoch_rows]),
                           {"long_name": "validation error", "units": "1"})},
            coords={"step": np.arange(1, len(losses) + 1), "epoch": epochs},
            attrs={"method": self.method, "stopped_early": int(stopped), "seed": seed_attr(self.seed),
                   "batches_per_epoch": n_batches})

    def __getattr__(self, name):
        if name.endswith("_") and not name.startswith("__"):
            raise NotFittedError(f"this Trainer is not fitted yet: call fit(...) before using {name}")
        raise AttributeError(name)
