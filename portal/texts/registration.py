"""Manual §3 "Registreren" (figures 5, 9-15): terms, card data, date of birth, the QR."""

from __future__ import annotations

TEXTS: dict[str, dict[str, str]] = {
    "nl": {
        "reg_link_intro": "Nog geen ZORG-ID op uw telefoon?",
        "reg_link": "Registreren",
        "reg_heading": "Registreren",
        "reg_terms_heading": "Gebruiksvoorwaarden",
        "reg_terms_version": "Versie",
        "reg_terms_agree": "Ik ga akkoord met de gebruiksvoorwaarden",
        "reg_terms_missing": "Vink aan dat u akkoord gaat om verder te gaan.",
        "reg_next": "Volgende",
        "reg_card_heading": "Gegevens van uw UZI-pas",
        "reg_card_intro": "Deze gegevens komen van uw UZI-pas. Klopt dit?",
        "reg_given_name": "Voornaam",
        "reg_surname": "Achternaam",
        "reg_birth_heading": "Geboortedatum",
        "reg_birth_label": "Geboortedatum (dd-mm-jjjj)",
        "reg_birth_picker": "Of kies de datum in de kalender",
        "reg_birth_help": "Bijvoorbeeld 23-04-1980.",
        "reg_summary_heading": "Samenvatting",
        "reg_summary_intro": (
            "Controleer uw gegevens. Na Bevestigen worden ze vastgelegd en kunt u ze niet "
            "meer wijzigen."
        ),
        "reg_birth_date": "Geboortedatum",
        "reg_change_birth": "Geboortedatum wijzigen",
        "reg_confirm": "Bevestigen",
        "reg_processing": "Uw registratie wordt verwerkt…",
        "reg_qr_heading": "Uw registratie-QR-code",
        "reg_qr_intro": (
            "Scan deze QR-code met de ZORG-ID app op uw telefoon om uw ID te installeren."
        ),
        "reg_qr_alt": "Registratie-QR-code voor de ZORG-ID app",
        "reg_qr_valid": "Deze QR-code is 10 dagen geldig, tot",
        "reg_qr_screenshot": (
            "Tip: maak een screenshot van deze QR-code, zodat u hem later nog kunt scannen. "
            "Deel hem met niemand: wie hem scant, krijgt uw ID."
        ),
        "reg_qr_waiting": "Wachten tot uw telefoon de QR-code heeft gescand…",
        "reg_qr_done": "Uw ID is geïnstalleerd.",
        "reg_open_mobile_app": "Ontwikkeling: open deze QR-code in de ZORG-ID Mobile App",
        "reg_done_heading": "ID geïnstalleerd",
        "reg_done_text": "Uw ZORG-ID staat op uw telefoon. U kunt nu inloggen met de ZORG-ID app.",
        "reg_login": "Inloggen",
        "reg_refused_heading": "Registreren lukt niet",
        "reg_try_again": "Opnieuw beginnen",
    },
    "en": {
        "reg_link_intro": "No ZORG-ID on your phone yet?",
        "reg_link": "Register",
        "reg_heading": "Register",
        "reg_terms_heading": "Terms of use",
        "reg_terms_version": "Version",
        "reg_terms_agree": "I accept the terms of use",
        "reg_terms_missing": "Tick the box to accept the terms and continue.",
        "reg_next": "Next",
        "reg_card_heading": "Data of your UZI card",
        "reg_card_intro": "This data comes from your UZI card. Is it correct?",
        "reg_given_name": "Given name",
        "reg_surname": "Surname",
        "reg_birth_heading": "Date of birth",
        "reg_birth_label": "Date of birth (dd-mm-yyyy)",
        "reg_birth_picker": "Or pick the date in the calendar",
        "reg_birth_help": "For example 23-04-1980.",
        "reg_summary_heading": "Summary",
        "reg_summary_intro": (
            "Check your data. After Confirm it is recorded and can no longer be changed."
        ),
        "reg_birth_date": "Date of birth",
        "reg_change_birth": "Change date of birth",
        "reg_confirm": "Confirm",
        "reg_processing": "Your registration is being processed…",
        "reg_qr_heading": "Your registration QR code",
        "reg_qr_intro": "Scan this QR code with the ZORG-ID app on your phone to install your ID.",
        "reg_qr_alt": "Registration QR code for the ZORG-ID app",
        "reg_qr_valid": "This QR code is valid for 10 days, until",
        "reg_qr_screenshot": (
            "Tip: take a screenshot of this QR code so you can still scan it later. "
            "Share it with no one: whoever scans it gets your ID."
        ),
        "reg_qr_waiting": "Waiting for your phone to scan the QR code…",
        "reg_qr_done": "Your ID has been installed.",
        "reg_open_mobile_app": "Development: open this QR code in the ZORG-ID Mobile App",
        "reg_done_heading": "ID installed",
        "reg_done_text": "Your ZORG-ID is on your phone. You can now log in with the ZORG-ID app.",
        "reg_login": "Log in",
        "reg_refused_heading": "Registration is not possible",
        "reg_try_again": "Start again",
    },
}
