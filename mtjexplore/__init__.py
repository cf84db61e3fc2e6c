"""mtjexplore: hardware-aware training of binary neural networks on MTJ crossbars.

The package's layers:

* the core (this namespace and its modules: device and die physics, floorplan and tiles, the
  network model, training, evaluation, statistics, measurements, io, remapping, and the
  registries of defect kinds (:mod:`.defects`) and methods (:mod:`.methods`)) imports numpy,
  torch and xarray only and knows no command line and no study;
* :mod:`mtjexplore.study`: the paper's study, sweeps and their report, built on the core;
* :mod:`mtjexplore.widgets`: the interactive widgets (needs the ``widgets`` extra);
* :mod:`mtjexplore.serve`: the app server for a class;
* :mod:`mtjexplore.cli`: the ``mtjexplore`` command (argument parsing and printing only).
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
from .weights import NetworkWeights, network_weights
from . import recipes
from .io import load, save
from .measurements import read_measurements, read_measurements_csv, read_measurements_netcdf, write_measurements_csv
from .reference import reference_ensemble, reference_statistics
from .statistics import load_statistics

__all__ = ["__version__", "CrossbarConfig", "DeviceParams", "paper_config", "paper_device", "DEFECT_CODES",
           "DEFECT_KINDS", "ClassifyThresholds", "classify_defects", "defect_counts", "ideal_die",
           "set_defects", "DataFileError", "FileExistsRefusedError", "FileWriteError", "MTJExploreError",
           "NotFittedError", "ParameterError", "Floorplan", "DefectStatistics", "sample_dies", "ImageData",
           "load_mnist", "read_idx", "evaluate", "sensitivity", "Trainer", "recipes", "load", "save",
           "read_measurements", "read_measurements_csv", "read_measurements_netcdf",
           "write_measurements_csv", "reference_ensemble", "reference_statistics", "load_statistics",
           "NetworkWeights", "network_weights"]
