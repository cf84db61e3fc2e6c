"""Hostile measured-data files under an address-space limit (issue 13).

Each file is imported in a child process whose ``RLIMIT_AS`` is set, after ``import mtjexplore``,
to what it then uses plus a budget of a small multiple of the file's size; the child reports
the exception (or success) and the time of each case. A ``MemoryError``, a crash, or a hang
(the subprocess timeout) fails the test."""

import json
import os
import subprocess
import sys
import time

import numpy as np
import pytest

import mtjexplore as mx
from mtjexplore.measurements import write_measurements_csv
from tests._hostile import Tally, report_fixture

TALLY = Tally("import-limits")
MB = 1 << 20

CHILD = r"""
import json, resource, sys, time
import mtjexplore as mx
from mtjexplore.statistics import load_statistics
from mtjexplore.datasets import read_idx

cases = json.loads(sys.argv[1])
# warm up first: modules imported lazily (dask.array by xarray's decoding) are not what is measured
import os, tempfile
from mtjexplore.reference import example_config, example_csv_path
mx.read_measurements(example_csv_path(), config=example_config())
load_statistics(mx.save(mx.DefectStatistics(mx.paper_config(), {"short": 3}),
                        os.path.join(tempfile.mkdtemp(), "s.nc")))
vm = next(int(l.split()[1]) * 1024 for l in open("/proc/self/status") if l.startswith("VmSize"))
readers = {"measurements": mx.read_measurements, "statistics": load_statistics, "idx": read_idx,
           "load": mx.load}
for case in cases:
    limit = vm + case["budget"]
    resource.setrlimit(resource.RLIMIT_AS, (limit, resource.RLIM_INFINITY))
    start = time.perf_counter()
    try:
        result = readers[case["reader"]](case["path"])
        outcome, message = "accepted", str(dict(getattr(result, "sizes", {})))
    except BaseException as exc:
        outcome, message = type(exc).__name__, str(exc)[:300]
    resource.setrlimit(resource.RLIMIT_AS, (resource.RLIM_INFINITY, resource.RLIM_INFINITY))
    print(json.dumps({"name": case["name"], "outcome": outcome, "message": message,
                      "seconds": time.perf_counter() - start, "budget_mb": case["budget"] >> 20}),
          flush=True)
"""


_report = report_fixture(TALLY)


def run_limited(cases, timeout=240):
    """Results by case name; a hang fails naming the case that did not finish."""
    try:
        proc = subprocess.run([sys.executable, "-c", CHILD, json.dumps(cases)], capture_output=True,
                              text=True, timeout=timeout)
    except subprocess.TimeoutExpired as exc:
        done = (exc.stdout or b"").decode().strip().splitlines()
        pytest.fail(f"hang: case {cases[len(done)]['name']!r} still running after {timeout} s")
    assert proc.returncode == 0, proc.stderr[-3000:]
    return {r["name"]: r for r in map(json.loads, proc.stdout.strip().splitlines())}


def budget(path, factor=12, floor=128 * MB):
    """A small multiple of the file's size on disk (a sparse file's holes count as 0)."""
    st = os.stat(path)
    return floor + factor * min(st.st_size, st.st_blocks * 512)


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    import netCDF4

    folder = tmp_path_factory.mktemp("limits")
    made = {}
    os.mkfifo(folder / "pipe.csv")
    made["fifo"] = ("measurements", folder / "pipe.csv", "not a regular file")
    (folder / "zero.csv").symlink_to("/dev/zero")
    made["dev_zero_csv"] = ("measurements", folder / "zero.csv", "not a regular file")
    (folder / "zero.nc").symlink_to("/dev/zero")
    made["dev_zero_nc"] = ("load", folder / "zero.nc", "not a regular file")
    lines = ["die,row,col,r_p_ohm,r_ap_ohm\n"] + [f"{i},0,0,3500.5,8000.25\n" for i in range(700_000)]
    (folder / "perdie.csv").write_text("".join(lines))  # ~20 MB, a die id per line
    made["die_per_line_csv"] = ("measurements", folder / "perdie.csv", "missing device")
    with open(folder / "sparse.csv", "wb") as f:
        f.truncate(2 << 30)  # 2 GiB, no disk blocks
    made["sparse_2gib"] = ("measurements", folder / "sparse.csv", "more than the limit")
    with netCDF4.Dataset(folder / "claims.nc", "w") as nc:  # tiny file, 2.6 GB when decoded
        for name, size in (("die", 8000), ("row", 101), ("col", 200)):
            nc.createDimension(name, size)
        for name in ("r_p", "r_ap"):
            var = nc.createVariable(name, "f8", ("die", "row", "col"), zlib=True, fill_value=5000.0)
            var[0] = np.full((101, 200), 5000.0)
    made["compressed_nc_claims_2_6_gb"] = ("measurements", folder / "claims.nc", "decoded data")
    made["compressed_nc_load"] = ("load", folder / "claims.nc", "decoded data")
    ens = mx.sample_dies(mx.paper_config(), 1, seed=0)
    config = json.loads(mx.paper_config().to_json())
    config.update(n_inputs=10**6, n_hidden=10**6)
    path = folder / "huge_config.nc"
    with np.errstate(divide="ignore"):
        ens[["g_p", "g_ap"]].assign_attrs(config=json.dumps(config)).to_netcdf(path)
    made["config_claims_huge_network"] = ("measurements", path, "whose floorplan has")
    stats = mx.DefectStatistics(mx.paper_config(), {"short": 3})
    path = folder / "stats_huge.nc"
    stats.to_dataset().assign_attrs(config=json.dumps(config)).to_netcdf(path)
    made["statistics_claims_huge_network"] = ("statistics", path, "whose floorplan has")
    path = folder / "stats_deep.nc"
    stats.to_dataset().assign_attrs(config="[" * 200_000 + "]" * 200_000).to_netcdf(path)
    made["statistics_deep_config"] = ("statistics", path, "RecursionError")
    idx = folder / "huge-idx"
    idx.write_bytes(bytes([0, 0, 8, 3, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 1]))
    made["idx_header_claims_huge"] = ("idx", idx, "payload truncated")
    good = write_measurements_csv(mx.sample_dies(mx.paper_config(), 36, seed=1), folder / "good36.csv")
    made["good_36_dies_csv"] = ("measurements", good, None)
    return made


def test_hostile_files_fail_cleanly_within_a_memory_budget(files):
    cases = [{"name": name, "reader": reader, "path": str(path), "budget": budget(path)}
             for name, (reader, path, _) in files.items()]
    start = time.perf_counter()
    results = run_limited(cases)
    print(f"\n{'case':34s} {'budget':>8s} {'s':>6s}  outcome")
    for name, (_, _, phrase) in files.items():
        r = results[name]
        print(f"{name:34s} {r['budget_mb']:6d}MB {r['seconds']:6.2f}  {r['outcome']}: {r['message'][:90]}")
        TALLY.counts["tried"] += 1
        if phrase is None:
            assert r["outcome"] == "accepted", r
            assert "'die': 36" in r["message"]
            TALLY.counts["accepted and correct"] += 1
        else:
            assert r["outcome"] in ("DataFileError", "ParameterError"), r
            assert phrase in r["message"], r
            TALLY.counts["clean errors"] += 1
        assert r["seconds"] < 30, r
    assert time.perf_counter() - start < 240
