"""The portal's words, Dutch first with English beside it: one module per screen group.

Each module holds ``TEXTS = {"nl": {...}, "en": {...}}``; they are merged here once, and
a key given twice, or in one language only, stops the portal at import.
"""

from __future__ import annotations

from portal.texts import common, login, organisation, problems, registration, smartcard, uzi

LANGUAGES = ("nl", "en")


def _merged(*parts: dict[str, dict[str, str]]) -> dict[str, dict[str, str]]:
    merged: dict[str, dict[str, str]] = {lang: {} for lang in LANGUAGES}
    for part in parts:
        if set(part["nl"]) != set(part["en"]):
            raise RuntimeError(f"texts in one language only: {set(part['nl']) ^ set(part['en'])}")
        for lang in LANGUAGES:
            twice = set(merged[lang]) & set(part[lang])
            if twice:
                raise RuntimeError(f"texts defined twice: {sorted(twice)}")
            merged[lang] |= part[lang]
    return merged


TEXTS = _merged(
    common.TEXTS,
    login.TEXTS,
    uzi.TEXTS,
    registration.TEXTS,
    organisation.TEXTS,
    smartcard.TEXTS,
    problems.TEXTS,
)
