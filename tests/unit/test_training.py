import numpy as np
import pytest

import mtjexplore as mx
from mtjexplore.errors import NotFittedError


def test_same_seed_identical_weights(mnist_small):
    train, _ = mnist_small
    data = train.subset(600, seed=0)
    a, b = (mx.Trainer(mx.paper_config(), epochs=1, seed=5).fit(data) for _ in range(2))
    assert a.weights_.identical(b.weights_)
    assert np.array_equal(a.history_.loss.values, b.history_.loss.values)
    c = mx.Trainer(mx.paper_config(), epochs=1, seed=6).fit(data)
    assert not np.array_equal(a.weights_.w1.values, c.weights_.w1.values)


def test_software_training_learns(quick_weights, mnist_small):
    _, test = mnist_small
    error = float(mx.evaluate(quick_weights, None, test).error)
    assert error < 0.35  # 2 epochs on 3,000 images; chance is 0.9
    assert set(np.unique(quick_weights.w1.values)) <= {-1, 1}


def test_history_and_callback_stop(mnist_small):
    train, test = mnist_small
    seen = []

    def callback(info):
        seen.append(info)
        return info.step == 5

    tr = mx.Trainer(mx.paper_config(), epochs=3, seed=0).fit(train, validation=test, callback=callback)
    assert [s.step for s in seen] == [1, 2, 3, 4, 5]
    assert seen[0].n_steps == 3 * 24
    assert tr.history_.sizes["step"] == 5 and tr.history_.attrs["stopped_early"] == 1


def test_validation_error_recorded_each_epoch(mnist_small):
    train, test = mnist_small
    tr = mx.Trainer(mx.paper_config(), epochs=2, seed=0).fit(train.subset(500, seed=1), validation=test)
    assert tr.history_.val_error.dims == ("epoch",) and tr.history_.sizes["epoch"] == 2
    assert np.all((tr.history_.val_error.values >= 0) & (tr.history_.val_error.values <= 1))


def test_defect_aware_gives_defective_devices_no_gradient(mnist_small, quick_weights):
    train, _ = mnist_small
    cfg = mx.paper_config()
    die = mx.ideal_die(cfg)
    # both devices of synapse (input 10, neuron 4) shorted: its weight cannot matter
    rows, cols = zip(cfg.floorplan.position(0, 10, 4, "+"), cfg.floorplan.position(0, 10, 4, "-"))
    die = mx.set_defects(die, list(rows), list(cols), "short")
    tr = mx.Trainer(cfg, method="defect_aware", die=die, epochs=1, lr=0.05, seed=0)
    tr.fit(train.subset(1000, seed=0), init=quick_weights)
    latent = tr.model_.latent[0].detach().numpy()
    assert latent[10, 4] == pytest.approx(0.1 * quick_weights.w1.values[10, 4])
    assert np.abs(latent - 0.1 * quick_weights.w1.values).max() > 0.01


def test_statistics_aware_with_callable_sampler(mnist_small):
    train, _ = mnist_small
    cfg = mx.paper_config()
    calls = []

    def sampler(n_dies, rng):
        calls.append(n_dies)
        return mx.sample_dies(cfg, n_dies, seed=rng)

    mx.Trainer(cfg, method="statistics_aware", sampler=sampler, dies_per_step=2, epochs=1,
               batch_size=250, seed=0).fit(train.subset(500, seed=0))
    assert calls == [2, 2]


def test_not_fitted_error():
    with pytest.raises(NotFittedError, match="not fitted yet"):
        mx.Trainer(mx.paper_config()).weights_


def test_a_typo_after_fit_is_a_plain_attribute_error(mnist_small):
    train, _ = mnist_small
    tr = mx.Trainer(mx.paper_config(), epochs=1, seed=0).fit(train.subset(256, seed=0))
    with pytest.raises(AttributeError, match="'Trainer' object has no attribute 'wieghts_'") as info:
        tr.wieghts_
    assert not isinstance(info.value, NotFittedError)
    with pytest.raises(AttributeError, match="no attribute 'wieghts_'") as info:
        mx.Trainer(mx.paper_config()).wieghts_
    assert not isinstance(info.value, NotFittedError)


@pytest.mark.parametrize("kwargs, words", [
    ({"method": "magic"}, "method must be one of software, defect_aware, statistics_aware; got 'magic'"),
    ({"epochs": 0}, "epochs must be an int >= 1; got 0"),
    ({"lr": -1.0}, "lr must be a finite number > 0; got -1.0"),
    ({"batch_size": True}, "batch_size must be an int >= 1; got True"),
    ({"device": "gpu0"}, "device must be a torch device or its name"),
    ({"method": "defect_aware"}, "method='defect_aware' needs die="),
    ({"method": "statistics_aware"}, "method='statistics_aware' needs sampler="),
    ({"loss_cap": 0.0}, "loss_cap must be a finite number > 0; got 0.0 (or None: no cap)"),
    ({"loss_cap": True}, "loss_cap must be a finite number > 0; got True (or None: no cap)"),
])
def test_bad_trainer_parameters_named(mnist_small, kwargs, words):
    train, _ = mnist_small
    with pytest.raises(mx.ParameterError) as info:
        mx.Trainer(mx.paper_config(), **kwargs).fit(train)
    assert words in str(info.value)


def test_loss_cap_bounds_every_step_loss(mnist_small):
    """With no series resistance a short passes ~167 unit weights: uncapped losses explode."""
    import dataclasses

    train, _ = mnist_small
    device = dataclasses.replace(mx.config.paper_device(), r_series_ohm=0.0)
    stats = mx.DefectStatistics(mx.paper_config(device), {"short": 60})
    kwargs = {"method": "statistics_aware", "sampler": stats, "epochs": 1, "seed": 0}
    data = train.subset(640, seed=0)
    free = mx.Trainer(**kwargs).fit(data).history_.loss.values
    capped = mx.Trainer(loss_cap=0.5, **kwargs).fit(data).history_.loss.values
    assert free.max() > 1.0
    assert capped.max() <= 0.5 and capped.min() > 0


def test_wrong_image_size_is_explained():
    train, _ = mx.load_mnist(size=8, n_train=100, n_test=10)
    with pytest.raises(mx.ParameterError, match="load the data with size=10"):
        mx.Trainer(mx.paper_config()).fit(train)


def test_last_batch_smaller_than_dies_per_step(mnist_small):
    train, _ = mnist_small
    stats = mx.DefectStatistics(mx.paper_config(), {"short": 15})
    tr = mx.Trainer(mx.paper_config(), method="statistics_aware", sampler=stats, dies_per_step=32,
                    epochs=1, batch_size=128, seed=0).fit(train.subset(520, seed=0))  # last batch: 8
    assert tr.history_.sizes["step"] == 5
