"""show_ads: ad segments are dropped by default (TS and ffmpeg paths), kept with show_ads=True."""

import json
import re
import subprocess
from pathlib import Path

import pytest
import pytest_twisted

from helpers import ffmpeg_errors, ffprobe_duration, one_stop, rr, wait_stopped
from hls_server import publish_vod
from m4s_media import *  # noqa: F401,F403  (session fixture m4s_media)
from m4s_media import M4sLive, publish_dir
from media import make_ts_segments
from streamrecorder.hls.playlist import Segment
from streamrecorder.hls.adfree import AdFreePlaylist

CUE = {3: ["#EXT-X-DISCONTINUITY", "#EXT-X-CUE-OUT:2.0"],
       5: ["#EXT-X-CUE-IN", "#EXT-X-DISCONTINUITY"]}


@pytest.fixture(scope="module")
def ad_segs(tmp_path_factory):
    root = tmp_path_factory.mktemp("admedia")
    return {"content": make_ts_segments(root / "content", 5, 1.0, size=(320, 240)),
            "ad": make_ts_segments(root / "ad", 2, 1.0, size=(320, 240), ts_offset=5000)}


def video_frames(path):
    out = subprocess.run(["ffprobe", "-v", "error", "-select_streams", "v:0", "-count_packets",
                          "-show_entries", "stream=nb_read_packets", "-of", "json", str(path)],
                         capture_output=True, text=True, timeout=60)
    return int(json.loads(out.stdout)["streams"][0]["nb_read_packets"])


# --- TS path (hls_basic) ------------------------------------------------------------------------

def _ts_vod(server, ad_segs, prefix):
    files = ad_segs["content"][:3] + ad_segs["ad"] + ad_segs["content"][3:5]
    return publish_vod(server, prefix, files, extra=CUE)


@pytest_twisted.ensureDeferred
async def test_ts_ads_are_dropped_by_default(server, manager, collector, ad_segs, tmp_path):
    url = _ts_vod(server, ad_segs, "tsdefault")
    manager.record_stream(rr(url, tmp_path))  # no show_ads: the default
    assert (await wait_stopped(manager))[1]["reason"] == "complete"
    out = tmp_path / "stream_0.ts"
    assert ffmpeg_errors(out) == ""
    assert ffprobe_duration(out) == pytest.approx(5.0, abs=0.6)
    assert not server.paths_requested(r"tsdefault/seg_[34]\.ts"), "ad segments not downloaded"
    one_stop(collector)


@pytest_twisted.ensureDeferred
async def test_ts_show_ads_true_keeps_them(server, manager, ad_segs, tmp_path):
    url = _ts_vod(server, ad_segs, "tskeep")
    manager.record_stream(rr(url, tmp_path, show_ads=True))
    assert (await wait_stopped(manager))[1]["reason"] == "complete"
    out = tmp_path / "stream_0.ts"
    assert ffmpeg_errors(out) == ""
    assert ffprobe_duration(out) == pytest.approx(7.0, abs=0.6)
    assert len(server.paths_requested(r"tskeep/seg_[34]\.ts")) == 2


# --- ffmpeg path (hls_m4s) ----------------------------------------------------------------------

def _m4s_vod_with_ads(server, m4s_media, prefix):
    """The fMP4 VOD (4 x 1 s) with seg_001 and seg_002 marked as an ad break."""
    url = publish_dir(server, m4s_media["vod"], prefix)
    index = Path(server.root) / prefix / "index.m3u8"
    text = index.read_text()
    text = re.sub(r"(#EXTINF:[^\n]*\nseg_001\.m4s)", "#EXT-X-CUE-OUT:2.0\n\\1", text)
    text = re.sub(r"(#EXTINF:[^\n]*\nseg_003\.m4s)", "#EXT-X-CUE-IN\n\\1", text)
    assert text.count("CUE-") == 2
    index.write_text(text)
    server.put("/%s/index.m3u8" % prefix, text.encode())
    return url


@pytest_twisted.ensureDeferred
async def test_m4s_ads_are_dropped_by_default(server, manager, collector, m4s_media, tmp_path):
    url = _m4s_vod_with_ads(server, m4s_media, "m4sdefault")
    manager.record_stream(rr(url, tmp_path, recorder_id="hls_m4s", buffering=1))
    stop = (await wait_stopped(manager))[1]
    assert (stop["reason"], stop["error_id"]) == ("complete", None)
    out = tmp_path / "stream_0.ts"
    assert ffmpeg_errors(out) == ""
    assert not server.paths_requested(r"m4sdefault/seg_00[12]\.m4s"), "ads never requested"
    assert len(server.paths_requested(r"m4sdefault/seg_00[03]\.m4s")) >= 2
    assert video_frames(out) == pytest.approx(48, abs=2), "2 s of content at 24 fps"
    progress = collector.of("progress")
    assert progress[-1]["percent"] == 100.0
    one_stop(collector)


@pytest_twisted.ensureDeferred
async def test_m4s_show_ads_true_keeps_them(server, manager, m4s_media, tmp_path):
    url = _m4s_vod_with_ads(server, m4s_media, "m4skeep")
    manager.record_stream(rr(url, tmp_path, recorder_id="hls_m4s", show_ads=True))
    stop = (await wait_stopped(manager))[1]
    assert (stop["reason"], stop["error_id"]) == ("complete", None)
    out = tmp_path / "stream_0.ts"
    assert ffprobe_duration(out) == pytest.approx(4.0, abs=0.35)
    assert video_frames(out) == pytest.approx(96, abs=2)
    assert server.paths_requested(r"m4skeep/seg_00[12]\.m4s")


@pytest_twisted.ensureDeferred
async def test_m4s_live_ads_that_appear_after_the_start_are_dropped(server, manager, collector,
                                                                    m4s_media, tmp_path):
    # The window at the start (segments 0-5) has no ad; the break 11-14 comes 2.5 s later.
    live = M4sLive(server, m4s_media["live"], "liveads", window=6, end_at=19, ads=range(11, 15))
    manager.record_stream(rr(live.url, tmp_path, recorder_id="hls_m4s", buffering=2))
    stop = (await wait_stopped(manager, 40))[1]
    assert (stop["reason"], stop["error_id"]) == ("complete", None), stop
    assert server.paths_requested(r"liveads/seg_01[5-9]\.m4s"), "recorded past the break"
    assert not server.paths_requested(r"liveads/seg_01[1-4]\.m4s"), "the ads were never requested"
    assert ffmpeg_errors(tmp_path / "stream_0.ts") == ""
    one_stop(collector)


# --- the rewritten playlist ---------------------------------------------------------------------

def test_ad_free_playlist_keeps_live_numbering_steady():
    def seg(n, ad=False):
        return Segment("http://h/s%d.ts" % n, n, 0, 1.0, is_ad=ad)

    rewrite = AdFreePlaylist()
    first = rewrite.render([seg(10), seg(11, True), seg(12)], live=True).decode()
    assert "#EXT-X-MEDIA-SEQUENCE:0" in first and "s11" not in first
    assert first.index("#EXT-X-DISCONTINUITY") < first.index("s12.ts")
    assert "#EXT-X-ENDLIST" not in first
    second = rewrite.render([seg(12), seg(13)], live=True).decode()
    assert "#EXT-X-MEDIA-SEQUENCE:1" in second, "s12 keeps the number it got first"
