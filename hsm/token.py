"""A logged-in token: find, generate, destroy and sign with keys, surviving device errors.

Login once per process per token: PKCS#11 login state belongs to the
application, not the session (PKCS#11 v2.40 section 5.6; a second
``C_Login`` answers ``CKR_USER_ALREADY_LOGGED_IN``). So :meth:`Hsm.open`
shares one :class:`Hsm` per (module, token label) in the process, and that
object keeps one R/W session, logged in once.

Recovery: an error that means "the session, the module or the device went
away" (see :data:`hsm.recovery.RECOVERABLE`) makes the call drop its session,
re-initialise the module (``C_Finalize`` + ``C_Initialize``), log in again,
re-find the key and retry -- at most ``retries`` times with exponential
backoff. If the token still cannot be reached the caller gets
:class:`~hsm.errors.HsmUnavailable`; the next call tries again, so no
process restart is ever needed.

Slots: SoftHSM 2.6 reads its token directory at ``C_Initialize`` only, so a
token initialised by ``softhsm2-util`` after the module was loaded is not
listed. When a label is not found, :meth:`Hsm.open` re-initialises the
module once and looks again.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any, ClassVar, TypeVar

from cryptography.hazmat.primitives.asymmetric import ec
from pkcs11 import Attribute, Mechanism, ObjectClass
from pkcs11 import exceptions as p11e

from hsm import errors
from hsm.keys import HsmEcPrivateKey, HsmPrivateKey, HsmRsaPrivateKey
from hsm.module import FaultHook, LoadedModule, load_module
from hsm.objects import (
    KeyAttributes,
    find_objects,
    find_public,
    generate_keypair,
    private_template,
    public_key_of,
    read_attributes,
)
from hsm.recovery import PIN_ERRORS, is_recoverable, rv_name
from hsm.spec import KeySpec
from hsm.uri import PinSource, Pkcs11Uri

log = logging.getLogger(__name__)

T = TypeVar("T")

DEFAULT_MODULE = "/usr/lib/softhsm/libsofthsm2.so"


class Hsm:
    """One token in one loaded module, logged in once; use :meth:`open` to get it."""

    _registry: ClassVar[dict[tuple[str, str], Hsm]] = {}
    _registry_lock: ClassVar[threading.Lock] = threading.Lock()

    def __init__(
        self,
        *,
        module: LoadedModule,
        token_label: str,
        pin_source: PinSource,
        retries: int = 3,
        backoff: float = 0.05,
    ) -> None:
        self._module = module
        self._token_label = token_label
        self._pin_source = pin_source
        self._retries = retries
        self._backoff = backoff
        self._session: Any = None
        self._generation = -1
        self._closed = False
        self._keys: dict[str, Any] = {}

    # -- opening -----------------------------------------------------------------

    @classmethod
    def open(
        cls,
        uri: Pkcs11Uri | str | None = None,
        *,
        module_path: str | os.PathLike[str] | None = None,
        token_label: str | None = None,
        pin_source: PinSource | str | None = None,
        module_environment: Mapping[str, str] | None = None,
        retries: int = 3,
        backoff: float = 0.05,
    ) -> Hsm:
        """Open (or reuse) the process-wide handle of a token and log in.

        Give a URI (its ``object``/``id`` part is ignored here; see
        :meth:`key_from_uri`) or the keyword form. Keywords override the URI.
        The module path defaults to SoftHSM2's; *module_environment* is what the module
        reads when it is loaded (:func:`hsm.module.load_module`).
        """
        parsed = Pkcs11Uri.parse(uri) if isinstance(uri, str) else uri
        if parsed is not None:
            parsed.require_usable()
        label = token_label or (parsed.token if parsed else None)
        if not label:
            raise errors.InvalidUri(
                "no token label given; put token=<label> in the URI or pass token_label="
            )
        given = os.fspath(module_path) if module_path is not None else None
        path = given or (parsed.module_path if parsed else None) or DEFAULT_MODULE
        if isinstance(pin_source, str):
            source: PinSource | None = PinSource.parse(pin_source)
        else:
            source = pin_source or (parsed.pin_source if parsed else None)
        if source is None:
            raise errors.InvalidUri(
                f"no PIN source for token {label!r}; add pin-source=file:/path or "
                "pin-source=env:NAME to the URI (pin-value is refused)"
            )
        key = (os.path.realpath(path), label)
        with cls._registry_lock:
            found = cls._registry.get(key)
            if found is not None and not found._closed:
                load_module(path, module_environment)  # refuses other module settings
                return found
            module = load_module(path, module_environment)
            made = cls(
                module=module,
                token_label=label,
                pin_source=source,
                retries=retries,
                backoff=backoff,
            )
            with module.lock:
                try:
                    made._connect(rescan=True)
                except p11e.PKCS11Error as exc:
                    if not is_recoverable(exc):
                        raise errors.HsmOperationFailed(
                            f"opening token {label!r} on {path!r} failed with {rv_name(exc)}; "
                            "check the module and token configuration"
                        ) from None
                    # The device hiccuped while we connected: the usual
                    # recovery (re-initialise, retry with backoff) or HsmUnavailable.
                    made._call("open", lambda session: None)
            cls._registry[key] = made
            return made

    @classmethod
    def open_key(cls, uri: Pkcs11Uri | str) -> HsmPrivateKey:
        """Open the token named by ``uri`` and return the key it names (one config line)."""
        parsed = Pkcs11Uri.parse(uri) if isinstance(uri, str) else uri
        return cls.open(parsed).key_from_uri(parsed)

    @property
    def token_label(self) -> str:
        return self._token_label

    @property
    def module_path(self) -> str:
        return self._module.path

    @property
    def uri(self) -> Pkcs11Uri:
        """URI of the token (with module path and PIN *source*, never a PIN)."""
        return Pkcs11Uri(
            token=self._token_label, module_path=self._module.path, pin_source=self._pin_source
        )

    @property
    def module(self) -> LoadedModule:
        """The loaded module; tests use it to reach the real ``pkcs11.lib`` underneath."""
        return self._module

    def set_fault_hook(self, hook: FaultHook | None) -> None:
        """Install a hook run before every PKCS#11 operation on this *module* (tests only)."""
        self._module.fault_hook = hook

    def __repr__(self) -> str:
        state = "closed" if self._closed else ("connected" if self._session else "disconnected")
        return (
            f"<Hsm token={self._token_label!r} module={self._module.path!r} "
            f"pin-source={self._pin_source} {state}>"
        )

    # -- connection management (module lock held) -------------------------------

    def _find_token(self, *, rescan: bool) -> Any:
        self._module.ensure_initialized()
        self._module.fire("find-token")
        labels = self._token_labels()
        if self._token_label not in labels and rescan:
            # SoftHSM lists only the tokens present at C_Initialize.
            self._module.reinitialize(self._module.generation)
            labels = self._token_labels()
        found = labels.get(self._token_label)
        if found is None:
            present = sorted(lbl for lbl in labels if lbl)
            raise errors.TokenNotFound(
                f"no token labelled {self._token_label!r} in module {self._module.path!r} "
                f"(present: {present}); initialise it or fix token= in the URI"
            )
        return found

    def _token_labels(self) -> dict[str, Any]:
        tokens: dict[str, Any] = {}
        for slot in self._module.lib.get_slots(token_present=True):
            token = slot.get_token()
            tokens.setdefault(token.label, token)
        return tokens

    def _connect(self, *, rescan: bool) -> None:
        token = self._find_token(rescan=rescan)
        self._module.fire("login")
        pin = self._pin_source.read()
        try:
            session = token.open(rw=True, user_pin=pin)
        except p11e.UserAlreadyLoggedIn:
            # Someone else in this process logged in to this token already;
            # login state is per application, so an unauthenticated session
            # sees the private objects too.
            session = token.open(rw=True)
        except PIN_ERRORS as exc:
            raise errors.PinIncorrect(
                f"token {self._token_label!r} refused the PIN from {self._pin_source} "
                f"({rv_name(exc)}); put the token's user PIN in that source "
                "(it is never logged), and mind the retry counter"
            ) from None
        finally:
            del pin
        self._session = session
        self._generation = self._module.generation
        self._keys.clear()
        log.info("logged in to token %r on %s", self._token_label, self._module.path)

    def _ensure_session(self) -> Any:
        if self._session is None or self._generation != self._module.generation:
            self._session = None
            self._connect(rescan=False)
        return self._session

    def _drop_session(self) -> None:
        self._session = None
        self._keys.clear()

    def _call(
        self,
        operation: str,
        fn: Callable[[Any], T],
        *,
        retries: int | None = None,
        sleep: bool = True,
    ) -> T:
        """Run ``fn(session)`` under the module lock, recovering from device errors.

        The backoff sleeps hold the module lock on purpose: while the module is
        being re-initialised no other token on it can work either, and callers
        queue instead of piling more failing calls onto the device.
        """
        retries = self._retries if retries is None else retries
        last = "none"
        with self._module.lock:
            if self._closed:
                raise errors.HsmError(
                    f"Hsm for token {self._token_label!r} was closed; call Hsm.open() again"
                )
            for attempt in range(retries + 1):
                seen = self._module.generation
                try:
                    session = self._ensure_session()
                    self._module.fire(operation)
                    return fn(session)
                except p11e.PKCS11Error as exc:
                    if not is_recoverable(exc):
                        raise errors.HsmOperationFailed(
                            f"{operation} on token {self._token_label!r} failed with "
                            f"{rv_name(exc)}; this is not a transient device error -- "
                            "check the key and the request"
                        ) from None
                    last = rv_name(exc)
                except errors.TokenNotFound:
                    last = "TokenNotFound"
                log.warning(
                    "%s on token %r failed (%s), attempt %d of %d; re-initialising",
                    operation,
                    self._token_label,
                    last,
                    attempt + 1,
                    retries + 1,
                )
                self._drop_session()
                if attempt == retries:
                    break
                if sleep:
                    time.sleep(self._backoff * (2**attempt))
                try:
                    self._module.reinitialize(seen)
                except p11e.PKCS11Error as exc:
                    last = rv_name(exc)
        raise errors.HsmUnavailable(
            f"token {self._token_label!r} on {self._module.path!r} unreachable for {operation} "
            f"after {retries + 1} attempts (last: {last}); check the HSM "
            "and its connection -- the next call retries"
        ) from None

    # -- health --------------------------------------------------------------------

    def ping(self) -> None:
        """Raise :class:`HsmUnavailable` unless the token answers a cheap query now."""

        def probe(session: Any) -> None:
            session.token.slot.get_token()  # C_GetTokenInfo
            # C_FindObjectsInit/C_FindObjects: proves the session handle works.
            find_objects(session, {Attribute.LABEL: "\x00zorgid-ping"})

        # One re-initialisation, no backoff: a health probe must answer quickly
        # but still bring a recovered token back without waiting for traffic.
        self._call("ping", probe, retries=1, sleep=False)

    def healthy(self) -> bool:
        """True if :meth:`ping` succeeds; never raises (for health checks)."""
        try:
            self.ping()
        except errors.HsmError:
            return False
        return True

    def close(self) -> None:
        """Log out and close the session; later :meth:`open` calls make a new handle."""
        with self._module.lock:
            if self._closed:
                return
            self._closed = True
            session, self._session = self._session, None
            if session is not None and self._generation == self._module.generation:
                with contextlib.suppress(p11e.PKCS11Error):
                    session.close()
        with Hsm._registry_lock:
            key = (os.path.realpath(self._module.path), self._token_label)
            if Hsm._registry.get(key) is self:
                del Hsm._registry[key]

    # -- keys ---------------------------------------------------------------------

    def _find_private(self, session: Any, label: str | None, key_id: bytes | None) -> Any:
        found = find_objects(session, private_template(label, key_id))
        if not found:
            raise errors.KeyNotFound(
                f"no private key with label={label!r} id={key_id.hex() if key_id else None} "
                f"on token {self._token_label!r}; generate it or fix the label/id"
            )
        if len(found) > 1:
            raise errors.HsmOperationFailed(
                f"{len(found)} private keys match label={label!r} on token "
                f"{self._token_label!r}; address the key by id= as well"
            )
        return found[0]

    def has_key(self, label: str | None = None, *, key_id: bytes | None = None) -> bool:
        """True if a private key with this label (and/or id) is on the token."""
        _require_selector(label, key_id)

        def run(session: Any) -> bool:
            return bool(find_objects(session, private_template(label, key_id)))

        return self._call("find", run)

    def list_keys(self) -> list[str]:
        """Labels of the private keys on the token, sorted."""

        def run(session: Any) -> list[str]:
            return sorted(
                str(obj[Attribute.LABEL])
                for obj in find_objects(session, {Attribute.CLASS: ObjectClass.PRIVATE_KEY})
            )

        return self._call("find", run)

    def get_key(self, label: str | None = None, *, key_id: bytes | None = None) -> HsmPrivateKey:
        """The key with this label (and/or id) as a ``cryptography`` private key."""
        _require_selector(label, key_id)

        def run(session: Any) -> HsmPrivateKey:
            priv = self._find_private(session, label, key_id)
            return self._wrap(session, priv)

        return self._call("find", run)

    def get_ec_key(
        self, label: str | None = None, *, key_id: bytes | None = None
    ) -> HsmEcPrivateKey:
        """Like :meth:`get_key`, typed for EC; raises :class:`UnsupportedAlgorithm` otherwise."""
        key = self.get_key(label, key_id=key_id)
        if not isinstance(key, HsmEcPrivateKey):
            raise errors.UnsupportedAlgorithm(
                f"key {key.label!r} is {key.spec.value}, expected an EC key; check the config"
            )
        return key

    def get_rsa_key(
        self, label: str | None = None, *, key_id: bytes | None = None
    ) -> HsmRsaPrivateKey:
        """Like :meth:`get_key`, typed for RSA; raises :class:`UnsupportedAlgorithm` otherwise."""
        key = self.get_key(label, key_id=key_id)
        if not isinstance(key, HsmRsaPrivateKey):
            raise errors.UnsupportedAlgorithm(
                f"key {key.label!r} is {key.spec.value}, expected an RSA key; check the config"
            )
        return key

    def key_from_uri(self, uri: Pkcs11Uri | str) -> HsmPrivateKey:
        """The key named by the ``object=``/``id=`` of ``uri`` (its token must be this one)."""
        parsed = Pkcs11Uri.parse(uri) if isinstance(uri, str) else uri
        parsed.require_usable()
        if parsed.token is not None and parsed.token != self._token_label:
            raise errors.InvalidUri(
                f"URI names token {parsed.token!r} but this Hsm is token "
                f"{self._token_label!r}; open the right token with Hsm.open(uri)"
            )
        if parsed.type not in (None, "private"):
            raise errors.InvalidUri(
                f"URI has type={parsed.type}; a signing key is type=private (or omit type)"
            )
        if parsed.object is None and parsed.id is None:
            raise errors.InvalidUri(
                "URI names no key; add object=<label> and/or id=<pct-encoded bytes>"
            )
        return self.get_key(parsed.object, key_id=parsed.id)

    def _wrap(self, session: Any, priv: Any) -> HsmPrivateKey:
        label = str(priv[Attribute.LABEL])
        key_id = bytes(priv[Attribute.ID])
        key_type = priv[Attribute.KEY_TYPE]
        pub = find_public(session, label, key_id, self._token_label)
        self._keys[label] = priv
        spec, public = public_key_of(key_type, pub, label)
        if isinstance(public, ec.EllipticCurvePublicKey):
            return HsmEcPrivateKey(
                hsm=self, label=label, key_id=key_id, spec=spec, public_key=public
            )
        return HsmRsaPrivateKey(hsm=self, label=label, key_id=key_id, spec=spec, public_key=public)

    def generate_key(
        self,
        label: str,
        spec: KeySpec | str,
        *,
        key_id: bytes | None = None,
        decrypt: bool = False,
    ) -> HsmPrivateKey:
        """Generate a key pair ON the token; the private half is sensitive and unextractable.

        Refuses to shadow an existing label or id (:class:`KeyExists`):
        two objects with one label make every later lookup ambiguous. *decrypt*: an
        RSA key that also decrypts (a smartcard's encryption key, never a CA key).
        """
        spec = KeySpec.parse(spec) if isinstance(spec, str) else spec
        if not label:
            raise errors.InvalidUri("a key needs a non-empty label")
        new_id = key_id if key_id is not None else os.urandom(16)

        # Set once an attempt saw neither label nor id on the token: if that attempt
        # then failed with a device error after C_GenerateKeyPair went through, the
        # retry finds *our* pair and returns it instead of refusing with KeyExists.
        checked_absent = False

        def run(session: Any) -> HsmPrivateKey:
            nonlocal checked_absent
            if checked_absent:
                mine = find_objects(session, private_template(label, new_id))
                if len(mine) == 1:
                    return self._wrap(session, mine[0])
            for what, template in (
                (f"label {label!r}", {Attribute.LABEL: label}),
                (f"id {new_id.hex()}", {Attribute.ID: new_id}),
            ):
                if find_objects(session, template):
                    raise errors.KeyExists(
                        f"token {self._token_label!r} already holds an object with {what}; "
                        "choose another label/id or destroy the old key first"
                    )
            checked_absent = True
            generate_keypair(session, label, new_id, spec, decrypt=decrypt)
            self._module.fire("generate-readback")
            priv = self._find_private(session, label, new_id)
            return self._wrap(session, priv)

        key = self._call("generate", run)
        log.info("generated %s key %r on token %r", spec.value, label, self._token_label)
        return key

    def destroy_key(self, label: str | None = None, *, key_id: bytes | None = None) -> None:
        """Destroy the private key and its public key (e.g. ceremony rollback)."""
        _require_selector(label, key_id)

        # Set just before the private key is destroyed: a retry after a device error
        # then finishes the public half instead of failing with KeyNotFound.
        destroyed_id: bytes | None = None

        def run(session: Any) -> None:
            nonlocal destroyed_id
            if destroyed_id is not None and not find_objects(
                session, private_template(label, key_id)
            ):
                for pub in find_objects(
                    session, {Attribute.CLASS: ObjectClass.PUBLIC_KEY, Attribute.ID: destroyed_id}
                ):
                    pub.destroy()
                return
            priv = self._find_private(session, label, key_id)
            real_label = str(priv[Attribute.LABEL])
            real_id = bytes(priv[Attribute.ID])
            pubs = find_objects(
                session, {Attribute.CLASS: ObjectClass.PUBLIC_KEY, Attribute.ID: real_id}
            )
            destroyed_id = real_id
            priv.destroy()
            self._module.fire("destroy-public")
            for pub in pubs:
                pub.destroy()
            self._keys.pop(real_label, None)

        self._call("destroy", run)
        log.info("destroyed key %r on token %r", label, self._token_label)

    def key_attributes(
        self, label: str | None = None, *, key_id: bytes | None = None
    ) -> KeyAttributes:
        """Read back the private key's security attributes from the token."""
        _require_selector(label, key_id)

        def run(session: Any) -> KeyAttributes:
            priv = self._find_private(session, label, key_id)
            return read_attributes(priv)

        return self._call("find", run)

    # -- signing ----------------------------------------------------------------

    def _sign(
        self,
        key: HsmEcPrivateKey | HsmRsaPrivateKey,
        mechanism: Mechanism,
        param: tuple[Any, ...] | None,
        data: bytes,
    ) -> bytes:
        """One ``C_SignInit``/``C_Sign`` with the key's cached handle (re-found after recovery)."""

        def run(session: Any) -> bytes:
            priv = self._cached_private(session, key)
            return bytes(priv.sign(data, mechanism=mechanism, mechanism_param=param))

        return self._call("sign", run)

    def _decrypt(
        self, key: HsmRsaPrivateKey, mechanism: Mechanism, param: Any, data: bytes
    ) -> bytes:
        """One ``C_Decrypt``; a key made without ``decrypt`` is refused (``CKA_DECRYPT``)."""

        def run(session: Any) -> bytes:
            priv = self._cached_private(session, key)
            if not bool(priv[Attribute.DECRYPT]):
                raise errors.HsmOperationFailed(
                    f"key {key.label!r} on token {self._token_label!r} does not decrypt "
                    "(CKA_DECRYPT false: a signing key); decrypt with the encryption key"
                )
            return bytes(priv.decrypt(data, mechanism=mechanism, mechanism_param=param))

        return self._call("decrypt", run)

    def _cached_private(self, session: Any, key: HsmEcPrivateKey | HsmRsaPrivateKey) -> Any:
        """The key's private object handle, cached by label (cleared by a recovery)."""
        priv = self._keys.get(key.label)
        if priv is None:
            priv = self._keys[key.label] = self._find_private(session, key.label, key.key_id)
        return priv


def _require_selector(label: str | None, key_id: bytes | None) -> None:
    if label is None and key_id is None:
        raise errors.InvalidUri("name the key by label and/or key_id")


def _after_fork_in_child() -> None:
    """The parent's sessions are not the child's: drop them (the module re-initialises)."""
    Hsm._registry_lock = threading.Lock()
    for hsm in Hsm._registry.values():
        hsm._session = None
        hsm._keys.clear()


os.register_at_fork(after_in_child=_after_fork_in_child)


__all__ = ["DEFAULT_MODULE", "Hsm"]
