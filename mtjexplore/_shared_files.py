"""Folders and files that several OS users share: the training queue's lock files, the MNIST cache.

On a hub whose spawner runs every student's server as their own Unix user, the kernels of
different users use one training queue (``MTJEXPLORE_QUEUE_DIR``) and one memory-mapped data
cache (``MTJEXPLORE_DATA_CACHE``). What one user creates there, the others must be able to use,
whatever anybody's umask:

* a folder mtjexplore creates is as open as the folder it is created in: mode 1777 inside a
  world-writable folder such as ``/tmp`` (everyone may add files, only a file's owner may remove
  or replace it), 0755 elsewhere; a private folder (the per-user default queue) is 0700;
* a file is created under a temporary name, given mode 0644 (everyone may read it: enough to
  lock it with ``flock`` or to map it) and only then linked or renamed into place, so nobody
  sees it half-written or with the creator's umask;
* when modes are wrong anyway (a folder made by hand, files of an older version),
  :class:`SharedFileError` names the path, the user, the owner and the command that fixes it.

Only the standard library is used; this module imports neither Voilà nor widgets.
"""

from __future__ import annotations

import os
import pwd
import stat
import tempfile
from pathlib import Path

from .errors import MTJExploreError

SHARED_FOLDER_MODE = 0o1777
OPEN_FOLDER_MODE = 0o755
PRIVATE_FOLDER_MODE = 0o700
FILE_MODE = 0o644


class SharedFileError(MTJExploreError, PermissionError):
    """A shared folder or file has modes that keep this user out; the message says the fix."""


class SharedFileWarning(UserWarning):
    """A shared cache could not be used (modes); the work goes on without it. Says the fix."""


def user_name(uid=None):
    """The name of ``uid`` (default: this process's effective user), or the number."""
    uid = os.geteuid() if uid is None else uid
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return str(uid)


def folder_mode(parent_mode, private=False):
    """The mode for a new folder inside a folder of mode ``parent_mode``.

    Examples
    --------
    >>> oct(folder_mode(0o41777)), oct(folder_mode(0o40755)), oct(folder_mode(0o41777, private=True))
    ('0o1777', '0o755', '0o700')
    """
    if private:
        return PRIVATE_FOLDER_MODE
    return SHARED_FOLDER_MODE if parent_mode & stat.S_IWOTH else OPEN_FOLDER_MODE


def ensure_folder(path, *, what, env_var=None, private=False):
    """Create ``path`` (and missing parents) with :func:`folder_mode`; check this user can use it.

    Parameters
    ----------
    path : path-like
    what : str
        What the folder is, for messages, e.g. ``"the training queue folder"``.
    env_var : str, optional
        The environment variable that chooses the folder, named in the fix.
    private : bool, default False
        Create it for this user only (mode 0700).

    Returns
    -------
    pathlib.Path

    Raises
    ------
    SharedFileError
        The folder cannot be created, or this user cannot create files in it.
    """
    path = Path(path)
    missing = []
    for folder in (path, *path.parents):
        if folder.exists():
            break
        missing.append(folder)
    for folder in reversed(missing):
        try:
            os.mkdir(folder, PRIVATE_FOLDER_MODE)
        except FileExistsError:
            continue  # made by another process meanwhile: used as it is
        except PermissionError:
            raise SharedFileError(folder_problem(folder.parent, what, env_var)) from None
        os.chmod(folder, folder_mode(folder.parent.stat().st_mode, private))  # whatever the umask
    if not path.is_dir():
        raise SharedFileError(f"{what} {path} is not a folder; point {env_var or 'it'} at a folder")
    if not os.access(path, os.W_OK | os.X_OK):
        raise SharedFileError(folder_problem(path, what, env_var))
    return path


def folder_problem(path, what, env_var=None):
    """The message for a folder this user cannot create files in."""
    owner = _owner(path)
    hint = f", or point {env_var} at a folder every user of the machine can write" if env_var else ""
    return (f"{what} {path} is not writable by user {user_name()!r} (it belongs to {owner!r}, "
            f"mode {_mode(path)}): make it shared with `chmod 1777 {path}` (as {owner!r} or root)"
            f"{hint}")


def file_problem(path, what, action="read"):
    """The message for a file this user cannot ``action`` (read, replace)."""
    owner = _owner(path)
    return (f"{what} {path} cannot be {action} by user {user_name()!r} (it belongs to {owner!r}, "
            f"mode {_mode(path)}): run `chmod 644 {path}` as {owner!r} or root, or delete it "
            "(it is made again)")


def open_for_lock(path, *, what):
    """A read-only descriptor of ``path`` for ``flock``, creating the file (mode 0644) if needed.

    ``flock`` needs no write access, so a lock file one user created serves every user who can
    read it. A file that is missing is created under a temporary name and hard-linked into place:
    it appears with its final mode, and two processes creating it at once end up with one file.
    """
    path = Path(path)
    for _ in range(5):
        try:
            return os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
        except FileNotFoundError:
            _link_new_file(path, what)
        except PermissionError:
            raise SharedFileError(file_problem(path, what)) from None
    raise SharedFileError(f"{what} {path} keeps disappearing: is another program deleting it?")


def _temp_beside(path, what, suffix):
    """A new temporary file of mode 0644 beside ``path``: ``(fd, name)``; a folder this user may
    not write to raises :class:`SharedFileError`."""
    try:
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=suffix)
    except PermissionError:
        raise SharedFileError(folder_problem(path.parent, f"the folder of {what}")) from None
    try:
        os.fchmod(fd, FILE_MODE)
    except BaseException:
        os.close(fd)
        os.unlink(tmp)
        raise
    return fd, tmp


def _link_new_file(path, what):
    fd, tmp = _temp_beside(path, what, ".new")
    try:
        os.close(fd)
        os.link(tmp, path)
    except FileExistsError:
        pass  # another process made it first: use theirs
    finally:
        os.unlink(tmp)


def create_exclusive(path):
    """Create ``path`` (which must not exist) with mode 0644 and return its read-write descriptor."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, FILE_MODE)
    os.fchmod(fd, FILE_MODE)
    return fd


def write_atomically(path, write, *, what):
    """Write ``path`` through ``write(binary_file)``: to a temporary file of mode 0644, then renamed
    into place (readers see the old file or the whole new one).

    Raises
    ------
    SharedFileError
        The folder is not writable by this user, or ``path`` belongs to another user in a shared
        (sticky) folder and cannot be replaced.
    OSError
        Any other failure (a full disk); the temporary file is removed.
    """
    path = Path(path)
    fd, tmp = _temp_beside(path, what, ".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            write(handle)
        os.replace(tmp, path)
    except PermissionError:
        Path(tmp).unlink(missing_ok=True)
        raise SharedFileError(file_problem(path, what, "replaced")) from None
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _owner(path):
    try:
        return user_name(os.stat(path).st_uid)
    except OSError:
        return "?"


def _mode(path):
    try:
        return oct(stat.S_IMODE(os.stat(path).st_mode))[2:]
    except OSError:
        return "?"
