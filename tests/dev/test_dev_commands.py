"""What ``zorgid dev`` tells a developer to run runs, as printed, with nothing exported.

One engine started as ``make run`` starts it (default ``--data-dir var``, in its
own folder), then: every command line of its banner run as printed (issue 21:
"every printed hint runnable as printed"), the ceremony file it writes used by
``zorgid ca``, and a policy version through the two-person rule with the two
development security officers.
"""

from __future__ import annotations

import json
import stat
import subprocess
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography import x509

from issuer.cli.failures import Exit
from issuer.dev.environment import HINT
from tests.dev.devprocess import ZORGID, DevProcess, free_port, run


@dataclass(frozen=True)
class Dev:
    cwd: Path
    banner: str

    @property
    def root(self) -> Path:
        return self.cwd / "var"


@pytest.fixture(scope="module")
def dev(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Dev]:
    cwd = tmp_path_factory.mktemp("make-run")
    engine = DevProcess(
        cwd, "--listen", f"127.0.0.1:{free_port()}", "--ocsp-listen", f"127.0.0.1:{free_port()}"
    )
    try:
        yield Dev(cwd=cwd, banner=engine.wait_ready())
    finally:
        assert engine.stop() == 0


def _hints(banner: str) -> list[str]:
    """The command lines of the banner, continuation lines joined."""
    lines = banner.splitlines()
    hints = []
    for i, line in enumerate(lines):
        if not line.startswith(HINT):
            continue
        command = line.removeprefix(HINT)
        j = i
        while command.endswith("\\"):
            j += 1
            command = command[:-1] + lines[j].strip()
        hints.append(command)
    return hints


def test_every_command_the_banner_prints_runs_as_printed(dev: Dev) -> None:
    hints = _hints(dev.banner)
    assert [h.split()[1] for h in hints if h.startswith(ZORGID)] == ["dev", "policy", "ca"]
    assert any(h.startswith("openssl s_client") for h in hints)
    assert "zorgid dev --data-dir var health --role auditor" in dev.banner
    for hint in hints:
        done = run(dev.cwd, "bash", "-c", hint)
        assert done.returncode == 0, f"{hint}\nstdout: {done.stdout}\nstderr: {done.stderr}"
        assert "Traceback" not in done.stderr, done.stderr
        if hint.startswith("openssl"):
            assert "Verification: OK" in done.stderr, done.stderr
    # What they said: the engine is serving, the ceremony file is valid.
    checked = run(dev.cwd, "bash", "-c", next(h for h in hints if " ca check " in h))
    assert "var/ceremony.toml: valid ceremony file" in checked.stdout


def test_the_ceremony_file_states_the_hierarchy_made(dev: Dev) -> None:
    from issuer.ca import load_ceremony_config

    path = dev.root / "ceremony.toml"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    ceremony = load_ceremony_config(path)
    assert ceremony.data_dir == dev.root
    assert ceremony.ca_dir == dev.root / "ca"
    issuing = x509.load_pem_x509_certificate((dev.root / "ca" / "issuing-ca.pem").read_bytes())
    aia = issuing.extensions.get_extension_for_class(x509.AuthorityInformationAccess).value
    assert [str(a.access_location.value) for a in aia] == [ceremony.issuing_ca.ca_issuers_url]

    before = (dev.root / "ca" / "ocsp-responder.pem").read_bytes()
    done = run(dev.cwd, ZORGID, "ca", "renew-ocsp", "--config", "var/ceremony.toml")
    assert done.returncode == 0, done.stderr
    assert "OCSP responder renewed" in done.stdout
    assert (dev.root / "ca" / "ocsp-responder.pem").read_bytes() != before


def _policy(dev: Dev, officer: str, *argv: str) -> subprocess.CompletedProcess[str]:
    return run(
        dev.cwd, ZORGID, "policy", *argv, "--config", "var/zorgid.toml", "--role", officer, "--json"
    )


def test_two_security_officers_take_a_policy_version_through_the_two_person_rule(
    dev: Dev,
) -> None:
    subjects = {
        x509.load_pem_x509_certificate(
            (dev.root / "tls" / "clients" / f"{name}.pem").read_bytes()
        ).subject.rfc4514_string()
        for name in ("security-officer", "security-officer-2")
    }
    assert len(subjects) == 2  # two people, as the rule compares them
    policy = (dev.root / "policy" / "dev.toml").read_text()
    assert "validity_days = 365" in policy
    shorter = dev.cwd / "shorter.toml"
    shorter.write_text(policy.replace("validity_days = 365", "validity_days = 90", 1))

    done = _policy(dev, "security-officer", "propose", str(shorter), "--reason", "90 days")
    assert done.returncode == Exit.OK, done.stderr
    version = int(json.loads(done.stdout)["version"]["version"])

    own = _policy(dev, "security-officer", "approve", str(version))
    assert own.returncode == Exit.REFUSED, own.stderr
    assert "ZID-1503" in own.stdout + own.stderr

    second = _policy(dev, "security-officer-2", "approve", str(version))
    assert second.returncode == Exit.OK, second.stderr
    shown = json.loads(second.stdout)["version"]
    assert shown["state"] == "POLICY_STATE_ACTIVE"
    assert shown["approvals"][0]["by"].startswith("CN=security-officer-2,")


def test_config_commands_find_the_token_with_nothing_exported(dev: Dev) -> None:
    """The PKCS#11 module's configuration is in the files ([hsm.environment]); the
    commands below failed with TokenNotFound unless SOFTHSM2_CONF was exported."""
    conf = dev.root / "softhsm" / "softhsm2.conf"
    for name in ("zorgid.toml", "ceremony.toml"):
        text = tomllib.loads((dev.root / name).read_text())
        assert text["hsm"]["environment"] == {"SOFTHSM2_CONF": str(conf)}, name
    config = ("--config", "var/zorgid.toml")
    for argv in (("ocsp", "refresh", *config), ("ocsp", "crl", *config)):
        done = run(dev.cwd, ZORGID, *argv)
        assert done.returncode == Exit.OK, f"{argv}: {done.stderr}"
        assert "SOFTHSM2_CONF" not in done.stderr
    done = run(dev.cwd, ZORGID, "certs", "revoke", *config, "no-such-id", "--reason", "superseded")
    assert done.returncode == Exit.REFUSED, done.stderr  # past the HSM: the certificate is unknown
    assert "ZID-1210" in done.stderr
    done = run(dev.cwd, ZORGID, "ca", "check", "--config", "var/ceremony.toml")
    assert done.returncode == Exit.OK, done.stderr
