"""Private files 0600, folders 0700, whatever the umask (issue 16 item 12).

The attack: ``make run`` left the database, its WAL and the configuration
world-readable (0644) under a world-readable folder, so any local user could
read tokens' digests, the audit log and every stored certificate request.
Certificates, public keys and CSRs are public by nature and may be 0644;
everything else the engine creates is 0600, and every folder 0700.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography import x509

from issuer.store import create_engine_for, upgrade
from issuer.store.migrate import make_sqlite_folder
from issuer.store.transactions import write_transaction
from tests.dev.test_make_run import Engine, _free_port

PUBLIC_PEM = (b"CERTIFICATE", b"PUBLIC KEY", b"CERTIFICATE REQUEST", b"X509 CRL")


def _is_public(path: Path) -> bool:
    """A PEM file of certificates, public keys or CSRs only, or a DER CRL (the root's,
    ``ca/root.crl``, served as is): public material."""
    data = path.read_bytes()
    if path.suffix == ".crl":
        try:
            x509.load_der_x509_crl(data)
        except ValueError:
            return False
        return True
    labels = [line[11:-5] for line in data.splitlines() if line.startswith(b"-----BEGIN ")]
    return bool(labels) and all(label in PUBLIC_PEM for label in labels)


def _too_open(root: Path) -> list[str]:
    """Every folder and non-public file under (and including) ``root`` readable by others."""
    found = []
    for path in [root, *sorted(root.rglob("*"))]:
        mode = stat.S_IMODE(path.lstat().st_mode)
        if path.is_symlink() or not mode & 0o077:
            continue
        if path.is_file() and _is_public(path):
            continue
        found.append(f"{path.relative_to(root.parent)} {mode:04o}")
    return found


@pytest.fixture
def umask_022() -> Iterator[None]:
    old = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(old)


@pytest.mark.parametrize("umask", [0o022, 0o000])
def test_the_database_its_wal_and_its_folder_are_private(tmp_path: Path, umask: int) -> None:
    old = os.umask(umask)
    try:
        folder = tmp_path / "data"
        engine = create_engine_for(f"sqlite:///{folder / 'db' / 'zorgid.sqlite3'}")
        make_sqlite_folder(engine)
        upgrade(engine)
        with write_transaction(engine) as conn:  # the writer-lock file, a WAL write
            conn.exec_driver_sql("CREATE TABLE probe (x INTEGER)")
        with engine.connect() as conn:  # held open: the -wal and -shm files exist
            made = {p.name for p in (folder / "db").iterdir()}
            assert {"zorgid.sqlite3-wal", "zorgid.sqlite3-shm"} <= made, made
            assert "zorgid.sqlite3.writer-lock" in made, made
            assert _too_open(folder / "db") == []
        engine.dispose()
    finally:
        os.umask(old)


def test_make_run_creates_private_files_and_folders(tmp_path: Path, umask_022: None) -> None:
    """``zorgid dev`` (``make run``) started with umask 022, checked while it serves."""
    root = tmp_path / "var"
    engine = Engine(root, _free_port())
    try:
        engine.wait_ready(timeout=180)
        names = {p.name for p in root.rglob("*")}
        assert {"zorgid.toml", "zorgid.sqlite3", "ceremony.json"} <= names, sorted(names)
        assert _too_open(root) == []
    finally:
        assert engine.stop() == 0
