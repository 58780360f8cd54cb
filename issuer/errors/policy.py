"""Refusals of policy versioning (issue 7), ``ZID-15xx``.

Plain rows like :mod:`issuer.errors.issuance`, merged into the one catalogue
(:mod:`issuer.errors`). The per-occurrence detail (raised with the code) names the
key path or rule, what was got and what was expected; the texts here say what
the officer can do. Codes are never reused.
"""

from __future__ import annotations

from typing import Final

from issuer.errors.codes import Code

PROPOSAL_INVALID: Final = Code.ZID_1501
PROFILE_LINT: Final = Code.ZID_1502
OWN_PROPOSAL: Final = Code.ZID_1503
PROPOSAL_EXPIRED: Final = Code.ZID_1504
WRONG_STATE: Final = Code.ZID_1505
STALE_BASE: Final = Code.ZID_1506
VERSION_NOT_FOUND: Final = Code.ZID_1507
STORED_POLICY_TAMPERED: Final = Code.ZID_1508
BAD_SCHEDULE: Final = Code.ZID_1509
AUDIT_KEY_UNREADABLE: Final = Code.ZID_1510

POLICY_ERROR_TABLE: Final[tuple[tuple[str, str, str, str, str, str], ...]] = (
    (
        PROPOSAL_INVALID,
        "INVALID_ARGUMENT",
        "The proposed policy document was refused: a key is missing, unknown or out of its "
        "bounds, or it names an unknown trust set, OID or key type.",
        "Correct the key named in the message (docs/policy.md explains each bound) and "
        "propose the document again.",
        "Het voorgestelde beleidsdocument is geweigerd: een sleutel ontbreekt, is onbekend of "
        "valt buiten de grenzen, of het noemt een onbekende trust set, OID of sleuteltype.",
        "Verbeter de sleutel die in de melding staat (docs/policy.md licht elke grens toe) en "
        "stel het document opnieuw voor.",
    ),
    (
        PROFILE_LINT,
        "INVALID_ARGUMENT",
        "A sample certificate built with the proposed profile fails the certificate lints; "
        "the policy could produce certificates that violate RFC 5280 or the UZI profile.",
        "Change the profile keys named in the lint findings and propose the document again.",
        "Een voorbeeldcertificaat volgens het voorgestelde profiel faalt in de "
        "certificaatcontroles; het beleid kan certificaten maken die RFC 5280 of het "
        "UZI-profiel schenden.",
        "Pas de profielsleutels uit de bevindingen aan en stel het document opnieuw voor.",
    ),
    (
        OWN_PROPOSAL,
        "PERMISSION_DENIED",
        "A security officer cannot approve their own proposal (two-person rule).",
        "Ask another security officer to review the diff and approve it.",
        "Een security officer kan het eigen voorstel niet goedkeuren (vier-ogenprincipe).",
        "Vraag een andere security officer het verschil te beoordelen en goed te keuren.",
    ),
    (
        PROPOSAL_EXPIRED,
        "FAILED_PRECONDITION",
        "The proposal expired before enough officers approved it.",
        "Propose the document again and have it approved before it expires.",
        "Het voorstel is verlopen voordat genoeg officers het goedkeurden.",
        "Stel het document opnieuw voor en laat het goedkeuren voordat het verloopt.",
    ),
    (
        WRONG_STATE,
        "FAILED_PRECONDITION",
        "The policy version is not in a state that allows this action.",
        "List the versions (zorgid policy list) to see their states; an active version is "
        "changed by proposing a new one.",
        "De beleidsversie staat niet in een toestand die deze actie toestaat.",
        "Bekijk de versies (zorgid policy list); een actieve versie wijzigt u door een nieuwe "
        "voor te stellen.",
    ),
    (
        STALE_BASE,
        "FAILED_PRECONDITION",
        "Another policy version became active after this proposal was made, so the reviewed "
        "difference no longer applies.",
        "Reject this proposal and propose the document again against the active version.",
        "Na dit voorstel is een andere beleidsversie actief geworden; het beoordeelde verschil "
        "klopt niet meer.",
        "Wijs dit voorstel af en stel het document opnieuw voor tegenover de actieve versie.",
    ),
    (
        VERSION_NOT_FOUND,
        "NOT_FOUND",
        "There is no policy version with this number.",
        "List the versions with: zorgid policy list.",
        "Er is geen beleidsversie met dit nummer.",
        "Bekijk de versies met: zorgid policy list.",
    ),
    (
        STORED_POLICY_TAMPERED,
        "DATA_LOSS",
        "A stored policy version does not match its HSM signature: it was changed in the "
        "database outside the engine. The engine refuses to use it.",
        "Treat this as a security incident: compare the row with the audit log (zorgid audit "
        "verify), restore the database from a trusted backup, and inform the security officers.",
        "Een opgeslagen beleidsversie klopt niet met de HSM-handtekening: ze is buiten de "
        "engine om in de database gewijzigd. De engine weigert haar te gebruiken.",
        "Behandel dit als beveiligingsincident: vergelijk de rij met het auditlog (zorgid audit "
        "verify), herstel de database uit een vertrouwde back-up en informeer de security "
        "officers.",
    ),
    (
        BAD_SCHEDULE,
        "INVALID_ARGUMENT",
        "The activation time or proposal lifetime is out of bounds.",
        "Give an activation time in the future (at most 90 days ahead) and a lifetime between "
        "1 hour and 30 days, or leave them out.",
        "Het activeringstijdstip of de geldigheid van het voorstel valt buiten de grenzen.",
        "Geef een activeringstijdstip in de toekomst (hooguit 90 dagen vooruit) en een "
        "geldigheid tussen 1 uur en 30 dagen, of laat ze weg.",
    ),
    (
        AUDIT_KEY_UNREADABLE,
        "FAILED_PRECONDITION",
        "The engine cannot read the audit public key it needs to check the signature on the "
        "stored policy versions, so it does not apply any of them. Nothing in the database "
        "is known to be wrong.",
        "Restore the audit public key file named in the message (written by the key "
        "ceremony, <data_dir>/ca/) from the ceremony backup; zorgid ca check confirms it.",
        "De engine kan de publieke auditsleutel niet lezen waarmee de handtekening op de "
        "opgeslagen beleidsversies wordt gecontroleerd, en past daarom geen ervan toe. Er is "
        "niets bekend dat in de database fout is.",
        "Zet het bestand met de publieke auditsleutel uit de melding (gemaakt bij de "
        "sleutelceremonie, <data_dir>/ca/) terug uit de back-up van de ceremonie; zorgid ca "
        "check bevestigt het.",
    ),
)
