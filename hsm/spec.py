"""Key types the engine generates and signs with."""

from __future__ import annotations

import enum

from hsm.errors import UnsupportedAlgorithm


class KeyKind(enum.Enum):
    """The PKCS#11 key type family."""

    EC = "ec"
    RSA = "rsa"


class KeySpec(enum.Enum):
    """A key type and size; the value is the spelling used in TOML configs."""

    EC_P256 = "ec-p256"
    EC_P384 = "ec-p384"
    RSA_2048 = "rsa-2048"
    RSA_3072 = "rsa-3072"
    RSA_4096 = "rsa-4096"

    @classmethod
    def parse(cls, text: str | KeySpec) -> KeySpec:
        """Parse ``"ec-p256"``, ``"EC_P384"``, ``"rsa-3072"``, ``"secp256r1"``, ..."""
        if isinstance(text, KeySpec):
            return text
        norm = text.strip().lower().replace("_", "-")
        aliases = {
            "secp256r1": "ec-p256",
            "prime256v1": "ec-p256",
            "p-256": "ec-p256",
            "p256": "ec-p256",
            "secp384r1": "ec-p384",
            "p-384": "ec-p384",
            "p384": "ec-p384",
            "rsa2048": "rsa-2048",
            "rsa3072": "rsa-3072",
            "rsa4096": "rsa-4096",
        }
        norm = aliases.get(norm, norm)
        for spec in cls:
            if spec.value == norm:
                return spec
        expected = ", ".join(s.value for s in cls)
        raise UnsupportedAlgorithm(f"unknown key spec {text!r}; expected one of: {expected}")

    @property
    def kind(self) -> KeyKind:
        return KeyKind.EC if self.value.startswith("ec-") else KeyKind.RSA

    @property
    def curve_name(self) -> str:
        """SEC 2 curve name (RFC 5480 section 2.1.1.1) for EC specs."""
        if self is KeySpec.EC_P256:
            return "secp256r1"
        if self is KeySpec.EC_P384:
            return "secp384r1"
        raise UnsupportedAlgorithm(f"{self.value} is not an EC key spec; it has no curve")

    @property
    def key_size(self) -> int:
        """Bits: curve order size for EC, modulus size for RSA."""
        return {
            KeySpec.EC_P256: 256,
            KeySpec.EC_P384: 384,
            KeySpec.RSA_2048: 2048,
            KeySpec.RSA_3072: 3072,
            KeySpec.RSA_4096: 4096,
        }[self]

    def __str__(self) -> str:
        return self.value
