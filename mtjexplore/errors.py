"""Exceptions raised by mtjexplore.

Every error a user can cause derives from :class:`MTJExploreError`; the subclasses also derive
from the matching built-in (``ValueError``, ``FileExistsError``, ...) so generic handlers work.
Messages name the parameter or the place (file, die, row, col), what was received and the fix.
"""


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
