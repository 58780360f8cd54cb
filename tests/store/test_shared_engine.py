"""One engine a process for one database URL: the server's services share its pool."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import sqlalchemy as sa

from issuer.store import shared_engine


def test_one_url_one_engine_in_a_process(tmp_path: Path) -> None:
    first_url = f"sqlite:///{tmp_path / 'a.sqlite3'}"
    first = shared_engine(first_url)
    assert shared_engine(first_url) is first
    other = shared_engine(f"sqlite:///{tmp_path / 'b.sqlite3'}")
    assert other is not first
    with first.connect() as conn:  # a working engine, made with the engine's set-up
        assert conn.execute(sa.text("PRAGMA journal_mode")).scalar() == "wal"


def test_a_forked_child_gets_an_engine_of_its_own(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"sqlite:///{tmp_path / 'a.sqlite3'}"
    parents = shared_engine(url)
    parent = os.getpid()
    monkeypatch.setattr(os, "getpid", lambda: parent + 1)  # as seen in a forked child
    childs = shared_engine(url)
    monkeypatch.undo()
    assert childs is not parents
    assert shared_engine(url) is parents


def test_an_engine_no_service_uses_any_more_is_let_go(tmp_path: Path) -> None:
    """Held weakly: a test's or a stopped server's engine does not live on in the registry."""
    import gc
    import weakref

    url = f"sqlite:///{tmp_path / 'a.sqlite3'}"
    gone = weakref.ref(shared_engine(url))
    gc.collect()
    assert gone() is None
    assert shared_engine(url) is not None
