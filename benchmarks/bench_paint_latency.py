"""Paint -> error latency of the Explorer in the kernel (issue "Widget library", part 4).

At the paper's size (one die of 20,000 devices, all 10,000 MNIST test images, weights trained
with ``Trainer(epochs=2)``), ~50 paint events go through the same handler the mouse calls
(``CrossbarPainter._on_mouse`` with an ipyevents-like ``mousedown``); each is timed from the
handler call until the Explorer's ``current-error`` label holds the new error. Measured side by
side, interleaved per event, in the kernel's main thread with its default torch threads:

* ``painter_update``: a bare :class:`CrossbarPainter` (die edit + heat map + counts), no evaluation;
* ``paint_to_error``: the whole Explorer path (paint, redraw, evaluate in the explorer's
  one-thread evaluation worker, digits, neuron view);
* ``fast_eval_1_thread``: :meth:`mtjexplore.fast_eval.DieEvaluator.evaluate` of the painted die
  in a worker thread with ``torch.set_num_threads(1)`` (what the Explorer does);
* ``fast_eval_default_threads``: the same call in the main thread with the default threads;
* ``mx_evaluate``: :func:`mtjexplore.evaluate` on the same die, main thread, default threads.

Target: median paint -> error <= 50 ms.
Writes ``benchmarks/results/paint_latency.json`` and ``paint_latency.png``.
Run: ``python benchmarks/bench_paint_latency.py [--events 50]``.
"""

import argparse
import concurrent.futures
import json
import os
import platform
import statistics
import time
from pathlib import Path

import numpy as np
import torch

import mtjexplore as mx
from mtjexplore.fast_eval import DieEvaluator

RESULTS = Path(__file__).parent / "results"
TARGET_MS = 50.0
MARGIN = {"top": 28, "bottom": 36, "left": 48, "right": 12}
SIZE = (900, 470)
KINDS = ("short", "open", "stuck_p", "stuck_ap")


def mouse(kind, cell, shape):
    """An ipyevents mousedown/mouseup dict aimed at the centre of ``cell``."""
    width = SIZE[0] - MARGIN["left"] - MARGIN["right"]
    height = SIZE[1] - MARGIN["top"] - MARGIN["bottom"]
    return {"type": kind, "button": 0, "buttons": 1 if kind == "mousedown" else 0,
            "relativeX": MARGIN["left"] + (cell[1] + 0.5) * width / shape[1],
            "relativeY": MARGIN["top"] + (cell[0] + 0.5) * height / shape[0],
            "boundingRectWidth": SIZE[0], "boundingRectHeight": SIZE[1]}


def click(painter, cell, kind):
    painter.palette.value = kind
    painter._on_mouse(mouse("mousedown", cell, painter.die.defect.shape))
    painter._on_mouse(mouse("mouseup", cell, painter.die.defect.shape))


def ms(fn):
    start = time.perf_counter()
    fn()
    return 1e3 * (time.perf_counter() - start)


NAMES = ["painter_update", "paint_to_error", "fast_eval_1_thread", "fast_eval_default_threads",
         "mx_evaluate"]
LABELS = ["painter update\n(no evaluation)", "paint → error\n(Explorer, whole path)",
          "DieEvaluator\n1 torch thread", "DieEvaluator\ndefault threads", "mx.evaluate\ndefault threads"]


def run(n_events, weights, ens, train, test, seed):
    from mtjexplore.widgets import CrossbarPainter, Explorer

    explorer = Explorer(ens, train, test, weights={"software": weights})
    bare = CrossbarPainter(ens.isel(die=0))
    fast = DieEvaluator(weights, test)
    one_thread = concurrent.futures.ThreadPoolExecutor(1, initializer=torch.set_num_threads, initargs=(1,))
    cells = np.argwhere(mx.paper_config().floorplan.present)
    rng = np.random.default_rng(seed)
    times, changed = {name: [] for name in NAMES}, 0
    for k in range(n_events + 5):  # the first 5 are warm-up
        cell, kind = tuple(cells[rng.integers(len(cells))]), KINDS[rng.integers(len(KINDS))]
        before = explorer.error_label.value
        sample = {"painter_update": ms(lambda: click(bare, cell, kind)),
                  "paint_to_error": ms(lambda: click(explorer.painter, cell, kind))}
        die = explorer.painter.die
        sample["fast_eval_1_thread"] = one_thread.submit(ms, lambda: fast.evaluate(die)).result()
        sample["fast_eval_default_threads"] = ms(lambda: fast.evaluate(die))
        sample["mx_evaluate"] = ms(lambda: mx.evaluate(weights, die, test))
        if k >= 5:
            changed += explorer.error_label.value != before
            for name, value in sample.items():
                times[name].append(value)
    one_thread.shutdown()
    expected = float(mx.evaluate(weights, explorer.painter.die, test).error[0])
    assert abs(explorer.current_error - expected) < 1e-12, "the label must show mx.evaluate's error"
    return times, changed


def summary(values):
    q = np.percentile(values, [10, 50, 90, 95])
    return {"n": len(values), "median_ms": float(q[1]), "p10_ms": float(q[0]), "p90_ms": float(q[2]),
            "p95_ms": float(q[3]), "max_ms": float(max(values)), "mean_ms": statistics.fmean(values)}


def plot(result, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8.5, 4.6))
    rng = np.random.default_rng(0)
    for k, name in enumerate(NAMES):
        values = np.array(result["raw_ms"][name])
        ax.scatter(k + rng.uniform(-0.15, 0.15, values.size), values, s=10, alpha=0.6)
        median = float(np.median(values))
        ax.hlines(median, k - 0.3, k + 0.3, color="black", lw=2)
        ax.annotate(f"median {median:.1f} ms", (k, median), xytext=(0, 8), textcoords="offset points",
                    ha="center", fontsize=8)
    ax.axhline(TARGET_MS, color="crimson", ls="--", lw=1)
    ax.text(-0.45, TARGET_MS * 1.08, "target: median paint → error ≤ 50 ms", color="crimson",
            ha="left", fontsize=8)
    ax.set_yscale("log")
    ax.set_xticks(range(len(NAMES)), LABELS, fontsize=8)
    ax.set_ylabel("latency in the kernel (ms)")
    ax.grid(axis="y", alpha=0.3)
    ax.set_title(f"Paint → error at paper size: 20,000 devices, {result['n_test_images']:,} test images, "
                 f"{result['n_events']} paint events\n({result['cpu_count']} CPU cores shared with other "
                 f"work, load average {result['load_average']}; kernel default "
                 f"{result['default_threads']} torch threads)", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=50)
    args = parser.parse_args(argv)
    train, test = mx.load_mnist()
    start = time.perf_counter()
    weights = mx.Trainer(mx.paper_config(), epochs=2, seed=0).fit(train).weights_
    train_s = time.perf_counter() - start
    ens = mx.reference_ensemble(n_dies=8)
    load_before = os.getloadavg()
    times, changed = run(args.events, weights, ens, train, test, seed=1)
    result = {"n_events": args.events, "n_test_images": len(test), "cpu_count": os.cpu_count(),
              "load_average": round((load_before[0] + os.getloadavg()[0]) / 2, 1),
              "default_threads": torch.get_num_threads(), "error_label_changed": changed,
              **{name: summary(v) for name, v in times.items()},
              "raw_ms": {name: [round(x, 3) for x in v] for name, v in times.items()}}
    out = {"benchmark": "paint -> error latency (Explorer, kernel side)",
           "target_median_ms": TARGET_MS, "die_devices": mx.paper_config().n_devices,
           "weights": "Trainer(paper_config(), epochs=2, seed=0), software",
           "weights_train_s": round(train_s, 2),
           "weights_test_error": float(mx.evaluate(weights, None, test).error),
           "machine": {"python": platform.python_version(), "torch": torch.__version__,
                       "platform": platform.platform()},
           "date": time.strftime("%Y-%m-%d %H:%M:%S"), "result": result}
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "paint_latency.json").write_text(json.dumps(out, indent=1) + "\n")
    plot(result, RESULTS / "paint_latency.png")
    print({name: round(result[name]["median_ms"], 2) for name in NAMES})
    return out


if __name__ == "__main__":
    main()
