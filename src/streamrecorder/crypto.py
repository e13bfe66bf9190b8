"""AES-128-CBC segment decryption (HLS METHOD=AES-128) and a key cache that fetches each key once.

Backends: `cryptography` (Debian/Enigma2 package python3-cryptography) or pycryptodome (module
`Cryptodome`, or `Crypto` as installed by python3-pycryptodome / the old PyCrypto). The ipk
depends on python3-cryptography; without any backend an AES-128 stream fails with a message
naming that package (ffmpeg is not used as a fallback).
"""

import base64
import binascii
import collections
import importlib
import threading
from typing import Callable, Dict, List, Optional, OrderedDict, Union
from urllib.parse import unquote_to_bytes

from .errors import RecorderError

BLOCK = 16
TS_PACKET = 188
_MAX_KEYS = 1024  # key rotation on a long live stream must not grow memory without bound
Buffer = Union[bytes, bytearray, memoryview]


def _load(backend: str) -> Optional[Callable[[bytes, bytes], Callable[[Buffer], bytes]]]:
    """A factory (key, iv) -> decrypt(data) for one backend, or None when it is not importable.

    decrypt() carries the CBC chain from call to call, so a segment may be decrypted in
    pieces (whole blocks each); no padding is removed.
    """
    if backend == "cryptography":
        try:
            from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
        except ImportError:
            return None
        try:
            # cryptography < 3.1 (older receiver images) requires the backend argument; later
            # releases accept it and ignore it.
            from cryptography.hazmat.backends import default_backend
            backend_args: tuple = (default_backend(),)
        except ImportError:
            backend_args = ()

        def cryptography_cbc(key: bytes, iv: bytes) -> Callable[[Buffer], bytes]:
            return Cipher(algorithms.AES(key), modes.CBC(iv), *backend_args).decryptor().update
        return cryptography_cbc
    if backend == "pycryptodome":
        for module in ("Cryptodome.Cipher.AES", "Crypto.Cipher.AES"):
            try:
                aes = importlib.import_module(module)
            except ImportError:
                continue

            def pycryptodome_cbc(key: bytes, iv: bytes, aes: object = aes) -> Callable[[Buffer], bytes]:
                decrypt = aes.new(key, aes.MODE_CBC, iv).decrypt  # type: ignore[attr-defined]
                return lambda data: decrypt(data if isinstance(data, bytes) else bytes(data))
            return pycryptodome_cbc
    return None


BACKENDS = ("cryptography", "pycryptodome")


def available_backends() -> List[str]:
    """Every importable AES backend, preferred first."""
    return [name for name in BACKENDS if _load(name) is not None]


def backend_name() -> Optional[str]:
    """The AES package in use: 'cryptography', 'pycryptodome', or None when neither is installed."""
    return next(iter(available_backends()), None)


def _decryptor(data: Buffer, key: bytes, iv: bytes,
               backend: Optional[str]) -> Optional[Callable[[Buffer], bytes]]:
    """The checks both decrypt functions make; a decrypt(data) for key/iv, None for no data."""
    if len(key) != BLOCK or len(iv) != BLOCK:
        raise RecorderError("AES-128 needs a 16-byte key and IV (got %d and %d bytes)" % (len(key), len(iv)))
    if len(data) % BLOCK:
        raise RecorderError("encrypted segment of %d bytes is not a multiple of 16: truncated "
                            "download, or not the encrypted segment the key belongs to" % len(data))
    if not len(data):
        return None
    name = backend or backend_name()
    factory = _load(name) if name else None
    if factory is None:
        raise RecorderError("the stream is AES-128 encrypted and decrypting it needs the package "
                            "python3-cryptography, which is not installed (opkg install "
                            "python3-cryptography); there is no ffmpeg fallback" if backend is None
                            else "AES backend %r is not installed" % backend)
    return factory(bytes(key), bytes(iv))


def decrypt_aes128_cbc(data: bytes, key: bytes, iv: bytes, backend: Optional[str] = None) -> bytes:
    """Decrypt one AES-128-CBC segment and remove its PKCS#7 padding (see _padding for the rules)."""
    decrypt = _decryptor(data, key, iv, backend)
    if decrypt is None:
        return b""
    plain = decrypt(bytes(data))
    pad = _padding(plain)
    return plain[:-pad] if pad else plain


# Piece size for in-place decryption: the only temporary, whatever the segment size.
IN_PLACE_CHUNK = 64 * 1024


def decrypt_aes128_cbc_in_place(buf: bytearray, key: bytes, iv: bytes,
                                backend: Optional[str] = None) -> None:
    """decrypt_aes128_cbc() without a second buffer: buf is decrypted piece by piece where it
    is, and its valid PKCS#7 padding is cut off its end."""
    decrypt = _decryptor(buf, key, iv, backend)
    if decrypt is None:
        return
    with memoryview(buf) as view:
        for pos in range(0, len(buf), IN_PLACE_CHUNK):
            piece = view[pos:pos + IN_PLACE_CHUNK]
            plain = decrypt(piece)
            if len(plain) != len(piece):
                raise RecorderError("the AES backend returned %d bytes for %d" % (len(plain), len(piece)))
            piece[:] = plain
            piece.release()
    pad = _padding(buf)
    if pad:
        del buf[-pad:]


def _padding(plain: Buffer) -> int:
    """How many bytes of valid PKCS#7 padding end plain (0: keep everything).

    Tolerant by choice: some packagers encrypt without padding, and a wrong key shows up anyway
    (the segment validator rejects garbage, which is a clearer error than a padding complaint).
    Data that already is whole 188-byte TS packets starting with a sync byte keeps its last bytes:
    padded TS can never be a multiple of 188 long, so a final 0x01 there is payload.
    """
    pad = plain[-1]
    if not 1 <= pad <= BLOCK or plain[-pad:] != bytes((pad,)) * pad:
        return 0
    if len(plain) % TS_PACKET == 0 and plain[:1] == b"\x47":
        return 0
    return pad


def _decode_key_data(uri: str) -> bytes:
    """The bytes of a data: key URI (RFC 2397, base64 or percent-encoded)."""
    header, _, payload = uri[5:].partition(",")
    try:
        if header.lower().endswith(";base64"):
            return base64.b64decode(unquote_to_bytes(payload), validate=False)
        return unquote_to_bytes(payload)
    except (binascii.Error, ValueError):
        raise RecorderError("unreadable data: URI for the AES-128 key") from None


def _as_key(raw: bytes) -> bytes:
    if len(raw) == BLOCK:
        return bytes(raw)
    text = bytes(raw).strip()
    if len(text) == 2 * BLOCK:
        # A few home-made servers send the key as 32 hex characters instead of 16 bytes.
        try:
            return binascii.unhexlify(text)
        except (binascii.Error, ValueError):
            pass
    hint = " (an HTML or login page instead of the key?)" if text[:1] == b"<" else ""
    raise RecorderError("the AES-128 key is %d bytes, it must be 16%s" % (len(raw), hint))


class KeyCache:
    """AES-128 keys by URI: each fetched once, even when many download threads ask at once."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._keys: OrderedDict[str, bytes] = collections.OrderedDict()
        self._uri_locks: Dict[str, threading.Lock] = {}

    def get(self, uri: str, fetch: Callable[[str], bytes]) -> bytes:
        """The 16-byte key of `uri`, calling fetch(uri) only when it is not cached yet."""
        with self._lock:
            if uri in self._keys:
                return self._keys[uri]
            uri_lock = self._uri_locks.setdefault(uri, threading.Lock())
        # One lock per URI: other keys (key rotation) are not held up by a slow key server.
        with uri_lock:
            with self._lock:
                if uri in self._keys:
                    return self._keys[uri]
            raw = _decode_key_data(uri) if uri[:5].lower() == "data:" else fetch(uri)
            key = _as_key(raw)
            with self._lock:
                self._keys[uri] = key
                while len(self._keys) > _MAX_KEYS:
                    old, _ = self._keys.popitem(last=False)
                    self._uri_locks.pop(old, None)
                self._uri_locks.pop(uri, None)
            return key

    def __len__(self) -> int:
        with self._lock:
            return len(self._keys)
