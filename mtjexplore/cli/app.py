"""``mtjexplore app``: serve the Voilà apps from the command line (options and printing only)."""

from __future__ import annotations

import signal
import sys
import webbrowser
from pathlib import Path

from ..errors import require
from ..serve.appserver import (APP_MODULES, DEFAULT_APP, DEFAULT_PORT, HOST, AppServer, app_path,
                               available_apps, is_loopback)
from ..serve.refill import DEFAULT_QUIET_S


def add_arguments(parser):
    """Arguments of ``mtjexplore app``."""
    parser.add_argument("name", nargs="?", default=DEFAULT_APP,
                        help=f"app to open: {', '.join(available_apps()) or 'none found'} "
                             f"(default {DEFAULT_APP}); every app is served")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT,
                        help=f"port (default {DEFAULT_PORT}; 0 picks a free one)")
    parser.add_argument("--ip", default=HOST,
                        help=f"address to listen on (default {HOST}: this machine only; 0.0.0.0: "
                             "every interface, for a class; see docs/teaching.md)")
    parser.add_argument("--base-url", default="/", metavar="PREFIX",
                        help="URL prefix of every page, e.g. /mtj/ behind a proxy (default /)")
    parser.add_argument("--preheat", type=int, default=0, metavar="N",
                        help="keep N kernels per app loaded and waiting, so the first N visitors "
                             "get an interactive app in seconds, not a cold start (default 0; each "
                             "costs ~0.5 GiB; see docs/teaching.md)")
    parser.add_argument("--refill-quiet", type=float, default=DEFAULT_QUIET_S, metavar="SECONDS",
                        help="with --preheat: refill the pool of ready kernels (one at a time) only "
                             "once no page has been requested for SECONDS, so a class opening the "
                             f"app together is not slowed by the refills (default {DEFAULT_QUIET_S:g})")
    parser.add_argument("--max-kernels", type=int, default=0, metavar="N",
                        help="at most N visitors' kernels at once; others get a 'server is full, "
                             "try again in a minute' page (HTTP 503) (default 0: no cap)")
    parser.add_argument("--training-slots", type=int, default=None, metavar="N",
                        help="training runs at once on this machine; the others wait their turn "
                             "(default: one fewer than the cores, at least 1, so a core stays free for "
                             "painting and clicking)")
    parser.add_argument("--allow-host", action="append", default=[], metavar="NAME",
                        help="a host name (or address) students use to reach the server; "
                             "repeatable. localhost, 127.0.0.1 and ::1 are always allowed, and "
                             "the --ip address; '*' allows any (behind a proxy that checks)")
    parser.add_argument("--behind-proxy", action="store_true",
                        help="an authenticating proxy stands in front: do not warn about "
                             "listening beyond this machine")
    parser.add_argument("--no-browser", action="store_true",
                        help="only print the URL; do not open a web browser")
    parser.add_argument("--cull-idle-timeout", type=int, default=120, metavar="SECONDS",
                        help="shut down a kernel whose page is gone after this idle time "
                             "(default 120; 0 never)")
    parser.add_argument("--verbose", action="store_true", help="show Voilà's info log")


def run(args):
    """Serve the apps until Ctrl+C (or SIGTERM); returns the exit code."""
    require(APP_MODULES, "Voilà and the widget libraries", "apps")
    app_path(args.name)
    if not is_loopback(args.ip) and not args.behind_proxy:
        _warn_open(args.ip)
    server = AppServer(port=args.port, ip=args.ip, base_url=args.base_url, preheat=args.preheat,
                       refill_quiet_s=args.refill_quiet, max_kernels=args.max_kernels,
                       allow_hosts=args.allow_host,
                       cull_idle_timeout_s=args.cull_idle_timeout, training_slots=args.training_slots,
                       log_level="INFO" if args.verbose else "WARN")
    previous = signal.signal(signal.SIGTERM, _raise_interrupt)
    try:
        print(f"mtjexplore app: starting Voilà on {server.ip}:{server.port} ...", flush=True)
        server.start(timeout_s=120.0)
        _print_urls(server, args.name)
        if not args.no_browser:
            webbrowser.open(server.app_url(args.name))
        return server.process.wait()
    except KeyboardInterrupt:
        print("mtjexplore app: stopping", flush=True)
        return 0
    finally:
        server.stop()
        signal.signal(signal.SIGTERM, previous)


def _print_urls(server, name):
    stem = Path(name).stem
    print(f"mtjexplore app: {stem} is at {server.app_url(name)}", flush=True)
    for other in available_apps():
        if other != stem:
            print(f"mtjexplore app: also at {server.app_url(other)}", flush=True)
    print("mtjexplore app: press Ctrl+C to stop", flush=True)


def _warn_open(ip):
    print(f"mtjexplore app: warning: --ip {ip} serves beyond this machine, with no login: anyone "
          "who can reach the port can use the apps and start kernels (~0.5 GiB each). Put an "
          "authenticating proxy in front (JupyterHub, see docs/teaching.md) and pass "
          "--behind-proxy, or keep the class on a network you trust and cap kernels with "
          "--max-kernels.", file=sys.stderr, flush=True)


def _raise_interrupt(signum, frame):
    raise KeyboardInterrupt
