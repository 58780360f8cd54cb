"""``zorgid demo``: walk the portal manual against a running ``make run``, step by step.

Plays every outside party with the project's test doubles, each key in its own
SoftHSM token under ``<data-dir>/demo/softhsm`` (this process's own token
directory, never the engine's): the UZI-pas desktop app (``demo-uzi-pas``),
the phones (``demo-phone``), and the portal, mobile gateway and operator back
ends through their development client certificates (``<data-dir>/tls/clients``).
Cards come from the test UZI-register the development environment made
(:func:`ensure_demo_world`), which the development policy trusts.

The walk: register organisations (operator) -> register a user (terms, UZI-pas,
card data, date of birth, summary, confirm, registration QR) -> the phone
redeems it -> validate the organisation -> log in by QR -> a ZORG-ID
smartcard (manual §6) -> a second user -> UZI attributes on an existing
mobile ID -> an expired login QR -> PIN forgotten and re-enrolment ->
revocation by the holder. Every step prints what it did and the outcome;
secrets (QR tokens, session handles) are never printed, QR images are written
to ``<data-dir>/demo/qr/``. Exit 0 when the
walk reached its end, 1 with the step and catalogue code otherwise.

The test UZI-register (:func:`ensure_demo_world`, called by ``zorgid dev``):

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
It also issues ZORG-ID smartcards (``[smartcard] enabled = true``), which the
packaged policy leaves off (docs/smartcard.md, "The development policy").

Revocation stays ``soft`` (as in the packaged development policy): the test
register's CRL URLs are not served in development.

This is the one engine module that imports ``testkit`` (tests/test_architecture.py), and
only when the demo world is used: the test doubles are not installed with the engine, so
:func:`require_testkit` loads them from the checkout.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import secrets
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from issuer.errors import Code
from issuer.files import make_private_dir, write_file

if TYPE_CHECKING:
    from issuer.dev.softhsm import SoftHsmDir
    from testkit.uzi_world import TestCa, UziWorld

__all__ = [
    "dev_stubs",
    "ensure_demo_world",
    "load_demo_world",
    "open_dev_token",
    "register",
    "require_testkit",
]

CRL_BASE_URL: Final = "http://127.0.0.1:8089/uzi-test/"
LOGIN_SECONDS: Final = 30


def require_testkit() -> None:
    """Make the repository's ``testkit`` importable, or stop saying where to run from.

    The test doubles are not installed with the engine (pyproject.toml), and every
    ``zorgid`` command imports this module, so ``testkit`` is loaded only when the demo
    world is used: from the checkout, where ``testkit/`` sits beside ``issuer/``.
    """
    if "testkit" in sys.modules or importlib.util.find_spec("testkit") is not None:
        return
    home = Path(__file__).resolve().parents[2] / "testkit"
    if not (home / "__init__.py").is_file():
        raise SystemExit(
            f"zorgid: no testkit/ beside {home.parent / 'issuer'}: `zorgid dev` and `zorgid demo` "
            "use the repository's test doubles, which are not installed with the engine; "
            "run them from a checkout of the repository (make run)"
        )
    spec = importlib.util.spec_from_file_location(
        "testkit", home / "__init__.py", submodule_search_locations=[str(home)]
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["testkit"] = module
    spec.loader.exec_module(module)


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
    require_testkit()
    from testkit.uzi_world import UziWorld

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
    text = text.replace(
        "login_seconds = 300           # 5 minutes (portal manual)",
        f"login_seconds = {LOGIN_SECONDS}            # development: the manual's 5 minutes is 300",
        1,
    )
    text = text.replace('version = "dev-1"', 'version = "dev-1-uzitest"', 1)
    text = text.replace("[smartcard]\nenabled = false", "[smartcard]\nenabled = true", 1)
    if (
        f'trust_set = "{trust}"' not in text
        or f"login_seconds = {LOGIN_SECONDS}" not in text
        or "[smartcard]\nenabled = true" not in text
    ):
        raise RuntimeError("policies/default.toml changed shape; update issuer/cli/demo.py")
    policy.parent.mkdir(parents=True, exist_ok=True)
    policy.write_text(
        "# Written by `zorgid dev` (issuer/cli/demo.py): the packaged development policy\n"
        f"# with the test UZI-register in {trust} as trust set and a {LOGIN_SECONDS}-second\n"
        "# login QR so `zorgid demo` shows an expired QR quickly, and ZORG-ID smartcards\n"
        "# issued (docs/smartcard.md). Development only.\n" + text
    )
    return policy, True


def load_demo_world(root: Path) -> UziWorld:
    """The register made by :func:`ensure_demo_world`, able to issue new cards.

    Rebuilt without ``UziWorld.__init__`` (which would make new CAs): the CA
    keys and certificates come from ``private/``; serials and UZI numbers
    start at random points so cards of several demo runs never collide.
    """
    require_testkit()
    from testkit.uzi_world import TestCa, UziWorld

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


def open_dev_token(hsm_dir: Any, label: str) -> Any:
    """A token of a development SoftHSM directory (made on first use), opened through ``hsm``."""
    from issuer.dev.softhsm import SOFTHSM_MODULE
    from issuer.wiring import open_token

    if not hsm_dir.has_token(label):
        hsm_dir.init_token(label)
    pin = hsm_dir.root / f"{label}.pin"
    uri = f"pkcs11:token={label}?module-path={SOFTHSM_MODULE}&pin-source=file:{pin}"
    return open_token(uri)


def dev_stubs(pki: Any, target: str, role: str) -> Any:
    """Blocking stubs of every service over mTLS as one development role's client."""
    import grpc

    from issuer.api.zorgid.v1 import (
        attribute_pb2_grpc,
        certificate_pb2_grpc,
        enrollment_pb2_grpc,
        errors_pb2_grpc,
        login_pb2_grpc,
        organization_pb2_grpc,
        registration_pb2_grpc,
        smartcard_pb2_grpc,
        uzi_pb2_grpc,
    )

    creds = grpc.ssl_channel_credentials(
        root_certificates=pki.client_ca_cert.read_bytes(),
        private_key=pki.client_key(role).read_bytes(),
        certificate_chain=pki.client_cert(role).read_bytes(),
    )
    channel = grpc.secure_channel(target, creds)

    class Stubs:
        uzi = uzi_pb2_grpc.UziServiceStub(channel)  # type: ignore[no-untyped-call]
        reg = registration_pb2_grpc.RegistrationServiceStub(channel)  # type: ignore[no-untyped-call]
        login = login_pb2_grpc.LoginServiceStub(channel)  # type: ignore[no-untyped-call]
        org = organization_pb2_grpc.OrganizationServiceStub(channel)  # type: ignore[no-untyped-call]
        attrs = attribute_pb2_grpc.AttributeServiceStub(channel)  # type: ignore[no-untyped-call]
        enrol = enrollment_pb2_grpc.EnrollmentServiceStub(channel)  # type: ignore[no-untyped-call]
        certs = certificate_pb2_grpc.CertificateServiceStub(channel)  # type: ignore[no-untyped-call]
        smartcard = smartcard_pb2_grpc.SmartcardServiceStub(channel)  # type: ignore[no-untyped-call]
        errors = errors_pb2_grpc.ErrorCatalogueServiceStub(channel)  # type: ignore[no-untyped-call]

    return Stubs()


class DemoFailed(Exception):
    """A step did not have the outcome the manual describes."""


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "demo",
        help="walk the portal manual (register, login, organisation, attributes, PIN reset, "
        "revoke) against a running `make run`",
    )
    parser.add_argument(
        "--data-dir", default="var", help="the development environment folder (default: var)"
    )
    parser.add_argument(
        "--target", default=None, help="host:port of the engine (default: [server] listen)"
    )
    parser.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    root = Path(args.data_dir).resolve()
    from issuer.cli.failures import CliFailure, Exit

    if not (root / "zorgid.toml").exists():
        raise CliFailure(
            Exit.FILE,
            f"no development environment in {root} (no zorgid.toml)",
            "start it first with `make run`, or give its --data-dir",
        )
    try:
        Demo(root, args.target, out=print).walk()
    except DemoFailed as exc:
        print(f"FAILED: {exc}")
        return Exit.PROBLEM
    return Exit.OK


def _reason(err: Any) -> str:
    from google.rpc import error_details_pb2
    from grpc_status import rpc_status

    status = rpc_status.from_call(err)
    if status is not None:
        for detail in status.details:
            if detail.Is(error_details_pb2.ErrorInfo.DESCRIPTOR):
                info = error_details_pb2.ErrorInfo()
                detail.Unpack(info)
                return str(info.reason)
    return str(err.code().name)


class Demo:
    """The walk; one method per part of the manual."""

    def __init__(
        self,
        root: Path,
        target: str | None,
        *,
        out: Callable[[str], None],
        softhsm: SoftHsmDir | None = None,
    ) -> None:
        """``softhsm``: a token directory this process already uses (the browser tests play
        the demo's parties beside their own tokens); by default the demo's own, activated."""
        from issuer.dev.pki import DevPki
        from issuer.dev.softhsm import SoftHsmDir

        self.root = root
        self.out = out
        self.step = 0
        if target is None:
            from issuer.config import load_config

            port = load_config(root / "zorgid.toml").server.listen.rpartition(":")[2]
            target = f"localhost:{port}"
        self.target = target
        self.pki = DevPki(root=root / "tls")
        hsm_dir = softhsm
        if hsm_dir is None:
            folder = root / "demo" / "softhsm"
            hsm_dir = SoftHsmDir(folder) if folder.exists() else SoftHsmDir.create(folder)
            hsm_dir.activate()  # this process's tokens only, before PKCS#11 is loaded
        self.softhsm = hsm_dir
        self.cards_hsm = self._token(hsm_dir, "demo-uzi-pas")
        self.phones_hsm = self._token(hsm_dir, "demo-phone")
        self.world = load_demo_world(root)
        self.qr_dir = root / "demo" / "qr"
        make_private_dir(self.qr_dir)  # the registration QR holds a redeemable token
        self.run = secrets.token_hex(3)
        self.portal = self._stubs("portal")
        self.mobile = self._stubs("mobile")
        self.operator = self._stubs("operator")

    # -- plumbing ------------------------------------------------------------------------

    @staticmethod
    def _token(hsm_dir: Any, label: str) -> Any:
        return open_dev_token(hsm_dir, label)

    def _stubs(self, role: str) -> Any:
        return dev_stubs(self.pki, self.target, role)

    def say(self, title: str) -> None:
        self.step += 1
        self.out(f"[{self.step:2d}] {title}")

    def ok(self, outcome: str) -> None:
        self.out(f"     -> {outcome}")

    def call(self, what: str, fn: Callable[..., Any], request: Any) -> Any:
        import grpc

        from issuer.cli.failures import Exit, from_rpc

        try:
            return fn(request, timeout=60)
        except grpc.RpcError as err:
            failure = from_rpc(err, self.target or "")
            if failure.exit == Exit.UNREACHABLE:  # no walk to report on: the engine is away
                raise failure from None
            raise DemoFailed(f"step {self.step}: {what}: {_reason(err)} {err.details()}") from None

    def refused(self, what: str, fn: Callable[..., Any], request: Any, code: Code) -> None:
        import grpc

        try:
            fn(request, timeout=60)
        except grpc.RpcError as err:
            got = _reason(err)
            if got != code:
                raise DemoFailed(f"step {self.step}: {what}: got {got}; expected {code}") from None
            self.ok(f"refused as expected: {got} ({err.details()})")
            return
        raise DemoFailed(f"step {self.step}: {what} was accepted; expected refusal {code}")

    def card(self, *, ura: str, uzi_number: str | None = None) -> Any:
        """A UZI-pas: key made on the desktop app's token, certified by the test register."""
        from cryptography.hazmat.primitives.asymmetric import rsa

        from hsm import KeySpec
        from testkit.desktop_app import DesktopApp

        key = self.cards_hsm.generate_key(
            f"card-{self.run}-{self.step}-{secrets.token_hex(2)}", KeySpec.RSA_2048
        )
        if not isinstance(key, rsa.RSAPrivateKey):
            raise DemoFailed("the desktop app's token gave no RSA key")
        return DesktopApp(
            card=self.world.issue_card("Z", uzi_number=uzi_number, ura=ura, auth_key=key), key=key
        )

    def phone(self) -> Any:
        from testkit.phone import Phone

        return Phone.create(self.phones_hsm, f"phone-{self.run}-{secrets.token_hex(3)}", "ec-p256")

    def blank_card(self) -> tuple[Any, dict[str, Any]]:
        """A blank ZORG-ID smartcard in the desktop app, a SoftHSM token of its own:
        (the app, its slots by PKCS#11 label)."""
        from testkit.smartcard import SLOTS, CardApp, SmartCard

        card = SmartCard.blank(self.softhsm, f"demo-card-{self.run}-{secrets.token_hex(2)}")
        return CardApp.insert(card), {slot.label: slot for slot in SLOTS}

    def save_qr(self, name: str, png: bytes) -> Path:
        path = self.qr_dir / f"{self.run}-{name}.png"
        write_file(path, png, exclusive=False)  # 0600: a QR is a bearer token
        return path

    def walk(self) -> None:
        """Walk the manual, step by step (:mod:`issuer.cli.demo_walk`)."""
        from issuer.cli.demo_walk import walk

        walk(self)
