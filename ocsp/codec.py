"""OCSP request parsing and response encoding (RFC 6960 §4, RFC 5019 §2, RFC 8954).

Requests are parsed with asn1crypto; responses are written with the small DER
writer of :mod:`ocsp.der` (fixed shapes, ten times faster) and signed by any
``cryptography`` private key -- in production the delegated responder key in the HSM
(:class:`hsm.HsmEcPrivateKey`), whose ``sign()`` runs on the token. We encode
``BasicOCSPResponse`` ourselves rather than with ``OCSPResponseBuilder``
because the builder carries exactly one SingleResponse, and we need several:
one per requested certificate (RFC 6960 §4.1.1) and, in pre-signed
responses, one per CertID hash algorithm (RFC 5019 §2.2.1).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

from asn1crypto import algos, core
from asn1crypto import ocsp as asn1_ocsp
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

from ocsp import der
from ocsp.issuers import IssuingCa
from ocsp.model import REASON_CODES, CertStatus

NONCE_OID = "1.3.6.1.5.5.7.48.1.2"
MAX_NONCE_OCTETS = 32
"""RFC 8954 §2.1: a nonce longer than 32 octets is refused with ``malformedRequest``."""


def _unsuccessful(status: str) -> bytes:
    return bytes(asn1_ocsp.OCSPResponse({"response_status": status}).dump())


MALFORMED_REQUEST = _unsuccessful("malformed_request")
INTERNAL_ERROR = _unsuccessful("internal_error")
TRY_LATER = _unsuccessful("try_later")
UNAUTHORIZED = _unsuccessful("unauthorized")
"""The unsigned error responses of RFC 6960 §2.3 (no ``responseBytes``)."""


class MalformedRequest(ValueError):
    """The bytes are not one DER ``OCSPRequest`` we can read; answered ``malformedRequest``."""


@dataclass(frozen=True, kw_only=True)
class CertRef:
    """One requested CertID, with its exact DER so a response can echo it unchanged."""

    algorithm: str
    """asn1crypto name (``sha1``, ``sha256`` ...) or the dotted OID when unknown."""
    name_hash: bytes
    key_hash: bytes
    serial: int
    cert_id_der: bytes


@dataclass(frozen=True, kw_only=True)
class ParsedRequest:
    certs: tuple[CertRef, ...]
    nonce_ext_value: bytes | None
    """The nonce extension's extnValue contents (RFC 8954: a DER OCTET STRING), to echo."""


_DIGEST_ALGORITHM_DER = {
    name: bytes(algos.DigestAlgorithm({"algorithm": name, "parameters": core.Null()}).dump())
    for name in ("sha1", "sha256", "sha384", "sha512")
}


_ALGORITHM_BY_DER = {v: k for k, v in _DIGEST_ALGORITHM_DER.items()}


def _parse_simple(data: bytes) -> ParsedRequest | None:
    """The RFC 5019 shape only -- one CertID, no version or signature, no extension but
    one nonce (RFC 8954, as ``openssl ocsp`` and browsers send it) -- read straight from
    the bytes (~20x faster than asn1crypto); ``None`` for anything else, which
    :func:`parse_request` then reads with asn1crypto. The nonce shape is here because a
    flood of fresh nonces must cost little to answer (issue 16 item 4).

    Every length must be minimal DER and every structure must end exactly where its
    parent does, so bytes accepted here are bytes asn1crypto accepts with the same
    meaning (tests/ocsp/test_codec.py checks this on real and mutated requests).
    """
    end = len(data)
    outer = der.read_tlv(data, 0, end)
    if outer is None or outer[0] != 0x30 or outer[2] != end:
        return None
    tbs = der.read_tlv(data, outer[1], end)
    if tbs is None or tbs[0] != 0x30 or tbs[2] != end:
        return None
    req_list = der.read_tlv(data, tbs[1], end)
    if req_list is None or req_list[0] != 0x30:
        return None
    nonce: bytes | None = None
    if req_list[2] != end:
        nonce = _simple_nonce(data, req_list[2], end)
        if nonce is None:
            return None
    end = req_list[2]
    request = der.read_tlv(data, req_list[1], end)
    if request is None or request[0] != 0x30 or request[2] != end:
        return None
    cert_id = der.read_tlv(data, request[1], end)
    if cert_id is None or cert_id[0] != 0x30 or cert_id[2] != end:
        return None
    alg = der.read_tlv(data, cert_id[1], end)
    if alg is None or alg[0] != 0x30:
        return None
    algorithm = _ALGORITHM_BY_DER.get(data[cert_id[1] : alg[2]])
    if algorithm is None:
        return None
    name = der.read_tlv(data, alg[2], end)
    if name is None or name[0] != 0x04:
        return None
    key = der.read_tlv(data, name[2], end)
    if key is None or key[0] != 0x04:
        return None
    serial = der.read_tlv(data, key[2], end)
    if serial is None or serial[0] != 0x02 or serial[2] != end or serial[1] == serial[2]:
        return None
    digits = data[serial[1] : serial[2]]
    if len(digits) > 1 and (
        (digits[0] == 0 and digits[1] < 0x80) or (digits[0] == 0xFF and digits[1] >= 0x80)
    ):
        return None  # not minimal (X.690 §8.3.2)
    return ParsedRequest(
        certs=(
            CertRef(
                algorithm=algorithm,
                name_hash=data[name[1] : name[2]],
                key_hash=data[key[1] : key[2]],
                serial=int.from_bytes(digits, "big", signed=True),
                cert_id_der=data[request[1] : cert_id[2]],
            ),
        ),
        nonce_ext_value=nonce,
    )


def _simple_nonce(data: bytes, pos: int, end: int) -> bytes | None:
    """``requestExtensions [2] EXPLICIT`` holding exactly one extension, the nonce, without
    the critical flag, its value one OCTET STRING of 1..32 octets, ending at *end*: the
    extnValue contents (what the asn1crypto path returns), else ``None``."""
    explicit = der.read_tlv(data, pos, end)
    if explicit is None or explicit[0] != 0xA2 or explicit[2] != end:
        return None
    extensions = der.read_tlv(data, explicit[1], end)
    if extensions is None or extensions[0] != 0x30 or extensions[2] != end:
        return None
    extension = der.read_tlv(data, extensions[1], end)
    if extension is None or extension[0] != 0x30 or extension[2] != end:
        return None
    oid = der.read_tlv(data, extension[1], end)
    if oid is None or data[extension[1] : oid[2]] != _NONCE_OID_DER:
        return None
    value = der.read_tlv(data, oid[2], end)
    if value is None or value[0] != 0x04 or value[2] != end:
        return None
    inner = der.read_tlv(data, value[1], end)
    if inner is None or inner[0] != 0x04 or inner[2] != end:
        return None  # RFC 8954 §2.1: the nonce is a DER OCTET STRING inside extnValue
    if not 1 <= inner[2] - inner[1] <= MAX_NONCE_OCTETS:
        return None  # asn1crypto's path refuses it, with the message
    return data[value[1] : value[2]]


def parse_request(data: bytes) -> ParsedRequest:
    """Read an ``OCSPRequest``; every failure becomes :class:`MalformedRequest`.

    The request signature, if any, is ignored (RFC 5019 §2.1.1: responders
    need not check it); the requestor name is ignored too.
    """
    simple = _parse_simple(data)
    if simple is not None:
        return simple
    return _parse_asn1(data)


def _parse_asn1(data: bytes) -> ParsedRequest:
    """Any OCSPRequest shape, through asn1crypto (strict: no trailing bytes)."""
    try:
        request = asn1_ocsp.OCSPRequest.load(data, strict=True)
        tbs = request["tbs_request"]
        if tbs["version"].native != "v1":
            raise MalformedRequest(f"got request version {tbs['version'].native}; expected v1")
        certs = []
        for item in tbs["request_list"]:
            cert_id = item["req_cert"]
            alg = cert_id["hash_algorithm"]["algorithm"]
            certs.append(
                CertRef(
                    algorithm=alg.native,
                    name_hash=bytes(cert_id["issuer_name_hash"].native),
                    key_hash=bytes(cert_id["issuer_key_hash"].native),
                    serial=int(cert_id["serial_number"].native),
                    cert_id_der=bytes(cert_id.dump()),
                )
            )
        nonce: bytes | None = None
        extensions = tbs["request_extensions"]
        if extensions.native is not None:
            for ext in extensions:
                if ext["extn_id"].dotted == NONCE_OID:
                    nonce = bytes(ext["extn_value"].contents)
    except MalformedRequest:
        raise
    except Exception as exc:  # asn1crypto raises ValueError, TypeError, KeyError, ...
        raise MalformedRequest(
            f"could not read the OCSP request ({type(exc).__name__}); expected a DER "
            "OCSPRequest (RFC 6960 §4.1.1)"
        ) from None
    if not certs:
        raise MalformedRequest("got a request for no certificate; expected at least one CertID")
    if nonce is not None:
        _check_nonce(nonce)
    return ParsedRequest(certs=tuple(certs), nonce_ext_value=nonce)


def _check_nonce(ext_value: bytes) -> None:
    try:
        value = core.OctetString.load(ext_value, strict=True).native
        length = len(value)
    except Exception:
        length = len(ext_value)  # pre-RFC 8954 clients put the raw octets here
    if not 1 <= length <= MAX_NONCE_OCTETS:
        raise MalformedRequest(
            f"got a nonce of {length} octets; expected 1 to {MAX_NONCE_OCTETS} (RFC 8954 §2.1)"
        )


def make_cert_id(ca: IssuingCa, algorithm: str, serial: int) -> bytes:
    """The CertID DER for *serial* of *ca* under *algorithm* (parameters NULL, as OpenSSL)."""
    head = (
        _DIGEST_ALGORITHM_DER[algorithm]
        + der.octet_string(ca.name_hashes[algorithm])
        + der.octet_string(ca.key_hashes[algorithm])
    )
    return _tlv(0x30, head + der.integer(serial))


@dataclass(frozen=True, kw_only=True)
class SingleSpec:
    """What one SingleResponse says (RFC 6960 §4.2.1)."""

    cert_id_der: bytes
    status: CertStatus
    this_update: datetime
    next_update: datetime


def whole_seconds(moment: datetime) -> datetime:
    """GeneralizedTime in OCSP and CRLs carries no fractional seconds (RFC 5280 §4.1.2.5.2)."""
    return moment.astimezone(UTC).replace(microsecond=0)


def _tlv(tag: int, content: bytes) -> bytes:
    """:func:`ocsp.der.tlv` with the one- and two-octet lengths of a response inline."""
    size = len(content)
    if size < 0x80:
        return bytes((tag, size)) + content
    if size < 0x100:
        return bytes((tag, 0x81, size)) + content
    if size < 0x10000:
        return bytes((tag, 0x82, size >> 8, size & 0xFF)) + content
    return der.tlv(tag, content)


def _generalized_time(moment: datetime) -> bytes:
    """:func:`ocsp.der.generalized_time` without ``strftime``: ``YYYYMMDDHHMMSSZ`` in UTC.

    A response carries the same two or three instants several times (producedAt,
    each SingleResponse's thisUpdate and nextUpdate); :meth:`ResponseSigner.build`
    encodes each distinct one once with this. Years below 1000 (never in a
    response) go through the general writer.
    """
    if moment.tzinfo is not UTC:
        moment = moment.astimezone(UTC)
    if moment.year < 1000:
        return der.generalized_time(moment)
    return (
        f"\x18\x0f{moment.year:04d}{moment.month:02d}{moment.day:02d}"
        f"{moment.hour:02d}{moment.minute:02d}{moment.second:02d}Z"
    ).encode("latin-1")


_GOOD = der.tlv(0x80, b"")
_UNKNOWN = der.tlv(0x82, b"")
_NONCE_OID_DER = bytes(core.ObjectIdentifier(NONCE_OID).dump())
_BASIC_OID_DER = bytes(core.ObjectIdentifier("1.3.6.1.5.5.7.48.1.1").dump())
_SUCCESSFUL = der.enumerated(0)
"""OCSPResponseStatus successful (RFC 6960 §4.2.1)."""


def _cert_status(status: CertStatus) -> bytes:
    """CertStatus (RFC 6960 §4.2.1): good [0] / revoked [1] RevokedInfo / unknown [2]."""
    if status.state == "good":
        return _GOOD
    if status.state == "unknown":
        return _UNKNOWN
    assert status.revoked_at is not None
    info = der.generalized_time(status.revoked_at)
    if status.reason is not None and status.reason != "unspecified":
        info += der.explicit(0, der.enumerated(REASON_CODES[status.reason]))
    return der.tlv(0xA1, info)


_HASHES: dict[str, type[hashes.SHA256 | hashes.SHA384 | hashes.SHA512]] = {
    "sha256": hashes.SHA256,
    "sha384": hashes.SHA384,
    "sha512": hashes.SHA512,
}


class ResponseSigner:
    """The delegated responder: its certificate and its (HSM) private key.

    RFC 6960 §4.2.2.2: a delegated responder's certificate is issued by the
    CA and carries EKU id-kp-OCSPSigning; we include it in ``certs`` so a
    client can verify with the CA certificate alone. ``responderID`` is byKey
    (SHA-1 of the key bit string), the form RFC 5019 §2.2.3 says to prefer.
    """

    def __init__(
        self,
        *,
        certificate: x509.Certificate,
        key: object,
        hash_name: Literal["sha256", "sha384", "sha512"] | None = None,
    ) -> None:
        """*hash_name*: the hash this key signs everything with (a retired issuing CA
        answering for its own certificates: the policy's, as its certificates and CRLs --
        one hash per key); ``None``: the key's own (SHA-384 for P-384, else SHA-256)."""
        public = certificate.public_key()
        if isinstance(key, ec.EllipticCurvePrivateKey) and isinstance(
            public, ec.EllipticCurvePublicKey
        ):
            name = hash_name or ("sha384" if public.curve.key_size >= 384 else "sha256")
            self._alg_name = f"{name}_ecdsa"
        elif isinstance(key, rsa.RSAPrivateKey) and isinstance(public, rsa.RSAPublicKey):
            name = hash_name or "sha256"
            self._alg_name = f"{name}_rsa"
        else:
            raise TypeError(
                f"got a {type(key).__name__} for a {type(public).__name__} responder "
                "certificate; expected an EC or RSA private key matching the certificate"
            )
        self._hash: hashes.HashAlgorithm = _HASHES[name]()
        self._ecdsa = ec.ECDSA(self._hash)
        self._key = key
        self.certificate = certificate
        cert_der = certificate.public_bytes(serialization.Encoding.DER)
        key_bits = asn1_x509.Certificate.load(cert_der).public_key["public_key"].contents[1:]
        key_hash = hashlib.sha1(key_bits).digest()  # noqa: S324 -- RFC 6960 §4.2.1 KeyHash
        self._responder_id = der.explicit(2, der.octet_string(key_hash))
        self._alg_der = bytes(algos.SignedDigestAlgorithm({"algorithm": self._alg_name}).dump())
        self._certs_field = der.explicit(0, der.sequence(cert_der))

    @property
    def key(self) -> object:
        """The signing key, so readiness can ask the token whether it is still there."""
        return self._key

    def _sign(self, data: bytes) -> bytes:
        key = self._key
        if isinstance(key, ec.EllipticCurvePrivateKey):
            return key.sign(data, self._ecdsa)
        assert isinstance(key, rsa.RSAPrivateKey)
        return key.sign(data, padding.PKCS1v15(), self._hash)

    def build(
        self,
        singles: Sequence[SingleSpec],
        *,
        produced_at: datetime,
        nonce_ext_value: bytes | None = None,
    ) -> bytes:
        """Encode and sign a successful ``OCSPResponse`` (DER) for *singles*.

        Written for the pre-signing path (ARCHITECTURE §6, one per issued
        certificate): each distinct instant is encoded once, and the constant
        parts (responderID, signatureAlgorithm, certs, the ``responseBytes``
        type) are bytes kept by the signer; tests/ocsp/test_codec.py checks the
        result byte for byte against asn1crypto's encoding of the same values.
        """
        times: dict[datetime, bytes] = {}

        def when(moment: datetime) -> bytes:
            encoded = times.get(moment)
            if encoded is None:
                encoded = times[moment] = _generalized_time(moment)
            return encoded

        tlv = _tlv
        singles_der = b"".join(
            tlv(
                0x30,
                s.cert_id_der
                + _cert_status(s.status)
                + when(s.this_update)
                + tlv(0xA0, when(s.next_update)),
            )
            for s in singles
        )
        tbs = self._responder_id + when(produced_at) + tlv(0x30, singles_der)
        if nonce_ext_value is not None:
            extension = der.sequence(_NONCE_OID_DER, der.octet_string(nonce_ext_value))
            tbs += der.explicit(1, der.sequence(extension))
        return self._signed(tlv(0x30, tbs))

    def build_good(
        self,
        ca: IssuingCa,
        algorithms: Sequence[str],
        serial: int,
        *,
        at: datetime,
        next_update: datetime,
    ) -> bytes:
        """:meth:`build` for the pre-signed answer of a new certificate, from a template.

        One ``good`` SingleResponse per CertID algorithm, thisUpdate = producedAt
        = *at*, no nonce: everything but the serial and the two instants is
        bytes kept per signer and CA (:func:`make_cert_id`), and each instant is
        encoded once. Byte for byte :meth:`build` of the same singles and
        asn1crypto's encoding (tests/ocsp/test_codec.py).
        """
        now = _generalized_time(at)
        tail = _GOOD + now + _tlv(0xA0, _generalized_time(next_update))
        singles = b"".join(
            _tlv(0x30, make_cert_id(ca, algorithm, serial) + tail) for algorithm in algorithms
        )
        return self._signed(_tlv(0x30, self._responder_id + now + _tlv(0x30, singles)))

    def _signed(self, tbs: bytes) -> bytes:
        """Sign ResponseData *tbs*; wrap it in BasicOCSPResponse and a successful
        OCSPResponse (RFC 6960 §4.2.1)."""
        tlv = _tlv
        basic = tlv(0x30, tbs + self._alg_der + der.bit_string(self._sign(tbs)) + self._certs_field)
        return tlv(0x30, _SUCCESSFUL + tlv(0xA0, tlv(0x30, _BASIC_OID_DER + tlv(0x04, basic))))


def response_cert_state(data: bytes) -> str:
    """``good`` / ``revoked`` / ``unknown`` of the first SingleResponse of a stored response."""
    basic = asn1_ocsp.OCSPResponse.load(data).basic_ocsp_response
    return str(basic["tbs_response_data"]["responses"][0]["cert_status"].name)
