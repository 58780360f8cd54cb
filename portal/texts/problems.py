"""Texts of §7 "Probleemoplossing" and of the error page's explanation."""

from __future__ import annotations

TEXTS: dict[str, dict[str, str]] = {
    "nl": {
        "prob_link": "Probleemoplossing",
        "prob_heading": "Probleemoplossing",
        "prob_intro": (
            "Elke foutmelding van ZORG-ID heeft een code. Zoek de code hieronder op: u ziet "
            "wat er misging en wat u kunt doen."
        ),
        "prob_cause": "Oorzaak",
        "prob_solution": "Oplossing",
        "prob_status": "gRPC-status",
        "prob_retired": "vervallen: deze code wordt niet meer gegeven",
        "prob_see": "Zie Probleemoplossing voor deze code",
        "prob_count": "codes",
    },
    "en": {
        "prob_link": "Troubleshooting",
        "prob_heading": "Troubleshooting",
        "prob_intro": (
            "Every error message of ZORG-ID has a code. Look the code up below: you see what "
            "went wrong and what you can do."
        ),
        "prob_cause": "Cause",
        "prob_solution": "Solution",
        "prob_status": "gRPC status",
        "prob_retired": "retired: this code is no longer given",
        "prob_see": "See Troubleshooting for this code",
        "prob_count": "codes",
    },
}
