"""The rows of the UZI-pas refusals (``ZID-11xx``): pure data, no imports of the project.

Merged into the engine-wide catalogue (:mod:`issuer.errors`);
:class:`~issuer.uzi.errors.UziError` subclasses :class:`~issuer.errors.ZorgIdError`
-- one error type, mapped to a gRPC status in one place (STYLE.md).

Each row is ``(code, gRPC status name, cause en, solution en, cause nl,
solution nl)``; the texts are shown to portal users as they are (ARCHITECTURE
section 2, flow 7). Codes are never reused: a retired code keeps its row.
"""

from __future__ import annotations

from typing import Final

# (code, gRPC status name, en cause, en solution, nl cause, nl solution)
UZI_ERROR_TABLE: Final[tuple[tuple[str, str, str, str, str, str], ...]] = (
    (
        "ZID-1101",
        "INVALID_ARGUMENT",
        "The certificate could not be read: it is not a DER or PEM X.509 certificate.",
        "Send the authentication certificate of the UZI-pas exactly as the card gives it.",
        "Het certificaat kan niet worden gelezen: het is geen DER- of PEM-X.509-certificaat.",
        "Stuur het authenticatiecertificaat van de UZI-pas precies zoals de pas het geeft.",
    ),
    (
        "ZID-1102",
        "INVALID_ARGUMENT",
        "The certificate has no valid UZI identity in its subject alternative name.",
        "Use a UZI-pas issued by the UZI-register; contact the UZI-register if this card is one.",
        "Het certificaat bevat geen geldige UZI-identiteit in de subject alternative name.",
        "Gebruik een UZI-pas van het UZI-register; neem contact op met het UZI-register als dit "
        "zo'n pas is.",
    ),
    (
        "ZID-1103",
        "INVALID_ARGUMENT",
        "The UZI number in the certificate's subject does not match the one in its UZI identity.",
        "This card is not usable; contact the UZI-register to have it replaced.",
        "Het UZI-nummer in het subject van het certificaat verschilt van dat in de UZI-identiteit.",
        "Deze pas is niet bruikbaar; vraag het UZI-register om een vervangende pas.",
    ),
    (
        "ZID-1104",
        "INVALID_ARGUMENT",
        "The card type in the certificate does not match the UZI-register CA that issued it.",
        "This card is not usable; contact the UZI-register to have it replaced.",
        "Het pastype in het certificaat past niet bij de CA van het UZI-register die het uitgaf.",
        "Deze pas is niet bruikbaar; vraag het UZI-register om een vervangende pas.",
    ),
    (
        "ZID-1105",
        "FAILED_PRECONDITION",
        "The signature certificate of the UZI-pas was offered; only the authentication "
        "certificate proves who holds the card.",
        "Let the UZI-pas application use the authentication certificate and try again.",
        "Het handtekeningcertificaat van de UZI-pas is aangeboden; alleen het "
        "authenticatiecertificaat bewijst wie de pas heeft.",
        "Laat de UZI-pas-applicatie het authenticatiecertificaat gebruiken en probeer opnieuw.",
    ),
    (
        "ZID-1106",
        "FAILED_PRECONDITION",
        "The encryption certificate of the UZI-pas was offered; only the authentication "
        "certificate proves who holds the card.",
        "Let the UZI-pas application use the authentication certificate and try again.",
        "Het versleutelingscertificaat van de UZI-pas is aangeboden; alleen het "
        "authenticatiecertificaat bewijst wie de pas heeft.",
        "Laat de UZI-pas-applicatie het authenticatiecertificaat gebruiken en probeer opnieuw.",
    ),
    (
        "ZID-1107",
        "PERMISSION_DENIED",
        "This type of UZI-pas is not accepted here; only a personal card of a care provider "
        "(Z) or a named employee (N) can be used.",
        "Use your personal UZI-pas (zorgverlenerpas or medewerkerpas op naam).",
        "Dit type UZI-pas wordt hier niet geaccepteerd; alleen een persoonlijke pas van een "
        "zorgverlener (Z) of medewerker op naam (N) kan worden gebruikt.",
        "Gebruik uw persoonlijke UZI-pas (zorgverlenerpas of medewerkerpas op naam).",
    ),
    (
        "ZID-1108",
        "FAILED_PRECONDITION",
        "The UZI-pas certificate has expired.",
        "Request a new UZI-pas from the UZI-register.",
        "Het certificaat van de UZI-pas is verlopen.",
        "Vraag een nieuwe UZI-pas aan bij het UZI-register.",
    ),
    (
        "ZID-1109",
        "FAILED_PRECONDITION",
        "The UZI-pas certificate is not yet valid.",
        "Wait until the card's validity starts, or check the computer's clock.",
        "Het certificaat van de UZI-pas is nog niet geldig.",
        "Wacht tot de geldigheid van de pas begint, of controleer de klok van de computer.",
    ),
    (
        "ZID-1110",
        "PERMISSION_DENIED",
        "The UZI-pas certificate has been revoked by the UZI-register.",
        "Contact the UZI-register; a revoked card cannot be used again.",
        "Het certificaat van de UZI-pas is ingetrokken door het UZI-register.",
        "Neem contact op met het UZI-register; een ingetrokken pas is niet meer bruikbaar.",
    ),
    (
        "ZID-1111",
        "UNAVAILABLE",
        "The revocation list of the UZI-register could not be obtained, so the card's status "
        "is unknown.",
        "Try again in a few minutes; if it persists, the service desk should check the "
        "connection to the UZI-register.",
        "De intrekkingslijst van het UZI-register kon niet worden opgehaald; de status van de "
        "pas is onbekend.",
        "Probeer het over enkele minuten opnieuw; blijft het probleem, laat de servicedesk de "
        "verbinding met het UZI-register controleren.",
    ),
    (
        "ZID-1112",
        "PERMISSION_DENIED",
        "The UZI-pas was not issued by a UZI-register CA trusted here.",
        "Use a UZI-pas from the UZI-register environment this service is configured for.",
        "De UZI-pas is niet uitgegeven door een hier vertrouwde CA van het UZI-register.",
        "Gebruik een UZI-pas uit de UZI-register-omgeving waarvoor deze dienst is ingericht.",
    ),
    (
        "ZID-1113",
        "PERMISSION_DENIED",
        "The certificate chain of the UZI-pas is not valid.",
        "Try again with the certificates the UZI-pas application sends; contact the service "
        "desk if it persists.",
        "De certificaatketen van de UZI-pas is niet geldig.",
        "Probeer opnieuw met de certificaten die de UZI-pas-applicatie stuurt; neem contact op "
        "met de servicedesk als het probleem blijft.",
    ),
    (
        "ZID-1114",
        "UNAUTHENTICATED",
        "The signature over the challenge does not match the UZI-pas.",
        "Sign the challenge again with the same UZI-pas that sent its certificate.",
        "De handtekening over de uitdaging past niet bij de UZI-pas.",
        "Onderteken de uitdaging opnieuw met dezelfde UZI-pas als die het certificaat stuurde.",
    ),
    (
        "ZID-1115",
        "FAILED_PRECONDITION",
        "The challenge has already been used.",
        "Refresh (Verversen) to get a new challenge and sign that one.",
        "De uitdaging is al gebruikt.",
        "Klik op Verversen voor een nieuwe uitdaging en onderteken die.",
    ),
    (
        "ZID-1116",
        "DEADLINE_EXCEEDED",
        "The challenge has expired.",
        "Refresh (Verversen) to get a new challenge and sign it within its lifetime.",
        "De uitdaging is verlopen.",
        "Klik op Verversen voor een nieuwe uitdaging en onderteken die binnen de geldigheid.",
    ),
    (
        "ZID-1117",
        "NOT_FOUND",
        "The challenge is unknown.",
        "Refresh (Verversen) to get a new challenge.",
        "De uitdaging is onbekend.",
        "Klik op Verversen voor een nieuwe uitdaging.",
    ),
    (
        "ZID-1118",
        "INVALID_ARGUMENT",
        "Too many or too large certificates were sent with the UZI-pas certificate.",
        "Send only the card's certificate and its intermediate CA certificates.",
        "Er zijn te veel of te grote certificaten meegestuurd met het UZI-pas-certificaat.",
        "Stuur alleen het certificaat van de pas en de tussenliggende CA-certificaten.",
    ),
    (
        "ZID-1119",
        "PERMISSION_DENIED",
        "The role on this UZI-pas is not accepted here.",
        "Use a UZI-pas with a role this service accepts, or ask the service desk which apply.",
        "De rol op deze UZI-pas wordt hier niet geaccepteerd.",
        "Gebruik een UZI-pas met een hier geaccepteerde rol, of vraag de servicedesk welke dat "
        "zijn.",
    ),
    (
        "ZID-1120",
        "INVALID_ARGUMENT",
        "The certificate's key usage or policy does not fit any certificate of a UZI-pas.",
        "Use the authentication certificate of a UZI-pas.",
        "Het sleutelgebruik of beleid van het certificaat past bij geen enkel certificaat van "
        "een UZI-pas.",
        "Gebruik het authenticatiecertificaat van een UZI-pas.",
    ),
    (
        "ZID-1121",
        "INVALID_ARGUMENT",
        "The certificate's subject is not that of a UZI-pas certificate.",
        "Use a UZI-pas issued by the UZI-register.",
        "Het subject van het certificaat is niet dat van een UZI-pas-certificaat.",
        "Gebruik een UZI-pas van het UZI-register.",
    ),
    (
        "ZID-1122",
        "NOT_FOUND",
        "The UZI session is unknown or has expired.",
        "Prove the UZI-pas again.",
        "De UZI-sessie is onbekend of verlopen.",
        "Bewijs het bezit van de UZI-pas opnieuw.",
    ),
    (
        "ZID-1123",
        "FAILED_PRECONDITION",
        "The UZI-pas uses a key or signature algorithm that is not accepted.",
        "Contact the UZI-register to have the card replaced.",
        "De UZI-pas gebruikt een sleutel- of handtekeningalgoritme dat niet wordt geaccepteerd.",
        "Vraag het UZI-register om een vervangende pas.",
    ),
    (
        "ZID-1124",
        "FAILED_PRECONDITION",
        "The configured UZI trust set is unknown or unusable.",
        "The operator should check the policy's UZI trust set name or folder.",
        "De ingestelde UZI-vertrouwensset is onbekend of onbruikbaar.",
        "De beheerder moet de naam of map van de UZI-vertrouwensset in het beleid controleren.",
    ),
    (
        "ZID-1150",
        "UNAVAILABLE",
        "The revocation list of the UZI-register for this card is being fetched; the card's "
        "status is not known yet.",
        "Try again in a minute with a new challenge (refresh).",
        "De intrekkingslijst van het UZI-register voor deze pas wordt opgehaald; de status van "
        "de pas is nog niet bekend.",
        "Probeer het over een minuut opnieuw met een nieuwe uitdaging (verversen).",
    ),
    (
        "ZID-1160",
        "INVALID_ARGUMENT",
        "The certificate contains the same extension more than once, which X.509 forbids "
        "(RFC 5280 section 4.2); it is not a certificate of a UZI-pas.",
        "Send the authentication certificate of the UZI-pas exactly as the card gives it; "
        "contact the UZI-register if this card gives this certificate.",
        "Het certificaat bevat dezelfde extensie meer dan eens, wat X.509 verbiedt "
        "(RFC 5280 paragraaf 4.2); het is geen certificaat van een UZI-pas.",
        "Stuur het authenticatiecertificaat van de UZI-pas precies zoals de pas het geeft; "
        "neem contact op met het UZI-register als de pas dit certificaat geeft.",
    ),
    (
        "ZID-1161",
        "INVALID_ARGUMENT",
        "A name in the certificate has an attribute whose value type does not fit the "
        "attribute (for example a bit string where text is required).",
        "Send the authentication certificate of the UZI-pas exactly as the card gives it; "
        "contact the UZI-register if this card gives this certificate.",
        "Een naam in het certificaat heeft een attribuut met een waardetype dat niet bij het "
        "attribuut past (bijvoorbeeld een bitstring waar tekst vereist is).",
        "Stuur het authenticatiecertificaat van de UZI-pas precies zoals de pas het geeft; "
        "neem contact op met het UZI-register als de pas dit certificaat geeft.",
    ),
    (
        "ZID-1162",
        "INVALID_ARGUMENT",
        "A name extension of the certificate holds a name form that is not accepted "
        "(x400Address or ediPartyName); a UZI-pas certificate has none.",
        "Send the authentication certificate of the UZI-pas exactly as the card gives it; "
        "contact the UZI-register if this card gives this certificate.",
        "Een naamextensie van het certificaat bevat een naamvorm die niet wordt geaccepteerd "
        "(x400Address of ediPartyName); een UZI-pas-certificaat heeft die niet.",
        "Stuur het authenticatiecertificaat van de UZI-pas precies zoals de pas het geeft; "
        "neem contact op met het UZI-register als de pas dit certificaat geeft.",
    ),
)
