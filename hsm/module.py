"""One loaded PKCS#11 module per process, with its one lock.

Why a lock per *module* (not per session or token): python-pkcs11 0.10.1
calls ``C_Initialize(NULL)`` -- no ``CKF_OS_LOCKING_OK`` -- so SoftHSM runs
without its own mutexes, and python-pkcs11 releases the GIL around
``C_Sign``. Two threads inside the module at once, even on different
tokens, corrupt its state (PKCS#11 v2.40 section 5.4: with no locking
arguments the library may assume single-threaded use). Every call into the
module therefore goes through :attr:`LoadedModule.lock`.

Re-initialisation (``C_Finalize`` + ``C_Initialize``) invalidates every
session of every token on the module. :attr:`LoadedModule.generation`
counts re-initialisations; each token handle remembers the generation its
session was opened in and reopens (and logs in again) when it differs.

The fault seam: :attr:`LoadedModule.fault_hook`, if set, is called with the
operation name right before every PKCS#11 operation this package makes, under
the lock. It may raise a ``pkcs11.exceptions.PKCS11Error`` to simulate a
device failure exactly where a real one would surface.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
from collections.abc import Callable, Mapping
from typing import Any

import pkcs11
from pkcs11.exceptions import PKCS11Error

from hsm.errors import HsmUnavailable

log = logging.getLogger(__name__)

FaultHook = Callable[[str], None]
"""Called with an operation name ("sign", "login", "find", ...) before each PKCS#11 call."""


class LoadedModule:
    """A PKCS#11 shared library loaded once in this process."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.lock = threading.RLock()
        self.generation = 0
        self.fault_hook: FaultHook | None = None
        self.needs_reinit = False
        try:
            self.lib: Any = pkcs11.lib(path)
        except PKCS11Error as exc:
            raise HsmUnavailable(
                f"cannot load/initialise PKCS#11 module {path!r} ({type(exc).__name__}); "
                "check the module path and its configuration (e.g. SOFTHSM2_CONF)"
            ) from None

    def fire(self, operation: str) -> None:
        """Run the fault hook, if any (call with the lock held)."""
        hook = self.fault_hook
        if hook is not None:
            hook(operation)

    def reinitialize(self, seen_generation: int) -> None:
        """``C_Finalize`` + ``C_Initialize``, unless someone already did since ``seen_generation``.

        The generation check stops N token handles that all saw the same
        failure from re-initialising N times in a row (each would kill the
        sessions the previous one just opened).
        """
        with self.lock:
            if self.generation != seen_generation and self.lib.initialized:
                return
            self.generation += 1
            log.warning(
                "re-initialising PKCS#11 module %s (generation %d)", self.path, self.generation
            )
            # A PKCS11Error here means already finalised underneath us, or the device
            # is gone: nothing to undo either way.
            with contextlib.suppress(PKCS11Error):
                self.lib.finalize()
            self.lib.initialize()

    def ensure_initialized(self) -> None:
        """Initialise if a failed re-initialisation left the module finalised, or after fork.

        A forked child must call ``C_Initialize`` itself before using the module
        (PKCS#11 v2.40 section 6.7.1); the state it inherited describes the
        parent's sessions and logins.
        """
        if self.needs_reinit:
            self.needs_reinit = False
            self.generation += 1
            with contextlib.suppress(PKCS11Error):
                self.lib.finalize()
            self.lib.initialize()
        elif not self.lib.initialized:
            self.generation += 1
            self.lib.initialize()


_modules: dict[str, LoadedModule] = {}
_modules_lock = threading.Lock()


def _after_fork_in_child() -> None:
    """Fresh locks (a parent thread may have held one at fork) and a re-init before use."""
    global _modules_lock
    _modules_lock = threading.Lock()
    for module in _modules.values():
        module.lock = threading.RLock()
        module.needs_reinit = True
        module.generation += 1


os.register_at_fork(after_in_child=_after_fork_in_child)


def load_module(path: str, environment: Mapping[str, str] | None = None) -> LoadedModule:
    """The process-wide :class:`LoadedModule` for ``path`` (loaded on first use).

    *environment*: variables the module reads when it initialises (``SOFTHSM2_CONF``,
    ``P11_KIT_SERVER_ADDRESS``), set in this process before the first load -- a module
    reads them at ``C_Initialize`` and at every re-initialisation, so they stay set. A
    module already loaded under other values is refused rather than silently serving
    another token directory or server.
    """
    key = os.path.realpath(path)
    wanted = dict(environment or {})
    with _modules_lock:
        found = _modules.get(key)
        if found is None:
            _set_environment(path, wanted)
            found = LoadedModule(path)
            _modules[key] = found
        else:
            differing = sorted(n for n, v in wanted.items() if os.environ.get(n) != v)
            if differing:
                raise HsmUnavailable(
                    f"PKCS#11 module {path!r} is already loaded in this process with other "
                    f"values of {', '.join(differing)}; one process loads a module with one "
                    "configuration"
                )
        return found


def _set_environment(path: str, wanted: Mapping[str, str]) -> None:
    """The configured values win over exported ones; the names of overridden ones are logged
    (never the values: a module's variable may carry a credential)."""
    for name, value in wanted.items():
        before = os.environ.get(name)
        if before is not None and before != value:
            log.warning(
                "%s is set in the environment; using the value configured for %s instead",
                name,
                path,
            )
        os.environ[name] = value
