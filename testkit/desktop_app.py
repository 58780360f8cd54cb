"""A simulated UZI-pas desktop app: signs the engine's challenge with the card's key.

The real desktop app reads the card through PKCS#11 and signs with the
authentication key, which never leaves the card. Here the "card" is a SoftHSM
token of its own, and the key is generated on it through the project's
``hsm`` package, so the engine sees signatures made exactly the way a card
makes them (``CKM_SHA256_RSA_PKCS`` / ``_PSS``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from hsm import Hsm, KeySpec
from testkit.uzi_world import TestCard, UziWorld

AUTH_KEY_LABEL = "uzi-pas-authentication"


@dataclass(frozen=True)
class DesktopApp:
    """The app with one card inserted."""

    card: TestCard
    key: rsa.RSAPrivateKey = field(repr=False)

    @classmethod
    def with_card_on_token(
        cls,
        world: UziWorld,
        *,
        module_path: str,
        token_label: str,
        pin_file: str,
        card_type: str = "Z",
        role: str | None = None,
    ) -> DesktopApp:
        """Generate the card's authentication key on the token and have the register certify it."""
        hsm = Hsm.open(
            module_path=module_path, token_label=token_label, pin_source=f"file:{pin_file}"
        )
        key = hsm.generate_key(AUTH_KEY_LABEL, KeySpec.RSA_2048)
        if not isinstance(key, rsa.RSAPrivateKey):
            raise TypeError(f"token gave a {type(key).__name__}; expected an RSA key")
        card = world.issue_card(card_type, auth_key=key, role=role)
        return cls(card=card, key=key)

    def sign(self, message: bytes, *, pss: bool = False) -> bytes:
        """Sign on the token, as the card does (SHA-256; PKCS#1 v1.5 or PSS)."""
        pad: padding.AsymmetricPadding = (
            padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32)
            if pss
            else padding.PKCS1v15()
        )
        return self.key.sign(message, pad, hashes.SHA256())

    def chain(self) -> list[bytes]:
        """What the app sends: the authentication certificate, then the intermediates."""
        return self.card.chain_der()
