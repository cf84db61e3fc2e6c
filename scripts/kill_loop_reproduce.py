#!/usr/bin/env python3
"""``kill -9`` loop on ``mtjexplore reproduce``: a study killed at random moments resumes exactly.

1. An uninterrupted reference run (``mtjexplore reproduce --tiny --dies N --out REF``).
2. Into one other folder: start the same command, ``kill -9`` it after a random delay, check the
   folder, start it again, ... ``--kills`` times. A run that finishes before its kill ends a
   *round*: the folder must equal the reference (as in 3.), and it is emptied so the next run
   starts the study again in the same folder. After every kill: every file of the study layout is
   absent or complete (NetCDF files load, PNGs end with their IEND chunk, the manifest parses, the
   summary ends with its last section), and the temporary files of the previous killed run are
   gone once a later run got past its start (each run cleans the temporary files of dead writers).
3. A final rerun finishes the remaining work: no temporary file is left, and every file equals
   the reference's (the NetCDF files' numbers and attributes, but the seconds each stage took;
   the summary but its timings line; the PNGs byte for byte).

Kill moments: a fifth of the runs are killed at ``uniform(0, start-up time)`` (imports, the
manifest, the cleaning of temporary files); the others once the run has started its study work
(its first progress bar appears in its output: a condition, not a guess) plus
``uniform(0, window)``. The window starts at ``2 * work / kills`` (``work``: the reference run's
time less the start-up time); it grows by half after a run that published no new file (the
rerun spends time loading what is finished before it reaches new work), up to half the reference
run's time, and shrinks back after a run that did. Kills therefore land in training, remapping, evaluation, sensitivity and the writing
of the final files alike, and the work needs about ``--kills`` reruns (a run that finishes before
its kill is counted; the following reruns only reuse). The ``--tiny`` preset (:func:`mtjexplore.study.reproduce.tiny_settings`)
keeps 50 kills within ~10 minutes on a loaded 2-core machine (``--quick`` on 36 dies takes ~12
minutes by itself there). Every run uses one torch thread.

Usage::

    python scripts/kill_loop_reproduce.py [--kills 50] [--dies 6] [--preset tiny] [--seed 0]
        [--work DIR] [--report benchmarks/results/kill_loop_reproduce.txt]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DEFAULT_REPORT = REPO / "benchmarks" / "results" / "kill_loop_reproduce.txt"
TEMP_MARK = ".mtjx-tmp-"
STUDY_STARTED = "software baseline"  # the first stage's progress bar
REUSED = re.compile(r"reused (\d+) of (\d+) finished stage files")


def command(out, preset, dies, seed):
    """The ``mtjexplore reproduce`` command line of the loop."""
    return [sys.executable, "-m", "mtjexplore.cli", "reproduce", f"--{preset}", "--dies", str(dies),
            "--seed", str(seed), "--out", str(out)]


def _env():
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO), env.get("PYTHONPATH", "")) if p)
    return env


def start(out, preset, dies, seed, log):
    """Start one run, its output (progress included) going to ``log``."""
    handle = open(log, "wb")
    proc = subprocess.Popen(command(out, preset, dies, seed), stdout=handle, stderr=subprocess.STDOUT,
                            env=_env(), cwd=REPO, start_new_session=True)
    handle.close()
    return proc


def run_to_end(out, preset, dies, seed, log, timeout=1800):
    """One uninterrupted run; returns its wall time (s)."""
    began = time.perf_counter()
    proc = start(out, preset, dies, seed, log)
    if proc.wait(timeout=timeout) != 0:
        raise SystemExit(f"run into {out} failed:\n{Path(log).read_text()[-3000:]}")
    return time.perf_counter() - began


def wait_for_output(proc, log, text, poll_s=0.02):
    """Wait until ``text`` appears in the run's output (True) or the run ends (False)."""
    while proc.poll() is None:
        try:
            if text in Path(log).read_text(errors="replace"):
                return True
        except OSError:
            pass
        time.sleep(poll_s)
    return False


def published(folder):
    """The study files published in ``folder`` (temporary files excepted)."""
    return [p for p in Path(folder).rglob("*") if p.is_file() and TEMP_MARK not in p.name]


def temp_files(folder):
    return sorted(str(p) for p in Path(folder).rglob("*") if TEMP_MARK in p.name)


def check_complete(folder):
    """Every published file of the study folder whole: returns the list of problems (empty: fine)."""
    import mtjexplore as mx

    problems = []
    for path in sorted(Path(folder).rglob("*")):
        if not path.is_file() or TEMP_MARK in path.name:
            continue
        try:
            if path.suffix == ".nc":
                mx.load(path)
            elif path.suffix == ".png":
                data = path.read_bytes()
                if not (data.startswith(b"\x89PNG\r\n\x1a\n") and data.endswith(b"IEND\xaeB`\x82")):
                    problems.append(f"{path}: incomplete PNG")
            elif path.name == "manifest.json":
                json.loads(path.read_text())
            elif path.name == "summary.md":
                text = path.read_text()
                if "Timings (s):" not in text or not text.endswith("\n"):
                    problems.append(f"{path}: incomplete summary")
        except Exception as exc:  # noqa: BLE001 - every failure is a finding
            problems.append(f"{path}: {type(exc).__name__}: {exc}")
    return problems


def _nc_equal(a, b):
    import mtjexplore as mx
    import xarray as xr
    from mtjexplore.study.layout import SECONDS_ATTR

    da, db = mx.load(a), mx.load(b)
    for ds in (da, db):
        ds.attrs.pop(SECONDS_ATTR, None)
        ds.attrs.pop("timings_s", None)
    try:
        xr.testing.assert_identical(da, db)
        return True
    except AssertionError:
        return False


def compare(folder, reference):
    """Files differing between two finished study folders (timings excepted); [] when equal."""
    files = lambda f: sorted(p.relative_to(f).as_posix() for p in Path(f).rglob("*") if p.is_file())  # noqa: E731
    mine, theirs = files(folder), files(reference)
    if mine != theirs:
        return [f"file lists differ: {sorted(set(mine) ^ set(theirs))}"]
    differ = []
    for name in mine:
        a, b = Path(folder) / name, Path(reference) / name
        if name.endswith(".nc"):
            same = _nc_equal(a, b)
        elif name == "summary.md":
            strip = lambda t: re.sub(r"Timings \(s\):.*", "", t)  # noqa: E731
            same = strip(a.read_text()) == strip(b.read_text())
        else:
            same = a.read_bytes() == b.read_bytes()
        if not same:
            differ.append(name)
    return differ


def kill_loop(work, *, n_kills=50, preset="tiny", dies=6, seed=0, rng_seed=0, log=print):
    """Run the loop in folder ``work``; returns the counts (a dict)."""
    work = Path(work)
    work.mkdir(parents=True, exist_ok=True)
    rng = random.Random(rng_seed)
    reference, folder = work / "reference", work / "loop"
    for path in (reference, folder):
        shutil.rmtree(path, ignore_errors=True)
    t_full = run_to_end(reference, preset, dies, seed, work / "reference.log")
    t_start = run_to_end(reference, preset, dies, seed, work / "reference-rerun.log")  # all reused
    max_delay = 2 * max(t_full - t_start, 0.1) / n_kills
    log(f"reference run {t_full:.1f} s, a rerun reusing everything {t_start:.1f} s; kills at "
        f"uniform(0, {t_start:.1f}) s (1 in 5) or at the study's start + uniform(0, window >= "
        f"{max_delay:.2f}) s")
    counts = {"kills": 0, "runs": 0, "runs_finished_before_kill": 0, "rounds_finished": 0,
              "rounds_equal_to_uninterrupted": 0, "stage_files_reused": 0, "runs_that_reused": 0,
              "incomplete_files_after_kills": 0, "temp_files_seen_after_kills": 0,
              "stale_temp_files_surviving_a_rerun": 0, "temp_files_left_after_finished_runs": 0}
    previous_temps, window = [], max_delay
    while counts["kills"] < n_kills:
        run_log = work / "run.log"
        files_before = len(published(folder))
        proc = start(folder, preset, dies, seed, run_log)
        counts["runs"] += 1
        in_work = rng.random() >= 0.2
        if not in_work:
            time.sleep(rng.uniform(0, t_start))
        elif wait_for_output(proc, run_log, STUDY_STARTED):
            time.sleep(rng.uniform(0, window))
        killed = proc.poll() is None
        if killed:
            os.killpg(proc.pid, signal.SIGKILL)
            counts["kills"] += 1
        proc.wait()
        if killed and in_work:  # the rerun first reloads what is finished: widen the window if
            grew = len(published(folder)) > files_before  # it reached no new work, up to a cap
            window = max(max_delay, window / 1.5) if grew else min(window * 1.5, max(max_delay, t_full / 2))
        output = run_log.read_text(errors="replace")
        reused = sum(int(m.group(1)) for m in REUSED.finditer(output))
        counts["stage_files_reused"] += reused
        counts["runs_that_reused"] += reused > 0
        if STUDY_STARTED in output:  # the run got past its start (and its temp cleaning)
            counts["stale_temp_files_surviving_a_rerun"] += len(set(previous_temps) & set(temp_files(folder)))
        problems = check_complete(folder)
        counts["incomplete_files_after_kills"] += len(problems)
        for problem in problems:
            log(f"INCOMPLETE: {problem}")
        previous_temps = temp_files(folder)
        counts["temp_files_seen_after_kills"] += len(previous_temps) if killed else 0
        if not killed:  # a round finished: it must equal the uninterrupted run; then start over
            counts["runs_finished_before_kill"] += 1
            counts["rounds_finished"] += 1
            counts["temp_files_left_after_finished_runs"] += len(previous_temps)
            differing = compare(folder, reference)
            counts["rounds_equal_to_uninterrupted"] += not differing
            for name in differing:
                log(f"DIFFERS (round {counts['rounds_finished']}): {name}")
            shutil.rmtree(folder)
            previous_temps, window = [], max_delay
        if counts["runs"] % 10 == 0:
            log(f"{counts['runs']} runs, {counts['kills']} kills, {counts['rounds_finished']} rounds "
                f"finished, {len(published(folder))} files published, window {window:.2f} s")
    counts["files_published_before_final_run"] = len(published(folder))
    final_log = work / "final.log"
    counts["final_run_s"] = round(run_to_end(folder, preset, dies, seed, final_log), 1)
    final_reused = sum(int(m.group(1)) for m in REUSED.finditer(final_log.read_text(errors="replace")))
    counts["final_run_stage_files_reused"] = final_reused
    counts["temp_files_left_after_final_run"] = len(temp_files(folder))
    differing = compare(folder, reference)
    counts["files_differing_from_uninterrupted"] = len(differing)
    counts["final_equal_to_uninterrupted"] = not differing
    for name in differing:
        log(f"DIFFERS: {name}")
    counts.update(reference_run_s=round(t_full, 1), rerun_all_reused_s=round(t_start, 1),
                  max_delay_s=round(max_delay, 2), preset=preset, dies=dies, seed=seed)
    return counts


def write_report(counts, path, command_line):
    lines = ["kill -9 loop on `mtjexplore reproduce` (scripts/kill_loop_reproduce.py)",
             f"command: {command_line}", f"date: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}",
             ""] + [f"{key}: {value}" for key, value in counts.items()]
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_text("\n".join(lines) + "\n", encoding="utf-8")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kills", type=int, default=50)
    parser.add_argument("--dies", type=int, default=6)
    parser.add_argument("--preset", choices=("tiny", "quick"), default="tiny")
    parser.add_argument("--seed", type=int, default=0, help="the study's seed")
    parser.add_argument("--rng-seed", type=int, default=0, help="seed of the kill delays")
    parser.add_argument("--work", type=Path, default=None, help="working folder (default: a temporary one)")
    parser.add_argument("--report", type=Path, default=DEFAULT_REPORT)
    args = parser.parse_args(argv)
    work = args.work or Path(tempfile.mkdtemp(prefix="kill-loop-"))
    began = time.perf_counter()
    log = lambda m: print(f"[{time.perf_counter() - began:6.1f} s] {m}", flush=True)  # noqa: E731
    counts = kill_loop(work, n_kills=args.kills, preset=args.preset, dies=args.dies, seed=args.seed,
                       rng_seed=args.rng_seed, log=log)
    counts["loop_wall_s"] = round(time.perf_counter() - began, 1)
    write_report(counts, args.report, " ".join(["python scripts/kill_loop_reproduce.py", *(argv or sys.argv[1:])]))
    log(json.dumps(counts))
    if args.work is None:
        shutil.rmtree(work, ignore_errors=True)
    ok = (counts["final_equal_to_uninterrupted"] and counts["temp_files_left_after_final_run"] == 0
          and counts["incomplete_files_after_kills"] == 0 and counts["stale_temp_files_surviving_a_rerun"] == 0
          and counts["rounds_equal_to_uninterrupted"] == counts["rounds_finished"]
          and counts["temp_files_left_after_finished_runs"] == 0)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
