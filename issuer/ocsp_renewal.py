"""The OCSP process renews its own responder certificate before it runs out.

:class:`ResponderRenewal` runs with each pass of the background refresher
(:func:`issuer.ocsp_wiring.serve_http`): when less than ``[ocsp]
responder_renew_before_days`` of the responder certificate is left it certifies
the same responder key again with the issuing CA key (what ``zorgid ca
renew-ocsp`` does), writes one audit event and one INFO line, and from then on
signs with the new certificate. A certificate renewed elsewhere (another
process, the command) is picked up the same way.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from hsm import Hsm
from issuer.audit import AuditEvent, AuditLog
from issuer.ca import load_ca_material
from issuer.ca.ceremony.lock import renewal_lock
from issuer.ca.ceremony.renew import RenewResult, current_responder_config, renew_responder
from issuer.ocsp_service import OcspService
from issuer.store import Engine
from issuer.store.transactions import write_transaction

_LOG = logging.getLogger(__name__)

ACTOR = "ocsp-responder-renewal"


@dataclass(frozen=True, kw_only=True)
class ResponderRenewal:
    """One OCSP process's renewal check; :meth:`run_once` on every refresher pass."""

    data_dir: Path
    engine: Engine
    hsm: Hsm
    """The token :class:`~issuer.ocsp_wiring.OcspRuntime` got from ``issuer.wiring``."""
    service: OcspService
    audit: AuditLog
    renew_before: timedelta
    clock: Callable[[], datetime]

    def run_once(self) -> RenewResult | None:
        """Renew if due, then sign with the certificate on disk; the renewal, if any.

        The check and the renewal hold a lock file in the CA directory, so
        several responder processes renew once between them.
        """
        result: RenewResult | None = None
        ca_dir = load_ca_material(self.data_dir).ca_dir
        with renewal_lock(ca_dir):
            now = self.clock()
            old = load_ca_material(self.data_dir).ocsp_responder
            left = old.not_valid_after_utc - now
            if left < self.renew_before:
                result = renew_responder(
                    self.data_dir,
                    self.hsm,
                    current_responder_config(self.data_dir),
                    token=self.hsm.token_label,
                    new_key=False,
                    out=lambda _: None,
                    clock=lambda: now,
                    reason=f"due: {left.days} days left, renews below {self.renew_before.days}",
                )
                new = result.certificate
                with write_transaction(self.engine) as conn:
                    self.audit.append(
                        conn,
                        AuditEvent(
                            actor_role="engine",
                            actor_identity=ACTOR,
                            action="ocsp.responder.renewed",
                            subject=f"ocsp-responder:{new.serial_number:x}",
                            details={
                                "old_serial": f"{old.serial_number:x}",
                                "old_not_after": old.not_valid_after_utc.isoformat(),
                                "new_serial": f"{new.serial_number:x}",
                                "new_not_after": new.not_valid_after_utc.isoformat(),
                                "key_label": result.key_label,
                                "archived": result.archived.name,
                            },
                        ),
                    )
                _LOG.info(
                    "OCSP responder certificate renewed: serial %x notAfter %s -> "
                    "serial %x notAfter %s",
                    old.serial_number,
                    old.not_valid_after_utc.isoformat(),
                    new.serial_number,
                    new.not_valid_after_utc.isoformat(),
                )
        self.service.use_responder(load_ca_material(self.data_dir), self.hsm)
        return result
