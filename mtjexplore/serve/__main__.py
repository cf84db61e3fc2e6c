"""``python -m mtjexplore.serve ROOT [--Trait=value ...]``: run :class:`ClassroomVoila`."""

from .voila_app import main

if __name__ == "__main__":
    main()
