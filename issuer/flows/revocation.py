"""Revocation through a login session: by the holder, or by their organisation's administrator.

The operator revokes through ``CertificateService.RevokeCertificate`` (issue 4);
this adds the two portal paths of the manual. Both end in
:func:`issuer.issuance.certificates.revoke` -- one revocation, its audit
event in the same transaction, the OCSP/CRL hook after the commit -- with an
RFC 5280 §5.3.1 reason. An administrator may revoke the certificates of a
person holding verified attributes of a URA they administer; anyone else
gets ZID-1901.
"""

from __future__ import annotations

from issuer.errors import Code, ZorgIdError
from issuer.flows.administrators import administered
from issuer.flows.common import FlowDeps, Portal
from issuer.flows.login import login_session
from issuer.issuance import certificates as certs
from issuer.issuance.records import IssuedCertificate
from issuer.store import persons as person_store


def revoke_with_session(
    deps: FlowDeps,
    *,
    portal: Portal,
    login_session_handle: str,
    certificate_id: str,
    reason: int | str,
) -> IssuedCertificate:
    """Revoke *certificate_id* for the holder or their administrator (ZID-1901 otherwise)."""
    built = deps.issuance()
    certs.reason_name(reason)
    cert = certs.get_certificate(built.engine, certificate_id=certificate_id)
    with built.engine.connect() as conn:
        session = login_session(conn, deps, portal=portal, handle=login_session_handle)
        role = "holder" if cert.person_id == session.person_id else None
        if role is None and cert.person_id is not None:
            uras = {o.ura for o in administered(conn, session.person_id)}
            member_of = person_store.uras_of(conn, cert.person_id)
            if uras & member_of:
                role = "administrator"
    if role is None:
        raise ZorgIdError(
            Code.ZID_1901, f"certificate {cert.serial} is neither yours nor of your organisation"
        )
    actor = portal.actor
    return certs.revoke(
        built.engine,
        built.audit,
        certificate_id=cert.id,
        reason=reason,
        actor=type(actor)(
            role=f"{actor.role}:{role}",
            identity=f"{actor.identity} person:{session.person_id}"[:512],
        ),
        hooks=built.cycle.hooks,
        clock=deps.clock,
    )
