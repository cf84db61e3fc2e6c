""":class:`ClassroomVoila`: Voilà 0.5 with a Host allow-list, a kernel cap and a quiet, offline page.

Run by :mod:`mtjexplore.serve.appserver` as ``python -m mtjexplore.serve ROOT --Trait=value ...``; see
:mod:`mtjexplore.serve` for what it adds. It lives with the widgets because it imports Voilà: the
rest of the package, :mod:`mtjexplore.serve` included, imports no widget or Voilà library. Options
of its own (besides every Voilà option):

``ClassroomVoila.allow_hosts``
    Host names answered besides the loopback names (``*``: any; behind a proxy that checks).
``ClassroomVoila.max_kernels``
    Kernels serving visitors at once (0: no cap). Spare pre-heated kernels are not counted.
``ClassroomVoila.refill_quiet_s``
    Seconds without an app page request before a spare kernel is loaded to refill the pool;
    spares load one at a time (:mod:`mtjexplore.serve.refill`).
"""

from __future__ import annotations

import asyncio
import collections
import functools
import logging
import os
import secrets
import tempfile
from pathlib import Path

from jupyter_server.services.kernels.kernelmanager import AsyncMappingKernelManager
from tornado import web
from traitlets import Float, Int, Unicode
from voila.app import Voila
from voila.request_info_handler import RequestInfoSocketHandler
from voila.tornado.handler import TornadoVoilaHandler
from voila.tornado.kernel_websocket_handler import VoilaKernelWebsocketHandler

from ..serve import guard
from ..serve.appserver import PAGE_TEMPLATE, TEMPLATE_ROOT
from ..serve.refill import DEFAULT_QUIET_S, RefillGate, check_quiet_s

SERVER_FULL_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>The server is full</title>
<meta http-equiv="refresh" content="60"></head>
<body style="font-family: sans-serif; max-width: 36em; margin: 4em auto; line-height: 1.5">
<h1>The server is full</h1>
<p>All {cap} places on this server are taken. Please try again in a minute: this page reloads
itself every 60 seconds.</p>
<p>A place frees up when someone closes their tab.</p>
</body></html>
"""


def _drop_ping_timeout_warning(record):
    """Logging filter: drop tornado's "websocket_ping_timeout cannot be longer" warning (see
    :meth:`ClassroomVoila.init_settings`)."""
    return not str(record.msg).startswith("The websocket_ping_timeout")


class VisitorKernelManager(AsyncMappingKernelManager):
    """A kernel manager that knows how many of its kernels serve visitors, and refills the pool
    of spare kernels only when the pages are quiet, one at a time.

    Spare pre-heated kernels (started with ``VOILA_PREHEAT=True`` and not yet handed to a page)
    are not visitors; page loads that will start or take a kernel hold a place until they do.
    Every spare waits for its turn at :attr:`refill_gate` (a :class:`~mtjexplore.serve.refill.RefillGate`)
    before it starts, unless a visitor already waits for it.
    """

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self._idle_pool = set()
        self._pool_starting = 0
        self._holds = collections.deque()  # page loads that will start a kernel
        self._pool_waits = []               # page loads waiting for a pre-heated kernel
        self.refill_gate = RefillGate(DEFAULT_QUIET_S, log=self.log.info)

    async def start_kernel(self, *args, **kwargs):
        """Start a kernel; a visitor's start uses up the oldest place held for it, a spare's
        start waits for its turn at the refill gate."""
        if (kwargs.get("env") or {}).get("VOILA_PREHEAT") != "True":
            if self._holds:
                self._holds.popleft()["open"] = False
            kernel_id = await super().start_kernel(*args, **kwargs)
            self.refill_gate.page_served(kernel_id)
            return kernel_id
        spare = asyncio.current_task()  # the pool's task (Voilà's fill_if_needed) starting it
        await self.refill_gate.turn(spare)
        self._pool_starting += 1
        try:
            kernel_id = await super().start_kernel(*args, **kwargs)
        except BaseException:
            self.refill_gate.loaded(spare)
            raise
        finally:
            self._pool_starting -= 1
        self.refill_gate.started(spare, kernel_id)
        spare.add_done_callback(functools.partial(self._watch_loading, kernel_id))
        self._idle_pool.add(kernel_id)
        return kernel_id

    def _watch_loading(self, kernel_id, spare):
        """Once the pool's task has started the notebook, count the spare as loaded when the
        notebook run ends, if it did not reach ``wait_for_request()`` (its query socket) first."""
        if spare.cancelled() or spare.exception() is not None:
            self.refill_gate.loaded(kernel_id)
            return
        spare.result()["task"].add_done_callback(lambda _: self.refill_gate.loaded(kernel_id))

    async def shutdown_kernel(self, kernel_id, *args, **kwargs):
        self.refill_gate.loaded(kernel_id)
        return await super().shutdown_kernel(kernel_id, *args, **kwargs)

    async def shutdown_all(self, *args, **kwargs):
        self.refill_gate.close()  # spares still waiting for their turn are not started
        return await super().shutdown_all(*args, **kwargs)

    def n_visitor_kernels(self):
        """Kernels serving pages, plus page loads holding a place for one."""
        ids = set(self._kernels) | set(self._pending_kernels)
        self._idle_pool &= ids
        held = len(self._holds) + len(self._pool_waits)
        return len(ids) - len(self._idle_pool) - self._pool_starting + held

    def hold_place(self, pool_head=None):
        """Hold a place for a page load; ``pool_head`` is the pool task it will take, if any."""
        hold = {"open": True}
        if pool_head is not None and pool_head.done() and not pool_head.exception():
            self._give_out(pool_head.result()["kernel_id"])
            return {"open": False}
        if pool_head is not None:
            self.refill_gate.claim(pool_head)  # a visitor waits for this spare: no quiet spell
            self._pool_waits.append(hold)
            pool_head.add_done_callback(lambda task: self._hand_out(task, hold))
            return hold
        self._holds.append(hold)
        return hold

    def _hand_out(self, task, hold):
        if not task.cancelled() and task.exception() is None:
            self._give_out(task.result()["kernel_id"])
        self.release(hold)

    def _give_out(self, kernel_id):
        """A spare goes to a visitor: no longer spare; its page loads until it connects."""
        self._idle_pool.discard(kernel_id)
        self.refill_gate.page_served(kernel_id)

    def release(self, hold):
        """End a hold that no kernel start used up (the page load failed or took a pooled kernel)."""
        if hold["open"]:
            hold["open"] = False
            for waiting in (self._holds, self._pool_waits):
                kept = [h for h in waiting if h is not hold]
                waiting.clear()
                waiting.extend(kept)

    def pool_head(self, notebook_path):
        """The pool task the next page load of ``notebook_path`` takes, or None (no pre-heating).

        A spare that has loaded its app is moved to the head of the pool, so a visitor never
        waits for a loading spare while a loaded one waits behind it.
        """
        pool = getattr(self, "_pools", {}).get(notebook_path) or []
        ready = next((task for task in pool if self._has_loaded(task)), None)
        if ready is not None and ready is not pool[0]:
            pool.remove(ready)
            pool.insert(0, ready)
        return pool[0] if pool else None

    def _has_loaded(self, task):
        if not task.done() or task.cancelled() or task.exception() is not None:
            return False
        return not self.refill_gate.is_loading(task.result()["kernel_id"])


class SpareLoadedHandler(RequestInfoSocketHandler):
    """Voilà's query socket, which a pre-heated kernel opens when it reaches
    ``wait_for_request()``: that kernel has loaded its app (the refill gate lets the next go)."""

    def open(self, kernel_id):
        super().open(kernel_id)
        self.settings["kernel_manager"].refill_gate.loaded(kernel_id)


class PageKernelSocketHandler(VoilaKernelWebsocketHandler):
    """A page's websocket to its kernel: once it opens, the page's scripts have loaded (the pool's
    refill waits for that, then for the quiet spell)."""

    async def open(self, kernel_id):
        self.kernel_manager.refill_gate.page_connected(kernel_id)
        return await super().open(kernel_id)


class ClassroomVoilaHandler(TornadoVoilaHandler):
    """An app page: refused with a "server full" page past the cap; sets the ``_xsrf`` cookie."""

    async def get(self, path=None):
        _ = self.xsrf_token  # sets the _xsrf cookie that the page's shutdown request sends back
        manager, cap = self.kernel_manager, self.settings.get("mtjexplore_max_kernels", 0)
        manager.refill_gate.page_started()
        try:
            await self._serve(manager, cap, path)
        finally:
            manager.refill_gate.page_finished()

    async def _serve(self, manager, cap, path):
        if cap and manager.n_visitor_kernels() >= cap:
            self.log.warning("server full (%d visitor kernels, --max-kernels %d): answered 503 to %s",
                             manager.n_visitor_kernels(), cap, self.request.path)
            self.set_status(503)
            self.set_header("Retry-After", "60")
            self.set_header("Content-Type", "text/html; charset=UTF-8")
            self.finish(SERVER_FULL_PAGE.format(cap=cap))
            return
        hold = manager.hold_place(self._pool_head(path))
        try:
            await super().get(path)
        finally:
            manager.release(hold)

    def _pool_head(self, path):
        notebook = self.notebook_path or path
        data = self.kernel_manager.notebook_data.get(notebook, {})
        uses_pool = self.should_use_rendered_notebook(
            data, self.kernel_manager.get_pool_size(notebook), self.get_argument("template", None),
            self.get_argument("theme", None), self.request.arguments)
        return self.kernel_manager.pool_head(notebook) if uses_pool else None


class RefusedHandler(web.RequestHandler):
    """Answers 403 to a request whose Host (or websocket Origin) is not allowed."""

    def initialize(self, reason):
        self.reason = reason

    def prepare(self):
        self.set_status(403)
        self.set_header("Content-Type", "text/plain; charset=UTF-8")
        self.finish(f"403 Forbidden: {self.reason}\n")


class GuardedApplication(web.Application):
    """A tornado application that answers only allowed ``Host`` names and websocket ``Origin``s."""

    def find_handler(self, request, **kwargs):
        allowed = self.settings["mtjexplore_allowed_hosts"]
        if not guard.host_allowed(request.host, allowed):
            return self._refuse(request, f"Host {request.host!r} is not served here (allowed: "
                                         f"{', '.join(allowed)}; add names with --allow-host)")
        is_websocket = request.headers.get("Upgrade", "").lower() == "websocket"
        origin = request.headers.get("Origin")
        if is_websocket and not guard.origin_allowed(origin, allowed):
            return self._refuse(request, f"websocket from Origin {origin!r} refused (allowed hosts: "
                                         f"{', '.join(allowed)})")
        return super().find_handler(request, **kwargs)

    def _refuse(self, request, reason):
        self.settings["mtjexplore_log"].warning("refused %s %s: %s", request.method, request.path, reason)
        return self.get_handler_delegate(request, RefusedHandler, {"reason": reason})


class ClassroomVoila(Voila):
    """Voilà with the Host allow-list, the kernel cap, signed notebooks and an offline page."""

    allow_hosts = Unicode("", config=True, help="Host names answered besides localhost, 127.0.0.1 "
                                                "and ::1, comma-separated; '*': any.")
    max_kernels = Int(0, config=True, help="Kernels serving visitors at once; 0: no cap.")
    refill_quiet_s = Float(DEFAULT_QUIET_S, config=True,
                           help="Seconds without an app page request before a spare pre-heated "
                                "kernel loads to refill the pool (one at a time).")

    def setup_template_dirs(self):
        """Unless a template is configured, the page is the apps' own, ``mtjexplore``, which extends
        Voilà's ``lab``: no CDN request and a loading message without animation (its files are in
        :data:`~mtjexplore.serve.appserver.TEMPLATE_ROOT`). ``--VoilaConfiguration.template=lab``
        gives Voilà's page (benchmarks compare the two)."""
        if "template" not in self.config.VoilaConfiguration:
            self.voila_configuration.template = PAGE_TEMPLATE
        if self.voila_configuration.template == PAGE_TEMPLATE:
            paths = [str(TEMPLATE_ROOT), *filter(None, os.environ.get("JUPYTER_PATH", "").split(os.pathsep))]
            os.environ["JUPYTER_PATH"] = os.pathsep.join(dict.fromkeys(paths))  # Voilà looks there
        super().setup_template_dirs()

    def init_settings(self):
        import zmq

        if self.max_kernels < 0:
            raise ValueError(f"ClassroomVoila.max_kernels must be >= 0 (0: no cap); got {self.max_kernels}")
        self.voila_configuration.multi_kernel_manager_class = VisitorKernelManager
        if zmq.has("curve"):  # encrypted kernel sockets: no plain-TCP warning from every kernel
            self.config.KernelManager.transport_encryption = "auto"
        quiet_s = check_quiet_s(self.refill_quiet_s)
        settings = super().init_settings()
        self.kernel_manager.refill_gate.quiet_s = quiet_s
        self._sign_notebooks()
        settings["mtjexplore_max_kernels"] = self.max_kernels
        hosts = [h for h in self.allow_hosts.split(",") if h.strip()]
        settings["mtjexplore_allowed_hosts"] = guard.normalize_hosts([*hosts, *self._bound_ip()])
        settings["mtjexplore_log"] = self.log
        # jupyter_server checks its websocket pings itself: at each ping (every ws_ping_interval
        # ms) it closes the socket if the last pong is older than ws_ping_timeout ms. Its default
        # timeout (3 intervals) must stay: a timeout of one interval closed every page's socket
        # at its first ping (~30 s after opening; the page then reconnects, and under load a page
        # still receiving its widgets never finished). tornado reads the same two numbers as
        # seconds and warns, once per process, that the timeout exceeds the interval: filtered.
        logging.getLogger("tornado.general").addFilter(_drop_ping_timeout_warning)
        return settings

    def _bound_ip(self):
        return [self.ip] if self.ip and self.ip not in ("0.0.0.0", "::", "") else []

    def _sign_notebooks(self):
        """Trust the served notebooks: sign them in a private in-memory store with a fresh secret."""
        import nbformat
        from nbformat.sign import MemorySignatureStore

        notary = self.contents_manager.notary
        notary.store = MemorySignatureStore()
        notary.secret = secrets.token_bytes(32)
        for path in sorted(Path(self.root_dir).rglob("*.ipynb")):
            if ".ipynb_checkpoints" in path.parts:
                continue
            try:
                notary.sign(nbformat.read(path, as_version=4))
            except Exception as exc:  # an unreadable notebook: Voilà reports it when it is opened
                self.log.warning("could not read %s to sign it: %s", path, exc)

    def init_handlers(self):
        ours = {TornadoVoilaHandler: ClassroomVoilaHandler, RequestInfoSocketHandler: SpareLoadedHandler,
                VoilaKernelWebsocketHandler: PageKernelSocketHandler}
        return [(pattern, ours.get(handler, handler), *rest)
                for pattern, handler, *rest in super().init_handlers()]

    def start(self):
        """As :meth:`voila.app.Voila.start`, with a :class:`GuardedApplication`."""
        self.connection_dir = tempfile.mkdtemp(prefix="voila_", dir=self.connection_dir_root)
        settings = self.init_settings()
        self.app = GuardedApplication(**settings)
        self.app.settings.update(self.tornado_settings)
        self.app.add_handlers(".*$", self.init_handlers())
        self.listen()


def main(argv=None):
    """Entry point of ``python -m mtjexplore.serve``."""
    ClassroomVoila.launch_instance(argv)
