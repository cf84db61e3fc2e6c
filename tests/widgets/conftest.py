"""Fixtures for the headless widget tests: small data, one die, a small ensemble, quick weights."""

import pytest


@pytest.fixture(scope="session")
def data_2000():
    import mtjexplore as mx

    return mx.load_mnist(n_train=2000, n_test=500)


@pytest.fixture(scope="session")
def small_ensemble():
    import mtjexplore as mx

    return mx.sample_dies(mx.paper_config(), 4, seed=0)


@pytest.fixture()
def die(small_ensemble):
    return small_ensemble.isel(die=0)


@pytest.fixture(scope="session")
def weights_2000(data_2000):
    import mtjexplore as mx

    train, _ = data_2000
    return mx.Trainer(mx.paper_config(), epochs=1, seed=0).fit(train).weights_


@pytest.fixture()
def mouse():
    """Make mouse event dicts like ipyevents sends them (see :func:`mouse_event`)."""
    return mouse_event


def mouse_event(kind, cell, shape=(101, 200), margin=None, size=(900, 470), buttons=1):
    """An ipyevents-like mouse event dict aimed at the centre of ``cell`` of a painter figure."""
    margin = margin or {"top": 28, "bottom": 36, "left": 48, "right": 12}
    width = size[0] - margin["left"] - margin["right"]
    height = size[1] - margin["top"] - margin["bottom"]
    row, col = cell
    return {"type": kind, "button": 0, "buttons": buttons,
            "relativeX": margin["left"] + (col + 0.5) * width / shape[1],
            "relativeY": margin["top"] + (row + 0.5) * height / shape[0],
            "boundingRectWidth": size[0], "boundingRectHeight": size[1]}
