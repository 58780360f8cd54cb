"""Issue 16 item 9: the OCSP side reads the policy through the one verified reader.

``zorgid ocsp refresh|serve`` take their timings (response validity, refresh point,
nonce echo) from the active ``policy_versions`` row. That row is signed with the
audit key; a row edited in the database no longer verifies, and the OCSP side must
refuse it (ZID-1508) exactly as issuance does -- not sign responses with its timings.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
import sqlalchemy as sa

from issuer.cli.failures import Exit
from issuer.issuance.policy_record import record_active_policy
from issuer.store.schema import ocsp_responses, policy_versions
from policies import DEFAULT_POLICY_PATH
from tests.ocsp.conftest import Pki, make_env
from tests.ocsp.test_cli import ZORGID, _config, _free_port
from tests.store.dbfixtures import Database

VALIDITY = 7200
"""The recorded version's response validity: not the packaged default (4 days)."""
TAMPERED = 5400
"""What the edit in the database sets: a valid policy value, just not the signed one."""


def _record(pki: Pki, engine: sa.Engine) -> int:
    """Version 1, signed with the audit key on the token, with a 2-hour response validity."""
    text = DEFAULT_POLICY_PATH.read_text(encoding="utf-8")
    assert "response_validity_seconds = 345600" in text
    text = text.replace(
        "response_validity_seconds = 345600", f"response_validity_seconds = {VALIDITY}"
    )
    active = record_active_policy(
        engine,
        audit_key=pki.hsm.get_ec_key(pki.material.audit_key_label),
        material=pki.material,
        policy_text=text,
    )
    assert active.policy.ocsp.response_validity_seconds == VALIDITY
    return active.version


def _tamper(engine: sa.Engine, version: int, *, rehash: bool) -> None:
    """Shorten the validity in the stored document; *rehash* also fixes document_sha256, so
    only the audit-key signature can tell."""
    import hashlib

    where = policy_versions.c.version == version
    with engine.begin() as conn:
        document = json.loads(
            conn.execute(sa.select(policy_versions.c.document).where(where)).scalar_one()
        )
        document["ocsp"]["response_validity_seconds"] = TAMPERED
        text = json.dumps(document, sort_keys=True, separators=(",", ":"))
        values: dict[str, str] = {"document": text}
        if rehash:
            values["document_sha256"] = hashlib.sha256(text.encode()).hexdigest()
        conn.execute(policy_versions.update().where(where).values(**values))


def _refresh(config: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(ZORGID), "ocsp", "refresh", "--config", str(config)],
        capture_output=True, text=True, check=False, timeout=120,
    )  # fmt: skip


def _validities(engine: sa.Engine) -> list[float]:
    with engine.connect() as conn:
        rows = conn.execute(sa.select(ocsp_responses.c.this_update, ocsp_responses.c.next_update))
        return [(r.next_update - r.this_update).total_seconds() for r in rows]


def test_the_verified_active_version_gives_the_timings(
    pki: Pki, migrated_db: Database, migrated: sa.Engine, tmp_path: Path
) -> None:
    _record(pki, migrated)
    env = make_env(pki, migrated, tmp_path)
    for _ in range(2):
        env.issue(presign=False)
    done = _refresh(_config(pki, migrated_db, tmp_path, _free_port()))
    assert done.returncode == 0, done.stderr
    assert _validities(migrated) == [VALIDITY, VALIDITY]


@pytest.mark.parametrize("rehash", [False, True], ids=["document", "document+hash"])
def test_a_tampered_policy_row_is_refused_and_nothing_signed(
    pki: Pki, migrated_db: Database, migrated: sa.Engine, tmp_path: Path, rehash: bool
) -> None:
    version = _record(pki, migrated)
    env = make_env(pki, migrated, tmp_path)
    for _ in range(2):
        env.issue(presign=False)
    _tamper(migrated, version, rehash=rehash)
    config = _config(pki, migrated_db, tmp_path, _free_port())
    done = _refresh(config)
    assert done.returncode == Exit.REFUSED, (done.stdout, done.stderr)
    assert "ZID-1508" in done.stderr and f"policy version {version}" in done.stderr
    assert _validities(migrated) == [], "responses were signed from the tampered timings"
    serve = subprocess.run(
        [str(ZORGID), "ocsp", "serve", "--config", str(config)],
        capture_output=True, text=True, check=False, timeout=120,
    )  # fmt: skip
    assert serve.returncode == Exit.REFUSED, (serve.stdout, serve.stderr)
    assert "ZID-1508" in serve.stderr
    assert "serving" not in serve.stdout
    assert _validities(migrated) == []
