"""``load_ca_material``: what the server and issuer read, and how it fails when files are wrong."""

from __future__ import annotations

import dataclasses
import json
import shutil
from typing import Any

import pytest

from hsm import Hsm, KeyAttributes
from issuer.ca import (
    CaMaterialError,
    CeremonyError,
    CeremonyFailed,
    load_ca_material,
    renew_ocsp,
    run_ceremony,
)
from tests.ca.conftest import CeremonySetup


def test_material_fails_loudly_on_missing_or_foreign_files(
    setup: CeremonySetup, tmp_path: Any
) -> None:
    with pytest.raises(CaMaterialError, match="zorgid ca init"):
        load_ca_material(setup.data_dir)
    run_ceremony(setup.config, setup.hsm, out=lambda _: None)
    ca = setup.data_dir / "ca"
    m = load_ca_material(setup.data_dir)
    assert m.chain() == (m.issuing_ca, m.root)
    assert m.token_label == setup.token.label

    # a missing file, then a "responder" certificate that is not the issuing CA's
    (ca / "ocsp-responder.pem").rename(tmp_path / "mine.pem")
    with pytest.raises(CaMaterialError, match=r"missing .*ocsp-responder\.pem"):
        load_ca_material(setup.data_dir)
    shutil.copy(ca / "root.pem", ca / "ocsp-responder.pem")
    with pytest.raises(
        CaMaterialError, match=r"ocsp-responder\.pem is not issued by issuing-ca\.pem"
    ):
        load_ca_material(setup.data_dir)
    (tmp_path / "mine.pem").replace(ca / "ocsp-responder.pem")
    load_ca_material(setup.data_dir)

    record = json.loads((ca / "ceremony.json").read_text())
    record["format"] = 99
    (ca / "ceremony.json").write_text(json.dumps(record))
    with pytest.raises(CaMaterialError, match="format-1"):
        load_ca_material(setup.data_dir)
    with pytest.raises(CaMaterialError):
        renew_ocsp(setup.config, setup.hsm, new_key=False, out=lambda _: None)


class _LeakyToken:
    """The real token, but reporting keys as extractable: a token policy unfit for CA keys."""

    def __init__(self, hsm: Hsm) -> None:
        self._hsm = hsm

    def __getattr__(self, name: str) -> Any:
        return getattr(self._hsm, name)

    def key_attributes(self, label: str) -> KeyAttributes:
        return dataclasses.replace(self._hsm.key_attributes(label), extractable=True)


def test_a_key_reported_extractable_stops_the_ceremony(setup: CeremonySetup) -> None:
    with pytest.raises(CeremonyFailed, match="CKA_EXTRACTABLE=True") as caught:
        run_ceremony(setup.config, _LeakyToken(setup.hsm), out=lambda _: None)
    assert isinstance(caught.value.__cause__, CeremonyError)
    assert setup.token_state() == []
    assert setup.data_state() is None
