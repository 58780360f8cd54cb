"""The composition root: UziService is in ``zorgid serve``, its rules come from the active policy,
and a server refuses to start on a database whose schema is not this code's."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

import policies
from issuer.config import load_config
from issuer.policy_store import configured_policy
from issuer.server.app import build_server
from issuer.store import SchemaOutOfDateError, create_engine_for
from issuer.store import engine as engine_module
from issuer.uzi.policy import uzi_policy_from
from issuer.uzi.validate import RevocationMode
from issuer.uzi_vocabulary import CardType
from issuer.wiring import build_evidence_verifier, build_uzi_verifier, default_services
from tests.server.conftest import ClientPki, write_config

ZORGID = str(Path(sys.executable).with_name("zorgid"))


def test_default_policy_maps_to_the_verifier_policy() -> None:
    mapped = uzi_policy_from(policies.default_policy())
    assert mapped.trust_set == "acc"
    assert mapped.revocation is RevocationMode.SOFT
    assert mapped.accepted_card_types == {CardType.ZORGVERLENER, CardType.MEDEWERKER_OP_NAAM}
    assert mapped.accepted_roles is None  # "*"
    assert mapped.challenge_lifetime == timedelta(seconds=120)
    assert mapped.session_lifetime == timedelta(seconds=900)


def _document(**uzi: object) -> dict[str, object]:
    document: dict[str, object] = json.loads(policies.default_policy().canonical)
    document["uzi"] = {**document["uzi"], **uzi}  # type: ignore[dict-item]
    return document


def test_role_patterns_map_to_codes_and_professions() -> None:
    policy = policies.parse_policy(_document(roles=["01.*", "30.015"], card_types=["Z"]))
    mapped = uzi_policy_from(policy)
    assert mapped.accepted_roles == frozenset({"01.", "30.015"})
    assert mapped.accepted_card_types == {CardType.ZORGVERLENER}


def test_the_configured_policy_file_wins_over_the_default(
    migrated: sa.Engine, tmp_path: Path, test_pki: ClientPki
) -> None:
    path = write_config(tmp_path, test_pki)
    assert configured_policy(load_config(path)) == policies.default_policy()
    text = policies.DEFAULT_POLICY_PATH.read_text()
    changed = text.replace('revocation_mode = "soft"', 'revocation_mode = "hard"').replace(
        'trust_set = "acc"', 'trust_set = "prod"'
    )
    assert changed != text
    (tmp_path / "policy.toml").write_text(changed)
    path.write_text(path.read_text() + '\n[policy]\nfile = "policy.toml"\n')
    config = load_config(path)
    assert configured_policy(config).uzi.revocation_mode == "hard"
    verifier = build_uzi_verifier(config, engine=migrated)
    assert verifier.policy.revocation is RevocationMode.HARD
    assert verifier.trust.name == "prod"


def test_default_services_serve_uzi(tmp_path: Path, test_pki: ClientPki) -> None:
    config = load_config(write_config(tmp_path, test_pki))  # write_config migrates SQLite
    services = default_services(config)
    assert "zorgid.v1.UziService" in {s.name for s in services}
    built = build_server(config, services)  # every UziService method is in METHOD_ROLES
    built.server.stop(0)


def _unmigrated(tmp_path: Path, test_pki: ClientPki) -> Path:
    path = write_config(tmp_path, test_pki)
    (tmp_path / "data" / "zorgid.sqlite3").unlink()
    return path


def test_default_services_refuse_an_unmigrated_database(
    tmp_path: Path, test_pki: ClientPki
) -> None:
    config = load_config(_unmigrated(tmp_path, test_pki))
    with pytest.raises(SchemaOutOfDateError, match="zorgid db upgrade --config FILE"):
        default_services(config)


def test_zorgid_serve_refuses_to_start_and_names_the_fix(
    tmp_path: Path, test_pki: ClientPki
) -> None:
    path = _unmigrated(tmp_path, test_pki)
    done = subprocess.run(
        [ZORGID, "serve", "--config", str(path)], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 2, done.stderr
    assert "not starting" in done.stderr and "zorgid db upgrade" in done.stderr
    assert "Traceback" not in done.stderr


def test_created_engine_is_the_configured_database(tmp_path: Path, test_pki: ClientPki) -> None:
    config = load_config(write_config(tmp_path, test_pki))
    verifier = build_uzi_verifier(config)
    challenge = verifier.create_challenge(portal="sha256:test")
    engine = create_engine_for(config.database.url)
    with engine.connect() as conn:
        ids = conn.execute(sa.text("SELECT id FROM uzi_challenges")).scalars().all()
    engine.dispose()
    assert ids == [challenge.challenge_id]


def test_the_services_of_a_process_make_one_engine(
    tmp_path: Path, test_pki: ClientPki, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The UZI verifier and the registrations' evidence verifier of one process (the
    issuance runtime and the policy service take the same path, ``shared_engine``) open
    one pool between them, not one each: one connection budget a process against
    PostgreSQL's ``max_connections``."""
    made: list[str] = []
    real = engine_module.create_engine_for

    def counting(url: str, **kwargs: object) -> sa.Engine:
        made.append(url)
        return real(url, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(engine_module, "create_engine_for", counting)
    config = load_config(write_config(tmp_path, test_pki))
    verifiers = [build_uzi_verifier(config), build_evidence_verifier(config)]
    assert len(verifiers) == 2
    assert made == [config.database.url]


def _watch_threads() -> list[str]:
    import threading

    return [t.name for t in threading.enumerate() if t.name == "uzi-watch"]


@pytest.mark.parametrize("enabled", [True, False])
def test_the_uzi_watch_starts_and_stops_with_the_uzi_service(
    tmp_path: Path, test_pki: ClientPki, enabled: bool
) -> None:
    """``zorgid serve`` runs the UZI-pas watch beside UziService unless ``[uzi_watch]`` is off."""
    path = write_config(tmp_path, test_pki)
    if not enabled:
        path.write_text(path.read_text() + "\n[uzi_watch]\nenabled = false\n")
    uzi = next(s for s in default_services(load_config(path)) if s.name.endswith("UziService"))
    assert uzi.start is not None and uzi.stop is not None
    assert _watch_threads() == []
    uzi.start()
    try:
        assert _watch_threads() == (["uzi-watch"] if enabled else [])
    finally:
        uzi.stop()
    assert _watch_threads() == []


@pytest.mark.parametrize(("mode", "suspend"), [(None, False), ("report", False), ("suspend", True)])
def test_when_unavailable_reaches_the_watch(
    tmp_path: Path, test_pki: ClientPki, mode: str | None, suspend: bool
) -> None:
    """``[uzi_watch] when_unavailable`` (default "report") decides whether the watch holds."""
    from issuer.wiring import issuance_runtime, uzi_watch

    path = write_config(tmp_path, test_pki)
    if mode is not None:
        path.write_text(path.read_text() + f'\n[uzi_watch]\nwhen_unavailable = "{mode}"\n')
    config = load_config(path)
    assert config.uzi_watch.when_unavailable == (mode or "report")
    runtime = issuance_runtime(config)
    try:
        assert uzi_watch(config, runtime).settings.suspend is suspend
    finally:
        runtime.engine.dispose()


def test_an_unknown_when_unavailable_is_refused(tmp_path: Path, test_pki: ClientPki) -> None:
    from issuer.config import ConfigError

    path = write_config(tmp_path, test_pki)
    path.write_text(path.read_text() + '\n[uzi_watch]\nwhen_unavailable = "revoke"\n')
    with pytest.raises(ConfigError, match=r"when_unavailable: got .*revoke.*report, suspend"):
        load_config(path)
