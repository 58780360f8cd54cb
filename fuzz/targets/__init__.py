"""The fuzz targets: each module's ``build(work)`` returns its one-input function.

The function raises only for a crash (:mod:`fuzz.refusals`); ``work`` is the work
folder of :mod:`fuzz.env` for the targets that need the engine's state.
"""

from __future__ import annotations

TARGETS = (
    "csr_checker",
    "uzi_card",
    "ocsp_request",
    "ocsp_http",
    "policy_toml",
    "login_answer",
    "grpc_servicers",
)
"""In the order ``make fuzz`` runs them: the pure parsers first."""
