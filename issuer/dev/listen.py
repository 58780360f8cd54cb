"""The addresses ``zorgid dev`` listens on: chosen, checked before anything is made, kept.

Why here and first: a start that dies on a taken port after it has made ``var/``
leaves a half-made environment and a traceback (issue 21). So every address is
known and tried before the first folder is made; a taken one is refused in one
line naming the address and the option (and the config key) that changes it.

Why the options are written to the config: ``--listen``/``--ocsp-listen`` given on
a later start must not be silently ignored, and the next start without them must
listen where this one did. The development config is the tool's own file, so the
tool changes its ``listen`` lines itself and says so.
"""

from __future__ import annotations

import socket
from dataclasses import dataclass
from pathlib import Path

from issuer.dev.toml_edit import replace_text, with_setting

DEFAULT_LISTEN = "127.0.0.1:50051"
DEV_METRICS_PORT = 9464
"""Prometheus's conventional exporter port range starts near here (9464: OpenTelemetry's)."""


class ListenRefused(Exception):
    """An address ``zorgid dev`` cannot use (taken, malformed, or not to be written)."""

    def __init__(self, message: str, solution: str, *, usage: bool = False) -> None:
        super().__init__(message)
        self.message = message
        self.solution = solution
        self.usage = usage
        """The address or the config is the problem (exit 2), rather than a taken port (4)."""


@dataclass(frozen=True, kw_only=True)
class Change:
    """A listen address given on the command line that differs from the config's."""

    table: str
    """``server`` or ``ocsp``: the config table whose ``listen`` it sets."""
    option: str
    old: str
    new: str


@dataclass(frozen=True, kw_only=True)
class ListenPlan:
    """Where this start listens, and what it changes in the config to get there."""

    config_file: Path
    grpc: str
    ocsp: str
    metrics: str
    """``""``: no metrics (``[metrics] listen`` empty)."""
    changes: tuple[Change, ...] = ()
    new_text: str = ""
    """The config with *changes* written (checked when planned, written by :func:`apply`)."""

    @property
    def first_start(self) -> bool:
        return not self.config_file.exists()


def metrics_listen(listen: str) -> str:
    """Loopback metrics for the development engine: a free port when gRPC asks for one."""
    from issuer.config import parse_listen

    host, port = parse_listen(listen)
    host = f"[{host}]" if ":" in host else host
    return f"{host}:0" if port == 0 else f"{host}:{DEV_METRICS_PORT}"


def plan(root: Path, *, listen: str | None, ocsp_listen: str | None) -> ListenPlan:
    """The addresses of this start: the options given, else the config's, else the defaults.

    Reads the config (if any) and nothing else: it makes and changes nothing.
    """
    from issuer.config import OcspConfig, load_config, parse_listen

    for option, value in (("--listen", listen), ("--ocsp-listen", ocsp_listen)):
        if value is not None:
            try:
                parse_listen(value)
            except ValueError as exc:
                raise ListenRefused(
                    f"{option}: {exc}", f"give {option} HOST:PORT", usage=True
                ) from None
    config_file = root.resolve() / "zorgid.toml"
    if not config_file.exists():
        grpc = listen or DEFAULT_LISTEN
        return ListenPlan(
            config_file=config_file,
            grpc=grpc,
            ocsp=ocsp_listen or OcspConfig().listen,
            metrics=metrics_listen(grpc),
        )
    config = load_config(config_file)
    changes = tuple(
        Change(table=table, option=option, old=old, new=new)
        for table, option, old, new in (
            ("server", "--listen", config.server.listen, listen),
            ("ocsp", "--ocsp-listen", config.ocsp.listen, ocsp_listen),
        )
        if new is not None and new != old
    )
    return ListenPlan(
        config_file=config_file,
        grpc=listen or config.server.listen,
        ocsp=ocsp_listen or config.ocsp.listen,
        metrics=config.metrics.listen,
        changes=changes,
        new_text=_rewritten(config_file, changes) if changes else "",
    )


def bind(listen: str) -> socket.socket:
    """A socket bound to *listen* (not yet listening); OSError when that cannot be.

    SO_REUSEADDR as servers set it: a port left in TIME_WAIT by an engine just
    stopped is free, one another process listens on is not.
    """
    from issuer.config import parse_listen

    host, port = parse_listen(listen)
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
    except BaseException:
        sock.close()
        raise
    return sock


def taken(
    what: str, listen: str, option: str, key: str, config_file: Path, exc: OSError
) -> ListenRefused:
    """The refusal for an address that cannot be bound: the address, the option, the key."""
    return ListenRefused(
        f"cannot listen on {listen} ({what}): {exc.strerror or exc}",
        f"stop what listens there, or start with {option} HOST:PORT (it is then written "
        f"to {key} in {config_file})",
    )


def check_free(listen: str, *, what: str, option: str, key: str, config_file: Path) -> None:
    """Refuse (:class:`ListenRefused`) when *listen* cannot be bound now; bind nothing."""
    try:
        bind(listen).close()
    except OSError as exc:
        raise taken(what, listen, option, key, config_file, exc) from None


def metrics_free(plan: ListenPlan) -> str | None:
    """Why the metrics address cannot be bound now, or None when it can (or is off).

    Only a warning: ``zorgid dev`` then serves without metrics (docs/decisions/metrics.md)
    rather than refuse a developer whose second engine on the host shares the port.
    """
    if not plan.metrics:
        return None
    try:
        bind(plan.metrics).close()
    except OSError as exc:
        return (
            f"cannot listen on {plan.metrics} (metrics): {exc.strerror or exc}; serving "
            f"without metrics (change [metrics] listen in {plan.config_file})"
        )
    return None


def with_listen(text: str, table: str, listen: str) -> str:
    """*text* (a TOML document) with ``listen`` of ``[table]`` set to *listen*
    (:func:`issuer.dev.toml_edit.with_setting`)."""
    return with_setting(text, table, "listen", listen)


def _rewritten(config_file: Path, changes: tuple[Change, ...]) -> str:
    """The config's text with *changes*; :class:`ListenRefused` naming the file and the key
    when its layout does not allow a one-line edit (it is then edited by hand)."""
    text = config_file.read_text()
    for change in changes:
        try:
            text = with_listen(text, change.table, change.new)
        except ValueError as exc:  # a TomlError is one too
            raise ListenRefused(
                f"cannot write {change.option} {change.new} into {config_file}: {exc}",
                f"edit [{change.table}] listen in {config_file} by hand, then start "
                f"without {change.option}",
                usage=True,
            ) from None
    return text


def apply(plan: ListenPlan) -> list[str]:
    """Write the plan's changes into its config (the tool's own file); one line per change."""
    if not plan.changes:
        return []
    replace_text(plan.config_file, plan.new_text)
    return [
        f"[{change.table}] listen {change.old} -> {change.new} ({change.option}; "
        "later starts listen there too)"
        for change in plan.changes
    ]
