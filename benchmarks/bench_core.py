"""Core speed benchmarks (issue "Core engine"), measured as ratios side by side in one run.

1. Evaluating 36 dies x 10,000 test images with ``mx.evaluate`` vs the bare matrix products of
   the same shapes in their fastest formulation (one GEMM for layer 1 of all dies, the better of
   ``bmm`` and a per-die loop for layer 2).
2. One statistics-aware training epoch vs one software epoch (same data, batch and recipe).

Contestants run interleaved; the medians of the per-repetition ratios are reported.
Writes ``benchmarks/results/core_speed.json``. Run: ``python benchmarks/bench_core.py``.
"""

import json
import platform
import statistics
import time
from pathlib import Path

import torch
import torch.nn.functional as F

import mtjexplore as mx
from mtjexplore.recipes import software_recipe, statistics_aware_recipe
from mtjexplore.reference import reference_statistics

OUT = Path(__file__).parent / "results" / "core_speed.json"


def timed(fn):
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def bare_matmuls(x1, w1_all, h1, w2):
    def layer2_bmm():
        torch.bmm(h1, w2)

    def layer2_loop():
        for k in range(w2.shape[0]):
            F.linear(h1[k], w2[k].T)

    t1 = min(timed(lambda: torch.mm(x1, w1_all)) for _ in range(2))
    t2 = min(min(timed(layer2_bmm) for _ in range(2)), min(timed(layer2_loop) for _ in range(2)))
    return t1 + t2


def bench_evaluation(weights, ens, test, reps):
    n_dies, n = ens.sizes["die"], len(test)
    x1 = F.pad(torch.tensor(test.x), (0, 1), value=1.0)
    w1_all = torch.randn(101, n_dies * 90)
    h1 = torch.randn(n_dies, n, 91)
    w2 = torch.randn(n_dies, 91, 10)
    ours, bare = [], []
    for _ in range(reps):
        bare.append(bare_matmuls(x1, w1_all, h1, w2))
        ours.append(timed(lambda: mx.evaluate(weights, ens, test, chunk_size=n_dies)))
    ratios = [o / b for o, b in zip(ours, bare)]
    return {"n_dies": n_dies, "n_images": n, "median_ours_s": statistics.median(ours),
            "median_bare_matmul_s": statistics.median(bare), "median_ratio": statistics.median(ratios),
            "target_ratio": 1.5}


def bench_epochs(train, reps):
    cfg, stats = mx.paper_config(), reference_statistics()
    sw_kw = {**software_recipe(), "epochs": 1}
    sa_kw = {**statistics_aware_recipe(), "epochs": 1}
    soft, stat = [], []
    for rep in range(reps):
        soft.append(timed(lambda: mx.Trainer(cfg, seed=rep, **sw_kw).fit(train)))
        stat.append(timed(lambda: mx.Trainer(cfg, method="statistics_aware", sampler=stats,
                                              seed=rep, **sa_kw).fit(train)))
    ratios = [s / o for s, o in zip(stat, soft)]
    return {"n_train": len(train), "dies_per_step": sa_kw.get("dies_per_step"),
            "batch_size": sa_kw.get("batch_size"), "median_software_epoch_s": statistics.median(soft),
            "median_statistics_aware_epoch_s": statistics.median(stat),
            "median_ratio": statistics.median(ratios), "target_ratio": 1.3}


def main(reps=7):
    train, test = mx.load_mnist()
    weights = mx.Trainer(mx.paper_config(), epochs=1, seed=0).fit(train.subset(5000, seed=0)).weights_
    ens = mx.sample_dies(mx.paper_config(), 36, seed=0)
    result = {"torch_threads": torch.get_num_threads(), "machine": platform.processor() or platform.machine(),
              "evaluation": bench_evaluation(weights, ens, test, reps),
              "training_epoch": bench_epochs(train, max(3, reps // 2))}
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
