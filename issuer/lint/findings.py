"""The one result type of every lint: a finding with a stable code."""

from __future__ import annotations

import enum
from dataclasses import dataclass


class Severity(enum.IntEnum):
    """pkilint's severities, most severe first (lower is worse)."""

    FATAL = 0
    ERROR = 1
    WARNING = 2
    NOTICE = 3
    INFO = 4
    DEBUG = 5


@dataclass(frozen=True, kw_only=True)
class Finding:
    """One broken (or noted) requirement.

    ``code`` is stable (pkilint's own code, or ``zorgid.<check>`` for the
    fast lint); ``rule`` cites the requirement; ``message`` says what was found
    and what was expected.
    """

    code: str
    severity: Severity
    message: str
    rule: str = ""

    def __str__(self) -> str:
        rule = f" [{self.rule}]" if self.rule else ""
        return f"{self.severity.name} {self.code}{rule}: {self.message}"


class LintError(ValueError):
    """A certificate or profile failed linting; it must not be signed."""

    def __init__(self, findings: list[Finding], what: str) -> None:
        self.findings = tuple(findings)
        listed = "; ".join(str(f) for f in findings[:5])
        more = f" (+{len(findings) - 5} more)" if len(findings) > 5 else ""
        super().__init__(
            f"{what} failed linting with {len(findings)} finding(s): {listed}{more}. "
            "Fix the profile/policy or the attributes; nothing was signed."
        )
