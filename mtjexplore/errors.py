"""Exceptions raised by mtjexplore.

Every error a user can cause derives from :class:`MTJExploreError`; the subclasses also derive
from the matching built-in (``ValueError``, ``FileExistsError``, ...) so generic handlers work.
Messages name the parameter or the place (file, die, row, col), what was received and the fix.
"""

import importlib.util

__all__ = ["MTJExploreError", "ParameterError", "DataFileError", "NotFittedError",
           "FileExistsRefusedError", "check", "FileWriteError", "MissingDependencyError", "require"]


class MTJExploreError(Exception):
    """Base class of every mtjexplore error."""


class ParameterError(MTJExploreError, ValueError):
    """A parameter has a value outside its allowed range or of the wrong kind."""


class DataFileError(MTJExploreError, ValueError):
    """An input file is missing, corrupt or does not have the expected layout."""


class NotFittedError(MTJExploreError, AttributeError):
    """A fitted attribute (ending in ``_``) was used before ``fit`` was called."""


class FileExistsRefusedError(MTJExploreError, FileExistsError):
    """A write would overwrite an existing file and ``overwrite=True`` was not given."""


def check(condition, message, exc=ParameterError):
    """Raise ``exc(message)`` unless ``condition`` holds."""
    if not condition:
        raise exc(message)


class FileWriteError(MTJExploreError, OSError):
    """Writing a file failed (read-only folder, full disk, name too long, library error)."""


class MissingDependencyError(MTJExploreError, ImportError):
    """An optional dependency is not installed; the message names the extra that brings it."""


def require(modules, what, extra):
    """Raise :class:`MissingDependencyError` unless every module in ``modules`` can be imported.

    Parameters
    ----------
    modules : sequence of str
        Top-level module names, e.g. ``("dask", "distributed")``.
    what : str
        What needs them, for the message, e.g. ``"Dask"``.
    extra : str
        The extra of ``mtjexplore`` that installs them, e.g. ``"dask"``.

    Examples
    --------
    >>> require(["json"], "JSON", "none")
    >>> require(["no_such_module_xyz"], "Xyz", "xyz")
    Traceback (most recent call last):
    ...
    mtjexplore.errors.MissingDependencyError: needs Xyz: pip install "mtjexplore[xyz]"
    """
    if any(importlib.util.find_spec(m) is None for m in modules):
        raise MissingDependencyError(f'needs {what}: pip install "mtjexplore[{extra}]"')
