"""The app server for a class, over HTTP: Host/Origin checks, the kernel cap, kernels shut down
when their page closes, pre-heated kernels, a base URL, a quiet log and a restart on a port in
TIME_WAIT. Each test serves a small probe notebook (a kernel starts in about a second)."""

from __future__ import annotations

import base64
import http.client
import os
import re
import socket
import time
import urllib.parse

import nbformat
import psutil
import pytest

from mtjexplore.serve.appserver import AppServer, port_in_use

PROBE = "print('probe page', 6 * 7)"
WAIT = ("from voila.utils import wait_for_request\nwait_for_request()\n"
        "import os\nprint('query', os.environ.get('QUERY_STRING'))")


@pytest.fixture
def probe_root(tmp_path):
    root = tmp_path / "apps"
    root.mkdir()
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells = [nbformat.v4.new_code_cell(PROBE), nbformat.v4.new_code_cell(WAIT)]
    nbformat.write(nb, root / "probe.ipynb")
    return root


@pytest.fixture
def serve(probe_root, tmp_path):
    """``serve(**options)``: a started AppServer on the probe folder, stopped at the end."""
    servers = []

    def _serve(**options):
        server = AppServer(port=0, root=probe_root, log_path=tmp_path / "voila.log", **options)
        servers.append(server.start(timeout_s=60))
        return server

    yield _serve
    for server in servers:
        server.stop()


def request(server, path, *, host=None, method="GET", headers=None, body=None, timeout=60):
    """(status, headers, body) of one request; ``host`` replaces the Host header."""
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=timeout)
    try:
        conn.putrequest(method, path, skip_host=True)
        conn.putheader("Host", host or f"127.0.0.1:{server.port}")
        for key, value in (headers or {}).items():
            conn.putheader(key, value)
        if body is not None:
            conn.putheader("Content-Length", str(len(body)))
        conn.endheaders(body)
        response = conn.getresponse()
        return response.status, response.headers, response.read().decode(errors="replace")
    finally:
        conn.close()


def app_path(server):
    return urllib.parse.urlsplit(server.app_url("probe")).path


def kernel_id_of(page):
    return re.search(r'"kernelId": "([0-9a-f-]{36})"', page).group(1)


def kernels(server):
    """The kernel processes of the server."""
    return [p for p in psutil.Process(server.process.pid).children(recursive=True)
            if "ipykernel" in " ".join(p.cmdline())]


def wait_for(condition, timeout_s, what):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)  # polling the condition, not synchronising on time
    raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")


def xsrf_cookie(headers):
    for cookie in headers.get_all("Set-Cookie") or []:
        if cookie.startswith("_xsrf="):
            return cookie.split(";", 1)[0].split("=", 1)[1]
    raise AssertionError(f"no _xsrf cookie in {headers.get_all('Set-Cookie')}")


def websocket_handshake(server, path, origin):
    key = base64.b64encode(os.urandom(16)).decode()
    status, _, _ = request(server, path, headers={
        "Upgrade": "websocket", "Connection": "Upgrade", "Sec-WebSocket-Version": "13",
        "Sec-WebSocket-Key": key, "Origin": origin})
    return status


def connect_page_scripts(server, page):
    """Open the page's websocket to its kernel, as its scripts do once loaded (the pool's refill
    waits for that)."""
    channels = f"/api/kernels/{kernel_id_of(page)}/channels"
    assert websocket_handshake(server, channels, f"http://127.0.0.1:{server.port}") == 101


# ---------------------------------------------------------------------------- Host and Origin
def test_a_foreign_host_is_refused_and_allowed_names_are_served(serve):
    server = serve(allow_hosts=["class.example.org"])
    status, _, body = request(server, "/", host="evil.example")
    assert status == 403 and "Host 'evil.example' is not served here" in body and "--allow-host" in body
    for host in (f"127.0.0.1:{server.port}", f"localhost:{server.port}", f"class.example.org:{server.port}"):
        assert request(server, "/", host=host)[0] == 200, host
    assert request(server, app_path(server), host="evil.example")[0] == 403
    log = server.log_path.read_text()
    assert "refused GET /: Host 'evil.example'" in log


def test_a_websocket_from_a_foreign_origin_is_refused(serve):
    server = serve()
    status, _, page = request(server, app_path(server))
    assert status == 200
    channels = f"/api/kernels/{kernel_id_of(page)}/channels"
    assert websocket_handshake(server, channels, "http://evil.example") == 403
    assert websocket_handshake(server, channels, f"http://127.0.0.1:{server.port}") == 101
    assert "websocket_ping_timeout" not in server.log_path.read_text(), "no tornado warning per websocket"


# ---------------------------------------------------------------------------- kernels
def test_past_max_kernels_a_page_says_the_server_is_full(serve):
    server = serve(max_kernels=1)
    first = request(server, app_path(server))
    assert first[0] == 200 and "probe page 42" in first[2]
    status, headers, body = request(server, app_path(server))
    assert status == 503 and headers["Retry-After"] == "60"
    assert "The server is full" in body and "try again in a minute" in body
    assert len(kernels(server)) == 1, "a refused visitor must not start a kernel"


def test_a_closed_page_shuts_its_kernel_down_and_frees_its_place(serve):
    server = serve(max_kernels=1)
    status, headers, page = request(server, app_path(server))
    assert status == 200 and len(kernels(server)) == 1
    token, shutdown = xsrf_cookie(headers), f"/voila/api/shutdown/{kernel_id_of(page)}"
    form = f"_xsrf={urllib.parse.quote(token)}".encode()
    # what the page sends on close (navigator.sendBeacon with the _xsrf cookie and form field)
    without_cookie = request(server, shutdown, method="POST", body=form,
                             headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert without_cookie[0] == 403, "a shutdown without the page's cookie must be refused"
    closed = request(server, shutdown, method="POST", body=form,
                     headers={"Content-Type": "application/x-www-form-urlencoded",
                              "Cookie": f"_xsrf={token}"})
    assert closed[0] == 204, closed
    wait_for(lambda: not kernels(server), 30, "the kernel of the closed page to end")
    assert request(server, app_path(server))[0] == 200, "the freed place must be usable"


def test_preheated_kernels_serve_visitors_and_do_not_count_against_the_cap(serve):
    server = serve(preheat=1, max_kernels=1, log_level="INFO")
    filled = "Kernel pool of probe.ipynb is filled with 1 kernel(s)"
    wait_for(lambda: server.log_path.read_text().count(filled) == 1, 60, "the pre-heated kernel")
    status, _, page = request(server, app_path(server) + "?die=7")
    assert status == 200 and "probe page 42" in page
    assert "query die=7" in page, "the visitor's query string must reach the pre-heated kernel"
    assert "Using pre-heated kernel" in server.log_path.read_text()
    connect_page_scripts(server, page)
    wait_for(lambda: server.log_path.read_text().count(filled) == 2, 60, "the pool to refill")
    assert len(kernels(server)) == 2, "one visitor's kernel and one spare"
    assert request(server, app_path(server))[0] == 503


def test_the_pool_refills_only_once_pages_stop_coming_and_then_completes(serve):
    quiet_s = 4.0
    server = serve(preheat=1, max_kernels=1, refill_quiet_s=quiet_s, log_level="INFO")
    log = server.log_path.read_text
    wait_for(lambda: log().count("has loaded") == 1, 60, "the first spare to load")
    status, _, page = request(server, app_path(server))
    assert status == 200 and "Using pre-heated kernel" in log(), "the visitor takes the spare"
    connect_page_scripts(server, page)
    # Page requests keep coming (refused: the one place is taken) for three quiet spells: the
    # refill must not start, however long it takes.
    deadline = time.monotonic() + 3 * quiet_s
    while time.monotonic() < deadline:
        assert request(server, app_path(server))[0] == 503
        assert log().count("starting a spare kernel") == 1, "a refill started while pages kept coming"
        assert len(kernels(server)) == 1, "only the visitor's kernel runs"
        time.sleep(0.25)  # the pace of the visits, not a synchronisation
    # Quiet now (and the page's scripts connected): the refill starts and completes.
    wait_for(lambda: log().count("has loaded") == 2, 60 + quiet_s, "the pool to refill")
    assert f"no page request for {quiet_s:g} s" in log()
    assert len(kernels(server)) == 2, "one visitor's kernel and one spare"


def test_a_visitor_beyond_the_pool_does_not_wait_for_the_quiet_spell(serve):
    server = serve(preheat=1, refill_quiet_s=3600, log_level="INFO")
    wait_for(lambda: server.log_path.read_text().count("has loaded") == 1, 60, "the spare to load")
    first = request(server, app_path(server))
    second = request(server, app_path(server), timeout=60)  # would hang for an hour otherwise
    assert first[0] == second[0] == 200 and "probe page 42" in second[2]
    assert "a visitor is waiting for it" in server.log_path.read_text()
    assert kernel_id_of(first[2]) != kernel_id_of(second[2])


def test_a_base_url_prefixes_every_page(serve):
    server = serve(base_url="/mtj/")
    assert server.app_url("probe").startswith(f"http://127.0.0.1:{server.port}/mtj/voila/render/")
    status, _, page = request(server, app_path(server))
    assert status == 200 and "probe page 42" in page
    assert request(server, "/voila/render/probe.ipynb")[0] == 404


def test_page_loads_leave_no_trust_or_plain_tcp_warnings_in_the_log(serve):
    server = serve(log_level="INFO")
    for _ in range(2):
        assert request(server, app_path(server))[0] == 200
    log = server.log_path.read_text()
    assert "Kernel started" in log, "the INFO log should show the kernels starting"
    assert "is not trusted" not in log
    assert "without encryption" not in log


# ---------------------------------------------------------------------------- restart
def _time_wait_on(port):
    """Leave a socket of ``port`` in TIME_WAIT: its side of a connection closes first."""
    listener = socket.socket()
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", port))
    listener.listen(1)
    client = socket.create_connection(("127.0.0.1", port))
    accepted, _ = listener.accept()
    accepted.close()  # the server side closes first: its socket goes to TIME_WAIT
    client.recv(1)
    client.close()
    listener.close()


def _plain_probe_in_use(port):
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return True
    return False


def test_a_restart_on_a_port_in_time_wait_is_not_refused(probe_root, tmp_path):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    _time_wait_on(port)
    assert _plain_probe_in_use(port), "the set-up should leave the port in TIME_WAIT"
    assert not port_in_use(port)
    with AppServer(port=port, root=probe_root, log_path=tmp_path / "voila.log") as server:
        assert request(server, "/")[0] == 200
        assert port_in_use(port), "a listening server must count as in use"
