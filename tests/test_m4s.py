"""hls_m4s: fMP4/CMAF HLS remuxed by ffmpeg into a growing stream_0.ts, end to end on loopback."""

import json
import os
import signal
import subprocess
import threading
import time
from pathlib import Path

import pytest
import pytest_twisted
import requests

import helpers
from helpers import (MAX_REACTOR_LAG_S, ReactorHeartbeat, child_processes,
                     ffmpeg_errors, ffprobe_duration, one_stop, recorder_threads, ts_report, until,
                     wait_stopped)
from m4s_media import *  # noqa: F401,F403  (session fixture m4s_media and serving helpers)
from m4s_media import M4sLive, master_playlist, publish_dir
from streamrecorder import ffmpeg
from streamrecorder.devserver import Fault
from streamrecorder.errors import (ForbiddenError, InvalidStreamError, NotFoundError,
                                   RecorderError, StreamTimeoutError, TlsError,
                                   UnsupportedCodecError)
from streamrecorder.http import RetryPolicy
from streamrecorder.mp4box import check_media_start, init_tracks

FAST_RETRY = RetryPolicy(attempts=1)
OLD = b"previous recording\n"


# --- fixtures -----------------------------------------------------------------------------------

def _ffmpeg_pids_mentioning(marker):
    """PIDs of ffmpeg processes anywhere on the system whose command line contains `marker`."""
    pids = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open("/proc/%s/cmdline" % name, "rb") as f:
                cmdline = f.read()
        except OSError:
            continue
        if b"ffmpeg" in cmdline.split(b"\0")[0] and marker.encode() in cmdline:
            pids.append(int(name))
    return pids


def _live_members_of_group(pgid):
    """PIDs of processes (zombies excluded) in process group `pgid`."""
    members = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % name) as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[2]) == pgid and fields[0] != "Z":
            members.append(int(name))
    return members


def until_true(predicate, timeout):
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


@pytest.fixture(autouse=True)
def no_ffmpeg_survives(request):
    """After each test: no child process (zombies included) and no orphaned ffmpeg of the test."""
    yield
    server = request.node.funcargs.get("server")
    deadline = time.monotonic() + 2
    while child_processes() and time.monotonic() < deadline:
        time.sleep(0.02)
    assert child_processes() == [], "a child process survived the test"
    if server is not None:
        marker = "127.0.0.1:%d" % server.port
        assert _ffmpeg_pids_mentioning(marker) == [], "an orphaned ffmpeg survived the test"


@pytest.fixture
def rec_dir(tmp_path):
    """A recording folder holding the previous recording, which failures must leave alone."""
    folder = tmp_path / "rec"
    folder.mkdir()
    (folder / "stream_0.ts").write_bytes(OLD)
    return folder


def rr(url, folder, **extra):
    extra.setdefault("recorder_id", "hls_m4s")
    return helpers.rr(url, folder, **extra)


def streams(path):
    out = subprocess.run(["ffprobe", "-v", "error", "-show_entries",
                          "stream=codec_type,codec_name,profile,width,height,start_time",
                          "-of", "json", str(path)], capture_output=True, text=True, timeout=60)
    return json.loads(out.stdout or "{}").get("streams", [])


def kinds(path):
    return sorted((s["codec_type"], s["codec_name"]) for s in streams(path))


def assert_untouched(folder):
    assert sorted(os.listdir(str(folder))) == ["stream_0.ts"]
    assert (folder / "stream_0.ts").read_bytes() == OLD


def assert_playable(path, seconds=None, tolerance=0.35):
    assert ffmpeg_errors(path) == ""
    report = ts_report(path)
    # ffmpeg's muxer opens with SDT, PAT, PMT; the recorder moves the SDT behind PAT/PMT
    assert report["pids"][:3] == [0, 0x1000, 0x11], "PAT/PMT, then SDT, lead the file"
    assert report["cc_errors"] == 0
    assert 0x1000 in report["pids"] and 0x100 in report["pids"], "fixed PMT/ES PIDs"
    if seconds is not None:
        assert ffprobe_duration(path) == pytest.approx(seconds, abs=tolerance)
    return report


# --- VOD ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("buffering, start_index", [(2, 1), (10, 3)])
@pytest_twisted.ensureDeferred
async def test_vod_is_remuxed_not_transcoded(server, manager, collector, m4s_media, tmp_path,
                                             buffering, start_index):
    url = publish_dir(server, m4s_media["vod"], "vod")
    manager.record_stream(rr(url, tmp_path, buffering=buffering))
    stop = (await wait_stopped(manager))[1]
    assert (stop["reason"], stop["error_id"], stop["skipped_segments"]) == ("complete", None, 0)
    out = tmp_path / "stream_0.ts"
    assert_playable(out, 4.0)
    source = {(s["codec_type"], s["codec_name"], s.get("profile"), s.get("width"))
              for s in streams(m4s_media["vod"] / "index.m3u8")}
    copied = {(s["codec_type"], s["codec_name"], s.get("profile"), s.get("width"))
              for s in streams(out)}
    assert copied == source and ("video", "h264", "Constrained Baseline", 320) in copied
    starts = collector.of("start")
    assert [(s["rec_file"], s["section_index"], s["segment_index"]) for s in starts] == [
        (str(out), 0, start_index)]
    assert starts[0]["recorder"] == {"type": "hls_m4s"}
    progress = collector.of("progress")
    assert progress and progress[-1]["percent"] == 100.0
    assert progress[-1]["media_s"] == pytest.approx(4.0, abs=0.2)
    assert progress[-1]["bytes"] == out.stat().st_size
    one_stop(collector)
    # ffmpeg fetched the segments itself, with the session's browser User-Agent
    agents = {r.headers.get("User-Agent", "") for r in server.requests if r.path.endswith(".m4s")}
    assert len(agents) == 1 and agents.pop().startswith("Mozilla/")


@pytest_twisted.ensureDeferred
async def test_start_waits_for_buffering_segments_of_output(server, manager, collector, m4s_media,
                                                            tmp_path):
    """`start` follows ffmpeg's out_time: with slow segments it comes after 2 s of media."""
    url = publish_dir(server, m4s_media["vod"], "slow")
    server.add_fault(Fault(r"seg_00[1-3]\.m4s", latency=0.4))
    manager.record_stream(rr(url, tmp_path, buffering=2))
    assert await until(lambda: collector.of("start"), timeout=10)
    at_start = [p for p in collector.of("progress")]
    assert at_start and at_start[-1]["media_s"] >= 1.5
    assert (await wait_stopped(manager))[1]["reason"] == "complete"
    assert_playable(tmp_path / "stream_0.ts", 4.0)


@pytest_twisted.ensureDeferred
async def test_separate_audio_rendition_is_mapped_in(server, manager, collector, m4s_media,
                                                     tmp_path):
    publish_dir(server, m4s_media["video"], "split/video")
    publish_dir(server, m4s_media["audio"], "split/audio")
    master = master_playlist(
        [("vp9/index.m3u8", 9000000, "vp09.00.10.08,mp4a.40.2", "1920x1080", "aud"),
         ("video/index.m3u8", 800000, "avc1.42c00d,mp4a.40.2", "320x180", "aud")],
        audio=[("aud", "English", "en", "audio/index.m3u8", True),
               ("aud", "Deutsch", "de", "audio/missing.m3u8", False)])
    server.put("/split/master.m3u8", master.encode())
    manager.record_stream(rr(server.url("/split/master.m3u8"), tmp_path, buffering=2))
    stop = (await wait_stopped(manager))[1]
    assert (stop["reason"], stop["error_id"]) == ("complete", None), stop
    out = tmp_path / "stream_0.ts"
    assert_playable(out, 4.0)
    assert kinds(out) == [("audio", "aac"), ("video", "h264")]
    starts = {s["codec_type"]: float(s["start_time"]) for s in streams(out)}
    assert abs(starts["audio"] - starts["video"]) < 0.1, "audio and video start together"
    assert len(server.paths_requested(r"master\.m3u8")) == 1, "ffmpeg never gets the master"
    assert len(server.paths_requested(r"^/split/video/index\.m3u8")) >= 2
    assert len(server.paths_requested(r"^/split/audio/index\.m3u8")) >= 2
    assert server.paths_requested(r"vp9|missing") == []
    assert len(server.paths_requested(r"^/split/audio/seg_")) == 5


@pytest.mark.parametrize("auth", ["session_header", "cookie", "ffmpeg_headers"])
@pytest_twisted.ensureDeferred
async def test_authentication_reaches_every_request(server, manager, collector, m4s_media,
                                                    tmp_path, auth):
    url = publish_dir(server, m4s_media["vod"], "auth")
    extra = {}
    if auth == "session_header":
        server.add_fault(Fault(r"^/auth/", require_header=("X-Token", "s3cret")))
        extra["auth_tokens"] = {"headers": {"X-Token": "s3cret"}}
    elif auth == "cookie":
        server.add_fault(Fault(r"^/auth/", require_cookie=("sid", "abc123")))
        session = requests.Session()
        session.cookies.set("sid", "abc123", domain="127.0.0.1", path="/")
        session.cookies.set("other", "elsewhere", domain="example.com", path="/")
        extra["session"] = session
    else:
        server.add_fault(Fault(r"^/auth/", require_header=("X-Token", "s3cret")))
        extra["ffmpeg_headers"] = "X-Token: s3cret\r\nReferer: http://example.com/\r\n"
    manager.record_stream(rr(url, tmp_path, buffering=2, **extra))
    stop = (await wait_stopped(manager))[1]
    assert (stop["reason"], stop["error_id"], stop["skipped_segments"]) == ("complete", None, 0)
    assert_playable(tmp_path / "stream_0.ts", 4.0)
    segment_requests = [r for r in server.requests if r.path.endswith(".m4s")]
    assert len(segment_requests) == 4
    if auth == "cookie":
        assert {r.headers.get("Cookie") for r in segment_requests} == {"sid=abc123"}
    else:
        assert {r.headers.get("X-Token") for r in segment_requests} == {"s3cret"}


@pytest_twisted.ensureDeferred
async def test_forbidden_without_credentials(server, manager, collector, m4s_media, rec_dir):
    url = publish_dir(server, m4s_media["vod"], "locked")
    server.add_fault(Fault(r"^/locked/", require_header=("X-Token", "s3cret")))
    manager.record_stream(rr(url, rec_dir))
    stop = (await wait_stopped(manager))[1]
    assert (stop["reason"], stop["error_id"]) == ("error", "forbidden")
    assert_untouched(rec_dir)


@pytest.mark.parametrize("where", ["session", "ffmpeg_headers"])
@pytest_twisted.ensureDeferred
async def test_line_break_in_a_header_is_refused(server, manager, collector, m4s_media, rec_dir,
                                                 where):
    url = publish_dir(server, m4s_media["vod"], "inject")
    extra = {}
    if where == "session":
        session = requests.Session()
        session.headers["X-Evil"] = "a\r\nX-Injected: 1"
        extra["session"] = session
    else:
        extra["ffmpeg_headers"] = "X-Token: ok\r\nX-Evil: a\rX-Injected: 1\r\n"
    manager.record_stream(rr(url, rec_dir, **extra))
    stop = (await wait_stopped(manager))[1]
    assert stop["reason"] == "error" and "line break" in stop["msg"]
    assert_untouched(rec_dir)
    assert server.paths_requested(r"\.m4s|init") == []


# --- errors before ffmpeg starts ----------------------------------------------------------------

@pytest_twisted.ensureDeferred
async def test_not_found(server, make_manager, collector, rec_dir):
    mgr = make_manager(retry=FAST_RETRY)
    mgr.record_stream(rr(server.url("/nothing/index.m3u8"), rec_dir))
    stop = (await wait_stopped(mgr))[1]
    assert (stop["reason"], stop["error_id"]) == ("error", "not_found")
    assert_untouched(rec_dir)


@pytest.mark.parametrize("target", [r"index\.m3u8", r"init\.mp4"])
@pytest_twisted.ensureDeferred
async def test_html_instead_of_media_is_invalid_stream(server, make_manager, collector, m4s_media,
                                                       rec_dir, target):
    url = publish_dir(server, m4s_media["vod"], "html")
    server.add_fault(Fault(target, html_instead=True))
    mgr = make_manager(retry=FAST_RETRY)
    mgr.record_stream(rr(url, rec_dir))
    stop = (await wait_stopped(mgr))[1]
    assert (stop["reason"], stop["error_id"]) == ("error", "invalid_stream")
    assert "HTML" in stop["msg"]
    assert_untouched(rec_dir)


@pytest.mark.parametrize("key", [
    '#EXT-X-KEY:METHOD=SAMPLE-AES,URI="key.bin",IV=0x00000000000000000000000000000001',
    '#EXT-X-KEY:METHOD=SAMPLE-AES-CTR,URI="data:text/plain;base64,AAAA",'
    'KEYFORMAT="urn:uuid:edef8ba9-79d6-4ace-a3c8-27dcd51d21ed",KEYFORMATVERSIONS="1"',
])
@pytest_twisted.ensureDeferred
async def test_drm_is_refused_before_anything_is_written(server, manager, collector, m4s_media,
                                                         rec_dir, key):
    publish_dir(server, m4s_media["vod"], "drm")
    text = (m4s_media["vod"] / "index.m3u8").read_text()
    text = text.replace('#EXT-X-MAP:URI="init.mp4"', '#EXT-X-MAP:URI="init.mp4"\n' + key)
    server.put("/drm/protected.m3u8", text.encode())
    manager.record_stream(rr(server.url("/drm/protected.m3u8"), rec_dir))
    stop = (await wait_stopped(manager))[1]
    assert (stop["reason"], stop["error_id"]) == ("error", "drm_protected")
    assert_untouched(rec_dir)
    assert server.paths_requested(r"\.m4s|init|key") == []


@pytest.mark.parametrize("path", ["ffmpeg-is-not-installed", "/nonexistent/bin/ffmpeg"])
@pytest_twisted.ensureDeferred
async def test_missing_ffmpeg(server, make_manager, collector, m4s_media, rec_dir, path):
    url = publish_dir(server, m4s_media["vod"], "noff")
    mgr = make_manager(ffmpeg_path=path)
    mgr.record_stream(rr(url, rec_dir))
    stop = (await wait_stopped(mgr))[1]
    assert (stop["reason"], stop["error_id"]) == ("error", "ffmpeg_missing")
    assert "install ffmpeg" in stop["msg"]
    assert_untouched(rec_dir)


@pytest_twisted.ensureDeferred
async def test_unsupported_codec_in_every_variant(server, manager, collector, m4s_media, rec_dir):
    publish_dir(server, m4s_media["vp9"], "vp9")
    server.put("/vp9/master.m3u8", master_playlist(
        [("index.m3u8", 300000, "vp09.00.10.08", "160x96", None)]).encode())
    manager.record_stream(rr(server.url("/vp9/master.m3u8"), rec_dir))
    stop = (await wait_stopped(manager))[1]
    assert (stop["reason"], stop["error_id"]) == ("error", "unsupported_codec")
    assert "transcoding is off" in stop["msg"]
    assert_untouched(rec_dir)
    assert server.paths_requested(r"index\.m3u8|init|\.m4s") == []


@pytest_twisted.ensureDeferred
async def test_unsupported_codec_found_in_the_init_section(server, manager, collector, m4s_media,
                                                           rec_dir):
    """A media playlist without CODECS: the init section's sample entry (vp09) tells."""
    url = publish_dir(server, m4s_media["vp9"], "vp9init")
    manager.record_stream(rr(url, rec_dir))
    stop = (await wait_stopped(manager))[1]
    assert (stop["reason"], stop["error_id"]) == ("error", "unsupported_codec")
    assert "vp9" in stop["msg"]
    assert_untouched(rec_dir)
    assert server.paths_requested(r"\.m4s") == []


@pytest_twisted.ensureDeferred
async def test_transcodes_only_when_allowed(server, make_manager, collector, m4s_media, tmp_path):
    publish_dir(server, m4s_media["vp9"], "vp9t")
    server.put("/vp9t/master.m3u8", master_playlist(
        [("index.m3u8", 300000, "vp09.00.10.08", "160x96", None)]).encode())
    mgr = make_manager(allow_transcode=True)
    mgr.record_stream(rr(server.url("/vp9t/master.m3u8"), tmp_path, buffering=1))
    stop = (await wait_stopped(mgr))[1]
    assert (stop["reason"], stop["error_id"]) == ("complete", None), stop
    out = tmp_path / "stream_0.ts"
    assert_playable(out, 2.0)
    assert [(s["codec_name"], s["profile"]) for s in streams(out)] == [("h264", "Constrained Baseline")]


# --- live, stop ---------------------------------------------------------------------------------

@pytest_twisted.ensureDeferred
async def test_live_window_until_duration(server, manager, collector, m4s_media, tmp_path):
    live = M4sLive(server, m4s_media["live"], "live")
    manager.record_stream(rr(live.url, tmp_path, buffering=3, duration=3))
    stop = (await wait_stopped(manager))[1]
    assert (stop["reason"], stop["error_id"]) == ("user", None)
    assert "duration" in stop["msg"]
    out = tmp_path / "stream_0.ts"
    assert_playable(out)
    assert 2.5 <= ffprobe_duration(out) <= 5.0
    assert kinds(out) == [("audio", "aac"), ("video", "h264")]
    first = sorted(int(p[-7:-4]) for p in server.paths_requested(r"seg_\d+\.m4s$"))[0]
    assert first >= live.window - 3, "started `buffering` segments behind the live edge"
    assert len(collector.of("start")) == 1
    progress = collector.of("progress")
    assert progress and all(p["percent"] is None for p in progress)
    assert progress[-1]["media_s"] >= 2.0
    assert live.requests >= 3, "ffmpeg reloads the live playlist"


@pytest_twisted.ensureDeferred
async def test_stop_midway_is_quick_and_leaves_a_clean_file(server, manager, collector, m4s_media,
                                                            tmp_path):
    live = M4sLive(server, m4s_media["live"], "stop")
    manager.record_stream(rr(live.url, tmp_path, buffering=2))
    assert await until(lambda: collector.of("start"), timeout=10)
    assert await until(lambda: collector.of("progress")
                       and collector.of("progress")[-1]["media_s"] >= 1.5, timeout=10)
    process = manager.current_recorder.process
    pid = process.pid
    heartbeat = ReactorHeartbeat()
    manager.stop()
    stop = (await wait_stopped(manager, 10))[1]
    assert await heartbeat.finish() < MAX_REACTOR_LAG_S, "stop() does not block the reactor"
    assert process.returncode not in (None, -signal.SIGKILL), \
        "ffmpeg ended on its own when asked (not killed after the grace time)"
    assert (stop["reason"], stop["error_id"]) == ("user", None)
    assert not os.path.exists("/proc/%d" % pid), "ffmpeg reaped before the stop message"
    assert_playable(tmp_path / "stream_0.ts")
    one_stop(collector)


# --- units --------------------------------------------------------------------------------------

def test_probe_reads_the_installed_ffmpeg_once():
    info = ffmpeg.probe("ffmpeg")
    assert info.version is not None and info.version[0] >= 4
    assert {"reconnect", "live_start_index", "headers", "mpegts_start_pid", "tls_verify",
            "protocol_whitelist", "flush_packets"} <= info.options
    assert {"http", "https", "tcp", "crypto", "data"} <= info.protocols
    assert info.has_encoder("libx264") and info.has_encoder("aac")
    assert ffmpeg.probe("ffmpeg") is info


def _old_ffmpeg():
    """An ffmpeg that knows fewer options (as a 4.0 build would): the command must not use more."""
    return ffmpeg.FfmpegInfo(
        path="/usr/bin/ffmpeg", version=(4, 0), version_line="ffmpeg version 4.0",
        options=frozenset({"protocol_whitelist", "reconnect", "reconnect_streamed", "headers",
                           "user_agent", "live_start_index", "mpegts_start_pid",
                           "mpegts_pmt_start_pid", "flush_packets", "tls_verify"}),
        protocols=frozenset({"http", "https", "tcp", "tls", "crypto", "file"}),
        encoders=frozenset({"aac"}))


def test_command_is_built_from_what_ffmpeg_supports():
    info = _old_ffmpeg()
    spec = ffmpeg.HttpInput("https://cdn.example/v.m3u8?token=x", headers=[("X-Token", "t"),
                                                                          ("Cookie", "a=b")],
                            user_agent="Mozilla/5.0 test", verify_tls=True,
                            extra_protocols=("data",), live_start_index=-4)
    argv = ffmpeg.build_command(info, [spec], ["-map", "0:v?", "-map", "0:a?"],
                                ffmpeg.COPY_CODECS, "pipe:3")
    i = argv.index("-i")
    before = argv[:i]
    assert argv[i + 1] == spec.url
    assert before[before.index("-protocol_whitelist") + 1] == "http,https,tcp,tls,crypto"
    assert before[before.index("-headers") + 1] == "X-Token: t\r\nCookie: a=b\r\n"
    assert before[before.index("-user_agent") + 1] == "Mozilla/5.0 test"
    assert before[before.index("-live_start_index") + 1] == "-4"
    assert before[before.index("-tls_verify") + 1] == "1"
    assert "-reconnect" in before and "-reconnect_on_network_error" not in argv
    assert "-rw_timeout" not in argv and "-max_muxing_queue_size" not in argv
    after = argv[i + 2:]
    assert after[:6] == ["-map", "0:v?", "-map", "0:a?", "-c", "copy"]
    assert after[after.index("-f") + 1] == "mpegts"
    for name, value in (("-flush_packets", "1"), ("-mpegts_start_pid", "256"),
                        ("-mpegts_pmt_start_pid", "4096")):
        assert after[after.index(name) + 1] == value
    assert after[-1] == "pipe:3" and "-bsf:a" not in argv
    assert "token=x" not in ffmpeg.describe_command(argv) and "X-Token" not in \
        ffmpeg.describe_command(argv)
    # tls verification off: no -tls_verify; no libx264: no transcoding
    spec.verify_tls = False
    assert "-tls_verify" not in ffmpeg.input_args(info, spec)
    with pytest.raises(UnsupportedCodecError):
        ffmpeg.transcode_args(info, video=True, audio=None)


def test_real_ffmpeg_command_uses_its_extra_options():
    info = ffmpeg.probe("ffmpeg")
    args = ffmpeg.input_args(info, ffmpeg.HttpInput("http://127.0.0.1/x.m3u8"))
    assert "-reconnect_on_network_error" in args and "-rw_timeout" in args
    assert args[args.index("-protocol_whitelist") + 1] == "http,https,tcp,tls,crypto"
    assert "-live_start_index" not in args


@pytest.mark.parametrize("bad", [
    [("X-A", "b\r\nX-Injected: 1")], [("X-A", "b\nc")], [("X-A\r\nX-B", "c")], [("Bad Name", "x")]])
def test_header_block_refuses_line_breaks(bad):
    with pytest.raises(RecorderError):
        ffmpeg.header_block(bad)


def test_ffmpeg_headers_are_parsed():
    assert ffmpeg.parse_header_lines("A: 1\r\nB: two words\r\n\r\n") == [("A", "1"),
                                                                         ("B", "two words")]
    assert ffmpeg.parse_header_lines("") == []
    for bad in ("A: 1\r\nnot a header\r\n", "A: b\rC: d"):
        with pytest.raises(RecorderError):
            ffmpeg.parse_header_lines(bad)


def test_progress_parser():
    parser = ffmpeg.ProgressParser()
    lines = ["frame=1", "total_size=N/A", "out_time_us=N/A", "out_time=N/A", "speed=N/A",
             "progress=continue", "total_size=385400", "out_time_us=4032000",
             "out_time=00:00:04.032000", "speed= 600x", "progress=end"]
    blocks = [b for b in map(parser.feed, lines) if b is not None]
    assert [(b.out_time, b.total_size, b.end) for b in blocks] == [(None, None, False),
                                                                    (4.032, 385400, True)]
    assert blocks[1].speed == 600.0
    old = ffmpeg.ProgressParser()  # ffmpeg 4.x: out_time_ms (microseconds, sic) or clock text
    for line in ["out_time_ms=1500000", "progress=continue"]:
        block = old.feed(line)
    assert block.out_time == 1.5
    for line in ["out_time=01:00:02.500000", "progress=continue"]:
        block = old.feed(line)
    assert block.out_time == 3602.5


@pytest.mark.parametrize("line, error", [
    ("[https @ 0x5555] HTTP error 403 Forbidden", ForbiddenError),
    ("http://h/x.m3u8?t=1: Server returned 403 Forbidden (access denied)", ForbiddenError),
    ("http://h/x.m3u8: Server returned 404 Not Found", NotFoundError),
    ("[tls @ 0x1] The certificate is NOT trusted.", TlsError),
    ("[mpegts @ 0x1] Could not find tag for codec vp9 in stream #0, codec not currently "
     "supported in container", UnsupportedCodecError),
    ("[tcp @ 0x1] Connection timed out", StreamTimeoutError),
    ("x.m3u8: Invalid data found when processing input", InvalidStreamError),
    ("something else entirely", RecorderError),
])
def test_stderr_is_classified(line, error):
    lines = ["[hls @ 0x1] Opening 'http://h/seg.m4s?token=abc' for reading", line]
    exc = ffmpeg.error_from_output(lines, 1)
    assert type(exc) is error
    assert "token=abc" not in str(exc) and "t=1" not in str(exc) and "Opening" not in str(exc)


def test_skipped_segments_are_counted_from_stderr():
    assert ffmpeg.skipped_in_line("[hls @ 0x1] Failed to open segment 3 of playlist 0") == (1, "0/3")
    assert ffmpeg.skipped_in_line("[hls @ 0x1] Failed to open segment of playlist 1") == (1, None)
    assert ffmpeg.skipped_in_line("[hls @ 0x1] skipping 4 segments ahead, expired from "
                                  "playlists") == (4, None)
    assert ffmpeg.skipped_in_line("[hls @ 0x1] Opening 'x' for reading") == (0, None)


def test_init_sections_name_their_codecs(m4s_media, tmp_path):
    muxed = (m4s_media["vod"] / "init.mp4").read_bytes()
    assert check_media_start(muxed, "init section") == "mp4"
    assert [(t.handler, t.fourcc, t.family) for t in init_tracks(muxed)] == [
        ("vide", "avc1", "h264"), ("soun", "mp4a", "aac")]
    vp9 = (m4s_media["vp9"] / "init.mp4").read_bytes()
    assert [(t.fourcc, t.family) for t in init_tracks(vp9)] == [("vp09", "vp9")]
    # common encryption (CENC) shows as an encv sample entry: that is DRM
    cenc = tmp_path / "cenc.mp4"
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-i", str(m4s_media["vod"] / "index.m3u8"),
                    "-c", "copy", "-encryption_scheme", "cenc-aes-ctr",
                    "-encryption_key", "00112233445566778899aabbccddeeff",
                    "-encryption_kid", "ffeeddccbbaa99887766554433221100",
                    "-movflags", "frag_keyframe+empty_moov", str(cenc)], check=True, timeout=60)
    tracks = init_tracks(cenc.read_bytes())
    assert tracks and all(t.encrypted for t in tracks)
    with pytest.raises(InvalidStreamError):
        check_media_start(b"<html><body>login</body></html>", "init section")


def test_a_stubborn_ffmpeg_is_killed_and_reaped(tmp_path):
    """SIGTERM ignored: stop() kills the whole process group after the grace time and reaps."""
    script = tmp_path / "stubborn.sh"
    script.write_text("#!/bin/sh\ntrap '' TERM\nsleep 30 &\nwait\n")
    script.chmod(0o755)
    proc = ffmpeg.FfmpegProcess([str(script)])
    time.sleep(0.2)
    t0 = time.monotonic()
    caller = threading.Thread(target=proc.terminate)  # from "another thread": does not block
    caller.start()
    caller.join(5)
    assert not caller.is_alive(), "terminate() blocked"
    assert proc.stop(grace=0.5) == -9
    assert time.monotonic() - t0 > 0.4, "the grace time was granted before the kill"
    assert child_processes() == []
    # the grandchild (sleep) went with the group: no live orphan (init may not have reaped it yet)
    assert until_true(lambda: _live_members_of_group(proc.pid) == [], 2)
    proc.terminate()  # after reaping: a no-op, never a signal to a recycled pid


def test_stderr_is_drained_while_ffmpeg_runs(tmp_path):
    """Megabytes on stderr cannot block the child; only the last lines are kept."""
    proc = ffmpeg.FfmpegProcess(["sh", "-c", "i=0; while [ $i -lt 40000 ]; do "
                                 "echo \"line $i of noise on stderr\" >&2; i=$((i+1)); done"])
    assert proc.wait_exit(20)
    assert proc.reap() == 0
    tail = proc.stderr_tail()
    assert len(tail) == ffmpeg.STDERR_TAIL and tail[-1] == "line 39999 of noise on stderr"


def test_probe_refuses_what_is_not_ffmpeg(tmp_path):
    fake = tmp_path / "ffmpeg"
    fake.write_text("#!/bin/sh\necho hello\n")
    fake.chmod(0o755)
    with pytest.raises(RecorderError) as info:
        ffmpeg.probe(str(fake))
    assert info.value.error_id == "ffmpeg_missing"


def test_tests_leave_no_ffmpeg_behind():
    """The autouse fixture's check itself: this process has no children now."""
    assert child_processes() == []
    assert Path("/proc/self/task").is_dir()


@pytest_twisted.ensureDeferred
async def test_live_playlist_that_ends_completes(server, manager, collector, m4s_media, tmp_path):
    live = M4sLive(server, m4s_media["live"], "ends", end_at=9)
    manager.record_stream(rr(live.url, tmp_path, buffering=2))
    stop = (await wait_stopped(manager, 20))[1]
    assert (stop["reason"], stop["error_id"], stop["skipped_segments"]) == ("complete", None, 0)
    out = tmp_path / "stream_0.ts"
    assert_playable(out)
    requested = sorted(int(p[-7:-4]) for p in server.paths_requested(r"seg_\d+\.m4s$"))
    assert requested[-1] == 9 and requested == list(range(requested[0], 10))
    assert ffprobe_duration(out) == pytest.approx(0.5 * len(requested), abs=0.35)


@pytest_twisted.ensureDeferred
async def test_live_playlist_gone_is_an_error(server, manager, collector, m4s_media, tmp_path):
    live = M4sLive(server, m4s_media["live"], "gone")
    manager.record_stream(rr(live.url, tmp_path, buffering=2))
    assert await until(lambda: collector.of("start"), timeout=10)
    server.add_fault(Fault(r"^/gone/index\.m3u8", status=404))
    stop = (await wait_stopped(manager, 30))[1]
    assert (stop["reason"], stop["error_id"]) == ("error", "not_found"), stop
    assert_playable(tmp_path / "stream_0.ts")


@pytest_twisted.ensureDeferred
async def test_stalled_live_stream_times_out(server, make_manager, collector, m4s_media, tmp_path):
    live = M4sLive(server, m4s_media["live"], "stall", freeze_at=7)
    mgr = make_manager(stall_timeout=1.5)
    mgr.record_stream(rr(live.url, tmp_path, buffering=2))
    stop = (await wait_stopped(mgr, 30))[1]
    assert (stop["reason"], stop["error_id"]) == ("error", "timeout"), stop
    assert "no media for" in stop["msg"]
    assert_playable(tmp_path / "stream_0.ts")


@pytest.mark.parametrize("recorder_id", ["auto", "hls_basic"])
@pytest_twisted.ensureDeferred
async def test_fmp4_reaches_this_recorder_from_auto_and_hls(server, manager, collector, m4s_media,
                                                            tmp_path, recorder_id):
    url = publish_dir(server, m4s_media["vod"], "via")
    manager.record_stream(rr(url, tmp_path, recorder_id=recorder_id, buffering=2))
    stop = (await wait_stopped(manager))[1]
    assert (stop["reason"], stop["recorder"]["type"]) == ("complete", "hls_m4s"), stop
    assert_playable(tmp_path / "stream_0.ts", 4.0)
    assert await until(lambda: recorder_threads() == 0, timeout=5)


@pytest_twisted.ensureDeferred
async def test_missing_segment_is_skipped_and_reported(server, manager, collector, m4s_media,
                                                       tmp_path):
    url = publish_dir(server, m4s_media["vod"], "hole")
    server.add_fault(Fault(r"seg_002\.m4s", status=404))
    manager.record_stream(rr(url, tmp_path, buffering=2))
    stop = (await wait_stopped(manager))[1]
    assert (stop["reason"], stop["error_id"], stop["skipped_segments"]) == ("complete", None, 1)
    assert collector.of("progress")[-1]["skipped_segments"] == 1
    assert ffmpeg_errors(tmp_path / "stream_0.ts") == ""


@pytest.mark.parametrize("status, error_id", [(403, "forbidden"), (404, "not_found")])
@pytest_twisted.ensureDeferred
async def test_segments_refused_to_ffmpeg(server, manager, collector, m4s_media, tmp_path, status,
                                          error_id):
    """Playlist and init answer, every media segment fails: ffmpeg's stderr names the error."""
    url = publish_dir(server, m4s_media["vod"], "segs")
    server.add_fault(Fault(r"\.m4s$", status=status))
    manager.record_stream(rr(url, tmp_path, buffering=2))
    stop = (await wait_stopped(manager))[1]
    assert (stop["reason"], stop["error_id"]) == ("error", error_id), stop
    assert str(status) in stop["msg"]
