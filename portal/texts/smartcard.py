"""Texts of §6 "Smartcard aanmaken" and the overview's smartcard block."""

from __future__ import annotations

TEXTS: dict[str, dict[str, str]] = {
    "nl": {
        "sc_heading": "Smartcard aanmaken",
        "sc_start": "Smartcard aanmaken",
        "sc_intro": (
            "Plaats een lege ZORG-ID smartcard in de kaartlezer en open de Desktop App. "
            "De Desktop App maakt de sleutels op de kaart; de certificaten komen van ZORG-ID."
        ),
        "sc_code_label": "Koppelcode",
        "sc_connect_label": "Koppeladres voor de Desktop App",
        "sc_open_desktop_app": "Open de Desktop App",
        "sc_valid_until": "Geldig tot",
        "sc_waiting": "Wachten op de Desktop App…",
        "sc_connected": "De Desktop App is verbonden; de sleutels worden op de kaart gemaakt.",
        "sc_expired": "De koppelcode is verlopen. Begin opnieuw vanuit het overzicht.",
        "sc_done_heading": "Uw smartcard is klaar",
        "sc_done_intro": (
            "ZORG-ID heeft de certificaten uitgegeven; de Desktop App zette ze op de kaart."
        ),
        "sc_not_found": "Deze smartcard staat (nog) niet in uw overzicht.",
        "sc_card": "Smartcard",
        "sc_state": "Status",
        "sc_state_issuing": "Wordt uitgegeven",
        "sc_state_active": "Actief",
        "sc_state_revoked": "Ingetrokken",
        "sc_state_superseded": "Vervangen",
        "sc_slot": "Sleutel",
        "sc_slot_authentication": "Authenticatie",
        "sc_slot_non-repudiation": "Handtekening",
        "sc_slot_encryption": "Versleuteling",
        "sc_serial": "Serienummer",
        "sc_valid_to": "Geldig tot",
        "sc_my_cards": "Mijn smartcards",
        "sc_none": "U heeft nog geen smartcard.",
        "sc_loading": "Smartcards worden geladen…",
        "sc_made_at": "aangemaakt",
        "sc_certificates": "certificaten",
        "sc_back_overview": "Terug naar het overzicht",
    },
    "en": {
        "sc_heading": "Create a smartcard",
        "sc_start": "Create a smartcard",
        "sc_intro": (
            "Put a blank ZORG-ID smartcard in the card reader and open the Desktop App. "
            "The Desktop App makes the keys on the card; the certificates come from ZORG-ID."
        ),
        "sc_code_label": "Connection code",
        "sc_connect_label": "Connection address for the Desktop App",
        "sc_open_desktop_app": "Open the Desktop App",
        "sc_valid_until": "Valid until",
        "sc_waiting": "Waiting for the Desktop App…",
        "sc_connected": "The Desktop App is connected; the keys are being made on the card.",
        "sc_expired": "The connection code has expired. Start again from the overview.",
        "sc_done_heading": "Your smartcard is ready",
        "sc_done_intro": "ZORG-ID issued the certificates; the Desktop App put them on the card.",
        "sc_not_found": "This smartcard is not (yet) in your overview.",
        "sc_card": "Smartcard",
        "sc_state": "State",
        "sc_state_issuing": "Being issued",
        "sc_state_active": "Active",
        "sc_state_revoked": "Revoked",
        "sc_state_superseded": "Replaced",
        "sc_slot": "Key",
        "sc_slot_authentication": "Authentication",
        "sc_slot_non-repudiation": "Signature",
        "sc_slot_encryption": "Encryption",
        "sc_serial": "Serial number",
        "sc_valid_to": "Valid until",
        "sc_my_cards": "My smartcards",
        "sc_none": "You have no smartcard yet.",
        "sc_loading": "Loading smartcards…",
        "sc_made_at": "created",
        "sc_certificates": "certificates",
        "sc_back_overview": "Back to the overview",
    },
}
