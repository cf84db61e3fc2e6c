#!/usr/bin/env python3
"""Open N app sessions at once against one Voilà server; record render times and kernel memory.

Every session is its own Chromium browser context (as separate users are): all N pages are
requested at the same moment, and a session counts as rendered when the app's main widget is
visible. While all pages are still open, the memory of every kernel process the server started
is read with psutil (RSS, and USS — memory unique to that process — where the OS allows).

With ``--preheat N`` the server keeps N kernels per app ready (``mtjexplore app --preheat N``);
the burst is sent once they have all loaded the app, and there is no lone reference session
(it would take a spare kernel). For the explorer a session also counts as *interactive* when it
shows the test error of the current weights (``.current-error .error-value`` reads ``12.34 %``).

``--driver cdp`` opens the pages with the lean DevTools driver of ``_cdp.py`` instead of
Playwright (a control: Playwright's instrumentation of the pages costs the browser CPU). Just
before the burst the script times a fixed piece of work on one core (``core_speed_s_before``).

Usage::

    python benchmarks/bench_voila_sessions.py [--app explorer] [--sessions 8] [--preheat 8]
        [--driver playwright|cdp] [--out benchmarks/results/voila_sessions.json]

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

from mtjexplore.serve.appserver import AppServer  # noqa: E402

sys.path.insert(0, str(REPO / "benchmarks"))
from _load import core_speed_s, wait_for_low_load  # noqa: E402
from bench_preheat import CHROMIUM, CHROMIUM_FLAGS, INTERACTIVE_JS, kernels, wait_for_spares  # noqa: E402

DEFAULT_OUT = REPO / "benchmarks" / "results" / "voila_sessions.json"
# Playwright passes these too: no page is treated as a background tab (its renderer deprioritised,
# its timers throttled). Each student's page is the tab in front on their own computer.
FOREGROUND_FLAGS = ["--disable-renderer-backgrounding", "--disable-background-timer-throttling",
                    "--disable-backgrounding-occluded-windows"]
READY = {"explorer": ".crossbar-painter", "ensemble": ".ensemble-view"}
MIB = 2**20


async def open_session(browser, url, selector, timeout_ms, t0):
    """Open one page in a fresh context; return its timings (seconds from the common start)."""
    context = await browser.new_context(viewport={"width": 1400, "height": 1000})
    page = await context.new_page()
    errors = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    record = {"ok": False}
    try:
        start = time.monotonic()
        response = await page.goto(url, timeout=timeout_ms)
        record["http_status"] = response.status if response else None
        record["page_loaded_s"] = round(time.monotonic() - start, 2)
        timing = response.request.timing if response else {}
        if timing.get("responseStart", -1) >= 0:  # ms after the request started: time to first byte
            record["first_byte_s"] = round(timing["responseStart"] / 1000, 2)
        await page.locator(selector).first.wait_for(state="visible", timeout=timeout_ms)
        record["render_s"] = round(time.monotonic() - start, 2)
        if selector == READY["explorer"]:
            await page.wait_for_function(INTERACTIVE_JS, timeout=timeout_ms, polling=50)
            record["interactive_s"] = round(time.monotonic() - start, 2)
        record["started_after_s"] = round(start - t0, 3)
        record["ok"] = True
    except Exception as exc:  # record the failure, keep measuring the other sessions
        record["error"] = f"{type(exc).__name__}: {str(exc).splitlines()[0]}"
    record["page_errors"] = errors[:5]
    return context, record


def kernel_pids(server_pid):
    """Process ids of the ipykernel processes under the server."""
    pids = set()
    for proc in psutil.Process(server_pid).children(recursive=True):
        try:
            if "ipykernel" in " ".join(proc.cmdline()):
                pids.add(proc.pid)
        except psutil.NoSuchProcess:
            continue
    return pids


def cpu_seconds(server_pid, spare_pids):
    """CPU seconds used so far, by group: the Chromium processes (this script's descendants outside
    the server), the Voilà server process, the kernels in ``spare_pids`` (the pool, which serves
    the visitors) and the server's other kernels (pool refills)."""
    server = psutil.Process(server_pid)
    server_tree = {server_pid} | {p.pid for p in server.children(recursive=True)}
    groups = {"chromium": {}, "voila_server": {}, "visitor_kernels": {}, "refill_kernels": {}}
    for proc in [server, *psutil.Process().children(recursive=True)]:
        try:
            times = proc.cpu_times()
            used = times.user + times.system
            if proc.pid == server_pid:
                group = "voila_server"
            elif proc.pid in server_tree:
                if "ipykernel" not in " ".join(proc.cmdline()):
                    continue
                group = "visitor_kernels" if proc.pid in spare_pids else "refill_kernels"
            elif "chrom" in proc.name().lower() or "headless_shell" in proc.name():
                group = "chromium"
            else:
                continue
            groups[group][proc.pid] = used
        except psutil.NoSuchProcess:
            continue
    return groups


def cpu_used(before, after):
    """CPU seconds per group between two :func:`cpu_seconds` snapshots (processes that ended in
    between are not counted)."""
    return {group: round(sum(t - before[group].get(pid, 0.0) for pid, t in after[group].items()), 1)
            for group in after}


def chromium_by_type(before, after):
    """Chromium's CPU seconds between two :func:`cpu_seconds` snapshots, by process type: the
    browser, the renderers (the pages), the gpu-process (which composites every frame; with
    --disable-gpu in software) and the utility processes (network, storage)."""
    used = {}
    for pid, t in after["chromium"].items():
        try:
            args = psutil.Process(pid).cmdline()
        except psutil.NoSuchProcess:
            continue
        kind = next((a.split("=", 1)[1] for a in args if a.startswith("--type=")), "browser")
        used[kind] = used.get(kind, 0.0) + t - before["chromium"].get(pid, 0.0)
    return {kind: round(t, 2) for kind, t in sorted(used.items())}


def new_kernel_starts(server_pid, before, t0_wall):
    """Seconds after the burst at which each kernel not in ``before`` started (pool refills)."""
    starts = []
    for proc in psutil.Process(server_pid).children(recursive=True):
        try:
            if proc.pid not in before and "ipykernel" in " ".join(proc.cmdline()):
                starts.append(round(proc.create_time() - t0_wall, 1))
        except psutil.NoSuchProcess:
            continue
    return sorted(starts)


def wait_for_refill(server, before, n_new, timeout_s):
    """Seconds (from now) until ``n_new`` kernels beyond ``before`` run and all have gone idle."""
    start = time.monotonic()
    while time.monotonic() - start < timeout_s:
        procs = [p for p in kernels(server) if p.pid not in before]
        if len(procs) >= n_new:
            for proc in procs:
                proc.cpu_percent(interval=None)
            time.sleep(1.0)  # a CPU sample needs an interval; this is a measurement, not a sync
            if sum(p.cpu_percent(interval=None) for p in procs) < 5.0:
                return round(time.monotonic() - start, 1)
        else:
            time.sleep(0.5)
    return None


def kernel_memory(server_pid, exclude=()):
    """RSS/USS (MiB) of the ipykernel processes under the server (but ``exclude``), and of the server."""
    server = psutil.Process(server_pid)
    kernels = []
    for proc in server.children(recursive=True):
        try:
            if proc.pid in exclude or "ipykernel" not in " ".join(proc.cmdline()):
                continue
            try:
                info = proc.memory_full_info()
                uss = round(info.uss / MIB, 1)
            except (psutil.AccessDenied, AttributeError):
                info, uss = proc.memory_info(), None
            kernels.append({"pid": proc.pid, "rss_mib": round(info.rss / MIB, 1), "uss_mib": uss})
        except psutil.NoSuchProcess:
            continue
    return {"server_rss_mib": round(server.memory_info().rss / MIB, 1), "kernels": kernels}


async def open_in_own_browser(pw, url, selector, timeout_ms, t0):
    """A session in a Chromium of its own, as a student on their own computer."""
    browser = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
    context, record = await open_session(browser, url, selector, timeout_ms, t0)
    return browser, context, record


def _visible_js(selector):
    return (f"(() => {{ const el = document.querySelector({json.dumps(selector)}); if (el === null) return false;"
            " const box = el.getBoundingClientRect();"
            " return box.width > 0 && box.height > 0 && getComputedStyle(el).visibility !== 'hidden'; })()")


async def open_session_cdp(browser, url, selector, timeout_ms, t0, poll_s=0.05):
    """:func:`open_session` with the lean driver (``--driver cdp``): the same moments (load event,
    main widget visible, interactive), read by asking the page every ``poll_s`` seconds."""
    page = await browser.new_page(1400, 1000)
    checks = {"page_loaded_s": "document.readyState === 'complete'", "render_s": _visible_js(selector)}
    if selector == READY["explorer"]:
        checks["interactive_s"] = f"({INTERACTIVE_JS})()"
    question = "[" + ", ".join(checks.values()) + "]"
    record = {"ok": False}
    try:
        start = time.monotonic()
        await page.navigate(url)
        deadline = start + timeout_ms / 1000
        while any(name not in record for name in checks):
            answers = await page.evaluate(question)
            now = time.monotonic()
            for (name, _), yes in zip(checks.items(), answers):
                if yes and name not in record:
                    record[name] = round(now - start, 2)
            if now > deadline:
                raise TimeoutError(f"not {', '.join(n for n in checks if n not in record)} after {timeout_ms} ms")
            await asyncio.sleep(poll_s)
        timing = await page.evaluate("(() => { const n = performance.getEntriesByType('navigation')[0];"
                                     " return [n.responseStatus, n.responseStart]; })()")
        record["http_status"], record["first_byte_s"] = timing[0], round(timing[1] / 1000, 2)
        record["started_after_s"] = round(start - t0, 3)
        record["ok"] = True
    except Exception as exc:  # record the failure, keep measuring the other sessions
        record["error"] = f"{type(exc).__name__}: {str(exc).splitlines()[0]}"
    record["page_errors"] = []  # not collected: that needs the runtime events this driver avoids
    return page, record


async def timed_burst(server, open_all):
    """Run ``open_all(t0)``, which opens every session and returns ``[(handle, record), ...]``,
    and account for it: wall time, CPU seconds by group and by Chromium process type, pool refills
    started, memory of the kernels the burst took."""
    before = kernel_pids(server.process.pid)
    cpu_before = cpu_seconds(server.process.pid, before)
    t0, t0_wall = time.monotonic(), time.time()
    opened = await open_all(t0)
    wall = time.monotonic() - t0
    cpu_after = cpu_seconds(server.process.pid, before)
    burst = {"cpu_s_during_burst": cpu_used(cpu_before, cpu_after),
             "chromium_cpu_s_by_process_type": chromium_by_type(cpu_before, cpu_after),
             "refill_kernels_started_after_s": new_kernel_starts(server.process.pid, before, t0_wall),
             "kernels_before": before, "t0_wall": t0_wall}
    return opened, wall, kernel_memory(server.process.pid, exclude=before), burst


async def measure_cdp(server, app, n_sessions, timeout_ms):
    """The burst of :func:`measure` with the lean driver (no lone reference session)."""
    from _cdp import Chromium

    url = server.app_url(app)
    async with Chromium(CHROMIUM, CHROMIUM_FLAGS + FOREGROUND_FLAGS) as browser:
        await asyncio.sleep(1.0)  # let the browser finish starting before the CPU snapshot
        opened, wall, memory, burst = await timed_burst(server, lambda t0: asyncio.gather(
            *(open_session_cdp(browser, url, READY[app], timeout_ms, t0) for _ in range(n_sessions))))
        for page, _ in opened:
            await page.close()
        version = browser.version
    return [rec for _, rec in opened], wall, memory, version, None, burst


async def measure(server, app, n_sessions, timeout_ms, alone_first=True, own_browsers=False):
    from playwright.async_api import async_playwright

    url = server.app_url(app)
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        # Reference: one session alone (its kernel stays until culled; it is left out below).
        alone = None
        if alone_first:
            alone_context, alone = await open_session(browser, url, READY[app], timeout_ms, time.monotonic())
            await alone_context.close()
        owned = []

        async def open_all(t0):
            if not own_browsers:
                return await asyncio.gather(*(open_session(browser, url, READY[app], timeout_ms, t0)
                                              for _ in range(n_sessions)))
            owned.extend(await asyncio.gather(*(open_in_own_browser(pw, url, READY[app], timeout_ms, t0)
                                                for _ in range(n_sessions))))
            return [(context, record) for _, context, record in owned]

        opened, wall, memory, burst = await timed_burst(server, open_all)
        version = browser.version
        for context, _ in opened:
            await context.close()
        for other, _, _ in owned:
            await other.close()
        await browser.close()
    return [rec for _, rec in opened], wall, memory, version, alone, burst


def quantiles(values):
    """min, median, p90 and max of ``values`` (None if empty)."""
    if not values:
        return None
    ordered = sorted(values)
    p90 = ordered[min(len(ordered) - 1, round(0.9 * (len(ordered) - 1)))]
    return {"min": ordered[0], "median": statistics.median(ordered), "p90": p90, "max": ordered[-1]}


def summarise(sessions, wall, memory):
    times = [s["render_s"] for s in sessions if s["ok"]]
    interactive = [s["interactive_s"] for s in sessions if s["ok"] and "interactive_s" in s]
    rss = [k["rss_mib"] for k in memory["kernels"]]
    uss = [k["uss_mib"] for k in memory["kernels"] if k["uss_mib"] is not None]
    return {
        "n_sessions": len(sessions),
        "n_rendered": len(times),
        "all_rendered": len(times) == len(sessions),
        "render_s": {"min": min(times), "median": statistics.median(times), "max": max(times)} if times else None,
        "interactive_s": quantiles(interactive),
        "first_byte_s": quantiles([s["first_byte_s"] for s in sessions if "first_byte_s" in s]),
        "page_loaded_s": quantiles([s["page_loaded_s"] for s in sessions if "page_loaded_s" in s]),
        "wall_s_all_sessions": round(wall, 2),
        "n_kernels": len(rss),
        "kernel_rss_mib": {"min": min(rss), "median": statistics.median(rss), "max": max(rss),
                           "total": round(sum(rss), 1)} if rss else None,
        "kernel_uss_mib": {"min": min(uss), "median": statistics.median(uss), "max": max(uss),
                           "total": round(sum(uss), 1)} if uss else None,
        "server_rss_mib": memory["server_rss_mib"],
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--app", choices=sorted(READY), default="explorer")
    parser.add_argument("--sessions", type=int, default=8)
    parser.add_argument("--timeout", type=float, default=300.0, help="seconds per session (default 300)")
    parser.add_argument("--preheat", type=int, default=0, help="spare kernels per app (default 0)")
    parser.add_argument("--log", type=Path, default=None, help="keep the server's log in this file")
    parser.add_argument("--own-browsers", action="store_true",
                        help="every session in its own Chromium (default: contexts of one Chromium)")
    parser.add_argument("--max-load", type=float, default=None, metavar="LOAD",
                        help="before the burst (spares loaded), wait up to 15 min for the 1-minute "
                             "load average to fall below LOAD")
    parser.add_argument("--refill-quiet", type=float, default=None, metavar="S",
                        help="the server's --refill-quiet (default: the server's default)")
    parser.add_argument("--wait-refill", action="store_true",
                        help="after the burst, time how long the pool takes to refill")
    parser.add_argument("--page-template", choices=("mtjexplore", "lab"), default="mtjexplore",
                        help="the apps' page (default) or Voilà's own lab page, with its animated spinner")
    parser.add_argument("--driver", choices=("playwright", "cdp"), default="playwright",
                        help="drive the browser with Playwright (default) or with the lean DevTools "
                             "driver of benchmarks/_cdp.py, which enables no event reporting in the "
                             "pages (needs --preheat; no --own-browsers)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args(argv)
    if args.driver == "cdp" and (args.own_browsers or not args.preheat):
        parser.error("--driver cdp measures a burst against pre-heated kernels: give --preheat N, "
                     "without --own-browsers")
    if not Path(CHROMIUM).is_file():
        parser.error(f"no Chromium at {CHROMIUM}: apt-get install chromium")
    with tempfile.TemporaryDirectory() as tmp:
        log_level = "INFO" if args.preheat else "WARN"  # wait_for_spares reads the pool messages
        extra = {} if args.refill_quiet is None else {"refill_quiet_s": args.refill_quiet}
        server = AppServer(port=0, log_path=args.log or Path(tmp) / "voila.log", preheat=args.preheat,
                           log_level=log_level, **extra)
        if args.page_template == "lab":
            server.options["VoilaConfiguration.template"] = "lab"
        with server:
            started = time.monotonic()
            if args.preheat:
                wait_for_spares(server, args.preheat, args.timeout)
            spares_ready_s = round(time.monotonic() - started, 1)
            quiet = wait_for_low_load(args.max_load) if args.max_load else None
            speed = core_speed_s()
            load_before = os.getloadavg()
            if args.driver == "cdp":
                run = measure_cdp(server, args.app, args.sessions, int(args.timeout * 1000))
            else:
                run = measure(server, args.app, args.sessions, int(args.timeout * 1000), not args.preheat,
                              args.own_browsers)
            sessions, wall, memory, version, alone, burst = asyncio.run(run)
            load_after = os.getloadavg()
            if args.wait_refill and args.preheat:
                done = wait_for_refill(server, burst["kernels_before"], args.sessions, args.timeout)
                # seconds after the burst began at which the refilled pool was loaded and idle
                burst["refill_done_after_s"] = None if done is None else round(time.time() - burst["t0_wall"], 1)
                burst["refill_kernels_started_after_s"] = new_kernel_starts(
                    server.process.pid, burst["kernels_before"], burst["t0_wall"])
    result = {
        "benchmark": "concurrent Voilà app sessions against one server",
        "app": args.app,
        "preheat": args.preheat,
        "page_template": args.page_template,
        "own_browsers": args.own_browsers,
        "driver": args.driver,
        "ready_selector": READY[args.app],
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "machine": {"cpus": os.cpu_count(), "memory_gib": round(psutil.virtual_memory().total / 2**30, 1),
                    "load_avg_1min_before": round(load_before[0], 2),
                    "load_avg_1min_after": round(load_after[0], 2), "core_speed_s_before": speed,
                    "python": platform.python_version(),
                    "chromium": version},
        "summary": summarise(sessions, wall, memory),
        "spares_ready_after_start_s": spares_ready_s,
        "load_wait": quiet,
        "burst": {k: v for k, v in burst.items() if k not in ("kernels_before", "t0_wall")},
        "one_session_alone": alone,
        "sessions": sessions,
        "memory": memory,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps({"one_session_alone_render_s": (alone or {}).get("render_s"), **result["summary"],
                      "load_avg_1min": [result["machine"]["load_avg_1min_before"],
                                        result["machine"]["load_avg_1min_after"]]}, indent=2))
    print(f"wrote {args.out}")
    return 0 if result["summary"]["all_rendered"] else 1


if __name__ == "__main__":
    sys.exit(main())
