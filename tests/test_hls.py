"""HLS TS recorders (hls_basic, hls_live) end to end against the loopback server."""

import pytest
import pytest_twisted
from cryptography.hazmat.backends import default_backend
from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from helpers import (MAX_REACTOR_LAG_S, ReactorHeartbeat, ffmpeg_errors, ffprobe_duration,
                     ffprobe_video_size, max_dts_gap, one_stop, recorder_threads, rr, sleep,
                     ts_report, until, wait_stopped)
from hls_server import LiveStream, media_playlist, publish_vod
from media import make_ts_segments
from streamrecorder.devserver import Fault
from streamrecorder.http import RetryPolicy
from streamrecorder.manager import Manager

FAST_RETRY = RetryPolicy(attempts=2, base=0.01, cap=0.02)


@pytest.fixture(scope="session")
def segs(tmp_path_factory):
    """Independently muxed 1 s segments (CC and timestamps restart in each)."""
    root = tmp_path_factory.mktemp("hlsmedia")
    return {
        "small": make_ts_segments(root / "small", 8, 1.0, size=(320, 240)),
        "large": make_ts_segments(root / "large", 3, 1.0, size=(640, 360)),
        "ad": make_ts_segments(root / "ad", 2, 1.0, size=(320, 240), ts_offset=5000),
        "audio": make_ts_segments(root / "audio", 3, 1.0, video=False),
    }


def assert_clean_ts(path, seconds=None, tolerance=0.6):
    report = ts_report(path)
    assert report["first_pid"] == 0, "PAT first"
    assert report["cc_errors"] == 0
    for pid, values in report["dts"].items():
        assert max_dts_gap(values) < 1.0, "gap in the timeline of PID %d" % pid
    assert ffmpeg_errors(path) == ""
    if seconds is not None:
        assert ffprobe_duration(path) == pytest.approx(seconds, abs=tolerance)
    return report


@pytest_twisted.ensureDeferred
async def test_vod_joins_independent_segments(server, manager, collector, segs, tmp_path):
    url = publish_vod(server, "vod", segs["small"])
    manager.record_stream(rr(url, tmp_path, buffering=3))
    stop = await wait_stopped(manager)
    assert stop[1]["reason"] == "complete" and stop[1]["skipped_segments"] == 0
    out = tmp_path / "stream_0.ts"
    assert_clean_ts(out, 8.0)
    starts = collector.of("start")
    assert [(s["section_index"], s["rec_file"]) for s in starts] == [(0, str(out))]
    assert starts[0]["segment_index"] == 2, "start after `buffering` segments"
    progress = collector.of("progress")
    assert progress[-1]["percent"] == 100.0 and progress[-1]["media_s"] == pytest.approx(8, abs=0.5)
    one_stop(collector)


@pytest_twisted.ensureDeferred
async def test_parallel_fetch_writes_in_playlist_order(server, manager, segs, tmp_path):
    url = publish_vod(server, "order", segs["small"])
    server.add_fault(Fault(r"seg_1\.ts", latency=0.6))  # finishes after segments 2..5
    server.add_fault(Fault(r"seg_[0-9]\.ts", latency=0.05))
    manager.record_stream(rr(url, tmp_path))
    assert (await wait_stopped(manager))[1]["reason"] == "complete"
    report = assert_clean_ts(tmp_path / "stream_0.ts", 8.0)
    for values in report["pts"].values():
        assert values == sorted(values), "segments written out of order"


@pytest_twisted.ensureDeferred
async def test_resolution_change_opens_a_new_section(server, manager, collector, segs, tmp_path):
    files = segs["small"][:3] + segs["large"]
    url = publish_vod(server, "res", files, extra={3: ["#EXT-X-DISCONTINUITY"]})
    manager.record_stream(rr(url, tmp_path, buffering=2))
    assert (await wait_stopped(manager))[1]["reason"] == "complete"
    s0, s1 = tmp_path / "stream_0.ts", tmp_path / "stream_1.ts"
    assert ffprobe_video_size(s0) == (320, 240) and ffprobe_video_size(s1) == (640, 360)
    assert_clean_ts(s0, 3.0)
    assert_clean_ts(s1, 3.0)
    assert [(s["section_index"], s["rec_file"]) for s in collector.of("start")] == [
        (0, str(s0)), (1, str(s1))]


@pytest_twisted.ensureDeferred
async def test_ad_break_with_foreign_timestamps_keeps_timeline(server, manager, segs, tmp_path):
    files = segs["small"][:3] + segs["ad"] + segs["small"][3:5]
    extra = {3: ["#EXT-X-DISCONTINUITY"], 5: ["#EXT-X-DISCONTINUITY"]}
    url = publish_vod(server, "ads", files, extra=extra)
    manager.record_stream(rr(url, tmp_path))
    assert (await wait_stopped(manager))[1]["reason"] == "complete"
    assert_clean_ts(tmp_path / "stream_0.ts", 7.0)


@pytest_twisted.ensureDeferred
async def test_marked_ads_are_left_out_when_show_ads_is_false(server, manager, segs, tmp_path):
    files = segs["small"][:3] + segs["ad"] + segs["small"][3:5]
    extra = {3: ["#EXT-X-DISCONTINUITY", "#EXT-X-CUE-OUT:2.0"],
             5: ["#EXT-X-CUE-IN", "#EXT-X-DISCONTINUITY"]}
    url = publish_vod(server, "noads", files, extra=extra)
    manager.record_stream(rr(url, tmp_path, show_ads=False))
    assert (await wait_stopped(manager))[1]["reason"] == "complete"
    assert_clean_ts(tmp_path / "stream_0.ts", 5.0)
    assert not server.paths_requested(r"noads/seg_[34]\.ts"), "ad segments are not downloaded"


def encrypt(data, key, iv):
    padder = padding.PKCS7(128).padder()
    enc = Cipher(algorithms.AES(key), modes.CBC(iv), backend=default_backend()).encryptor()
    return enc.update(padder.update(data) + padder.finalize()) + enc.finalize()


@pytest.mark.parametrize("with_iv", [True, False])
@pytest_twisted.ensureDeferred
async def test_aes128_with_and_without_iv(server, manager, segs, tmp_path, with_iv):
    key = bytes(range(16))
    iv = bytes.fromhex("000102030405060708090a0b0c0d0e0f")
    entries = []
    for i, path in enumerate(segs["small"][:4]):
        seq = 7 + i
        seg_iv = iv if with_iv else seq.to_bytes(16, "big")
        server.put("/aes/s%d.ts" % i, encrypt(path.read_bytes(), key, seg_iv))
        entries.append(("s%d.ts" % i, 1.0))
    key_tag = '#EXT-X-KEY:METHOD=AES-128,URI="key.bin"' + (",IV=0x" + iv.hex() if with_iv else "")
    text = media_playlist(entries, media_sequence=7, extra_head=[key_tag])
    server.put("/aes/index.m3u8", text.encode())
    server.put("/aes/key.bin", key)
    manager.record_stream(rr(server.url("/aes/index.m3u8"), tmp_path))
    stop = await wait_stopped(manager)
    assert stop[1]["reason"] == "complete", stop
    assert_clean_ts(tmp_path / "stream_0.ts", 4.0)
    assert len(server.paths_requested(r"key\.bin")) == 1, "the key is fetched once"


@pytest_twisted.ensureDeferred
async def test_byte_range_playlist(server, manager, segs, tmp_path):
    blobs = [p.read_bytes() for p in segs["small"][:4]]
    server.put("/br/all.ts", b"".join(blobs))
    lines = ["#EXTM3U", "#EXT-X-VERSION:4", "#EXT-X-TARGETDURATION:1"]
    offset = 0
    for i, blob in enumerate(blobs):
        lines.append("#EXTINF:1.0,")
        # explicit offset for the first two, implicit (follows the previous range) after
        lines.append("#EXT-X-BYTERANGE:%d@%d" % (len(blob), offset) if i < 2
                     else "#EXT-X-BYTERANGE:%d" % len(blob))
        lines.append("all.ts")
        offset += len(blob)
    lines.append("#EXT-X-ENDLIST")
    server.put("/br/index.m3u8", ("\n".join(lines) + "\n").encode())
    manager.record_stream(rr(server.url("/br/index.m3u8"), tmp_path))
    assert (await wait_stopped(manager))[1]["reason"] == "complete"
    assert_clean_ts(tmp_path / "stream_0.ts", 4.0)


@pytest_twisted.ensureDeferred
async def test_audio_only_stream(server, manager, segs, tmp_path):
    url = publish_vod(server, "aud", segs["audio"])
    manager.record_stream(rr(url, tmp_path))
    assert (await wait_stopped(manager))[1]["reason"] == "complete"
    assert_clean_ts(tmp_path / "stream_0.ts", 3.0, tolerance=0.3)


def publish_master(server, segs):
    url_small = publish_vod(server, "v320", segs["small"][:3])
    url_large = publish_vod(server, "v640", segs["large"])
    del url_small, url_large
    master = "\n".join([
        "#EXTM3U",
        '#EXT-X-STREAM-INF:BANDWIDTH=300000,RESOLUTION=320x240,CODECS="avc1.64000d,mp4a.40.2"',
        "v320/index.m3u8",
        '#EXT-X-STREAM-INF:BANDWIDTH=900000,RESOLUTION=640x360,CODECS="avc1.64001e,mp4a.40.2"',
        "v640/index.m3u8",
        '#EXT-X-STREAM-INF:BANDWIDTH=5000000,RESOLUTION=1920x1080,CODECS="vp09.00.40.08,opus"',
        "vp9/index.m3u8",
    ]) + "\n"
    server.put("/master.m3u8", master.encode())
    return server.url("/master.m3u8")


@pytest.mark.parametrize("quality,size", [("best", (640, 360)), ("worst", (320, 240)),
                                          (300, (320, 240)), (720, (640, 360))])
@pytest_twisted.ensureDeferred
async def test_master_playlist_variant_choice(server, manager, segs, tmp_path, quality, size):
    url = publish_master(server, segs)
    manager.record_stream(rr(url, tmp_path, quality=quality))
    assert (await wait_stopped(manager))[1]["reason"] == "complete"
    assert ffprobe_video_size(tmp_path / "stream_0.ts") == size
    assert not server.paths_requested("vp9"), "an undecodable variant is never chosen"


@pytest_twisted.ensureDeferred
async def test_auto_detects_hls_vod_from_master(server, manager, segs, tmp_path):
    url = publish_master(server, segs)
    manager.record_stream(rr(url, tmp_path, recorder_id="auto"))
    stop = await wait_stopped(manager)
    assert stop[1]["reason"] == "complete" and stop[1]["recorder"]["type"] == "hls_basic"


@pytest_twisted.ensureDeferred
async def test_sample_aes_is_drm_and_keeps_previous_recording(server, manager, collector, segs,
                                                             tmp_path):
    text = media_playlist([("s0.ts", 1.0)], extra_head=[
        '#EXT-X-KEY:METHOD=SAMPLE-AES,URI="skd://key",KEYFORMAT="com.apple.streamingkeydelivery"'])
    server.put("/drm/index.m3u8", text.encode())
    previous = tmp_path / "stream_0.ts"
    previous.write_bytes(b"previous")
    manager.record_stream(rr(server.url("/drm/index.m3u8"), tmp_path))
    stop = await wait_stopped(manager)
    assert (stop[1]["reason"], stop[1]["error_id"]) == ("error", "drm_protected")
    assert previous.read_bytes() == b"previous"
    assert not server.paths_requested(r"s0\.ts")
    one_stop(collector)


@pytest.mark.parametrize("fault,error_id", [
    (Fault(r"index\.m3u8", status=403), "forbidden"),
    (Fault(r"index\.m3u8", status=404), "not_found"),
    (Fault(r"index\.m3u8", html_instead=True), "invalid_stream"),
    (Fault(r"seg_\d\.ts", html_instead=True), "invalid_stream"),
    (Fault(r"seg_\d\.ts", status=403), "forbidden"),
])
@pytest_twisted.ensureDeferred
async def test_bad_streams_end_with_the_right_error(server, collector, segs, tmp_path, fault,
                                                    error_id):
    url = publish_vod(server, "bad", segs["small"][:4])
    server.add_fault(fault)
    previous = tmp_path / "stream_0.ts"
    previous.write_bytes(b"previous")
    mgr = Manager(recorder_options={"retry": FAST_RETRY})
    mgr.subscribe(collector)
    try:
        mgr.record_stream(rr(url, tmp_path))
        stop = await wait_stopped(mgr)
    finally:
        mgr.close()
    assert (stop[1]["reason"], stop[1]["error_id"]) == ("error", error_id), stop
    assert previous.read_bytes() == b"previous", "a failing stream never wipes the last recording"
    one_stop(collector)


@pytest_twisted.ensureDeferred
async def test_missing_segment_is_skipped_and_reported(server, collector, segs, tmp_path):
    url = publish_vod(server, "skip", segs["small"][:6])
    server.add_fault(Fault(r"skip/seg_3\.ts", status=404))
    mgr = Manager(recorder_options={"retry": FAST_RETRY})
    mgr.subscribe(collector)
    try:
        mgr.record_stream(rr(url, tmp_path))
        stop = await wait_stopped(mgr)
    finally:
        mgr.close()
    assert stop[1]["reason"] == "complete" and stop[1]["skipped_segments"] == 1
    assert collector.of("progress")[-1]["skipped_segments"] == 1
    assert_clean_ts(tmp_path / "stream_0.ts", 5.0)


@pytest_twisted.ensureDeferred
async def test_transient_503_is_retried(server, manager, segs, tmp_path):
    url = publish_vod(server, "r503", segs["small"][:4])
    server.add_fault(Fault(r"seg_2\.ts", fail_first=2))
    manager.record_stream(rr(url, tmp_path))
    stop = await wait_stopped(manager)
    assert stop[1]["reason"] == "complete" and stop[1]["skipped_segments"] == 0


@pytest_twisted.ensureDeferred
async def test_sequential_pool_of_one(server, segs, tmp_path, collector):
    url = publish_vod(server, "seq", segs["small"][:4])
    mgr = Manager(recorder_options={"parallel": 1})
    mgr.subscribe(collector)
    try:
        mgr.record_stream(rr(url, tmp_path))
        stop = await wait_stopped(mgr)
    finally:
        mgr.close()
    assert stop[1]["reason"] == "complete"
    assert_clean_ts(tmp_path / "stream_0.ts", 4.0)


# --- live -------------------------------------------------------------------------------------

@pytest_twisted.ensureDeferred
async def test_live_duration_ends_as_user_with_clean_file(server, manager, collector, segs,
                                                          tmp_path):
    live = LiveStream(server, segs["small"], seg_dur=0.5, window=6)
    manager.record_stream(rr(live.url, tmp_path, recorder_id="hls_live", buffering=2,
                             duration=3))
    stop = await wait_stopped(manager)
    assert stop[1]["reason"] == "user", stop
    assert collector.of("start")[0]["segment_index"] == 1
    assert_clean_ts(tmp_path / "stream_0.ts")
    times = live.playlist_requests
    gaps = [b - a for a, b in zip(times, times[1:])]
    assert gaps and min(gaps) >= 0.2, "reloads are paced (RFC 8216 6.3.4), not hammered"
    assert len(times) <= 3 / 0.25 + 2


@pytest_twisted.ensureDeferred
async def test_live_endlist_completes_after_remaining_segments(server, manager, segs, tmp_path):
    live = LiveStream(server, segs["small"], seg_dur=0.4, window=4, start_seq=0, end_at=9)
    manager.record_stream(rr(live.url, tmp_path, recorder_id="hls_live", buffering=2))
    stop = await wait_stopped(manager)
    assert stop[1]["reason"] == "complete", stop
    assert_clean_ts(tmp_path / "stream_0.ts")
    assert server.paths_requested(r"pool_1\.ts"), "the last segment (seq 9) is written"


@pytest_twisted.ensureDeferred
async def test_live_media_sequence_reset_keeps_recording(server, manager, collector, segs,
                                                         tmp_path):
    live = LiveStream(server, segs["small"], seg_dur=0.4, window=4, start_seq=0, reset_at=5)
    manager.record_stream(rr(live.url, tmp_path, recorder_id="hls_live", buffering=2,
                             duration=4.5))
    await wait_stopped(manager)
    written = collector.of("progress")[-1]["segment_index"]
    assert written >= 8, "segments after the reset are recorded (not skipped forever)"
    assert_clean_ts(tmp_path / "stream_0.ts")


@pytest_twisted.ensureDeferred
async def test_live_stall_ends_with_timeout(server, collector, segs, tmp_path):
    live = LiveStream(server, segs["small"], seg_dur=0.3, window=4, start_seq=0, stall_at=6)
    mgr = Manager(recorder_options={"stall_floor": 1.5})
    mgr.subscribe(collector)
    try:
        mgr.record_stream(rr(live.url, tmp_path, recorder_id="hls_live", buffering=2))
        stop = await wait_stopped(mgr, timeout=20)
    finally:
        mgr.close()
    assert (stop[1]["reason"], stop[1]["error_id"]) == ("error", "timeout")
    assert "not changed" in stop[1]["msg"] or "stopped changing" in stop[1]["msg"]
    assert_clean_ts(tmp_path / "stream_0.ts")


@pytest_twisted.ensureDeferred
async def test_stop_live_recording_releases_threads(server, manager, segs, tmp_path):
    live = LiveStream(server, segs["small"], seg_dur=0.5, window=6)
    server.add_fault(Fault(r"pool_\d\.ts", throttle_bps=200_000))
    manager.record_stream(rr(live.url, tmp_path, recorder_id="hls_live", buffering=2))
    await sleep(1.5)
    heartbeat = ReactorHeartbeat()
    manager.stop()
    stop = await wait_stopped(manager, timeout=5)
    assert stop[1]["reason"] == "user"
    assert await until(lambda: recorder_threads() == 0, timeout=5)
    assert await heartbeat.finish() < MAX_REACTOR_LAG_S, "stop() must not block the reactor"


@pytest_twisted.ensureDeferred
async def test_live_outage_resumes_and_reports_missed_segments(server, manager, collector, segs,
                                                               tmp_path):
    live = LiveStream(server, segs["small"], seg_dur=0.3, window=3, start_seq=0,
                      outage=(1.0, 3.0))
    manager.record_stream(rr(live.url, tmp_path, recorder_id="hls_live", buffering=2,
                             duration=5))
    await sleep(2.9)  # the playlist is down from 1.0 s to 3.0 s
    size_in_outage = (tmp_path / "stream_0.ts").stat().st_size
    stop = await wait_stopped(manager, timeout=20)
    assert stop[1]["reason"] == "user", stop
    assert stop[1]["skipped_segments"] >= 2, "segments lost in the outage are reported"
    assert (tmp_path / "stream_0.ts").stat().st_size > size_in_outage * 1.3, \
        "the recording went on after the server came back"
    assert_clean_ts(tmp_path / "stream_0.ts")
