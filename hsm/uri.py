"""PKCS#11 URIs (RFC 7512) and where the PIN comes from.

A key is named by a URI such as
``pkcs11:token=zorgid;object=issuing-ca?module-path=/usr/lib/softhsm/libsofthsm2.so&pin-source=file:/run/pin``.

Choices, with the RFC sections that force them:

* Path attributes are separated by ``;``, query attributes by ``&``
  (section 2.3). Values are percent-decoded; ``id`` is arbitrary bytes and is
  always written fully percent-encoded (section 2.3, "id").
* An attribute must not repeat in the path (section 2.3); a repeat is refused.
* An unrecognised *path* attribute (vendor ``x-`` ones included) must make
  the URI match nothing (section 2.3); we keep it and :meth:`Pkcs11Uri.require_usable`
  refuses such a URI with a message, rather than silently matching a wrong key.
  Unrecognised *query* attributes are ignored (section 2.3).
* ``pin-value`` (section 2.3) is refused: a PIN must not sit in a config file,
  a command line or a log line. Use ``pin-source=file:/path`` (RFC 7512) or
  ``pin-source=env:NAME`` (our documented extension).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from pathlib import Path
from urllib.parse import quote, unquote_to_bytes

from hsm.errors import InvalidUri, PinSourceError

_PATH_ATTRS = frozenset(
    {
        "token",
        "manufacturer",
        "serial",
        "model",
        "library-manufacturer",
        "library-description",
        "library-version",
        "slot-manufacturer",
        "slot-description",
        "slot-id",
        "object",
        "type",
        "id",
    }
)
_OBJECT_TYPES = frozenset({"public", "private", "cert", "secret-key", "data"})
# RFC 7512 section 2.3: pk11-res-avail / pk11-qchar -- characters that may appear unencoded.
_SAFE_PATH = "-._~:[]@!$'()*+,="
_SAFE_QUERY = "-._~:[]@!$'()*+,=/?|"


@dataclass(frozen=True)
class PinSource:
    """Where to read a token's user PIN; holds the *location*, never the PIN.

    ``file:/path`` (or a bare path) is RFC 7512's ``pin-source``; ``env:NAME``
    is our extension for container secrets injected as environment variables.
    """

    kind: str  # "file" or "env"
    location: str

    @classmethod
    def parse(cls, text: str) -> PinSource:
        if text.startswith("env:"):
            name = text[4:]
            if not name:
                raise InvalidUri("pin-source 'env:' names no variable; write env:NAME")
            return cls("env", name)
        if text.startswith("file:"):
            path = text[5:]
            # Accept file:///abs/path as well as file:/abs/path.
            if path.startswith("//"):
                path = path[2:]
        elif text.startswith("|"):
            raise InvalidUri("pin-source '|command' is not supported; write file:/path or env:NAME")
        else:
            path = text
        if not path:
            raise InvalidUri("pin-source names no file; write file:/path or env:NAME")
        return cls("file", path)

    def read(self) -> str:
        """Read the PIN now (each login re-reads, so a rotated PIN file is picked up)."""
        if self.kind == "env":
            value = os.environ.get(self.location)
            if value is None:
                raise PinSourceError(
                    f"environment variable {self.location!r} named by pin-source is not set; "
                    "export it before starting, or use pin-source=file:/path"
                )
            pin = value
        else:
            try:
                pin = Path(self.location).read_text(encoding="utf-8")
            except OSError as exc:
                reason = exc.strerror or type(exc).__name__
                raise PinSourceError(
                    f"cannot read PIN file {self.location!r} ({reason}); "
                    "check that it exists and is readable by this process"
                ) from None
        pin = pin.rstrip("\r\n")
        if not pin:
            raise PinSourceError(f"PIN source {self} is empty; write the token's user PIN into it")
        return pin

    def __str__(self) -> str:
        return f"{self.kind}:{self.location}"


@dataclass(frozen=True)
class Pkcs11Uri:
    """A parsed RFC 7512 URI. Never contains a PIN (``pin-value`` is refused)."""

    token: str | None = None
    object: str | None = None
    id: bytes | None = None
    type: str | None = None
    module_path: str | None = None
    pin_source: PinSource | None = None
    serial: str | None = None
    manufacturer: str | None = None
    model: str | None = None
    slot_id: int | None = None
    # Attributes we do not interpret: path ones make the URI match nothing
    # (RFC 7512 section 2.3); query ones are kept only to round-trip.
    unknown_path: tuple[tuple[str, str], ...] = field(default=())
    unknown_query: tuple[tuple[str, str], ...] = field(default=())

    @classmethod
    def parse(cls, text: str) -> Pkcs11Uri:
        """Parse ``text``; raise :class:`InvalidUri` saying what is wrong and how to fix it."""
        if not isinstance(text, str):
            raise InvalidUri(f"expected a str PKCS#11 URI, got {type(text).__name__}")
        scheme, sep, rest = text.partition(":")
        if not sep or scheme.lower() != "pkcs11":
            raise InvalidUri(
                f"not a PKCS#11 URI (got scheme {scheme[:20]!r}); "
                "expected 'pkcs11:token=...;object=...' (RFC 7512)"
            )
        if "#" in rest:
            raise InvalidUri("a PKCS#11 URI has no fragment part; remove '#...' (RFC 7512 2.3)")
        path, _, query = rest.partition("?")
        values: dict[str, str] = {}
        raw_id: bytes | None = None
        unknown_path: list[tuple[str, str]] = []
        for part in filter(None, path.split(";")):
            name, eq, raw = part.partition("=")
            name = name.strip().lower()
            if not eq or not name:
                raise InvalidUri(
                    f"path attribute {name or part!r} has no '=value'; write name=value"
                )
            if name in values or (name == "id" and raw_id is not None):
                raise InvalidUri(
                    f"path attribute {name!r} appears twice; RFC 7512 2.3 allows it once"
                )
            if name == "pin-value" or name == "pin-source":
                raise InvalidUri(f"{name!r} belongs in the query part ('?{name}=...')")
            if name == "id":
                raw_id = unquote_to_bytes(raw)
                continue
            decoded = _decode_text(name, raw)
            if name in _PATH_ATTRS:
                values[name] = decoded
            else:
                unknown_path.append((name, decoded))
        module_path: str | None = None
        pin_source: PinSource | None = None
        unknown_query: list[tuple[str, str]] = []
        for part in filter(None, query.split("&")):
            name, eq, raw = part.partition("=")
            name = name.strip().lower()
            if name == "pin-value":
                raise InvalidUri(
                    "pin-value in a PKCS#11 URI is refused: a PIN must not sit in config, "
                    "command lines or logs; use pin-source=file:/path or pin-source=env:NAME"
                )
            if not eq:
                raise InvalidUri(f"query attribute {name!r} has no '=value'; write name=value")
            decoded = _decode_text(name, raw)
            if name == "module-path":
                if module_path is not None:
                    raise InvalidUri("module-path given twice; give it once")
                module_path = decoded
            elif name == "pin-source":
                if pin_source is not None:
                    raise InvalidUri("pin-source given twice; give it once")
                pin_source = PinSource.parse(decoded)
            else:
                unknown_query.append((name, decoded))
        obj_type = values.get("type")
        if obj_type is not None and obj_type not in _OBJECT_TYPES:
            raise InvalidUri(
                f"type={obj_type!r} is not an RFC 7512 object type; "
                f"expected one of {sorted(_OBJECT_TYPES)}"
            )
        slot_id: int | None = None
        if "slot-id" in values:
            try:
                slot_id = int(values["slot-id"], 10)
            except ValueError:
                raise InvalidUri(f"slot-id={values['slot-id']!r} is not a decimal number") from None
        return cls(
            token=values.get("token"),
            object=values.get("object"),
            id=raw_id,
            type=obj_type,
            module_path=module_path,
            pin_source=pin_source,
            serial=values.get("serial"),
            manufacturer=values.get("manufacturer"),
            model=values.get("model"),
            slot_id=slot_id,
            unknown_path=tuple(unknown_path),
            unknown_query=tuple(unknown_query),
        )

    def require_usable(self) -> None:
        """Refuse URIs that RFC 7512 2.3 says match nothing (unknown path attributes)."""
        if self.unknown_path:
            names = ", ".join(n for n, _ in self.unknown_path)
            raise InvalidUri(
                f"PKCS#11 URI has path attribute(s) this layer does not understand ({names}); "
                "RFC 7512 2.3 says such a URI matches nothing -- remove them"
            )

    def with_object(self, label: str | None, key_id: bytes | None = None) -> Pkcs11Uri:
        return replace(self, object=label, id=key_id)

    def without_pin_source(self) -> Pkcs11Uri:
        return replace(self, pin_source=None)

    def __str__(self) -> str:
        path: list[str] = []
        for name, value in (
            ("token", self.token),
            ("manufacturer", self.manufacturer),
            ("serial", self.serial),
            ("model", self.model),
            ("slot-id", None if self.slot_id is None else str(self.slot_id)),
            ("object", self.object),
            ("type", self.type),
        ):
            if value is not None:
                path.append(f"{name}={quote(value, safe=_SAFE_PATH)}")
        if self.id is not None:
            path.append("id=" + "".join(f"%{b:02X}" for b in self.id))
        path.extend(f"{n}={quote(v, safe=_SAFE_PATH)}" for n, v in self.unknown_path)
        query: list[str] = []
        if self.module_path is not None:
            query.append(f"module-path={quote(self.module_path, safe=_SAFE_QUERY)}")
        if self.pin_source is not None:
            query.append(f"pin-source={quote(str(self.pin_source), safe=_SAFE_QUERY)}")
        query.extend(f"{n}={quote(v, safe=_SAFE_QUERY)}" for n, v in self.unknown_query)
        text = "pkcs11:" + ";".join(path)
        if query:
            text += "?" + "&".join(query)
        return text


def _decode_text(name: str, raw: str) -> str:
    try:
        return unquote_to_bytes(raw).decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidUri(
            f"attribute {name!r} is not valid UTF-8 after percent-decoding; "
            "only 'id' may hold arbitrary bytes"
        ) from None


__all__ = ["PinSource", "Pkcs11Uri"]
