"""All-or-nothing: the journal of what a run made, and the changes that record themselves in it.

Every key generated and every file written or replaced goes through here, so a failure
(an exception, Ctrl-C) can undo exactly this run's changes, in reverse. The other
ceremony modules call these through the module (``rollback.write_new``), so a fault
injected here in a test reaches every step that writes or generates.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Protocol

from hsm import KeySpec
from issuer.ca.errors import (
    AlreadyExists,
    CeremonyError,
    CeremonyFailed,
)
from issuer.ca.material import RECORD_JSON
from issuer.ca.profiles import SigningKey
from issuer.files import PRIVATE_FILE, PUBLIC_FILE, make_private_dir, write_file

Out = Callable[[str], None]
Clock = Callable[[], datetime]


class KeyAttributesView(Protocol):
    """The two PKCS#11 attributes the ceremony insists on (PKCS#11 v2.40 §4.9)."""

    @property
    def sensitive(self) -> bool: ...

    @property
    def extractable(self) -> bool: ...


class CeremonyToken(Protocol):
    """What the ceremony needs of a token; :class:`hsm.Hsm` provides it."""

    def generate_key(self, label: str, spec: KeySpec) -> SigningKey: ...

    def get_key(self, label: str) -> SigningKey: ...

    def has_key(self, label: str) -> bool: ...

    def destroy_key(self, label: str) -> None: ...

    def key_attributes(self, label: str) -> KeyAttributesView: ...


class Journal:
    """Everything this run made, and how to unmake it, in order."""

    def __init__(self, token: CeremonyToken, out: Out) -> None:
        self.token = token
        self.out = out
        self.step = "preflight checks"
        self._undo: list[tuple[str, Callable[[], None]]] = []

    @contextmanager
    def running(self, step: str) -> Iterator[None]:
        self.step = step
        self.out(f"  - {step}")
        yield

    def key_made(self, label: str) -> None:
        self._undo.append((f"token key {label!r}", lambda: self.token.destroy_key(label)))

    def path_made(self, path: Path) -> None:
        if path.is_dir():
            self._undo.append((f"directory {path}", path.rmdir))
        else:
            self._undo.append((f"file {path}", lambda: path.unlink(missing_ok=True)))

    def file_replaced(self, path: Path, old: bytes) -> None:
        def restore() -> None:
            atomic_replace(path, old)

        self._undo.append((f"change to {path} (restored)", restore))

    def rollback(self) -> tuple[list[str], list[str]]:
        removed: list[str] = []
        left: list[str] = []
        for what, undo in reversed(self._undo):
            try:
                undo()
                removed.append(what)
            except Exception as exc:
                left.append(f"{what} ({type(exc).__name__}: {exc})")
        self._undo.clear()
        return removed, left

    def commit(self) -> None:
        self._undo.clear()


@contextmanager
def all_or_nothing(journal: Journal) -> Iterator[None]:
    """Undo the journal on any failure and raise :class:`CeremonyFailed` naming the step."""
    try:
        yield
    except BaseException as exc:
        removed, left = journal.rollback()
        failed = CeremonyFailed(journal.step, exc, removed, left)
        journal.out(f"  FAILED at '{journal.step}'; rolled back {len(removed)} item(s)")
        if not isinstance(exc, Exception):
            raise  # KeyboardInterrupt / SystemExit: rolled back, now let it through
        raise failed from exc
    journal.commit()


def ensure_dir(path: Path, journal: Journal) -> None:
    """Create ``path`` and missing parents (0700: the data folder holds the database),
    journaling each directory this run created."""
    for directory in make_private_dir(path):
        journal.path_made(directory)


def mode_of(path: Path) -> int:
    """The ceremony's files: the record 0600 (it names the token, the key labels and the
    PIN's source: nobody else's business); certificates, the audit public key and the
    CSR 0644 (public material, served over HTTP anyway)."""
    return PRIVATE_FILE if path.name == RECORD_JSON else PUBLIC_FILE


def write_new(path: Path, data: bytes, journal: Journal) -> None:
    """Create ``path`` exclusively (``O_EXCL``): an existing file is never overwritten."""
    ensure_dir(path.parent, journal)
    try:
        write_file(path, data, mode=mode_of(path), exclusive=True)
    except FileExistsError:
        raise AlreadyExists(
            f"{path} appeared while the ceremony ran; expected it absent. Someone else may be "
            "running a ceremony on this data directory: stop and check."
        ) from None
    journal.path_made(path)


def atomic_replace(path: Path, data: bytes) -> None:
    """Write a sibling temp file and rename it over ``path`` (POSIX rename is atomic)."""
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        write_file(tmp, data, mode=mode_of(path), exclusive=False)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def refuse_existing_files(paths: list[Path]) -> None:
    present = [p for p in paths if p.exists()]
    if present:
        raise AlreadyExists(
            "refusing to overwrite: "
            + ", ".join(str(p) for p in present)
            + " exist(s) already; expected none. A ceremony never replaces CA material: "
            "use a new data_dir, or move these files away if they are from a failed test run "
            "(keep them if they are real: they may be the only copy)."
        )


def refuse_existing_keys(token: CeremonyToken, labels: list[str], token_label: str) -> None:
    present = [label for label in labels if token.has_key(label)]
    if present:
        raise AlreadyExists(
            f"refusing to overwrite: key(s) {', '.join(repr(p) for p in present)} exist(s) "
            f"already on token {token_label!r}; expected none. Choose other key_label values "
            "in the ceremony file, or destroy the old keys deliberately (pkcs11-tool "
            "--delete-object) if they belong to an abandoned hierarchy."
        )


def generate(token: CeremonyToken, label: str, spec: str, journal: Journal) -> SigningKey:
    """Generate on the token, journal it at once, and insist it is sensitive and non-extractable."""
    key = token.generate_key(label, KeySpec(spec))
    journal.key_made(label)
    attrs = token.key_attributes(label)
    if not attrs.sensitive or attrs.extractable:
        raise CeremonyError(
            f"token key {label!r} came back with CKA_SENSITIVE={attrs.sensitive}, "
            f"CKA_EXTRACTABLE={attrs.extractable}; expected true/false (ARCHITECTURE §4). "
            "The token or its policy is not fit for CA keys."
        )
    return key
