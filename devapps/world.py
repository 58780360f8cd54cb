"""What the companion pages stand on: their own tokens, the test UZI-register, the engine.

Everything lives under ``<data-dir>/devapps/`` (0700): a SoftHSM directory of this
process's own (phones and UZI-pas keys, blank smartcards) and small JSON records of the
phones and cards made, so they survive a restart of ``make run``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from issuer.cli.demo import dev_stubs, load_demo_world, open_dev_token
from issuer.config import load_config
from issuer.dev.pki import DevPki
from issuer.dev.softhsm import SoftHsmDir
from issuer.files import make_private_dir, write_file
from testkit.uzi_world import UziWorld

CARD_KEYS_LABEL = "devapps-uzi-pas"
PHONE_KEYS_LABEL = "devapps-phones"


@dataclass
class DevWorld:
    """One development environment's outside world, opened once per process."""

    root: Path
    folder: Path
    softhsm: SoftHsmDir
    cards_hsm: Any
    phones_hsm: Any
    uzi: UziWorld
    mobile: Any
    """Blocking stubs as the phone's gateway (role ``mobile``)."""
    operator: Any
    """Blocking stubs as the operator (the dev organisations are registered at start)."""

    @classmethod
    def open(cls, root: Path, target: str = "") -> DevWorld:
        """Open (or make) ``<root>/devapps``; ``target`` defaults to the dev engine's listen."""
        folder = root / "devapps"
        make_private_dir(folder)
        hsm_folder = folder / "softhsm"
        softhsm = SoftHsmDir(hsm_folder) if hsm_folder.exists() else SoftHsmDir.create(hsm_folder)
        softhsm.activate()  # this process's tokens only, before PKCS#11 is loaded
        if not target:
            port = load_config(root / "zorgid.toml").server.listen.rpartition(":")[2]
            target = f"localhost:{port}"
        pki = DevPki(root=root / "tls")
        return cls(
            root=root,
            folder=folder,
            softhsm=softhsm,
            cards_hsm=open_dev_token(softhsm, CARD_KEYS_LABEL),
            phones_hsm=open_dev_token(softhsm, PHONE_KEYS_LABEL),
            uzi=load_demo_world(root),
            mobile=dev_stubs(pki, target, "mobile"),
            operator=dev_stubs(pki, target, "operator"),
        )

    def register_organisations(self) -> None:
        """Register :data:`DEV_ORGANISATIONS` as the operator; known ones are left as they are."""
        import grpc

        from issuer.api.zorgid.v1 import organization_pb2

        for ura, name, admins in DEV_ORGANISATIONS:
            try:
                self.operator.org.RegisterOrganization(
                    organization_pb2.RegisterOrganizationRequest(
                        ura=ura, name=name, administrator_uzi_numbers=list(admins)
                    ),
                    timeout=30,
                )
            except grpc.RpcError as err:
                if err.code() != grpc.StatusCode.ALREADY_EXISTS:
                    raise

    def load(self, name: str) -> list[dict[str, Any]]:
        """The records kept in ``<name>.json`` (none yet: empty)."""
        path = self.folder / f"{name}.json"
        if not path.exists():
            return []
        records: list[dict[str, Any]] = json.loads(path.read_text())
        return records

    def save(self, name: str, records: list[dict[str, Any]]) -> None:
        """Replace ``<name>.json`` whole: written 0600 beside it, synced, then renamed."""
        path = self.folder / f"{name}.json"
        temp = path.with_suffix(".tmp")
        write_file(temp, json.dumps(records, indent=2).encode(), exclusive=False)
        temp.replace(path)


DEV_ORGANISATIONS = (
    ("90000101", "Huisartsenpraktijk De Linde (ontwikkeling)", ("900001011",)),
    ("90000202", "Ziekenhuis Zuid (ontwikkeling)", ()),
)
"""(URA, name, designated administrators' UZI numbers) the operator registers at start; the
Desktop App offers cards of these organisations, the designated administrator's among them."""
