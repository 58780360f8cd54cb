"""The UZI-pas step (figures 6-8), shared by registration, organisation and attributes."""

from __future__ import annotations

TEXTS: dict[str, dict[str, str]] = {
    "nl": {
        "uzi_heading": "UZI-pas",
        "uzi_intro": (
            "Start de ZORG-ID Desktop App op deze computer en plaats uw UZI-pas in de lezer."
        ),
        "uzi_code_intro": (
            "Voer in de Desktop App deze verbindingscode in en accepteer het verbindingsverzoek:"
        ),
        "uzi_code_label": "Verbindingscode",
        "uzi_connect_url": "Verbindingsadres voor de Desktop App",
        "uzi_open_desktop": "Open de ZORG-ID Desktop App",
        "uzi_waiting": "Wachten op de Desktop App…",
        "uzi_verified": "Uw UZI-pas is gecontroleerd. U gaat verder…",
        "uzi_refused": "Uw UZI-pas is niet geaccepteerd.",
        "uzi_expired": "De verbindingscode is verlopen. Klik op Verversen voor een nieuwe code.",
        "uzi_refresh": "Verversen",
        "uzi_refresh_help": "Verversen maakt een nieuwe verbindingscode; de oude vervalt.",
    },
    "en": {
        "uzi_heading": "UZI card",
        "uzi_intro": (
            "Start the ZORG-ID Desktop App on this computer and insert your UZI card in the reader."
        ),
        "uzi_code_intro": (
            "Enter this connection code in the Desktop App and accept the connection request:"
        ),
        "uzi_code_label": "Connection code",
        "uzi_connect_url": "Connection address for the Desktop App",
        "uzi_open_desktop": "Open the ZORG-ID Desktop App",
        "uzi_waiting": "Waiting for the Desktop App…",
        "uzi_verified": "Your UZI card has been checked. Continuing…",
        "uzi_refused": "Your UZI card was not accepted.",
        "uzi_expired": "The connection code has expired. Click Refresh for a new code.",
        "uzi_refresh": "Refresh",
        "uzi_refresh_help": "Refresh makes a new connection code; the old one stops working.",
    },
}
