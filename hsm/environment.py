"""The variables a PKCS#11 module reads when it is loaded (``[hsm.environment]``).

Kept apart from :mod:`hsm.module` so that checking a configuration file loads no PKCS#11.
"""

from __future__ import annotations

import re

_VARIABLE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")


def environment_problem(name: object, value: object) -> str | None:
    """Why ``name = value`` cannot be a module environment variable, or None when it can."""
    if not isinstance(name, str) or not _VARIABLE_NAME.match(name):
        return f"{name!r} is not a variable name (letters, digits, _; not starting with a digit)"
    if not isinstance(value, str):
        return f"expected a string, got {type(value).__name__}"
    if "\0" in value:
        return "contains a NUL character"
    return None
