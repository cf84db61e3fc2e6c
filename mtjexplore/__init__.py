"""mtjexplore: hardware-aware training of binary neural networks on MTJ crossbars.

The core imports numpy, torch and xarray only; widgets live in :mod:`mtjexplore.widgets`.
"""

from ._version import __version__

from .config import CrossbarConfig, DeviceParams, paper_config, paper_device
from .die import (DEFECT_CODES, DEFECT_KINDS, ClassifyThresholds, classify_defects, defect_counts,
                  ideal_die, set_defects)
from .errors import (DataFileError, FileExistsRefusedError, FileWriteError, MTJExploreError, NotFittedError,
                     ParameterError)
from .floorplan import Floorplan
from .statistics import DefectStatistics, sample_dies
from .datasets import ImageData, load_mnist, read_idx
from .evaluation import evaluate, sensitivity
from .training import Trainer
from . import recipes
from .io import load, save
from .measurements import read_measurements, read_measurements_csv, read_measurements_netcdf, write_measurements_csv
from .reference import reference_ensemble, reference_statistics
from .statistics import load_statistics
