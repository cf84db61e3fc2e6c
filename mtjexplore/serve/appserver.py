"""What ``mtjexplore app`` runs: serve the Voilà apps (``explorer``, ``ensemble``), to one user or a class.

The app notebooks live in ``mtjexplore/apps/`` (the one copy; the repository's top-level
``apps`` is a link to it), so the same code finds them in a source checkout and in an installed
package. Voilà runs in a child process of its own session, serving that folder, so every app is
reachable from one server at ``<base-url>voila/render/<name>.ipynb``. The child is
:mod:`mtjexplore.serve` (Voilà plus a Host allow-list, a kernel cap and a page that needs no CDN);
its command is built from one dict of traitlets options (traitlets rejects a flag given twice)
and always:

* listens on one address and port (127.0.0.1 unless ``--ip``; no silent move to another port);
* answers only allowed ``Host`` names and websocket ``Origin`` headers (loopback unless
  ``--allow-host``);
* strips notebook sources from the page and hides tracebacks;
* shuts a kernel down when its page closes, and culls idle kernels (a tab that never said
  goodbye otherwise keeps ~500 MiB);
* optionally keeps ``--preheat N`` kernels per app ready, refilled one at a time once no page
  has been requested for ``--refill-quiet`` seconds (:mod:`.refill`), and caps visitors' kernels
  (``--max-kernels``: past it a page says the server is full, HTTP 503).

:class:`AppServer` is what the command line, the tests and the benchmarks use.
This module imports neither Voilà nor the widgets: it only starts a process.
"""

from __future__ import annotations

import errno
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from ..errors import MTJExploreError, ParameterError
from .refill import DEFAULT_QUIET_S, check_quiet_s

APPS_DIR = Path(__file__).resolve().parents[1] / "apps"
# A Jupyter data folder (for JUPYTER_PATH) holding the apps' page template, voila/templates/mtjexplore
TEMPLATE_ROOT = Path(__file__).resolve().parent / "share" / "jupyter"
PAGE_TEMPLATE = "mtjexplore"
HOST = "127.0.0.1"
DEFAULT_PORT = 8866
DEFAULT_APP = "explorer"
IOPUB_TIMEOUT_S = 120  # seconds Voilà waits for a cell's output after the cell ran (see voila_options)
APP_MODULES = ("voila", "ipywidgets", "bqplot", "ipyevents")  # what serving the apps imports


class AppServerError(MTJExploreError, RuntimeError):
    """The Voilà server could not be started or did not answer."""


# ---------------------------------------------------------------------------- apps and data
def available_apps(apps_dir=None):
    """Names of the apps (notebooks) in ``apps_dir`` (default: the packaged apps), sorted.

    Examples
    --------
    >>> "explorer" in available_apps()
    True
    """
    folder = Path(apps_dir) if apps_dir is not None else APPS_DIR
    return sorted(p.stem for p in folder.glob("*.ipynb"))


def app_path(name, apps_dir=None):
    """Path of the app notebook ``name`` (``"explorer"`` or ``"explorer.ipynb"``)."""
    folder = Path(apps_dir) if apps_dir is not None else APPS_DIR
    stem = Path(str(name)).stem if str(name).endswith(".ipynb") else str(name)
    names = available_apps(folder)
    if stem not in names:
        raise ParameterError(f"no app named {name!r}; available apps: {', '.join(names) or 'none'} "
                             f"(in {folder})")
    return folder / f"{stem}.ipynb"


# ---------------------------------------------------------------------------- kernels' environment
def default_cache_dir():
    """Where app kernels share their memory-mapped data cache: ``$XDG_CACHE_HOME/mtjexplore``
    (``~/.cache/mtjexplore``), or the temporary folder when the home folder is not writable."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    folder = Path(base) / "mtjexplore"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        if os.access(folder, os.W_OK):
            return folder
    except OSError:
        pass
    import tempfile

    return Path(tempfile.gettempdir()) / f"mtjexplore-cache-{os.getuid()}"


def default_training_slots():
    """Training runs at once by default: one fewer than the cores, at least 1."""
    return max((os.cpu_count() or 1) - 1, 1)


def kernel_env(cache_dir=None, training_slots=None):
    """Environment variables the app server gives Voilà and its kernels, to cut per-kernel cost.

    * ``MALLOC_ARENA_MAX=2``: glibc keeps at most 2 malloc arenas instead of one per thread
      (the training and evaluation threads would each keep their own, with freed buffers in it);
    * ``MALLOC_MMAP_THRESHOLD_=1048576`` and ``MALLOC_TRIM_THRESHOLD_=4194304``: blocks of 1 MiB
      and more (batches, evaluation buffers) are mapped and returned to the system when freed,
      instead of staying in the heap;
    * ``OMP_NUM_THREADS=1`` (and MKL's, OpenBLAS's): one compute thread per kernel; the
      machine-wide training queue (:mod:`mtjexplore.serve.cpu_queue`) spreads the runs over
      the cores;
    * ``MTJEXPLORE_DATA_CACHE``: the memory-mapped MNIST cache that kernels share
      (:func:`mtjexplore.datasets.data_cache_dir`);
    * ``MTJEXPLORE_TRAINING_SLOTS``: trainings running at once, machine-wide (default: one fewer
      than the cores, at least 1, so a core stays free for painting and clicking; measured in
      ``benchmarks/results/click_under_load.md``).

    Examples
    --------
    >>> env = kernel_env(cache_dir="/tmp/c", training_slots=2)
    >>> env["MALLOC_ARENA_MAX"], env["MTJEXPLORE_DATA_CACHE"], env["MTJEXPLORE_TRAINING_SLOTS"]
    ('2', '/tmp/c', '2')
    """
    return {"MALLOC_ARENA_MAX": "2", "MALLOC_MMAP_THRESHOLD_": "1048576",
            "MALLOC_TRIM_THRESHOLD_": "4194304", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
            "OPENBLAS_NUM_THREADS": "1",
            "MTJEXPLORE_DATA_CACHE": str(cache_dir if cache_dir is not None else default_cache_dir()),
            "MTJEXPLORE_TRAINING_SLOTS": _slots_value(training_slots)}


def _slots_value(training_slots):
    """``MTJEXPLORE_TRAINING_SLOTS`` for ``training_slots`` (None: the default), checked."""
    if training_slots is None:
        training_slots = default_training_slots()
    _check_count("training_slots", training_slots)
    return str(max(training_slots, 1))


# ---------------------------------------------------------------------------- the command
def voila_options(port, *, ip=HOST, base_url="/", preheat=0, refill_quiet_s=DEFAULT_QUIET_S,
                  max_kernels=0, allow_hosts=(), cull_idle_timeout_s=120, cull_interval_s=30,
                  log_level="WARN"):
    """Traitlets options of the app server's command, one entry per option.

    Parameters
    ----------
    port : int
        TCP port, 1-65535.
    ip : str, default "127.0.0.1"
        Address to listen on (``0.0.0.0``: every interface).
    base_url : str, default "/"
        URL prefix of every page, e.g. ``/mtj/`` behind a proxy; starts and ends with ``/``.
    preheat : int, default 0
        Kernels kept ready per app (app loaded, waiting for a visitor); 0 disables pre-heating.
    refill_quiet_s : float, default 10
        With pre-heating: seconds without an app page request before the pool is refilled
        (one kernel at a time), so refills do not compete with a burst of visitors' pages.
    max_kernels : int, default 0
        Visitors' kernels at once; past it a page says the server is full (HTTP 503). 0: no cap.
    allow_hosts : sequence of str
        Host names answered besides the loopback names (``"*"``: any).
    cull_idle_timeout_s, cull_interval_s : int
        Kernels idle (no open page) this long are shut down; 0 disables culling.
    log_level : str, default "WARN"

    Examples
    --------
    >>> opts = voila_options(9000)
    >>> opts["Voila.ip"], opts["Voila.port"], opts["VoilaConfiguration.strip_sources"]
    ('127.0.0.1', 9000, True)
    """
    for name, value in (("cull_idle_timeout_s", cull_idle_timeout_s), ("cull_interval_s", cull_interval_s),
                        ("preheat", preheat), ("max_kernels", max_kernels)):
        _check_count(name, value)
    _check_port(port, allow_zero=False)
    refill_quiet_s = check_quiet_s(refill_quiet_s)
    opts = {
        "Voila.ip": _check_ip(ip),
        "Voila.port": port,
        "Voila.port_retries": 0,
        "Voila.base_url": _check_base_url(base_url),
        "Voila.open_browser": False,
        "Voila.log_level": log_level,
        "VoilaConfiguration.strip_sources": True,
        "VoilaConfiguration.show_tracebacks": False,
        # nbclient's default (4 s) of waiting for a cell's output after its reply: when many
        # kernels load at once (a pre-heated pool filling) it ran out, the cell's output (the
        # app's widgets) was dropped, and the page stayed blank. The wait ends at the kernel's
        # "idle" message, so a long limit costs nothing when the machine keeps up.
        "VoilaExecutor.iopub_timeout": IOPUB_TIMEOUT_S,
        "MappingKernelManager.cull_idle_timeout": cull_idle_timeout_s,
        "MappingKernelManager.cull_interval": cull_interval_s,
        "ClassroomVoila.max_kernels": max_kernels,
        "ClassroomVoila.allow_hosts": ",".join(_check_hosts(allow_hosts)),
    }
    if preheat:
        opts.update({"VoilaConfiguration.preheat_kernel": True,
                     "VoilaConfiguration.default_pool_size": preheat,
                     "ClassroomVoila.refill_quiet_s": refill_quiet_s})
    return opts


def voila_command(root, options):
    """The argv that serves the folder ``root`` with the given :func:`voila_options`."""
    flags = [f"--{key}={_flag_value(value)}" for key, value in options.items()]
    return [sys.executable, "-m", "mtjexplore.serve", str(root), *flags]


def _flag_value(value):
    if isinstance(value, bool):
        return "True" if value else "False"
    return str(value)


def _check_count(name, value):
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise ParameterError(f"{name} must be an int >= 0 (0 disables it); got {value!r}")


def _check_port(port, allow_zero=True):
    low = 0 if allow_zero else 1
    if not isinstance(port, int) or isinstance(port, bool) or not low <= port <= 65535:
        hint = " (0: pick a free port)" if allow_zero else ""
        raise ParameterError(f"port must be an int in [{low}, 65535]{hint}; got {port!r}")


def _check_ip(ip):
    try:
        socket.getaddrinfo(ip, None, proto=socket.IPPROTO_TCP, flags=socket.AI_NUMERICHOST)
    except (socket.gaierror, TypeError, UnicodeError):
        raise ParameterError(f"ip must be an IP address to listen on (127.0.0.1: this machine only; "
                             f"0.0.0.0: every interface); got {ip!r}") from None
    return ip


def _check_base_url(base_url):
    if not isinstance(base_url, str) or not base_url.startswith("/") or not base_url.endswith("/") \
            or "//" in base_url or any(c in base_url for c in "?#"):
        raise ParameterError(f"base_url must start and end with '/' (e.g. /mtj/); got {base_url!r}")
    return base_url


def _check_hosts(hosts):
    from .guard import normalize_hosts

    if isinstance(hosts, str):
        raise ParameterError(f"allow_hosts must be a list of host names; got the string {hosts!r}")
    try:
        normalize_hosts(hosts)
    except ValueError as exc:
        raise ParameterError(str(exc)) from None
    if any("," in str(h) for h in hosts):
        raise ParameterError(f"give each allowed host on its own (--allow-host A --allow-host B); got {list(hosts)!r}")
    return [str(h).strip() for h in hosts]


def free_port(ip=HOST):
    """A TCP port on ``ip`` that is free right now."""
    with socket.socket(_family(ip)) as sock:
        sock.bind((ip, 0))
        return sock.getsockname()[1]


def port_in_use(port, ip=HOST):
    """Whether a server could not listen on ``ip:port`` now.

    The probe sets ``SO_REUSEADDR`` as the server does, so sockets of a stopped server still in
    TIME_WAIT do not count as "in use"; a listening socket does.
    """
    return _bind_error(port, ip) is not None


def _bind_error(port, ip):
    """The OSError of listening on ``ip:port`` now, or None if a server could."""
    with socket.socket(_family(ip)) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((ip, port))
            sock.listen(1)
        except OSError as exc:
            return exc
    return None


def _check_listenable(port, ip):
    exc = _bind_error(port, ip)
    if exc is None:
        return
    if exc.errno == errno.EADDRNOTAVAIL:
        raise AppServerError(f"{ip} is not an address of this machine; pass one of its addresses "
                             "(--ip), or 0.0.0.0 for every interface")
    if exc.errno == errno.EACCES:
        raise AppServerError(f"no permission to listen on port {port}; ports below 1024 need "
                             "privileges: pass --port 8866 (or another port above 1023)")
    raise AppServerError(f"port {port} on {ip} is already in use; pass another port "
                         "(--port N) or 0 for a free one (--port 0)")


def _family(ip):
    return socket.AF_INET6 if ":" in str(ip) else socket.AF_INET


def is_loopback(ip):
    """Whether listening on ``ip`` keeps the server on this machine."""
    from .guard import is_loopback as _is_loopback

    return _is_loopback(ip)


# ---------------------------------------------------------------------------- the server
class AppServer:
    """A Voilà server for a folder of apps, in its own process group.

    Parameters
    ----------
    port : int, default 8866
        0 picks a free port.
    root : path, optional
        Folder of notebooks to serve; default the packaged apps.
    log_path : path, optional
        Where Voilà's log goes; default: inherit this process's stderr.
    ip, base_url, preheat, refill_quiet_s, max_kernels, allow_hosts, cull_idle_timeout_s, cull_interval_s, log_level
        As in :func:`voila_options`.
    training_slots : int, optional
        Training runs at once on the machine (``MTJEXPLORE_TRAINING_SLOTS``); default one fewer
        than the cores (at least 1), which keeps a core for painting and clicking.
    env : dict, optional
        Extra environment variables for the server and its kernels.

    Examples
    --------
    Use as a context manager (starts, waits until it answers, stops at exit)::

        with AppServer(port=0) as server:
            print(server.app_url("explorer"))
    """

    def __init__(self, *, port=DEFAULT_PORT, root=None, log_path=None, ip=HOST, base_url="/",
                 preheat=0, refill_quiet_s=DEFAULT_QUIET_S, max_kernels=0, allow_hosts=(),
                 cull_idle_timeout_s=120, cull_interval_s=30, log_level="WARN", training_slots=None,
                 env=None):
        _check_port(port)
        self.root = Path(root) if root is not None else APPS_DIR
        if not self.root.is_dir():
            raise ParameterError(f"root must be a folder of notebooks; {self.root} is not a folder")
        self.ip = _check_ip(ip)
        if port:
            _check_listenable(port, self.ip)
        self.port = port or free_port(self.ip)
        self.options = voila_options(self.port, ip=self.ip, base_url=base_url, preheat=preheat,
                                     refill_quiet_s=refill_quiet_s, max_kernels=max_kernels,
                                     allow_hosts=allow_hosts,
                                     cull_idle_timeout_s=cull_idle_timeout_s,
                                     cull_interval_s=cull_interval_s, log_level=log_level)
        self.log_path = Path(log_path) if log_path is not None else None
        self.env = dict(env or {})
        if training_slots is not None:  # given explicitly: wins over the environment, as ``env`` does
            self.env["MTJEXPLORE_TRAINING_SLOTS"] = _slots_value(training_slots)
        self.process = None

    @property
    def url(self):
        """Base URL of the server (the tree of apps), reached through the loopback address
        when the server listens on every interface."""
        host = {"0.0.0.0": "127.0.0.1", "::": "::1"}.get(self.ip, self.ip)
        host = f"[{host}]" if ":" in host else host
        return f"http://{host}:{self.port}{self.options['Voila.base_url']}"

    def app_url(self, name):
        """URL of one app, e.g. ``http://127.0.0.1:8866/voila/render/explorer.ipynb``."""
        return f"{self.url}voila/render/{app_path(name, self.root).name}"

    @property
    def command(self):
        return voila_command(self.root, self.options)

    def _child_env(self):
        env = {**kernel_env(), **os.environ, **self.env}  # settings given explicitly win
        if self.ip not in ("0.0.0.0", "::"):  # pre-heated kernels call back to the server here
            env.setdefault("VOILA_APP_IP", f"[{self.ip}]" if ":" in self.ip else self.ip)
        return env

    def start(self, timeout_s=60.0):
        """Start Voilà and return once it answers HTTP 200 (raises :class:`AppServerError`)."""
        if self.process is not None:
            raise AppServerError("this AppServer is already started")
        log = open(self.log_path, "ab") if self.log_path is not None else None
        try:  # without a log file Voilà writes to this process's stdout/stderr
            self.process = subprocess.Popen(
                self.command, cwd=self.root, env=self._child_env(), stdout=log,
                stderr=subprocess.STDOUT if log is not None else None, start_new_session=True)
        finally:
            if log is not None:
                log.close()
        try:
            self._wait_ready(timeout_s)
        except BaseException:
            self.stop()
            raise
        return self

    def _wait_ready(self, timeout_s):
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AppServerError(f"Voilà exited with code {self.process.returncode} before "
                                     f"serving {self.url}{self._log_hint()}")
            try:
                with urllib.request.urlopen(self.url, timeout=2) as response:
                    if response.status == 200:
                        return
            except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
                pass
            time.sleep(0.1)  # polling a condition (the server answering), not synchronising on time
        raise AppServerError(f"Voilà did not answer at {self.url} within {timeout_s:g} s"
                             f"{self._log_hint()}")

    def _log_hint(self):
        if self.log_path is None or not self.log_path.is_file():
            return " (see its log above)"
        tail = self.log_path.read_text(errors="replace")[-2000:]
        return f"; last lines of {self.log_path}:\n{tail}"

    def stop(self, timeout_s=10.0):
        """SIGTERM the server's process group (Voilà shuts its kernels down); SIGKILL if needed."""
        proc, self.process = self.process, None
        if proc is None or proc.poll() is not None:
            return
        for sig, wait_s in ((signal.SIGTERM, timeout_s), (signal.SIGKILL, 5.0)):
            try:
                os.killpg(proc.pid, sig)
            except ProcessLookupError:
                return
            try:
                proc.wait(wait_s)
                return
            except subprocess.TimeoutExpired:
                continue

    def __enter__(self):
        return self.start() if self.process is None else self

    def __exit__(self, *exc):
        self.stop()
