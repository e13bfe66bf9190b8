"""Stream URLs as receivers write them: the headers they carry reach every request of a recording
(playlists, keys, segments, the MP4 body, ffmpeg's input), over a server that checks them."""

import subprocess
import sys
from urllib.parse import quote

import pytest
import pytest_twisted
import requests
from cryptography.hazmat.backends import default_backend
from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from helpers import one_stop, rr, wait_stopped
from m4s_media import *  # noqa: F401,F403  (session fixture m4s_media)
from m4s_media import publish_dir
from media import make_ts_segments
from streamrecorder.devserver import Fault

KEY = bytes(range(16))
UA = "Box/1.0 (enigma2)"
TOKEN = "s3cret=1&x"  # '=' and '&' inside a value: encoded where the convention needs it


def encrypt(plain, sequence):
    padder = padding.PKCS7(128).padder()
    plain = padder.update(plain) + padder.finalize()
    iv = sequence.to_bytes(16, "big")
    cipher = Cipher(algorithms.AES(KEY), modes.CBC(iv), backend=default_backend()).encryptor()
    return cipher.update(plain) + cipher.finalize()


def with_headers(url, convention):
    """url carrying User-Agent and X-Token the way `convention` writes them."""
    if convention == "enigma2":
        # enigma2 reads the value up to the next '&' and never decodes it: no '&' in a value
        return "%s#User-Agent=%s&X-Token=%s" % (url, UA, TOKEN.replace("&", "%26"))
    kodi = "%s|User-Agent=%s&X-Token=%s" % (url, quote(UA, safe=""), quote(TOKEN, safe=""))
    if convention == "kodi":
        return kodi
    return "4097:0:1:0:0:0:0:0:0:0:%s:Channel name" % quote(kodi, safe="")


def expected_token(convention):
    return TOKEN.replace("&", "%26") if convention == "enigma2" else TOKEN


@pytest.fixture(scope="module")
def ts_segs(tmp_path_factory):
    return make_ts_segments(tmp_path_factory.mktemp("urlts"), 3, 1.0)


def guard(server, prefix, convention):
    server.add_fault(Fault(r"^/%s/" % prefix, require_header=("X-Token", expected_token(convention))))


def requests_under(server, prefix):
    return [r for r in server.requests if r.path.startswith("/%s/" % prefix)]


CONVENTIONS = ["enigma2", "kodi", "service_reference"]


@pytest.mark.parametrize("convention", CONVENTIONS)
@pytest_twisted.ensureDeferred
async def test_hls_with_a_key(server, manager, collector, ts_segs, tmp_path, convention):
    prefix = "aes_" + convention
    lines = ["#EXTM3U", "#EXT-X-TARGETDURATION:1", '#EXT-X-KEY:METHOD=AES-128,URI="key.bin"']
    for i, path in enumerate(ts_segs):
        server.put("/%s/seg%d.ts" % (prefix, i), encrypt(path.read_bytes(), i))
        lines += ["#EXTINF:1.0,", "seg%d.ts" % i]
    server.put("/%s/key.bin" % prefix, KEY)
    server.put("/%s/index.m3u8" % prefix, ("\n".join(lines + ["#EXT-X-ENDLIST"]) + "\n").encode())
    server.put("/%s/master.m3u8" % prefix, b"#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=500000\n"
                                           b"index.m3u8\n")
    guard(server, prefix, convention)
    url = with_headers(server.url("/%s/master.m3u8" % prefix), convention)
    manager.record_stream(rr(url, tmp_path, recorder_id="auto", buffering=1))
    stop = (await wait_stopped(manager))[1]
    assert (stop["reason"], stop["error_id"], stop["skipped_segments"]) == ("complete", None, 0), stop
    seen = requests_under(server, prefix)
    assert sorted({r.path.rsplit("/", 1)[-1] for r in seen}) == [
        "index.m3u8", "key.bin", "master.m3u8", "seg0.ts", "seg1.ts", "seg2.ts"]
    assert {r.headers.get("User-Agent") for r in seen} == {UA}
    assert {r.headers.get("X-Token") for r in seen} == {expected_token(convention)}
    assert stop["channel"] == server.url("/%s/master.m3u8" % prefix), "no header in the channel"
    one_stop(collector)


@pytest.mark.parametrize("convention", CONVENTIONS)
@pytest_twisted.ensureDeferred
async def test_mp4_body(server, manager, collector, mp4_media, tmp_path, convention):
    prefix = "mp4_" + convention
    server.put("/%s/clip.mp4" % prefix, mp4_media["faststart"].read_bytes())
    guard(server, prefix, convention)
    url = with_headers(server.url("/%s/clip.mp4" % prefix), convention)
    manager.record_stream(rr(url, tmp_path, recorder_id="auto"))
    stop = (await wait_stopped(manager))[1]
    assert (stop["reason"], stop["error_id"]) == ("complete", None), stop
    seen = requests_under(server, prefix)
    assert seen and {r.headers.get("User-Agent") for r in seen} == {UA}
    assert (tmp_path / "stream_0.mp4").stat().st_size == mp4_media["faststart"].stat().st_size


@pytest.mark.parametrize("convention", CONVENTIONS)
@pytest_twisted.ensureDeferred
async def test_ffmpeg_input(server, manager, collector, m4s_media, tmp_path, convention):
    prefix = "m4s_" + convention
    publish_dir(server, m4s_media["vod"], prefix)
    guard(server, prefix, convention)
    url = with_headers(server.url("/%s/index.m3u8" % prefix), convention)
    manager.record_stream(rr(url, tmp_path, recorder_id="auto", buffering=1))
    stop = (await wait_stopped(manager, 60))[1]
    assert (stop["reason"], stop["error_id"], stop["recorder"]["type"]) == (
        "complete", None, "hls_m4s"), stop
    segments = [r for r in requests_under(server, prefix) if r.path.endswith(".m4s")]
    assert len(segments) == 4, "ffmpeg fetched every segment"
    assert {r.headers.get("User-Agent") for r in requests_under(server, prefix)} == {UA}


@pytest_twisted.ensureDeferred
async def test_a_url_header_wins_over_the_session(server, manager, collector, ts_segs, tmp_path):
    for i, path in enumerate(ts_segs):
        server.put("/win/seg%d.ts" % i, path.read_bytes())
    server.put("/win/index.m3u8", b"#EXTM3U\n#EXT-X-TARGETDURATION:1\n" + b"".join(
        b"#EXTINF:1.0,\nseg%d.ts\n" % i for i in range(len(ts_segs))) + b"#EXT-X-ENDLIST\n")
    session = requests.Session()
    session.headers["User-Agent"] = "Resolver/2"
    session.headers["X-Other"] = "kept"
    manager.record_stream(rr(server.url("/win/index.m3u8") + "#User-Agent=" + UA, tmp_path,
                             session=session))
    assert (await wait_stopped(manager))[1]["reason"] == "complete"
    seen = requests_under(server, "win")
    assert {(r.headers.get("User-Agent"), r.headers.get("X-Other")) for r in seen} == {(UA, "kept")}


@pytest.mark.parametrize("url_tail", ["|X-Token=a%0d%0aInjected: 1", "#X-Token=a\r\nInjected: 1"])
@pytest_twisted.ensureDeferred
async def test_a_line_break_in_a_url_header_is_refused(server, manager, collector, tmp_path,
                                                       url_tail):
    manager.record_stream(rr(server.url("/nothing/index.m3u8") + url_tail, tmp_path))
    stop = (await wait_stopped(manager))[1]
    assert (stop["reason"], stop["error_id"]) == ("error", "failure"), stop
    assert "X-Token" in stop["msg"]
    assert stop["channel"] == server.url("/nothing/index.m3u8"), "no header text in the channel"
    assert not server.paths_requested("/nothing/"), "refused before any request"


def test_cli_takes_a_kodi_url(server, ts_segs, tmp_path):
    for i, path in enumerate(ts_segs):
        server.put("/cli/seg%d.ts" % i, path.read_bytes())
    server.put("/cli/index.m3u8", b"#EXTM3U\n#EXT-X-TARGETDURATION:1\n" + b"".join(
        b"#EXTINF:1.0,\nseg%d.ts\n" % i for i in range(len(ts_segs))) + b"#EXT-X-ENDLIST\n")
    guard(server, "cli", "kodi")
    proc = subprocess.run([sys.executable, "-m", "streamrecorder", "record",
                           with_headers(server.url("/cli/index.m3u8"), "kodi"), "-o",
                           str(tmp_path), "--reserve-mb", "1", "--json"],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert {r.headers.get("User-Agent") for r in requests_under(server, "cli")} == {UA}
