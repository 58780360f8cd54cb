"""The .proto files: buf lint, conventions, and generated code without drift."""

from __future__ import annotations

import importlib.util
import re
import shutil
import subprocess
import sys
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
PROTOS = sorted((ROOT / "proto").rglob("*.proto"))


def _gen_proto() -> ModuleType:
    spec = importlib.util.spec_from_file_location("gen_proto", ROOT / "scripts" / "gen_proto.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_buf_lint_passes() -> None:
    done = subprocess.run(
        [str(BIN / "buf"), "lint"], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_generated_code_matches_the_protos() -> None:
    done = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "gen_proto.py"), "--check"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr


def test_check_reports_a_changed_and_a_stale_file(tmp_path: Path) -> None:
    gen = _gen_proto()
    fresh, committed = tmp_path / "fresh", tmp_path / "committed"
    gen.generate(fresh)
    shutil.copytree(fresh, committed)
    assert gen.drift(fresh, committed) == []
    pb2 = committed / "zorgid" / "v1" / "ca_pb2.py"
    pb2.write_text(pb2.read_text() + "# edited by hand\n")
    (committed / "zorgid" / "v1" / "gone_pb2.py").write_text("")
    problems = gen.drift(fresh, committed)
    assert any(p.startswith("differs:") and p.endswith("zorgid/v1/ca_pb2.py") for p in problems)
    assert any(p.startswith("stale") and p.endswith("zorgid/v1/gone_pb2.py") for p in problems)


def test_generated_imports_resolve_inside_issuer_api() -> None:
    grpc_module = ROOT / "issuer" / "api" / "zorgid" / "v1" / "ca_pb2_grpc.py"
    text = grpc_module.read_text()
    assert "from issuer.api.zorgid.v1 import ca_pb2" in text
    assert not re.search(r"^from zorgid\.", text, flags=re.MULTILINE)
    from issuer.api.zorgid.v1 import ca_pb2_grpc

    assert hasattr(ca_pb2_grpc, "CaServiceStub")


def _messages(text: str) -> list[tuple[str, str]]:
    """(name, body) of each message, nested ones included, comments kept."""
    found = []
    for match in re.finditer(r"\bmessage\s+(\w+)\s*\{", text):
        depth, i = 1, match.end()
        while depth:
            depth += {"{": 1, "}": -1}.get(text[i], 0)
            i += 1
        found.append((match.group(1), text[match.end() : i - 1]))
    return found


def test_every_message_states_its_next_unused_field_number() -> None:
    assert PROTOS
    for proto in PROTOS:
        for name, body in _messages(proto.read_text()):
            own = re.sub(r"\bmessage\s+\w+\s*\{.*?\}", "", body, flags=re.DOTALL)
            declared = re.search(r"//\s*Next unused field number:\s*(\d+)", own)
            assert declared, f"{proto.name}: message {name} lacks '// Next unused field number: N'"
            code = re.sub(r"//[^\n]*", "", own)
            used = [int(n) for n in re.findall(r"=\s*(\d+)\s*[;\[]", code)]
            for numbers in re.findall(r"\breserved\s+([\d\s,to]+);", code):
                used += [int(n) for n in re.findall(r"\d+", numbers)]
            assert int(declared.group(1)) == max(used, default=0) + 1, (
                f"{proto.name}: {name} says next is {declared.group(1)}, "
                f"but the highest used or reserved number is {max(used, default=0)}"
            )
