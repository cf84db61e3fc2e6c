"""Per-die work spread over local processes (the study scripts' ``--workers``)."""

from __future__ import annotations

import concurrent.futures
import contextlib
import multiprocessing

__all__ = ["process_map"]


@contextlib.contextmanager
def process_map(workers, initializer, initargs=()):
    """A ``map(fn, tasks)`` over ``workers`` spawned processes, results in task order.

    Each process runs ``initializer(*initargs)`` once (load data, set one torch thread). With
    ``workers <= 1`` it is the built-in ``map`` in this process, which the caller has initialised
    itself. Seeds must come with the tasks, so the results do not depend on ``workers``.
    """
    if workers <= 1:
        yield map
        return
    with concurrent.futures.ProcessPoolExecutor(workers, multiprocessing.get_context("spawn"),
                                                initializer=initializer, initargs=initargs) as pool:
        yield lambda fn, tasks: pool.map(fn, tasks, chunksize=1)
