"""Atomic file writes that behave like a plain write: through a symlink to its target, keeping
an existing file's mode (else the umask's), and never leaving a temporary behind for good: a
temporary beside the target is fsynced and renamed over it, so a crash keeps the old file, and
the temporaries a killed writer left are removed by the next write of the same target."""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import secrets
import socket
import stat
import threading
import time
import zipfile
from typing import BinaryIO, Callable

# A temporary of another host (a shared file system) is stale once it has gone unwritten this
# long: its writer's liveness cannot be checked from here.
STALE_SECONDS = 3600.0
_HOST = hashlib.sha1(socket.gethostname().encode()).hexdigest()[:8]
_WRITING: set[str] = set()  # this process's temporaries being written now
_WRITING_LOCK = threading.Lock()


def atomic_write(path: str, write: Callable[[zipfile.ZipFile], None]) -> None:
    """Writes a zip through `write` into a temporary file beside the file `path` names (its
    symlink resolved, so the link stays), then renames it over that file. Temporaries are
    `.<name>.gesave-<host>-<pid>-<random>.tmp`; before writing, those of the same target left
    by a dead process (a `kill -9`) are removed: see `_is_stale`."""

    def write_zip(f: BinaryIO) -> None:
        with zipfile.ZipFile(f, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            write(archive)

    atomic_write_file(path, write_zip)


def atomic_write_file(path: str, write: Callable[[BinaryIO], None]) -> None:
    """atomic_write for any format: `write` writes the bytes into the open temporary."""
    target = os.path.realpath(os.fspath(path))
    directory, prefix = os.path.dirname(target), _temp_prefix(target)
    _remove_stale(directory, prefix)
    tmp, fd = _create_temp(directory, prefix)
    try:
        with os.fdopen(fd, "wb") as f:
            _keep_mode(f.fileno(), tmp, target)
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, target)
        _fsync_directory(directory)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    finally:
        with _WRITING_LOCK:
            _WRITING.discard(tmp)


def _temp_prefix(target: str) -> str:
    name = os.path.basename(target)
    if len(name.encode()) > 180:  # room for the suffix within the 255-byte name limit
        name = hashlib.sha1(name.encode()).hexdigest()
    return f".{name}.gesave-"


def _create_temp(directory: str, prefix: str) -> tuple[str, int]:
    """A new temporary with the mode a plain `open(..., "w")` gives (0o666 less the umask, or
    what the directory's default ACL says), registered as ours before it exists."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    while True:
        tmp = os.path.join(directory, f"{prefix}{_HOST}-{os.getpid()}-{secrets.token_hex(6)}.tmp")
        with _WRITING_LOCK:
            _WRITING.add(tmp)
        try:
            return tmp, os.open(tmp, flags, 0o666)
        except BaseException as e:
            with _WRITING_LOCK:
                _WRITING.discard(tmp)
            if not isinstance(e, FileExistsError):
                raise


def _keep_mode(fd: int, tmp: str, target: str) -> None:
    """An existing target keeps its permission bits (and its group, where we may set it)."""
    try:
        st = os.stat(target)
    except FileNotFoundError:
        return
    if hasattr(os, "fchown") and st.st_gid != os.getegid():
        with contextlib.suppress(OSError):
            os.fchown(fd, -1, st.st_gid)
    if hasattr(os, "fchmod"):
        os.fchmod(fd, stat.S_IMODE(st.st_mode) & 0o777)
    else:
        os.chmod(tmp, stat.S_IMODE(st.st_mode) & 0o777)


def _fsync_directory(directory: str) -> None:
    """Makes the rename durable (POSIX); a failure here cannot undo the completed save."""
    if os.name == "nt":
        return
    with contextlib.suppress(OSError):
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _remove_stale(directory: str, prefix: str) -> None:
    pattern = re.compile(re.escape(prefix) + r"([0-9a-f]{8})-([0-9]{1,12})-[0-9a-f]+\.tmp")
    with contextlib.suppress(OSError), os.scandir(directory) as entries:
        for entry in entries:
            match = pattern.fullmatch(entry.name)
            with contextlib.suppress(OSError):  # another saver may remove it first
                if match and _is_stale(entry.path, match[1], int(match[2])):
                    os.unlink(entry.path)


def _is_stale(path: str, host: str, pid: int) -> bool:
    """A temporary of this host is stale when its process is dead (or it is this process's but
    not being written now: a pid reused); one of another host, or on Windows (where probing a
    pid would kill it), when unwritten for STALE_SECONDS. A live writer's file is never taken,
    except across pid namespaces sharing one hostname and folder (containers): there its save
    fails at the rename with FileNotFoundError, and the old file stays."""
    if host != _HOST or os.name == "nt":
        return time.time() - os.stat(path).st_mtime > STALE_SECONDS
    if pid == os.getpid():
        with _WRITING_LOCK:
            return path not in _WRITING
    try:
        os.kill(pid, 0)
    except (ProcessLookupError, OverflowError):
        return True
    except OSError:  # PermissionError: alive, another user's
        return False
    return False
