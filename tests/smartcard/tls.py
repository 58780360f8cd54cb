"""openssl as the card's relying party and as the card holder's TLS client.

``s_server -www`` plays a server that requires a client certificate (``-Verify 1``),
trusts the ZORG-ID root and issuing CA and checks the leaf against the engine's CRL.
``s_client`` reaches the card's key through libp11's ``pkcs11`` engine on the card's
token: the key never leaves the token, openssl asks the card to sign. Each server
takes one connection on an ephemeral port; readiness is its ``ACCEPT`` line.
"""

from __future__ import annotations

import os
import queue
import re
import subprocess
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from testkit.smartcard import CardSlot, SmartCard

WAIT_SECONDS = 30.0
_ACCEPT = re.compile(r"^ACCEPT 127\.0\.0\.1:(\d+)$")
_PEM = re.compile(rb"-----BEGIN CERTIFICATE-----.+?-----END CERTIFICATE-----\n", re.S)


def pem(*certs: x509.Certificate) -> bytes:
    return b"".join(c.public_bytes(serialization.Encoding.PEM) for c in certs)


def server_identity(directory: Path) -> tuple[Path, Path]:
    """The relying party's own certificate and key (software; not what is under test)."""
    cert, key = directory / "server.pem", directory / "server.key"
    done = subprocess.run(
        [
            "openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
            "-nodes", "-keyout", str(key), "-out", str(cert), "-subj", "/CN=localhost",
            "-days", "1",
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=WAIT_SECONDS,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return cert, key


@dataclass(frozen=True)
class Served:
    """What the server printed for its one connection, stdout and stderr interleaved."""

    output: str

    def verified_subject(self) -> str | None:
        """The subject the server's verify callback printed for the client's certificate."""
        found = re.search(r"^depth=0 (.+)$", self.output, re.M)
        return found.group(1) if found else None


@contextmanager
def tls_server(
    *, cert: Path, key: Path, ca_file: Path, crl_file: Path, at: datetime | None = None
) -> Iterator[tuple[int, list[Served]]]:
    """``s_server -www`` requiring a client certificate, checked against *crl_file*; a
    verification error ends the handshake (``-verify_return_error``; without it s_server
    only prints the error and serves the client anyway). *at*: check certificates and
    CRL at that moment (``-attime``: the engine's test clock), else now.

    Yields the port and a list that holds the server's output once it has exited
    (after its single connection, ``-naccept 1``).
    """
    args = [
        "openssl", "s_server", "-accept", "127.0.0.1:0", "-naccept", "1", "-www",
        "-cert", str(cert), "-key", str(key),
        "-Verify", "1", "-verify_return_error",
        "-CAfile", str(ca_file), "-crl_check", "-CRL", str(crl_file),
        *(["-attime", str(int(at.timestamp()))] if at is not None else []),
    ]  # fmt: skip
    proc = subprocess.Popen(
        args,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        errors="replace",
    )
    lines: queue.Queue[str | None] = queue.Queue()

    def pump() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.put(line)
        lines.put(None)

    reader = threading.Thread(target=pump, daemon=True)
    reader.start()
    seen: list[str] = []
    result: list[Served] = []
    try:
        port = None
        while port is None:
            line = lines.get(timeout=WAIT_SECONDS)
            assert line is not None, f"s_server exited before listening:\n{''.join(seen)}"
            seen.append(line)
            matched = _ACCEPT.match(line.strip())
            port = int(matched.group(1)) if matched else None
        yield port, result
        proc.wait(timeout=WAIT_SECONDS)
        reader.join(timeout=WAIT_SECONDS)
        while (line := lines.get_nowait()) is not None:
            seen.append(line)
        result.append(Served("".join(seen)))
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        assert proc.stdin is not None
        proc.stdin.close()


@dataclass(frozen=True)
class ClientRun:
    returncode: int
    stdout: bytes
    stderr: str

    @property
    def page(self) -> bytes:
        """What ``s_server -www`` answered; empty when the handshake was refused."""
        start = self.stdout.find(b"HTTP/1.0 200 ok")
        return b"" if start < 0 else self.stdout[start:]

    def peer_certificates(self) -> Sequence[x509.Certificate]:
        """The client certificate the server reports on its page (``-www`` prints it)."""
        tail = self.page.split(b"Client certificate", 1)
        return (
            []
            if len(tail) < 2
            else x509.load_pem_x509_certificates(b"".join(_PEM.findall(tail[1])))
        )


def tls_client(
    *,
    port: int,
    card: SmartCard,
    slot: CardSlot,
    cert: Path,
    server_ca: Path,
    openssl_conf: Path,
) -> ClientRun:
    """``s_client`` with the card's key through the ``pkcs11`` engine; sends one GET."""
    env = {**os.environ, **card.environment(), "OPENSSL_CONF": str(openssl_conf)}
    done = subprocess.run(
        [
            "openssl", "s_client", "-quiet", "-connect", f"127.0.0.1:{port}",
            "-engine", "pkcs11", "-keyform", "engine", "-key", card.key_uri(slot, pin=True),
            "-cert", str(cert), "-CAfile", str(server_ca), "-verify_return_error",
        ],
        input=b"GET / HTTP/1.0\r\n\r\n",
        capture_output=True,
        env=env,
        check=False,
        timeout=WAIT_SECONDS,
    )  # fmt: skip
    return ClientRun(done.returncode, done.stdout, done.stderr.decode(errors="replace"))


@dataclass(frozen=True)
class ListedObject:
    kind: str
    fields: dict[str, str]

    @property
    def access(self) -> set[str]:
        return {a.strip() for a in self.fields.get("Access", "").split(",") if a.strip()}


def list_objects(card: SmartCard) -> list[ListedObject]:
    """``pkcs11-tool --login --list-objects`` on the card, parsed into its object blocks."""
    done = subprocess.run(
        [
            "pkcs11-tool", "--module", card.module, "--token-label", card.label,
            "--login", "--pin", card.token.pin, "--list-objects",
        ],
        capture_output=True,
        text=True,
        env={**os.environ, **card.environment()},
        check=False,
        timeout=WAIT_SECONDS,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    objects: list[ListedObject] = []
    for line in done.stdout.splitlines():
        if not line.startswith(" ") and "Object" in line:
            objects.append(ListedObject(line.split(";")[0].strip(), {}))
        elif ":" in line and objects:
            name, value = line.split(":", 1)
            objects[-1].fields[name.strip()] = value.strip()
    return objects
