"""The login page (manual §2): the QR, its countdown and expiry."""

from __future__ import annotations

TEXTS: dict[str, dict[str, str]] = {
    "nl": {
        "login_heading": "Inloggen",
        "login_intro": "Scan de QR-code met de ZORG-ID app op uw telefoon om in te loggen.",
        "qr_alt": "QR-code om in te loggen met de ZORG-ID app",
        "valid_for": "Deze QR-code is nog geldig:",
        "expired": "De QR-code is verlopen. Klik op de afbeelding voor een nieuwe QR-code.",
        "new_qr": "Nieuwe QR-code maken",
        "waiting": "Wachten op uw telefoon…",
        "refused": "Inloggen is geweigerd.",
        "open_mobile_app": "Ontwikkeling: open deze QR-code in de ZORG-ID Mobile App",
    },
    "en": {
        "login_heading": "Log in",
        "login_intro": "Scan the QR code with the ZORG-ID app on your phone to log in.",
        "qr_alt": "QR code to log in with the ZORG-ID app",
        "valid_for": "This QR code is valid for:",
        "expired": "The QR code has expired. Click the image for a new QR code.",
        "new_qr": "Make a new QR code",
        "waiting": "Waiting for your phone…",
        "refused": "Login was refused.",
        "open_mobile_app": "Development: open this QR code in the ZORG-ID Mobile App",
    },
}
