"""``kill -9`` during saves, and processes racing to save under one new name (issue 13).

A driver subprocess imports mtjexplore once and forks a child per save, so a kill costs
milliseconds, not an interpreter start. For each round it picks a destination (new or existing,
``overwrite`` or not), starts a child that saves there, waits until the child has started (a pipe,
not a sleep), lets it run for a random fraction of a measured save time, kills it with SIGKILL and
checks: the destination is absent or complete (one of the versions that could be there), and
after the next save into the folder no temporary file is left. It reports JSON; the test asserts.
"""

import json
import subprocess
import sys

from tests._hostile import Tally, report_fixture

TALLY = Tally("save-kill")

DRIVER = r"""
import json, os, random, signal, sys, time
import numpy as np
import mtjexplore as mx
from mtjexplore import io as mio

folder, n_kills, budget_s = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
rng = random.Random(13)
ens = mx.sample_dies(mx.paper_config(), 8, seed=0)
probe = os.path.join(folder, "probe.nc")
times = []
for _ in range(4):  # the first save warms the libraries up; the median is what a child takes
    start = time.perf_counter()
    mx.save(ens, probe, overwrite=True)
    times.append(time.perf_counter() - start)
save_s = sorted(times[1:])[1]
os.remove(probe)
for d in range(3):  # the files overwrite rounds replace
    mx.save(ens.assign_attrs(version=-1 - d), os.path.join(folder, f"d{d}.nc"))


def temps():
    return [n for n in os.listdir(folder) if mio.TEMP_MARK in n]


def version_of(path):
    if not os.path.exists(path):
        return None
    return int(mx.load(path).attrs["version"])  # a damaged file raises: the test fails


stats = {"rounds": 0, "killed_mid_save": 0, "finished_before_kill": 0, "absent": 0,
         "old_version": 0, "new_version": 0, "temps_left_by_kills": 0, "bad": []}
t0 = time.perf_counter()
while stats["killed_mid_save"] < n_kills and time.perf_counter() - t0 < budget_s:
    k = stats["rounds"]
    stats["rounds"] += 1
    overwrite = k % 2 == 0  # replace one of three files, or create a new one
    dest = os.path.join(folder, f"d{k % 3}.nc" if overwrite else f"new{k}.nc")
    before = version_of(dest)
    new = ens.assign_attrs(version=k)
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(r)
        os.write(w, b"s")
        try:
            mx.save(new, dest, overwrite=overwrite)
        except mx.MTJExploreError:
            os._exit(3)
        os._exit(0)
    os.close(w)
    os.read(r, 1)  # the child is running
    os.close(r)
    time.sleep(rng.uniform(0.0, 3.0) * save_s)  # the random moment of the kill
    os.kill(pid, signal.SIGKILL)
    _, status = os.waitpid(pid, 0)
    if os.WIFSIGNALED(status):
        stats["killed_mid_save"] += 1
    else:
        stats["finished_before_kill"] += 1
    after = version_of(dest)
    allowed = {before} | ({new.attrs["version"]} if overwrite or before is None else set())
    if after not in allowed:
        stats["bad"].append({"round": k, "before": before, "after": after, "allowed": sorted(map(str, allowed))})
    stats["absent" if after is None else "old_version" if after == before else "new_version"] += 1
    stats["temps_left_by_kills"] += len(temps())
    if not overwrite and os.path.exists(dest):
        os.remove(dest)
    mx.save(ens, os.path.join(folder, "next.nc"), overwrite=True)  # the next save cleans up
    left = temps()
    if left:
        stats["bad"].append({"round": k, "temps_after_next_save": left})
stats["save_s"] = save_s
stats["seconds"] = time.perf_counter() - t0
print(json.dumps(stats))
"""

RACE = r"""
import json, os, sys
import mtjexplore as mx

folder, n_rounds, n_procs = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
ens = mx.sample_dies(mx.paper_config(), 2, seed=0)
rounds = []
for k in range(n_rounds):
    dest = os.path.join(folder, f"race{k}.nc")
    go_r, go_w = os.pipe()
    pids = []
    for writer in range(n_procs):
        pid = os.fork()
        if pid == 0:
            os.close(go_w)
            os.read(go_r, 1)  # all start together
            try:
                mx.save(ens.assign_attrs(writer=writer), dest)
            except mx.errors.FileExistsRefusedError:
                os._exit(3)
            os._exit(0)
        pids.append(pid)
    os.close(go_r)
    os.write(go_w, b"g" * n_procs)
    os.close(go_w)
    codes = [os.waitstatus_to_exitcode(os.waitpid(p, 0)[1]) for p in pids]
    winners = [w for w, c in enumerate(codes) if c == 0]
    stored = int(mx.load(dest).attrs["writer"])
    rounds.append({"codes": codes, "winners": winners, "stored": stored,
                   "temps": [n for n in os.listdir(folder) if ".mtjx-tmp-" in n]})
print(json.dumps(rounds))
"""


_report = report_fixture(TALLY)


def test_kill_9_during_saves_leaves_the_destination_absent_or_complete(tmp_path):
    proc = subprocess.run([sys.executable, "-c", DRIVER, str(tmp_path), "60", "45"],
                          capture_output=True, text=True, timeout=90)
    assert proc.returncode == 0, proc.stderr[-3000:]
    stats = json.loads(proc.stdout.strip().splitlines()[-1])
    print(f"\nkill -9 loop: {json.dumps({k: v for k, v in stats.items() if k != 'bad'})}")
    assert stats["bad"] == []
    assert stats["killed_mid_save"] >= 50, stats
    assert stats["temps_left_by_kills"] > 0  # the kills did hit saves in progress
    assert stats["seconds"] <= 60
    TALLY.counts["tried"] += stats["rounds"]
    TALLY.counts["accepted and correct"] += stats["rounds"]


def test_processes_racing_for_a_new_name_one_wins(tmp_path):
    n_procs = 4
    proc = subprocess.run([sys.executable, "-c", RACE, str(tmp_path), "10", str(n_procs)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    for r in json.loads(proc.stdout.strip().splitlines()[-1]):
        TALLY.counts["tried"] += n_procs
        assert len(r["winners"]) == 1 and sorted(r["codes"]) == [0] + [3] * (n_procs - 1), r
        assert r["stored"] == r["winners"][0] and r["temps"] == [], r
        TALLY.counts["accepted and correct"] += 1
        TALLY.counts["clean errors"] += n_procs - 1
