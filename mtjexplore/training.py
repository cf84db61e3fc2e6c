"""One estimator for the three training methods: software, defect-aware and statistics-aware."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
import xarray as xr

from ._check import check_device, check_int, check_number
from ._rng import seed_attr, torch_generator
from .config import CrossbarConfig
from .datasets import ImageData
from .die import as_ensemble, config_of
from .die_stream import DieStream
from .errors import NotFittedError, ParameterError
from .network import (DEFAULT_THRESHOLD_MODE, binarize_weights, check_threshold_mode, circuit_thresholds,
                      die_coefficients, effective_weights, forward, sample_coefficients)
from .statistics import DefectStatistics
from .weights import network_weights, threshold_mode_of, weights_dataset

__all__ = ["Trainer", "StepInfo", "METHODS"]

METHODS = ("software", "defect_aware", "statistics_aware")
#: Fixed choices of the recipe (once Trainer parameters, never varied by any caller; issue 11).
SURROGATE_WIDTH = 3.0   # half-width (unit weights) of the comparators' triangular surrogate gradient
SOFT_FRACTION = 0.7     # share of the steps over which soft_start anneals to hard comparators
N_VAL_DIES = 8          # statistics-aware validation: dies sampled once (seeded)
FITTED = ("weights_", "history_", "model_")


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
    """Latent weights of every layer, thresholds of every hidden layer, the output scale.

    Initialised on the CPU from the CPU ``generator`` (the same start on every device).
    """

    def __init__(self, config, generator, threshold_mode=DEFAULT_THRESHOLD_MODE):
        super().__init__()
        self.threshold_mode = threshold_mode
        shapes = config.layer_shapes
        self.latent = torch.nn.ParameterList(
            [torch.nn.Parameter(torch.rand(s, generator=generator) * 0.2 - 0.1) for s in shapes])
        self.thresholds = torch.nn.ParameterList(
            [torch.nn.Parameter(torch.zeros(n)) for n in config.hidden_sizes])
        self.log_scale = torch.nn.Parameter(torch.tensor(math.log(0.3)))

    def load(self, weights, config):
        net = network_weights(weights, config, device=self.log_scale.device)
        with torch.no_grad():
            for p, w in zip(self.latent, net.layers):
                p.copy_(0.1 * w)
            for p, theta in zip(self.thresholds, net.thresholds):
                p.copy_(theta)
            self.log_scale.fill_(math.log(net.scale))

    def logits(self, x, coeffs=None, width=None, temperature=0.0):
        if coeffs is None:
            layers = [binarize_weights(p) for p in self.latent]
        else:  # effective weights of the dies; x is [n_dies, n, n_inputs]
            layers = [effective_weights(p, coeffs, layer) for layer, p in enumerate(self.latent)]
        thresholds = circuit_thresholds(self.thresholds, self.threshold_mode)
        return forward(x, layers, thresholds, width=width,
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
        Network (any depth) and device; taken from ``die`` or ``sampler`` when omitted.
    method : {"software", "defect_aware", "statistics_aware"}
        ``software``: ideal devices. ``defect_aware``: the given ``die``'s maps in the forward
        pass (defective devices get no gradient). ``statistics_aware``: fresh dies from
        ``sampler`` at every step.
    die : xarray.Dataset, optional
        The die for ``defect_aware``.
    sampler : DefectStatistics or callable, optional
        For ``statistics_aware``: an object with ``sample_maps(n, generator)`` (fast path, e.g.
        :class:`~mtjexplore.DefectStatistics`; with independent defect positions a
        :class:`~mtjexplore.die_stream.DieStream` draws fresh defects every step on spread maps
        from a pool refreshed every epoch) or a callable ``f(n_dies, rng) -> Dataset``.
    dies_per_step : int, default 2
        Statistics-aware only: dies sampled per step; the batch is split among them.
    epochs : int, default 20
    batch_size : int, default 128
    lr : float, default 0.01
        Adam learning rate (cosine decay to 0 over the run).
    soft_start : float, default 0.0
        Initial temperature of sigmoid-relaxed comparators, annealed linearly to hard
        comparators over the first 70 % of the steps (0: hard from the start; the software
        recipe uses 2). Hard comparators learn through a triangular surrogate gradient of
        half-width 3 unit weights.
    loss_cap : float or None, default None
        Cap each image's cross-entropy smoothly at ``loss_cap`` nats (``cap * tanh(loss / cap)``).
        Without it, when shorts are very strong, the few images a sampled die makes hopeless
        dominate the mean loss and training shrinks the output scale until little is learned
        (see ``docs/results/short_strength``); with a cap they count as "wrong", no more.
    threshold_mode : {"half_integer", "per_neuron", "shared"} or None, default None
        What the hidden comparators' thresholds can be (:data:`mtjexplore.network.THRESHOLD_MODES`;
        see :mod:`mtjexplore.network`): ``k + 1/2`` unit weights per neuron (extra always-on
        device pairs plus one half-unit reference per layer; trained with straight-through
        rounding), a continuous value per neuron, or one continuous reference per layer. The
        forward pass uses the circuit's values and ``weights_`` stores them (and the mode, in
        attr ``threshold_mode``). None: the mode of ``init`` when fine-tuning, else
        ``"half_integer"`` (:data:`~mtjexplore.network.DEFAULT_THRESHOLD_MODE`: what a circuit of
        device rows holds, at no measured cost; ``docs/results/threshold_modes.md``).
    seed : int or None
    device : torch.device or str, optional
        Where the model, the images and the dies' coefficients live during training (default
        CPU; e.g. ``"cuda"``). Initial weights, batch order and dies are drawn on the CPU, so a
        seed means the same run on every device (up to float rounding of the device).

    Attributes
    ----------
    weights_ : xarray.Dataset
        The trained weights (see :mod:`mtjexplore.weights`).
    history_ : xarray.Dataset
        Loss per step, mean loss and validation error per epoch.
    model_ : torch.nn.Module
        The latent model (real-valued weights behind the binary ones).

    Notes
    -----
    Issue 11 removed the parameters no caller varied: ``activity_penalty`` (no effect found),
    ``surrogate_width`` (3), ``soft_fraction`` (0.7), ``n_val_dies`` (8), ``output_scale``
    (always learned), ``die_loss`` (always the mean over dies) and ``exact_sampling`` (use a
    callable sampler, e.g. ``stats.sample``, for exact per-step sampling).

    Examples
    --------
    >>> import mtjexplore as mx
    >>> train, test = mx.load_mnist(n_train=2000, n_test=500)
    >>> sw = mx.Trainer(mx.paper_config(), epochs=2, seed=0).fit(train)
    >>> sw.weights_.w1.shape
    (101, 90)
    """

    def __init__(self, config=None, *, method="software", die=None, sampler=None,
                 dies_per_step=2, epochs=20, batch_size=128, lr=1e-2, soft_start=0.0,
                 loss_cap=None, threshold_mode=None, seed=None, device=None):
        self.config = config
        self.method = method
        self.die = die
        self.sampler = sampler
        self.dies_per_step = dies_per_step
        self.epochs = epochs
        self.batch_size = batch_size
        self.lr = lr
        self.soft_start = soft_start
        self.loss_cap = loss_cap
        self.threshold_mode = threshold_mode
        self.seed = seed
        self.device = device

    # ---------------------------------------------------------------- validation
    def _validate(self, train):
        if self.method not in METHODS:
            raise ParameterError(f"method must be one of {', '.join(METHODS)}; got {self.method!r}")
        for name in ("epochs", "batch_size", "dies_per_step"):
            check_int(name, getattr(self, name), low=1)
        check_number("lr", self.lr, low=0, low_open=True)
        check_number("soft_start", self.soft_start, low=0)
        if self.loss_cap is not None:
            check_number("loss_cap", self.loss_cap, low=0, low_open=True, hint="or None: no cap")
        check_device(self.device)
        if self.threshold_mode is not None:
            check_threshold_mode(self.threshold_mode)
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
    def _die_source(self, config, generator, n_batches, device):
        """A function giving the DieCoefficients for one step (None for software), on ``device``."""
        if self.method == "software":
            return lambda: None
        if self.method == "defect_aware":
            fixed = die_coefficients(self.die, device=device)
            return lambda: fixed
        k = self.dies_per_step
        if isinstance(self.sampler, DefectStatistics) and self.sampler.spatial == "independent":
            return DieStream(self.sampler, k, generator, refresh=n_batches, device=device)
        return lambda: sample_coefficients(self.sampler, k, generator, config,
                                           map_dtype=torch.float32, device=device)

    def _validation_coeffs(self, config, device):
        if self.method == "software":
            return None
        if self.method == "defect_aware":
            return die_coefficients(self.die, device=device)
        generator = torch_generator(10_007 + seed_attr(self.seed))
        return sample_coefficients(self.sampler, N_VAL_DIES, generator, config, device=device)

    # ---------------------------------------------------------------- training
    def _temperature(self, step, n_steps):
        return self.soft_start * max(0.0, 1.0 - step / (SOFT_FRACTION * n_steps))

    def _step_loss(self, model, x, y, coeffs, temperature):
        kw = {"width": SURROGATE_WIDTH, "temperature": temperature}
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
        return self._cross_entropy(flat, ys), flat

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
        device = check_device(self.device)
        generator = torch_generator(self.seed)
        mode = self.threshold_mode
        if mode is None:
            mode = DEFAULT_THRESHOLD_MODE if init is None else threshold_mode_of(init)
        model = _Model(config, generator, mode).to(device)
        if init is not None:
            model.load(init, config)
        x = torch.tensor(np.asarray(train.x), dtype=torch.float32).to(device)
        y = torch.tensor(np.asarray(train.y), dtype=torch.int64).to(device)
        n_batches = math.ceil(len(train) / self.batch_size)
        n_steps = self.epochs * n_batches
        optimizer = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=self.lr)
        schedule = torch.optim.lr_scheduler.LambdaLR(
            optimizer, lambda s: 0.5 * (1 + math.cos(math.pi * min(s, n_steps) / n_steps)))
        draw = self._die_source(config, generator, n_batches, device)
        val_coeffs = self._validation_coeffs(config, device) if validation is not None else None
        step, losses, epoch_rows, stopped = 0, [], [], False
        for epoch in range(self.epochs):
            order = torch.randperm(len(train), generator=generator)
            model.train()
            for start in range(0, len(train), self.batch_size):
                idx = order[start:start + self.batch_size].to(device)
                loss, _ = self._step_loss(model, x[idx], y[idx], draw(),
                                          self._temperature(step, n_steps))
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

    @torch.no_grad()
    def _val_error(self, model, data, coeffs):
        from .evaluation import evaluate_tensors

        weights = self._export(model, self._resolve_config())
        error, _ = evaluate_tensors(weights, coeffs, data, device=model.log_scale.device)
        return float(error.mean())

    def _export(self, model, config):
        layers = [binarize_weights(p).detach().cpu().numpy() for p in model.latent]
        thresholds = [t.detach().cpu().numpy()
                      for t in circuit_thresholds(model.thresholds, model.threshold_mode)]
        return weights_dataset(config, layers, thresholds, model.log_scale.exp().item(),
                               method=self.method, seed=seed_attr(self.seed),
                               threshold_mode=model.threshold_mode)

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
        # only called when normal lookup fails: a fitted attribute before fit, or a typo
        if name in FITTED:
            raise NotFittedError(f"this Trainer is not fitted yet: call fit(...) before using {name}")
        raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}'")
