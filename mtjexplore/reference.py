"""The reference study ensemble and the packaged example measurement file.

The paper (Borders et al., Phys. Rev. Applied 21, 054028, 2024) trains on the measured maps of
36 dies of 20,000 MTJs. **Those maps are not public.** The reference ensemble is therefore
*synthetic*: 36 dies drawn from documented, assumed statistics, the same numbers as the defaults
of :func:`mtjexplore.sample_dies`, so that the tutorials, the reproduction and any ad-hoc
``sample_dies(cfg, 36, seed=s)`` agree die for die.
"""

from __future__ import annotations

from importlib import resources

from .config import CrossbarConfig, paper_config
from .defects import REGISTRY
from .errors import ParameterError
from .statistics import DefectStatistics

__all__ = ["REFERENCE_RATES", "REFERENCE_RATE_SHAPE", "N_REFERENCE_DIES", "EXAMPLE_CSV",
           "reference_statistics", "reference_ensemble", "example_config", "example_csv_path"]

#: Mean fraction of devices per die with each defect (on 20,000 devices: 15 shorts, 1 open,
#: 0.5 stuck-P, 0.5 stuck-AP per die) -- the defaults of :func:`mtjexplore.sample_dies`.
REFERENCE_RATES = {k.name: k.reference_rate for k in REGISTRY[1:]}
#: Gamma shape of the per-die defect rate: dies differ (median ~12 shorts, some above 35).
REFERENCE_RATE_SHAPE = 2.0
#: Dies in the paper's study.
N_REFERENCE_DIES = 36
#: File name of the packaged example in the measured CSV format (synthetic data).
EXAMPLE_CSV = "example_measured_SYNTHETIC.csv"
#: Seed and die count the example CSV was generated with (``scripts/make_example_csv.py``).
EXAMPLE_SEED, EXAMPLE_N_DIES, EXAMPLE_DECIMALS = 0, 3, 3


def reference_statistics(config=None):
    """The assumed defect statistics of the reference study (the paper's maps are not public).

    Why these numbers: the paper reports dies of 20,000 MTJs whose defects are mostly shorts,
    a dozen or so per die and varying from die to die, but publishes no maps. We assume, per
    device, a short rate of 7.5e-4, an open rate of 5e-5 and stuck-P / stuck-AP rates of 2.5e-5
    each (15 shorts, 1 open, 0.5 and 0.5 stuck devices per 20,000-device die on average), each
    die's rate drawn from a gamma distribution of shape 2 (negative-binomial counts: median about
    12 shorts, a tail of dies above 35), defects placed independently, and good devices with the
    config's 5 % log-normal spread. These are exactly the defaults of
    :func:`mtjexplore.sample_dies`, so both give the same dies for the same seed. For another
    config the per-device rates are kept, so the mean counts scale with ``n_devices``.

    Parameters
    ----------
    config : CrossbarConfig, optional
        Default :func:`mtjexplore.paper_config`.

    Returns
    -------
    DefectStatistics

    Examples
    --------
    >>> reference_statistics().mean_counts["short"]
    15.0
    """
    config = paper_config() if config is None else config
    if not isinstance(config, CrossbarConfig):
        raise ParameterError(f"config must be a CrossbarConfig or None; got {config!r}")
    n = config.n_devices
    return DefectStatistics(
        config, {k: rate * n for k, rate in REFERENCE_RATES.items()},
        {k: REFERENCE_RATE_SHAPE for k in REFERENCE_RATES},
        provenance="reference statistics (assumed: the paper's measured maps are not public)")


def reference_ensemble(seed=0, config=None, n_dies=N_REFERENCE_DIES):
    """The 36-die reference ensemble used by the tutorials and the reproduction (synthetic).

    The paper's measured maps are not public; these dies are sampled from
    :func:`reference_statistics` (assumptions documented there) and equal
    ``sample_dies(config, n_dies, seed=seed)``.

    Parameters
    ----------
    seed : int, default 0
    config : CrossbarConfig, optional
        Default :func:`mtjexplore.paper_config`.
    n_dies : int, default 36

    Returns
    -------
    xarray.Dataset
        Ensemble with dims ``(die, row, col)``.

    Examples
    --------
    >>> ens = reference_ensemble()
    >>> dict(ens.sizes), ens.attrs["seed"]
    ({'die': 36, 'row': 101, 'col': 200}, 0)
    """
    ens = reference_statistics(config).sample(n_dies, seed)
    ens.attrs["provenance"] = ("reference ensemble (synthetic: sampled from assumed statistics; "
                               "the paper's measured maps are not public)")
    return ens


def example_config():
    """The small network the packaged example CSV is made for: 16 -> 8 -> 10 (MNIST at size=4).

    Examples
    --------
    >>> example_config().n_devices, example_config().floorplan.shape
    (452, (17, 36))
    """
    return CrossbarConfig(n_inputs=16, n_hidden=8, n_outputs=10)


def example_csv_path():
    """Path of the packaged example file in the measured CSV format (synthetic data).

    It holds dies 0..2 of ``reference_ensemble(seed=0, config=example_config(), n_dies=3)``,
    written as resistances rounded to 1 milliohm; import it with
    ``read_measurements(example_csv_path(), config=example_config())``. See
    ``mtjexplore/data/README_example.md``.
    """
    return resources.files("mtjexplore") / "data" / EXAMPLE_CSV
