"""Refusals of the issuance cycle, enrolment redemption and certificate services.

``ZID-12xx``: the request or the cycle (CSR, keys, attributes, lint, certificates,
revocation); ``ZID-13xx``: enrolment tokens (the registration QR). Kept as plain
rows, like :mod:`issuer.errors.uzi`, and merged into the one catalogue
(:mod:`issuer.errors`). Codes are never reused; a retired code keeps its row.

Details added at raise time say what was got and what was expected, and never
carry the token, a PIN or key material (only digests, serials and reasons).
"""

from __future__ import annotations

from typing import Final

ISSUANCE_ERROR_TABLE: Final[tuple[tuple[str, str, str, str, str, str], ...]] = (
    (
        "ZID-1201",
        "INVALID_ARGUMENT",
        "The certificate request (CSR) is malformed or its signature does not verify, so "
        "it does not prove possession of the phone's key.",
        "Create a new CSR in the phone's key store, signed with that key, and send it again.",
        "Het certificaatverzoek (CSR) is onjuist opgebouwd of de handtekening klopt niet, "
        "zodat het niet bewijst dat de telefoon de sleutel bezit.",
        "Maak een nieuw CSR in de sleutelopslag van de telefoon, ondertekend met die "
        "sleutel, en verstuur het opnieuw.",
    ),
    (
        "ZID-1202",
        "INVALID_ARGUMENT",
        "The public key in the request is not allowed by the issuance policy or is known "
        "to be weak.",
        "Generate a new EC P-256 or P-384 key pair in the phone's key store and send a new CSR.",
        "De publieke sleutel in het verzoek is niet toegestaan door het uitgiftebeleid of "
        "staat bekend als zwak.",
        "Maak een nieuw EC P-256- of P-384-sleutelpaar in de sleutelopslag van de telefoon "
        "en verstuur een nieuw CSR.",
    ),
    (
        "ZID-1203",
        "FAILED_PRECONDITION",
        "The public key in the request is already certified for another person.",
        "Generate a new key pair on the phone; one phone key can speak for one person only.",
        "De publieke sleutel in het verzoek is al gecertificeerd voor een andere persoon.",
        "Maak een nieuw sleutelpaar op de telefoon; een telefoonsleutel hoort bij één persoon.",
    ),
    (
        "ZID-1204",
        "FAILED_PRECONDITION",
        "The verified UZI attributes cannot be put into a certificate under the active "
        "policy (incomplete, malformed, or a card type or role the policy does not issue for).",
        "Have the operator check the person's registered data and the active issuance policy.",
        "De geverifieerde UZI-gegevens passen niet in een certificaat onder het actieve "
        "beleid (onvolledig, onjuist, of een pastype of rol waarvoor niet wordt uitgegeven).",
        "Laat de beheerder de geregistreerde gegevens en het actieve uitgiftebeleid controleren.",
    ),
    (
        "ZID-1205",
        "INTERNAL",
        "The certificate to be issued failed the engine's checks before signing; nothing "
        "was signed.",
        "Contact the ZORG-ID service desk with the time of the request; the operator must "
        "correct the profile or the person's data.",
        "Het uit te geven certificaat voldeed niet aan de controles vóór ondertekening; er "
        "is niets ondertekend.",
        "Neem contact op met de ZORG-ID servicedesk en noem het tijdstip; de beheerder moet "
        "het profiel of de gegevens corrigeren.",
    ),
    (
        "ZID-1206",
        "FAILED_PRECONDITION",
        "The issuing CA cannot issue now: its certificate is not valid at this moment or "
        "would expire before the new certificate.",
        "The operator must activate a valid issuing CA (key ceremony) or shorten the "
        "certificate validity in the policy.",
        "De uitgevende CA kan nu niet uitgeven: het CA-certificaat is nu niet geldig of "
        "verloopt vóór het nieuwe certificaat.",
        "De beheerder moet een geldige uitgevende CA activeren (sleutelceremonie) of de "
        "geldigheid in het beleid verkorten.",
    ),
    (
        "ZID-1207",
        "FAILED_PRECONDITION",
        "The UZI-pas whose proof the registration was made with has expired; a mobile ID "
        "never outlives its UZI-pas, so nothing was signed.",
        "Register again with a valid UZI-pas (a new registration, or an attribute "
        "registration with the new card).",
        "De UZI-pas waarmee de registratie is bewezen is verlopen; een mobiele identiteit "
        "is nooit langer geldig dan de UZI-pas, dus er is niets ondertekend.",
        "Registreer opnieuw met een geldige UZI-pas (een nieuwe registratie, of een "
        "attribuutregistratie met de nieuwe pas).",
    ),
    (
        "ZID-1210",
        "NOT_FOUND",
        "No certificate with this identifier or serial number was issued by this engine.",
        "Check the identifier or serial number (hexadecimal) and ask again.",
        "Er is geen certificaat met deze aanduiding of dit serienummer uitgegeven.",
        "Controleer de aanduiding of het (hexadecimale) serienummer en vraag het opnieuw op.",
    ),
    (
        "ZID-1211",
        "INVALID_ARGUMENT",
        "The revocation reason is not one this engine accepts for mobile-ID certificates.",
        "Use one of: unspecified, keyCompromise, affiliationChanged, superseded, "
        "cessationOfOperation, privilegeWithdrawn (RFC 5280 section 5.3.1).",
        "De intrekkingsreden wordt niet geaccepteerd voor mobiele-ID-certificaten.",
        "Gebruik een van: unspecified, keyCompromise, affiliationChanged, superseded, "
        "cessationOfOperation, privilegeWithdrawn (RFC 5280 paragraaf 5.3.1).",
    ),
    (
        "ZID-1212",
        "FAILED_PRECONDITION",
        "The certificate is already revoked; its first revocation time and reason stay.",
        "Nothing to do: relying parties already see it as revoked.",
        "Het certificaat is al ingetrokken; het eerste tijdstip en de eerste reden blijven.",
        "Niets te doen: vertrouwende partijen zien het al als ingetrokken.",
    ),
    (
        "ZID-1250",
        "INTERNAL",
        "The HSM's signature over the new certificate does not verify under the issuing CA "
        "certificate; nothing was issued.",
        "Contact the ZORG-ID service desk with the time of the request; the operator must "
        "check that the issuing CA key label on the HSM names the key of the issuing CA "
        "certificate.",
        "De handtekening van de HSM over het nieuwe certificaat klopt niet met het "
        "certificaat van de uitgevende CA; er is niets uitgegeven.",
        "Neem contact op met de ZORG-ID servicedesk en noem het tijdstip; de beheerder moet "
        "controleren dat het sleutellabel van de uitgevende CA in de HSM de sleutel van het "
        "CA-certificaat aanwijst.",
    ),
    (
        "ZID-1260",
        "INVALID_ARGUMENT",
        "The certificate request (CSR) has a version other than v1, the only version of "
        "PKCS#10 (RFC 2986).",
        "Create a new CSR in the phone's key store with the platform's standard CSR function "
        "and send it again.",
        "Het certificaatverzoek (CSR) heeft een andere versie dan v1, de enige versie van "
        "PKCS#10 (RFC 2986).",
        "Maak een nieuw CSR in de sleutelopslag van de telefoon met de standaard-CSR-functie "
        "van het platform en verstuur het opnieuw.",
    ),
    (
        "ZID-1261",
        "INVALID_ARGUMENT",
        "The certificate request (CSR) is signed with an algorithm that is not recognised.",
        "Sign the CSR with ECDSA (or RSA, where the policy allows it) and SHA-256, SHA-384 "
        "or SHA-512, and send it again.",
        "Het certificaatverzoek (CSR) is ondertekend met een algoritme dat niet wordt herkend.",
        "Onderteken het CSR met ECDSA (of RSA, waar het beleid dat toestaat) en SHA-256, "
        "SHA-384 of SHA-512, en verstuur het opnieuw.",
    ),
    (
        "ZID-1262",
        "INVALID_ARGUMENT",
        "The signature algorithm of the certificate request (CSR) lacks its parameters or "
        "has invalid ones (for example RSA-PSS without hash, mask and salt length).",
        "Create a new CSR in the phone's key store with the platform's standard CSR function "
        "and send it again.",
        "Het handtekeningalgoritme van het certificaatverzoek (CSR) mist zijn parameters of "
        "heeft ongeldige (bijvoorbeeld RSA-PSS zonder hash, masker en saltlengte).",
        "Maak een nieuw CSR in de sleutelopslag van de telefoon met de standaard-CSR-functie "
        "van het platform en verstuur het opnieuw.",
    ),
    (
        "ZID-1263",
        "INVALID_ARGUMENT",
        "The public key in the certificate request (CSR) cannot be read: an unknown key "
        "algorithm or a malformed key (for example a point that is not on the curve).",
        "Generate a new EC P-256 or P-384 key pair in the phone's key store and send a new CSR.",
        "De publieke sleutel in het certificaatverzoek (CSR) kan niet worden gelezen: een "
        "onbekend sleutelalgoritme of een onjuist opgebouwde sleutel (bijvoorbeeld een punt "
        "dat niet op de curve ligt).",
        "Maak een nieuw EC P-256- of P-384-sleutelpaar in de sleutelopslag van de telefoon "
        "en verstuur een nieuw CSR.",
    ),
    (
        "ZID-1301",
        "NOT_FOUND",
        "The registration QR code is not known or no longer redeemable.",
        "Scan the QR code again, or start a new registration in the portal.",
        "De registratie-QR-code is onbekend of kan niet meer worden gebruikt.",
        "Scan de QR-code opnieuw of start een nieuwe registratie in het portaal.",
    ),
    (
        "ZID-1302",
        "FAILED_PRECONDITION",
        "The registration QR code has expired.",
        "Start a new registration in the portal to get a new QR code.",
        "De registratie-QR-code is verlopen.",
        "Start een nieuwe registratie in het portaal voor een nieuwe QR-code.",
    ),
    (
        "ZID-1303",
        "FAILED_PRECONDITION",
        "The registration QR code has already been used, with another certificate request.",
        "A QR code is used once. If this was not you, contact your organisation's "
        "administrator; otherwise start a new registration in the portal.",
        "De registratie-QR-code is al gebruikt, met een ander certificaatverzoek.",
        "Een QR-code werkt één keer. Was u dit niet, neem dan contact op met de beheerder "
        "van uw organisatie; start anders een nieuwe registratie in het portaal.",
    ),
    (
        "ZID-1304",
        "RESOURCE_EXHAUSTED",
        "Too many failed attempts were made with this registration QR code; it is blocked.",
        "Start a new registration in the portal to get a new QR code.",
        "Er zijn te veel mislukte pogingen gedaan met deze registratie-QR-code; hij is "
        "geblokkeerd.",
        "Start een nieuwe registratie in het portaal voor een nieuwe QR-code.",
    ),
    (
        "ZID-1305",
        "UNAVAILABLE",
        "This registration QR code is being redeemed right now by an earlier request with "
        "the same certificate request.",
        "Retry in a few seconds; the same certificate is then returned.",
        "Deze registratie-QR-code wordt op dit moment verzilverd door een eerder verzoek met "
        "hetzelfde certificaatverzoek.",
        "Probeer het over enkele seconden opnieuw; u krijgt dan hetzelfde certificaat.",
    ),
    (
        "ZID-1306",
        "INVALID_ARGUMENT",
        "The registration token is malformed.",
        "Send the token exactly as it appears in the zorgid://enroll QR code (t= parameter).",
        "Het registratietoken is onjuist opgebouwd.",
        "Verstuur het token precies zoals het in de zorgid://enroll QR-code staat (parameter t=).",
    ),
)
"""``(code, status name, cause en, solution en, cause nl, solution nl)`` rows."""
