"""A real gRPC server over mTLS on 127.0.0.1 (ephemeral port) with a test PKI."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
import pytest

from issuer.config import Role, load_config
from issuer.errors import ZorgIdError
from issuer.server.app import BuiltServer, build_server
from issuer.server.binding import ServiceBinding
from issuer.server.roles import ALL_ROLES, METHOD_ROLES, Access, current_caller
from issuer.store import upgrade
from issuer.wiring import default_services
from tests.server.pki import ROLE_URI, Issued, issue, make_ca

PROBE = "zorgid.test.v1.Probe"
# One method per role, allowed for exactly that role.
ROLE_METHODS: dict[Role, str] = {
    Role.PORTAL: "Portal",
    Role.MOBILE: "Mobile",
    Role.OPERATOR: "Operator",
    Role.SECURITY_OFFICER: "SecurityOfficer",
    Role.AUDITOR: "Auditor",
}
CLIENTS = [r.value for r in Role] + ["norole", "stranger"]


def method(name: str) -> str:
    return f"/{PROBE}/{name}"


TEST_TABLE: dict[str, Access] = {
    **METHOD_ROLES,
    **{method(m): frozenset({r}) for r, m in ROLE_METHODS.items()},
    method("PortalStream"): frozenset({Role.PORTAL}),
    method("Fail"): ALL_ROLES,
    method("Crash"): ALL_ROLES,
    method("WhoAmI"): ALL_ROLES,
    method("Abort"): ALL_ROLES,
    method("SetCodeCrash"): ALL_ROLES,
    # method("Unlisted") is deliberately absent.
}


@dataclass(frozen=True)
class ClientPki:
    root: Path
    server_ca: Issued
    client_ca: Issued
    other_ca: Issued
    ca_files: dict[str, Issued]

    def client(self, name: str) -> tuple[Path, Path]:
        return self.root / "clients" / f"{name}.pem", self.root / "clients" / f"{name}.key"

    @property
    def server_ca_pem(self) -> bytes:
        return self.server_ca.cert_pem


@pytest.fixture(scope="session")
def test_pki(tmp_path_factory: pytest.TempPathFactory) -> ClientPki:
    root = tmp_path_factory.mktemp("server-pki")
    server_ca = make_ca("Test server CA")
    client_ca = make_ca("Test client CA")
    other_ca = make_ca("Some other CA")
    issue(server_ca, "localhost", server=True).write(root, "server")
    (root / "server-ca.pem").write_bytes(server_ca.cert_pem)
    (root / "client-ca.pem").write_bytes(client_ca.cert_pem)
    clients = root / "clients"
    for role in Role:
        issue(client_ca, f"{role.value}-client", ou="Koppelingen", uris=(ROLE_URI + role,)).write(
            clients, role.value
        )
    issue(client_ca, "nobody", uris=("urn:zorgid:role:unknown",)).write(clients, "norole")
    issue(other_ca, "portal-client", uris=(ROLE_URI + "portal",)).write(clients, "stranger")
    # What the key ceremony would write to <data_dir>/ca/.
    ca_root = make_ca("ZORG-ID test root")
    ca_files = {
        "root.pem": ca_root,
        "issuing-ca.pem": issue(ca_root, "ZORG-ID test issuing CA"),
        "ocsp-responder.pem": issue(ca_root, "ZORG-ID test OCSP responder"),
    }
    return ClientPki(root, server_ca, client_ca, other_ca, ca_files)


def role_rules() -> str:
    return "".join(
        f'\n[[roles.rule]]\nrole = "{r.value}"\nsan_uri = "{ROLE_URI}{r.value}"\n' for r in Role
    )


def write_config(folder: Path, pki: ClientPki, *, server: str = "", tls: bool = True) -> Path:
    """A complete config file in ``folder`` (paths relative to it where possible)."""
    folder.mkdir(parents=True, exist_ok=True)
    pin = folder / "pin"
    pin.write_text("1234\n")
    tls_section = (
        f'[tls]\ncert = "{pki.root / "server.pem"}"\nkey = "{pki.root / "server.key"}"\n'
        f'client_ca = "{pki.root / "client-ca.pem"}"\n'
        if tls
        else ""
    )
    text = (
        'data_dir = "data"\n\n'
        f'[server]\nlisten = "127.0.0.1:0"\nworkers = 4\n{server}\n'
        f"{tls_section}\n"
        '[hsm]\ntoken = "zorgid-test"\npin_source = "file:pin"\n'
        f"{role_rules()}"
    )
    path = folder / "zorgid.toml"
    path.write_text(text)
    # The server checks the schema at start (issuer.store.check_schema): migrate its database.
    upgrade(f"sqlite:///{(folder / 'data' / 'zorgid.sqlite3').resolve()}")
    return path


def _probe_handlers() -> grpc.GenericRpcHandler[Any, Any]:
    def echo(request: bytes, context: grpc.ServicerContext) -> bytes:
        return b"ok:" + request

    def stream(request: bytes, context: grpc.ServicerContext) -> Iterator[bytes]:
        yield b"one"
        yield b"two"

    def fail(request: bytes, context: grpc.ServicerContext) -> bytes:
        raise ZorgIdError("ZID-0005", "Field 'csr' is empty; expected a DER PKCS#10 request.")

    def whoami(request: bytes, context: grpc.ServicerContext) -> bytes:
        caller = current_caller()
        return f"{caller.identity}|{','.join(sorted(caller.roles))}".encode()

    def abort(request: bytes, context: grpc.ServicerContext) -> bytes:
        context.abort(grpc.StatusCode.NOT_FOUND, "no such thing")

    def set_code_crash(request: bytes, context: grpc.ServicerContext) -> bytes:
        context.set_code(grpc.StatusCode.NOT_FOUND)
        raise ValueError("token abc123 is secret")

    def crash(request: bytes, context: grpc.ServicerContext) -> bytes:
        raise RuntimeError("database password is hunter2")

    handlers = {m: grpc.unary_unary_rpc_method_handler(echo) for m in ROLE_METHODS.values()}
    handlers["Unlisted"] = grpc.unary_unary_rpc_method_handler(echo)
    handlers["PortalStream"] = grpc.unary_stream_rpc_method_handler(stream)
    handlers["Fail"] = grpc.unary_unary_rpc_method_handler(fail)
    handlers["Crash"] = grpc.unary_unary_rpc_method_handler(crash)
    handlers["WhoAmI"] = grpc.unary_unary_rpc_method_handler(whoami)
    handlers["Abort"] = grpc.unary_unary_rpc_method_handler(abort)
    handlers["SetCodeCrash"] = grpc.unary_unary_rpc_method_handler(set_code_crash)
    return grpc.method_handlers_generic_handler(PROBE, handlers)


def probe_binding() -> ServiceBinding:
    listed = [
        *ROLE_METHODS.values(),
        "PortalStream",
        "Fail",
        "Crash",
        "WhoAmI",
        "Abort",
        "SetCodeCrash",
    ]
    return ServiceBinding(
        name=PROBE,
        # "Unlisted" is served but, like a forgotten RPC, absent from the table.
        methods=tuple(method(m) for m in listed),
        add_to=lambda server: server.add_generic_rpc_handlers((_probe_handlers(),)),
    )


@pytest.fixture(scope="module")
def mtls_server(
    tmp_path_factory: pytest.TempPathFactory, test_pki: ClientPki
) -> Iterator[BuiltServer]:
    folder = tmp_path_factory.mktemp("mtls-server")
    config = load_config(write_config(folder, test_pki))
    (config.ca_dir).mkdir(parents=True)
    for name, issued in test_pki.ca_files.items():
        (config.ca_dir / name).write_bytes(issued.cert_pem)
    built = build_server(config, [*default_services(config), probe_binding()], table=TEST_TABLE)
    built.start()
    yield built
    built.stop(0)


ChannelFactory = Callable[[str | None], grpc.Channel]


@pytest.fixture
def channel_for(mtls_server: BuiltServer, test_pki: ClientPki) -> Iterator[ChannelFactory]:
    """``channel_for("portal")`` -> an mTLS channel with that client certificate (None: none)."""
    made: list[grpc.Channel] = []

    def make(name: str | None) -> grpc.Channel:
        if name is None:
            creds = grpc.ssl_channel_credentials(root_certificates=test_pki.server_ca_pem)
        else:
            cert, key = test_pki.client(name)
            creds = grpc.ssl_channel_credentials(
                root_certificates=test_pki.server_ca_pem,
                private_key=key.read_bytes(),
                certificate_chain=cert.read_bytes(),
            )
        channel = grpc.secure_channel(
            f"127.0.0.1:{mtls_server.port}",
            creds,
            # Own subchannels: never reuse another test's (differently authenticated) connection.
            options=[("grpc.use_local_subchannel_pool", 1)],
        )
        made.append(channel)
        return channel

    yield make
    for channel in made:
        channel.close()
