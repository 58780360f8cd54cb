"""The URLs a certificate names, on the engine's public base URL (issue 18).

The policy fixes the *paths* relying parties fetch (OCSP, caIssuers, CRL DP,
CPS): they are part of the CPS. Where the HTTP front is reached (scheme, host,
port) is deployment, the config's ``[ocsp] public_url``: :func:`at_public_url`
puts every policy URL on that one base, so a certificate never names an address
nobody serves. The HTTP front serves exactly :func:`served_paths`, and after an
issuing-CA rollover those of every generation (:func:`for_generation`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

from policies.schema import CardCertificatePolicy, CertificatePolicy, Policy, ProfilePolicy


def check_public_url(value: str) -> str | None:
    """What is wrong with a public base URL (``http://host[:port]``), or ``None``.

    Plain ``http``: RFC 5280 §4.2.2.1/§4.2.1.13 and RFC 5019 §5 (no TLS chicken-and-egg).
    No path, query or credentials: the paths are the policy's.
    """
    parts = urlsplit(value)
    try:
        parts.port  # noqa: B018 (raises on a bad port)
    except ValueError:
        return f"got {value!r}, expected a port 0..65535"
    if (
        parts.scheme != "http"
        or not parts.hostname
        or parts.username
        or parts.password
        or parts.path not in ("", "/")
        or parts.query
        or parts.fragment
        or not value.isascii()
        or any(c.isspace() for c in value)
    ):
        return f"got {value!r}, expected http://host[:port] with no path"
    return None


def _rebase(url: str, base: str) -> str:
    """*url*'s path (and query) on *base*'s scheme and authority."""
    target = urlsplit(base)
    parts = urlsplit(url)
    return urlunsplit((target.scheme, target.netloc, parts.path or "/", parts.query, ""))


def at_public_url(policy: Policy, base: str) -> Policy:
    """*policy* with every certificate URL on *base*; empty *base*: the URLs as written."""
    if not base:
        return policy
    profile = policy.profile

    def cps(policies: tuple[CertificatePolicy, ...]) -> tuple[CertificatePolicy, ...]:
        return tuple(
            dataclasses.replace(cp, cps_uri=_rebase(cp.cps_uri, base) if cp.cps_uri else None)
            for cp in policies
        )

    rebased = dataclasses.replace(
        profile,
        ocsp_url=_rebase(profile.ocsp_url, base),
        ca_issuers_url=_rebase(profile.ca_issuers_url, base),
        crl_url=_rebase(profile.crl_url, base),
        certificate_policies=cps(profile.certificate_policies),
    )
    # The smartcard's certificates name their own CPS pointers: on the same base.
    card = policy.smartcard
    cards = {
        name: dataclasses.replace(found, certificate_policies=cps(found.certificate_policies))
        for name in ("authentication", "signature", "encryption")
        if (found := getattr(card, name)) is not None
    }
    smartcard = dataclasses.replace(card, **cards)
    return dataclasses.replace(policy, profile=rebased, smartcard=smartcard)


def generation_url(url: str, generation: int) -> str:
    """*url* for issuing CA *generation*: ``-g<n>`` before the last segment's extension
    (``/crl/issuing-ca.crl`` -> ``/crl/issuing-ca-g2.crl``; no extension: appended).
    Generation 1, the ceremony's, keeps the URL as written."""
    if generation == 1:
        return url
    parts = urlsplit(url)
    head, slash, last = parts.path.rpartition("/")
    stem, dot, extension = last.rpartition(".")
    last = f"{stem}-g{generation}.{extension}" if dot and stem else f"{last}-g{generation}"
    return urlunsplit(parts._replace(path=head + slash + last))


def for_generation(policy: Policy, generation: int) -> Policy:
    """*policy* as issuing CA *generation* names it: its own caIssuers and CRL URLs
    (:func:`generation_url`), the shared OCSP and CPS URLs (a CertID names its CA)."""
    if generation < 1:
        raise ValueError(f"got issuing CA generation {generation}; expected 1 or more")
    if generation == 1:
        return policy
    profile = policy.profile
    return dataclasses.replace(
        policy,
        profile=dataclasses.replace(
            profile,
            ca_issuers_url=generation_url(profile.ca_issuers_url, generation),
            crl_url=generation_url(profile.crl_url, generation),
        ),
    )


@dataclass(frozen=True, kw_only=True)
class ServedPaths:
    """The URL paths of one profile's certificate URLs: what the HTTP front serves."""

    ocsp: str
    """The OCSP URL's path without its trailing ``/`` (``""`` for an OCSP URL at the root)."""
    ca_issuers: str
    crl: str
    cps: tuple[str, ...]


def served_paths(profile: ProfilePolicy) -> ServedPaths:
    """The paths of *profile*'s URLs (the CPS only where it is ``http``: the front is)."""
    return ServedPaths(
        ocsp=urlsplit(profile.ocsp_url).path.rstrip("/"),
        ca_issuers=urlsplit(profile.ca_issuers_url).path or "/",
        crl=urlsplit(profile.crl_url).path or "/",
        cps=tuple(
            dict.fromkeys(
                urlsplit(cp.cps_uri).path or "/"
                for cp in profile.certificate_policies
                if cp.cps_uri and urlsplit(cp.cps_uri).scheme == "http"
            )
        ),
    )


def cps_document(policy: Policy, generations: Sequence[int] = (1,)) -> str:
    """A short text/plain CPS page generated from *policy*: what a relying party reading
    the certificates' CPS URI needs to find (the policy OIDs, the URLs, the timings).
    *generations*: the issuing CA generations served, each with its own CRL and
    certificate URL (:func:`for_generation`), the current one last."""
    profile = policy.profile
    ocsp = policy.ocsp
    lines = [
        f"ZORG-ID certification practice statement (policy version {policy.version})",
        "",
        "Certificate policies:",
        *(f"  {cp.oid}" for cp in profile.certificate_policies),
        "",
        f"Certificates: valid {profile.validity_days} days, signed with "
        f"{profile.signature_hash.upper()}; key usage digitalSignature, extended key usage "
        "clientAuth.",
        f"OCSP: {profile.ocsp_url} (GET <url>/<base64 request> or POST), responses valid "
        f"{ocsp.response_validity_seconds} seconds.",
        f"CRLs: next update within {ocsp.crl_next_update_seconds} seconds.",
    ]
    card = policy.smartcard
    if card.enabled:  # its certificates name this page too (docs/smartcard.md)
        lines += ["", f"ZORG-ID smartcard (layout {card.card_type}), certificate policies:"]
        for name in ("authentication", "signature", "encryption"):
            issued: CardCertificatePolicy | None = getattr(card, name)
            if issued is not None:
                lines += [f"  {cp.oid} ({name})" for cp in issued.certificate_policies]
    for n in generations:
        own = for_generation(policy, n).profile
        current = " (current)" if n == generations[-1] and len(generations) > 1 else ""
        lines += [
            f"Issuing CA generation {n}{current}: certificate {own.ca_issuers_url}, "
            f"CRL {own.crl_url}",
        ]
    lines.append("")
    return "\n".join(lines)
