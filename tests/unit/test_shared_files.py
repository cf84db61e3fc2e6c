"""Modes of the folders and files that several OS users share (queue, data cache), whatever the
umask; the wording of the errors. Runs as any user: tests/integration/test_shared_files_users.py
checks the same with two real users."""

import os
import stat

import pytest

from mtjexplore import _shared_files as shared_files
from mtjexplore.serve.cpu_queue import CpuQueue


def mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


@pytest.fixture
def strict_umask():
    """A student's umask that lets nobody else read: modes must not depend on it."""
    old = os.umask(0o077)
    yield
    os.umask(old)


@pytest.fixture
def world_writable(tmp_path):
    """A folder like /tmp (mode 1777)."""
    folder = tmp_path / "tmp"
    folder.mkdir()
    folder.chmod(0o1777)
    return folder


def test_a_folder_made_inside_a_world_writable_folder_is_shared_at_every_level(world_writable, strict_umask):
    made = shared_files.ensure_folder(world_writable / "mtj" / "queue", what="the queue")
    assert mode(world_writable / "mtj") == mode(made) == 0o1777


def test_a_folder_made_elsewhere_is_open_for_reading_and_a_private_one_is_private(tmp_path, strict_umask):
    tmp_path.chmod(0o755)
    assert mode(shared_files.ensure_folder(tmp_path / "cache", what="the cache")) == 0o755
    assert mode(shared_files.ensure_folder(tmp_path / "mine", what="x", private=True)) == 0o700


def test_an_existing_folder_keeps_its_mode(world_writable, strict_umask):
    existing = world_writable / "set-by-the-admin"
    existing.mkdir(mode=0o2770)
    existing.chmod(0o2770)
    shared_files.ensure_folder(existing, what="the queue")
    assert mode(existing) == 0o2770


def test_a_file_in_place_of_the_folder_is_refused(tmp_path):
    (tmp_path / "queue").write_text("")
    with pytest.raises(shared_files.SharedFileError, match=r"the queue .*queue is not a folder; point "
                                                           r"MTJEXPLORE_QUEUE_DIR at a folder"):
        shared_files.ensure_folder(tmp_path / "queue", what="the queue", env_var="MTJEXPLORE_QUEUE_DIR")


def test_lock_files_are_readable_by_everyone_and_made_once(tmp_path, strict_umask):
    path = tmp_path / "slot-0.lock"
    fd = shared_files.open_for_lock(path, what="a lock file")
    os.close(fd)
    inode = os.stat(path).st_ino
    assert mode(path) == 0o644
    os.close(shared_files.open_for_lock(path, what="a lock file"))
    assert os.stat(path).st_ino == inode, "an existing lock file is used, never replaced"
    assert [p.name for p in tmp_path.iterdir()] == ["slot-0.lock"], "no temporary file left"


def test_atomic_writes_give_mode_0644_and_leave_no_temporary_file(tmp_path, strict_umask):
    path = tmp_path / "data.npy"
    shared_files.write_atomically(path, lambda handle: handle.write(b"abc"), what="a cache file")
    assert path.read_bytes() == b"abc" and mode(path) == 0o644
    with pytest.raises(ZeroDivisionError):
        shared_files.write_atomically(path, lambda handle: 1 / 0, what="a cache file")
    assert path.read_bytes() == b"abc" and [p.name for p in tmp_path.iterdir()] == ["data.npy"]


def test_the_queue_files_are_readable_by_other_users(world_writable, strict_umask):
    queue = CpuQueue(slots=2, folder=world_writable / "queue")
    assert mode(queue.folder) == 0o1777
    seen = []
    with queue.acquire(on_wait=lambda *a: None) as slot:
        assert slot.held and queue.n_running() == 1
        ticket = queue._take_ticket()
        seen = [mode(p) for p in queue.folder.glob("ticket-*")]
        queue._drop_ticket(ticket)
    assert seen == [0o644]
    assert {p.name: mode(p) for p in queue.folder.iterdir()} == {"slot-0.lock": 0o644, "slot-1.lock": 0o644}


def test_the_default_queue_is_private_to_its_user(monkeypatch, tmp_path, strict_umask):
    monkeypatch.setattr("tempfile.tempdir", str(tmp_path))
    tmp_path.chmod(0o1777)
    queue = CpuQueue(slots=1)
    assert queue.folder == tmp_path / f"mtjexplore-cpu-queue-{os.getuid()}" and mode(queue.folder) == 0o700


def test_the_folder_message_names_the_path_users_and_fix(tmp_path):
    message = shared_files.folder_problem(tmp_path, "the training queue folder", "MTJEXPLORE_QUEUE_DIR")
    user = shared_files.user_name()
    assert message.startswith(f"the training queue folder {tmp_path} is not writable by user {user!r} "
                              f"(it belongs to {user!r}, mode ")
    assert f"make it shared with `chmod 1777 {tmp_path}`" in message
    assert "or point MTJEXPLORE_QUEUE_DIR at a folder every user of the machine can write" in message


def test_the_file_message_names_the_path_owner_and_fix(tmp_path):
    path = tmp_path / "data-x_test.npy"
    path.write_bytes(b"")
    path.chmod(0o600)
    message = shared_files.file_problem(path, "the data cache file")
    user = shared_files.user_name()
    assert message == (f"the data cache file {path} cannot be read by user {user!r} (it belongs to "
                       f"{user!r}, mode 600): run `chmod 644 {path}` as {user!r} or root, or "
                       "delete it (it is made again)")
