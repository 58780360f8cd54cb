"""``[server]``: the gRPC listener, its threads, processes and shutdown, and the claim lease."""

from __future__ import annotations

from dataclasses import dataclass, field

from issuer.config.base import Role, doc, is_loopback, parse_listen


@dataclass(frozen=True, kw_only=True)
class ServerConfig:
    """The gRPC listener (``[server]``)."""

    listen: str = field(
        default="127.0.0.1:50051",
        metadata=doc(
            "Address the gRPC server binds, as host:port or [v6]:port. Port 0 picks a free port.",
        ),
    )
    dev_plaintext: bool = field(
        default=False,
        metadata=doc(
            "Serve without TLS for local development. Callers then have no certificate; they get "
            "the roles in dev_roles.",
            why="Allowed only when listen is a loopback address: a plaintext listener reachable "
            "from the network would let anyone act as any role (ARCHITECTURE section 8).",
        ),
    )
    dev_roles: tuple[Role, ...] = field(
        default=(),
        metadata=doc(
            "Roles given to every caller of the plaintext development listener.",
            why="Only with dev_plaintext; empty means only health and reflection answer.",
        ),
    )
    max_message_bytes: int = field(
        default=4 * 1024 * 1024,
        metadata=doc(
            "Largest request or response message accepted.",
            unit="bytes",
            why="1 KiB..64 MiB. The largest legitimate message is a certificate chain or a CSR "
            "(a few KiB); a bound stops memory exhaustion by oversize messages.",
        ),
    )
    workers: int = field(
        default=8,
        metadata=doc(
            "Threads serving calls concurrently (the gRPC thread pool).",
            unit="threads",
            why="1..256. HSM calls are serialised per process, so more threads add little; use "
            "more processes for more cores.",
        ),
    )
    shutdown_grace_seconds: float = field(
        default=5.0,
        metadata=doc(
            "On SIGTERM/SIGINT, how long running calls may finish before they are cancelled.",
            unit="seconds",
            why="0..300.",
        ),
    )
    claim_lease_seconds: float = field(
        default=30.0,
        metadata=doc(
            "How long a redeemed registration QR's claim without a certificate belongs to the "
            "call that made it; after it a retry with the same CSR takes the claim over "
            "(a winner that died, e.g. with its node).",
            unit="seconds",
            why="1..3600. Well above one issuance (milliseconds), so only a dead winner loses "
            "it; a slow winner overtaken stores nothing (docs/issuance-cycle.md). Shorter: a "
            "phone whose node died gets its certificate sooner (the two-node test: 5).",
        ),
    )
    processes: int = field(
        default=1,
        metadata=doc(
            "Server processes sharing the listen port (SO_REUSEPORT; the kernel spreads "
            "connections), each with its own HSM login and database pool. On PostgreSQL a "
            "process opens up to 28 connections (20 pooled, 8 kept for reads): keep "
            "processes x 28, plus the OCSP responders', under the server's max_connections.",
            unit="processes",
            why="1..64. One Python process uses about one core. 2 processes on 2 cores: "
            "+20-27% certificates/s on PostgreSQL, +25-33% on SQLite, whose writers of all "
            "processes queue on one lock file (docs/decisions/issuance.md).",
        ),
    )

    def problems(self) -> list[str]:
        found: list[str] = []
        try:
            host, _ = parse_listen(self.listen)
        except ValueError as exc:
            found.append(f"listen: {exc}")
        else:
            if self.dev_plaintext and not is_loopback(host):
                found.append(
                    f"dev_plaintext: refused because listen host {host!r} is not a loopback "
                    "address; use 127.0.0.1, ::1 or localhost, or set dev_plaintext = false"
                )
        if self.dev_roles and not self.dev_plaintext:
            found.append("dev_roles: only allowed with dev_plaintext = true; remove it")
        if not 1024 <= self.max_message_bytes <= 64 * 1024 * 1024:
            found.append(
                f"max_message_bytes: got {self.max_message_bytes}, expected 1024..67108864"
            )
        if not 1 <= self.workers <= 256:
            found.append(f"workers: got {self.workers}, expected 1..256")
        if not 0 <= self.shutdown_grace_seconds <= 300:
            found.append(
                f"shutdown_grace_seconds: got {self.shutdown_grace_seconds}, expected 0..300"
            )
        if not 1 <= self.claim_lease_seconds <= 3600:
            found.append(f"claim_lease_seconds: got {self.claim_lease_seconds}, expected 1..3600")
        if not 1 <= self.processes <= 64:
            found.append(f"processes: got {self.processes}, expected 1..64")
        return found
