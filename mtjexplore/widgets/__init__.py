"""ipywidgets + bqplot composites for exploring MTJ crossbars (needs the ``widgets`` extra).

* :class:`CrossbarPainter` -- paint or randomize defects on a die's physical array.
* :class:`TrainingPanel` -- train weights on the fly in a worker thread, with live curves.
* :class:`EnsembleView` -- error per die for each method, and die yield under an error spec.
* :class:`Explorer` -- the three together, with the current weights' error on the painted die.

Every composite holds core objects and calls :mod:`mtjexplore`; none contains device physics.
The CSS classes each composite gives its parts are listed in its module's docstring.

:data:`METHOD_COLORS` is the colour of each method in the plots (the ensemble view draws method
``k`` in ``METHOD_COLORS[k]``), for apps that add their own figures in matching colours.
"""

from ._util import METHOD_COLORS
from .painter import CrossbarPainter
from .training_panel import TrainingPanel
from .ensemble_view import EnsembleView
from .explorer import Explorer

__all__ = ["CrossbarPainter", "TrainingPanel", "EnsembleView", "Explorer", "METHOD_COLORS"]
