"""The study: the paper's 36-die reproduction, parameter sweeps and their report.

Built on the core (:mod:`mtjexplore`), which knows nothing of it:

* :mod:`.reproduce`: train the methods, map them onto an ensemble of dies, evaluate, and write one
  results folder (``results.nc``, ``weights/``, ``statistics.nc``, figures, ``summary.md``),
  resumable stage by stage;
* :mod:`.sweep`: the same per-die evaluation over a grid of methods x densities x seeds x dies,
  cell by cell on Dask, resumable;
* :mod:`.report`: summary tables, sentences and figures from a results Dataset;
* :mod:`.layout`: the one layout of a results folder (file names, the manifest, resumable stages)
  that reproduce, the sweep and the scripts share;
* :mod:`.app_data`: the weights and results shipped for the apps, copied from a finished study
  (:func:`~.app_data.build_app_data`, the one place that makes them).

The command line (:mod:`mtjexplore.cli`) only parses options and prints what these return.
"""
