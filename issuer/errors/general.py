"""General refusals: transport and authentication (``ZID-00xx``), CA and HSM
(``ZID-01xx``), configuration (``ZID-09xx``).

Written as full entries (not rows) because their titles are not the cause's first clause.
"""

from __future__ import annotations

from typing import Final

from issuer.errors.spec import ErrorSpec, Status

GENERAL_ERRORS: Final[tuple[ErrorSpec, ...]] = (
    ErrorSpec(
        code="ZID-0001",
        status=Status.INTERNAL,
        title="Internal error",
        cause_en="The engine met an unexpected internal error; nothing was changed.",
        solution_en="Try again later. If it persists, contact the ZORG-ID service desk "
        "and give the time of the request.",
        cause_nl="Er trad een onverwachte interne fout op; er is niets gewijzigd.",
        solution_nl="Probeer het later opnieuw. Blijft het gebeuren, neem dan contact op met "
        "de ZORG-ID servicedesk en noem het tijdstip van het verzoek.",
    ),
    ErrorSpec(
        code="ZID-0002",
        status=Status.UNAUTHENTICATED,
        title="No verified client certificate",
        cause_en="The call did not come with a client certificate that the engine verified.",
        solution_en="Connect over mutual TLS with a client certificate issued by the client CA "
        "configured in [tls] client_ca.",
        cause_nl="De aanroep had geen clientcertificaat dat de engine heeft geverifieerd.",
        solution_nl="Maak verbinding via wederzijdse TLS met een clientcertificaat van de CA "
        "die in [tls] client_ca is ingesteld.",
    ),
    ErrorSpec(
        code="ZID-0003",
        status=Status.PERMISSION_DENIED,
        title="Role not allowed for this method",
        cause_en="The caller's client certificate has no role that may call this method.",
        solution_en="Use a client certificate with the right role, or ask the operator to "
        "map this certificate to that role in [roles].",
        cause_nl="Het clientcertificaat van de aanroeper heeft geen rol die deze methode mag "
        "aanroepen.",
        solution_nl="Gebruik een clientcertificaat met de juiste rol, of vraag de beheerder dit "
        "certificaat in [roles] aan die rol te koppelen.",
    ),
    ErrorSpec(
        code="ZID-0004",
        status=Status.UNAVAILABLE,
        title="Temporarily unavailable",
        cause_en="A component the engine needs (such as the HSM or the database) is "
        "temporarily unavailable; nothing was changed.",
        solution_en="Retry with back-off; the engine recovers without a restart.",
        cause_nl="Een onderdeel dat de engine nodig heeft (zoals de HSM of de database) is "
        "tijdelijk niet beschikbaar; er is niets gewijzigd.",
        solution_nl="Probeer het na een korte wachttijd opnieuw; de engine herstelt zonder "
        "herstart.",
    ),
    ErrorSpec(
        code="ZID-0005",
        status=Status.INVALID_ARGUMENT,
        title="Malformed request",
        cause_en="A field of the request is missing or malformed.",
        solution_en="Correct the field named in the message and send the request again.",
        cause_nl="Een veld van het verzoek ontbreekt of is onjuist opgebouwd.",
        solution_nl="Verbeter het veld dat in de melding wordt genoemd en verstuur het "
        "verzoek opnieuw.",
    ),
    ErrorSpec(
        code="ZID-0101",
        status=Status.FAILED_PRECONDITION,
        title="CA certificates not available",
        cause_en="The CA certificates have not been created yet or cannot be read.",
        solution_en="Run the key ceremony (zorgid ca init) so that it writes the root, "
        "issuing CA and OCSP responder certificates to <data_dir>/ca/.",
        cause_nl="De CA-certificaten zijn nog niet aangemaakt of zijn niet leesbaar.",
        solution_nl="Voer de sleutelceremonie uit (zorgid ca init) zodat die de root-, "
        "uitgevende CA- en OCSP-respondercertificaten in <data_dir>/ca/ schrijft.",
    ),
    ErrorSpec(
        code="ZID-0110",
        status=Status.FAILED_PRECONDITION,
        title="HSM key does not match its certificate",
        cause_en="A key the configuration names on the HSM (issuing CA, OCSP responder or "
        "audit checkpoint key) is not the key of its certificate or public key in the CA "
        "folder, so what it signed would not verify; the engine did not start issuing.",
        solution_en="Correct the key label in <data_dir>/ca/ceremony.json, or restore the "
        "token or the CA folder from the ceremony backup, so each label names the key of "
        "its certificate; then start the engine again.",
        cause_nl="Een sleutel die de configuratie in de HSM aanwijst (uitgevende CA, "
        "OCSP-responder of audit-checkpointsleutel) hoort niet bij het certificaat of de "
        "publieke sleutel in de CA-map, zodat wat ermee ondertekend wordt niet klopt; de "
        "engine is niet met uitgeven begonnen.",
        solution_nl="Corrigeer het sleutellabel in <data_dir>/ca/ceremony.json, of herstel "
        "het token of de CA-map uit de back-up van de sleutelceremonie, zodat elk label de "
        "sleutel van zijn certificaat aanwijst; start de engine daarna opnieuw.",
    ),
    ErrorSpec(
        code="ZID-0901",
        status=Status.FAILED_PRECONDITION,
        title="Configuration invalid",
        cause_en="The configuration file has errors; the engine did not start.",
        solution_en="Fix every problem listed and check again with: zorgid config check FILE.",
        cause_nl="Het configuratiebestand bevat fouten; de engine is niet gestart.",
        solution_nl="Herstel alle genoemde problemen en controleer opnieuw met: "
        "zorgid config check BESTAND.",
    ),
)
