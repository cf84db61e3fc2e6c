"""Run the training panel's Stop test N times in a row while two busy processes load both cores.

Shows that the test waits on events, not on timing: ``python scripts/stress_stop_test.py [N]``
(default 20) writes ``benchmarks/results/stop_test_under_load.txt``. The test function and its
data are the suite's own (``tests/widgets``), built once and called N times in one process.
"""

import multiprocessing as mp
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
OUT = REPO / "benchmarks" / "results" / "stop_test_under_load.txt"


def _busy():
    while True:
        pass


def main(n_runs=20):
    sys.path.insert(0, str(REPO / "tests" / "widgets"))
    import mtjexplore as mx
    import test_training_panel as t

    data = mx.load_mnist(n_train=2000, n_test=500)   # the suite's data_2000 fixture
    busy = [mp.Process(target=_busy, daemon=True) for _ in range(2)]
    for p in busy:
        p.start()
    lines = [f"# {t.__name__}.test_stop_ends_the_run_after_the_current_step, {n_runs} runs, "
             f"{len(busy)} busy processes beside it ({mp.cpu_count()} cores), {time.strftime('%FT%TZ', time.gmtime())}"]
    passed = 0
    try:
        for i in range(1, n_runs + 1):
            start = time.perf_counter()
            try:
                t.test_stop_ends_the_run_after_the_current_step(data)
                passed += 1
                verdict = "passed"
            except AssertionError as exc:
                verdict = f"FAILED: {exc!r}"
            lines.append(f"run {i}: {verdict} ({time.perf_counter() - start:.2f} s)")
            print(lines[-1], flush=True)
    finally:
        for p in busy:
            p.terminate()
    lines.append(f"{passed} of {n_runs} passed")
    OUT.write_text("\n".join(lines) + "\n")
    print(lines[-1])
    return 0 if passed == n_runs else 1


if __name__ == "__main__":
    sys.exit(main(int(sys.argv[1]) if len(sys.argv) > 1 else 20))
