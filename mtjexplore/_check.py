"""Parameter validation: one set of rules for every public function.

Each check returns the value (converted to a plain ``int``/``float`` where it is a number) or
raises :class:`~mtjexplore.errors.ParameterError` naming the parameter, the rule and the value.
Booleans are never accepted where a number is meant (``True`` is an ``int`` to Python, and
``evaluate(chunk_size=True)`` is a mistake, not a chunk of one die); numpy scalars are.

Examples
--------
>>> check_int("chunk_size", 8, low=1)
8
>>> check_int("chunk_size", True, low=1)
Traceback (most recent call last):
...
mtjexplore.errors.ParameterError: chunk_size must be an int >= 1; got True
>>> check_number("spread", 0.05, low=0, high=1, high_open=True)
0.05
>>> check_choice("method", "sofware", ("software", "defect_aware"))
Traceback (most recent call last):
...
mtjexplore.errors.ParameterError: method must be one of 'software', 'defect_aware'; got 'sofware'
"""

from __future__ import annotations

import math
import numbers

import numpy as np

from .errors import ParameterError

__all__ = ["check_bool", "check_choice", "check_device", "check_int", "check_number", "is_number"]


def _fail(name, rule, value, hint):
    hint = f" ({hint})" if hint else ""
    raise ParameterError(f"{name} must be {rule}; got {value!r}{hint}")


def _bounds(low, high, low_open=False, high_open=False):
    if low is not None and high is not None:
        return f"in {'(' if low_open else '['}{low:g}, {high:g}{')' if high_open else ']'}"
    if low is not None:
        return f"{'>' if low_open else '>='} {low:g}"
    if high is not None:
        return f"{'<' if high_open else '<='} {high:g}"
    return ""


def _within(value, low, high, low_open, high_open):
    return ((low is None or (value > low if low_open else value >= low))
            and (high is None or (value < high if high_open else value <= high)))


def is_number(value):
    """True for a real number that is not a boolean (Python or numpy).

    >>> is_number(3), is_number(2.5), is_number(np.float32(1)), is_number(True), is_number("3")
    (True, True, True, False, False)
    """
    return isinstance(value, numbers.Real) and not isinstance(value, (bool, np.bool_))


def check_int(name, value, *, low=None, high=None, hint=""):
    """An integer (not a bool, not a float) in ``[low, high]``; returns it as ``int``."""
    ok = isinstance(value, numbers.Integral) and not isinstance(value, (bool, np.bool_))
    if not ok or not _within(value, low, high, False, False):
        bounds = _bounds(low, high)
        _fail(name, f"an int{' ' + bounds if bounds else ''}", value, hint)
    return int(value)


def check_number(name, value, *, low=None, high=None, low_open=False, high_open=False,
                 allow_inf=False, hint=""):
    """A real number (not a bool, not NaN; finite unless ``allow_inf``) within the bounds.

    ``low_open``/``high_open`` exclude the bound itself. Returns the value as ``float``.
    """
    ok = is_number(value) and not math.isnan(value) and (allow_inf or math.isfinite(value))
    if not ok or not _within(value, low, high, low_open, high_open):
        bounds = _bounds(low, high, low_open, high_open)
        finite = "" if allow_inf else "finite "
        _fail(name, f"a {finite}number{' ' + bounds if bounds else ''}", value, hint)
    return float(value)


def check_bool(name, value, *, hint=""):
    """``True`` or ``False`` (numpy booleans too; not 0/1 or strings). Returns a ``bool``."""
    if not isinstance(value, (bool, np.bool_)):
        _fail(name, "True or False", value, hint)
    return bool(value)


def check_choice(name, value, choices, *, hint=""):
    """One of ``choices`` (compared with ``==``, after checking the type matches)."""
    if not any(type(value) is type(c) and value == c for c in choices):
        _fail(name, "one of " + ", ".join(repr(c) for c in choices), value, hint)
    return value


def check_device(device):
    """``torch.device`` from None (CPU), a string or a device; a ParameterError otherwise."""
    import torch

    if device is None:
        return torch.device("cpu")
    try:
        device = torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise ParameterError(f"device must be a torch device or its name ('cpu', 'cuda', "
                             f"'cuda:1'); got {device!r}") from exc
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ParameterError(f"device={str(device)!r} but this torch ({torch.__version__}) sees no "
                             "CUDA GPU; use device='cpu' or install a CUDA build of torch")
    return device
