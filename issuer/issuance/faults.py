"""The crash seam of the issuance cycle: a test-only SIGKILL at a named step.

Why a seam and not only random kills: a crash *between* two particular steps
(after the reservation committed, after the HSM signed, ...) is exactly what
the cycle must survive, and a random kill hits those windows rarely. With
``ZORGID_TEST_CRASH_AT=<point>`` in its environment, a process kills itself
with SIGKILL (no cleanup, no ``finally``, like a power cut of the process)
the first time it reaches that point. The variable is read once, when this
module is imported: the tests set it in a worker's environment before the
worker starts (tests/issuance/worker.py), and nothing changes it while a
process runs. Unset -- as in every deployment -- each point is then one
comparison with None, not an ``os.environ`` lookup (four a certificate).

Points, in cycle order: see :data:`CRASH_POINTS` and docs/issuance-cycle.md.
"""

from __future__ import annotations

import os
import signal
from typing import Final

CRASH_ENV: Final = "ZORGID_TEST_CRASH_AT"

CRASH_POINTS: Final = (
    "after-reserve",  # step 2 committed: token claimed + serial reserved, nothing signed
    "after-lint",  # step 3: TBS linted, HSM not yet asked
    "after-sign",  # step 3: HSM signed, certificate not stored
    "after-store",  # step 4 committed, caller not yet answered
)


_CRASH_AT: Final = os.environ.get(CRASH_ENV)


def crash_point(name: str) -> None:
    """SIGKILL this process if ``ZORGID_TEST_CRASH_AT`` named *name* when it started."""
    if name == _CRASH_AT:
        os.kill(os.getpid(), signal.SIGKILL)
