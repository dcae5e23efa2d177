"""Files the library writes: owner-only, whatever the umask, also through a symlink.

Databases, backups, reports and exports can hold names and birth dates, so every
file stemjourney creates is readable by its owner only (0600) and every folder it
creates is 0700. Errors name the system's reason, never the path (which may name a
person).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TextIO

from stemjourney.exceptions import StorageError

__all__ = [
    "create_private",
    "make_private",
    "open_private",
    "private_dir",
    "reason",
    "write_private",
]

_FILE_MODE = 0o600
_DIR_MODE = 0o700


def reason(error: OSError) -> str:
    """The system's reason for an OS error, without the path."""
    return error.strerror or type(error).__name__


def create_private(path: str | os.PathLike[str]) -> None:
    """Create ``path`` as an empty file readable and writable by its owner only.

    An existing file is left as it is (a symlink is followed to its target, which is
    created owner-only when it does not exist yet); raises
    :class:`~stemjourney.exceptions.StorageError` when the file cannot be created.
    """
    real = os.path.realpath(path)
    try:
        fd = os.open(real, os.O_CREAT | os.O_EXCL | os.O_WRONLY, _FILE_MODE)
    except FileExistsError:
        return
    except OSError as error:
        raise StorageError(
            f"the file cannot be created ({reason(error)}); allowed: a path in a "
            "directory that exists and can be written"
        ) from None
    try:
        os.fchmod(fd, _FILE_MODE)  # whatever the umask
    finally:
        os.close(fd)


def private_dir(path: str | os.PathLike[str]) -> None:
    """Create the directory ``path`` (and missing parents) owner-only, if it is missing."""
    folder = os.path.abspath(path)
    missing = []
    while not os.path.exists(folder):
        missing.append(folder)
        folder = os.path.dirname(folder)
    for made in reversed(missing):
        try:
            os.mkdir(made, mode=_DIR_MODE)
            os.chmod(made, _DIR_MODE)
        except OSError as error:
            raise StorageError(f"the directory cannot be created ({reason(error)})") from None


def write_private(path: str | os.PathLike[str], data: str | bytes) -> None:
    """Write ``data`` to ``path``, owner-only (0600) whatever the umask, replacing any file.

    Missing parent directories are created owner-only (0700).
    """
    target = os.path.realpath(path)
    private_dir(os.path.dirname(target))
    raw = data.encode("utf-8") if isinstance(data, str) else data
    try:
        fd = os.open(target, os.O_CREAT | os.O_WRONLY | os.O_TRUNC, _FILE_MODE)
        try:
            os.fchmod(fd, _FILE_MODE)
            view = memoryview(raw)
            while view:
                view = view[os.write(fd, view) :]
        finally:
            os.close(fd)
    except OSError as error:
        raise StorageError(f"the file cannot be written ({reason(error)})") from None


def make_private(path: str | os.PathLike[str]) -> None:
    """Set an existing file to owner-only (0600)."""
    try:
        os.chmod(os.path.realpath(path), _FILE_MODE)
    except OSError as error:
        raise StorageError(f"the file's mode cannot be set ({reason(error)})") from None


@contextmanager
def open_private(path: str | os.PathLike[str]) -> Iterator[TextIO]:
    """``path`` opened for writing text, created or emptied, owner-only (0600); missing
    parent folders are created 0700."""
    target = os.path.realpath(path)
    private_dir(os.path.dirname(target))
    try:
        fd = os.open(target, os.O_CREAT | os.O_WRONLY | os.O_TRUNC, _FILE_MODE)
        os.fchmod(fd, _FILE_MODE)
    except OSError as error:
        raise StorageError(f"the file cannot be written ({reason(error)})") from None
    with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
        yield handle
