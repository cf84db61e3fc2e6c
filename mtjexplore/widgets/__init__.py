"""ipywidgets + bqplot composites for exploring MTJ crossbars (needs the ``widgets`` extra).

* :class:`CrossbarPainter` -- paint or randomize defects on a die's physical array.
* :class:`TrainingPanel` -- train weights on the fly in a worker thread, with live curves.
* :class:`EnsembleView` -- error per die for each method, and die yield under an error spec.
* :class:`Explorer` -- the three together, with the current weights' error on the painted die.
* :class:`StudyApp` -- the 36-die study: ensemble view, yield and sensitivity curves, a
  read-only die map and a training panel whose runs join the comparison.

Every composite holds core objects and calls :mod:`mtjexplore`; none contains device physics.
The CSS classes each composite gives its parts are listed in its module's docstring.

:data:`METHOD_COLORS` maps each training method's name to its colour, and :func:`method_color`
finds the colour of a method or of a run of it ("defect-aware, die 7, run 2"): every view of
both apps uses it, so a method keeps its colour whatever the order of the runs.

Without ipywidgets, bqplot or ipyevents, ``import mtjexplore.widgets`` raises
:class:`mtjexplore.cli.MissingDependencyError` (an ``ImportError``) that names the extra to install.
"""

import importlib.util as _importlib_util

from ..errors import MissingDependencyError as _MissingDependencyError

_MISSING = [m for m in ("ipywidgets", "bqplot", "ipyevents") if _importlib_util.find_spec(m) is None]
if _MISSING:
    raise _MissingDependencyError(f"mtjexplore.widgets needs {', '.join(_MISSING)} (not installed): "
                                  'pip install "mtjexplore[widgets]"')

from .runs import METHOD_COLORS, method_color  # noqa: E402 (after the check above)
from .painter import CrossbarPainter  # noqa: E402
from .training_panel import TrainingPanel  # noqa: E402
from .ensemble_view import EnsembleView  # noqa: E402
from .explorer import Explorer  # noqa: E402
from .study_app import StudyApp  # noqa: E402

__all__ = ["CrossbarPainter", "TrainingPanel", "EnsembleView", "Explorer", "StudyApp",
           "METHOD_COLORS", "method_color"]
