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

    def problems(self) -> list[str]:
        if not self.listen:
            return []
        try:
            parse_listen(self.listen)
        except ValueError as exc:
            return [f"listen: {exc}"]
        return []
