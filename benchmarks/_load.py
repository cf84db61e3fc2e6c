"""Wait for a quiet machine before a timing measurement, and say how quiet it was.

The benchmark machine is shared: a timing taken while other jobs keep both cores busy measures
them, not us. :func:`wait_for_low_load` polls the 1-minute load average and returns once it is
below a threshold (or after a time limit, saying so); the figures go into the result file.
A quiet load average does not make the cores equally fast from one hour to the next (the
machine's neighbours share its caches and memory): :func:`core_speed_s` times a fixed piece of
work just before a measurement, so that runs can be compared with the speed they had.
"""

from __future__ import annotations

import datetime
import hashlib
import os
import statistics
import time


def load_1min():
    """The 1-minute load average, rounded to 0.01."""
    return round(os.getloadavg()[0], 2)


def wait_for_low_load(threshold=1.0, timeout_s=900.0, poll_s=30.0, log=print):
    """Poll the 1-minute load until it is below ``threshold``; at most ``timeout_s`` seconds.

    Returns a dict for the result file: the threshold, the load when the wait began and ended,
    the seconds waited and whether the threshold was reached (False: measured anyway).
    """
    start, first = time.monotonic(), load_1min()
    load = first
    while load >= threshold and time.monotonic() - start < timeout_s:
        log(f"load {load} >= {threshold}: waiting ({time.monotonic() - start:.0f} s so far)")
        time.sleep(poll_s)  # the load average moves on its own clock: polling it is the point
        load = load_1min()
    return {"threshold": threshold, "load_at_wait_start": first, "load_at_measure_start": load,
            "waited_s": round(time.monotonic() - start, 1), "reached": load < threshold,
            "utc": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")}


def core_speed_s(repeats=5):
    """Seconds one core takes for a fixed piece of work (a Python loop and hashing 64 MiB),
    median of ``repeats``: lower is faster."""
    data = bytes(64 * 2**20)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        total = 0
        for i in range(2_000_000):
            total += i * i
        hashlib.sha256(data).digest()
        times.append(time.perf_counter() - start)
    return round(statistics.median(times), 4)
