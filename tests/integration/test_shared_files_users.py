"""The training queue and the data cache shared by two real OS users (a hub with one Unix user per
student): what one creates under a strict umask, the other uses; wrong modes give an error naming
the path and the fix. Needs root (two throwaway users are created and removed); skips otherwise."""

from __future__ import annotations

import os
import shutil
import site
import stat
import subprocess
import sys
import tempfile
import textwrap
import uuid
from pathlib import Path

import pytest

import mtjexplore

REPO = Path(mtjexplore.__file__).resolve().parents[1]
TIMEOUT_S = 120
RUNUSER = shutil.which("runuser") or "runuser"
SYSTEM_PATH = "/usr/sbin:/usr/bin:/sbin:/bin"
PRELUDE = """\
import os, sys, warnings
os.umask(0o077)  # a student who lets nobody read their files
from mtjexplore._shared_files import SharedFileError, SharedFileWarning
warnings.simplefilter("error", SharedFileWarning)
"""


def _python_for_others():
    """(argv prefix, env) of a Python with this one's packages that other users can run, or a
    reason why there is none."""
    paths = os.pathsep.join([str(REPO), *site.getsitepackages()])
    version = f"python{sys.version_info.major}.{sys.version_info.minor}"
    for exe in (sys.executable, shutil.which(version, path="/usr/local/bin:/usr/bin:/bin")):
        if exe and _runs_as_nobody(exe, paths):
            return exe, paths
    return None, (f"no {version} that another user can run: {sys.executable} is not reachable "
                  f"by other users, and no /usr/bin/{version} imports mtjexplore with "
                  f"PYTHONPATH={paths}")


def _runs_as_nobody(exe, paths):
    try:
        done = subprocess.run([RUNUSER, "-u", "nobody", "--", exe, "-c", "import numpy, mtjexplore"],
                              env={"PATH": SYSTEM_PATH, "PYTHONPATH": paths, "HOME": "/tmp"}, check=False,
                              capture_output=True, timeout=TIMEOUT_S)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return done.returncode == 0


@pytest.fixture(scope="module")
def users():
    """Two throwaway users (each with a group of its own) and a Python they can run."""
    if os.geteuid() != 0:
        pytest.skip("creating two throwaway OS users needs root")
    if not (shutil.which("useradd") and shutil.which("userdel") and shutil.which("runuser")):
        pytest.skip("needs useradd, userdel and runuser")
    exe, paths = _python_for_others()
    if exe is None:
        pytest.skip(paths)
    tag = uuid.uuid4().hex[:6]
    names = [f"mtjx{tag}a", f"mtjx{tag}b"]
    created = []
    try:
        for name in names:
            subprocess.run(["useradd", "-M", "-s", "/usr/sbin/nologin", name], check=True, timeout=60)
            created.append(name)
        yield {"names": names, "exe": exe, "paths": paths}
    finally:
        for name in created:
            subprocess.run(["userdel", name], check=False, timeout=60)


@pytest.fixture
def shared_tmp():
    """A world-writable, sticky folder every user can reach (like /tmp)."""
    folder = Path(tempfile.mkdtemp(prefix="mtjx-shared-", dir="/tmp"))
    folder.chmod(0o1777)
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def run_as(users, who, code, env=None, stdin=None, wait=True):
    """Run ``PRELUDE + code`` as user ``who`` (0 or 1); a CompletedProcess, or a Popen if not ``wait``."""
    argv = [RUNUSER, "-u", users["names"][who], "--", users["exe"], "-c", PRELUDE + textwrap.dedent(code)]
    full_env = {"PATH": SYSTEM_PATH, "PYTHONPATH": users["paths"], "HOME": "/tmp",
                "LANG": "C.UTF-8", **(env or {})}
    if not wait:
        return subprocess.Popen(argv, env=full_env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)
    return subprocess.run(argv, env=full_env, capture_output=True, text=True, timeout=TIMEOUT_S, check=False)


def mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


def owner(path):
    import pwd

    return pwd.getpwuid(os.stat(path).st_uid).pw_name


def test_two_users_share_one_training_queue(users, shared_tmp):
    env = {"MTJEXPLORE_QUEUE_DIR": str(shared_tmp / "mtjexplore" / "cpu-queue"),
           "MTJEXPLORE_TRAINING_SLOTS": "1"}
    holder = run_as(users, 0, """
        from mtjexplore.serve.cpu_queue import CpuQueue
        slot = CpuQueue.from_env().acquire()
        print("held", flush=True)
        sys.stdin.readline()
        slot.release()
    """, env=env, wait=False)
    try:
        assert holder.stdout.readline().strip() == "held", holder.stderr.read()
        folder = shared_tmp / "mtjexplore" / "cpu-queue"
        assert mode(folder) == mode(folder.parent) == 0o1777
        assert mode(folder / "slot-0.lock") == 0o644 and owner(folder / "slot-0.lock") == users["names"][0]
        other = run_as(users, 1, """
            from mtjexplore.serve.cpu_queue import CpuQueue
            queue = CpuQueue.from_env()
            print(queue.n_running(), queue.try_acquire() is None)
        """, env=env)
        assert other.returncode == 0 and other.stdout.split() == ["1", "True"], other.stderr
        waiter = run_as(users, 1, """
            from mtjexplore.serve.cpu_queue import CpuQueue
            slot = CpuQueue.from_env().acquire(
                on_wait=lambda ahead, running: print("waiting", ahead, running, flush=True), poll_s=0.05)
            print("got", slot.index, flush=True)
            slot.release()
        """, env=env, wait=False)
        assert waiter.stdout.readline().split() == ["waiting", "0", "1"], waiter.stderr.read()
        holder.stdin.write("\n")
        holder.stdin.flush()
        out, err = waiter.communicate(timeout=TIMEOUT_S)
        assert waiter.returncode == 0 and out.split() == ["got", "0"], err
        assert not list(folder.glob("ticket-*")), "the waiter's ticket is gone"
    finally:
        holder.kill()
        holder.wait(TIMEOUT_S)


def test_two_users_share_one_data_cache(users, shared_tmp):
    cache = shared_tmp / "mtjexplore-cache"
    env = {"MTJEXPLORE_DATA_CACHE": str(cache)}
    load = """
        import numpy as np
        import mtjexplore as mx
        train, test = mx.load_mnist(n_train=10, n_test=10)
        print(isinstance(test.x, np.memmap) or isinstance(test.x.base, np.memmap))
    """
    first = run_as(users, 0, load, env=env)
    assert first.returncode == 0 and first.stdout.split() == ["True"], first.stderr
    files = {p.name: (owner(p), mode(p)) for p in cache.iterdir()}
    assert mode(cache) == 0o1777 and len(files) == 4
    assert set(files.values()) == {(users["names"][0], 0o644)}
    second = run_as(users, 1, load, env=env)
    assert second.returncode == 0 and second.stdout.split() == ["True"], second.stderr
    assert {p.name: (owner(p), mode(p)) for p in cache.iterdir()} == files, "mapped, not written again"


def test_a_queue_folder_others_cannot_write_is_refused_with_the_fix(users, shared_tmp):
    folder = shared_tmp / "queue-of-a"
    made = run_as(users, 0, f"os.mkdir({str(folder)!r})\nos.chmod({str(folder)!r}, 0o755)")
    assert made.returncode == 0, made.stderr
    refused = run_as(users, 1, """
        from mtjexplore.serve.cpu_queue import CpuQueue
        try:
            CpuQueue.from_env()
        except SharedFileError as exc:
            print(exc)
    """, env={"MTJEXPLORE_QUEUE_DIR": str(folder), "MTJEXPLORE_TRAINING_SLOTS": "1"})
    a, b = users["names"]
    assert refused.returncode == 0, refused.stderr
    assert refused.stdout.strip() == (
        f"the training queue folder {folder} is not writable by user {b!r} (it belongs to {a!r}, "
        f"mode 755): make it shared with `chmod 1777 {folder}` (as {a!r} or root), or point "
        "MTJEXPLORE_QUEUE_DIR at a folder every user of the machine can write")


def test_an_unreadable_cache_file_is_named_with_the_fix_and_the_data_still_loads(users, shared_tmp):
    cache = shared_tmp / "cache"
    env = {"MTJEXPLORE_DATA_CACHE": str(cache)}
    first = run_as(users, 0, "import mtjexplore as mx\nmx.load_mnist(n_train=10, n_test=10)", env=env)
    assert first.returncode == 0, first.stderr
    x_test = next(cache.glob("*-x_test.npy"))
    x_test.chmod(0o600)  # as an older version (or a hand copy) left it
    second = run_as(users, 1, """
        import mtjexplore as mx
        warnings.simplefilter("always", SharedFileWarning)
        with warnings.catch_warnings(record=True) as caught:
            train, _ = mx.load_mnist(n_train=10, n_test=10)
        print(train.x.shape)
        for warning in caught:
            print(warning.message)
    """, env=env)
    assert second.returncode == 0, second.stderr
    lines = second.stdout.splitlines()
    a, b = users["names"]
    assert lines[0] == "(10, 100)"
    assert lines[1] == (f"the data cache file {x_test} cannot be read by user {b!r} (it belongs to "
                        f"{a!r}, mode 600): run `chmod 644 {x_test}` as {a!r} or root, or delete it "
                        "(it is made again)")
    assert any(f"cannot be replaced by user {b!r}" in line and "keeps its own copy" in line
               for line in lines[2:]), lines
