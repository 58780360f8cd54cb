"""Typed errors of the audit log."""

from __future__ import annotations


class AuditError(Exception):
    """Base of every audit-log error."""


class AuditDetailsError(AuditError):
    """The details of an event cannot be stored as they are.

    Details are hashed in a canonical JSON form (docs/audit.md), so only values
    with one unambiguous encoding are accepted, and they must never carry a
    secret (ARCHITECTURE.md §8: no PINs or tokens in the audit log).
    """


class AuditKeyError(AuditError):
    """The checkpoint key is of a type the audit log cannot sign or verify with."""
