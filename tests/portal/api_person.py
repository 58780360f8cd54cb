"""A registered professional made by API on the shared stack, who logs in to the portal tab.

The registration is :func:`issuer.cli.demo_walk.register_user` and the phone's answer
:func:`issuer.cli.demo_walk.answer`, driven through :class:`Walker` (what those need of a
``Demo``) with the development clients of the stack's engine; the phone and the UZI-pas
keys live on a token of these tests' own.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
from playwright.sync_api import Page, expect

from issuer.cli.demo import dev_stubs, load_demo_world, open_dev_token
from issuer.cli.demo_walk import answer, register_user
from issuer.dev.pki import DevPki
from tests.portal.conftest import Stack
from tests.softhsm import SoftHsmDir

ORGANISATION_URA = "90000202"
"""A development organisation the stack registers at start (devapps.world)."""


def engine_target(stack: Stack) -> str:
    """The stack engine's gRPC address, as its log names it."""
    found = re.search(r"serving gRPC over mutual TLS on [\d.]+:(\d+)", stack.output())
    assert found, f"no engine port in:\n{stack.output()}"
    return f"localhost:{found.group(1)}"


def role_channel(stack: Stack, role: str) -> grpc.Channel:
    """An mTLS channel to the stack's engine as a development client of ``role``."""
    pki = DevPki(root=stack.root / "tls")
    creds = grpc.ssl_channel_credentials(
        root_certificates=pki.client_ca_cert.read_bytes(),
        private_key=pki.client_key(role).read_bytes(),
        certificate_chain=pki.client_cert(role).read_bytes(),
    )
    return grpc.secure_channel(engine_target(stack), creds)


class Walker:
    """What :mod:`issuer.cli.demo_walk`'s steps use of a ``Demo``: the role clients, the
    phone maker, and a call that fails the test with the engine's code."""

    def __init__(self, stack: Stack, softhsm: SoftHsmDir, folder: Path) -> None:
        pki = DevPki(root=stack.root / "tls")
        target = engine_target(stack)
        self.portal = dev_stubs(pki, target, "portal")
        self.mobile = dev_stubs(pki, target, "mobile")
        self.operator = dev_stubs(pki, target, "operator")
        self.keys = open_dev_token(softhsm, "portal-tests-keys")
        self.world = load_demo_world(stack.root)
        self.folder = folder
        self.step = 0

    def say(self, title: str) -> None:
        self.step += 1

    def ok(self, outcome: str) -> None:
        """The demo prints outcomes; a test asserts them instead."""

    def call(self, what: str, fn: Callable[..., Any], request: Any) -> Any:
        try:
            return fn(request, timeout=60)
        except grpc.RpcError as err:
            raise AssertionError(f"{what} refused: {err.details()}") from None

    def save_qr(self, name: str, png: bytes) -> Path:
        path = self.folder / f"{name}.png"
        path.write_bytes(png)
        return path

    def phone(self) -> Any:
        from testkit.phone import Phone

        return Phone.create(self.keys, f"phone-{secrets.token_hex(4)}", "ec-p256")

    def uzi_pas(self) -> Any:
        """A UZI-pas of a new professional of :data:`ORGANISATION_URA`, key on our token."""
        from hsm import KeySpec
        from testkit.desktop_app import DesktopApp

        key = self.keys.generate_key(f"uzi-pas-{secrets.token_hex(4)}", KeySpec.RSA_2048)
        number = "7" + format(secrets.randbelow(10**8), "08d")
        card = self.world.issue_card("Z", uzi_number=number, ura=ORGANISATION_URA, auth_key=key)
        return DesktopApp(card=card, key=key)


@dataclass
class Person:
    """A registered professional: the phone with its mobile-ID certificate."""

    phone: Any
    certificate_der: bytes
    certificate_id: str


def register(walker: Walker) -> Person:
    """Register a new professional by API (terms, UZI-pas, date of birth, phone)."""
    from cryptography import x509

    from issuer.api.zorgid.v1 import certificate_pb2

    phone, der = register_user(walker, walker.uzi_pas(), "Tester", "01-02-1980")  # type: ignore[arg-type]
    serial = format(x509.load_der_x509_certificate(der).serial_number, "x")
    got = walker.operator.certs.GetCertificate(
        certificate_pb2.GetCertificateRequest(serial=serial), timeout=30
    )
    return Person(phone=phone, certificate_der=der, certificate_id=got.certificate.id)


def log_in(page: Page, stack: Stack, walker: Walker, person: Person) -> None:
    """Open the portal in ``page``; the person's phone answers its login QR; the overview shows."""
    page.goto(stack.portal)
    expect(page.locator("h1")).to_have_text("Inloggen")
    payload = page.locator("#login").get_attribute("data-payload") or ""
    answer(walker, payload, person.phone, person.certificate_der)  # type: ignore[arg-type]
    expect(page.locator("h1")).to_have_text("Overzicht")
