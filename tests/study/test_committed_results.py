"""The full study (36 reference dies, full MNIST): its accuracy claims, and every number identical
to the committed ``docs/results/results.nc`` (below).

Slow (~10-25 min on 2 cores); CI runs them. Thresholds are argued from what we measured at the
default device (1.8 kOhm read path: a short passes 5.4 unit weights; half-integer comparator
thresholds; docs/results/summary.md, seed 0, one torch thread) with a margin for the spread between
training runs: over training seeds 0-2 the statistics-aware gap was +0.24 to +0.75 % and the
software baseline 7.51-8.13 % (docs/results/seeds/summary.md).
Measured, seed 0: baseline 7.86 %; unaware +0.70 % (worst die +1.79 %), fresh dies +0.79 %;
defect-aware worst die +0.40 %; statistics-aware +0.38 %, fresh dies +0.41 %; remapped +0.13 %
(image draws +0.09 to +0.21 %); statistics-aware remapped +0.01 %.
"""

from pathlib import Path

import numpy as np
import pytest

import mtjexplore as mx

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
    # measured +0.70 % mean (s.e. 0.09 over dies), worst die +1.79 %: mild at the default device
    unaware = _errors(study, "software") - _baseline(study)
    assert unaware.mean() >= 0.004
    assert unaware.max() >= 0.01
    assert _fresh(study, "software").mean() - _baseline(study) >= 0.005  # measured +0.79 %


def test_defect_aware_within_1p5_percent_on_every_die(study):
    gaps = _errors(study, "defect_aware") - _baseline(study)
    assert gaps.max() <= 0.015, f"worst die {int(np.argmax(gaps))}: +{100 * gaps.max():.2f} %"


def test_statistics_aware_within_1_percent_on_both_ensembles(study):
    # the goal (paper: 2 %); measured +0.38 % (36 dies) and +0.41 % (500 fresh dies)
    assert _errors(study, "statistics_aware").mean() - _baseline(study) <= 0.01
    assert _fresh(study, "statistics_aware").mean() - _baseline(study) <= 0.01


def test_statistics_aware_recovers_part_of_the_loss(study):
    base, unaware = _baseline(study), _errors(study, "software")
    aware = _errors(study, "statistics_aware")
    assert aware.mean() - base <= 0.75 * (unaware.mean() - base)     # measured 0.38 vs 0.70
    assert np.median(aware) < np.median(unaware)                     # 8.17 vs 8.39 %
    assert _fresh(study, "statistics_aware").mean() < _fresh(study, "software").mean()  # 8.27 vs 8.65 %


def test_remapping_recovers_without_retraining(study):
    base = _baseline(study)
    unaware_gap = _errors(study, "software").mean() - base
    assert _errors(study, "remapped").mean() - base <= 0.5 * unaware_gap        # measured 0.13 vs 0.70
    draws = study.remap_subset_error.sel(remap_method="remapped").mean("die").values - base
    assert draws.max() <= 0.5 * unaware_gap                                      # +0.09 to +0.21
    assert _errors(study, "statistics_aware_remapped").mean() - base <= 0.005    # measured +0.01 %


# ---------------------------------------------------------------- the committed study, bit for bit
# The 36-die study, bit for bit: every die's error of every method identical to the committed
# ``docs/results/results.nc`` (issue 11: the study table must not move when the code is reorganised).
# 
# The committed results were written by ``scripts/regenerate_results.sh``, which ran
# ``mtjexplore reproduce`` with ``torch.set_num_threads(1)``. The thread count matters: torch splits
# the reductions of a matmul across threads, which changes the order of floating-point additions.
# Measured here (quick settings, 4 dies, seed 0, one against two threads): the errors, weights and
# placements were identical, but the defect-aware loss of 2 of the 4 dies moved by 6e-8 (one float32
# ulp); over a full training such a last-bit change may also flip a binarised weight. So the study
# runs on one thread whatever the caller set (``reproduce(n_threads=1)``, the default since this
# test; ``tests/conftest.py`` also sets one thread per pytest/xdist worker), and the fixture
# (``conftest.py``) asks for it explicitly. With one thread the full study reproduced
# ``docs/results/results.nc`` exactly (every variable, checked before and after the study was made
# resumable).
# (Both parts are in one file: under ``--dist loadfile`` two files may go to two workers, and each
# worker would run the whole study again.)



COMMITTED = Path(__file__).resolve().parents[2] / "docs" / "results" / "results.nc"


@pytest.fixture(scope="module")
def committed():
    return mx.load(COMMITTED)


def _mismatches(study, committed, name):
    """``method, die: got ... committed ...`` for every differing number of ``name``."""
    out = []
    for method in committed.method.values:
        got = study[name].sel({"method": method})
        want = committed[name].sel({"method": method})
        for die in committed.die.values:
            a, b = float(got.sel(die=die)), float(want.sel(die=die))
            if not (a == b or (np.isnan(a) and np.isnan(b))):
                out.append(f"{name}: method {method}, die {int(die)}: got {a!r}, committed {b!r}")
    return out


def test_same_methods_and_dies(study, committed):
    assert list(study.method.values) == list(committed.method.values)
    np.testing.assert_array_equal(study.die.values, committed.die.values)


@pytest.mark.parametrize("name", ["error", "loss"])
def test_every_die_of_every_method_identical(study, committed, name):
    bad = _mismatches(study, committed, name)
    assert not bad, f"{len(bad)} numbers differ from {COMMITTED}:\n" + "\n".join(bad)
    for method in committed.method.values:
        np.testing.assert_array_equal(study[name].sel({"method": method}).values,
                                      committed[name].sel({"method": method}).values,
                                      err_msg=f"{name} of method {method} (per die)")


@pytest.mark.parametrize("name", ["ideal_error", "ideal_loss", "sens_error", "sens_loss",
                                  "remap_subset_error", "defect_aware_rounds", "remap_hidden_slot",
                                  "remap_hidden_swap", "remap_output_slot", "remap_output_swap"])
def test_the_other_numbers_identical(study, committed, name):
    np.testing.assert_array_equal(study[name].values, committed[name].values, err_msg=name)
