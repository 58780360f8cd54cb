"""``[metrics]``: where the engine serves its Prometheus metrics, if anywhere."""

from __future__ import annotations

from dataclasses import dataclass, field

from issuer.config.base import doc, parse_listen


@dataclass(frozen=True, kw_only=True)
class MetricsConfig:
    """Prometheus exposition (``[metrics]``): see docs/decisions/metrics.md."""

    listen: str = field(
        default="",
        metadata=doc(
            "Address the metrics HTTP endpoint (GET /metrics, Prometheus text format) of "
            "zorgid serve binds, host:port or [v6]:port; port 0 picks a free port. Empty: no "
            "metrics endpoint. zorgid dev serves it on loopback. With [server] processes > 1 "
            "only the first process's calls are counted.",
            why="Its own address, apart from the gRPC listener: the scraper needs no client "
            "certificate and reaches nothing else. It is plain HTTP without authentication; "
            "the metrics hold no serial, name or other identity, but bind it to loopback or a "
            "monitoring network only.",
        ),
    )

    ocsp_listen: str = field(
        default="",
        metadata=doc(
            "Address the metrics endpoint of zorgid ocsp serve (the standalone responder) "
            "binds, as listen. Empty: none. With [ocsp] processes > 1 only the first "
            "process's answers are counted.",
            why="Its own key: the responder is a process of its own, often on the same host "
            "as zorgid serve, and two processes cannot bind one address.",
        ),
    )

    def problems(self) -> list[str]:
        found: list[str] = []
        for key in ("listen", "ocsp_listen"):
            value = getattr(self, key)
            if not value:
                continue
            try:
                parse_listen(value)
            except ValueError as exc:
                found.append(f"{key}: {exc}")
        if self.listen and self.listen == self.ocsp_listen and not self.listen.endswith(":0"):
            found.append("ocsp_listen: the same address as listen; choose another port")
        return found
