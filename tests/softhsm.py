"""A real SoftHSM2 token directory for one test run.

Every test run gets its own token directory through ``SOFTHSM2_CONF``, so
runs never see each other's keys. Tokens are selected by label, never by
slot number (SoftHSM renumbers slots at every initialisation).
"""

from __future__ import annotations

import os
import secrets
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

SOFTHSM_MODULE = "/usr/lib/softhsm/libsofthsm2.so"


@dataclass(frozen=True)
class SoftHsmToken:
    """One initialised token: where it lives and how to log in to it."""

    label: str
    pin: str = field(repr=False)
    so_pin: str = field(repr=False)
    pin_file: Path
    module: str = SOFTHSM_MODULE

    @property
    def uri(self) -> str:
        """RFC 7512 URI of the token, PIN taken from the pin file."""
        return f"pkcs11:token={self.label}?module-path={self.module}&pin-source=file:{self.pin_file}"


@dataclass(frozen=True)
class SoftHsmDir:
    """A token directory and its configuration file."""

    root: Path

    @property
    def conf(self) -> Path:
        return self.root / "softhsm2.conf"

    @property
    def tokens(self) -> Path:
        return self.root / "tokens"

    @classmethod
    def create(cls, root: Path) -> SoftHsmDir:
        root.mkdir(parents=True, exist_ok=True)
        made = cls(root)
        made.tokens.mkdir(exist_ok=True)
        made.conf.write_text(
            f"directories.tokendir = {made.tokens}\n"
            "objectstore.backend = file\n"
            "log.level = ERROR\n"
            "slots.removable = false\n"
        )
        return made

    def activate(self) -> None:
        """Point this process (and its children) at this token directory."""
        os.environ["SOFTHSM2_CONF"] = str(self.conf)

    def init_token(self, label: str) -> SoftHsmToken:
        """Initialise a fresh token with random PINs; the PIN goes to a 0600 file."""
        pin = secrets.token_hex(8)
        so_pin = secrets.token_hex(8)
        env = dict(os.environ, SOFTHSM2_CONF=str(self.conf))
        subprocess.run(
            ["softhsm2-util", "--init-token", "--free", "--label", label,
             "--pin", pin, "--so-pin", so_pin],
            check=True, env=env, capture_output=True,
        )
        pin_file = self.root / f"{label}.pin"
        pin_file.write_text(pin)
        pin_file.chmod(0o600)
        return SoftHsmToken(label=label, pin=pin, so_pin=so_pin, pin_file=pin_file)
