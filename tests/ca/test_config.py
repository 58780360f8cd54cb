"""The ceremony file schema: strict, every problem named by key path, all at once."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest

from issuer.ca import (
    CeremonyConfigError,
    HsmSettings,
    RootMode,
    default_dev_ceremony,
    load_ceremony_config,
    parse_ceremony,
)
from issuer.cli import main as cli_main
from tests.ca.conftest import EXAMPLE, VENV_BIN, example_doc, toml_text


def _problems(doc: dict[str, Any], tmp_path: Path) -> list[str]:
    with pytest.raises(CeremonyConfigError) as caught:
        parse_ceremony(doc, base_dir=tmp_path, source="test.toml")
    return list(caught.value.problems)


def test_the_example_file_is_valid_and_relative_paths_follow_the_file() -> None:
    config = load_ceremony_config(EXAMPLE)
    assert config.data_dir == (EXAMPLE.parent / "../var").resolve()
    assert config.hsm.pin_source == f"file:{(EXAMPLE.parent / '../var/hsm/zorgid.pin').resolve()}"
    assert config.root.mode is RootMode.SELF_SIGNED
    assert config.key_labels() == ("root-ca", "issuing-ca", "ocsp-responder", "audit-checkpoint")
    assert config.ocsp_responder.validity_days == 30
    assert config.issuing_ca.ocsp_url is None  # nothing answers OCSP for the root's children
    assert config.root.crl_next_update_days == 30


def test_default_dev_ceremony_matches_the_example(tmp_path: Path) -> None:
    settings = HsmSettings(
        module="/usr/lib/softhsm/libsofthsm2.so", token="zorgid", pin_source="env:ZORGID_PIN"
    )
    dev = default_dev_ceremony(tmp_path / "var", settings, "http://pki.zorgid.example")
    example = load_ceremony_config(EXAMPLE)
    assert dev.data_dir == (tmp_path / "var").resolve()
    assert dev.hsm == settings
    assert (dev.root, dev.issuing_ca, dev.ocsp_responder, dev.audit) == (
        example.root,
        example.issuing_ca,
        example.ocsp_responder,
        example.audit,
    )


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (lambda d: d.__setitem__("data_dri", "x"), "data_dri: unknown key"),
        (lambda d: d["root"].__setitem__("validity_day", 1), "root.validity_day: unknown key"),
        (
            lambda d: d["issuing_ca"].__setitem__("ocsp_urls", []),
            "issuing_ca.ocsp_urls: unknown key",
        ),
        (lambda d: d["hsm"].__setitem__("pin", "1234"), "hsm.pin: unknown key"),
        (
            lambda d: d["root"].__setitem__("validity_days", "7300"),
            "root.validity_days: expected a int, got str",
        ),
        (
            lambda d: d["root"].__setitem__("validity_days", True),
            "root.validity_days: expected a int, got bool",
        ),
        (lambda d: d.pop("audit"), "[audit]: missing section"),
        (lambda d: d["ocsp_responder"].pop("key_label"), "ocsp_responder.key_label: missing"),
        (lambda d: d["root"].__setitem__("mode", "selfsigned"), "root.mode: got 'selfsigned'"),
        (lambda d: d["root"].__setitem__("key_spec", "ec-p521"), "root.key_spec: got 'ec-p521'"),
        (lambda d: d["root"].__setitem__("country", "nl"), "root.country: got 'nl'"),
        (
            lambda d: d["root"].__setitem__("common_name", "x" * 65),
            "root.common_name: got 65 characters",
        ),
        (
            lambda d: d["issuing_ca"].__setitem__("ocsp_url", "https://ocsp.zorgid.example/"),
            "issuing_ca.ocsp_url: got scheme 'https'",
        ),
        (
            lambda d: d["issuing_ca"].__setitem__("crl_urls", ["http://crl host/x.crl"]),
            "issuing_ca.crl_urls[0]",
        ),
        (lambda d: d["issuing_ca"].__setitem__("crl_urls", []), "issuing_ca.crl_urls: empty list"),
        (
            lambda d: d["issuing_ca"].__setitem__("ca_issuers_url", "http:///root.cer"),
            "issuing_ca.ca_issuers_url: got 'http:///root.cer' without a host",
        ),
        (
            lambda d: d["issuing_ca"].__setitem__("policy_oids", ["2.5.29.32.0"]),
            "anyPolicy is not allowed",
        ),
        (lambda d: d["issuing_ca"].__setitem__("policy_oids", ["1.2.3", "1.2.3"]), "listed twice"),
        (
            lambda d: d["root"].__setitem__("validity_days", 3000),
            "expected at most root.validity_days",
        ),
        (
            lambda d: d["ocsp_responder"].__setitem__("validity_days", 365),
            "ocsp_responder.validity_days: got 365",
        ),
        (
            lambda d: d["audit"].__setitem__("key_label", "issuing-ca"),
            "audit.key_label: label 'issuing-ca' is also used by issuing_ca.key_label",
        ),
        (lambda d: d["hsm"].__setitem__("pin_source", "1234"), "hsm.pin_source: expected 'file:"),
        (
            lambda d: d["ocsp_responder"].__setitem__("key_label", "bad label"),
            "ocsp_responder.key_label: got 'bad label'",
        ),
        (
            lambda d: d.__setitem__("root", {"mode": "external", "key_label": "r"}),
            "root.key_label: not used when root.mode = 'external'",
        ),
    ],
)
def test_each_problem_is_named_by_its_key_path(change: Any, expected: str, tmp_path: Path) -> None:
    doc = example_doc()
    change(doc)
    problems = _problems(doc, tmp_path)
    assert any(expected in p for p in problems), problems


def test_all_problems_are_reported_at_once_and_no_pin_is_echoed(tmp_path: Path) -> None:
    doc = example_doc()
    doc["root"]["validity_day"] = 1
    doc["issuing_ca"]["ocsp_url"] = "ftp://x.example/"
    doc["ocsp_responder"]["validity_days"] = 0
    doc["hsm"]["pin_source"] = "8472-secret"  # somebody put the PIN itself here
    problems = _problems(doc, tmp_path)
    assert len(problems) == 4, problems
    assert not any("8472-secret" in p for p in problems)
    text = str(CeremonyConfigError("f", problems))
    assert "4 problem(s)" in text and "docs/ceremony.md" in text


def test_urls_may_hold_any_visible_ascii(tmp_path: Path) -> None:
    doc = example_doc()
    doc["issuing_ca"]["crl_urls"] = ["http://pki.zorgid.example:8080/crl/root_g1%2B.crl?x=1&y=~"]
    doc["issuing_ca"]["ocsp_url"] = "http://127.0.0.1:8080/ocsp"
    config = parse_ceremony(doc, base_dir=tmp_path, source="t")
    assert config.issuing_ca.crl_urls[0].endswith("&y=~")
    doc["issuing_ca"]["ocsp_url"] = "http://ocsp.zorgid.example/\u00e9"
    assert any("visible ASCII" in p for p in _problems(doc, tmp_path))


def test_external_root_needs_only_the_mode(tmp_path: Path) -> None:
    doc = example_doc()
    doc["root"] = {"mode": "external"}
    config = parse_ceremony(doc, base_dir=tmp_path, source="t")
    assert config.root.mode is RootMode.EXTERNAL and config.root.key_label is None
    assert config.key_labels() == ("issuing-ca", "ocsp-responder", "audit-checkpoint")


def test_cli_check_exit_codes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ok = subprocess.run(
        [str(VENV_BIN / "zorgid"), "ca", "check", "--config", str(EXAMPLE)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert ok.returncode == 0, ok.stderr
    assert "valid ceremony file" in ok.stdout
    # the rest in-process (same entry point, no interpreter start-up per case)
    doc = example_doc()
    doc["ocsp_responder"]["colour"] = "blue"
    bad_file = tmp_path / "bad.toml"
    bad_file.write_text(toml_text(doc))
    assert cli_main(["ca", "check", "--config", str(bad_file)]) == 2
    assert "ocsp_responder.colour: unknown key" in capsys.readouterr().err
    broken = tmp_path / "broken.toml"
    broken.write_text("data_dir = \n")
    assert cli_main(["ca", "init", "--config", str(broken)]) == 2
    assert "not valid UTF-8 TOML" in capsys.readouterr().err
    assert cli_main(["ca", "init", "--config", str(tmp_path / "absent.toml")]) == 5
    assert "cannot read --config" in capsys.readouterr().err


def test_default_dev_ceremony_takes_the_server_hsm_section(tmp_path: Path) -> None:
    """``zorgid dev`` passes its own ``[hsm]`` (``issuer.config.HsmConfig``) straight in."""
    from issuer.config import HsmConfig, parse_pin_source

    server_hsm = HsmConfig(token="zorgid", pin_source=parse_pin_source("file:pin", tmp_path))
    dev = default_dev_ceremony(tmp_path, server_hsm, "http://127.0.0.1:8080")
    assert dev.hsm == HsmSettings(
        module=str(server_hsm.module), token="zorgid", pin_source=f"file:{tmp_path / 'pin'}"
    )
