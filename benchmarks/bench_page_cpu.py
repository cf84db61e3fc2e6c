#!/usr/bin/env python3
"""What one explorer page costs the browser: Chromium CPU-seconds per page load, one at a time.

Eight visitors at once on this 2-core machine take 13–16 s to an interactive explorer
(``voila_sessions.md``), nearly all of it Chromium's own work. This measures that work for one
page: a server with pre-heated kernels, then ``--loads`` page loads one after the other, each in
a fresh Chromium context (a new visitor, nothing cached), timed from navigation until the page
shows the test error (interactive). Per load it records the CPU time of all Chromium processes
(``bench_voila_sessions.cpu_seconds``), the page's main-thread figures from the DevTools ``Performance``
domain (task, script, layout and style time; DOM nodes) and the requests and bytes it fetched.

Pages, alternated load by load so that all see the same machine: the explorer as shipped, and
the same notebook with its two lower sections (Train, Across the ensemble: 4 of its 7 bqplot
figures) removed, which says how much a thinner page could save. Then three reference pages
served the same way, which say what any Voilà app costs before its own widgets: a notebook that
prints one line (Voilà's front end alone), one that shows one ipywidgets ``Label`` (plus the
widget manager) and one that shows one bqplot figure (plus bqplot's front end).

Usage::

    python benchmarks/bench_page_cpu.py [--loads 4] [--max-load 1.0] [--out benchmarks/results/page_cpu.json]
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import json
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

from _load import core_speed_s, load_1min, wait_for_low_load  # noqa: E402
from bench_preheat import CHROMIUM, CHROMIUM_FLAGS, INTERACTIVE_JS, wait_for_spares  # noqa: E402
from bench_voila_sessions import cpu_seconds  # noqa: E402

from mtjexplore.serve.appserver import APPS_DIR, AppServer  # noqa: E402

METRICS = ("TaskDuration", "ScriptDuration", "LayoutDuration", "RecalcStyleDuration", "Nodes")
THIN = "app.children = app.children[:4]  # benchmark only: without the Train and ensemble sections\n"
READY_TEXT = "reference page ready"
REFERENCES = {  # name -> (notebook source, JavaScript test that the page shows it)
    "Voilà page, no widgets": (
        f"print({READY_TEXT!r})",
        f"() => document.body.innerText.includes({READY_TEXT!r})"),
    "one ipywidgets Label": (
        f"import ipywidgets\nipywidgets.Label({READY_TEXT!r}, _dom_classes=['reference-ready'])",
        "() => document.querySelector('.reference-ready') !== null"),
    "one bqplot figure": (
        "import bqplot, ipywidgets\n"
        "x, y = bqplot.LinearScale(), bqplot.LinearScale()\n"
        "figure = bqplot.Figure(marks=[bqplot.Lines(x=[0, 1, 2], y=[0, 1, 4], scales={'x': x, 'y': y})],\n"
        "                       axes=[bqplot.Axis(scale=x), bqplot.Axis(scale=y, orientation='vertical')])\n"
        f"ipywidgets.VBox([figure, ipywidgets.Label({READY_TEXT!r}, _dom_classes=['reference-ready'])])",
        "() => document.querySelector('.reference-ready') !== null && document.querySelector('.bqplot svg') !== null"),
}


def thin_copy(folder):
    """The packaged apps in ``folder``, the explorer without its two lower sections."""
    for nb in APPS_DIR.glob("*.ipynb"):
        shutil.copy(nb, folder / nb.name)
    path = folder / "explorer.ipynb"
    notebook = json.loads(path.read_text(encoding="utf-8"))
    cells = [c for c in notebook["cells"] if "".join(c["source"]).rstrip().endswith("\napp")]
    if len(cells) != 1:
        raise RuntimeError("explorer.ipynb changed: no single cell ending in `app` to thin")
    source = "".join(cells[0]["source"]).rstrip()
    cells[0]["source"] = source[:-len("app")] + THIN + "app\n"
    path.write_text(json.dumps(notebook), encoding="utf-8")


def reference_notebooks(folder):
    """The reference pages as notebooks in ``folder``; returns their names (file stems)."""
    import nbformat

    stems = []
    for i, (source, _) in enumerate(REFERENCES.values()):
        nb = nbformat.v4.new_notebook()
        nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
        nb.cells = [nbformat.v4.new_code_cell(source)]
        stems.append(f"reference{i}")
        nbformat.write(nb, folder / f"{stems[-1]}.ipynb")
    return stems


def chromium_cpu_s(server):
    """User + system CPU seconds of this script's Chromium processes so far."""
    return sum(cpu_seconds(server.process.pid, set())["chromium"].values())


async def one_load(browser, server, url, ready_js, timeout_ms):
    context = await browser.new_context(viewport={"width": 1366, "height": 768})
    page = await context.new_page()
    fetched = []
    page.on("requestfinished", lambda request: fetched.append(request))
    cdp = await context.new_cdp_session(page)
    await cdp.send("Performance.enable")
    cpu0, t0 = chromium_cpu_s(server), time.monotonic()
    await page.goto(url, timeout=timeout_ms)
    await page.wait_for_function(ready_js, timeout=timeout_ms, polling=50)
    wall, cpu = time.monotonic() - t0, chromium_cpu_s(server) - cpu0
    metrics = {m["name"]: m["value"] for m in (await cdp.send("Performance.getMetrics"))["metrics"]}
    sizes = []
    for request in fetched:
        sizes.append((await request.sizes())["responseBodySize"])
    await context.close()
    return {"interactive_s": round(wall, 2), "chromium_cpu_s": round(cpu, 2),
            **{name: round(metrics[name], 3) for name in METRICS if name in metrics},
            "requests": len(sizes), "body_bytes": int(sum(sizes))}


async def measure(pages, loads, timeout_ms):
    """``pages``: name -> (server, url, JavaScript test that the page is ready)."""
    from playwright.async_api import async_playwright

    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        records = {name: [] for name in pages}
        for _ in range(loads):
            for name, (server, url, ready_js) in pages.items():  # alternated: all see the same machine
                try:
                    records[name].append(await one_load(browser, server, url, ready_js, timeout_ms))
                except Exception as exc:
                    raise RuntimeError(f"page {name!r} ({url}): {exc}") from exc
        version = browser.version
        await browser.close()
    return records, version


def summary(rows):
    keys = [k for k in rows[0] if isinstance(rows[0][k], (int, float))]
    return {k: round(statistics.median(r[k] for r in rows), 3) for k in keys}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--loads", type=int, default=4, help="loads of each page")
    parser.add_argument("--max-load", type=float, default=None, metavar="LOAD",
                        help="first wait up to 15 min for the 1-minute load average to fall below LOAD")
    parser.add_argument("--timeout", type=float, default=300.0)
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results" / "page_cpu.json")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        thin, references = Path(tmp) / "apps", Path(tmp) / "references"
        thin.mkdir()
        references.mkdir()
        thin_copy(thin)
        stems = reference_notebooks(references)
        shipped = AppServer(port=0, preheat=args.loads, log_path=Path(tmp) / "shipped.log", log_level="INFO")
        thinned = AppServer(port=0, root=thin, preheat=args.loads, log_path=Path(tmp) / "thin.log",
                            log_level="INFO")
        reference = AppServer(port=0, root=references, preheat=args.loads, log_path=Path(tmp) / "ref.log",
                              log_level="INFO")
        with shipped, thinned, reference:
            wait_for_spares(shipped, args.loads, args.timeout)
            wait_for_spares(thinned, args.loads, args.timeout)
            wait_for_spares(reference, args.loads, args.timeout, apps=stems)
            waited = wait_for_low_load(args.max_load) if args.max_load is not None else None
            speed, load_before = core_speed_s(), load_1min()
            pages = {"explorer": (shipped, shipped.app_url("explorer"), INTERACTIVE_JS),
                     "explorer without its two lower sections": (thinned, thinned.app_url("explorer"),
                                                                 INTERACTIVE_JS)}
            for stem, (name, (_, ready_js)) in zip(stems, REFERENCES.items()):
                pages[name] = (reference, f"{reference.url}voila/render/{stem}.ipynb", ready_js)
            records, version = asyncio.run(measure(pages, args.loads, int(args.timeout * 1000)))
            load_after = load_1min()
    result = {"benchmark": "Chromium CPU per explorer page load, one visitor at a time",
              "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
              "chromium": version, "load_wait": waited,
              "load_avg_1min_before_after": [load_before, load_after], "core_speed_s_before": speed,
              "median": {name: summary(rows) for name, rows in records.items()}, "loads": records}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps({k: v for k, v in result.items() if k != "loads"}, indent=2))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
