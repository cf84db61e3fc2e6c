#!/usr/bin/env python3
"""Time to an interactive explorer with pre-heated kernels (``mtjexplore app --preheat N``).

Three measurements, each against a fresh server and each visitor in its own Chromium context
(as separate students are); a visitor counts as served when the explorer shows the test error of
the current weights on its die (``.current-error .error-value`` reads ``12.34 %``), i.e. the page
is interactive, timed from the start of navigation:

* ``cold``: no pre-heating, one visitor alone (the reference);
* ``one_by_one``: ``--preheat N``; once every spare kernel has loaded the app and waits, N + 1
  visitors arrive one after the other (the next as soon as the previous one is served);
* ``burst``: ``--preheat N``; N + 1 visitors arrive at the same moment.

The first N visitors take a spare kernel; visitor N + 1 finds the pool empty (it refills in the
background) and waits for a cold start. Memory (RSS and USS) of the spare kernels is read while
they wait for visitors.

Usage::

    python benchmarks/bench_preheat.py [--preheat 2] [--out benchmarks/results/preheat.json]

Needs Debian's Chromium (``/usr/bin/chromium``) and playwright (the ``test`` extra).
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

import psutil

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from mtjexplore.serve.appserver import AppServer, available_apps  # noqa: E402

DEFAULT_OUT = REPO / "benchmarks" / "results" / "preheat.json"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic",
                  "--disable-dev-shm-usage"]
INTERACTIVE_JS = """() => { const el = document.querySelector('.current-error .error-value');
    return el !== null && /^\\d+\\.\\d\\d %$/.test(el.textContent.trim()); }"""
MIB = 2**20


async def visit(browser, url, timeout_ms):
    """One visitor in a fresh context: seconds from navigation to an interactive explorer."""
    context = await browser.new_context(viewport={"width": 1400, "height": 1000})
    page = await context.new_page()
    record = {"ok": False}
    start = time.monotonic()
    try:
        response = await page.goto(url, timeout=timeout_ms)
        record["http_status"] = response.status if response else None
        record["html_s"] = round(time.monotonic() - start, 2)
        await page.wait_for_function(INTERACTIVE_JS, timeout=timeout_ms, polling=50)
        record["interactive_s"] = round(time.monotonic() - start, 2)
        record["ok"] = True
    except Exception as exc:  # record the failure, keep measuring the other visitors
        record["error"] = f"{type(exc).__name__}: {str(exc).splitlines()[0]}"
    return context, record


def kernels(server):
    """psutil processes of the server's kernels."""
    out = []
    for proc in psutil.Process(server.process.pid).children(recursive=True):
        try:
            if "ipykernel" in " ".join(proc.cmdline()):
                out.append(proc)
        except psutil.NoSuchProcess:
            continue
    return out


def wait_for_spares(server, n_per_app, timeout_s, apps=None):
    """Wait until every app's pool is full and its kernels have loaded the app (CPU quiet).

    ``apps``: the notebooks the server pre-heats, by name (default: the packaged apps)."""
    deadline = time.monotonic() + timeout_s
    filled = [f"Kernel pool of {app}.ipynb is filled with {n_per_app} kernel(s)"
              for app in (available_apps() if apps is None else apps)]
    while time.monotonic() < deadline:
        log = server.log_path.read_text(errors="replace")
        procs = kernels(server)
        if all(line in log for line in filled) and len(procs) == n_per_app * len(filled):
            busy = sum(p.cpu_percent(interval=None) for p in procs)
            time.sleep(1.0)  # a CPU sample needs an interval; this is a measurement, not a sync
            busy = sum(p.cpu_percent(interval=None) for p in procs)
            if busy < 5.0:
                return time.monotonic()
        else:
            time.sleep(0.5)
    raise TimeoutError(f"the pre-heated kernels were not ready within {timeout_s} s")


def memory(procs):
    rows = []
    for proc in procs:
        try:
            info = proc.memory_full_info()
            rows.append({"rss_mib": round(info.rss / MIB, 1), "uss_mib": round(info.uss / MIB, 1)})
        except psutil.NoSuchProcess:
            continue
    return rows


async def run_visitors(url, n_visitors, together, timeout_ms):
    from playwright.async_api import async_playwright

    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        if together:
            opened = await asyncio.gather(*(visit(browser, url, timeout_ms) for _ in range(n_visitors)))
        else:
            opened = [await visit(browser, url, timeout_ms) for _ in range(n_visitors)]
        version = browser.version
        for context, _ in opened:
            await context.close()
        await browser.close()
    return [rec for _, rec in opened], version


def scenario(preheat, n_visitors, together, timeout_s):
    """Start a server, wait for its spare kernels, send the visitors; return the measurements."""
    with tempfile.TemporaryDirectory() as tmp:
        server = AppServer(port=0, preheat=preheat, log_path=Path(tmp) / "voila.log", log_level="INFO")
        with server:
            t0 = time.monotonic()
            ready_s = round(wait_for_spares(server, preheat, timeout_s) - t0, 1) if preheat else None
            spare_memory = memory(kernels(server)) if preheat else None
            visitors, version = asyncio.run(run_visitors(server.app_url("explorer"), n_visitors,
                                                         together, int(timeout_s * 1000)))
            used_pool = server.log_path.read_text(errors="replace").count("Using pre-heated kernel")
    return {"preheat": preheat, "visitors": visitors, "spares_ready_after_start_s": ready_s,
            "spare_kernel_memory": spare_memory, "pages_served_from_the_pool": used_pool,
            "chromium": version}


def summarise(result, preheat):
    times = [v.get("interactive_s") for v in result["visitors"]]
    first = [t for t in times[:preheat] if t is not None]
    return {"first_n_interactive_s": first,
            "first_n_median_s": statistics.median(first) if first else None,
            "first_n_max_s": max(first) if first else None,
            "visitor_n_plus_1_interactive_s": times[preheat] if len(times) > preheat else None,
            "all_served": all(v["ok"] for v in result["visitors"])}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preheat", type=int, default=2, help="spare kernels per app (default 2)")
    parser.add_argument("--timeout", type=float, default=300.0, help="seconds per step (default 300)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args(argv)
    if not Path(CHROMIUM).is_file():
        parser.error(f"no Chromium at {CHROMIUM}: apt-get install chromium")
    n = args.preheat
    load_before = os.getloadavg()
    cold = scenario(0, 1, False, args.timeout)
    one_by_one = scenario(n, n + 1, False, args.timeout)
    burst = scenario(n, n + 1, True, args.timeout)
    result = {
        "benchmark": "time to an interactive explorer with pre-heated kernels (mtjexplore app --preheat N)",
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "machine": {"cpus": os.cpu_count(), "memory_gib": round(psutil.virtual_memory().total / 2**30, 1),
                    "load_avg_1min_before": round(load_before[0], 2), "python": platform.python_version(),
                    "chromium": cold["chromium"]},
        "preheat": n,
        "summary": {"cold_alone_interactive_s": cold["visitors"][0].get("interactive_s"),
                    "one_by_one": summarise(one_by_one, n), "burst": summarise(burst, n)},
        "cold": cold, "one_by_one": one_by_one, "burst": burst,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result["summary"], indent=2))
    print(f"wrote {args.out}")
    return 0 if result["summary"]["one_by_one"]["all_served"] and result["summary"]["burst"]["all_served"] else 1


if __name__ == "__main__":
    sys.exit(main())
