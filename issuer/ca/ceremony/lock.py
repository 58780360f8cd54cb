"""The renewal lock: one file in the CA directory that every renewal holds while it works.

Why one lock for all: the OCSP responder renewal and the root CRL renewal both read,
change and replace ``ceremony.json``; under one lock neither loses the other's change,
and several processes (cron, each ``zorgid ocsp serve``) that find the same renewal due
renew once between them, since the second re-reads the record after the first is done.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from issuer.files import PRIVATE_FILE

LOCK_NAME = ".renew.lock"


@contextmanager
def renewal_lock(ca_dir: Path) -> Iterator[None]:
    """Hold the CA directory's renewal lock (``flock``, blocking) for the ``with`` body.

    Not re-entrant: a second ``renewal_lock`` in the same thread waits for ever.
    """
    # private like everything in the CA directory (tests/dev/test_file_modes.py)
    fd = os.open(ca_dir / LOCK_NAME, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, PRIVATE_FILE)
    with os.fdopen(fd, "r+") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield
