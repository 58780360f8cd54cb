"""Seed corpora from real inputs, written under ``<work>/corpus/<target>/``.

- ``csr_checker``: CSRs of every key kind the policy schema allows (EC P-256 and
  P-384, RSA 2048-4096 with PKCS#1 v1.5 and PSS, each accepted hash) and of some it
  refuses (P-521, Ed25519, RSA-1024), DER and PEM.
- ``uzi_card``: the test UZI-register's cards (development environment: every card
  type, each of a card's three certificates, alone and with its chain), its broken
  cards (testkit ``write_broken_cards``), and the real UZI-register certificates of
  ``../shared/trust/uzi`` (production and acceptance), DER and PEM.
- ``ocsp_request`` and ``ocsp_http``: requests made by ``openssl ocsp -reqout`` for
  the engine's issued certificates and unknown serials, with and without nonce,
  SHA-1 and SHA-256 CertIDs, one and several; as POST and GET (base64, URL-encoded)
  for HTTP, with the CRL, CA certificate, CPS and probe paths.
- ``policy_toml``: the packaged policy and the development one.
- ``login_answer``: the demo's issued mobile-ID certificates with ECDSA-shaped signatures.
- ``grpc_servicers``: per method its empty request and one with every field set from
  the values above.

Also every input of :func:`regression_dir` (inputs that once crashed the target).
Nothing here is committed: the corpora are made again by ``make fuzz``.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import subprocess
import tempfile
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import quote, urlparse

import sqlalchemy as sa
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.x509.oid import NameOID

from fuzz import env
from fuzz.targets import TARGETS

SHARED_TRUST = env.ROOT.parent / "shared" / "trust" / "uzi"
REGRESSIONS = env.ROOT / "tests" / "fixtures" / "regressions"
_DER = serialization.Encoding.DER
_PEM = serialization.Encoding.PEM


def regression_dir(target: str) -> Path:
    """Where the inputs that once crashed *target* are kept (``make test`` runs them)."""
    names = {"csr_checker": "csr", "uzi_card": "uzi-card"}
    return REGRESSIONS / names.get(target, target.replace("_", "-"))


def corpus_dir(work: Path, target: str) -> Path:
    return work / "corpus" / target


def _write(folder: Path, items: Iterable[bytes]) -> int:
    folder.mkdir(parents=True, exist_ok=True)
    count = 0
    for item in items:
        (folder / f"seed-{hashlib.sha1(item).hexdigest()}").write_bytes(item)  # noqa: S324
        count += 1
    return count


# -- CSRs ------------------------------------------------------------------------------------


def csrs() -> Iterator[bytes]:
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "phone")])
    Key = ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey
    Variant = tuple[hashes.SHA256 | hashes.SHA384 | hashes.SHA512, padding.PSS | None]
    keys: list[tuple[Key, list[Variant]]] = []
    every_hash: list[Variant] = [
        (h, None) for h in (hashes.SHA256(), hashes.SHA384(), hashes.SHA512())
    ]
    keys.append((ec.generate_private_key(ec.SECP256R1()), every_hash))
    keys.append((ec.generate_private_key(ec.SECP384R1()), every_hash))
    keys.append((ec.generate_private_key(ec.SECP521R1()), every_hash[:1]))
    for bits in (2048, 3072, 4096, 1024):
        pss = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32)
        keys.append((rsa.generate_private_key(65537, bits), [*every_hash, (hashes.SHA256(), pss)]))
    for key, variants in keys:
        for algorithm, rsa_padding in variants:
            builder = x509.CertificateSigningRequestBuilder().subject_name(subject)
            csr = builder.sign(key, algorithm, rsa_padding=rsa_padding)
            yield csr.public_bytes(_DER)
            yield csr.public_bytes(_PEM)
    ed = ed25519.Ed25519PrivateKey.generate()
    csr = x509.CertificateSigningRequestBuilder().subject_name(subject).sign(ed, None)
    yield csr.public_bytes(_DER)


# -- UZI cards -------------------------------------------------------------------------------


def _pem_bundle(certs: Iterable[x509.Certificate]) -> bytes:
    return b"".join(c.public_bytes(_PEM) for c in certs)


def cards(work: Path) -> Iterator[bytes]:
    from issuer.cli.demo import load_demo_world
    from testkit.uzi_world import Kind, UziWorld

    world = load_demo_world(env.dev_root(work))
    for card_type in sorted(world.cas):
        card = world.issue_card(card_type)
        for kind in Kind:
            chain = [x509.load_der_x509_certificate(d) for d in card.chain_der(kind)]
            yield chain[0].public_bytes(_DER)
            yield _pem_bundle(chain)
    with tempfile.TemporaryDirectory() as tmp:
        foreign = UziWorld(now=datetime.now(UTC), base_url="http://127.0.0.1:9/", prefix="OTHER")
        for path in world.write_broken_cards(Path(tmp), foreign=foreign).values():
            bundle = path.read_bytes()
            yield bundle
            if bundle.startswith(b"-----BEGIN CERTIFICATE"):
                yield x509.load_pem_x509_certificates(bundle)[0].public_bytes(_DER)
    for path in sorted(SHARED_TRUST.glob("*/*.pem")):  # read-only: read, never written
        cert = x509.load_pem_x509_certificate(path.read_bytes())
        yield cert.public_bytes(_DER)
        yield cert.public_bytes(_PEM)


# -- OCSP ------------------------------------------------------------------------------------


def issued(work: Path) -> list[x509.Certificate]:
    """The demo's issued certificates, from the development database."""
    from issuer.config import load_config
    from issuer.store.schema import certificates

    engine = sa.create_engine(load_config(env.config_file(work)).database.url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(sa.select(certificates.c.der)).scalars().all()
    finally:
        engine.dispose()
    return [x509.load_der_x509_certificate(bytes(d)) for d in rows]


def ocsp_requests(work: Path) -> list[bytes]:
    issuing = env.dev_root(work) / "ca" / "issuing-ca.pem"
    serials = [*(hex(c.serial_number) for c in issued(work)[:4]), "0x1", "0x7fffffff"]
    shapes: list[list[str]] = []
    for serial in serials:
        shapes += [["-serial", serial], ["-serial", serial, "-no_nonce"]]
        shapes.append(["-sha256", "-serial", serial, "-no_nonce"])
    shapes.append([arg for s in serials[:3] for arg in ("-serial", s)])
    shapes.append(["-sha512", "-serial", serials[0]])
    made = []
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "req.der"
        for shape in shapes:
            subprocess.run(
                ["openssl", "ocsp", "-issuer", str(issuing), *shape, "-reqout", str(out)],
                check=True,
                capture_output=True,
            )
            made.append(out.read_bytes())
    return made


def _paths(work: Path) -> dict[str, str]:
    """The OCSP, CRL and CA certificate paths the issued certificates name."""
    cert = issued(work)[0]
    aia = cert.extensions.get_extension_for_class(x509.AuthorityInformationAccess).value
    crl = cert.extensions.get_extension_for_class(x509.CRLDistributionPoints).value
    paths = {"crl": urlparse(str(crl[0].full_name[0].value)).path}
    for access in aia:
        kind = "ocsp" if access.access_method.dotted_string.endswith(".1") else "ca"
        paths[kind] = urlparse(str(access.access_location.value)).path
    return paths


def http_requests(work: Path, requests: list[bytes]) -> Iterator[bytes]:
    paths = _paths(work)
    ocsp = paths.get("ocsp", "/ocsp")
    for der in requests:
        yield f"POST {ocsp}\napplication/ocsp-request\n".encode() + der
        plain = base64.b64encode(der).decode()
        yield f"GET {ocsp.rstrip('/')}/{plain}\n\n".encode()
        yield f"GET {ocsp.rstrip('/')}/{quote(plain, safe='')}\n\n".encode()
    for path in (paths["crl"], paths.get("ca", "/ca"), "/cps", "/healthz", "/readyz"):
        yield f"GET {path}\n\n".encode()
        yield f"HEAD {path}\n\n".encode()
    yield f"PUT {ocsp}\napplication/ocsp-request\n".encode() + requests[0]
    yield f"POST {ocsp}\ntext/plain\n".encode() + requests[0]


# -- policy, login, gRPC ---------------------------------------------------------------------


def policies(work: Path) -> list[bytes]:
    return [
        (env.ROOT / "policies" / "default.toml").read_bytes(),
        (env.dev_root(work) / "policy" / "dev.toml").read_bytes(),
    ]


def login_answers(work: Path) -> Iterator[bytes]:
    from fuzz.targets.login_answer import frame

    key = ec.generate_private_key(ec.SECP256R1())
    signature = key.sign(b"not the login message", ec.ECDSA(hashes.SHA256()))
    for cert in issued(work):
        der = cert.public_bytes(_DER)
        yield frame(fresh=True, offset=0, certificate=der, signature=signature)
        yield frame(fresh=True, offset=-3600, certificate=der, signature=signature)
        yield frame(fresh=False, offset=0, certificate=der, signature=signature, challenge="x")


def grpc_requests(work: Path, samples: dict[str, list[bytes]]) -> Iterator[bytes]:
    from google.protobuf.descriptor import FieldDescriptor as F

    from fuzz.targets.grpc_servicers import methods

    strings = ["90000382", "965206793", "01.015", "Z", "1980-01-31", "portal", "x" * 43]
    blobs = [samples["csr_checker"][0], samples["uzi_card"][0], samples["ocsp_request"][0]]

    def fill(message: object, depth: int, pick: int) -> None:
        for field in message.DESCRIPTOR.fields:  # type: ignore[attr-defined]
            repeated = field.is_repeated
            if field.type == F.TYPE_MESSAGE:
                if depth > 2 or field.message_type.GetOptions().map_entry:
                    continue
                child = (
                    getattr(message, field.name).add() if repeated else getattr(message, field.name)
                )
                if field.message_type.full_name == "google.protobuf.Timestamp":
                    child.FromDatetime(datetime.now(UTC))
                else:
                    fill(child, depth + 1, pick)
                continue
            value: object
            if field.type == F.TYPE_STRING:
                value = strings[pick % len(strings)]
            elif field.type == F.TYPE_BYTES:
                value = blobs[pick % len(blobs)]
            elif field.type == F.TYPE_BOOL:
                value = True
            elif field.type == F.TYPE_ENUM:
                value = field.enum_type.values[-1].number
            elif field.type in (F.TYPE_FLOAT, F.TYPE_DOUBLE):
                value = 1.0
            else:
                value = 1
            if repeated:
                getattr(message, field.name).append(value)
            else:
                setattr(message, field.name, value)

    for index, (_name, request_type) in enumerate(methods()):
        yield bytes([index])
        for pick in range(3):
            request = request_type()
            fill(request, 0, pick)
            yield bytes([index]) + request.SerializeToString()


def make(work: Path, targets: Iterable[str] = TARGETS) -> dict[str, int]:
    """Write every target's seeds; returns the number written per target."""
    env.ensure(work)
    wanted = set(targets)
    samples: dict[str, list[bytes]] = {
        "csr_checker": list(csrs()),
        "uzi_card": list(cards(work)),
        "ocsp_request": ocsp_requests(work),
        "policy_toml": policies(work),
    }
    samples["ocsp_http"] = list(http_requests(work, samples["ocsp_request"]))
    samples["login_answer"] = list(login_answers(work))
    samples["grpc_servicers"] = list(grpc_requests(work, samples))
    counts = {}
    for target in TARGETS:
        if target not in wanted:
            continue
        regressions = sorted(regression_dir(target).glob("*.bin"))
        items = [*samples[target], *(p.read_bytes() for p in regressions)]
        counts[target] = _write(corpus_dir(work, target), items)
    return counts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--work", type=Path, default=env.DEFAULT_WORK)
    parser.add_argument("targets", nargs="*", default=list(TARGETS))
    args = parser.parse_args()
    for target, count in make(args.work, args.targets).items():
        print(f"{target:16} {count} seeds in {corpus_dir(args.work, target)}")


if __name__ == "__main__":
    main()
