"""One plan per recording (hls.plan) and one options object (options.py), through real servers."""

import re
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import pytest_twisted
import requests

from helpers import one_stop, rr, wait_stopped
from m4s_media import *  # noqa: F401,F403  (session fixture m4s_media)
from m4s_media import master_playlist, publish_dir
from media import make_ts_segments
from streamrecorder import options
from streamrecorder.devserver import Fault
from streamrecorder.errors import UnsupportedCodecError
from streamrecorder.hls.plan import Planner
from streamrecorder.http import HttpClient, RetryPolicy

ARCHITECTURE = Path(__file__).resolve().parents[2] / "shared" / "docs" / "architecture.md"


@pytest.fixture(scope="module")
def ts_segs(tmp_path_factory):
    return make_ts_segments(tmp_path_factory.mktemp("plan_ts"), 6, 1.0)


class Concurrency:
    """Segment routes that hold each answer a moment and count requests served at once."""

    def __init__(self, server, prefix, segs, hold=0.25):
        self.active = 0
        self.most = 0
        self._lock = threading.Lock()
        entries = []
        for i, path in enumerate(segs):
            body = path.read_bytes()
            server.route("/%s/seg%d.ts" % (prefix, i), self._handler(body, hold))
            entries.append("#EXTINF:1.0,\nseg%d.ts" % i)
        server.put("/%s/index.m3u8" % prefix, ("#EXTM3U\n#EXT-X-TARGETDURATION:1\n%s\n"
                                               "#EXT-X-ENDLIST\n" % "\n".join(entries)).encode())
        self.url = server.url("/%s/index.m3u8" % prefix)

    def _handler(self, body, hold):
        def serve(_request):
            with self._lock:
                self.active += 1
                self.most = max(self.most, self.active)
            time.sleep(hold)
            with self._lock:
                self.active -= 1
            return 200, {"Content-Type": "video/mp2t"}, body
        return serve


# --- the options object --------------------------------------------------------------------------

def test_every_resolve_result_key_of_the_architecture_is_read():
    text = ARCHITECTURE.read_text()
    section = text.split("### resolve_result", 1)[1].split("###", 1)[0]
    section = section.split("Unknown keys are ignored", 1)[0]
    listed = set(re.findall(r"`([a-z_]+)`", section))
    assert {"resolved_url", "parallel", "audio_language", "continue_recording"} <= listed
    assert listed - set(options.known_keys()) == set()


@pytest.mark.parametrize("given, expected", [
    ({}, dict(buffering=5, parallel=4, quality="best", show_ads=False, allow_transcode=False)),
    ({"buffering": "3", "parallel": 8.0, "quality": "HD", "show_ads": "yes",
      "allow_transcode": True, "audio_language": "deu", "duration": "90"},
     dict(buffering=3, parallel=8, quality=720, show_ads=True, allow_transcode=True,
          audio_language="deu", duration=90.0)),
    ({"quality": "super", "audio_language": "auto", "unknown_key": object()},
     dict(quality="best", audio_language=None)),
    ({"ffmpeg_headers": "X-A: 1\r\nReferer: http://r/\r\n"},
     dict(ffmpeg_headers=(("X-A", "1"), ("Referer", "http://r/")))),
])
def test_options_from_a_resolve_result(given, expected):
    built = options.build(dict(given, resolved_url="http://h/x", rec_dir="/tmp"))
    assert {k: getattr(built, k) for k in expected} == expected


def test_resolve_result_keys_win_over_the_settings():
    defaults = {"parallel": 1, "allow_transcode": False, "audio_language": "en"}
    assert options.build({}, defaults).parallel == 1
    built = options.build({"parallel": 3, "allow_transcode": True, "audio_language": "de"}, defaults)
    assert (built.parallel, built.allow_transcode, built.audio_language) == (3, True, "de")


@pytest.mark.parametrize("given, says", [
    ({"parallel": "many"}, "parallel must be a whole number"),
    ({"parallel": 0}, "parallel must be a whole number"),
    ({"buffering": 2.5}, "buffering must be a whole number"),
    ({"show_ads": "perhaps"}, "show_ads must be true or false"),
    ({"duration": "-5"}, "duration must be a number of seconds"),
    ({"ffmpeg_headers": "X-A: 1\nbroken line"}, "malformed header line"),
    ({"continue_recording": "perhaps"}, "continue_recording must be true or false"),
])
def test_values_that_cannot_be_used_are_refused(given, says):
    with pytest.raises(options.OptionError, match=says):
        options.build(given)


@pytest_twisted.ensureDeferred
async def test_a_refused_option_stops_with_a_message_and_keeps_the_files(server, manager,
                                                                         collector, ts_segs,
                                                                         tmp_path):
    kept = tmp_path / "stream_0.ts"
    kept.write_bytes(b"\x47" * 188 * 10)
    flow = Concurrency(server, "refused", ts_segs)
    manager.record_stream(rr(flow.url, tmp_path, parallel="many"))
    stop = (await wait_stopped(manager))[1]
    assert (stop["reason"], stop["error_id"]) == ("error", "failure")
    assert "parallel must be a whole number" in stop["msg"]
    manager.record_stream(rr(flow.url, tmp_path, continue_recording="maybe"))
    stop = (await wait_stopped(manager))[1]
    assert (stop["reason"], stop["error_id"]) == ("error", "failure")
    assert "continue_recording must be true or false" in stop["msg"]
    assert kept.read_bytes() == b"\x47" * 188 * 10
    assert server.paths_requested("refused") == [], "refused before any request"


# --- parallel, from the resolve_result, the settings and the CLI ---------------------------------

@pytest_twisted.ensureDeferred
async def test_parallel_comes_from_the_resolve_result_over_the_settings(server, make_manager,
                                                                        collector, ts_segs,
                                                                        tmp_path):
    mgr = make_manager(parallel=1)
    one = Concurrency(server, "p1", ts_segs)
    mgr.record_stream(rr(one.url, tmp_path / "a"))
    assert (await wait_stopped(mgr))[1]["reason"] == "complete"
    three = Concurrency(server, "p3", ts_segs)
    mgr.record_stream(rr(three.url, tmp_path / "b", parallel=3))
    assert (await wait_stopped(mgr))[1]["reason"] == "complete"
    assert one.most == 1, "the settings' parallel=1"
    assert 2 <= three.most <= 3, "the resolve_result's parallel=3"


def test_cli_parallel_bounds_the_downloads(server, ts_segs, tmp_path):
    flows = {n: Concurrency(server, "cli%d" % n, ts_segs) for n in (1, 3)}
    for n, flow in flows.items():
        proc = subprocess.run([sys.executable, "-m", "streamrecorder", "record", flow.url, "-o",
                               str(tmp_path / str(n)), "--parallel", str(n), "--reserve-mb", "1",
                               "--json"], capture_output=True, text=True, timeout=60)
        assert proc.returncode == 0, proc.stderr
    assert flows[1].most == 1
    assert 2 <= flows[3].most <= 3


# --- the plan: one master fetch, transcoding in auto mode, renditions ----------------------------

@pytest_twisted.ensureDeferred
async def test_auto_reads_the_master_and_the_variant_once(server, manager, collector, ts_segs,
                                                          tmp_path):
    flow = Concurrency(server, "once", ts_segs, hold=0)
    server.put("/once/master.m3u8", master_playlist(
        [("index.m3u8", 800000, "avc1.64001e,mp4a.40.2", "320x240", None)]).encode())
    manager.record_stream(rr(server.url("/once/master.m3u8"), tmp_path, recorder_id="auto"))
    stop = (await wait_stopped(manager))[1]
    assert (stop["reason"], stop["recorder"]["type"]) == ("complete", "hls_basic"), stop
    assert flow.most >= 1
    assert server.paths_requested(r"/once/master\.m3u8") == ["/once/master.m3u8"]
    assert server.paths_requested(r"/once/index\.m3u8") == ["/once/index.m3u8"]
    one_stop(collector)


@pytest.mark.parametrize("allow", [False, True])
@pytest_twisted.ensureDeferred
async def test_auto_with_only_vp9_variants_follows_allow_transcode(server, manager, collector,
                                                                   m4s_media, tmp_path, allow):
    publish_dir(server, m4s_media["vp9"], "vp9auto")
    server.put("/vp9auto/master.m3u8", master_playlist(
        [("index.m3u8", 300000, "vp09.00.10.08", "160x96", None)]).encode())
    manager.record_stream(rr(server.url("/vp9auto/master.m3u8"), tmp_path, recorder_id="auto",
                             buffering=1, allow_transcode=allow))
    stop = (await wait_stopped(manager, 60))[1]
    if allow:
        assert (stop["reason"], stop["error_id"], stop["recorder"]["type"]) == (
            "complete", None, "hls_m4s"), stop
        probe = subprocess.run(["ffprobe", "-v", "error", "-select_streams", "v", "-show_entries",
                                "stream=codec_name", "-of", "csv=p=0",
                                str(tmp_path / "stream_0.ts")], capture_output=True, text=True)
        assert set(probe.stdout.split()) == {"h264"}  # (listed once per program and stream)
    else:
        assert (stop["reason"], stop["error_id"]) == ("error", "unsupported_codec"), stop
        assert "transcoding is off" in stop["msg"]
        assert server.paths_requested(r"\.m4s") == []


@pytest_twisted.ensureDeferred
async def test_audio_language_from_the_resolve_result(server, manager, collector, m4s_media,
                                                      tmp_path):
    publish_dir(server, m4s_media["video"], "lang/video")
    publish_dir(server, m4s_media["audio"], "lang/en")
    publish_dir(server, m4s_media["audio"], "lang/de")
    server.put("/lang/master.m3u8", master_playlist(
        [("video/index.m3u8", 500000, "avc1.64000d,mp4a.40.2", "320x180", "aud")],
        audio=[("aud", "English", "en", "en/index.m3u8", True),
               ("aud", "Deutsch", "de", "de/index.m3u8", False)]).encode())
    manager.record_stream(rr(server.url("/lang/master.m3u8"), tmp_path, recorder_id="auto",
                             buffering=1, audio_language="deu"))
    stop = (await wait_stopped(manager, 60))[1]
    assert stop["reason"] == "complete", stop
    assert server.paths_requested("/lang/de/") and not server.paths_requested("/lang/en/")


@pytest_twisted.ensureDeferred
async def test_ffmpeg_headers_go_with_the_ts_segments_too(server, manager, collector, ts_segs,
                                                         tmp_path):
    flow = Concurrency(server, "hdr", ts_segs, hold=0)
    server.add_fault(Fault(r"^/hdr/", require_header=("X-Token", "s3cret")))
    manager.record_stream(rr(flow.url, tmp_path, ffmpeg_headers="X-Token: s3cret\r\n"))
    stop = (await wait_stopped(manager))[1]
    assert (stop["reason"], stop["error_id"]) == ("complete", None), stop
    assert len(server.paths_requested(r"/hdr/seg")) == len(ts_segs)


def test_plan_reads_only_the_head_of_a_first_segment_without_init(server, m4s_media):
    """fMP4 segments without EXT-X-MAP whose first one is large: the plan reads its moov, not
    the whole segment (which at this rate would take 16 s)."""
    media = Path(m4s_media["vod"])
    first = (media / "init.mp4").read_bytes() + (media / "seg_000.m4s").read_bytes()
    padding = 16_000_000
    first += (padding + 8).to_bytes(4, "big") + b"free" + bytes(padding)
    server.put("/head/seg_000.m4s", first)
    server.put("/head/index.m3u8", b"#EXTM3U\n#EXT-X-TARGETDURATION:1\n#EXTINF:1.0,\n"
                                   b"seg_000.m4s\n#EXT-X-ENDLIST\n")
    server.add_fault(Fault(r"seg_000", throttle_bps=1_000_000))
    planner = Planner(HttpClient(requests.Session()), options.RecordOptions(),
                      RetryPolicy(attempts=1))
    began = time.monotonic()
    plan = planner.plan(server.url("/head/index.m3u8"))
    assert time.monotonic() - began < 8.0, "the plan downloaded the whole first segment"
    assert plan.recorder_id == "hls_m4s" and plan.proven
    assert [(t.handler, t.family) for t in plan.video.tracks] == [("vide", "h264"), ("soun", "aac")]


def test_plan_refuses_undecodable_codecs_without_transcoding(server, m4s_media):
    publish_dir(server, m4s_media["vp9"], "vp9plan")
    planner = Planner(HttpClient(requests.Session()), options.RecordOptions(),
                      RetryPolicy(attempts=1))
    with pytest.raises(UnsupportedCodecError, match="vp9"):
        planner.plan(server.url("/vp9plan/index.m3u8"))
    allowed = Planner(HttpClient(requests.Session()), options.RecordOptions(allow_transcode=True),
                      RetryPolicy(attempts=1)).plan(server.url("/vp9plan/index.m3u8"))
    assert (allowed.recorder_id, allowed.transcode_video, allowed.transcode_audio) == (
        "hls_m4s", True, None)


def test_segment_size_estimate_from_bandwidth_and_extinf(server, ts_segs):
    flow = Concurrency(server, "est", ts_segs, hold=0)
    server.put("/est/master.m3u8", master_playlist(
        [("index.m3u8", 8_000_000, "avc1.64001e,mp4a.40.2", "320x240", None)]).encode())
    planner = Planner(HttpClient(requests.Session()), options.RecordOptions(),
                      RetryPolicy(attempts=1))
    plan = planner.plan(server.url("/est/master.m3u8"))
    assert flow.url == plan.video.url
    assert [plan.segment_bytes(s) for s in plan.video.segments[:2]] == [1_000_000, 1_000_000]


@pytest_twisted.ensureDeferred
async def test_live_reloads_keep_the_masters_variables(server, manager, collector, ts_segs,
                                                       tmp_path):
    """A live media playlist that imports a master variable: every reload substitutes it."""
    for i, path in enumerate(ts_segs[:4]):
        server.put("/imp/v/seg%d.ts" % i, path.read_bytes())
    server.put("/imp/master.m3u8", b'#EXTM3U\n#EXT-X-DEFINE:QUERYPARAM="auth"\n'
                                   b"#EXT-X-STREAM-INF:BANDWIDTH=500000\nv/index.m3u8\n")
    served = []

    def playlist(_request):
        count = min(4, 2 + len(served))
        served.append(count)
        lines = ["#EXTM3U", "#EXT-X-TARGETDURATION:1", '#EXT-X-DEFINE:IMPORT="auth"']
        for i in range(count):
            lines += ["#EXTINF:1.0,", "seg%d.ts?auth={$auth}" % i]
        if count == 4:
            lines.append("#EXT-X-ENDLIST")
        return 200, {"Content-Type": "application/vnd.apple.mpegurl"}, (
            "\n".join(lines) + "\n").encode()

    server.route("/imp/v/index.m3u8", playlist)
    manager.record_stream(rr(server.url("/imp/master.m3u8?auth=k9"), tmp_path, recorder_id="auto",
                             buffering=1))
    stop = (await wait_stopped(manager))[1]
    assert (stop["reason"], stop["error_id"], stop["skipped_segments"]) == ("complete", None, 0), stop
    assert len(served) >= 3, "reloaded"
    fetched = server.paths_requested(r"/imp/v/seg\d")
    # live: starts `buffering` segment(s) behind the edge; seg2 and seg3 came with reloads
    assert sorted(fetched) == ["/imp/v/seg%d.ts?auth=k9" % i for i in (1, 2, 3)]
