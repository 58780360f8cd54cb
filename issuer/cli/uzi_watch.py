"""``zorgid uzi watch --once`` (cron) and ``zorgid uzi watch status``: the UZI-pas watch.

``--once`` runs one pass of :class:`issuer.uzi_watch.UziWatch` (the CRLs due;
``--force``: all of them now) and prints what it did as JSON; it opens the
HSM only when a card turns out revoked or a hold changes. ``status`` reads the
watch's state from the database (no HSM): the ``when_unavailable`` mode, the
certificates on hold, and per CRL the last and next fetch, the CRL number in
force, the last error, and the revocations it caused. Exit 0; 1 when a CRL
failed (``--once``) or is unavailable for longer than the limit (both).
"""

from __future__ import annotations

import argparse
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    watch = sub.add_parser(
        "watch",
        help="revoke the mobile IDs of revoked UZI-passes (one pass, or its status)",
        description="One pass of the UZI-pas watch (--once, for cron) or its state (status). "
        "See docs/uzi.md, 'The UZI-pas watch'.",
    )
    watch.add_argument("action", nargs="?", choices=["status"], help="show the watch's state")
    watch.add_argument("--once", action="store_true", help="run one pass now")
    watch.add_argument("--force", action="store_true", help="with --once: read every CRL now")
    watch.add_argument("--config", required=True, type=Path, help="the engine's TOML config")
    watch.add_argument(
        "--trust",
        metavar="prod|acc|DIR",
        help="trust set the CRLs must verify under (default: the policy in force's)",
    )
    watch.set_defaults(func=run_watch)


def _iso(at: datetime | None) -> str | None:
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if at is not None else None


def run_watch(args: argparse.Namespace) -> int:
    from issuer.cli.failures import CliFailure, Exit
    from issuer.config import load_config

    if (args.action == "status") == bool(args.once):
        raise CliFailure(Exit.USAGE, "give exactly one of --once or status")
    config = load_config(args.config)
    try:
        if args.once:
            return _once(config, args)
        return _status(config)
    except ValueError as exc:  # --trust that names no trust set
        raise CliFailure(Exit.USAGE, str(exc)) from None


def _once(config: Any, args: argparse.Namespace) -> int:
    from issuer.cli.progress import progress
    from issuer.uzi.trust import load_trust_set
    from issuer.wiring import issuance_runtime, uzi_watch

    runtime = issuance_runtime(config)
    trust = (lambda: load_trust_set(args.trust)) if args.trust else None
    with progress("UZI-pas watch: reading the CRLs due"):
        report = uzi_watch(config, runtime, trust=trust).run_once(force=args.force)
    print(
        json.dumps(
            {
                "cards_watched": report.cards,
                "crls_read": report.fetched,
                "crls_failed": report.failed,
                "revoked": report.revoked,
                "held": report.held,
                "released": report.released,
                "unavailable": report.unavailable,
                "next_fetch": _iso(report.next_due),
            },
            indent=2,
            sort_keys=True,
        )
    )
    return 1 if report.failed or report.unavailable else 0


def _status(config: Any) -> int:
    from issuer.store import create_engine_for
    from issuer.store.transactions import read_transaction
    from issuer.store.uzi_watch import count_held, crl_states, watched_cards

    now = datetime.now(UTC)
    limit = timedelta(seconds=config.uzi_watch.unavailable_limit_seconds)
    engine = create_engine_for(config.database.url)
    try:
        with read_transaction(engine) as conn:
            cards = watched_cards(conn, at=now)
            states = crl_states(conn)
            held = count_held(conn, at=now)
    finally:
        engine.dispose()
    crls = []
    late = False
    for s in states:
        since = s.next_update if s.last_success_at else s.first_watched_at
        unavailable = since is not None and now - since > limit
        late = late or unavailable
        crls.append(
            {
                "url": s.url,
                "last_fetch": _iso(s.last_fetch_at),
                "last_success": _iso(s.last_success_at),
                "next_fetch": _iso(s.next_fetch_at),
                "crl_number": s.crl_number,
                "this_update": _iso(s.this_update),
                "next_update": _iso(s.next_update),
                "last_error": s.last_error,
                "unavailable_too_long": unavailable,
                "revocations": s.revocations,
            }
        )
    fetches = [s.last_fetch_at for s in states if s.last_fetch_at is not None]
    due = [s.next_fetch_at for s in states if s.next_fetch_at is not None]
    print(
        json.dumps(
            {
                "cards_watched": len(cards),
                "when_unavailable": str(config.uzi_watch.when_unavailable),
                "held": held,
                "last_fetch": _iso(max(fetches, default=None)),
                "next_fetch": _iso(min(due, default=None)),
                "revocations": sum(s.revocations for s in states),
                "crls": crls,
            },
            indent=2,
            sort_keys=True,
        )
    )
    return 1 if late else 0
