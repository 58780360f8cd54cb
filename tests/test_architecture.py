"""The import rules of ARCHITECTURE.md §3, checked on the source.

Imports point one way (``issuer -> ocsp -> hsm``, ``issuer -> policies``,
``issuer -> hsm``); only ``hsm`` talks PKCS#11; domain code never imports
``grpc`` (servicers are thin and live in ``issuer/server``). A rule broken
by a new import fails here, naming the file and the import.
"""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("hsm", "policies", "ocsp", "issuer", "testkit", "portal", "devapps")


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
        ("hsm", ("issuer", "policies", "ocsp", "testkit", "devapps")),
        ("policies", ("issuer", "hsm", "ocsp", "testkit", "devapps")),
        ("ocsp", ("issuer", "policies", "testkit", "devapps")),
        # the development companions stand in for the outside world: nothing leans on them
        ("issuer", ("devapps",)),
        ("testkit", ("devapps",)),
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


# One vocabulary (issue 17): each of these names is defined in exactly one module; everyone
# else imports it. A second class, NewType or alias of the same name is a second meaning.
DEFINED_ONCE = {
    "issuer/uzi_vocabulary.py": (
        "UziNumber",
        "Ura",
        "RoleCode",
        "AgbCode",
        "CaOid",
        "CardType",
        "UziName",
        "UziNameError",
        "parse_uzi_name",
        "format_uzi_name",
        "read_uzi_other_name",
    ),
    "hsm/uri.py": ("PinSource",),
}
# A wrapper that only gives the vocabulary's refusal its own error code keeps the name.
WRAPPERS = {("issuer/uzi/card.py", "parse_uzi_name")}


def _definitions(path: Path) -> Iterator[tuple[int, str]]:
    """Names a module defines: classes, functions and assignments, at any depth."""
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            yield node.lineno, node.name
        elif isinstance(node, ast.Assign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                if isinstance(target, ast.Name):
                    yield node.lineno, target.id


def _grammar_literals(path: Path) -> Iterator[tuple[int, str]]:
    """The UZI grammar written out again: the otherName OID or the SAN string's regex."""
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if not isinstance(node, ast.Constant) or not isinstance(node.value, str):
            continue
        if node.value == "2.5.5.5" or "(?P<ura>" in node.value:
            yield node.lineno, node.value


def _second_definitions(packages: tuple[str, ...] = PACKAGES) -> list[str]:
    homes = {name: home for home, names in DEFINED_ONCE.items() for name in names}
    found = []
    for package in packages:
        for path in _sources(package):
            rel = path.relative_to(ROOT).as_posix()
            for line, name in _definitions(path):
                home = homes.get(name)
                if home is not None and home != rel and (rel, name) not in WRAPPERS:
                    found.append(f"{rel}:{line} defines {name} (defined once in {home})")
            if rel != "issuer/uzi_vocabulary.py":
                for line, text in _grammar_literals(path):
                    found.append(f"{rel}:{line} writes the UZI grammar {text!r} again")
    return found


def test_uzi_vocabulary_and_pin_source_are_defined_once() -> None:
    for home, names in DEFINED_ONCE.items():
        defined = {name for _, name in _definitions(ROOT / home)}
        assert set(names) <= defined, f"{home} must define {sorted(set(names) - defined)}"
    assert _second_definitions() == []


def test_uzi_vocabulary_imports_neither_side() -> None:
    # profile/ and uzi/ both import the vocabulary; it imports neither, so imports stay one way.
    vocabulary = ROOT / "issuer" / "uzi_vocabulary.py"
    assert [m for _, m in _imports(vocabulary) if m.startswith("issuer")] == []


def test_the_vocabulary_is_imported_from_its_home() -> None:
    # Importing UziNumber through issuer.profile.attributes would work and hide where the
    # name lives; users import it from its one module (or a wrapper's, see WRAPPERS).
    homes: dict[str, set[str]] = {"PinSource": {"hsm", "hsm.uri"}}
    for name in DEFINED_ONCE["issuer/uzi_vocabulary.py"]:
        homes[name] = {"issuer.uzi_vocabulary"}
    for rel, name in WRAPPERS:
        homes[name].add(rel.removesuffix(".py").replace("/", "."))
    found = []
    for package in (*PACKAGES, "tests", "bench"):
        for path in _sources(package):
            for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
                if not isinstance(node, ast.ImportFrom) or node.module is None:
                    continue
                for alias in node.names:
                    if alias.name in homes and node.module not in homes[alias.name]:
                        rel = path.relative_to(ROOT).as_posix()
                        found.append(f"{rel}:{node.lineno} imports {alias.name} from {node.module}")
    assert found == []


# Typed error codes (issue 17): ``ZorgIdError`` takes a ``Code``; the enum and the catalogue
# are the same set, so neither can name a code the other does not know.
def test_every_code_member_is_catalogued_and_every_entry_has_a_member() -> None:
    from issuer.errors import CATALOGUE, Code

    members = {member.value: name for name, member in Code.__members__.items()}
    assert set(members) == set(CATALOGUE), "issuer/errors/codes.py and the tables disagree"
    assert all(name == code.replace("-", "_") for code, name in members.items())


def test_a_mistyped_error_code_fails_mypy(tmp_path: Path) -> None:
    # The point of ``Code``: a code nobody catalogued is refused before the engine runs.
    snippet = tmp_path / "raise_sites.py"
    snippet.write_text(
        "from issuer.errors import Code, ZorgIdError\n"
        "\n"
        'GOOD = ZorgIdError(Code.ZID_1803, "x")\n'
        'BAD = ZorgIdError("ZID-9999", "x")\n'
    )
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "mypy",
            "--config-file",
            str(ROOT / "pyproject.toml"),
            "--cache-dir",
            str(tmp_path / "mypy-cache"),
            str(snippet),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    errors = [line for line in result.stdout.splitlines() if ": error:" in line]
    assert result.returncode == 1, result.stdout + result.stderr
    assert len(errors) == 1 and "raise_sites.py:4:" in errors[0], errors
    assert 'incompatible type "str"; expected "Code"' in errors[0], errors


# The storage boundary (issue 17): SQL is written in ``issuer/store/`` only. Everyone else
# holds ``issuer.store.Engine``/``Connection`` and calls a repository.


def _sql_imports(path: Path) -> list[str]:
    """SQLAlchemy, or the table definitions, imported by *path*."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names = [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [(node.lineno, node.module)]
            if node.module == "issuer.store":
                names += [(node.lineno, "issuer.store." + a.name) for a in node.names]
        else:
            continue
        for line, module in names:
            if module.split(".")[0] in ("sqlalchemy", "alembic") or module.startswith(
                "issuer.store.schema"
            ):
                found.append(f"{line} imports {module}")
    return found


def _outside_the_store() -> dict[str, list[str]]:
    found = {}
    for path in _sources("issuer"):
        rel = path.relative_to(ROOT).as_posix()
        if rel.startswith("issuer/store/"):
            continue
        hits = _sql_imports(path)
        if hits:
            found[rel] = hits
    return found


def test_sql_is_written_in_the_store_only() -> None:
    assert _outside_the_store() == {}


def test_the_store_boundary_check_sees_a_violation(tmp_path: Path) -> None:
    bad = tmp_path / "flow.py"
    bad.write_text("import sqlalchemy as sa\nfrom issuer.store.schema import certificates\n")
    assert _sql_imports(bad) == ["1 imports sqlalchemy", "2 imports issuer.store.schema"]
    ok = tmp_path / "ok.py"
    ok.write_text("from issuer.store import Engine\n")
    assert _sql_imports(ok) == []


# One composition root (issue 17): only ``issuer/wiring.py`` opens the HSM.
ROOT_MODULE = "issuer/wiring.py"


def _opens_hsm(path: Path) -> bool:
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if (
            isinstance(node, ast.Attribute)
            and node.attr == "open"
            and isinstance(node.value, ast.Name)
            and node.value.id == "Hsm"
        ):
            return True
    return False


def test_only_the_composition_root_opens_the_hsm(tmp_path: Path) -> None:
    opening = {
        p.relative_to(ROOT).as_posix()
        for package in ("issuer", "ocsp", "policies")
        for p in _sources(package)
        if _opens_hsm(p)
    }
    assert opening == {ROOT_MODULE}
    bad = tmp_path / "x.py"
    bad.write_text("hsm = Hsm.open(uri)\n")
    assert _opens_hsm(bad)


# One strict TOML reader (issue 17): config, policy and ceremony files are read by
# ``policies.strict_toml`` only, so UTF-8 and duplicate-key refusals are the same for all.
TOML_READER = "policies/strict_toml.py"


def _toml_readers(paths: list[Path]) -> list[str]:
    return [
        f"{path.name}:{line}"
        for path in paths
        for line, module in _imports(path)
        if module.split(".")[0] == "tomllib" and path != ROOT / TOML_READER
    ]


def test_only_the_strict_reader_parses_toml(tmp_path: Path) -> None:
    assert _toml_readers([p for package in PACKAGES for p in _sources(package)]) == []
    assert any(m == "tomllib" for _, m in _imports(ROOT / TOML_READER))
    bad = tmp_path / "config.py"
    bad.write_text("import tomllib\n")
    assert _toml_readers([bad]) == ["config.py:1"]


# Servicers are protobuf <-> domain only (issue 17): what they serve is built by the
# composition root and handed in, so a servicer module reaches no table and no engine.
def _store_imports(path: Path) -> list[str]:
    """Anything of ``issuer.store`` imported by *path*."""
    return [
        f"{line} imports {module}"
        for line, module in _imports(path)
        if module == "issuer.store" or module.startswith("issuer.store.")
    ]


def test_servicer_modules_import_nothing_from_the_store(tmp_path: Path) -> None:
    found = {
        p.relative_to(ROOT).as_posix(): _store_imports(p)
        for p in sorted((ROOT / "issuer" / "server").glob("*_service.py"))
    }
    assert {rel: hits for rel, hits in found.items() if hits} == {}
    bad = tmp_path / "thing_service.py"
    bad.write_text("from issuer.store import shared_engine\nimport issuer.store.schema\n")
    assert _store_imports(bad) == ["1 imports issuer.store", "2 imports issuer.store.schema"]


def test_the_server_front_end_loads_no_pkcs11() -> None:
    # The composition root imports the server, not the other way: the server module
    # builds no runtime, so importing it (tools, tests, health) loads no PKCS#11.
    code = "import issuer.server.app, sys; assert 'pkcs11' not in sys.modules"
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr


# Files of one concern (issue 17): no module over about 600 lines (generated code aside).
MAX_LINES = 600


def _too_long(paths: list[Path]) -> list[str]:
    return [p.name for p in paths if len(p.read_text().splitlines()) > MAX_LINES]


def test_no_module_is_over_about_600_lines(tmp_path: Path) -> None:
    assert _too_long([p for package in PACKAGES for p in _sources(package)]) == []
    bad = tmp_path / "everything.py"
    bad.write_text("x = 1\n" * (MAX_LINES + 1))
    assert _too_long([bad]) == ["everything.py"]


# Names imported from their home (issue 17): a module that moved code out does not keep
# re-exporting it, so each name has one import path and a reader finds where it lives.
NO_REEXPORTS = (
    "issuer/issuance/cycle.py",
    "issuer/flows/organisations.py",
    "issuer/uzi/verify.py",
    "issuer/lint/fast.py",
    "hsm/token.py",
)


def _reexports(path: Path) -> list[str]:
    """Names *path* exports without defining: in ``__all__``, or ``import X as X``."""
    tree = ast.parse(path.read_text(), filename=str(path))
    defined, exported, aliased = set(), [], []
    for node in tree.body:
        if isinstance(node, ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            defined.add(node.name)
        elif isinstance(node, ast.Assign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names = {t.id for t in targets if isinstance(t, ast.Name)}
            defined |= names
            if "__all__" in names and node.value is not None:
                exported = list(ast.literal_eval(node.value))
        elif isinstance(node, ast.Import | ast.ImportFrom):
            aliased += [a.name for a in node.names if a.asname == a.name]
    return sorted({name for name in exported if name not in defined} | set(aliased))


def test_moved_names_are_not_reexported(tmp_path: Path) -> None:
    assert {rel: _reexports(ROOT / rel) for rel in NO_REEXPORTS if _reexports(ROOT / rel)} == {}
    bad = tmp_path / "shim.py"
    bad.write_text(
        "from issuer.issuance.records import Actor\n"
        "from issuer.uzi.checks import SignatureScheme as SignatureScheme\n"
        "class Cycle: ...\n"
        "__all__ = ['Actor', 'Cycle']\n"
    )
    assert _reexports(bad) == ["Actor", "SignatureScheme"]


# The reference portal (issue 20) proves the public API is enough: it reaches the engine
# through the generated stubs only, never its internals, and otherwise uses the standard
# library and a few well-kept libraries.
PORTAL_LIBRARIES = ("aiohttp", "jinja2", "segno", "grpc", "google.rpc", "google.protobuf")
GENERATED_STUB = re.compile(r"^issuer\.api\.zorgid\.v1\.\w+_pb2(_grpc)?$")


def _portal_imports(path: Path) -> Iterator[tuple[int, str]]:
    """Like :func:`_imports`, but ``from package import module`` names the module."""
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.ImportFrom) and node.module == "issuer.api.zorgid.v1":
            for alias in node.names:
                yield node.lineno, f"{node.module}.{alias.name}"
        elif isinstance(node, ast.Import | ast.ImportFrom):
            yield from _imports_of(node)


def _imports_of(node: ast.Import | ast.ImportFrom) -> Iterator[tuple[int, str]]:
    if isinstance(node, ast.Import):
        for alias in node.names:
            yield node.lineno, alias.name
    elif node.module and node.level == 0:
        yield node.lineno, node.module


def _portal_violations(paths: list[Path]) -> list[str]:
    found = []
    for path in paths:
        for line, module in _portal_imports(path):
            top = module.split(".")[0]
            allowed = (
                top in sys.stdlib_module_names
                or top == "portal"
                or top == "__future__"
                or GENERATED_STUB.match(module)
                or any(module == lib or module.startswith(lib + ".") for lib in PORTAL_LIBRARIES)
            )
            if not allowed:
                found.append(f"{path.name}:{line} imports {module}")
    return found


def test_the_portal_imports_only_the_generated_stubs(tmp_path: Path) -> None:
    sources = _sources("portal")
    assert sources, "the check must see the portal's modules"
    assert _portal_violations(sources) == []
    bad = tmp_path / "reach.py"
    bad.write_text(
        "from issuer.api.zorgid.v1 import login_pb2\n"
        "from issuer.api.zorgid.v1 import helpers\n"
        "import issuer.api.zorgid.v1.login_pb2_grpc\n"
        "from issuer.flows.login import login_message\n"
        "from issuer.api.zorgid.v1.login_pb2 import LoginState\n"
        "import testkit.phone\n"
    )
    assert _portal_violations([bad]) == [
        "reach.py:2 imports issuer.api.zorgid.v1.helpers",
        "reach.py:4 imports issuer.flows.login",
        "reach.py:6 imports testkit.phone",
    ]
