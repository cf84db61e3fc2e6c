"""The full reproduction (36 reference dies, full MNIST), run once per test session.

``test_committed_results.py`` (the study's claims, and every number identical to
``docs/results/results.nc``) reads it; keep every test that needs it in that one file, since under
``--dist loadfile`` another file may go to another worker, which would run the study again. It
runs with one torch thread, as ``scripts/regenerate_results.sh`` ran the committed study (see
``test_committed_results.py`` for why the thread count matters).
"""

import pytest
import torch

from mtjexplore.study.reproduce import reproduce


@pytest.fixture(scope="session")
def study():
    threads = torch.get_num_threads()
    study = reproduce(n_dies=36, seed=0, progress=False, n_threads=1)
    assert torch.get_num_threads() == threads  # the study's one thread is restored after
    return study
