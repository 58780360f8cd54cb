"""The import rules of ARCHITECTURE.md §3, checked on the source.

Imports point one way (``issuer -> ocsp -> hsm``, ``issuer -> policies``,
``issuer -> hsm``); only ``hsm`` talks PKCS#11; domain code never imports
``grpc`` (servicers are thin and live in ``issuer/server``). A rule broken
by a new import fails here, naming the file and the import.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("hsm", "policies", "ocsp", "issuer", "testkit")


def _imports(path: Path) -> Iterator[tuple[int, str]]:
    tree = ast.parse(path.read_text(), filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.lineno, node.module


def _sources(package: str) -> list[Path]:
    return sorted(
        p
        for p in (ROOT / package).rglob("*.py")
        if "_pb2" not in p.name and "migrations" not in p.parts
    )


def _violations(
    package: str, forbidden: tuple[str, ...], *, skip: tuple[str, ...] = ()
) -> list[str]:
    found = []
    for path in _sources(package):
        rel = path.relative_to(ROOT).as_posix()
        if rel.startswith(skip):
            continue
        for line, module in _imports(path):
            top = module.split(".")[0]
            if top in forbidden:
                found.append(f"{rel}:{line} imports {module}")
    return found


@pytest.mark.parametrize(
    ("package", "forbidden"),
    [
        ("hsm", ("issuer", "policies", "ocsp", "testkit")),
        ("policies", ("issuer", "hsm", "ocsp", "testkit")),
        ("ocsp", ("issuer", "policies", "testkit")),
    ],
)
def test_imports_point_one_way(package: str, forbidden: tuple[str, ...]) -> None:
    assert _violations(package, forbidden) == []


@pytest.mark.parametrize("package", [p for p in PACKAGES if p != "hsm"])
def test_only_hsm_talks_pkcs11(package: str) -> None:
    assert _violations("hsm", ("pkcs11",)), "the check must see hsm's own pkcs11 imports"
    assert _violations(package, ("pkcs11",)) == []


def test_engine_never_imports_the_test_doubles() -> None:
    # testkit doubles the outside world for tests and the demo; the engine must not lean on it.
    assert _violations("issuer", ("testkit",), skip=("issuer/cli/demo.py",)) == []


def test_domain_code_does_not_import_grpc() -> None:
    # gRPC types stop at the servicer (ARCHITECTURE.md §3): only the server, the generated API,
    # and command-line clients may import grpc.
    allowed = ("issuer/server/", "issuer/api/", "issuer/cli/")
    assert _violations("issuer", ("grpc", "grpc_status", "grpc_health"), skip=allowed) == []
    for package in ("hsm", "policies", "ocsp"):
        assert _violations(package, ("grpc",)) == []
