"""A test UZI-register for the development environment, so ``zorgid demo`` has cards to prove.

The engine only accepts UZI-pas proofs that chain to its policy's trust set;
``make run`` must work without a real card, and the packaged trust sets
(``prod``, ``acc``) are never weakened. So the first ``zorgid dev`` start
makes a test register (:class:`testkit.uzi_world.UziWorld`) under
``<root>/uzi/``: its CA certificates as a trust-set folder (``trust/``) and --
because ``zorgid demo`` runs later, in another process, and must issue cards
for keys it makes on its own token -- the register's CA keys in ``private/``
(mode 0600; simulated outside world, development only). The development
policy written beside it (``<root>/policy/dev.toml``) is the packaged one with
that folder as its trust set and a 30-second login QR (the schema's minimum),
so the demo shows an expired QR in half a minute instead of five; the
packaged, acceptance and production policies keep the manual's 5 minutes.

Revocation stays ``soft`` (as in the packaged development policy): the test
register's CRL URLs are not served in development.
"""

from __future__ import annotations

import json
import secrets
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import Final

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from testkit.uzi_world import TestCa, UziWorld

CRL_BASE_URL: Final = "http://127.0.0.1:8089/uzi-test/"
LOGIN_SECONDS: Final = 30


def uzi_dir(root: Path) -> Path:
    return root / "uzi"


def policy_file(root: Path) -> Path:
    return root / "policy" / "dev.toml"


def _cas(world: UziWorld) -> dict[str, TestCa]:
    return {
        "root": world.root,
        "level2": world.level2,
        **{f"issuing-{t}": c for t, c in world.cas.items()},
    }


def ensure_demo_world(root: Path) -> tuple[Path, bool]:
    """Make ``<root>/uzi`` and ``<root>/policy/dev.toml`` if missing; ``(policy, made)``."""
    folder = uzi_dir(root)
    policy = policy_file(root)
    if (folder / "world.json").exists() and policy.exists():
        return policy, False
    world = UziWorld(now=datetime.now(UTC), base_url=CRL_BASE_URL)
    trust = world.write_trust_set(folder / "trust")
    private = folder / "private"
    private.mkdir(parents=True, exist_ok=True)
    private.chmod(0o700)
    index = {}
    for name, ca in _cas(world).items():
        key_path = private / f"{name}.key"
        key_path.write_bytes(
            ca.key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
        key_path.chmod(0o600)
        (private / f"{name}.pem").write_bytes(ca.pem)
        index[name] = ca.crl_path
    (folder / "world.json").write_text(
        json.dumps({"base_url": CRL_BASE_URL, "prefix": world.prefix, "cas": index}, indent=2)
    )
    text = resources.files("policies").joinpath("default.toml").read_text(encoding="utf-8")
    text = text.replace('trust_set = "acc"', f'trust_set = "{trust}"', 1)
    text = text.replace("login_seconds = 300 ", f"login_seconds = {LOGIN_SECONDS}  ", 1)
    text = text.replace('version = "dev-1"', 'version = "dev-1-uzitest"', 1)
    if f'trust_set = "{trust}"' not in text or f"login_seconds = {LOGIN_SECONDS}" not in text:
        raise RuntimeError("policies/default.toml changed shape; update issuer/dev/demo_world.py")
    policy.parent.mkdir(parents=True, exist_ok=True)
    policy.write_text(
        "# Written by `zorgid dev` (issuer/dev/demo_world.py): the packaged development policy\n"
        f"# with the test UZI-register in {trust} as trust set and a {LOGIN_SECONDS}-second\n"
        "# login QR so `zorgid demo` shows an expired QR quickly. Development only.\n" + text
    )
    return policy, True


def load_demo_world(root: Path) -> UziWorld:
    """The register made by :func:`ensure_demo_world`, able to issue new cards.

    Rebuilt without ``UziWorld.__init__`` (which would make new CAs): the CA
    keys and certificates come from ``private/``; serials and UZI numbers
    start at random points so cards of several demo runs never collide.
    """
    folder = uzi_dir(root)
    index = json.loads((folder / "world.json").read_text())
    private = folder / "private"

    def ca(name: str) -> TestCa:
        key = serialization.load_pem_private_key((private / f"{name}.key").read_bytes(), None)
        if not isinstance(key, rsa.RSAPrivateKey):
            raise TypeError(f"{name}.key: expected an RSA key")
        cert = x509.load_pem_x509_certificate((private / f"{name}.pem").read_bytes())
        return TestCa(cert.subject, key, cert, index["cas"][name])

    world = UziWorld.__new__(UziWorld)
    world.now = datetime.now(UTC)
    world.base_url = str(index["base_url"]).rstrip("/")
    world.prefix = str(index["prefix"])
    world._serial = secrets.randbits(40) | (1 << 40)
    world._uzi = 900000000 + secrets.randbelow(90000000)
    world.root = ca("root")
    world.level2 = ca("level2")
    world.cas = {
        name.removeprefix("issuing-"): ca(name)
        for name in index["cas"]
        if name.startswith("issuing-")
    }
    world._shared_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    world.broken_keys = {}
    return world
