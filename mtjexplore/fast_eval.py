"""Fast repeated evaluation of one set of weights on one die at a time (interactive use).

:func:`mtjexplore.evaluate` prepares the data tensors, the weights and the result Dataset on every
call. The crossbar painter re-evaluates after every painted device, so :class:`DieEvaluator`
prepares them once and then runs only the coefficient gather and the matrix products of
:func:`mtjexplore.network.evaluate_chunk` -- the same forward model, the same numbers (ties at
the output counted by :func:`mtjexplore.network.tie_error`).
"""

from __future__ import annotations

import numpy as np
import torch

from .die import config_of
from .errors import ParameterError
from ._check import check_device
from .evaluation import data_tensors, ideal_coefficients
from .network import die_coefficients, evaluate_chunk, forward
from .weights import network_weights, weights_config

__all__ = ["DieEvaluator"]


class DieEvaluator:
    """Error, loss and predictions of fixed ``weights`` on ``data``, one die at a time.

    Parameters
    ----------
    weights : xarray.Dataset
        Trained weights (``Trainer.weights_``).
    data : ImageData
        Evaluation images (e.g. the 10,000 MNIST test images).
    device : torch.device or str, optional
        Where weights and images live (moved once) and the products run (default CPU).

    Examples
    --------
    >>> import mtjexplore as mx
    >>> train, test = mx.load_mnist(n_train=2000, n_test=500)
    >>> w = mx.Trainer(mx.paper_config(), epochs=1, seed=0).fit(train).weights_
    >>> die = mx.sample_dies(mx.paper_config(), 1, seed=0).isel(die=0)
    >>> fast = DieEvaluator(w, test)
    >>> error, loss = fast.evaluate(die)
    >>> abs(error - float(mx.evaluate(w, die, test).error[0])) < 1e-12
    True
    """

    def __init__(self, weights, data, *, device=None):
        self.weights = weights
        self.config = weights_config(weights)
        self.device = check_device(device)
        self._net = network_weights(weights, self.config, device=self.device)
        self._x1t, self._y = data_tensors(data, self.config.n_inputs, device=self.device)
        self._x = self._x1t[:-1].T  # images without the bias row, for predict()

    def coefficients(self, die):
        """:class:`~mtjexplore.network.DieCoefficients` of one die (a leading die dim of 1)."""
        if not hasattr(die, "dims") or "die" in die.dims and die.sizes["die"] != 1:
            raise ParameterError("DieEvaluator takes one die (e.g. ens.isel(die=3)); "
                                 f"got {type(die).__name__} {dict(getattr(die, 'sizes', {}))}")
        config = config_of(die)
        if config.layer_shapes != self.config.layer_shapes:
            raise ParameterError(f"the die was made for layer shapes {config.layer_shapes}, the "
                                 f"weights for {self.config.layer_shapes}; use the same CrossbarConfig")
        return die_coefficients(die, device=self.device)

    def _coefficients_or_ideal(self, die):
        return ideal_coefficients(self.config, device=self.device) if die is None else self.coefficients(die)

    @torch.no_grad()
    def evaluate(self, die):
        """``(error, loss)`` of the weights on ``die`` as floats (``die=None``: ideal devices)."""
        coeffs = self._coefficients_or_ideal(die)
        error, loss = evaluate_chunk(self._x1t, self._y, self._net, coeffs)
        return float(error[0]), float(loss[0])

    @torch.no_grad()
    def evaluate_and_predict(self, die):
        """``(error, loss, predictions)`` on ``die`` from one pass over the images.

        What :meth:`evaluate` and :meth:`predict` of every image return, at the cost of one of
        them: the explorer calls it after every painted device. ``die=None``: ideal devices.
        """
        coeffs = self._coefficients_or_ideal(die)
        error, loss, predicted = evaluate_chunk(self._x1t, self._y, self._net, coeffs, predictions=True)
        return float(error[0]), float(loss[0]), predicted[0].cpu().numpy()

    @torch.no_grad()
    def predict(self, die, index):
        """Predicted classes (numpy int array) of the images ``data[index]`` on ``die``.

        ``die=None`` predicts on ideal devices. Where several classes tie exactly for the
        largest output (common on ideal devices, practically never on a die with device spread)
        this shows the first of them; :meth:`evaluate` counts such an image as the hardware would
        on average (:func:`mtjexplore.network.tie_error`), so on ideal devices the share of wrong
        predictions can differ slightly from the error.
        """
        x = self._x[torch.as_tensor(np.atleast_1d(index), dtype=torch.int64, device=self.device)]
        coeffs = None if die is None else self.coefficients(die)
        out = forward(x, self._net.layers, self._net.thresholds, coeffs)
        return (out if coeffs is None else out[0]).argmax(-1).cpu().numpy()
