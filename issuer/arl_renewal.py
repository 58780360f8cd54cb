"""The OCSP process renews the root's CRL (ARL) before its nextUpdate, when it can.

:class:`ArlRenewal` runs with each pass of the background refresher
(:func:`issuer.ocsp_wiring.serve_http`), beside the responder certificate's renewal.
Only a self-signed root whose key is on this process's token can be renewed here (the
development setup; a root kept offline is renewed at its ceremony with ``zorgid ca
renew-arl``). When due it does what the command does, writes one audit event
(``ca.root_crl.renewed``) and one INFO line; the HTTP front serves the new file.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from hsm import Hsm
from issuer.audit import AuditEvent, AuditLog
from issuer.ca.ceremony.arl import ArlResult, renew_arl_if_due
from issuer.ca.config import RootMode
from issuer.ca.material import ca_dir_of, read_record
from issuer.store import Engine
from issuer.store.transactions import write_transaction

_LOG = logging.getLogger(__name__)

ACTOR = "root-crl-renewal"


@dataclass(frozen=True, kw_only=True)
class ArlRenewal:
    """One OCSP process's root CRL check; :meth:`run_once` on every refresher pass."""

    data_dir: Path
    engine: Engine
    hsm: Hsm
    audit: AuditLog
    clock: Callable[[], datetime]

    def root_key_here(self) -> bool:
        """Whether the root is self-signed and its key is on this process's token."""
        root = read_record(ca_dir_of(self.data_dir)).get("root")
        if not isinstance(root, dict) or root.get("mode") != RootMode.SELF_SIGNED.value:
            return False
        label = root.get("key_label")
        return isinstance(label, str) and self.hsm.has_key(label)

    def run_once(self) -> ArlResult | None:
        """Renew the root CRL if due (under the CA directory's renewal lock); the renewal."""
        if not self.root_key_here():
            return None
        result = renew_arl_if_due(
            self.data_dir, lambda: self.hsm, out=lambda _: None, clock=self.clock
        )
        if result is None:
            return None
        new = result.crl
        assert new.next_update_utc is not None
        with write_transaction(self.engine) as conn:
            self.audit.append(
                conn,
                AuditEvent(
                    actor_role="engine",
                    actor_identity=ACTOR,
                    action="ca.root_crl.renewed",
                    subject=f"root-crl:{result.number}",
                    details={
                        "old_number": result.previous_number,
                        "old_next_update": (
                            result.previous_next_update.isoformat()
                            if result.previous_next_update
                            else None
                        ),
                        "new_number": result.number,
                        "new_next_update": new.next_update_utc.isoformat(),
                        "file": result.path.name,
                    },
                ),
            )
        return result
