"""Refusals of the ZORG-ID smartcard flow (issue 19), merged into the one catalogue.

``ZID-20xx``: card enrolment tickets, their redemption and a card's lifecycle.
Rows as in :mod:`issuer.errors.flows`: ``(code, status, cause en, solution en,
cause nl, solution nl)``. Codes are never reused; a retired code keeps its row.
"""

from __future__ import annotations

from typing import Final

SMARTCARD_ERROR_TABLE: Final[tuple[tuple[str, str, str, str, str, str], ...]] = (
    (
        "ZID-2001",
        "NOT_FOUND",
        "There is no card enrolment ticket like this for this portal.",
        "Start the card enrolment again (StartSmartcard) and use the ticket it returns.",
        "Er is geen kaartuitgifteticket als dit voor dit portaal.",
        "Begin de kaartuitgifte opnieuw (StartSmartcard) en gebruik het ticket dat dat geeft.",
    ),
    (
        "ZID-2002",
        "FAILED_PRECONDITION",
        "The card enrolment ticket has expired.",
        "Start the card enrolment again while the card is in the reader.",
        "Het kaartuitgifteticket is verlopen.",
        "Begin de kaartuitgifte opnieuw terwijl de kaart in de lezer zit.",
    ),
    (
        "ZID-2003",
        "FAILED_PRECONDITION",
        "The card enrolment ticket was used already, with other certificate requests.",
        "A ticket makes one card: start a new card enrolment for another card or other keys.",
        "Het kaartuitgifteticket is al gebruikt, met andere certificaataanvragen.",
        "Een ticket maakt een kaart: begin een nieuwe kaartuitgifte voor een andere kaart "
        "of andere sleutels.",
    ),
    (
        "ZID-2004",
        "UNAVAILABLE",
        "An earlier redemption of this ticket with the same requests is still issuing.",
        "Retry in a few seconds with the same requests; you will get the same certificates.",
        "Een eerdere inwisseling van dit ticket met dezelfde aanvragen is nog bezig.",
        "Probeer het over enkele seconden opnieuw met dezelfde aanvragen; u krijgt dezelfde "
        "certificaten.",
    ),
    (
        "ZID-2005",
        "INVALID_ARGUMENT",
        "The card's certificate requests are not a valid set: one per slot, the "
        "authentication slot required, each slot its own key.",
        "Generate a key on the card for each slot and send one CSR per slot, at least the "
        "authentication one.",
        "De certificaataanvragen van de kaart vormen geen geldige set: een per slot, het "
        "authenticatieslot verplicht, elk slot een eigen sleutel.",
        "Maak op de kaart een sleutel per slot en stuur een CSR per slot, ten minste die "
        "voor authenticatie.",
    ),
    (
        "ZID-2006",
        "NOT_FOUND",
        "There is no smartcard with this id for you.",
        "List the cards (ListSmartcards) and use the id of one of them.",
        "Er is geen smartcard met dit id voor u.",
        "Vraag de kaarten op (ListSmartcards) en gebruik het id van een ervan.",
    ),
    (
        "ZID-2007",
        "FAILED_PRECONDITION",
        "The smartcard is not active: it was revoked or replaced, or is still being issued.",
        "Nothing to do for a revoked or replaced card; retry a card being issued shortly.",
        "De smartcard is niet actief: ingetrokken, vervangen of nog in uitgifte.",
        "Voor een ingetrokken of vervangen kaart hoeft niets; probeer een kaart in uitgifte "
        "zo dadelijk opnieuw.",
    ),
    (
        "ZID-2008",
        "FAILED_PRECONDITION",
        "The mobile ID of this login carries no registration a card can be issued on.",
        "Log in with a mobile ID obtained by registering with the UZI-pas.",
        "De mobiele ID van deze login heeft geen registratie waarop een kaart kan worden "
        "uitgegeven.",
        "Log in met een mobiele ID die u kreeg door te registreren met de UZI-pas.",
    ),
)
