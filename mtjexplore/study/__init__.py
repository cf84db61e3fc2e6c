"""The study: the paper's 36-die reproduction, parameter sweeps and their report.

Built on the core (:mod:`mtjexplore`), which knows nothing of it:

* :mod:`.reproduce`: train the methods, map them onto an ensemble of dies, evaluate, and write one
  results folder (``results.nc``, ``weights/``, ``statistics.nc``, figures, ``summary.md``);
* :mod:`.sweep`: the same per-die evaluation over a grid of methods x densities x seeds x dies,
  cell by cell on Dask, resumable;
* :mod:`.report`: summary tables, sentences and figures from a results Dataset.

The command line (:mod:`mtjexplore.cli`) only parses options and prints what these return.
"""
