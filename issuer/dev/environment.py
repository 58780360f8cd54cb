"""The embedded development environment behind ``make run`` (``zorgid dev``).

A fresh clone must serve with one command and no operator: so the first
start makes everything a real deployment has -- a token (SoftHSM), the key
ceremony on it, transport credentials, a configuration file, a migrated
database -- under one folder, and every later start reuses them. Each step
only creates what is missing, so a start interrupted half-way is finished by
the next one; the ceremony itself rolls back what it made when it fails.
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from cryptography import x509
from cryptography.x509.oid import AuthorityInformationAccessOID

from issuer.dev.ceremony_file import CEREMONY_FILE, write_ceremony_file
from issuer.dev.listen import (
    ListenPlan,
    apply,
    bind,
    check_free,
    metrics_free,
    metrics_listen,
    plan,
    taken,
)
from issuer.dev.pki import CLIENTS, ROLE_URI_PREFIX, ROLES, SECOND_OFFICER, DevPki, ensure_dev_pki
from issuer.dev.softhsm import SOFTHSM_MODULE, SoftHsmDir
from issuer.files import PRIVATE_DIR, make_private_dir, write_file

if TYPE_CHECKING:
    from issuer.config import Config
    from ocsp.responder import Answer

_LOG = logging.getLogger(__name__)

DEV_SLOT_LABEL = "zorgid-dev"


@dataclass(frozen=True, kw_only=True)
class DevEnvironment:
    """Where the development environment lives."""

    root: Path
    softhsm: SoftHsmDir
    pki: DevPki

    @property
    def config_file(self) -> Path:
        return self.root / "zorgid.toml"

    @property
    def pin_file(self) -> Path:
        return self.softhsm.root / f"{DEV_SLOT_LABEL}.pin"

    @property
    def ca_record(self) -> Path:
        return self.root / "ca" / "ceremony.json"

    @property
    def ceremony_file(self) -> Path:
        """The ceremony as a file, for ``zorgid ca check|renew-ocsp`` (:mod:`.ceremony_file`)."""
        return self.root / CEREMONY_FILE


def _config_text(env: DevEnvironment, listen: str, ocsp_listen: str) -> str:
    rules = "\n".join(
        f'[[roles.rule]]\nrole = "{role}"\nsan_uri = "{ROLE_URI_PREFIX}{role}"\n' for role in ROLES
    )
    return f"""# Development configuration written by `zorgid dev` on first start.
# Check it with: zorgid config check {env.config_file}
# `zorgid dev --listen`/`--ocsp-listen` rewrite the `listen` lines below (and say so).
data_dir = "."

[server]
listen = "{listen}"

[ocsp]
# The OCSP/CRL HTTP front; the CA certificates made on first start name this address.
listen = "{ocsp_listen}"

[tls]
cert = "{env.pki.server_cert.relative_to(env.root)}"
key = "{env.pki.server_key.relative_to(env.root)}"
client_ca = "{env.pki.client_ca_cert.relative_to(env.root)}"

{rules}
[hsm]
module = "{SOFTHSM_MODULE}"
token = "{DEV_SLOT_LABEL}"
pin_source = "file:{env.pin_file.relative_to(env.root)}"

[hsm.environment]
# What SoftHSM reads when it is loaded: this environment's token directory. Every command
# given --config finds the token through it; nothing needs to be exported.
SOFTHSM2_CONF = "{env.softhsm.conf}"

[metrics]
# Prometheus metrics: curl http://{metrics_listen(listen)}/metrics (see docs/decisions/metrics.md).
listen = "{metrics_listen(listen)}"

[policy]
# The development policy trusting the test UZI-register under uzi/ (zorgid demo).
file = "policy/dev.toml"

[hsm.keys]
issuing_ca = "issuing-ca"
ocsp_responder = "ocsp-responder"
audit = "audit-checkpoint"
"""


def prepare(
    root: Path,
    *,
    listen: str | ListenPlan | None = None,
    out: Callable[[str], None] = print,
    public_url: str | None = None,
) -> DevEnvironment:
    """Create what is missing of the development environment under ``root``.

    Returns the environment; ``out`` hears one line per step, so a person
    watching ``make run`` sees what was made and what was reused. Everything is
    made owner-only (folders 0700, files 0600, issue 16 item 12).

    *listen*: this start's addresses (:func:`issuer.dev.listen.plan`, checked by the
    caller before anything is made); a ``host:port``: gRPC's (OCSP/CRL: the config's).
    None: the config's (first start: the defaults). The first start writes them into
    the config; a later one writes those that differ there, saying so.

    *public_url*: the base of the OCSP/CRL HTTP front actually bound
    (:func:`bind_ocsp_http`); the first start's ceremony names the root certificate
    and the root's CRL on it. None: the configured ``[ocsp] listen``'s address. A
    later start whose base differs from the issuing CA certificate's logs a warning
    (the ceremony is never run again).
    """
    root = root.resolve()
    if not isinstance(listen, ListenPlan):
        listen = plan(root, listen=listen, ocsp_listen=None)
    with private_umask():
        return _prepare(root, listen, out, public_url)


@contextmanager
def private_umask() -> Iterator[None]:
    """Umask 077 while the environment is made: every file and folder under it, also
    those made by tools (``softhsm2-util``) and the test UZI-register, is the owner's
    only. The engine's own private files set their modes explicitly
    (:mod:`issuer.files`); this covers the rest of ``make run``'s folder."""
    old = os.umask(0o077)
    try:
        yield
    finally:
        os.umask(old)


def _prepare(
    root: Path, listen: ListenPlan, out: Callable[[str], None], public_url: str | None
) -> DevEnvironment:
    from issuer.ca import default_dev_ceremony, run_ceremony
    from issuer.config import load_config
    from issuer.store import create_engine_for, upgrade
    from issuer.store.migrate import make_sqlite_folder
    from issuer.wiring import open_ceremony_hsm

    make_private_dir(root)
    os.chmod(root, PRIVATE_DIR)  # also one made by an earlier version: it holds the database
    softhsm = SoftHsmDir.create(root / "softhsm") if not (root / "softhsm").exists() else None
    softhsm = softhsm or SoftHsmDir(root / "softhsm")
    softhsm.activate()
    env = DevEnvironment(root=root, softhsm=softhsm, pki=DevPki(root=root / "tls"))

    if softhsm.has_token(DEV_SLOT_LABEL):
        out(f"token       {DEV_SLOT_LABEL!r} in {softhsm.tokens} (reused)")
    else:
        softhsm.init_token(DEV_SLOT_LABEL)
        out(f"token       {DEV_SLOT_LABEL!r} initialised in {softhsm.tokens}")
        out(f"            its PIN is in {env.pin_file} (mode 0600)")

    _, made = ensure_dev_pki(env.pki.root)
    out(f"tls         {env.pki.root} ({'made ' + str(len(made)) + ' files' if made else 'reused'})")

    from issuer.cli.demo import ensure_demo_world

    policy, made_world = ensure_demo_world(root)
    out(f"uzi         test UZI-register in {root / 'uzi'} ({'made' if made_world else 'reused'})")
    out(f"policy      {policy} (trusts that register; for zorgid demo)")

    if not env.config_file.exists():
        text = _config_text(env, listen.grpc, listen.ocsp)
        write_file(env.config_file, text.encode(), exclusive=True)
        out(f"config      {env.config_file} (written)")
    else:
        changed = apply(listen)
        changed += _with_module_environment(env.config_file, env.softhsm)
        out(f"config      {env.config_file} ({'updated' if changed else 'reused'})")
        for line in changed:
            out(f"            {line}")
    config = load_config(env.config_file)

    base = public_url or listen_url(config.ocsp.listen)
    if env.ca_record.exists():
        out(f"ceremony    {env.ca_record.parent} (reused)")
        warn_if_moved(env.ca_record.parent, base)
    else:
        out("ceremony    first start: creating the CA hierarchy on the token")
        out(f"            root certificate and root CRL named on {base}")
        ceremony = default_dev_ceremony(config.data_dir, config.hsm, base)
        hsm = open_ceremony_hsm(ceremony)
        # The CA starts a few minutes in the past: a mobile-ID certificate is backdated
        # (policy profile.backdate_seconds) and may not start before its issuing CA
        # (issuer.profile.validity_window), so issuing right after `make run` works.
        start = datetime.now(UTC) - timedelta(minutes=5)
        run_ceremony(
            ceremony, hsm, out=lambda line: out(f"            {line}"), clock=lambda: start
        )
    if not env.ceremony_file.exists():  # also for a CA made by an earlier version
        from issuer.ca.material import ISSUING_CA_PEM

        write_ceremony_file(root, config.hsm, env.ca_record.parent / ISSUING_CA_PEM)
        out(f"ceremony    {env.ceremony_file} (written: for zorgid ca check|renew-ocsp)")
    else:
        for line in _with_module_environment(env.ceremony_file, env.softhsm):
            out(f"ceremony    {env.ceremony_file}: {line}")

    engine = create_engine_for(config.database.url)
    try:
        make_sqlite_folder(engine)
        revision = upgrade(engine)
    finally:
        engine.dispose()
    out(f"database    {config.database.url} (schema at revision {revision})")
    return env


def _with_module_environment(path: Path, softhsm: SoftHsmDir) -> list[str]:
    """Add ``[hsm.environment] SOFTHSM2_CONF`` to a file of an earlier version that lacks it.

    Why: SoftHSM finds the token only through that variable; a config without it made
    every ``--config`` command need an export (issue 21). The tool's own file, so the
    tool adds the line and says so; a value already there is the developer's and stays.
    """
    from issuer.dev.toml_edit import replace_text, with_setting
    from policies.strict_toml import read_toml

    text = path.read_text()
    if "SOFTHSM2_CONF" in read_toml(text).get("hsm", {}).get("environment", {}):
        return []
    try:
        new = with_setting(text, "hsm.environment", "SOFTHSM2_CONF", str(softhsm.conf))
    except ValueError as exc:
        _LOG.warning(
            "cannot add [hsm.environment] SOFTHSM2_CONF = %r to %s (%s): add it by hand",
            str(softhsm.conf),
            path,
            exc,
        )
        return []
    replace_text(path, new)
    return [f"[hsm.environment] SOFTHSM2_CONF = {softhsm.conf} (added: no export needed)"]


def listen_url(listen: str) -> str:
    """``http://host:port`` of a ``host:port`` listen address (IPv6 in brackets)."""
    from issuer.config import parse_listen

    host, port = parse_listen(listen)
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def warn_if_moved(ca_dir: Path, public_url: str) -> None:
    """Log a warning when the issuing CA certificate names another base than *public_url*.

    Why only a warning: the CA exists and is never made again; its certificate keeps
    naming where the root certificate and CRL were on first start, and relying parties
    following those links find nothing until the front is there again.
    """
    from urllib.parse import urlsplit

    from issuer.ca.material import ISSUING_CA_PEM, read_certificate
    from issuer.ca.published import root_paths

    issuing = read_certificate(ca_dir / ISSUING_CA_PEM)
    aia = issuing.extensions.get_extension_for_class(x509.AuthorityInformationAccess).value
    named = {
        f"{urlsplit(str(a.access_location.value)).scheme}://"
        f"{urlsplit(str(a.access_location.value)).netloc}"
        for a in aia
        if a.access_method == AuthorityInformationAccessOID.CA_ISSUERS
    }
    wanted = public_url.rstrip("/")
    if named and wanted not in named:
        _LOG.warning(
            "the issuing CA certificate in %s names the root certificate and the root's CRL "
            "on %s (paths %s), but the OCSP/CRL HTTP front is on %s this time: following the "
            "chain's links fails there. Start with --ocsp-listen on the first start's "
            "address, or remove %s to make a new development CA.",
            ca_dir,
            ", ".join(sorted(named)),
            ", ".join((*root_paths([issuing]).certificate, *root_paths([issuing]).crl)),
            wanted,
            ca_dir.parent,
        )


def shown(path: Path) -> str:
    """*path* as a person types it here: relative to the working folder when under it."""
    path = path.absolute()
    cwd = Path.cwd()
    return str(path.relative_to(cwd)) if path.is_relative_to(cwd) and path != cwd else str(path)


def zorgid_command() -> str:
    """How the ``zorgid`` running now is started again from this folder."""
    import sys

    invoked = Path(sys.argv[0])
    script = invoked if invoked.name == "zorgid" else Path(sys.executable).with_name("zorgid")
    return shown(script) if script.is_file() else "zorgid"


HINT = "  $ "
"""The prefix of every command line the banner prints (each runs as printed, tested)."""


def how_to_call(env: DevEnvironment, port: int) -> str:
    """What a developer needs to call the running engine, with commands that run as printed."""
    pki = env.pki
    zorgid = zorgid_command()
    clients = ", ".join(CLIENTS)
    return f"""
ZORG-ID engine (development) serving gRPC over mutual TLS on 127.0.0.1:{port}
  server certificate  {shown(pki.server_cert)}   (name: localhost)
  client CA           {shown(pki.client_ca_cert)}
  client certificates {shown(pki.root / "clients")}/<name>.pem and .key: {clients}
  configuration       {shown(env.config_file)}
  ceremony file       {shown(env.ceremony_file)}   (zorgid ca check|renew-ocsp --config)
  CA certificates     {shown(env.root / "ca")}
Call it, e.g. the health check as the auditor, the policy versions as a security officer,
the ceremony file's check, and openssl as a raw TLS client:
{HINT}{zorgid} dev --data-dir {shown(env.root)} health --role auditor
{HINT}{zorgid} policy list --config {shown(env.config_file)}
{HINT}{zorgid} ca check --config {shown(env.ceremony_file)}
{HINT}openssl s_client -connect 127.0.0.1:{port} -CAfile {shown(pki.client_ca_cert)} \\
      -cert {shown(pki.client_cert("auditor"))} -key {shown(pki.client_key("auditor"))} \\
      -alpn h2 -brief </dev/null >/dev/null   # prints the handshake, e.g. Verification: OK
Two security officers for the two-person rule on policy versions: security-officer proposes
(the default --role of zorgid policy), --role {SECOND_OFFICER} approves (docs/cli.md).
Stop with Ctrl-C.
"""


@dataclass(frozen=True)
class OcspHttp:
    """The running OCSP/CRL HTTP front of ``zorgid dev``."""

    public_url: str
    """``http://host:port`` actually bound: the base of every URL in certificates."""
    stop: Callable[[], None]


@dataclass(frozen=True)
class BoundHttp:
    """A listening socket for the OCSP/CRL HTTP front, bound before anything is made."""

    sock: socket.socket
    public_url: str
    """``http://host:port`` actually bound."""


def bind_ocsp_http(listen: str) -> BoundHttp:
    """Bind and listen on *listen* (port 0: any free port); the URL of what was bound.

    Why first: the first start's ceremony names the root certificate and CRL on this
    URL, and the engine names OCSP, CRL and CPS on it, so all name the port in use.
    """
    sock = bind(listen)
    try:
        sock.listen(128)
    except BaseException:
        sock.close()
        raise
    from issuer.config import parse_listen

    host, _ = parse_listen(listen)
    host = f"[{host}]" if ":" in host else host
    return BoundHttp(sock=sock, public_url=listen_url(f"{host}:{sock.getsockname()[1]}"))


def claim(listen: ListenPlan) -> tuple[BoundHttp, str | None]:
    """Take this start's addresses before anything is made (issue 21): the OCSP/CRL front's
    socket bound and kept, gRPC's checked free. A taken one raises :class:`ListenRefused`
    naming the address, the option and the config key. Returns the bound front and, when
    the metrics address is taken, the warning to log (served without metrics then).
    """
    try:
        bound = bind_ocsp_http(listen.ocsp)
    except OSError as exc:
        raise taken(
            "OCSP/CRL HTTP", listen.ocsp, "--ocsp-listen", "[ocsp] listen", listen.config_file, exc
        ) from None
    try:
        check_free(
            listen.grpc,
            what="gRPC",
            option="--listen",
            key="[server] listen",
            config_file=listen.config_file,
        )
    except BaseException:
        bound.sock.close()
        raise
    return bound, metrics_free(listen)


def start_ocsp_http(
    env: DevEnvironment,
    *,
    listen: str | None = None,
    out: Callable[[str], None] = print,
    bound: BoundHttp | None = None,
    on_answer: Callable[[Answer], None] | None = None,
) -> OcspHttp:
    """Serve OCSP, the CRL, the CA certificate and the CPS over HTTP beside the gRPC server.

    Serves on *bound* (:func:`bind_ocsp_http`, before :func:`prepare`), else binds
    *listen* (else ``[ocsp] listen``; tests use port 0) first; then serves with
    ``[ocsp] public_url`` set to the address bound: the engine that issues must get the
    same :attr:`OcspHttp.public_url`, so certificates issued by ``make run`` name where
    their OCSP, CRL and CPS answer, on any port. Runs ``issuer.ocsp_wiring.serve_http``
    (with its refresher) in a daemon thread with its own event loop and HSM login;
    *on_answer* hears each OCSP answer (the metrics' counter, ``zorgid dev``).
    """
    import threading

    from issuer.config import load_config
    from issuer.ocsp_wiring import serve_http
    from issuer.wiring import hsm_opener
    from policies.urls import ServedPaths

    config = load_config(env.config_file)
    bound = bound or bind_ocsp_http(listen if listen is not None else config.ocsp.listen)
    sock, public_url = bound.sock, bound.public_url
    config = with_public_url(config, public_url)
    stop = threading.Event()
    ready = threading.Event()
    failed: list[BaseException] = []

    def on_ready(host: str, port: int, paths: ServedPaths) -> None:
        where = f"http://{host}:{port}"
        out(f"ocsp        {where}{paths.ocsp} (CRL {where}{paths.crl})")
        ready.set()

    def run() -> None:
        try:
            serve_http(
                config,
                open_hsm=hsm_opener(config),
                ready=on_ready,
                stop=stop,
                sock=sock,
                on_answer=on_answer,
            )
        except BaseException as exc:  # reported to the starter below
            failed.append(exc)
            ready.set()

    thread = threading.Thread(target=run, name="ocsp-http", daemon=True)
    thread.start()
    ready.wait(60)
    if failed:
        raise failed[0]

    def stop_serving() -> None:
        stop.set()
        thread.join(10)

    return OcspHttp(public_url=public_url, stop=stop_serving)


def with_public_url(config: Config, public_url: str) -> Config:
    """*config* whose ``[ocsp] public_url`` is *public_url* (``zorgid dev``: the bound port)."""
    import dataclasses

    return dataclasses.replace(config, ocsp=dataclasses.replace(config.ocsp, public_url=public_url))
