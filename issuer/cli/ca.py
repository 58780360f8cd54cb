"""``zorgid ca``: the key ceremony commands.

* ``zorgid ca check --config FILE``: check the ceremony file, touch nothing.
* ``zorgid ca init --config FILE``: run the ceremony (see ``docs/ceremony.md``).
* ``zorgid ca import-issuing --config FILE --cert ISSUING.pem --root ROOT.pem [--chain I.pem]``:
  external root, second step.
* ``zorgid ca renew-ocsp --config FILE [--new-key]``: a new OCSP responder certificate;
  with ``--if-due [--renew-before-days N]`` only when less than N days are left (cron).
* ``zorgid ca renew-arl --config FILE [--if-due [--renew-before-days N]]``: the next CRL
  of the self-signed root (ARL); with ``--if-due`` only when less than N days (default a
  third of its validity) are left before its nextUpdate (cron).
* ``zorgid ca rollover --config FILE [--key-label LABEL]``: a new issuing CA for new
  certificates; the old one keeps answering for its own (restart the servers after).

Exit status: 0 done, 1 refused or failed (nothing changed; the message says
why and what to do), 2 the ceremony file is not valid, 130 interrupted
(rolled back).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

from hsm import HsmError, HsmUnavailable, TokenNotFound
from issuer.ca import (
    DEFAULT_RENEW_BEFORE,
    CeremonyConfig,
    CeremonyConfigError,
    CeremonyError,
    RootMode,
    import_issuing_ca,
    load_ceremony_config,
    renew_ocsp,
    renew_ocsp_if_due,
    rollover_issuing_ca,
    run_ceremony,
)
from issuer.ca.ceremony import read_pem_file

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_BAD_CONFIG = 2
EXIT_INTERRUPTED = 130


def _err(text: str) -> None:
    print(f"zorgid ca: {text}", file=sys.stderr)


def _with_config(
    action: Callable[[CeremonyConfig, argparse.Namespace], None],
) -> Callable[[argparse.Namespace], int]:
    """Load the file, run ``action``, turn our typed errors into an exit status and a message."""

    def run(args: argparse.Namespace) -> int:
        try:
            config = load_ceremony_config(args.config)
        except CeremonyConfigError as exc:
            _err(str(exc))
            return EXIT_BAD_CONFIG
        try:
            action(config, args)
        except (TokenNotFound, HsmUnavailable):
            raise  # main(): exit 4, naming the token, the module and SOFTHSM2_CONF
        except (CeremonyError, HsmError) as exc:
            _err(str(exc))
            return EXIT_FAILED
        except KeyboardInterrupt:
            _err("interrupted; everything this run had made was removed again (see above)")
            return EXIT_INTERRUPTED
        return EXIT_OK

    return run


def _check(config: CeremonyConfig, args: argparse.Namespace) -> None:
    print(f"{args.config}: valid ceremony file")
    print(f"  data_dir: {config.data_dir} (writes {config.ca_dir})")
    print(f"  token: {config.hsm.token!r} via {config.hsm.module}")
    print(f"  root: {config.root.mode.value}")
    print(f"  key labels: {', '.join(config.key_labels())}")


def _init(config: CeremonyConfig, args: argparse.Namespace) -> None:
    from issuer.wiring import open_ceremony_hsm

    run_ceremony(config, open_ceremony_hsm(config))


def _import(config: CeremonyConfig, args: argparse.Namespace) -> None:
    from issuer.wiring import open_ceremony_hsm

    import_issuing_ca(
        config,
        open_ceremony_hsm(config),
        issuing_cert=read_pem_file(Path(args.cert)),
        root_cert=read_pem_file(Path(args.root)),
        intermediates=read_pem_file(Path(args.chain)) if args.chain else None,
    )


def _renew(config: CeremonyConfig, args: argparse.Namespace) -> None:
    from issuer.ca.ceremony.lock import renewal_lock
    from issuer.ca.material import load_ca_material
    from issuer.wiring import open_ceremony_hsm

    if args.if_due:
        renew_ocsp_if_due(
            config,
            lambda: open_ceremony_hsm(config),
            renew_before=timedelta(days=args.renew_before_days),
            new_key=args.new_key,
        )
        return
    # The lock every change of ceremony.json holds (issuer.ca.ceremony.lock): a renewal by
    # the OCSP process or cron at the same moment waits instead of losing this one.
    with renewal_lock(load_ca_material(config.data_dir).ca_dir):
        renew_ocsp(config, open_ceremony_hsm(config), new_key=args.new_key)


def _renew_arl(config: CeremonyConfig, args: argparse.Namespace) -> None:
    from issuer.ca.ceremony.arl import renew_arl, renew_arl_if_due
    from issuer.ca.ceremony.lock import renewal_lock
    from issuer.ca.material import load_ca_material
    from issuer.wiring import open_ceremony_hsm

    if config.root.mode is RootMode.EXTERNAL:
        raise CeremonyError(
            "root.mode is 'external': the root's CRL is signed and published by the root's "
            "operator, not by this engine; nothing to renew"
        )
    days = config.root.crl_next_update_days
    if args.if_due:
        before = args.renew_before_days
        renew_arl_if_due(
            config.data_dir,
            lambda: open_ceremony_hsm(config),
            renew_before=timedelta(days=before) if before is not None else None,
            next_update_days=days,
        )
        return
    with renewal_lock(load_ca_material(config.data_dir).ca_dir):
        renew_arl(
            config.data_dir, open_ceremony_hsm(config), next_update_days=days, reason="command"
        )


def _rollover(config: CeremonyConfig, args: argparse.Namespace) -> None:
    from issuer.ca.ceremony.lock import renewal_lock
    from issuer.ca.material import load_ca_material
    from issuer.wiring import open_ceremony_hsm

    # It rewrites ceremony.json like a renewal: under the same lock (issuer.ca.ceremony.lock).
    with renewal_lock(load_ca_material(config.data_dir).ca_dir):
        rollover_issuing_ca(config, open_ceremony_hsm(config), key_label=args.key_label)


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``zorgid ca ...``."""
    ca = subparsers.add_parser(
        "ca",
        help="key ceremony: make the CA hierarchy on the token, renew the OCSP responder, "
        "roll the issuing CA over",
    )
    sub = ca.add_subparsers(dest="ca_command", required=True, metavar="CA_COMMAND")

    def with_config(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
        parser.add_argument(
            "--config", required=True, metavar="FILE", help="the reviewed ceremony TOML file"
        )
        return parser

    p = with_config(sub.add_parser("check", help="check the ceremony file; change nothing"))
    p.set_defaults(func=_with_config(_check))

    p = with_config(
        sub.add_parser(
            "init",
            help="run the ceremony: keys on the token, certificates in <data_dir>/ca "
            "(external root: the issuing CA key and a CSR)",
        )
    )
    p.set_defaults(func=_with_config(_init))

    p = with_config(
        sub.add_parser(
            "import-issuing",
            help="external root, step two: import the root-signed issuing CA certificate "
            "and finish the ceremony",
        )
    )
    p.add_argument("--cert", required=True, metavar="ISSUING.pem", help="issuing CA certificate")
    p.add_argument(
        "--root", required=True, metavar="ROOT.pem", help="the external root certificate"
    )
    p.add_argument(
        "--chain",
        metavar="INTERMEDIATES.pem",
        help="CA certificates between the root and the issuing CA, the issuing CA's issuer first",
    )
    p.set_defaults(func=_with_config(_import))

    p = with_config(
        sub.add_parser(
            "renew-ocsp",
            help="issue a new OCSP responder certificate; the old one is kept as "
            "ocsp-responder-<serial>.pem",
        )
    )
    p.add_argument(
        "--new-key",
        action="store_true",
        help="generate a new responder key (label <key_label>-<UTC time>) instead of "
        "certifying the current key again",
    )
    p.add_argument(
        "--if-due",
        action="store_true",
        help="renew only if less than --renew-before-days of the current certificate is left "
        "(for cron: run daily; a renewed certificate is not due again)",
    )
    p.add_argument(
        "--renew-before-days",
        type=int,
        default=DEFAULT_RENEW_BEFORE.days,
        metavar="DAYS",
        help=f"with --if-due: the threshold (default {DEFAULT_RENEW_BEFORE.days})",
    )
    p.set_defaults(func=_with_config(_renew))

    p = with_config(
        sub.add_parser(
            "renew-arl",
            help="sign the next CRL of the self-signed root (root.crl, number + 1) with the "
            "root key",
        )
    )
    p.add_argument(
        "--if-due",
        action="store_true",
        help="renew only if less than --renew-before-days are left before its nextUpdate "
        "(for cron: run daily; a renewed CRL is not due again)",
    )
    p.add_argument(
        "--renew-before-days",
        type=int,
        default=None,
        metavar="DAYS",
        help="with --if-due: the threshold (default: a third of [root] crl_next_update_days)",
    )
    p.set_defaults(func=_with_config(_renew_arl))

    p = with_config(
        sub.add_parser(
            "rollover",
            help="make a new issuing CA current for new certificates; the old one keeps "
            "serving login, OCSP and its CRL until its certificates expire",
        )
    )
    p.add_argument(
        "--key-label",
        metavar="LABEL",
        help="token label of the new issuing CA key (default <issuing_ca.key_label>-g<n>)",
    )
    p.set_defaults(func=_with_config(_rollover))
