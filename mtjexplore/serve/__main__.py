"""``python -m mtjexplore.serve ROOT [--Trait=value ...]``: run
:class:`~mtjexplore.widgets.voila_server.ClassroomVoila` (it imports Voilà, so it lives in
:mod:`mtjexplore.widgets`)."""

from ..widgets.voila_server import main

if __name__ == "__main__":
    main()
