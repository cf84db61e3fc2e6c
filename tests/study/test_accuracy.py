"""The study's accuracy claims, checked on the full reproduction (36 reference dies, full MNIST).

Slow (~10-25 min on 2 cores); CI runs them. Thresholds are argued from what we measured at the
default device (1.8 kOhm read path: a short passes 5.4 unit weights; docs/results/summary.md,
seed 0, one torch thread) with a margin for the spread between training runs: the
statistics-aware gap moved by up to ~0.2 % between training seeds
(docs/results/short_strength/summary.md), and the software baseline itself by ~0.4 % between
training runs (8.25 % here; 8.68 % for the weights trained with two threads before issue 12).
Measured, seed 0: baseline 8.25 %; unaware +0.75 % (worst die +1.83 %), fresh dies +1.02 %;
defect-aware worst die +0.00 %; statistics-aware +0.23 %, fresh dies +0.38 %; remapped +0.18 %
(image draws +0.05 to +0.18 %); statistics-aware remapped -0.12 %.
"""

import numpy as np

# the fixture ``study`` (the full reproduction, one torch thread) is in conftest.py


def _errors(study, method):
    return study.error.sel({"method": method}).values


def _baseline(study):
    return float(study.ideal_error.sel({"method": "software"}))


def _fresh(study, method):
    return study.sens_error.sel({"method": method}).values


def test_software_baseline_at_most_10_percent(study):
    assert _baseline(study) <= 0.10


def test_software_weights_lose_accuracy_on_the_dies(study):
    # measured +0.75 % mean (s.e. 0.08 over dies), worst die +1.83 %: mild at the default device
    unaware = _errors(study, "software") - _baseline(study)
    assert unaware.mean() >= 0.004
    assert unaware.max() >= 0.01
    assert _fresh(study, "software").mean() - _baseline(study) >= 0.005  # measured +1.02 %


def test_defect_aware_within_1p5_percent_on_every_die(study):
    gaps = _errors(study, "defect_aware") - _baseline(study)
    assert gaps.max() <= 0.015, f"worst die {int(np.argmax(gaps))}: +{100 * gaps.max():.2f} %"


def test_statistics_aware_within_1_percent_on_both_ensembles(study):
    # the goal (paper: 2 %); measured +0.23 % (36 dies) and +0.38 % (500 fresh dies)
    assert _errors(study, "statistics_aware").mean() - _baseline(study) <= 0.01
    assert _fresh(study, "statistics_aware").mean() - _baseline(study) <= 0.01


def test_statistics_aware_recovers_part_of_the_loss(study):
    base, unaware = _baseline(study), _errors(study, "software")
    aware = _errors(study, "statistics_aware")
    assert aware.mean() - base <= 0.75 * (unaware.mean() - base)     # measured 0.23 vs 0.75
    assert np.median(aware) < np.median(unaware)                     # 8.40 vs 8.96 %
    assert _fresh(study, "statistics_aware").mean() < _fresh(study, "software").mean()  # 8.62 vs 9.26 %


def test_remapping_recovers_without_retraining(study):
    base = _baseline(study)
    unaware_gap = _errors(study, "software").mean() - base
    assert _errors(study, "remapped").mean() - base <= 0.5 * unaware_gap        # measured 0.18 vs 0.75
    draws = study.remap_subset_error.sel(remap_method="remapped").mean("die").values - base
    assert draws.max() <= 0.5 * unaware_gap                                      # +0.05 to +0.18
    assert _errors(study, "statistics_aware_remapped").mean() - base <= 0.005    # measured -0.12 %
