"""Shared fixtures: small data and quickly trained weights, cached per test session."""

import pytest
import torch


@pytest.fixture(scope="session", autouse=True)
def _one_torch_thread():
    torch.set_num_threads(1)


@pytest.fixture(scope="session")
def mnist_small():
    import mtjexplore as mx

    return mx.load_mnist(size=10, n_train=3000, n_test=1000)


@pytest.fixture(scope="session")
def quick_weights(mnist_small):
    import mtjexplore as mx

    train, _ = mnist_small
    return mx.Trainer(mx.paper_config(), epochs=2, seed=0).fit(train).weights_
