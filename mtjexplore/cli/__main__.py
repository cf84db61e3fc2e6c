"""``python -m mtjexplore.cli``: the same as the ``mtjexplore`` command."""

import sys

from . import main

sys.exit(main())
