"""The shared parameter checks (mtjexplore._check): booleans are never numbers, bounds are named."""

import math

import numpy as np
import pytest

from mtjexplore._check import check_bool, check_choice, check_int, check_number
from mtjexplore.errors import ParameterError


@pytest.mark.parametrize("value", [True, False, np.bool_(True), 1.0, 2.5, "3", None, float("nan")])
def test_check_int_rejects_what_is_not_an_integer(value):
    with pytest.raises(ParameterError, match=r"chunk_size must be an int >= 1; got"):
        check_int("chunk_size", value, low=1)


def test_check_int_accepts_numpy_integers_and_names_both_bounds():
    assert check_int("n", np.int64(3), low=1) == 3 and type(check_int("n", np.int64(3))) is int
    with pytest.raises(ParameterError, match=r"n must be an int in \[1, 5\]; got 6"):
        check_int("n", 6, low=1, high=5)


@pytest.mark.parametrize("value", [True, np.bool_(False), float("nan"), math.inf, -math.inf, "0.1", None])
def test_check_number_rejects_booleans_nan_and_infinities(value):
    with pytest.raises(ParameterError, match="spread must be a finite number"):
        check_number("spread", value)


def test_check_number_open_and_closed_bounds():
    assert check_number("p", 0, low=0) == 0.0
    with pytest.raises(ParameterError, match=r"p must be a finite number in \(0, 1\); got 0"):
        check_number("p", 0, low=0, high=1, low_open=True, high_open=True)
    assert check_number("r", math.inf, low=0, allow_inf=True) == math.inf
    assert check_number("x", np.float32(0.5), high=1) == 0.5


def test_check_bool_and_choice():
    assert check_bool("flag", np.bool_(True)) is True
    with pytest.raises(ParameterError, match="flag must be True or False; got 1"):
        check_bool("flag", 1)
    assert check_choice("m", "a", ("a", "b")) == "a"
    with pytest.raises(ParameterError, match="m must be one of 'a', 'b'; got 1"):
        check_choice("m", 1, ("a", "b"))
    with pytest.raises(ParameterError, match="k must be one of 1, 2; got True"):
        check_choice("k", True, (1, 2))  # True == 1, but it is not an int choice
