"""Who may call what: the per-method role allowlist and the caller's identity.

The table :data:`METHOD_ROLES` is the whole authorisation policy of the gRPC
API (ARCHITECTURE section 8, api-sketch "Services"). A method that is not in
it is refused for everyone, so a new RPC cannot become reachable by
forgetting to list it; ``tests/server/test_roles_table.py`` checks that every
method of every registered service has an entry, and
:func:`issuer.server.app.build_server` refuses to start otherwise.

Roles come from the *verified* TLS peer certificate (grpc's auth context),
mapped by the ``[roles]`` rules of the configuration -- never from metadata,
which the caller writes itself.

This module imports no grpc so that tools and tests can read the table cheaply.
"""

from __future__ import annotations

import contextvars
import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Final

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import NameOID

from issuer.config import Role, RoleRule

__all__ = [
    "ALL_ROLES",
    "ANY_AUTHENTICATED",
    "METHOD_ROLES",
    "Access",
    "AnyAuthenticated",
    "Caller",
    "CertificateFacts",
    "Role",
    "RoleMapper",
    "current_caller",
    "facts_from_pem",
]


class AnyAuthenticated:
    """Marker: any caller whose certificate was verified may call, with or without a role.

    Only for protocol plumbing that reveals nothing of the engine's data:
    health checking (so load balancers need no role) and reflection.
    """

    _instance: AnyAuthenticated | None = None

    def __new__(cls) -> AnyAuthenticated:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "ANY_AUTHENTICATED"


ANY_AUTHENTICATED: Final = AnyAuthenticated()
ALL_ROLES: Final[frozenset[Role]] = frozenset(Role)
"""Every role; for public, read-only methods such as the CA certificates."""

Access = frozenset[Role] | AnyAuthenticated
"""What a table entry allows: a set of roles, or any authenticated caller."""

HEALTH_METHODS: Final = (
    "/grpc.health.v1.Health/Check",
    "/grpc.health.v1.Health/Watch",
    "/grpc.health.v1.Health/List",
)
REFLECTION_METHODS: Final = (
    "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo",
    "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo",
)

METHOD_ROLES: Final[Mapping[str, Access]] = MappingProxyType(
    {
        # zorgid.v1.CaService: public certificates, every role (api-sketch).
        "/zorgid.v1.CaService/GetCaCertificates": ALL_ROLES,
        # zorgid.v1.ErrorCatalogueService: the error catalogue is public (docs/errors.md), so
        # every role may read it; a portal's error overview (manual §7) is built from it.
        "/zorgid.v1.ErrorCatalogueService/ListErrors": ALL_ROLES,
        # zorgid.v1.OcspService: status of our certificates inside the trust boundary
        # (relying parties outside use HTTP, RFC 5019).
        "/zorgid.v1.OcspService/GetOcspResponse": frozenset(
            {Role.PORTAL, Role.MOBILE, Role.OPERATOR}
        ),
        # zorgid.v1.UziService: UZI-pas proof, driven by the portal back end (api-sketch).
        "/zorgid.v1.UziService/CreateUziChallenge": frozenset({Role.PORTAL}),
        "/zorgid.v1.UziService/VerifyUziCard": frozenset({Role.PORTAL}),
        # zorgid.v1.EnrollmentService: the mobile gateway redeems registration QRs.
        "/zorgid.v1.EnrollmentService/RedeemEnrollment": frozenset({Role.MOBILE}),
        # zorgid.v1.CertificateService: reading for portal, operator, auditor (api-sketch);
        # revoking for the operator (the portal's revocations come with issue 5's sessions).
        "/zorgid.v1.CertificateService/GetCertificate": frozenset(
            {Role.PORTAL, Role.OPERATOR, Role.AUDITOR}
        ),
        "/zorgid.v1.CertificateService/ListCertificates": frozenset(
            {Role.PORTAL, Role.OPERATOR, Role.AUDITOR}
        ),
        "/zorgid.v1.CertificateService/RevokeCertificate": frozenset({Role.OPERATOR}),
        # zorgid.v1.PolicyService: security officers manage the issuance policy (issue 7);
        # auditors read it. Writes never for the auditor.
        "/zorgid.v1.PolicyService/ProposePolicy": frozenset({Role.SECURITY_OFFICER}),
        "/zorgid.v1.PolicyService/ApprovePolicy": frozenset({Role.SECURITY_OFFICER}),
        "/zorgid.v1.PolicyService/RejectPolicy": frozenset({Role.SECURITY_OFFICER}),
        "/zorgid.v1.PolicyService/GetPolicy": frozenset({Role.SECURITY_OFFICER, Role.AUDITOR}),
        "/zorgid.v1.PolicyService/ListPolicies": frozenset({Role.SECURITY_OFFICER, Role.AUDITOR}),
        "/zorgid.v1.PolicyService/DiffPolicy": frozenset({Role.SECURITY_OFFICER, Role.AUDITOR}),
        "/zorgid.v1.PolicyService/DryRunPolicy": frozenset({Role.SECURITY_OFFICER, Role.AUDITOR}),
        # Issue 5, the portal manual's flows (docs/flows.md): the portal drives them, the
        # mobile gateway answers login QRs and fetches its certificate, the operator
        # pre-registers organisations. Persons act through engine-issued session handles.
        "/zorgid.v1.RegistrationService/GetTerms": frozenset({Role.PORTAL}),
        "/zorgid.v1.RegistrationService/StartRegistration": frozenset({Role.PORTAL}),
        "/zorgid.v1.RegistrationService/SetBirthDate": frozenset({Role.PORTAL}),
        "/zorgid.v1.RegistrationService/ConfirmRegistration": frozenset({Role.PORTAL}),
        "/zorgid.v1.RegistrationService/GetRegistration": frozenset({Role.PORTAL}),
        "/zorgid.v1.LoginService/CreateLoginChallenge": frozenset({Role.PORTAL}),
        "/zorgid.v1.LoginService/GetLoginChallenge": frozenset({Role.PORTAL}),
        "/zorgid.v1.LoginService/DescribeLoginChallenge": frozenset({Role.MOBILE}),
        "/zorgid.v1.LoginService/AnswerLoginChallenge": frozenset({Role.MOBILE}),
        "/zorgid.v1.LoginService/RevokeCertificateWithSession": frozenset({Role.PORTAL}),
        "/zorgid.v1.LoginService/EndLoginSession": frozenset({Role.PORTAL}),
        "/zorgid.v1.OrganizationService/RegisterOrganization": frozenset({Role.OPERATOR}),
        "/zorgid.v1.OrganizationService/StartValidation": frozenset({Role.PORTAL}),
        "/zorgid.v1.OrganizationService/ConfirmValidation": frozenset({Role.PORTAL}),
        # Issue 16: the operator approves a request to administer a URA; the portal only
        # for a logged-in approved administrator of that URA (checked in the flow).
        "/zorgid.v1.OrganizationService/ApproveAdministrator": frozenset(
            {Role.OPERATOR, Role.PORTAL}
        ),
        "/zorgid.v1.OrganizationService/ListMembers": frozenset({Role.PORTAL}),
        "/zorgid.v1.OrganizationService/ResetMember": frozenset({Role.PORTAL}),
        "/zorgid.v1.OrganizationService/CorrectPerson": frozenset({Role.OPERATOR}),
        "/zorgid.v1.AttributeService/RegisterAttributes": frozenset({Role.PORTAL}),
        "/zorgid.v1.AttributeService/GetCurrentCertificate": frozenset({Role.MOBILE}),
        # Issue 19, the ZORG-ID smartcard (portal manual §6): the portal for a logged-in
        # person; revoking also for the operator, without a session (as RevokeCertificate).
        "/zorgid.v1.SmartcardService/StartSmartcard": frozenset({Role.PORTAL}),
        "/zorgid.v1.SmartcardService/RedeemSmartcard": frozenset({Role.PORTAL}),
        "/zorgid.v1.SmartcardService/ListSmartcards": frozenset({Role.PORTAL}),
        "/zorgid.v1.SmartcardService/RevokeSmartcard": frozenset({Role.PORTAL, Role.OPERATOR}),
        "/zorgid.v1.SmartcardService/ReplaceSmartcard": frozenset({Role.PORTAL}),
        # Protocol plumbing open to any verified client certificate.
        **dict.fromkeys(HEALTH_METHODS, ANY_AUTHENTICATED),
        **dict.fromkeys(REFLECTION_METHODS, ANY_AUTHENTICATED),
    }
)
"""Full method name (``/package.Service/Method``) -> who may call it."""


@dataclass(frozen=True, kw_only=True)
class CertificateFacts:
    """The parts of a verified client certificate that role rules and logs look at."""

    subject: str
    """RFC 4514 string of the subject, for messages and the audit log."""
    common_names: tuple[str, ...]
    organizational_units: tuple[str, ...]
    organizations: tuple[str, ...]
    san_uris: tuple[str, ...]
    san_dns: tuple[str, ...]
    serial_hex: str
    sha256_hex: str
    """SHA-256 of the DER certificate: a stable identity for handles bound to a caller."""

    @classmethod
    def from_certificate(cls, cert: x509.Certificate) -> CertificateFacts:
        def attrs(oid: x509.ObjectIdentifier) -> tuple[str, ...]:
            return tuple(str(a.value) for a in cert.subject.get_attributes_for_oid(oid))

        try:
            san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
            uris = tuple(san.get_values_for_type(x509.UniformResourceIdentifier))
            dns = tuple(san.get_values_for_type(x509.DNSName))
        except x509.ExtensionNotFound:
            uris, dns = (), ()
        der = cert.public_bytes(serialization.Encoding.DER)
        return cls(
            subject=cert.subject.rfc4514_string(),
            common_names=attrs(NameOID.COMMON_NAME),
            organizational_units=attrs(NameOID.ORGANIZATIONAL_UNIT_NAME),
            organizations=attrs(NameOID.ORGANIZATION_NAME),
            san_uris=uris,
            san_dns=dns,
            serial_hex=format(cert.serial_number, "x"),
            sha256_hex=hashlib.sha256(der).hexdigest(),
        )


def facts_from_pem(pem: bytes) -> CertificateFacts:
    """The facts of a PEM certificate (the interceptor keeps one caller per certificate)."""
    return CertificateFacts.from_certificate(x509.load_pem_x509_certificate(pem))


def _rule_matches(rule: RoleRule, facts: CertificateFacts) -> bool:
    checks = {
        "subject_cn": facts.common_names,
        "subject_ou": facts.organizational_units,
        "subject_o": facts.organizations,
        "san_uri": facts.san_uris,
        "san_dns": facts.san_dns,
    }
    return all(value in checks[key] for key, value in rule.conditions().items())


@dataclass(frozen=True)
class RoleMapper:
    """Applies the ``[[roles.rule]]`` rules: the union of the roles of every matching rule."""

    rules: tuple[RoleRule, ...]

    def roles_for(self, facts: CertificateFacts) -> frozenset[Role]:
        return frozenset(rule.role for rule in self.rules if _rule_matches(rule, facts))


@dataclass(frozen=True, kw_only=True)
class Caller:
    """The authenticated caller of the current RPC.

    ``identity`` is what binds engine-issued handles (UZI sessions, login
    sessions) to a portal: the SHA-256 of its certificate, or a fixed name for
    the development plaintext listener.
    """

    identity: str
    subject: str
    roles: frozenset[Role]
    certificate: CertificateFacts | None

    def describe(self) -> str:
        """Who this is, for refusals and logs (no secrets: certificate names only)."""
        roles = ", ".join(sorted(self.roles)) or "none"
        serial = f", serial {self.certificate.serial_hex}" if self.certificate else ""
        return f"'{self.subject}'{serial} (roles: {roles})"

    def may_call(self, access: Access) -> bool:
        if isinstance(access, AnyAuthenticated):
            return True
        return bool(self.roles & access)


_CURRENT: contextvars.ContextVar[Caller] = contextvars.ContextVar("zorgid_caller")


def current_caller() -> Caller:
    """The caller of the RPC being served on this thread (set by the interceptor).

    Servicers use it to bind handles to the calling portal. Raises
    LookupError outside an RPC, which is a programming error.
    """
    return _CURRENT.get()


def _set_caller(caller: Caller) -> contextvars.Token[Caller]:
    return _CURRENT.set(caller)


def _reset_caller(token: contextvars.Token[Caller]) -> None:
    _CURRENT.reset(token)


def describe_access(access: Access) -> str:
    if isinstance(access, AnyAuthenticated):
        return "any authenticated caller"
    return ", ".join(sorted(access)) or "nobody"


def missing_methods(methods: Iterable[str], table: Mapping[str, Access]) -> list[str]:
    """Methods that have no entry in ``table`` (and so are refused for everyone)."""
    return sorted(m for m in methods if m not in table)
