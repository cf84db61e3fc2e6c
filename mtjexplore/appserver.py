"""``mtjexplore app``: serve the Voilà apps (``explorer``, ``ensemble``) on 127.0.0.1.

The app notebooks live in ``mtjexplore/apps/`` (the one copy; the repository's top-level
``apps`` is a link to it), so the same code finds them in a source checkout and in an installed
package. Voilà runs in a child process of its own session, serving that folder, so every app is
reachable from one server at ``/voila/render/<name>.ipynb``. The command is built from one dict of
traitlets options (traitlets rejects a flag given twice) and always:

* listens on 127.0.0.1 only, on one port (no silent move to another port);
* strips notebook sources from the page and hides tracebacks;
* culls idle kernels (a closed browser tab otherwise leaks a kernel of ~100 MB).

:class:`AppServer` is what the command line, the browser tests and the session benchmark use.
This module imports neither Voilà nor the widgets: it only starts a process.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import webbrowser
from pathlib import Path

from .errors import DataFileError, MTJExploreError, ParameterError

APPS_DIR = Path(__file__).resolve().parent / "apps"
APP_WEIGHTS = Path(__file__).resolve().parent / "data" / "app_weights.nc"
HOST = "127.0.0.1"
DEFAULT_PORT = 8866
DEFAULT_APP = "explorer"


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


def app_weights(method="software"):
    """Weights shipped for the apps (``scripts/make_app_weights.py`` writes them).

    Parameters
    ----------
    method : str, default "software"
        A group of ``mtjexplore/data/app_weights.nc``: ``software`` or ``statistics_aware``.

    Returns
    -------
    xarray.Dataset
        Weights as ``Trainer.weights_`` makes them.
    """
    return _read_group(method)


def app_results():
    """Precomputed study results shipped for the ensemble app: ``error(method, die)``, ``loss``.

    Computed on the reference ensemble by ``scripts/make_app_weights.py``; also holds
    ``sens_error(method, sample)`` (errors on freshly sampled dies).
    """
    return _read_group("results")


def _read_group(group):
    import xarray as xr

    if not APP_WEIGHTS.is_file():
        raise DataFileError(f"{APP_WEIGHTS}: missing; rebuild it with "
                            "`python scripts/make_app_weights.py`")
    try:
        with xr.open_dataset(APP_WEIGHTS, group=group, engine="netcdf4") as ds:
            return ds.load()
    except OSError as exc:
        raise DataFileError(f"{APP_WEIGHTS}: no group {group!r} ({exc}); rebuild it with "
                            "`python scripts/make_app_weights.py`") from exc


# ---------------------------------------------------------------------------- the command
def voila_options(port, *, cull_idle_timeout_s=120, cull_interval_s=30, log_level="WARN"):
    """Traitlets options of the Voilà command, one entry per option.

    Examples
    --------
    >>> opts = voila_options(9000)
    >>> opts["Voila.ip"], opts["Voila.port"], opts["VoilaConfiguration.strip_sources"]
    ('127.0.0.1', 9000, True)
    """
    for name, value in (("cull_idle_timeout_s", cull_idle_timeout_s), ("cull_interval_s", cull_interval_s)):
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise ParameterError(f"{name} must be an int >= 0 (seconds; 0 disables culling); got {value!r}")
    _check_port(port, allow_zero=False)
    return {
        "Voila.ip": HOST,
        "Voila.port": port,
        "Voila.port_retries": 0,
        "Voila.open_browser": False,
        "Voila.log_level": log_level,
        "VoilaConfiguration.strip_sources": True,
        "VoilaConfiguration.show_tracebacks": False,
        "MappingKernelManager.cull_idle_timeout": cull_idle_timeout_s,
        "MappingKernelManager.cull_interval": cull_interval_s,
    }


def voila_command(root, options):
    """The argv that serves the folder ``root`` with the given :func:`voila_options`."""
    flags = [f"--{key}={_flag_value(value)}" for key, value in options.items()]
    return [sys.executable, "-m", "voila", str(root), *flags]


def _flag_value(value):
    return str(value) if not isinstance(value, bool) else ("True" if value else "False")


def _check_port(port, allow_zero=True):
    low = 0 if allow_zero else 1
    if not isinstance(port, int) or isinstance(port, bool) or not low <= port <= 65535:
        hint = " (0: pick a free port)" if allow_zero else ""
        raise ParameterError(f"port must be an int in [{low}, 65535]{hint}; got {port!r}")


def free_port():
    """A TCP port on 127.0.0.1 that is free right now."""
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def _port_in_use(port):
    with socket.socket() as sock:
        try:
            sock.bind((HOST, port))
        except OSError:
            return True
    return False


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
    cull_idle_timeout_s, cull_interval_s : int
        Idle kernels (no open page) are shut down after ``cull_idle_timeout_s`` seconds.
    env : dict, optional
        Extra environment variables for the server and its kernels.

    Examples
    --------
    Use as a context manager (starts, waits until it answers, stops at exit)::

        with AppServer(port=0) as server:
            print(server.app_url("explorer"))
    """

    def __init__(self, *, port=DEFAULT_PORT, root=None, log_path=None, cull_idle_timeout_s=120,
                 cull_interval_s=30, log_level="WARN", env=None):
        _check_port(port)
        self.root = Path(root) if root is not None else APPS_DIR
        if not self.root.is_dir():
            raise ParameterError(f"root must be a folder of notebooks; {self.root} is not a folder")
        if port and _port_in_use(port):
            raise AppServerError(f"port {port} on {HOST} is already in use; pass another port "
                                 "(--port N) or 0 for a free one (--port 0)")
        self.port = port or free_port()
        self.options = voila_options(self.port, cull_idle_timeout_s=cull_idle_timeout_s,
                                     cull_interval_s=cull_interval_s, log_level=log_level)
        self.log_path = Path(log_path) if log_path is not None else None
        self.env = dict(env or {})
        self.process = None

    @property
    def url(self):
        """Base URL of the server (the tree of apps)."""
        return f"http://{HOST}:{self.port}/"

    def app_url(self, name):
        """URL of one app, e.g. ``http://127.0.0.1:8866/voila/render/explorer.ipynb``."""
        return f"{self.url}voila/render/{app_path(name, self.root).name}"

    @property
    def command(self):
        return voila_command(self.root, self.options)

    def start(self, timeout_s=60.0):
        """Start Voilà and return once it answers HTTP 200 (raises :class:`AppServerError`)."""
        if self.process is not None:
            raise AppServerError("this AppServer is already started")
        log = open(self.log_path, "ab") if self.log_path is not None else None
        try:  # without a log file Voilà writes to this process's stdout/stderr
            self.process = subprocess.Popen(
                self.command, cwd=self.root, env={**os.environ, **self.env}, stdout=log,
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


# ---------------------------------------------------------------------------- command line
def add_arguments(parser):
    """Arguments of ``mtjexplore app``."""
    parser.add_argument("name", nargs="?", default=DEFAULT_APP,
                        help=f"app to open: {', '.join(available_apps()) or 'none found'} "
                             f"(default {DEFAULT_APP}); every app is served")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT,
                        help=f"port on 127.0.0.1 (default {DEFAULT_PORT}; 0 picks a free one)")
    parser.add_argument("--no-browser", action="store_true",
                        help="only print the URL; do not open a web browser")
    parser.add_argument("--cull-idle-timeout", type=int, default=120, metavar="SECONDS",
                        help="shut down a kernel whose page was closed after this idle time "
                             "(default 120; 0 never)")
    parser.add_argument("--verbose", action="store_true", help="show Voilà's info log")


def run(args):
    """Serve the apps until Ctrl+C (or SIGTERM); returns the exit code."""
    app_path(args.name)
    server = AppServer(port=args.port, cull_idle_timeout_s=args.cull_idle_timeout,
                       log_level="INFO" if args.verbose else "WARN")
    previous = signal.signal(signal.SIGTERM, _raise_interrupt)
    try:
        print(f"mtjexplore app: starting Voilà on {HOST}:{server.port} ...", flush=True)
        server.start()
        url = server.app_url(args.name)
        others = [server.app_url(n) for n in available_apps() if n != Path(args.name).stem]
        print(f"mtjexplore app: {Path(args.name).stem} is at {url}", flush=True)
        for other in others:
            print(f"mtjexplore app: also at {other}", flush=True)
        print("mtjexplore app: press Ctrl+C to stop", flush=True)
        if not args.no_browser:
            webbrowser.open(url)
        return server.process.wait()
    except KeyboardInterrupt:
        print("mtjexplore app: stopping", flush=True)
        return 0
    finally:
        server.stop()
        signal.signal(signal.SIGTERM, previous)


def _raise_interrupt(signum, frame):
    raise KeyboardInterrupt
