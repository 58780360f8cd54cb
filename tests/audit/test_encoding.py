"""Canonical details: one encoding per value, and no secrets."""

from __future__ import annotations

import pytest

from issuer.audit import AuditDetailsError, canonical_details


def test_canonical_form_is_sorted_ascii_and_compact() -> None:
    text = canonical_details({"b": [1, True, None], "a": {"z": "é", "y": "x"}})
    assert text == '{"a":{"y":"x","z":"\\u00e9"},"b":[1,true,null]}'


@pytest.mark.parametrize(
    ("details", "fragment"),
    [
        ({"ratio": 0.5}, "hold a float at details.ratio"),
        ({"raw": b"\x00"}, "hold a bytes at details.raw"),
        ({"pin": "1234"}, "details.pin looks like a secret"),
        ({"enrolment_token": "abc"}, "details.enrolment_token looks like a secret"),
        ({"inner": {"session_handle": "abc"}}, "details.inner.session_handle looks like"),
        ({"inner": [{"PASSWORD": "x"}]}, "details.inner[0].PASSWORD looks like"),
    ],
)
def test_refused_details_say_what_and_how(details: dict[str, object], fragment: str) -> None:
    with pytest.raises(AuditDetailsError, match="expected") as info:
        canonical_details(details)  # type: ignore[arg-type]
    assert fragment in str(info.value)


def test_digests_of_secrets_are_fine() -> None:
    text = canonical_details({"token_sha256": "ab" * 32, "pinned": False, "spinner": 1})
    assert "token_sha256" in text


def test_deep_nesting_is_refused() -> None:
    deep: dict[str, object] = {}
    node = deep
    for _ in range(20):
        node["x"] = {}
        node = node["x"]  # type: ignore[assignment]
    with pytest.raises(AuditDetailsError, match="nest deeper"):
        canonical_details(deep)  # type: ignore[arg-type]
