"""A test UZI-register written to a folder, for trying ``zorgid uzi inspect`` by hand.

Run as ``python -m testkit.uzi_world OUT`` (or ``python -m testkit.register_files OUT``).
"""

from __future__ import annotations

import argparse
from datetime import UTC, datetime
from pathlib import Path

from cryptography.hazmat.primitives.serialization import Encoding

from testkit.uzi_world import Kind, UziWorld

__all__ = ["main"]


def main(argv: list[str] | None = None) -> int:
    """Write a test UZI-register to a folder: ``python -m testkit.uzi_world OUT``.

    ``OUT/trust`` (a trust-set folder), ``OUT/crls`` (current CRLs, for
    ``zorgid uzi inspect --crl``), ``OUT/cards`` (Z and N cards, PEM chains)
    and ``OUT/broken`` (one file per broken condition).
    """
    parser = argparse.ArgumentParser(prog="python -m testkit.uzi_world")
    parser.add_argument("out", type=Path)
    parser.add_argument("--now", help="ISO-8601 moment the world is made at (default now)")
    parser.add_argument("--crl-base-url", default="http://127.0.0.1:8089/")
    args = parser.parse_args(argv)
    now = datetime.fromisoformat(args.now) if args.now else datetime.now(UTC)
    world = UziWorld(now=now, base_url=args.crl_base_url)
    foreign = UziWorld(now=now, base_url=args.crl_base_url + "foreign/", prefix="OTHER")
    world.write_trust_set(args.out / "trust")
    world.write_broken_cards(args.out / "broken", foreign=foreign)
    (args.out / "cards").mkdir(parents=True, exist_ok=True)
    for card_type in ("Z", "N"):
        card = world.issue_card(card_type)
        for kind in Kind:
            cert = {
                Kind.AUTHENTICATION: card.auth,
                Kind.SIGNATURE: card.signature,
                Kind.ENCRYPTION: card.encryption,
            }[kind]
            (args.out / "cards" / f"{card_type}-{kind.value}.pem").write_bytes(
                b"".join(c.public_bytes(Encoding.PEM) for c in (cert, *card.chain))
            )
    (args.out / "crls").mkdir(parents=True, exist_ok=True)
    for path, der in world.crls().items():
        (args.out / "crls" / path).write_bytes(der)
    print(f"test UZI-register written to {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
