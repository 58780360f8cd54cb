"""The configuration file: schema errors named by key path, checks, CLI, generated docs."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from hsm import PinSource
from issuer.cli import serve as serve_cli
from issuer.config import (
    EXAMPLE,
    ConfigError,
    Role,
    load_config,
    parse_config,
    render_markdown,
)
from tests.server.conftest import ClientPki, write_config

ROOT = Path(__file__).resolve().parents[2]
MINIMAL = """
data_dir = "var"
[server]
dev_plaintext = true
[hsm]
token = "zorgid"
pin_source = "env:ZORGID_PIN"
"""


def problems_of(text: str, base: Path = Path("/etc/zorgid")) -> tuple[str, ...]:
    with pytest.raises(ConfigError) as refused:
        parse_config(text, base=base)
    assert refused.value.code == "ZID-0901"
    return refused.value.problems


def run_cli(*argv: str) -> int:
    parser = argparse.ArgumentParser()
    serve_cli.register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    status: int = args.func(args)
    return status


def test_good_file_loads_with_defaults_and_resolved_paths(
    tmp_path: Path, test_pki: ClientPki
) -> None:
    config = load_config(write_config(tmp_path, test_pki))
    assert config.data_dir == (tmp_path / "data").resolve()
    assert config.database.url == f"sqlite:///{tmp_path.resolve() / 'data' / 'zorgid.sqlite3'}"
    assert config.server.max_message_bytes == 4 * 1024 * 1024
    assert config.hsm.pin_source == PinSource("file", str((tmp_path / "pin").resolve()))
    assert config.hsm.pin_source.read() == "1234"
    assert "1234" not in repr(config)
    assert {rule.role for rule in config.roles.rule} == set(Role)
    assert config.hsm.keys.issuing_ca == "issuing-ca"


def test_unknown_keys_are_refused_with_their_path() -> None:
    problems = problems_of(
        MINIMAL.replace("[server]", "colour = 1\n[server]\nlisten_port = 1")
        + '[hsm.keys]\nissuing = "x"\n[[roles.rule]]\nrole = "portal"\nsan_uri = "u"\nou = "x"\n'
    )
    joined = "\n".join(problems)
    assert "colour: unknown key" in joined
    assert "server.listen_port: unknown key; expected one of" in joined
    assert "hsm.keys.issuing: unknown key" in joined
    assert "roles.rule[0].ou: unknown key" in joined
    assert len(problems) == 4, problems


def test_wrong_types_are_named() -> None:
    problems = problems_of(
        MINIMAL.replace("dev_plaintext = true", 'dev_plaintext = "yes"\nworkers = true')
        .replace('token = "zorgid"', "token = 7")
        .replace('"env:ZORGID_PIN"', '"1234"')
    )
    assert "server.dev_plaintext: got string 'yes', expected a boolean" in problems
    assert "server.workers: got boolean True, expected an integer" in problems
    assert "hsm.token: got integer 7, expected a string" in problems
    assert any(p.startswith("hsm.pin_source: got '1234', expected 'file:") for p in problems)


def test_limits_roles_and_missing_keys() -> None:
    problems = problems_of(
        'data_dir = "var"\n[server]\nworkers = 0\nmax_message_bytes = 10\n'
        'listen = "127.0.0.1:50051"\nprocesses = 0\nclaim_lease_seconds = 0\n'
        '[[roles.rule]]\nrole = "admin"\nsan_uri = "x"\n[[roles.rule]]\nrole = "portal"\n'
    )
    assert "server.workers: got 0, expected 1..256" in problems
    assert "server.processes: got 0, expected 1..64" in problems
    assert "server.claim_lease_seconds: got 0.0, expected 1..3600" in problems
    assert "server.max_message_bytes: got 10, expected 1024..67108864" in problems
    assert any(
        p.startswith("roles.rule[0].role: got string 'admin', expected one of") for p in problems
    )
    assert any(p.startswith("roles.rule[1]: a rule needs at least one condition") for p in problems)
    assert "hsm: required key missing" in problems


def test_tls_required_unless_plaintext() -> None:
    problems = problems_of(MINIMAL.replace("dev_plaintext = true", ""))
    assert problems == ("tls: section missing; mutual TLS is required unless server.dev_plaintext",)


def test_plaintext_on_a_non_loopback_address_is_refused() -> None:
    problems = problems_of(MINIMAL.replace("[server]", '[server]\nlisten = "0.0.0.0:50051"'))
    assert any("dev_plaintext: refused" in p and "'0.0.0.0'" in p for p in problems)
    for loopback in ("127.0.0.1:1", "[::1]:1", "localhost:1", "127.8.9.10:1"):
        parse_config(
            MINIMAL.replace("[server]", f'[server]\nlisten = "{loopback}"'), base=Path("/")
        )


def test_invalid_toml_is_reported() -> None:
    assert problems_of("data_dir = ")[0].startswith("not valid TOML")


def test_config_check_cli(
    tmp_path: Path, test_pki: ClientPki, capsys: pytest.CaptureFixture[str]
) -> None:
    good = write_config(tmp_path / "good", test_pki)
    assert run_cli("config", "check", str(good)) == 0
    out = capsys.readouterr().out
    assert "OK" in out and "mutual TLS" in out and "1234" not in out

    bad = write_config(tmp_path / "bad", test_pki)
    bad.write_text(bad.read_text().replace("workers = 4", "workers = 4\nthreads = 2"))
    (tmp_path / "bad" / "pin").unlink()
    assert run_cli("config", "check", str(bad)) == 2
    err = capsys.readouterr().err
    assert "server.threads: unknown key" in err

    files = write_config(tmp_path / "files", test_pki)
    (tmp_path / "files" / "pin").unlink()
    files.write_text(files.read_text().replace(str(test_pki.root / "server.key"), "nokey.pem"))
    assert run_cli("config", "check", str(files)) == 2
    err = capsys.readouterr().err
    assert "hsm.pin_source: PIN file" in err and "does not exist" in err
    assert "tls.key: cannot read" in err

    loose = write_config(tmp_path / "loose", test_pki)
    key = tmp_path / "loose" / "server.key"
    key.write_bytes((test_pki.root / "server.key").read_bytes())
    key.chmod(0o644)
    loose.write_text(loose.read_text().replace(str(test_pki.root / "server.key"), "server.key"))
    assert run_cli("config", "check", str(loose)) == 2
    err = capsys.readouterr().err
    assert "tls.key:" in err and "mode 644" in err and "chmod 600" in err


def test_docs_config_md_is_up_to_date() -> None:
    committed = (ROOT / "docs" / "config.md").read_text()
    assert committed == render_markdown(), "regenerate: zorgid config doc > docs/config.md"
    for key in ("dev_plaintext", "client_ca", "pin_source", "san_uri", "max_message_bytes"):
        assert f"`{key}`" in committed


def test_the_documented_example_is_a_valid_file() -> None:
    config = parse_config(EXAMPLE, base=Path("/etc/zorgid"))
    assert config.tls is not None and config.tls.key == Path("/etc/zorgid/tls/server.key")
    assert len(config.roles.rule) == 3
    assert config.hsm.keys.issuing_ca.startswith("pkcs11:")
    assert config.database.url.startswith("postgresql+psycopg://")


def test_responder_renew_before_days_is_bounded() -> None:
    """0 turns the OCSP process's renewal off; more than a year is a typo, refused."""
    off = parse_config(MINIMAL + "\n[ocsp]\nresponder_renew_before_days = 0\n", base=ROOT)
    assert off.ocsp.responder_renew_before_days == 0
    problems = problems_of(MINIMAL + "\n[ocsp]\nresponder_renew_before_days = 400\n")
    assert "ocsp.responder_renew_before_days: got 400, expected 0..365" in problems
