"""Typed errors of the key ceremony.

Every message says what was found, what was expected and what the operator
should do next, because a ceremony is run by people reading a terminal under
four-eyes supervision, not by a program that can retry. No message ever
contains a PIN: the ceremony only ever handles the *source* of a PIN
(``file:...`` or ``env:...``), never its value.
"""

from __future__ import annotations

from collections.abc import Sequence


class CeremonyError(Exception):
    """Base of every error raised by :mod:`issuer.ca`."""


class CeremonyConfigError(CeremonyError):
    """The ceremony file is not valid; ``problems`` lists each problem with its key path."""

    def __init__(self, source: str, problems: Sequence[str]) -> None:
        self.source = source
        self.problems = tuple(problems)
        listed = "\n".join(f"  - {p}" for p in self.problems)
        super().__init__(
            f"ceremony file {source} is not valid ({len(self.problems)} problem(s)):\n{listed}\n"
            "Fix the file (see docs/ceremony.md for every field) and run the command again."
        )


class AlreadyExists(CeremonyError):
    """A key or file the ceremony would make exists already; nothing was changed."""


class KeyMismatch(CeremonyError):
    """A certificate's public key is not the public key of the token key it belongs to."""


class LintFailed(CeremonyError):
    """pkilint found a problem at WARNING or above in a certificate before it was signed."""

    def __init__(self, what: str, findings: Sequence[str]) -> None:
        self.what = what
        self.findings = tuple(findings)
        listed = "\n".join(f"  - {f}" for f in self.findings)
        super().__init__(
            f"the {what} certificate fails pkilint (RFC 5280 profile) with "
            f"{len(self.findings)} finding(s) at WARNING or above:\n{listed}\n"
            "Expected no finding. Correct the ceremony file (names, URLs, validity) "
            "or report a bug in the certificate profile."
        )


class ImportRefused(CeremonyError):
    """An externally signed certificate offered for import does not fit this ceremony."""


class CeremonyFailed(CeremonyError):
    """A step failed; everything this run made has been removed again (see ``removed``)."""

    def __init__(
        self, step: str, cause: BaseException, removed: Sequence[str], left: Sequence[str]
    ) -> None:
        self.step = step
        self.removed = tuple(removed)
        self.left = tuple(left)
        text = (
            f"ceremony step '{step}' failed: {type(cause).__name__}: {cause}\n"
            f"Rolled back: {', '.join(self.removed) or 'nothing had been made yet'}."
        )
        if self.left:
            text += (
                "\nCOULD NOT REMOVE (clean these up by hand before running again): "
                + ", ".join(self.left)
            )
        else:
            text += "\nThe token and the data directory are as they were before this run."
        text += "\nFix the cause above and run the command again."
        super().__init__(text)


class CaMaterialError(CeremonyError):
    """The CA certificates in the data directory are missing or do not belong together."""
