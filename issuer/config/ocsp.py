"""``[ocsp]``: the OCSP responder and CRL front over HTTP (``zorgid ocsp serve``)."""

from __future__ import annotations

from dataclasses import dataclass, field

from issuer.config.base import doc, parse_listen
from policies.urls import check_public_url


@dataclass(frozen=True, kw_only=True)
class OcspConfig:
    """The OCSP responder and CRL distribution over HTTP (``[ocsp]``, ``zorgid ocsp serve``).

    Timings (response validity, refresh point, CRL nextUpdate, nonce) are policy
    (``[ocsp]`` of the issuance policy), not configuration: they are part of the CPS.
    """

    listen: str = field(
        default="127.0.0.1:8080",
        metadata=doc(
            "Address the HTTP responder binds, host:port. The dev policy's URLs name "
            "http://127.0.0.1:8080; see public_url.",
        ),
    )
    public_url: str = field(
        default="",
        metadata=doc(
            "Base URL relying parties reach this HTTP front at, http://host[:port]. Every URL "
            "in a certificate (AIA OCSP and caIssuers, CRL DP, CPS) is this base plus the path "
            "the policy's URL names, and the front serves exactly those paths. Empty: the "
            "policy's URLs as written. zorgid dev sets it from the actual --ocsp-listen.",
            why="The policy fixes the paths (they are part of the CPS); where the front is "
            "reached is deployment. One base: a certificate never names an address nobody "
            "serves.",
        ),
    )
    processes: int = field(
        default=1,
        metadata=doc(
            "Responder processes sharing the port (SO_REUSEPORT).",
            unit="processes",
            why="1..64. One Python process uses one core; HSM calls are serialised per process.",
        ),
    )
    cache_seconds: float = field(
        default=5.0,
        metadata=doc(
            "How long a responder serves a response from memory before reading the store "
            "again, when it cannot read the store's change feed (see keep_seconds). 0: "
            "nothing is kept, every request reads the store.",
            unit="seconds",
            why="0..300. Bounds how late a revocation signed on another node is served here "
            "whatever happens; while the feed is read it is about a second.",
        ),
    )
    keep_seconds: float = field(
        default=60.0,
        metadata=doc(
            "How long a responder keeps a response in memory while it reads the store's "
            "change feed every second (which ends the kept responses of any certificate "
            "whose response changed: a revocation, a refresh). 0: no feed, responses are "
            "kept cache_seconds.",
            unit="seconds",
            why="0, or cache_seconds..3600. With 10,000 certificates asked for at random, "
            "5 s left a large share of requests store reads and half the throughput; 60 s "
            "about 1 % (bench/NOTES.md, issue 23). The bound on a revocation if its "
            "response's write took over 5 s between its status read and its commit (the "
            "feed looks 5 s back).",
        ),
    )
    repeat_log_sample: int = field(
        default=100,
        metadata=doc(
            "Of the GET answers a responder sends again from memory (the same request, "
            "answered within cache_seconds), one in this many gets an access line, with "
            "sample=N on it; every other request gets its own line. 1: every request.",
            unit="requests",
            why="1..1000000. A repeat is the cheapest answer there is; its line cost more "
            "than the answer (issue 23). Every answer is still counted in the metrics "
            "(zorgid_ocsp_responses_total), and errors, POSTs, misses, CRLs and probes are "
            "logged each.",
        ),
    )
    max_on_demand: int = field(
        default=4,
        metadata=doc(
            "On-demand signatures (nonce echo, several CertIDs, a missing or stale stored "
            "response) in flight per process; beyond it: the pre-signed answer or tryLater.",
            unit="signatures",
            why="1..64. Stops request floods from queueing on the HSM.",
        ),
    )
    max_certids: int = field(
        default=10,
        metadata=doc(
            "Most CertIDs one OCSP request may carry; more is answered malformedRequest "
            "before any lookup or signature.",
            unit="CertIDs",
            why="1..100. RFC 5019 section 2.1.1 clients send one; the cap bounds what one "
            "request costs (a request of 110 CertIDs was signed whole, issue 16).",
        ),
    )
    sign_rate: float = field(
        default=20.0,
        metadata=doc(
            "On-demand signatures a second per process (token bucket, refilled at this "
            "rate). Over it: a single-certificate request gets the pre-signed response "
            "(a nonce request without its nonce, RFC 8954 section 2.1), others tryLater. "
            "0 turns on-demand signing off. Never-issued serials are never signed "
            "(unauthorized), whatever the rate.",
            unit="signatures/second",
            why="0..10000. The HSM is shared with issuance (one lock a process): the rate "
            "bounds the HSM time anyone outside can take (docs/decisions/ocsp.md). Per "
            "process: the node's bound is processes x sign_rate.",
        ),
    )
    sign_burst: int = field(
        default=40,
        metadata=doc(
            "Size of the sign_rate bucket: on-demand signatures allowed at once after a "
            "quiet spell.",
            unit="signatures",
            why="1..100000. Lets a short burst of nonce requests be answered with their "
            "nonce; any window of t seconds has at most sign_burst + sign_rate x t.",
        ),
    )
    refresh_interval_seconds: float = field(
        default=60.0,
        metadata=doc(
            "How often the background worker looks for responses and CRLs due for re-signing.",
            unit="seconds",
            why="1..3600; 0 turns the worker off (run zorgid ocsp refresh from cron instead).",
        ),
    )
    responder_renew_before_days: int = field(
        default=10,
        metadata=doc(
            "The background worker renews the OCSP responder certificate (same key, signed "
            "by the issuing CA key) when fewer days than this are left of it; 0: never "
            "(zorgid ca renew-ocsp --if-due from cron instead).",
            unit="days",
            why="0..365. 10 is a third of the dev responder's 30 days: ten days of passes "
            "to succeed before OCSP clients refuse responses (docs/ca-lifecycle.md).",
        ),
    )

    def problems(self) -> list[str]:
        found: list[str] = []
        try:
            parse_listen(self.listen)
        except ValueError as exc:
            found.append(f"listen: {exc}")
        if self.public_url and (wrong := check_public_url(self.public_url)) is not None:
            found.append(f"public_url: {wrong}")
        if not 1 <= self.processes <= 64:
            found.append(f"processes: got {self.processes}, expected 1..64")
        if not 0 <= self.cache_seconds <= 300:
            found.append(f"cache_seconds: got {self.cache_seconds}, expected 0..300")
        if self.keep_seconds != 0 and not self.cache_seconds <= self.keep_seconds <= 3600:
            found.append(
                f"keep_seconds: got {self.keep_seconds}, expected 0 or "
                f"cache_seconds ({self.cache_seconds})..3600"
            )
        if not 1 <= self.repeat_log_sample <= 1_000_000:
            found.append(f"repeat_log_sample: got {self.repeat_log_sample}, expected 1..1000000")
        if not 1 <= self.max_on_demand <= 64:
            found.append(f"max_on_demand: got {self.max_on_demand}, expected 1..64")
        if not 1 <= self.max_certids <= 100:
            found.append(f"max_certids: got {self.max_certids}, expected 1..100")
        if not 0 <= self.sign_rate <= 10_000:
            found.append(f"sign_rate: got {self.sign_rate}, expected 0..10000")
        if not 1 <= self.sign_burst <= 100_000:
            found.append(f"sign_burst: got {self.sign_burst}, expected 1..100000")
        if not (self.refresh_interval_seconds == 0 or 1 <= self.refresh_interval_seconds <= 3600):
            found.append(
                f"refresh_interval_seconds: got {self.refresh_interval_seconds}, expected 0 or "
                "1..3600"
            )
        if not 0 <= self.responder_renew_before_days <= 365:
            found.append(
                f"responder_renew_before_days: got {self.responder_renew_before_days}, "
                "expected 0..365"
            )
        return found
