"""The Node example client (clients/node) logs in by QR against a real ``zorgid dev``.

It is what an integrator copies: if it cannot complete a login, neither can they. Node
and its packages are installed by ``make setup`` (Debian's nodejs and npm, ``npm ci``);
a machine without them fails here, it does not skip.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import sqlalchemy as sa
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from issuer.api.zorgid.v1 import login_pb2
from issuer.cli.demo import Demo
from issuer.files import write_file
from issuer.qr import b64url
from issuer.store.schema import audit_events, login_challenges
from tests.clients.conftest import ROOT, DevEngine, PhoneFiles

CLIENT = ROOT / "clients" / "node"


def run_client(engine: DevEngine, key: Path, certificate: Path) -> subprocess.CompletedProcess[str]:
    node = shutil.which("node")
    assert node, "no node on PATH: `make setup` installs Debian's nodejs"
    assert (CLIENT / "node_modules" / "@grpc" / "grpc-js").is_dir(), (
        "clients/node/node_modules is missing: `make setup` runs npm ci --prefix clients/node"
    )
    return subprocess.run(
        [
            node,
            str(CLIENT / "login-roundtrip.mjs"),
            "--target",
            engine.target,
            "--tls-dir",
            str(engine.root / "tls"),
            "--phone-key",
            str(key),
            "--phone-cert",
            str(certificate),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )


def challenge_of(output: str) -> str:
    found = re.search(r"^portal: login QR for challenge (\S+)$", output, re.MULTILINE)
    assert found, output
    return found.group(1)


def poll(demo: Demo, challenge_id: str) -> login_pb2.GetLoginChallengeResponse:
    reply: login_pb2.GetLoginChallengeResponse = demo.call(
        "GetLoginChallenge",
        demo.portal.login.GetLoginChallenge,
        login_pb2.GetLoginChallengeRequest(challenge_id=challenge_id),
    )
    return reply


def test_the_node_client_logs_in_by_qr(
    dev_engine: DevEngine, demo: Demo, phone: PhoneFiles
) -> None:
    done = run_client(dev_engine, phone.key, phone.certificate)
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"certificate serial {phone.serial}" in done.stdout, done.stdout
    challenge_id = challenge_of(done.stdout)

    # The engine's record: authenticated by this phone's certificate, and the session handle
    # already handed out (to the client's own poll, the first after the answer).
    polled = poll(demo, challenge_id)
    assert polled.state == login_pb2.LOGIN_STATE_AUTHENTICATED
    assert polled.certificate_serial == phone.serial
    assert polled.session_handle == ""

    engine = sa.create_engine(f"sqlite:///{dev_engine.root / 'zorgid.sqlite3'}")
    try:
        with engine.connect() as conn:
            events = conn.execute(
                sa.select(audit_events.c.action, audit_events.c.actor_role, audit_events.c.outcome)
                .where(audit_events.c.subject == f"login:{challenge_id}")
                .order_by(audit_events.c.seq)
            ).all()
            nonce = conn.execute(
                sa.select(login_challenges.c.nonce).where(login_challenges.c.id == challenge_id)
            ).scalar_one()
    finally:
        engine.dispose()
    assert [tuple(e) for e in events] == [
        ("login.challenge", "portal", "success"),
        ("login.answer", "mobile", "success"),
        ("login.session", "portal", "success"),
    ]
    # What the example prints is safe to paste into a ticket: no nonce, no key.
    assert b64url(nonce) not in done.stdout + done.stderr
    assert "PRIVATE KEY" not in done.stdout + done.stderr


def test_an_answer_by_another_key_is_refused_with_its_code(
    dev_engine: DevEngine, demo: Demo, phone: PhoneFiles, tmp_path: Path
) -> None:
    stranger = tmp_path / "stranger.key"
    write_file(
        stranger,
        ec.generate_private_key(ec.SECP256R1()).private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ),
        exclusive=True,
    )
    done = run_client(dev_engine, stranger, phone.certificate)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "failed: AnswerLoginChallenge: INVALID_ARGUMENT ZID-1706" in done.stderr, done.stderr
    assert "logged in" not in done.stdout

    # A signature that does not verify changes nothing: the login still waits for its phone.
    assert poll(demo, challenge_of(done.stdout)).state == login_pb2.LOGIN_STATE_PENDING
