"""continue_recording: a recording stopped in the middle (a GUI restart) goes on into the next
section file; stream_state.json says where. Real loopback server, real TS segments."""

import json
import os
import stat
import threading

import pytest
import pytest_twisted

from helpers import ffmpeg_errors, ffprobe_duration, rr, until, wait_stopped
from hls_server import LiveStream, media_playlist
from m4s_media import *  # noqa: F401,F403  (session fixture m4s_media)
from m4s_media import M4sLive, publish_dir
from streamrecorder import files, state

SECRET = "SECRET-TOKEN-42"


def stops(collector):
    return collector.of("stop")


async def record(manager, collector, result, timeout=30):
    """Run one recording to its end; its stop message."""
    before = len(stops(collector))
    manager.record_stream(result)
    stop = (await wait_stopped(manager, timeout))[1]
    assert len(stops(collector)) == before + 1
    return stop


class GatedVod:
    """A VOD of the given 1 s segments; segment i >= `hold_from` waits until `gate` is set.
    `requests` lists the segment numbers asked for, in order."""

    def __init__(self, server, segments, prefix="cvod", hold_from=3):
        self.gate = threading.Event()
        self.requests = []
        self._lock = threading.Lock()
        for i, path in enumerate(segments):
            server.route("/%s/seg_%d.ts" % (prefix, i), self._serve(i, path.read_bytes(), hold_from))
        text = media_playlist([("seg_%d.ts" % i, 1.0) for i in range(len(segments))])
        server.put("/%s/index.m3u8" % prefix, text.encode())
        self.url = server.url("/%s/index.m3u8" % prefix) + "?token=" + SECRET
        self.count = len(segments)

    def _serve(self, index, body, hold_from):
        def serve(_request):
            with self._lock:
                self.requests.append(index)
            if index >= hold_from:
                self.gate.wait(30)
            return 200, {"Content-Type": "video/mp2t"}, body
        return serve


def state_text(rec_dir):
    return (rec_dir / files.STATE_NAME).read_text()


# --- the whole way: record, stop (a restart), continue -------------------------------------------

@pytest_twisted.ensureDeferred
async def test_a_stopped_vod_continues_after_its_last_segment(server, manager, collector,
                                                             media_ts_restart, tmp_path):
    vod = GatedVod(server, media_ts_restart)
    manager.record_stream(rr(vod.url, tmp_path, buffering=2, parallel=1))
    assert await until(lambda: collector.of("start") and 3 in vod.requests, timeout=20)
    manager.stop()  # the GUI restarts in the middle of the VOD
    first = (await wait_stopped(manager))[1]
    vod.gate.set()
    assert (first["reason"], first["error_id"]) == ("user", None), first
    saved = state.read(str(tmp_path))
    assert saved is not None and not saved.live and saved.section_index == 0
    last = saved.playlist_index
    assert 1 <= last < vod.count - 1, saved
    old = (tmp_path / "stream_0.ts").read_bytes()
    assert ffprobe_duration(tmp_path / "stream_0.ts") == pytest.approx(last + 1, abs=0.5)
    asked_before = len(vod.requests)

    stop = await record(manager, collector, rr(vod.url, tmp_path, buffering=2,
                                               continue_recording=True))
    assert (stop["reason"], stop["error_id"], stop["skipped_segments"]) == ("complete", None, 0)
    assert sorted(vod.requests[asked_before:]) == list(range(last + 1, vod.count)), \
        "the rest of the VOD, each segment once"
    assert (tmp_path / "stream_0.ts").read_bytes() == old, "the earlier section is untouched"
    start = collector.of("start")[-1]
    assert start["section_index"] == 1 and start["rec_file"].endswith("stream_1.ts"), start
    assert start["segment_index"] >= last + 1, "playlist indexes of the whole VOD"
    second = tmp_path / "stream_1.ts"
    assert ffmpeg_errors(second) == ""
    assert ffprobe_duration(second) == pytest.approx(vod.count - last - 1, abs=0.5)
    saved = state.read(str(tmp_path))
    assert (saved.section_index, saved.playlist_index) == (1, vod.count - 1)


@pytest_twisted.ensureDeferred
async def test_a_stopped_live_recording_continues_into_the_next_section(
        server, manager, collector, media_ts_restart, tmp_path):
    live = LiveStream(server, media_ts_restart, seg_dur=0.5, window=6, prefix="clive")
    url = live.url + "?token=" + SECRET
    manager.record_stream(rr(url, tmp_path, recorder_id="hls_live", buffering=2))
    assert await until(lambda: collector.of("start") and collector.of("progress"), timeout=20)
    assert await until(lambda: state.read(str(tmp_path)) is not None, timeout=10)
    manager.stop()
    first = (await wait_stopped(manager))[1]
    assert (first["reason"], first["error_id"]) == ("user", None), first
    saved = state.read(str(tmp_path))
    assert saved.live and saved.section_index == 0 and saved.recorder == "hls_live"
    mode = stat.S_IMODE(os.stat(tmp_path / files.STATE_NAME).st_mode)
    assert mode == 0o600, oct(mode)
    assert SECRET not in state_text(tmp_path), "no token in clear"
    assert saved.same_stream(url) and not saved.same_stream(live.url + "?token=other")
    old = (tmp_path / "stream_0.ts").read_bytes()

    manager.record_stream(rr(url, tmp_path, recorder_id="hls_live", buffering=2,
                             continue_recording=True))
    assert await until(lambda: collector.of("start")[-1]["section_index"] == 1, timeout=20)
    second = tmp_path / "stream_1.ts"
    assert await until(lambda: second.stat().st_size > 188 * 100, timeout=10)
    manager.stop()
    stop = (await wait_stopped(manager))[1]
    assert (stop["reason"], stop["error_id"]) == ("user", None), stop
    assert (tmp_path / "stream_0.ts").read_bytes() == old, "the earlier section is untouched"
    assert collector.of("start")[-1]["rec_file"].endswith("stream_1.ts")
    assert ffmpeg_errors(second) == ""
    now = state.read(str(tmp_path))
    assert now.section_index == 1 and now.media_sequence > saved.media_sequence
    assert now.updated > saved.updated


@pytest_twisted.ensureDeferred
async def test_continuing_numbers_after_the_highest_section(server, manager, collector,
                                                           media_ts_restart, tmp_path):
    live = LiveStream(server, media_ts_restart, seg_dur=0.5, window=6, prefix="chigh")
    (tmp_path / "stream_0.ts").write_bytes(b"\x47" * 188)
    (tmp_path / "stream_4.ts").write_bytes(b"\x47" * 188)  # sections 1-3 kept elsewhere
    manager.record_stream(rr(live.url, tmp_path, recorder_id="hls_live", buffering=2,
                             continue_recording=True, duration=2))
    stop = (await wait_stopped(manager))[1]
    assert stop["reason"] == "user" and stop["error_id"] is None, stop
    assert collector.of("start")[0]["section_index"] == 5
    assert (tmp_path / "stream_5.ts").stat().st_size > 188 * 10
    assert (tmp_path / "stream_4.ts").read_bytes() == b"\x47" * 188


@pytest_twisted.ensureDeferred
async def test_a_live_recording_through_ffmpeg_continues_into_the_next_section(
        server, make_manager, collector, m4s_media, tmp_path):
    (tmp_path / "stream_0.ts").write_bytes(b"\x47" * 188 * 2)
    live = M4sLive(server, m4s_media["live"], "cm4slive")
    mgr = make_manager()
    stop = await record(mgr, collector, rr(live.url, tmp_path, recorder_id="hls_m4s", buffering=2,
                                           duration=3, continue_recording=True))
    assert (stop["reason"], stop["error_id"]) == ("user", None), stop
    start = collector.of("start")[0]
    assert start["section_index"] == 1 and start["rec_file"].endswith("stream_1.ts"), start
    assert ffmpeg_errors(tmp_path / "stream_1.ts") == ""
    assert (tmp_path / "stream_0.ts").read_bytes() == b"\x47" * 188 * 2
    saved = state.read(str(tmp_path))
    assert saved.live and saved.recorder == "hls_m4s" and saved.section_index == 1


# --- refusals that leave everything as it is -----------------------------------------------------

def plant(rec_dir):
    """An earlier recording's files and a file of the user's."""
    rec_dir.mkdir(exist_ok=True)
    kept = {"stream_0.ts": b"\x47" * 188 * 3, "stream_0.ts.ap": b"\0" * 16, "notes.txt": b"mine"}
    for name, body in kept.items():
        (rec_dir / name).write_bytes(body)
    return kept


def unchanged(rec_dir, kept, extra=()):
    names = sorted(os.listdir(rec_dir))
    assert names == sorted(list(kept) + list(extra)), names
    for name, body in kept.items():
        assert (rec_dir / name).read_bytes() == body, name


@pytest_twisted.ensureDeferred
async def test_a_vod_without_a_state_file_is_not_continued(server, manager, collector,
                                                          media_ts_restart, tmp_path):
    kept = plant(tmp_path)
    vod = GatedVod(server, media_ts_restart, prefix="nostate")
    vod.gate.set()
    stop = await record(manager, collector, rr(vod.url, tmp_path, continue_recording=True))
    assert (stop["reason"], stop["error_id"]) == ("error", "failure"), stop
    assert "stream_state.json" in stop["msg"] and "nothing was deleted" in stop["msg"], stop
    unchanged(tmp_path, kept)
    assert vod.requests == [], "no segment was fetched"


@pytest_twisted.ensureDeferred
async def test_a_vod_whose_state_is_of_another_stream_is_not_continued(server, manager, collector,
                                                                      media_ts_restart, tmp_path):
    kept = plant(tmp_path)
    state.write(str(tmp_path), state.new("http://other.example/vod.m3u8?token=x", "hls_basic",
                                         False, playlist_index=2))
    kept[files.STATE_NAME] = (tmp_path / files.STATE_NAME).read_bytes()
    vod = GatedVod(server, media_ts_restart, prefix="otherstate")
    vod.gate.set()
    stop = await record(manager, collector, rr(vod.url, tmp_path, continue_recording=True))
    assert (stop["reason"], stop["error_id"]) == ("error", "failure"), stop
    assert "another stream" in stop["msg"] and "other.example/vod.m3u8" in stop["msg"], stop
    unchanged(tmp_path, kept)


@pytest_twisted.ensureDeferred
async def test_the_same_original_url_is_the_same_stream(server, manager, collector,
                                                       media_ts_restart, tmp_path):
    """A resolver hands out a fresh token each time: its original_url recognises the VOD."""
    vod = GatedVod(server, media_ts_restart, prefix="fresh", hold_from=99)
    state.write(str(tmp_path), state.new(vod.url + "-old", "hls_basic", False,
                                         original_url="https://site/show/1", playlist_index=3))
    stop = await record(manager, collector, rr(vod.url, tmp_path, continue_recording=True,
                                               original_url="https://site/show/1", buffering=1))
    assert stop["reason"] == "complete", stop
    assert sorted(vod.requests) == [4, 5]


@pytest_twisted.ensureDeferred
async def test_an_mp4_download_is_not_continued(server, manager, collector, mp4_media, tmp_path):
    kept = plant(tmp_path)
    server.put("/c.mp4", mp4_media["faststart"].read_bytes())
    stop = await record(manager, collector, rr(server.url("/c.mp4"), tmp_path, recorder_id="mp4",
                                               continue_recording=True))
    assert (stop["reason"], stop["error_id"]) == ("error", "failure"), stop
    assert "MP4" in stop["msg"] and "continue_recording" in stop["msg"], stop
    unchanged(tmp_path, kept)


@pytest_twisted.ensureDeferred
async def test_a_vod_through_ffmpeg_is_not_continued(server, make_manager, collector, m4s_media,
                                                    tmp_path):
    kept = plant(tmp_path / "rec")
    url = publish_dir(server, m4s_media["vod"], "cm4s")
    mgr = make_manager()
    stop = await record(mgr, collector, rr(url, tmp_path / "rec", recorder_id="auto",
                                           continue_recording=True))
    assert (stop["reason"], stop["error_id"]) == ("error", "failure"), stop
    assert "through ffmpeg" in stop["msg"], stop
    unchanged(tmp_path / "rec", kept)


# --- the state file and cleanup -------------------------------------------------------------------

@pytest_twisted.ensureDeferred
async def test_a_new_recording_removes_the_state_file_and_nothing_else(server, manager, collector,
                                                                      media_ts_restart, tmp_path):
    kept = plant(tmp_path)
    state.write(str(tmp_path), state.new("http://old/x.m3u8", "hls_basic", False,
                                         playlist_index=9))
    for name in ("stream_state.json.bak", "my_stream_state.json"):
        (tmp_path / name).write_bytes(b"user's")
    vod = GatedVod(server, media_ts_restart[:2], prefix="fresh2")
    stop = await record(manager, collector, rr(vod.url, tmp_path))
    assert stop["reason"] == "complete", stop
    assert (tmp_path / "notes.txt").read_bytes() == b"mine"
    for name in ("stream_state.json.bak", "my_stream_state.json"):
        assert (tmp_path / name).read_bytes() == b"user's"
    saved = state.read(str(tmp_path))
    assert saved.same_stream(vod.url) and saved.playlist_index == 1, "the new recording's state"
    assert (tmp_path / "stream_0.ts").read_bytes() != kept["stream_0.ts"]


def test_state_round_trip_atomic_and_private(tmp_path):
    url = "https://user:pw@cdn.example/live/index.m3u8?token=" + SECRET
    written = state.new(url, "hls_live", True, section_index=3, media_sequence=812,
                        missing_s=12.5, skipped_segments=2, updated=1.5)
    state.write(str(tmp_path), written)
    assert state.read(str(tmp_path)) == written
    text = state_text(tmp_path)
    assert SECRET not in text and "pw" not in json.loads(text)["url"]
    assert stat.S_IMODE(os.stat(tmp_path / files.STATE_NAME).st_mode) == 0o600
    assert os.listdir(tmp_path) == [files.STATE_NAME], "the temporary file was renamed"


def test_a_link_at_the_temporary_name_is_not_followed(tmp_path):
    victim = tmp_path / "victim"
    victim.write_text("precious")
    rec = tmp_path / "rec"
    rec.mkdir()
    (rec / (files.STATE_NAME + ".tmp")).symlink_to(victim)
    state.write(str(rec), state.new("http://h/x.m3u8", "hls_basic", False, playlist_index=0))
    assert victim.read_text() == "precious"
    assert state.read(str(rec)).playlist_index == 0


@pytest.mark.parametrize("body", [b"", b"not json", b"[1, 2]", b'{"version": 99}',
                                  b'{"version": 1, "url": "x"}'])
def test_an_unreadable_state_is_none(tmp_path, body):
    (tmp_path / files.STATE_NAME).write_bytes(body)
    assert state.read(str(tmp_path)) is None
    assert state.read(str(tmp_path / "missing")) is None


def test_next_section_and_owned_names(tmp_path):
    assert files.next_section(str(tmp_path)) == 0
    for name in ("stream_2.ts", "stream_7.ts.ap", "stream_x.ts", "stream_3.mp4"):
        (tmp_path / name).write_bytes(b"")
    assert files.next_section(str(tmp_path)) == 4
    assert files.is_owned("stream_state.json")
    assert not files.is_owned("stream_state.json.bak") and not files.is_owned("a_stream_state.json")
