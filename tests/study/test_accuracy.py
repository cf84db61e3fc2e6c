"""The study's accuracy claims, checked on the full reproduction (36 reference dies, full MNIST).

Slow (several minutes on 2 cores); CI runs them. The thresholds are the issue's claims, and for
statistics-aware training what we measured (docs/results/summary.md), with a margin for the
run-to-run spread: it recovers part of the loss of software weights, not all of it.
"""

import numpy as np
import pytest

from mtjexplore.reproduce import reproduce

@pytest.fixture(scope="module")
def study():
    return reproduce(n_dies=36, seed=0, progress=False)


def _errors(study, method):
    return study.error.sel({"method": method}).values


def _baseline(study):
    return float(study.ideal_error.sel({"method": "software"}))


def test_software_baseline_at_most_10_percent(study):
    assert _baseline(study) <= 0.10


def test_software_weights_degrade_clearly_on_the_dies(study):
    unaware = _errors(study, "software")
    assert unaware.mean() - _baseline(study) >= 0.02
    assert unaware.max() - _baseline(study) >= 0.10


def test_defect_aware_within_1p5_percent_on_every_die(study):
    gaps = _errors(study, "defect_aware") - _baseline(study)
    assert gaps.max() <= 0.015, f"worst die {int(np.argmax(gaps))}: +{100 * gaps.max():.2f} %"


def test_statistics_aware_recovers_part_of_the_loss(study):
    base, unaware = _baseline(study), _errors(study, "software")
    aware = _errors(study, "statistics_aware")
    assert aware.mean() - base <= 0.75 * (unaware.mean() - base)
    assert aware.max() < unaware.max()
    assert np.median(aware) < np.median(unaware)


def test_remapping_recovers_without_retraining(study):
    base = _baseline(study)
    assert _errors(study, "remapped").mean() - base <= 0.5 * (_errors(study, "software").mean() - base)
