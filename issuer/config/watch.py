"""``[uzi_watch]``: the UZI-pas watch's schedule, its limit for a missing CRL and what then."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

from issuer.config.base import doc


class WhenUnavailable(enum.StrEnum):
    """What the watch does to the mobile IDs of cards whose register CRL is missing too long."""

    REPORT = "report"
    SUSPEND = "suspend"


@dataclass(frozen=True, kw_only=True)
class UziWatchConfig:
    """The UZI-pas watch (``[uzi_watch]``): mobile IDs follow their card's revocation.

    See docs/uzi.md, "The UZI-pas watch".
    """

    enabled: bool = field(
        default=True,
        metadata=doc(
            "Run the watch in the server: read the UZI-register CRLs of the cards that good "
            "mobile IDs were issued on, and revoke the mobile IDs of a revoked card. Off: run "
            "`zorgid uzi watch --once` from cron instead.",
            why="A mobile ID is worth what its UZI-pas is worth; a revoked card must not leave "
            "its mobile IDs valid.",
        ),
    )
    interval_seconds: float = field(
        default=3600.0,
        metadata=doc(
            "How often each CRL is read again; never later than the CRL's nextUpdate.",
            unit="seconds",
            why="60..86400. Bounds how long a mobile ID stays good after its card appears "
            "on a CRL. The UZI-register publishes about daily.",
        ),
    )
    unavailable_limit_seconds: float = field(
        default=86400.0,
        metadata=doc(
            "How long a card's CRL may be not current (past its nextUpdate, or never fetched) "
            "before it is reported: an error in the log, an audit event "
            "uzi.watch.crl_unavailable, and `zorgid uzi watch status`. What happens to the "
            "mobile IDs of its cards is when_unavailable.",
            unit="seconds",
            why="3600..604800. A register outage must be seen by the operator; the UZI-register "
            "publishes about daily, so a day past nextUpdate is an outage, not a slow server.",
        ),
    )
    when_unavailable: WhenUnavailable = field(
        default=WhenUnavailable.REPORT,
        metadata=doc(
            "What is done to the mobile IDs of the cards under a CRL unavailable longer than "
            'unavailable_limit_seconds. "report": nothing, the report only. "suspend": they '
            "are put on hold (RFC 5280 certificateHold: OCSP answers revoked, the engine's CRL "
            "lists them) and released (good again) when the CRL verifies again without the "
            "card; a card then found revoked makes them privilegeWithdrawn.",
            why='"report" by default: a register outage must not lock every professional of a '
            "CA out of care systems at once, and a card revoked meanwhile is caught when the "
            'CRL comes back. "suspend" is for relying parties that demand fail-closed.',
        ),
    )

    def problems(self) -> list[str]:
        found = []
        if not 60 <= self.interval_seconds <= 86400:
            found.append(f"interval_seconds: got {self.interval_seconds}, expected 60..86400")
        if not 3600 <= self.unavailable_limit_seconds <= 604800:
            found.append(
                f"unavailable_limit_seconds: got {self.unavailable_limit_seconds}, "
                "expected 3600..604800"
            )
        return found
