"""The one reader of the active policy version: issuance, UZI verification and OCSP read here.

:class:`ActivePolicy` answers "which signed version is in force now" with an
:class:`ActiveVersion` (number and parsed :class:`~policies.Policy`); each
caller takes its part (the issuance cycle the whole policy, the UZI verifier
``issuer.uzi.policy.uzi_policy_from(policy)``, OCSP ``policy.ocsp``). One
meaning for all (docs/decisions/policy-versions.md, "One active-policy reader"):

- in force = the active row, or -- when approved versions are due by their
  ``activate_at`` -- the last due one by (``activate_at``, version), the one
  settling activates last;
- every row is verified with the audit *public* key (:func:`verify_row`): an
  edited row is refused (ZID-1508), never followed; no HSM is needed;
- before any version is recorded, the configured document (``[policy] file``,
  else the packaged default) applies -- the document the engine records as
  version 1 -- with version number :data:`UNRECORDED`;
- the engine that holds the audit key passes ``settle`` (``PolicyStore.active``):
  it then records the bootstrap version and performs due activations itself
  (signed, audited) instead of reading around them;
- cached by the key read: one small query per call, the row verified and
  parsed again only when that key changes. Never a time-based cache: another
  process may activate a version at any moment and the next request must
  follow it. A request takes one :class:`ActiveVersion` at its start and keeps
  it, so a version change never breaks a request in flight.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Final

from issuer.audit import AuditKeyError, CheckpointVerifier, load_public_key
from issuer.errors import ZorgIdError
from issuer.errors import policy as codes
from issuer.policy_store.signed import StoredVersion, verify_row
from issuer.store import Engine
from issuer.store import policies as rows
from policies import Policy, default_policy, load_policy

if TYPE_CHECKING:
    from issuer.config import Config
    from issuer.policy_store.store import PolicyStore

__all__ = [
    "AUDIT_PUBLIC_KEY_PEM",
    "UNRECORDED",
    "ActivePolicy",
    "ActiveVersion",
    "configured_policy",
    "read_active",
]

AUDIT_PUBLIC_KEY_PEM: Final = "audit-checkpoint.pub.pem"
"""In ``<data_dir>/ca/`` (``issuer.ca.material``): verifies the signed policy rows."""
UNRECORDED: Final = 0
"""The version number of the configured document before any version is recorded."""


@dataclass(frozen=True, kw_only=True)
class ActiveVersion:
    """The version a request is served under: take one at the request's start."""

    version: int
    """The ``policy_versions`` row; :data:`UNRECORDED` for the configured document."""
    policy: Policy


def _utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def configured_policy(config: Config) -> Policy:
    """``[policy] file`` of *config*, else the packaged development policy.

    The document the engine records as version 1 (bootstrap), and what applies
    until then.
    """
    return load_policy(config.policy.file) if config.policy.file else default_policy()


Key = tuple[tuple[int, str, bytes], ...]


class ActivePolicy:
    """The policy version in force now, verified, cached by the database's key (thread-safe).

    ``verifier`` is the audit public key, or the path of its PEM (read on
    first need; unreadable is ZID-1510, an operator's missing file, not
    tampering). ``fallback`` gives the configured document while no version is
    recorded; ``settle`` is for the engine holding the audit key (see the
    module). ``clock`` is wall time (``activate_at`` is).
    """

    def __init__(
        self,
        engine: Engine,
        *,
        verifier: CheckpointVerifier | Path,
        clock: Callable[[], dt.datetime] = _utc_now,
        fallback: Callable[[], Policy] | None = None,
        settle: Callable[[], StoredVersion] | None = None,
    ) -> None:
        self._engine = engine
        self._verifier = verifier
        self._clock = clock
        self._fallback_source = fallback
        self._settle = settle
        self.keys = rows.ActiveKeyRead(engine)
        """The per-request key read (``keys.sql`` None: the SQLAlchemy statement)."""
        self._lock = threading.Lock()
        self._cached: tuple[Key, ActiveVersion] | None = None
        self._fallback: ActiveVersion | None = None

    @classmethod
    def of_store(cls, store: PolicyStore) -> ActivePolicy:
        """The issuance engine's reader: settles (bootstrap, due activations) through *store*."""
        return cls(store.engine, verifier=store.verifier, clock=store.now, settle=store.active)

    @classmethod
    def from_config(
        cls, config: Config, engine: Engine, *, clock: Callable[[], dt.datetime] = _utc_now
    ) -> ActivePolicy:
        """A reader without the HSM: the ceremony's audit public key, ``[policy] file``."""
        return cls(
            engine,
            verifier=config.ca_dir / AUDIT_PUBLIC_KEY_PEM,
            clock=clock,
            fallback=lambda: configured_policy(config),
        )

    def _public_key(self) -> CheckpointVerifier:
        if isinstance(self._verifier, Path):
            path = self._verifier
            try:
                self._verifier = load_public_key(path.read_bytes())
            except (OSError, AuditKeyError) as exc:
                raise ZorgIdError(
                    codes.AUDIT_KEY_UNREADABLE,
                    f"cannot verify the active policy version: the audit public key "
                    f"{path} is unreadable ({type(exc).__name__}); expected "
                    "the PEM written by the key ceremony -- restore it from the ceremony backup",
                ) from None
        return self._verifier

    def current(self) -> ActiveVersion:
        """The version in force now; the configured document while none is recorded.

        ZID-1508 for a row that does not verify; ZID-1507 when none is recorded
        and this reader has neither ``fallback`` nor ``settle``.
        """
        found = self.find()
        if found is not None:
            return found
        if self._fallback_source is None:
            raise ZorgIdError(
                codes.VERSION_NOT_FOUND, "no policy version is recorded yet; expected one active"
            )
        if self._fallback is None:
            self._fallback = ActiveVersion(version=UNRECORDED, policy=self._fallback_source())
        return self._fallback

    def find(self) -> ActiveVersion | None:
        """The recorded version in force now, None while none is (and nothing settles)."""
        now = self._clock()
        key: Key = tuple(sorted(self.keys(now)))
        cached = self._cached
        if cached is not None and cached[0] == key:
            return cached[1]
        if not key and self._settle is None:
            return None
        with self._lock:
            settled = self._settle is not None and (len(key) != 1 or key[0][1] != "active")
            if settled:
                assert self._settle is not None
                stored = self._settle()
                version = stored.record.version
                # The key the next read will see: the row as settling left it.
                key = ((version, "active", rows.signature_of(self._engine, version)),)
            else:
                stored = self._read(key, now)
            result = ActiveVersion(version=stored.record.version, policy=stored.policy)
            self._cached = (key, result)
            return result

    def _read(self, key: Key, now: dt.datetime) -> StoredVersion:
        """The row the key names in force, verified (no settling: the last due one wins)."""
        due = [entry for entry in key if entry[1] == "approved"]
        row = rows.last_due(self._engine, now) if due else rows.version_row(self._engine, key[0][0])
        if row is None:  # moved between the key read and this one: read the active row
            found = rows.in_force_rows(self._engine, now)
            if not found:
                raise ZorgIdError(codes.VERSION_NOT_FOUND, "the active policy version vanished")
            row = found[0]
        return verify_row(row, self._public_key())


def read_active(engine: Engine, verifier: CheckpointVerifier) -> ActiveVersion | None:
    """One read of the version in force with the audit *public* key only (no HSM login).

    :meth:`ActivePolicy.find` of a reader made for this one call: None while no
    version is recorded; ZID-1508 when the row does not verify.
    """
    return ActivePolicy(engine, verifier=verifier).find()
