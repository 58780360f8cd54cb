"""Who administers an organisation: the one reader that grants administrator powers.

A validation of an organisation (flow 4) is a request until approved
(:mod:`issuer.flows.organisations`); only an approved, unrevoked request makes
an administrator, and :func:`administered` is where every power of one --
listing and resetting members (:mod:`issuer.flows.members`), approving a
colleague, revoking a member's certificate -- is checked.
"""

from __future__ import annotations

from issuer.errors import Code, ZorgIdError
from issuer.flows.common import FlowDeps, Portal
from issuer.flows.login import LoginSession, login_session
from issuer.store import Connection
from issuer.store import organisations as organisation_store
from issuer.store.organisations import OrganisationRecord


def administered(conn: Connection, person_id: str) -> list[OrganisationRecord]:
    """Organisations the person administers: approved, not revoked. The one test of admin power."""
    return organisation_store.administered_by(conn, person_id)


def admin_session(
    conn: Connection, deps: FlowDeps, portal: Portal, handle: str
) -> tuple[LoginSession, set[str]]:
    """The logged-in administrator and the URAs they administer (ZID-1830/1820 if none)."""
    session = login_session(conn, deps, portal=portal, handle=handle)
    uras = {row.ura for row in administered(conn, session.person_id)}
    if not uras:
        if organisation_store.has_pending_request(conn, session.person_id):
            raise ZorgIdError(Code.ZID_1830, "the logged-in person's request is not approved yet")
        raise ZorgIdError(Code.ZID_1820, "the logged-in person administers no organisation")
    return session, uras
