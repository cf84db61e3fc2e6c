"""Every public entry point takes ``device=``: the same results on it as on the CPU.

The tests run on the CPU; set ``MTJEXPLORE_TEST_DEVICE=cuda`` (or ``cuda:1``) to run them on a
GPU: they then compare the GPU results with the CPU ones (to float rounding) and are skipped
cleanly where CUDA is absent.
"""

import os

import numpy as np
import pytest
import torch

import mtjexplore as mx
from mtjexplore.fast_eval import DieEvaluator
from mtjexplore.remap import remap
from mtjexplore.weights import network_weights


@pytest.fixture(scope="module")
def test_device():
    """The device under test: ``MTJEXPLORE_TEST_DEVICE`` (default ``cpu``)."""
    name = os.environ.get("MTJEXPLORE_TEST_DEVICE", "cpu")
    device = torch.device(name)
    if device.type == "cuda" and not torch.cuda.is_available():
        pytest.skip(f"MTJEXPLORE_TEST_DEVICE={name} but CUDA is not available")
    return device


def same(a, b, device, atol):
    """Bit-for-bit on the CPU; within ``atol`` on another device (other kernels, other rounding)."""
    if device.type == "cpu":
        np.testing.assert_array_equal(a, b)
    else:
        np.testing.assert_allclose(a, b, atol=atol)


@pytest.fixture(scope="module")
def dies():
    return mx.sample_dies(mx.paper_config(), 5, seed=4)


def test_evaluate_and_sensitivity_on_the_device(quick_weights, mnist_small, dies, test_device):
    _, test = mnist_small
    cpu = mx.evaluate(quick_weights, dies, test, chunk_size=2)
    dev = mx.evaluate(quick_weights, dies, test, chunk_size=2, device=test_device)
    same(dev.error.values, cpu.error.values, test_device, atol=3e-3)
    same(dev.loss.values, cpu.loss.values, test_device, atol=1e-3)
    stats = mx.DefectStatistics(mx.paper_config(), {"short": 15})
    s_cpu = mx.sensitivity(quick_weights, stats, 3, test, seed=0)
    s_dev = mx.sensitivity(quick_weights, stats, 3, test, seed=0, device=test_device)
    same(s_dev.error.values, s_cpu.error.values, test_device, atol=3e-3)


def test_die_evaluator_on_the_device(quick_weights, mnist_small, dies, test_device):
    _, test = mnist_small
    fast = DieEvaluator(quick_weights, test, device=test_device)
    error, _ = fast.evaluate(dies.isel(die=1))
    assert error == pytest.approx(float(mx.evaluate(quick_weights, dies.isel(die=1), test).error[0]),
                                  abs=3e-3 if test_device.type != "cpu" else 1e-12)
    assert fast.predict(dies.isel(die=1), [0, 1, 2]).shape == (3,)


def test_sampling_draws_the_same_dies_on_every_device(test_device):
    stats = mx.DefectStatistics(mx.paper_config(), {"short": 15})
    cpu = stats.sample_maps(2, torch.Generator().manual_seed(0))
    dev = stats.sample_maps(2, torch.Generator().manual_seed(0), device=test_device)
    for a, b in zip(cpu, dev):
        assert b.device.type == test_device.type
        np.testing.assert_array_equal(a.numpy(), b.cpu().numpy())


@pytest.mark.parametrize("method", ["software", "defect_aware", "statistics_aware"])
def test_trainer_on_the_device(mnist_small, dies, method, test_device):
    train, test = mnist_small
    data = train.subset(512, seed=0)
    kwargs = {"method": method, "die": dies.isel(die=0) if method == "defect_aware" else None,
              "sampler": mx.DefectStatistics(mx.paper_config(), {"short": 15}), "epochs": 1,
              "batch_size": 128, "seed": 0}
    cpu = mx.Trainer(mx.paper_config(), **kwargs).fit(data, validation=test)
    dev = mx.Trainer(mx.paper_config(), device=test_device, **kwargs).fit(data, validation=test)
    same(dev.history_.loss.values, cpu.history_.loss.values, test_device, atol=1e-3)
    assert next(dev.model_.parameters()).device.type == test_device.type
    assert np.isfinite(dev.history_.val_error.values).all()


def test_remap_and_weights_on_the_device(quick_weights, mnist_small, dies, test_device):
    train, _ = mnist_small
    net = network_weights(quick_weights, device=test_device)
    assert net.device.type == test_device.type and net.to("cpu").device.type == "cpu"
    cpu = remap(quick_weights, dies.isel(die=2), train, n_images=300, n_rounds=1)
    dev = remap(quick_weights, dies.isel(die=2), train, n_images=300, n_rounds=1, device=test_device)
    assert dev.loss_after <= dev.loss_before
    if test_device.type == "cpu":
        np.testing.assert_array_equal(dev.hidden_slot, cpu.hidden_slot)
        assert dev.loss_after == cpu.loss_after


def test_a_bad_device_is_named(quick_weights, mnist_small):
    _, test = mnist_small
    with pytest.raises(mx.ParameterError, match="device must be a torch device or its name"):
        mx.evaluate(quick_weights, None, test, device="gpu0")


@pytest.mark.skipif(torch.cuda.is_available(), reason="CUDA is available here")
def test_asking_for_cuda_without_it_is_a_clear_error(quick_weights, mnist_small):
    _, test = mnist_small
    with pytest.raises(mx.ParameterError, match="sees no CUDA GPU; use device='cpu'"):
        mx.evaluate(quick_weights, None, test, device="cuda")
    with pytest.raises(mx.ParameterError, match="sees no CUDA GPU"):
        mx.Trainer(mx.paper_config(), device="cuda").fit(test)
