"""crypto: real AES-128-CBC + PKCS#7 round trips on every installed backend; the key cache."""

import base64
import http.server
import os
import sys
import threading
import time
import types
import urllib.request

import pytest
from cryptography.hazmat.backends import default_backend
from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from streamrecorder import crypto
from streamrecorder.errors import RecorderError
from streamrecorder.hls.playlist import iv_for, parse, segments

KEY = bytes(range(16))
IV = bytes(range(16, 32))


def encrypt(plain, key=KEY, iv=IV, pad=True):
    if pad:
        padder = padding.PKCS7(128).padder()
        plain = padder.update(plain) + padder.finalize()
    encryptor = Cipher(algorithms.AES(key), modes.CBC(iv), backend=default_backend()).encryptor()
    return encryptor.update(plain) + encryptor.finalize()


def ts_packets(count):
    """Whole 188-byte TS packets (sync byte, PID 0x100, a counter, payload)."""
    return b"".join(b"\x47\x01\x00" + bytes([0x10 | (n & 15)]) + bytes([n & 255]) * 184
                    for n in range(count))


@pytest.fixture(params=crypto.BACKENDS)
def backend(request):
    if request.param not in crypto.available_backends():
        pytest.skip("%s is not installed" % request.param)
    return request.param


def test_backend_name():
    assert crypto.backend_name() in crypto.BACKENDS
    assert crypto.backend_name() == crypto.available_backends()[0]


@pytest.mark.parametrize("size", [0, 1, 15, 16, 17, 188, 188 * 7, 188 * 100 + 5, 65536])
def test_round_trip(backend, size):
    plain = os.urandom(size)
    assert crypto.decrypt_aes128_cbc(encrypt(plain), KEY, IV, backend=backend) == plain


def test_ts_segment_round_trip_with_the_media_sequence_iv(backend):
    pl = parse('#EXTM3U\n#EXT-X-TARGETDURATION:6\n#EXT-X-MEDIA-SEQUENCE:1234\n'
               '#EXT-X-KEY:METHOD=AES-128,URI="key"\n#EXTINF:6,\ns.ts\n', "http://127.0.0.1/x.m3u8")
    seg = segments(pl)[0]
    iv = iv_for(seg.key, seg.media_sequence)
    assert iv == (1234).to_bytes(16, "big")
    plain = ts_packets(50)
    assert crypto.decrypt_aes128_cbc(encrypt(plain, iv=iv), KEY, iv, backend=backend) == plain


def test_unpadded_ts_keeps_its_last_bytes(backend):
    # 4 packets = 752 bytes = 47 blocks: some packagers encrypt such segments without padding.
    plain = ts_packets(3) + b"\x47\x01\x00\x10" + b"\xff" * 183 + b"\x01"
    assert len(plain) % 16 == 0
    assert crypto.decrypt_aes128_cbc(encrypt(plain, pad=False), KEY, IV, backend=backend) == plain


def test_invalid_padding_is_returned_as_is(backend):
    plain = os.urandom(63) + b"\x00"
    assert crypto.decrypt_aes128_cbc(encrypt(plain, pad=False), KEY, IV, backend=backend) == plain


def test_wrong_key_gives_garbage_not_a_crash(backend):
    plain = ts_packets(10)
    out = crypto.decrypt_aes128_cbc(encrypt(plain), bytes(16), IV, backend=backend)
    assert out[:1] != b"\x47" or out != plain


def test_length_not_a_multiple_of_16(backend):
    with pytest.raises(RecorderError, match="not a multiple of 16"):
        crypto.decrypt_aes128_cbc(encrypt(b"x" * 100)[:-3], KEY, IV, backend=backend)


# --- in place (segments: no second buffer) --------------------------------------------------

@pytest.mark.parametrize("size", [0, 1, 15, 16, 17, 188, 188 * 7, 188 * 100 + 5,
                                  crypto.IN_PLACE_CHUNK - 1, crypto.IN_PLACE_CHUNK * 3 + 7])
def test_in_place_round_trip(backend, size):
    """Piece by piece (the CBC chain carried across pieces), padding cut off the end."""
    plain = os.urandom(size)
    buf = bytearray(encrypt(plain))
    crypto.decrypt_aes128_cbc_in_place(buf, KEY, IV, backend=backend)
    assert buf == plain


def test_in_place_keeps_the_padding_rules(backend):
    ts = ts_packets(700)  # over two pieces; a whole-packet TS keeps its last bytes
    buf = bytearray(encrypt(ts, pad=False))
    crypto.decrypt_aes128_cbc_in_place(buf, KEY, IV, backend=backend)
    assert buf == ts
    odd = b"\x00" * 15 + b"\x05"  # not valid padding: returned as it is
    buf = bytearray(encrypt(odd, pad=False))
    crypto.decrypt_aes128_cbc_in_place(buf, KEY, IV, backend=backend)
    assert buf == odd


def test_in_place_checks_like_the_copying_one():
    with pytest.raises(RecorderError, match="multiple of 16"):
        crypto.decrypt_aes128_cbc_in_place(bytearray(encrypt(b"x" * 100)[:-3]), KEY, IV)
    with pytest.raises(RecorderError, match="16-byte key"):
        crypto.decrypt_aes128_cbc_in_place(bytearray(16), b"short", IV)


def test_bad_key_or_iv_size():
    with pytest.raises(RecorderError, match="16-byte"):
        crypto.decrypt_aes128_cbc(b"\x00" * 16, b"short", IV)
    with pytest.raises(RecorderError, match="16-byte"):
        crypto.decrypt_aes128_cbc(b"\x00" * 16, KEY, b"")


def test_no_backend_installed(monkeypatch):
    monkeypatch.setattr(crypto, "_load", lambda name: None)
    assert crypto.backend_name() is None
    with pytest.raises(RecorderError, match="python3-cryptography"):
        crypto.decrypt_aes128_cbc(encrypt(b"abc"), KEY, IV)


# --- key cache ----------------------------------------------------------------------------------

def test_key_cache_fetches_once_under_concurrency():
    calls = []
    lock = threading.Lock()

    def fetch(uri):
        with lock:
            calls.append(uri)
        time.sleep(0.05)  # a slow key server: every thread asks while the first fetch runs
        return KEY if uri.endswith("/1") else bytes(16)

    cache = crypto.KeyCache()
    start = threading.Barrier(16)
    results = []

    def worker(n):
        start.wait()
        results.append(cache.get("https://k.example.com/%d" % (n % 2), fetch))

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(5)
    assert sorted(calls) == ["https://k.example.com/0", "https://k.example.com/1"]
    assert results.count(KEY) == 8 and results.count(bytes(16)) == 8
    assert len(cache) == 2


class KeyHandler(http.server.BaseHTTPRequestHandler):
    hits = 0

    def do_GET(self):
        type(self).hits += 1
        time.sleep(0.05)
        body = KEY if self.path == "/key" else b"<html>login</html>"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def key_server():
    KeyHandler.hits = 0
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), KeyHandler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield "http://127.0.0.1:%d" % server.server_address[1]
    server.shutdown()
    server.server_close()


def fetch_http(uri):
    with urllib.request.urlopen(uri, timeout=5) as resp:
        return resp.read()


def test_key_cache_over_loopback_http(key_server):
    cache = crypto.KeyCache()
    threads = [threading.Thread(target=cache.get, args=(key_server + "/key", fetch_http))
               for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(5)
    assert cache.get(key_server + "/key", fetch_http) == KEY
    assert KeyHandler.hits == 1


def test_key_cache_rejects_a_page_instead_of_a_key_and_does_not_cache_it(key_server):
    cache = crypto.KeyCache()
    for _ in range(2):
        with pytest.raises(RecorderError, match="18 bytes, it must be 16 .*HTML"):
            cache.get(key_server + "/login", fetch_http)
    assert KeyHandler.hits == 2 and len(cache) == 0


def test_key_cache_data_uris_and_hex_keys():
    cache = crypto.KeyCache()

    def no_fetch(uri):
        raise AssertionError("data: URIs need no fetch")

    uri = "data:application/octet-stream;base64," + base64.b64encode(KEY).decode()
    assert cache.get(uri, no_fetch) == KEY
    assert cache.get("https://k/hex", lambda uri: KEY.hex().encode() + b"\n") == KEY
    with pytest.raises(RecorderError, match="must be 16"):
        cache.get("https://k/empty", lambda uri: b"")


def test_pycryptodome_adapter_against_a_stand_in(monkeypatch):
    """AES.new(key, AES.MODE_CBC, iv).decrypt is the call made; a stand-in checks it when absent."""
    if "pycryptodome" in crypto.available_backends():
        pytest.skip("the real pycryptodome is tested by the backend-parametrised tests")

    class StandInCbc:
        def __init__(self, key, iv):
            self._decryptor = Cipher(algorithms.AES(key), modes.CBC(iv)).decryptor()

        def decrypt(self, data):
            return self._decryptor.update(data) + self._decryptor.finalize()

    aes = types.ModuleType("Cryptodome.Cipher.AES")
    aes.MODE_CBC = 2
    aes.new = lambda key, mode, iv: StandInCbc(key, iv) if mode == 2 else None
    for name, module in (("Cryptodome", types.ModuleType("Cryptodome")),
                         ("Cryptodome.Cipher", types.ModuleType("Cryptodome.Cipher")),
                         ("Cryptodome.Cipher.AES", aes)):
        monkeypatch.setitem(sys.modules, name, module)
    assert "pycryptodome" in crypto.available_backends()
    plain = ts_packets(5)
    assert crypto.decrypt_aes128_cbc(encrypt(plain), KEY, IV, backend="pycryptodome") == plain
