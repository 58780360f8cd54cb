"""Refusals of the portal flows (issue 5), merged into the one catalogue (:mod:`issuer.errors`).

``ZID-16xx`` registration (flow 2), ``ZID-17xx`` login (flow 3), ``ZID-18xx``
organisations, attributes and PIN forgotten (flows 4-6), ``ZID-19xx``
revocation through a login session. Rows as in :mod:`issuer.errors.issuance`:
``(code, status, cause en, solution en, cause nl, solution nl)``. Codes are
never reused; a retired code keeps its row.
"""

from __future__ import annotations

from typing import Final

FLOW_ERROR_TABLE: Final[tuple[tuple[str, str, str, str, str, str], ...]] = (
    (
        "ZID-1601",
        "FAILED_PRECONDITION",
        "The accepted terms of use are not the current version.",
        "Show the current terms (GetTerms), let the user accept them and start again.",
        "De geaccepteerde gebruiksvoorwaarden zijn niet de huidige versie.",
        "Toon de huidige voorwaarden (GetTerms), laat de gebruiker ze accepteren en begin opnieuw.",
    ),
    (
        "ZID-1602",
        "FAILED_PRECONDITION",
        "The organisation (URA) on the UZI-pas is not known to ZORG-ID.",
        "Contact the scheme operator to have your organisation registered, then try again.",
        "De organisatie (URA) op de UZI-pas is niet bekend bij ZORG-ID.",
        "Neem contact op met de beheerder van ZORG-ID om uw organisatie te laten "
        "registreren en probeer het daarna opnieuw.",
    ),
    (
        "ZID-1603",
        "INVALID_ARGUMENT",
        "The date of birth is not a real date in the form dd-mm-jjjj or yyyy-mm-dd.",
        "Enter the date of birth as, for example, 31-12-1980.",
        "De geboortedatum is geen bestaande datum in de vorm dd-mm-jjjj of jjjj-mm-dd.",
        "Vul de geboortedatum in als bijvoorbeeld 31-12-1980.",
    ),
    (
        "ZID-1604",
        "INVALID_ARGUMENT",
        "The date of birth gives an age outside 16 to 100 years.",
        "Check the date of birth (day, month and year) and enter it again.",
        "De geboortedatum geeft een leeftijd buiten 16 tot 100 jaar.",
        "Controleer de geboortedatum (dag, maand en jaar) en vul hem opnieuw in.",
    ),
    (
        "ZID-1605",
        "NOT_FOUND",
        "The registration is unknown, or belongs to another portal.",
        "Start a new registration.",
        "De registratie is onbekend, of hoort bij een ander portaal.",
        "Begin een nieuwe registratie.",
    ),
    (
        "ZID-1606",
        "FAILED_PRECONDITION",
        "This step of the registration cannot be taken now: an earlier step is missing.",
        "Follow the steps in order: terms, UZI-pas, date of birth, summary, confirm.",
        "Deze stap van de registratie kan nu niet: een eerdere stap ontbreekt.",
        "Volg de stappen in volgorde: voorwaarden, UZI-pas, geboortedatum, overzicht, bevestigen.",
    ),
    (
        "ZID-1607",
        "FAILED_PRECONDITION",
        "The registration data was confirmed and is frozen; the portal cannot change it.",
        "Ask the scheme operator to correct the data.",
        "De registratiegegevens zijn bevestigd en liggen vast; het portaal kan ze niet wijzigen.",
        "Vraag de beheerder van ZORG-ID om de gegevens te corrigeren.",
    ),
    (
        "ZID-1608",
        "ABORTED",
        "The data changed after the summary was shown; what was confirmed is not what is stored.",
        "Show the summary again (GetRegistration) and let the user confirm that.",
        "De gegevens zijn gewijzigd nadat het overzicht werd getoond; wat bevestigd werd is "
        "niet wat is opgeslagen.",
        "Toon het overzicht opnieuw (GetRegistration) en laat de gebruiker dat bevestigen.",
    ),
    (
        "ZID-1609",
        "FAILED_PRECONDITION",
        "A person with this UZI number is already registered with another date of birth.",
        "Check the date of birth; if it is right, contact the scheme operator.",
        "Er is al een persoon met dit UZI-nummer geregistreerd met een andere geboortedatum.",
        "Controleer de geboortedatum; klopt die, neem dan contact op met de beheerder van ZORG-ID.",
    ),
    (
        "ZID-1610",
        "DEADLINE_EXCEEDED",
        "The registration was not finished in time and has expired.",
        "Start again with the terms and the UZI-pas.",
        "De registratie is niet op tijd afgerond en is verlopen.",
        "Begin opnieuw met de voorwaarden en de UZI-pas.",
    ),
    (
        "ZID-1701",
        "NOT_FOUND",
        "The login QR code is unknown, or belongs to another portal.",
        "Ask the portal for a new login QR code and scan that.",
        "De inlog-QR-code is onbekend, of hoort bij een ander portaal.",
        "Vraag het portaal om een nieuwe inlog-QR-code en scan die.",
    ),
    (
        "ZID-1702",
        "DEADLINE_EXCEEDED",
        "The login QR code has expired (it is valid for a few minutes).",
        "Click to get a new login QR code and scan it straight away.",
        "De inlog-QR-code is verlopen (hij is enkele minuten geldig).",
        "Klik om een nieuwe inlog-QR-code te krijgen en scan die meteen.",
    ),
    (
        "ZID-1703",
        "PERMISSION_DENIED",
        "The certificate used to log in was not issued by ZORG-ID.",
        "Log in with the ZORG-ID app on the phone on which you registered.",
        "Het certificaat waarmee werd ingelogd is niet door ZORG-ID uitgegeven.",
        "Log in met de ZORG-ID-app op de telefoon waarop u zich registreerde.",
    ),
    (
        "ZID-1704",
        "PERMISSION_DENIED",
        "The mobile ID used to log in has been revoked.",
        "Register again, or ask your organisation's administrator for a new registration code.",
        "De mobiele ID waarmee werd ingelogd is ingetrokken.",
        "Registreer opnieuw, of vraag de beheerder van uw organisatie om een nieuwe "
        "registratiecode.",
    ),
    (
        "ZID-1705",
        "PERMISSION_DENIED",
        "The mobile ID used to log in has expired or is not valid yet.",
        "Register again to receive a new mobile ID.",
        "De mobiele ID waarmee werd ingelogd is verlopen of nog niet geldig.",
        "Registreer opnieuw om een nieuwe mobiele ID te krijgen.",
    ),
    (
        "ZID-1706",
        "INVALID_ARGUMENT",
        "The phone's signature over the login does not verify with its certificate.",
        "Scan the login QR code again; if it keeps failing, reinstall the app and register again.",
        "De handtekening van de telefoon over de inlog klopt niet met het certificaat.",
        "Scan de inlog-QR-code opnieuw; blijft het misgaan, installeer de app opnieuw en "
        "registreer opnieuw.",
    ),
    (
        "ZID-1707",
        "INVALID_ARGUMENT",
        "The time the phone signed the login lies outside the QR code's lifetime.",
        "Check the phone's clock (automatic time) and scan a new login QR code.",
        "Het tijdstip waarop de telefoon de inlog ondertekende valt buiten de geldigheid van "
        "de QR-code.",
        "Controleer de klok van de telefoon (automatische tijd) en scan een nieuwe inlog-QR-code.",
    ),
    (
        "ZID-1708",
        "ALREADY_EXISTS",
        "The login QR code was answered already; a login QR code is used once.",
        "Ask the portal for a new login QR code.",
        "De inlog-QR-code is al beantwoord; een inlog-QR-code wordt eenmaal gebruikt.",
        "Vraag het portaal om een nieuwe inlog-QR-code.",
    ),
    (
        "ZID-1709",
        "UNAUTHENTICATED",
        "The login session is unknown, has expired, or belongs to another portal.",
        "Log in again with the ZORG-ID app.",
        "De inlogsessie is onbekend, verlopen of hoort bij een ander portaal.",
        "Log opnieuw in met de ZORG-ID-app.",
    ),
    (
        "ZID-1801",
        "ALREADY_EXISTS",
        "An organisation with this URA is registered already.",
        "Nothing to do; to change its name, contact the scheme operator.",
        "Er is al een organisatie met dit URA-nummer geregistreerd.",
        "U hoeft niets te doen; neem voor een naamswijziging contact op met de beheerder.",
    ),
    (
        "ZID-1802",
        "INVALID_ARGUMENT",
        "The URA (8 digits) or the organisation name (1 to 256 characters) is malformed.",
        "Enter the URA as 8 digits and a non-empty name.",
        "Het URA-nummer (8 cijfers) of de organisatienaam (1 tot 256 tekens) is onjuist.",
        "Vul het URA-nummer in als 8 cijfers en een niet-lege naam.",
    ),
    (
        "ZID-1803",
        "PERMISSION_DENIED",
        "The UZI-pas belongs to another organisation (URA) than the one being validated.",
        "Validate with a UZI-pas issued for this organisation's URA.",
        "De UZI-pas hoort bij een andere organisatie (URA) dan de te valideren organisatie.",
        "Valideer met een UZI-pas die is uitgegeven voor het URA-nummer van deze organisatie.",
    ),
    (
        "ZID-1804",
        "FAILED_PRECONDITION",
        "The person has no active mobile ID to bind to.",
        "Register as user and install the mobile ID first, then validate the organisation.",
        "De persoon heeft geen actieve mobiele ID om aan te koppelen.",
        "Registreer u eerst als gebruiker en installeer de mobiele ID; valideer daarna de "
        "organisatie.",
    ),
    (
        "ZID-1805",
        "NOT_FOUND",
        "The organisation validation is unknown, or belongs to another portal.",
        "Start the organisation validation again.",
        "De organisatievalidatie is onbekend, of hoort bij een ander portaal.",
        "Begin de organisatievalidatie opnieuw.",
    ),
    (
        "ZID-1810",
        "PERMISSION_DENIED",
        "The UZI-pas is not of the person who is logged in (UZI number or name differ).",
        "Log in with your own mobile ID and use your own UZI-pas.",
        "De UZI-pas is niet van de ingelogde persoon (UZI-nummer of naam verschilt).",
        "Log in met uw eigen mobiele ID en gebruik uw eigen UZI-pas.",
    ),
    (
        "ZID-1811",
        "FAILED_PRECONDITION",
        "The mobile ID has no valid certificate to replace.",
        "Register again to receive a new mobile ID.",
        "De mobiele ID heeft geen geldig certificaat om te vervangen.",
        "Registreer opnieuw om een nieuwe mobiele ID te krijgen.",
    ),
    (
        "ZID-1820",
        "PERMISSION_DENIED",
        "The logged-in person is not an administrator of an organisation.",
        "Ask your organisation's administrator, or validate the organisation first.",
        "De ingelogde persoon is geen beheerder van een organisatie.",
        "Vraag de beheerder van uw organisatie, of valideer eerst de organisatie.",
    ),
    (
        "ZID-1821",
        "PERMISSION_DENIED",
        "The person is not a member of the administrator's organisation.",
        "An administrator can only reset members of their own organisation (URA).",
        "De persoon is geen lid van de organisatie van de beheerder.",
        "Een beheerder kan alleen leden van de eigen organisatie (URA) herstellen.",
    ),
    (
        "ZID-1822",
        "NOT_FOUND",
        "The person is unknown.",
        "Check the person's id (ListMembers shows it).",
        "De persoon is onbekend.",
        "Controleer het id van de persoon (ListMembers toont het).",
    ),
    (
        "ZID-1830",
        "PERMISSION_DENIED",
        "Your request to administer the organisation is waiting for approval.",
        "Ask the scheme operator or an administrator of your organisation to approve it.",
        "Uw verzoek om de organisatie te beheren wacht op goedkeuring.",
        "Vraag de beheerder van ZORG-ID of een beheerder van uw organisatie om het goed te keuren.",
    ),
    (
        "ZID-1831",
        "NOT_FOUND",
        "There is no request from this UZI number to administer this organisation.",
        "The card holder validates the organisation first; check the URA and the UZI number.",
        "Er is geen verzoek van dit UZI-nummer om deze organisatie te beheren.",
        "De pashouder valideert eerst de organisatie; controleer het URA- en het UZI-nummer.",
    ),
    (
        "ZID-1832",
        "PERMISSION_DENIED",
        "Only the scheme operator or an administrator of this organisation may approve an "
        "administrator.",
        "Log in as an administrator of this organisation (URA), or ask the scheme operator.",
        "Alleen de beheerder van ZORG-ID of een beheerder van deze organisatie mag een "
        "beheerder goedkeuren.",
        "Log in als beheerder van deze organisatie (URA), of vraag de beheerder van ZORG-ID.",
    ),
    (
        "ZID-1833",
        "INVALID_ARGUMENT",
        "An administrator's UZI number is malformed (9 digits) or named twice.",
        "Name each administrator's UZI number once, as 9 digits.",
        "Een UZI-nummer van een beheerder is onjuist (9 cijfers) of dubbel genoemd.",
        "Noem het UZI-nummer van elke beheerder eenmaal, als 9 cijfers.",
    ),
    (
        "ZID-1834",
        "INVALID_ARGUMENT",
        "The member belongs to more than one organisation you administer; the reset must "
        "name the URA.",
        "Reset again and name the URA whose data the new registration carries "
        "(ListMembers shows the member once per URA).",
        "Het lid hoort bij meer dan een organisatie die u beheert; het herstel moet het "
        "URA-nummer noemen.",
        "Herstel opnieuw en noem het URA-nummer waarvan de gegevens in de nieuwe registratie "
        "komen (ListMembers toont het lid eenmaal per URA).",
    ),
    (
        "ZID-1850",
        "FAILED_PRECONDITION",
        "The phone key was revoked as compromised (keyCompromise); ZORG-ID never certifies "
        "it again, for anyone.",
        "Remove the app's key (reinstall the app) so that the phone makes a new key pair, "
        "then scan the registration QR code again.",
        "De sleutel van de telefoon is ingetrokken als gecompromitteerd (keyCompromise); "
        "ZORG-ID certificeert die sleutel nooit meer, voor niemand.",
        "Verwijder de sleutel van de app (installeer de app opnieuw) zodat de telefoon een "
        "nieuw sleutelpaar maakt, en scan daarna de registratie-QR-code opnieuw.",
    ),
    (
        "ZID-1851",
        "PERMISSION_DENIED",
        "The request for the current certificate carries no valid proof by the phone key: "
        "the signature is missing, does not verify, or was made too long ago.",
        "Let the app sign the request with its key at the moment it asks (check that the "
        "phone's clock is set automatically) and ask again.",
        "Het verzoek om het actuele certificaat bevat geen geldig bewijs van de sleutel van de "
        "telefoon: de handtekening ontbreekt, klopt niet, of is te lang geleden gezet.",
        "Laat de app het verzoek ondertekenen met zijn sleutel op het moment van vragen "
        "(controleer dat de klok van de telefoon automatisch wordt ingesteld) en vraag opnieuw.",
    ),
    (
        "ZID-1901",
        "PERMISSION_DENIED",
        "Only the holder, their organisation's administrator or the operator may revoke "
        "this certificate.",
        "Log in as the holder or as the administrator of the holder's organisation.",
        "Alleen de houder, de beheerder van diens organisatie of de beheerder van ZORG-ID mag "
        "dit certificaat intrekken.",
        "Log in als de houder of als beheerder van de organisatie van de houder.",
    ),
)
