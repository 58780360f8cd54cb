"""``[uzi_watch]``: the UZI-pas watch's schedule and its limit for a missing CRL (issue 18)."""

from __future__ import annotations

from dataclasses import dataclass, field

from issuer.config.base import doc


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
            "uzi.watch.crl_unavailable, and `zorgid uzi watch status`. The mobile IDs of its "
            "cards are left alone (docs/uzi.md says why).",
            unit="seconds",
            why="3600..604800. A register outage must be seen by the operator; suspending "
            "every mobile ID of a CA for it would stop care, and revocation here is final.",
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
