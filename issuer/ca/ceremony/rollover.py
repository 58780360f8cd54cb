"""``zorgid ca rollover``: a new issuing CA for new certificates; the old one keeps answering.

The new issuing CA key is made on the token and certified by the root, linted and
checked as the ceremony does; a new OCSP responder is certified by it. The old
issuing CA certificate is kept as ``issuing-ca-g<n>.pem`` and listed in the record's
``earlier_issuing_cas``: its key stays on the token, and login, OCSP (signed by that
CA itself) and its own CRL keep serving its certificates until they expire
(docs/decisions/ca-rollover.md). All or nothing, like the ceremony; running servers
take the new generation up when restarted.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography import x509

from issuer.ca.ceremony import rollback
from issuer.ca.ceremony.hierarchy import (
    cert_entry,
    issuing_builder,
    pem,
    record_json,
    sign_linted,
    utcnow,
)
from issuer.ca.ceremony.rollback import CeremonyToken, Clock, Out
from issuer.ca.config import CeremonyConfig, RootMode
from issuer.ca.errors import CeremonyError, KeyMismatch
from issuer.ca.material import (
    ISSUING_CA_PEM,
    OCSP_RESPONDER_PEM,
    RECORD_JSON,
    ROOT_PEM,
    CaMaterial,
    check_keys,
    generation_file_name,
    load_ca_material,
    ocsp_archive_name,
    read_record,
)
from issuer.ca.profiles import Validity, ocsp_responder_profile, same_public_key


class RolloverRefused(CeremonyError):
    """The hierarchy cannot roll over here (external root); nothing was changed."""


@dataclass(frozen=True, kw_only=True)
class RolloverResult:
    """The new issuing CA and responder, and where the old issuing CA was kept."""

    generation: int
    issuing_ca: x509.Certificate
    ocsp_responder: x509.Certificate
    issuing_key_label: str
    responder_key_label: str
    retired: Path
    """The previous issuing CA certificate, now ``issuing-ca-g<previous generation>.pem``."""
    material: CaMaterial


def rollover_issuing_ca(
    config: CeremonyConfig,
    hsm: CeremonyToken,
    *,
    key_label: str | None = None,
    out: Out = print,
    clock: Clock = utcnow,
) -> RolloverResult:
    """Make issuing CA generation n+1 current; keep generation n answering. All or nothing.

    New keys: *key_label* (default ``<issuing_ca.key_label>-g<n+1>``) for the issuing CA,
    ``<ocsp_responder.key_label>-g<n+1>`` for its responder; labels in use are refused.
    Raises :class:`RolloverRefused` for an external root, :class:`AlreadyExists` for a
    label or file in the way, :class:`CeremonyFailed` (everything undone) on a failure.
    """
    now = clock()
    material = load_ca_material(config.data_dir)
    d = material.ca_dir
    record_path = d / RECORD_JSON
    record = read_record(d)
    root_entry = record.get("root", {})
    if (
        config.root.mode is not RootMode.SELF_SIGNED
        or root_entry.get("mode") != RootMode.SELF_SIGNED.value
        or material.intermediates
    ):
        raise RolloverRefused(
            f"{d} has an external root (record root.mode {root_entry.get('mode')!r}); "
            "'zorgid ca rollover' supports only a self-signed root whose key is on this token "
            "so far. For an external root: have it certify a new issuing CA key in a new "
            "data directory ('zorgid ca init' + 'import-issuing'), or keep the current one."
        )
    old_generation = material.generation
    generation = old_generation + 1
    issuing_label = key_label or f"{config.issuing_ca.key_label}-g{generation}"
    responder = config.ocsp_responder
    responder_label = f"{responder.key_label}-g{generation}"
    retired = d / generation_file_name(old_generation)
    old_responder = material.ocsp_responder
    responder_archive = d / ocsp_archive_name(old_responder.serial_number)
    rollback.refuse_existing_files([retired, responder_archive])
    rollback.refuse_existing_keys(hsm, [issuing_label, responder_label], config.hsm.token)
    root_label = root_entry.get("key_label")
    if not isinstance(root_label, str) or not hsm.has_key(root_label):
        raise RolloverRefused(
            f"the root key {root_label!r} named in {record_path} is not on token "
            f"{config.hsm.token!r}; expected the ceremony's root key. Check [hsm] token."
        )
    root_key = hsm.get_key(root_label)
    if not same_public_key(material.root, root_key.public_key()):
        raise KeyMismatch(
            f"token key {root_label!r} is not the key of {d / ROOT_PEM}; expected the root key"
        )
    out(
        f"Rolling over the issuing CA in {d}: generation {old_generation} -> {generation} "
        f"(token {config.hsm.token!r}, time {now.isoformat()})"
    )
    journal = rollback.Journal(hsm, out)
    old_issuing_pem = (d / ISSUING_CA_PEM).read_bytes()
    old_responder_pem = (d / OCSP_RESPONDER_PEM).read_bytes()
    old_record = record_path.read_bytes()
    ica = config.issuing_ca
    with rollback.all_or_nothing(journal):
        with journal.running(f"generate issuing CA key {issuing_label!r} ({ica.key_spec})"):
            issuing_key = rollback.generate(hsm, issuing_label, ica.key_spec, journal)
        with journal.running("sign the new issuing CA certificate with the root key"):
            issuing_pub = issuing_key.public_key()
            issuing = sign_linted(
                issuing_builder(config, issuing_pub, material.root, now),
                issuer_key=root_key,
                issuer_cert=material.root,
                subject_key=issuing_pub,
                what="issuing CA",
            )
        with journal.running(
            f"generate OCSP responder key {responder_label!r} ({responder.key_spec})"
        ):
            responder_key = rollback.generate(hsm, responder_label, responder.key_spec, journal)
        with journal.running("sign the new OCSP responder certificate with the new CA key"):
            responder_pub = responder_key.public_key()
            responder_cert = sign_linted(
                ocsp_responder_profile(
                    subject=responder.subject,
                    public_key=responder_pub,
                    issuer=issuing,
                    validity=Validity.starting(now, responder.validity_days),
                ),
                issuer_key=issuing_key,
                issuer_cert=issuing,
                subject_key=responder_pub,
                what="OCSP responder",
            )
        with journal.running(f"keep the old issuing CA certificate as {retired}"):
            rollback.write_new(retired, old_issuing_pem, journal)
        with journal.running(f"keep the old OCSP responder certificate as {responder_archive}"):
            rollback.write_new(responder_archive, old_responder_pem, journal)
        for name, data, old in (
            (ISSUING_CA_PEM, pem(issuing), old_issuing_pem),
            (OCSP_RESPONDER_PEM, pem(responder_cert), old_responder_pem),
        ):
            with journal.running(f"replace {d / name}"):
                journal.file_replaced(d / name, old)
                rollback.atomic_replace(d / name, data)
        with journal.running(f"update the ceremony record {record_path}"):
            _record_rollover(
                record,
                old=material.issuing_ca,
                now=now.isoformat(),
                generation=generation,
                issuing=(issuing, issuing_label, ica.key_spec),
                responder=(responder_cert, responder_label, responder.key_spec),
                retired=retired.name,
                responder_archive=responder_archive.name,
            )
            journal.file_replaced(record_path, old_record)
            rollback.atomic_replace(record_path, record_json(record))
        with journal.running("check the written files read back and every key is its own"):
            after = load_ca_material(config.data_dir)
            check_keys(after, hsm)
    out(
        f"Issuing CA generation {generation} is current: serial {issuing.serial_number:x}, "
        f"key {issuing_label!r}, valid until {issuing.not_valid_after_utc.isoformat()}; "
        f"OCSP responder serial {responder_cert.serial_number:x}, key {responder_label!r}"
    )
    out(
        f"Generation {old_generation} (serial {material.issuing_ca.serial_number:x}) kept as "
        f"{retired.name}: its certificates keep logging in, OCSP and its CRL answer for them "
        "until they expire. Restart 'zorgid serve' and 'zorgid ocsp serve' to issue under "
        "the new issuing CA and serve its URLs."
    )
    return RolloverResult(
        generation=generation,
        issuing_ca=issuing,
        ocsp_responder=responder_cert,
        issuing_key_label=issuing_label,
        responder_key_label=responder_label,
        retired=retired,
        material=after,
    )


def _record_rollover(
    record: dict[str, Any],
    *,
    old: x509.Certificate,
    now: str,
    generation: int,
    issuing: tuple[x509.Certificate, str, str],
    responder: tuple[x509.Certificate, str, str],
    retired: str,
    responder_archive: str,
) -> None:
    """The record after the rollover: the old issuing CA appended to ``earlier_issuing_cas``,
    new ``issuing_ca`` / ``ocsp_responder`` sections, an ``events`` entry."""
    old_issuing = record["issuing_ca"]
    old_generation = int(old_issuing.get("generation", 1))
    record.setdefault("earlier_issuing_cas", []).append(
        {
            **cert_entry(old, retired, old_issuing["key_label"], old_issuing.get("key_spec")),
            "generation": old_generation,
        }
    )
    record["issuing_ca"] = {
        **cert_entry(issuing[0], ISSUING_CA_PEM, issuing[1], issuing[2]),
        "generation": generation,
    }
    previous = record.get("ocsp_responder", {})
    record["ocsp_responder"] = cert_entry(responder[0], OCSP_RESPONDER_PEM, *responder[1:])
    record["ocsp_responder"]["previous"] = [
        *previous.pop("previous", []),
        {**previous, "certificate": responder_archive},
    ]
    record["updated"] = now
    record.setdefault("events", []).append(
        {
            "at": now,
            "event": "rollover",
            "generation": generation,
            "old_serial": f"{old.serial_number:x}",
            "new_serial": f"{issuing[0].serial_number:x}",
            "key_label": issuing[1],
            "ocsp_responder_serial": f"{responder[0].serial_number:x}",
            "ocsp_responder_key_label": responder[1],
        }
    )
