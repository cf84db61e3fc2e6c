"""Evaluation at scale: 1,000 dies x 10,000 images, its peak memory, and a statistics-aware epoch.

Measured side by side in one run, on ``--device`` (``cpu`` or ``cuda``):

1. ``evaluate_tensors`` (what :func:`mtjexplore.evaluate` runs once the dies' coefficients are
   built) of the paper network on ``--dies`` sampled dies x ``--images`` MNIST test images,
   ``--chunk`` dies at a time, against the *bare-matmul floor*: the same products on the same
   device with the effective weights already built (per chunk one GEMM
   ``[chunk * 90, 101] @ [101, n]`` for layer 1, one ``bmm`` ``[chunk, 10, 91] @ [chunk, 91, n]``
   for layer 2, nothing else). The two run interleaved; reported are the medians and the median
   of the per-repetition ratios (ours / floor).
2. Peak memory of the evaluation for ``--dies`` and for a tenth of them with the same chunk: it
   depends on the chunk, not on the number of dies. On a GPU ``torch.cuda.max_memory_allocated``
   above the level before the call (the coefficients of all dies stay on the CPU; each chunk
   moves once). On the CPU the peak resident set above the level before the call, sampled every
   2 ms by a thread, in a fresh child process with ``MALLOC_MMAP_THRESHOLD_=65536`` (so freed
   blocks go back to the system and the resident set follows the live tensors). The dies'
   coefficients, built before, are not counted: ``coefficients_mib`` gives them.
3. One statistics-aware epoch (60,000 images, the study's recipe) against one software epoch.

Timings on shared machines drift; the default 3 repetitions (the 2-core machine this was written
on ran it in ~5-8 min) are fewer than ``bench_core.py``'s 7. Results go to
``benchmarks/results/eval_scale.json``, one entry per device type (an existing file is updated).

Run::

    python benchmarks/bench_eval_scale.py                 # CPU
    python benchmarks/bench_eval_scale.py --device cuda   # on a GPU
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import threading
import time
from pathlib import Path

import torch

import mtjexplore as mx
from mtjexplore.evaluation import evaluate_tensors
from mtjexplore.network import sample_coefficients
from mtjexplore.recipes import software_recipe, statistics_aware_recipe

OUT = Path(__file__).parent / "results" / "eval_scale.json"
WEIGHTS = Path(__file__).resolve().parents[1] / "docs" / "results" / "weights" / "software.nc"


def sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def timed(fn, device):
    sync(device)
    start = time.perf_counter()
    fn()
    sync(device)
    return time.perf_counter() - start


def _rss():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * 4096


def peak_memory(fn, device):
    """Peak bytes ``fn`` needs above what was allocated before (see the module docstring)."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)
        torch.cuda.reset_peak_memory_stats(device)
        before = torch.cuda.memory_allocated(device)
        fn()
        torch.cuda.synchronize(device)
        return torch.cuda.max_memory_allocated(device) - before
    before, peak, done = _rss(), [0], threading.Event()

    def watch():
        while not done.is_set():
            peak[0] = max(peak[0], _rss())
            time.sleep(0.002)

    thread = threading.Thread(target=watch)
    thread.start()
    try:
        fn()
    finally:
        done.set()
        thread.join()
    return max(peak[0], _rss()) - before


def floor(coeffs, net, x1t, chunk, device):
    """The bare products of one evaluation, effective weights prebuilt per chunk (not timed),
    over the same image blocks as the evaluation."""
    from mtjexplore.evaluation import IMAGE_BLOCK

    n = x1t.shape[1]
    blocks = [x1t[:, s:s + IMAGE_BLOCK].contiguous() for s in range(0, n, IMAGE_BLOCK)]
    parts = []
    for start in range(0, coeffs.n_dies, chunk):
        part = coeffs.select(slice(start, start + chunk)).to(device)
        k = part.n_dies
        w1 = part.effective(0, net.layers[0]).transpose(1, 2).reshape(k * 90, 101).contiguous()
        w2 = part.effective(1, net.layers[1]).transpose(1, 2).contiguous()
        parts.append((w1, w2))
    h = torch.ones(chunk, 91, min(n, IMAGE_BLOCK), device=device)

    def run():
        for w1, w2 in parts:
            for xb in blocks:
                torch.mm(w1, xb)
                torch.bmm(w2, h[: w2.shape[0], :, : xb.shape[1]])
    return run


def _coefficients(n_dies):
    stats = mx.reference_statistics()
    return sample_coefficients(stats, n_dies, torch.Generator().manual_seed(0), mx.paper_config())


def memory(weights, test, n_dies, chunk, device):
    """Peak MiB of evaluating ``n_dies`` and a tenth of them (see the module docstring)."""
    coeffs = _coefficients(n_dies)
    small = coeffs.select(slice(0, max(1, n_dies // 10)))
    out = {}
    for name, c in (("all", coeffs), ("tenth", small)):
        out[name] = peak_memory(lambda: evaluate_tensors(weights, c, test, chunk, device=device),
                                device) / 2**20
    return out


def memory_in_child(args):
    import os
    import subprocess
    import sys

    env = {**os.environ, "MALLOC_MMAP_THRESHOLD_": "65536", "MALLOC_TRIM_THRESHOLD_": "65536"}
    cmd = [sys.executable, __file__, "--memory-only", "--dies", str(args.dies), "--images",
           str(args.images), "--chunk", str(args.chunk), "--device", args.device]
    if args.threads:
        cmd += ["--threads", str(args.threads)]
    text = subprocess.run(cmd, env=env, check=True, capture_output=True, text=True).stdout
    return json.loads(text.strip().splitlines()[-1])


def log(text):
    print(f"[{time.strftime('%H:%M:%S')}] {text}", file=sys.stderr, flush=True)


def bench_evaluation(weights, test, n_dies, chunk, reps, device):
    t0 = time.perf_counter()
    coeffs = _coefficients(n_dies)
    sample_s = time.perf_counter() - t0
    from mtjexplore.evaluation import data_tensors
    from mtjexplore.weights import network_weights

    net = network_weights(weights, device=device)
    x1t, _ = data_tensors(test, 100, device=device)
    bare = floor(coeffs, net, x1t, chunk, device)
    ours_fn = lambda: evaluate_tensors(weights, coeffs, test, chunk, device=device)  # noqa: E731
    ours_fn()  # warm-up (kernels, caches)
    bare()
    ours, floors = [], []
    for rep in range(reps):
        floors.append(timed(bare, device))
        ours.append(timed(ours_fn, device))
        log(f"evaluation repetition {rep + 1}/{reps}: {ours[-1]:.2f} s, floor {floors[-1]:.2f} s")
    ratios = [o / f for o, f in zip(ours, floors)]
    flop = 2 * n_dies * len(test) * (101 * 90 + 91 * 10)
    coeff_bytes = sum(t.numel() * t.element_size() for t in coeffs.a + coeffs.b)
    return {"n_dies": n_dies, "n_images": len(test), "chunk_size": chunk, "repetitions": reps,
            "sampling_coefficients_s": round(sample_s, 3),
            "median_evaluation_s": statistics.median(ours), "median_bare_matmul_s": statistics.median(floors),
            "median_ratio_to_matmul_floor": statistics.median(ratios),
            "evaluation_gflop_per_s": flop / statistics.median(ours) / 1e9,
            "coefficients_mib": round(coeff_bytes / 2**20, 1)}


def bench_epochs(reps, device):
    train, _ = mx.load_mnist()
    cfg, stats = mx.paper_config(), mx.reference_statistics()
    sw_kw = {**software_recipe(), "epochs": 1, "device": device}
    sa_kw = {**statistics_aware_recipe(), "epochs": 1, "device": device}
    soft, stat = [], []
    for rep in range(reps):
        soft.append(timed(lambda: mx.Trainer(cfg, seed=rep, **sw_kw).fit(train), device))
        stat.append(timed(lambda: mx.Trainer(cfg, method="statistics_aware", sampler=stats,
                                              seed=rep, **sa_kw).fit(train), device))
        log(f"epochs repetition {rep + 1}/{reps}: software {soft[-1]:.1f} s, statistics-aware {stat[-1]:.1f} s")
    return {"n_train": len(train), "dies_per_step": sa_kw["dies_per_step"], "repetitions": reps,
            "median_software_epoch_s": statistics.median(soft),
            "median_statistics_aware_epoch_s": statistics.median(stat),
            "median_ratio": statistics.median(s / o for s, o in zip(stat, soft))}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--dies", type=int, default=1000)
    parser.add_argument("--images", type=int, default=10_000)
    parser.add_argument("--chunk", type=int, default=8, help="dies per chunk (evaluate's chunk_size)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's)")
    parser.add_argument("--out", default=str(OUT))
    parser.add_argument("--memory-only", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    _, test = mx.load_mnist(n_test=args.images)
    weights = mx.load(WEIGHTS)
    if args.memory_only:
        print(json.dumps(memory(weights, test, args.dies, args.chunk, device)))
        return
    mem = memory(weights, test, args.dies, args.chunk, device) if device.type == "cuda" \
        else memory_in_child(args)
    log(f"peak memory: {mem}")
    result = {"device": torch.cuda.get_device_name(device) if device.type == "cuda" else
              (platform.processor() or platform.machine()),
              "torch": torch.__version__, "torch_threads": torch.get_num_threads(),
              "date_utc": time.strftime("%Y-%m-%d %H:%M", time.gmtime()),
              "evaluation": bench_evaluation(weights, test, args.dies, args.chunk, args.repeats, device),
              "statistics_aware_epoch": bench_epochs(args.repeats, device)}
    result["evaluation"].update({"peak_memory_mib": round(mem["all"], 1),
                                 f"peak_memory_mib_{max(1, args.dies // 10)}_dies": round(mem["tenth"], 1)})
    out = Path(args.out)
    data = json.loads(out.read_text()) if out.exists() else {}
    data[device.type] = result
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(data, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
