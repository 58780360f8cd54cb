"""Files and folders the engine creates: private ones 0600, folders 0700, whatever the umask.

Why: the umask decides the mode of a file made with ``open`` or ``mkdir``, and
the usual 022 left the database, its WAL, the configuration and the data
folder world-readable (issue 16 item 12). Every place that creates engine
material goes through these helpers, which set the mode explicitly (``fchmod``
/ ``chmod`` after creating), so a loose umask cannot widen it and a strict one
cannot make a file the engine itself cannot write. Certificates, public keys and
CSRs are public by nature and keep :data:`PUBLIC_FILE`; see
docs/decisions/storage.md ("File modes") for each file's mode and why.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

PRIVATE_FILE = 0o600
PRIVATE_DIR = 0o700
PUBLIC_FILE = 0o644


def make_private_dir(path: Path) -> list[Path]:
    """Create ``path`` and its missing parents, each 0700; return those made (parents first).

    Folders that exist are left as they are (a data folder an operator set up
    is theirs to choose), except that ``Path.mkdir(parents=True)`` would have
    made the missing parents with the umask's mode: here every one is 0700.
    """
    missing: list[Path] = []
    probe = Path(path)
    while not probe.exists():
        missing.append(probe)
        probe = probe.parent
    made: list[Path] = []
    for folder in reversed(missing):
        try:
            folder.mkdir(mode=PRIVATE_DIR)
        except FileExistsError:  # made meanwhile by someone else: theirs
            continue
        os.chmod(folder, PRIVATE_DIR)
        made.append(folder)
    return made


def write_file(path: Path, data: bytes, *, mode: int = PRIVATE_FILE, exclusive: bool) -> None:
    """Write ``data`` to ``path`` with exactly ``mode`` from its first byte, synced.

    ``exclusive``: refuse (``FileExistsError``) to touch a file that exists;
    else replace its content (and set its mode). The mode is set on the open
    descriptor before anything is written, so no reader ever sees the content
    under a wider mode.
    """
    flags = os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC | (os.O_EXCL if exclusive else os.O_TRUNC)
    fd = os.open(path, flags, mode)
    with os.fdopen(fd, "wb") as fh:
        os.fchmod(fd, mode)
        fh.write(data)
        fh.flush()
        os.fsync(fd)


@contextlib.contextmanager
def open_private_file(path: Path) -> Iterator[BinaryIO]:
    """A new file at ``path`` (``FileExistsError`` if one is there), 0600 from its first
    byte, for writing as it goes; synced when the block ends, removed if the block fails.

    :func:`write_file` for content too large to hold at once (an audit export);
    a half-written file is not left to be taken for a whole one.
    """
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, PRIVATE_FILE)
    try:
        with os.fdopen(fd, "wb") as fh:
            os.fchmod(fd, PRIVATE_FILE)
            yield fh
            fh.flush()
            os.fsync(fd)
    except BaseException:
        os.unlink(path)  # made by this call (O_EXCL): nobody else's file
        raise


def create_private_file(path: str | os.PathLike[str]) -> bool:
    """Create an empty 0600 file at ``path`` unless one exists; whether it was made.

    For files a library creates with its own mode (SQLite: 0644 less the
    umask): made first, the library opens it and keeps its mode. A missing
    folder is left for the library to report as it always does.
    """
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, PRIVATE_FILE)
    except (FileExistsError, FileNotFoundError):
        return False
    try:
        os.fchmod(fd, PRIVATE_FILE)
    finally:
        os.close(fd)
    return True
