"""A SoftHSM2 token directory of the engine's own: tests and ``make run``.

Every test run, and the development environment, gets its own token
directory through ``SOFTHSM2_CONF``, so they never see each other's keys.
Tokens are selected by label, never by slot number (SoftHSM renumbers slots
at every initialisation). This drives ``softhsm2-util`` only; all PKCS#11
work goes through the ``hsm`` package.
"""

from __future__ import annotations

import os
import secrets
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from issuer.files import make_private_dir, write_file

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
        return (
            f"pkcs11:token={self.label}?module-path={self.module}&pin-source=file:{self.pin_file}"
        )


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
        made = cls(root)
        make_private_dir(made.tokens)  # the token files hold the keys (PIN-wrapped): 0700
        write_file(
            made.conf,
            (
                f"directories.tokendir = {made.tokens}\n"
                "objectstore.backend = file\n"
                "log.level = ERROR\n"
                "slots.removable = false\n"
            ).encode(),
            exclusive=False,
        )
        return made

    def activate(self) -> None:
        """Point this process (and its children) at this token directory."""
        os.environ["SOFTHSM2_CONF"] = str(self.conf)

    def has_token(self, label: str) -> bool:
        """Whether an initialised token with this label exists in the directory."""
        env = dict(os.environ, SOFTHSM2_CONF=str(self.conf))
        shown = subprocess.run(
            ["softhsm2-util", "--show-slots"], check=True, env=env, capture_output=True, text=True
        ).stdout
        labels = {
            line.split(":", 1)[1].strip()
            for line in shown.splitlines()
            if line.strip().startswith("Label:")
        }
        return label in labels

    def init_token(self, label: str) -> SoftHsmToken:
        """Initialise a fresh token with random PINs; the PIN goes to a 0600 file.

        Refuses a label already in the directory: a second token of that label would
        take over the PIN file while lookups by label still find the first, so every
        login to it would fail with a wrong PIN (as a test fixture instantiated twice did).
        """
        if self.has_token(label):
            raise ValueError(
                f"a token labelled {label!r} exists already in {self.tokens}; expected a new "
                "label (in tests: a session fixture made twice, e.g. imported into a second "
                "conftest -- share it from one conftest instead)"
            )
        pin = secrets.token_hex(8)
        so_pin = secrets.token_hex(8)
        env = dict(os.environ, SOFTHSM2_CONF=str(self.conf))
        subprocess.run(
            [
                "softhsm2-util",
                "--init-token",
                "--free",
                "--label",
                label,
                "--pin",
                pin,
                "--so-pin",
                so_pin,
            ],
            check=True,
            env=env,
            capture_output=True,
        )
        pin_file = self.root / f"{label}.pin"
        write_file(pin_file, pin.encode(), exclusive=False)  # 0600 before the PIN is in it
        return SoftHsmToken(label=label, pin=pin, so_pin=so_pin, pin_file=pin_file)
