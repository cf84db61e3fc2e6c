"""A machine-wide, first-come-first-served queue for training runs: at most N at once.

Every app kernel of a server (and every kernel of every student on one machine) trains through
the same :class:`CpuQueue`: a folder holding ``slot-<i>.lock`` files (N of them, N = the cores by
default) and one ``ticket-...`` file per waiting run. A run holds an exclusive ``flock`` on one
slot file while it trains; runs that find no free slot wait in ticket order, and each can tell
how many are ahead of it (the training panel shows "waiting for CPU (k ahead)").

Why file locks: the kernels are separate processes started by Voilà or JupyterHub, with no
shared parent to ask; ``flock`` locks are released by the kernel when a process dies, so a
killed kernel never keeps a slot, and a dead waiter's ticket is recognised (nobody holds its lock)
and removed. ``flock`` locks belong to an open file, not to a process, so two panels in one kernel
queue against each other too.

Several OS users (a hub that runs every student as their own Unix user) share one queue when
``MTJEXPLORE_QUEUE_DIR`` names the same folder for all: the lock and ticket files are created
with mode 0644 whatever the umask (``flock`` needs only read access), the folder, if mtjexplore
creates it inside a world-writable folder such as ``/tmp``, with mode 1777, and wrong modes raise
:class:`~mtjexplore._shared_files.SharedFileError` naming the path and the fix
(:mod:`mtjexplore._shared_files`).

Only the standard library is used (Linux and macOS: ``fcntl``); this module imports neither
Voilà nor widgets.

Environment
-----------
``MTJEXPLORE_TRAINING_SLOTS``
    Runs at once, machine-wide. Unset: :meth:`CpuQueue.from_env` returns None (no queue; a
    single-user session trains at once). ``mtjexplore app`` sets it to one fewer than the
    cores (at least 1; ``--training-slots``).
``MTJEXPLORE_QUEUE_DIR``
    The queue's folder; default ``<tmp>/mtjexplore-cpu-queue-<uid>`` (one queue per user, mode
    0700). Give every user the same folder (e.g. ``/tmp/mtjexplore-cpu-queue``) to share it.
"""

from __future__ import annotations

import fcntl
import itertools
import os
import tempfile
import threading
import time
from pathlib import Path

from .. import _shared_files as shared_files
from ..errors import ParameterError

SLOTS_ENV = "MTJEXPLORE_TRAINING_SLOTS"
QUEUE_DIR_ENV = "MTJEXPLORE_QUEUE_DIR"
POLL_S = 0.2  # how often a waiting run looks for a free slot
_COUNTER = itertools.count()


def default_queue_dir():
    """``<tmp>/mtjexplore-cpu-queue-<uid>``: one queue per user account on the machine."""
    return Path(tempfile.gettempdir()) / f"mtjexplore-cpu-queue-{os.getuid()}"


class CpuSlot:
    """One held slot of a :class:`CpuQueue`; :meth:`release` (or leaving ``with``) frees it."""

    def __init__(self, fd, index):
        self._fd, self.index = fd, index

    def release(self):
        fd, self._fd = self._fd, None
        if fd is not None:
            os.close(fd)  # closing the file drops its flock

    @property
    def held(self):
        return self._fd is not None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.release()


class CpuQueue:
    """At most ``slots`` training runs at once across every process using ``folder``.

    Parameters
    ----------
    slots : int, optional
        Runs at once (>= 1); default the number of cores.
    folder : path, optional
        The shared folder; default :func:`default_queue_dir` (private to this user). Processes
        that should share the CPU fairly must use the same folder and the same ``slots``.

    Raises
    ------
    SharedFileError
        This user cannot create files in the folder, or read a lock file another user made.

    Examples
    --------
    >>> import tempfile
    >>> queue = CpuQueue(slots=1, folder=tempfile.mkdtemp())
    >>> with queue.acquire() as slot:
    ...     queue.n_running()
    1
    >>> queue.n_running()
    0
    """

    def __init__(self, slots=None, folder=None):
        slots = (os.cpu_count() or 1) if slots is None else slots
        if not isinstance(slots, int) or isinstance(slots, bool) or slots < 1:
            raise ParameterError(f"slots must be an int >= 1 (training runs at once); got {slots!r}")
        self.slots = slots
        self.folder = shared_files.ensure_folder(
            folder if folder is not None else default_queue_dir(), what="the training queue folder",
            env_var=QUEUE_DIR_ENV, private=folder is None)

    @classmethod
    def from_env(cls):
        """The queue configured by ``MTJEXPLORE_TRAINING_SLOTS`` (and ``MTJEXPLORE_QUEUE_DIR``),
        or None when ``MTJEXPLORE_TRAINING_SLOTS`` is unset or empty."""
        value = os.environ.get(SLOTS_ENV, "").strip()
        if not value:
            return None
        try:
            slots = int(value)
        except ValueError:
            raise ParameterError(f"{SLOTS_ENV} must be an int >= 1; got {value!r}") from None
        return cls(slots, os.environ.get(QUEUE_DIR_ENV) or None)

    # ------------------------------------------------------------------ slots
    def try_acquire(self):
        """A free slot now, or None."""
        for index in range(self.slots):
            fd = self._open_slot(index)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                os.close(fd)
                continue
            return CpuSlot(fd, index)
        return None

    def _open_slot(self, index):
        return shared_files.open_for_lock(self.folder / f"slot-{index}.lock",
                                          what="the training queue's lock file")

    def n_running(self):
        """Slots held right now (a snapshot, for display)."""
        held = 0
        for index in range(self.slots):
            fd = self._open_slot(index)
            try:
                fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
            except OSError:
                held += 1
            finally:
                os.close(fd)
        return held

    def acquire(self, stop=None, on_wait=None, poll_s=POLL_S):
        """Wait for a slot in first-come order; returns the :class:`CpuSlot`, or None if stopped.

        Parameters
        ----------
        stop : threading.Event, optional
            Set it to give up waiting (the panel's Stop button).
        on_wait : callable, optional
            ``on_wait(n_ahead, n_running)`` is called when the run has to wait, and again whenever
            its place in the queue changes.
        poll_s : float, default 0.2
            Seconds between looks for a free slot.
        """
        stop = stop if stop is not None else threading.Event()
        ticket = self._take_ticket()
        try:
            shown = None
            while not stop.is_set():
                ahead = self._n_ahead(ticket)
                if ahead == 0:
                    slot = self.try_acquire()
                    if slot is not None:
                        return slot
                if on_wait is not None and ahead != shown:
                    shown = ahead
                    on_wait(ahead, self.n_running())
                stop.wait(poll_s)  # polling the shared folder: other processes cannot notify us
            return None
        finally:
            self._drop_ticket(ticket)

    # ------------------------------------------------------------------ tickets
    def _take_ticket(self):
        """A locked ticket file (mode 0644: others test its lock) named by arrival time; renamed
        into place only once locked."""
        name = f"ticket-{time.time_ns():020d}-{os.getpid():08d}-{next(_COUNTER):06d}"
        tmp = self.folder / f".{name}.new"
        try:
            fd = shared_files.create_exclusive(tmp)
        except PermissionError:
            raise shared_files.SharedFileError(shared_files.folder_problem(
                self.folder, "the training queue folder", QUEUE_DIR_ENV)) from None
        fcntl.flock(fd, fcntl.LOCK_EX)
        os.replace(tmp, self.folder / name)
        return name, fd

    def _drop_ticket(self, ticket):
        name, fd = ticket
        try:
            (self.folder / name).unlink(missing_ok=True)
        finally:
            os.close(fd)

    def _n_ahead(self, ticket):
        """Live tickets older than ``ticket``; tickets of dead processes are removed."""
        ahead = 0
        for path in sorted(self.folder.glob("ticket-*")):
            if path.name >= ticket[0]:
                break
            if self._alive(path):
                ahead += 1
        return ahead

    @staticmethod
    def _alive(path):
        try:
            with open(path, "rb") as handle:
                try:
                    fcntl.flock(handle, fcntl.LOCK_SH | fcntl.LOCK_NB)
                except OSError:
                    return True  # its owner holds the lock: it waits
        except (FileNotFoundError, PermissionError):
            return False  # gone, or unreadable (not one of ours: tickets are 0644): not counted
        try:
            path.unlink(missing_ok=True)  # nobody holds it: its process died while waiting
        except PermissionError:
            pass  # another user's, in a sticky folder: left for its owner, not counted
        return False
