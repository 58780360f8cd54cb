"""``zorgid.v1.CaService``: the engine's public CA certificates.

The servicer reads the PEM files the key ceremony writes under
``<data_dir>/ca/`` and never touches the HSM: publishing certificates needs no
private key, and the gRPC front end must not import pkcs11 (ARCHITECTURE
section 3). The files are re-read when they change, so a ceremony run while
the server is up is picked up without a restart.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import grpc
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from issuer.api.zorgid.v1 import ca_pb2, ca_pb2_grpc
from issuer.ca.errors import CaMaterialError
from issuer.ca.material import (
    ISSUING_CA_PEM,
    OCSP_RESPONDER_PEM,
    RECORD_JSON,
    ROOT_PEM,
    read_record,
)
from issuer.errors import Code, ZorgIdError

ROOT_FILE: Final = ROOT_PEM
ISSUING_CA_FILE: Final = ISSUING_CA_PEM
OCSP_RESPONDER_FILE: Final = OCSP_RESPONDER_PEM


@dataclass(frozen=True, kw_only=True)
class CaCertificates:
    """The CA hierarchy, DER-encoded (plain domain value, no protobuf)."""

    root: bytes
    issuing_ca: bytes
    ocsp_responder: bytes
    earlier_issuing_cas: tuple[bytes, ...] = ()
    """Issuing CAs retired by ``zorgid ca rollover``, oldest first."""


class CaCertificateStore:
    """Reads ``root.pem``, ``issuing-ca.pem``, ``ocsp-responder.pem`` from ``ca_dir``."""

    def __init__(self, ca_dir: Path) -> None:
        self._dir = ca_dir
        self._lock = threading.Lock()
        self._cached: tuple[tuple[float, ...], CaCertificates] | None = None

    def load(self) -> CaCertificates:
        """The certificates; raises ZID-0101 naming which file is missing or bad."""
        paths = [
            self._dir / n
            for n in (ROOT_FILE, ISSUING_CA_FILE, OCSP_RESPONDER_FILE, *self._earlier_files())
        ]
        missing = [p.name for p in paths if not p.is_file()]
        if missing:
            raise ZorgIdError(
                Code.ZID_0101,
                f"Missing in the CA folder: {', '.join(missing)}; run the key ceremony.",
            )
        stamp = tuple(p.stat().st_mtime for p in paths)
        with self._lock:
            if self._cached is not None and self._cached[0] == stamp:
                return self._cached[1]
        ders = []
        for path in paths:
            try:
                cert = x509.load_pem_x509_certificate(path.read_bytes())
            except ValueError:
                raise ZorgIdError(
                    Code.ZID_0101,
                    f"{path.name} holds no PEM certificate; run the key ceremony again.",
                ) from None
            ders.append(cert.public_bytes(serialization.Encoding.DER))
        certs = CaCertificates(
            root=ders[0],
            issuing_ca=ders[1],
            ocsp_responder=ders[2],
            earlier_issuing_cas=tuple(ders[3:]),
        )
        with self._lock:
            self._cached = (stamp, certs)
        return certs

    def _earlier_files(self) -> list[str]:
        """The retired issuing CAs' files the ceremony record lists (none before a rollover,
        or while no ceremony has run: the fixed files' absence is the error then)."""
        if not (self._dir / RECORD_JSON).is_file():
            return []
        try:
            record = read_record(self._dir)
        except CaMaterialError as exc:
            raise ZorgIdError(Code.ZID_0101, str(exc)) from None
        return [str(e.get("certificate")) for e in record.get("earlier_issuing_cas", [])]


class CaServicer(ca_pb2_grpc.CaServiceServicer):
    """Thin servicer: domain value in, protobuf out."""

    def __init__(self, store: CaCertificateStore) -> None:
        self._store = store

    def GetCaCertificates(
        self, request: ca_pb2.GetCaCertificatesRequest, context: grpc.ServicerContext
    ) -> ca_pb2.GetCaCertificatesResponse:
        certs = self._store.load()
        return ca_pb2.GetCaCertificatesResponse(
            root_certificate=certs.root,
            issuing_ca_certificate=certs.issuing_ca,
            ocsp_responder_certificate=certs.ocsp_responder,
            earlier_issuing_ca_certificates=list(certs.earlier_issuing_cas),
        )
