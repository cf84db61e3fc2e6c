import numpy as np
import pytest

import mtjexplore as mx
from mtjexplore.fast_eval import DieEvaluator
from mtjexplore.network import forward
from mtjexplore.weights import network_weights


@pytest.fixture(scope="module")
def setup(quick_weights, mnist_small):
    _, test = mnist_small
    return quick_weights, test, mx.sample_dies(mx.paper_config(), 3, seed=2)


def test_matches_evaluate_on_every_die_and_on_ideal_devices(setup):
    weights, test, ens = setup
    fast = DieEvaluator(weights, test)
    reference = mx.evaluate(weights, ens, test)
    for k in range(3):
        error, loss = fast.evaluate(ens.isel(die=k))
        assert error == pytest.approx(float(reference.error[k]), abs=1e-12)
        assert loss == pytest.approx(float(reference.loss[k]), rel=1e-5)
    assert fast.evaluate(None)[0] == pytest.approx(float(mx.evaluate(weights, None, test).error), abs=1e-12)


def test_predictions_agree_with_the_error(setup):
    weights, test, ens = setup
    fast, die = DieEvaluator(weights, test), ens.isel(die=1)
    predictions = fast.predict(die, np.arange(len(test)))
    # device spread leaves no exact ties on a die: the argmax predictions give the error
    assert np.mean(predictions != test.y) == pytest.approx(fast.evaluate(die)[0], abs=1e-12)
    net = network_weights(weights)
    import torch

    ideal = forward(torch.tensor(test.x[:5]), net.layers, net.thresholds).argmax(-1).numpy()
    np.testing.assert_array_equal(fast.predict(None, np.arange(5)), ideal)


def test_refuses_ensembles_and_other_network_sizes(setup):
    weights, test, ens = setup
    fast = DieEvaluator(weights, test)
    with pytest.raises(mx.ParameterError, match="takes one die"):
        fast.evaluate(ens)
    small = mx.ideal_die(mx.CrossbarConfig(n_inputs=100, n_hidden=20, n_outputs=10))
    with pytest.raises(mx.ParameterError, match="use the same CrossbarConfig"):
        fast.evaluate(small)


def test_evaluate_and_predict_is_evaluate_and_predict_in_one_pass(setup):
    weights, test, ens = setup
    fast, everything = DieEvaluator(weights, test), np.arange(len(test))
    for die in (ens.isel(die=0), None):
        error, loss, predictions = fast.evaluate_and_predict(die)
        assert (error, loss) == fast.evaluate(die)
        np.testing.assert_array_equal(predictions, fast.predict(die, everything))
