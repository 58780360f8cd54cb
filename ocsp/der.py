"""A minimal DER writer for the few fixed shapes of an OCSP response (X.690 §8, §10).

Encoding a response through asn1crypto's object model costs ~2 ms, ten times
the HSM signature; these shapes are fixed (RFC 6960 §4.2.1), so we write the
bytes directly. asn1crypto still *parses* every request, and the tests check
every response with OpenSSL, asn1crypto and pkilint.
"""

from __future__ import annotations

from datetime import UTC, datetime


def length(n: int) -> bytes:
    """DER definite length (X.690 §8.1.3: short form below 128, else long form)."""
    if n < 0x80:
        return bytes((n,))
    body = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes((0x80 | len(body),)) + body


def tlv(tag: int, content: bytes) -> bytes:
    return bytes((tag,)) + length(len(content)) + content


def sequence(*items: bytes) -> bytes:
    return tlv(0x30, b"".join(items))


def integer(value: int) -> bytes:
    """INTEGER, two's complement, minimal octets (X.690 §8.3.2)."""
    size = (value.bit_length() + 8) // 8 if value >= 0 else ((-value - 1).bit_length() + 8) // 8
    return tlv(0x02, value.to_bytes(max(size, 1), "big", signed=True))


def enumerated(value: int) -> bytes:
    return tlv(0x0A, integer(value)[2:])


def octet_string(value: bytes) -> bytes:
    return tlv(0x04, value)


def bit_string(value: bytes) -> bytes:
    return tlv(0x03, b"\x00" + value)


def generalized_time(moment: datetime) -> bytes:
    """GeneralizedTime ``YYYYMMDDHHMMSSZ``, no fraction (RFC 5280 §4.1.2.5.2)."""
    text = moment.astimezone(UTC).strftime("%Y%m%d%H%M%SZ")
    return tlv(0x18, text.encode("ascii"))


def explicit(number: int, content: bytes) -> bytes:
    """[number] EXPLICIT, constructed context tag."""
    return tlv(0xA0 | number, content)


def read_tlv(data: bytes, pos: int, end: int) -> tuple[int, int, int] | None:
    """(tag, content start, content end) of the TLV at *pos*, or ``None`` if it is not DER
    with a one-octet tag and a minimal definite length that fits before *end*."""
    if pos + 2 > end:
        return None
    tag = data[pos]
    if tag & 0x1F == 0x1F:
        return None  # multi-octet tags never occur in OCSP requests
    first = data[pos + 1]
    pos += 2
    if first < 0x80:
        size = first
    else:
        count = first & 0x7F
        if count == 0 or count > 3 or pos + count > end:
            return None
        size = int.from_bytes(data[pos : pos + count], "big")
        if size < 0x80 or data[pos] == 0:
            return None  # not the minimal length form DER requires (X.690 §10.1)
        pos += count
    if pos + size > end:
        return None
    return tag, pos, pos + size
