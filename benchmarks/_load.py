"""Wait for a quiet machine before a timing measurement, and say how quiet it was.

The benchmark machine is shared: a timing taken while other jobs keep both cores busy measures
them, not us. :func:`wait_for_low_load` polls the 1-minute load average and returns once it is
below a threshold (or after a time limit, saying so); the figures go into the result file.
"""

from __future__ import annotations

import datetime
import os
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
