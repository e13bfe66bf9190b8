"""enigma2's .eit file beside a recording: one DVB EIT event (ETSI EN 300 468, 5.2.4).

enigma2 writes it from its EPG cache (eEPGCache::saveEventToFile: the 12 bytes of the event
loop entry and its descriptors) and the movie list reads title and description from it. Here
it is built from an EPG event's fields: a short event descriptor (name, short text) and
extended event descriptors for the long text, strings marked UTF-8 (0x15, Annex A).
"""

import struct
from typing import List

UTF8 = b"\x15"  # EN 300 468 Annex A: the string is UTF-8
MJD_UNIX_EPOCH = 40587  # Modified Julian Date of 1970-01-01
MAX_DESCRIPTOR = 255
MAX_EXTENDED = 16  # descriptor_number is 4 bits


def _bcd(value: int) -> int:
    return (value // 10) << 4 | value % 10


def _bcd_time(seconds: int) -> bytes:
    hours, rest = divmod(max(0, int(seconds)), 3600)
    return bytes((_bcd(min(hours, 99)), _bcd(rest // 60), _bcd(rest % 60)))


def _text(value: str, max_bytes: int) -> bytes:
    """UTF8 + the text cut to max_bytes at a character boundary ("" stays empty)."""
    if not value:
        return b""
    data = value.encode("utf-8")[:max_bytes - 1]
    return UTF8 + data.decode("utf-8", "ignore").encode("utf-8")


def _chunks(value: str, size: int) -> List[bytes]:
    """The text in UTF-8 pieces of at most size bytes, each marked UTF8, split between
    characters (enigma2 decodes each extended descriptor's text on its own)."""
    chunks, current = [], b""
    for char in value:
        encoded = char.encode("utf-8")
        if len(current) + len(encoded) > size - 1:
            chunks.append(UTF8 + current)
            current = b""
        current += encoded
    if current:
        chunks.append(UTF8 + current)
    return chunks[:MAX_EXTENDED]


def _short_event(language: bytes, name: str, text: str) -> bytes:
    # tag 0x4D: language(3) + name length(1) + name + text length(1) + text <= 255
    name_b = _text(name, 125)  # half of the room at most: the short text needs the rest
    text_b = _text(text, MAX_DESCRIPTOR - 5 - len(name_b))
    body = language + bytes((len(name_b),)) + name_b + bytes((len(text_b),)) + text_b
    return bytes((0x4D, len(body))) + body


def _extended_events(language: bytes, text: str) -> bytes:
    # tag 0x4E: numbers(1) + language(3) + items length(1)=0 + text length(1) + text <= 255
    chunks = _chunks(text, MAX_DESCRIPTOR - 6)
    out = b""
    for number, chunk in enumerate(chunks):
        body = bytes((number << 4 | (len(chunks) - 1),)) + language + b"\x00" + \
            bytes((len(chunk),)) + chunk
        out += bytes((0x4E, len(body))) + body
    return out


def event_bytes(event_id: int, begin: int, duration: int, name: str, short: str = "",
                extended: str = "", language: str = "und") -> bytes:
    """The .eit content of one event: begin in seconds since the epoch (UTC), duration in s."""
    lang = (language.encode("ascii", "replace") + b"und")[:3]
    descriptors = _short_event(lang, name, short)
    if extended and extended != short:
        descriptors += _extended_events(lang, extended)
    days, seconds = divmod(int(begin), 86400)
    start = struct.pack(">H", MJD_UNIX_EPOCH + days) + _bcd_time(seconds)
    # running_status 0 (undefined), free_CA_mode 0, descriptors_loop_length (12 bits)
    return struct.pack(">H", event_id & 0xFFFF) + start + _bcd_time(duration) + \
        struct.pack(">H", len(descriptors) & 0x0FFF) + descriptors
