"""When a spare (pre-heated) kernel may start loading: one at a time, once the pages are quiet.

With ``mtjexplore app --preheat N`` each visitor takes a spare kernel and Voilà starts a
replacement at once. After a burst (a class opening the app together) that is N kernel loads
(each imports torch and runs the app notebook) on the cores that the N visitors' pages need in
the same seconds: measured on 2 cores, 8 visitors at once waited ~40-57 s instead of a few.
:class:`RefillGate` holds the replacements back:

* a spare starts loading only when no page is still loading (its HTML being served, or its
  kernel handed out but not yet connected to by the page's scripts) and none has been requested
  or connected for ``quiet_s`` seconds;
* spares load one at a time (the next starts once the previous one has loaded its app);
* a spare that a visitor is already waiting for (more visitors than spares) goes at once: that
  visitor would otherwise wait for the quiet spell too.

The kernel manager (:class:`mtjexplore.widgets.voila_server.VisitorKernelManager`) tells the
gate about page requests, kernels started and kernels loaded; the gate only keeps the books and
an :class:`asyncio.Event`, so it is tested without Voilà. A kernel counts as loaded when it
reaches ``voila.utils.wait_for_request()`` (it then connects to the server's query socket), when
its notebook run ends (it failed) or when it is shut down; one that does none of these within
``loading_limit_s`` no longer holds the others back.
"""

from __future__ import annotations

import asyncio
import math
import time

from ..errors import ParameterError

DEFAULT_QUIET_S = 10.0
LOADING_LIMIT_S = 300.0
CONNECT_LIMIT_S = 120.0  # a page whose scripts never connect (the visitor left) stops counting


class GateClosedError(RuntimeError):
    """The server is stopping: a spare kernel waiting for its turn is not started."""


class RefillGate:
    """Books of page requests and loading spare kernels; :meth:`turn` waits for a spare's turn.

    Parameters
    ----------
    quiet_s : float, default 10
        Seconds without an app page request before a spare starts loading (0: no wait, spares
        still load one at a time).
    loading_limit_s : float, default 300
        A spare that has not loaded after this long stops holding the next one back.
    connect_limit_s : float, default 120
        A page whose scripts have not connected to its kernel after this long (the visitor left)
        stops holding the refill back.
    clock : callable, default time.monotonic
        Seconds, for the quiet spell (tests pass a fake clock and call :meth:`wake`).
    log : callable, optional
        ``log(message)`` for each spare that starts or has loaded (the server's INFO log).

    Examples
    --------
    >>> gate = RefillGate(quiet_s=10, clock=lambda: 100.0)
    >>> gate.seconds_to_wait()
    0.0
    >>> gate.page_started(); gate.seconds_to_wait() is None  # a page is being served
    True
    >>> gate.page_finished(); gate.seconds_to_wait()       # ... then 10 s of quiet
    10.0
    """

    def __init__(self, quiet_s=DEFAULT_QUIET_S, *, loading_limit_s=LOADING_LIMIT_S,
                 connect_limit_s=CONNECT_LIMIT_S, clock=time.monotonic, log=None):
        self.quiet_s = check_quiet_s(quiet_s)
        self.loading_limit_s, self.connect_limit_s = loading_limit_s, connect_limit_s
        self._clock, self._log = clock, log or (lambda message: None)
        self._last_page = -math.inf
        self._pages = 0
        self._loading = {}       # key (a task, then the kernel id) -> clock time it started
        self._unconnected = {}   # kernel id of a page served, not yet connected -> clock time
        self._claimed = set()    # keys a visitor waits for
        self._event = None       # created in the running loop
        self._closed = False

    # ------------------------------------------------------------------ what the server reports
    def page_started(self):
        """An app page request arrived."""
        self._pages += 1
        self._last_page = self._clock()

    def page_finished(self):
        """An app page request ended (served, refused or failed)."""
        self._pages = max(self._pages - 1, 0)
        self._last_page = self._clock()
        self.wake()

    def page_served(self, kernel_id):
        """A page got the kernel ``kernel_id``; it is loading until its scripts connect to it."""
        self._unconnected[kernel_id] = self._clock()

    def page_connected(self, kernel_id=None):
        """A page connected to its kernel (its widgets load now): the quiet spell starts again."""
        self._unconnected.pop(kernel_id, None)
        self._last_page = self._clock()
        self.wake()

    def claim(self, key):
        """A visitor waits for the spare ``key``: it may start at once."""
        self._claimed.add(key)
        self.wake()

    def started(self, key, kernel_id):
        """The spare ``key`` that had its turn is now the kernel ``kernel_id``."""
        self._loading[kernel_id] = self._loading.pop(key, self._clock())
        self._claimed.discard(key)

    def loaded(self, key):
        """The spare ``key`` (a kernel id, or the key of a start that failed) has loaded or ended."""
        if self._loading.pop(key, None) is not None:
            self._log(f"spare kernel {key} has loaded ({len(self._loading)} still loading)")
        self._claimed.discard(key)
        self.wake()

    def close(self):
        """The server stops: every waiting :meth:`turn` raises :class:`GateClosedError`."""
        self._closed = True
        self.wake()

    def wake(self):
        """Have waiting turns look again (after a change, or after moving a fake clock)."""
        if self._event is not None:
            self._event.set()

    # ------------------------------------------------------------------ the decision
    @property
    def n_loading(self):
        """Spares loading now (not counting ones past ``loading_limit_s``)."""
        now = self._clock()
        return sum(now - since < self.loading_limit_s for since in self._loading.values())

    def seconds_to_wait(self):
        """0.0 if a spare may start now; else seconds until the quiet spell ends, or None when
        it waits for an event (a page being served, a spare loading)."""
        if self._pages:
            return None
        now = self._clock()
        pending = [since + limit - now
                   for times, limit in ((self._loading, self.loading_limit_s),
                                        (self._unconnected, self.connect_limit_s))
                   for since in times.values() if now - since < limit]
        if pending:
            return min(pending)
        return max(self._last_page + self.quiet_s - now, 0.0)

    async def turn(self, key, what="a spare kernel"):
        """Wait until the spare ``key`` may start loading; from then on it counts as loading.

        Raises :class:`GateClosedError` if the server stops first.
        """
        if self._event is None:
            self._event = asyncio.Event()
        while not self._closed and key not in self._claimed:
            wait_s = self.seconds_to_wait()
            if wait_s == 0.0:
                break
            self._event.clear()
            try:
                await asyncio.wait_for(self._event.wait(), wait_s)
            except asyncio.TimeoutError:
                pass
        if self._closed:
            raise GateClosedError(f"the server is stopping: {what} is not started")
        self._loading[key] = self._clock()
        reason = ("a visitor is waiting for it" if key in self._claimed else
                  f"no page request for {self.quiet_s:g} s and no other spare loading")
        self._log(f"starting {what}: {reason}")

    def is_loading(self, key):
        """Whether the spare ``key`` has had its turn and has not loaded yet."""
        return key in self._loading


def check_quiet_s(value):
    """``value`` if it is a number of seconds >= 0, else :class:`~mtjexplore.errors.ParameterError`."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value >= 0 \
            or not math.isfinite(value):
        raise ParameterError(f"refill_quiet_s must be a number of seconds >= 0 (how long no page "
                             f"is requested before a spare kernel loads); got {value!r}")
    return float(value)
