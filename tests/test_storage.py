"""Recordings on the receiver: free-space reserve, FAT file size limit, .ap index, .meta."""

import json
import os
import subprocess

import pytest
import pytest_twisted

from helpers import (child_processes, ffmpeg_errors, ffprobe_duration, one_stop, rr,
                     wait_stopped)
from hls_server import publish_vod
from m4s_media import make_fmp4_hls, publish_dir
from media import make_ts_segments
from streamrecorder import volume as vol
from streamrecorder.errors import DiskFullError
from streamrecorder.manager import Manager
from streamrecorder.meta import title_for
from streamrecorder.ts.apindex import first_access_point, read_ap
from streamrecorder.ts.packets import packet_pid
from streamrecorder.ts.probe import parse_psi
from streamrecorder.ts.timestamps import read_ts

MB = 1_000_000


@pytest.fixture(scope="session")
def segs(tmp_path_factory):
    root = tmp_path_factory.mktemp("storagemedia")
    return {
        "small": make_ts_segments(root / "small", 8, 1.0, size=(320, 240)),
        "large": make_ts_segments(root / "large", 3, 1.0, size=(640, 360)),
    }


@pytest.fixture(scope="session")
def fmp4(tmp_path_factory):
    return make_fmp4_hls(tmp_path_factory.mktemp("storagefmp4") / "vod", 4)


def sections_of(folder):
    return sorted(folder.glob("stream_*.ts"), key=lambda p: int(p.stem.split("_")[1]))


class FakeDisk:
    """statvfs of a disk with `capacity` bytes, of which rec_dir's files use some."""

    def __init__(self, rec_dir, capacity):
        self.rec_dir = str(rec_dir)
        self.capacity = capacity
        self.calls = 0

    def used(self):
        return sum(os.path.getsize(os.path.join(self.rec_dir, n)) for n in os.listdir(self.rec_dir))

    def __call__(self, path):
        self.calls += 1
        free = max(0, self.capacity - self.used())
        return os.statvfs_result((4096, 1, 0, 0, free, 0, 0, 0, 0, 255))


def mounts_file(tmp_path, fs_type, mount_point):
    path = tmp_path.parent / ("mounts-%s" % tmp_path.name)
    escaped = str(mount_point).replace(" ", "\\040")
    path.write_text("rootfs / rootfs rw 0 0\n/dev/vda / ext4 rw 0 0\n"
                    "/dev/sda1 %s %s rw,relatime 0 0\n" % (escaped, fs_type))
    return str(path)


def manager_with(collector, **volume_kwargs):
    reserve = volume_kwargs.pop("reserve", 50 * MB)
    limit = volume_kwargs.pop("limit", None)

    def factory(path, reserve_bytes):
        volume = vol.Volume(path, reserve_bytes, **volume_kwargs)
        if limit is not None:
            assert volume.max_file_bytes == vol.FAT_LIMIT  # detected from the mount type
            volume.max_file_bytes = limit
        return volume
    mgr = Manager(recorder_options={"reserve_bytes": reserve, "volume_factory": factory})
    mgr.subscribe(collector)
    return mgr


def ffprobe_video_packets(path):
    out = subprocess.run(["ffprobe", "-v", "error", "-select_streams", "v", "-show_entries",
                          "packet=pts,pos,flags", "-of", "json", str(path)],
                         capture_output=True, text=True, check=True, timeout=60).stdout
    return {int(p["pos"]): (int(p["pts"]), p["flags"]) for p in json.loads(out)["packets"]}


def probed_keyframes(path):
    """Byte offsets of the video keyframe packets ffprobe finds in path (independent of our index)."""
    return sorted(pos for pos, (_pts, flags) in ffprobe_video_packets(path).items() if "K" in flags)


def check_ap(ts_path, expected_entries):
    """Each .ap entry points at a keyframe PES start of the video PID with that PES's PTS."""
    data = open(ts_path, "rb").read()
    entries = read_ap(str(ts_path) + ".ap")
    assert len(entries) == expected_entries, (len(entries), expected_entries)
    info = parse_psi(bytearray(data[:188 * 64]))
    probed = ffprobe_video_packets(ts_path)
    offsets = [off for off, _ in entries]
    assert offsets == sorted(set(offsets)), "entries go forward"
    for off, pts in entries:
        assert off % 188 == 0 and off < len(data)
        packet = data[off:off + 188]
        assert packet[0] == 0x47 and packet[1] & 0x40, "a PES start"
        assert ((packet[1] & 0x1F) << 8 | packet[2]) == info.video_pid
        assert first_access_point(data[off:off + 188 * 64], info.video_pid, "h264") == (0, pts)
        start = 4 + (packet[4] + 1 if packet[3] & 0x20 else 0)
        assert read_ts(bytearray(packet), start + 9) == pts
        assert off in probed, "ffprobe sees a video packet starting there"
        assert probed[off][0] == pts and "K" in probed[off][1]
    return entries


# --- units -----------------------------------------------------------------------------------

def test_fs_type_longest_prefix_and_escapes(tmp_path):
    mounts = tmp_path / "mounts"
    stick = tmp_path / "my stick"
    (stick / "rec").mkdir(parents=True)
    (tmp_path / "my stick2").mkdir()
    mounts.write_text("/dev/vda / ext4 rw 0 0\n/dev/vdb %s xfs rw 0 0\n"
                      "/dev/sda1 %s vfat rw 0 0\n/dev/sdb1 %s exfat rw 0 0\n"
                      % (tmp_path, str(stick).replace(" ", "\\040"),
                         str(tmp_path / "my stick2").replace(" ", "\\040")))
    fat = vol.Volume(str(stick / "rec"), 0, mounts_file=str(mounts))
    assert (fat.fs_type, fat.max_file_bytes) == ("vfat", (4 << 30) - 1)
    exfat = vol.Volume(str(tmp_path / "my stick2"), 0, mounts_file=str(mounts))
    assert exfat.fs_type == "exfat" and exfat.max_file_bytes == vol.FAT_LIMIT
    other = vol.Volume(str(tmp_path), 0, mounts_file=str(mounts))
    assert (other.fs_type, other.max_file_bytes) == ("xfs", None)
    pairs = [("/", "ext4"), ("/media/hdd", "ext4"), ("/media/hdd2", "vfat")]
    assert vol.fs_type_of("/media/hdd/movie", pairs) == "ext4"
    assert vol.fs_type_of("/media/hdd2/movie", pairs) == "vfat"
    assert vol.fs_type_of("/media/hdd", pairs) == "ext4"
    assert vol._unescape("a\\040b\\011c\\134d\\04") == "a b\tc\\d\\04"
    assert vol.Volume(str(tmp_path), 0, mounts_file=str(tmp_path / "none")).max_file_bytes is None
    assert {"vfat", "msdos", "fat", "umsdos", "exfat"} == set(vol.SMALL_FILE_FS)


def test_reserve_message_and_throttle(tmp_path):
    clock = [0.0]
    disk = FakeDisk(tmp_path, 10_000 * MB)
    volume = vol.Volume(str(tmp_path), 500 * MB, statvfs=disk, clock=lambda: clock[0])
    for _ in range(40):  # 40 MiB in 1 MiB writes: statvfs about every 4 MiB, not per write
        volume.check(1 << 20)
        volume.wrote(1 << 20)
    assert 8 <= disk.calls <= 14
    calls = disk.calls
    clock[0] += 3.0
    volume.check(1)
    assert disk.calls == calls + 1, "and after 2 s"
    disk.capacity = 520 * MB  # someone else filled the disk: seen at the next 2 s check...
    clock[0] += 3.0
    volume.check(1)
    calls = disk.calls
    volume.check(1)  # ...and close to the reserve every check asks
    volume.check(1)
    assert disk.calls == calls + 2
    disk.capacity = 480 * MB
    with pytest.raises(DiskFullError) as info:
        volume.check(1)
    assert str(info.value) == "only 480 MB free on %s, keeping 500 MB free" % tmp_path
    assert info.value.error_id == "disk_full"
    vol.Volume(str(tmp_path), 0, statvfs=disk).check(10 ** 12)  # 0 = off


def test_title_fallback():
    assert title_for("My show", "http://x/a.m3u8") == "My show"
    assert title_for(None, "http://x/path/Show%20One.m3u8?t=1") == "Show One"
    assert title_for("", "") == "StreamRecorder"


# --- free-space reserve ------------------------------------------------------------------------

@pytest_twisted.ensureDeferred
async def test_hls_reserve_reached_stops_with_whole_segments(server, collector, segs, tmp_path):
    sizes = [p.stat().st_size for p in segs["small"]]
    disk = FakeDisk(tmp_path, 50 * MB + sum(sizes[:3]) + sizes[3] // 2)
    mgr = manager_with(collector, statvfs=disk)
    try:
        url = publish_vod(server, "full", segs["small"])
        mgr.record_stream(rr(url, tmp_path, buffering=2, title="Full"))
        await wait_stopped(mgr)
    finally:
        mgr.close()
    stop = one_stop(collector)
    assert (stop["reason"], stop["error_id"]) == ("error", "disk_full")
    assert "free on %s, keeping 50 MB free" % tmp_path in stop["msg"]
    out = tmp_path / "stream_0.ts"
    assert ffmpeg_errors(out) == ""
    assert ffprobe_duration(out) == pytest.approx(3.0, abs=0.3), "the segments that fit, whole"
    assert out.stat().st_size % 188 == 0
    assert len(read_ap(str(out) + ".ap")) == 3


@pytest_twisted.ensureDeferred
@pytest.mark.parametrize("kind", ["hls", "mp4"])
async def test_reserve_before_start_keeps_previous_recording(server, collector, segs, mp4_media,
                                                             tmp_path, kind):
    old = {"stream_0.ts": b"G" * 188 * 10, "stream_0.ts.ap": b"\0" * 16,
           "stream_0.ts.meta": b"old meta"}
    for name, data in old.items():
        (tmp_path / name).write_bytes(data)
    mgr = manager_with(collector, statvfs=FakeDisk(tmp_path, 49 * MB))
    try:
        if kind == "hls":
            url = publish_vod(server, "refuse", segs["small"])
            mgr.record_stream(rr(url, tmp_path))
        else:
            server.put("/v.mp4", mp4_media["faststart"].read_bytes())
            mgr.record_stream(rr(server.url("/v.mp4"), tmp_path, "mp4"))
        await wait_stopped(mgr)
    finally:
        mgr.close()
    stop = one_stop(collector)
    assert (stop["reason"], stop["error_id"]) == ("error", "disk_full")
    assert stop["msg"].startswith("only 49 MB free on ")
    assert collector.of("start") == []
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == old


@pytest_twisted.ensureDeferred
async def test_mp4_reserve_reached_while_downloading(server, collector, mp4_media, tmp_path):
    disk = FakeDisk(tmp_path, 50 * MB + int(2.5 * (1 << 20)))
    mgr = manager_with(collector, statvfs=disk)
    try:
        server.put("/v.mp4", mp4_media["faststart"].read_bytes())
        mgr.record_stream(rr(server.url("/v.mp4"), tmp_path, "mp4"))
        await wait_stopped(mgr)
    finally:
        mgr.close()
    stop = one_stop(collector)
    assert (stop["reason"], stop["error_id"]) == ("error", "disk_full")
    size = (tmp_path / "stream_0.mp4").stat().st_size
    assert 0 < size <= int(2.5 * (1 << 20))
    assert (tmp_path / "stream_0.mp4.meta").exists()


# --- FAT file size limit -----------------------------------------------------------------------

@pytest_twisted.ensureDeferred
async def test_hls_on_vfat_splits_sections_below_the_limit(server, collector, segs, tmp_path):
    sizes = [p.stat().st_size for p in segs["small"]]
    limit = int(2.5 * max(sizes))
    mgr = manager_with(collector, mounts_file=mounts_file(tmp_path, "vfat", tmp_path),
                       limit=limit, reserve=0)
    try:
        url = publish_vod(server, "fat", segs["small"])
        mgr.record_stream(rr(url, tmp_path, buffering=2))
        stop = await wait_stopped(mgr)
    finally:
        mgr.close()
    assert stop[1]["reason"] == "complete", stop
    sections = sorted(tmp_path.glob("stream_*.ts"), key=lambda p: int(p.stem.split("_")[1]))
    assert len(sections) >= 3
    total = 0.0
    indexed = 0
    for path in sections:
        assert 0 < path.stat().st_size <= limit
        assert ffmpeg_errors(path) == ""
        total += ffprobe_duration(path)
        keyframes = probed_keyframes(path)
        entries = check_ap(path, len(keyframes))
        assert [off for off, _pts in entries] == keyframes, "every keyframe indexed, nothing else"
        assert entries and entries[0][0] < 188 * 8, "each section indexed from its start"
        assert (path.parent / (path.name + ".meta")).exists()
        indexed += len(entries)
    assert total == pytest.approx(8.0, abs=0.5)
    assert indexed == len(segs["small"]), "one keyframe per published 1 s segment (GOP = 1 s)"
    starts = collector.of("start")
    assert [s["rec_file"] for s in starts] == [str(p) for p in sections]
    assert [s["section_index"] for s in starts] == list(range(len(sections)))


@pytest_twisted.ensureDeferred
async def test_mp4_too_large_for_vfat_fails_before_writing(server, collector, mp4_media, tmp_path):
    (tmp_path / "stream_0.mp4").write_bytes(b"previous")
    mgr = manager_with(collector, mounts_file=mounts_file(tmp_path, "exfat", tmp_path),
                       limit=1 * MB)
    try:
        server.put("/v.mp4", mp4_media["faststart"].read_bytes())
        mgr.record_stream(rr(server.url("/v.mp4"), tmp_path, "mp4"))
        await wait_stopped(mgr)
    finally:
        mgr.close()
    stop = one_stop(collector)
    assert (stop["reason"], stop["error_id"]) == ("error", "file_too_large")
    assert "exfat" in stop["msg"] and "larger than a file" in stop["msg"]
    assert [p.name for p in tmp_path.iterdir()] == ["stream_0.mp4"]
    assert (tmp_path / "stream_0.mp4").read_bytes() == b"previous"


# --- .ap and .meta -----------------------------------------------------------------------------

@pytest_twisted.ensureDeferred
async def test_ap_index_and_meta_per_section(server, manager, collector, segs, tmp_path):
    metas = []

    def on_message(message):
        if message[0] == "start":  # the .meta is there from the first start message
            path = message[1]["rec_file"] + ".meta"
            metas.append(open(path, encoding="utf-8").read() if os.path.exists(path) else None)
    manager.subscribe(on_message)
    url = publish_vod(server, "ap", segs["small"][:4] + segs["large"])
    manager.record_stream(rr(url, tmp_path, buffering=2, title="Seek me"))
    stop = await wait_stopped(manager)
    assert stop[1]["reason"] == "complete"
    first, second = tmp_path / "stream_0.ts", tmp_path / "stream_1.ts"
    check_ap(first, 4)
    entries = check_ap(second, 3)
    probed = ffprobe_video_packets(second)
    assert entries[0][0] == min(pos for pos, (_, flags) in probed.items() if "K" in flags)
    assert metas[0].split("\n")[:2] == ["1:0:0:0:0:0:0:0:0:0:", "Seek me"]
    assert metas[1].split("\n")[1] == "Seek me (2)"


# --- the ffmpeg path (hls_m4s): ffmpeg's output pipe copied into section files ------------------

@pytest_twisted.ensureDeferred
async def test_ffmpeg_output_split_on_vfat_with_ap(server, collector, fmp4, tmp_path):
    limit = 120_000
    mgr = manager_with(collector, mounts_file=mounts_file(tmp_path, "vfat", tmp_path),
                       limit=limit, reserve=0)
    try:
        url = publish_dir(server, fmp4, "m4s")
        mgr.record_stream(rr(url, tmp_path, "hls_m4s", buffering=1, title="Piped"))
        stop = await wait_stopped(mgr)
    finally:
        mgr.close()
    assert stop[1]["reason"] == "complete", stop
    sections = sections_of(tmp_path)
    assert len(sections) >= 2, [p.stat().st_size for p in sections]
    frames = 0
    indexed = 0
    for path in sections:
        assert 0 < path.stat().st_size <= limit
        assert ffmpeg_errors(path) == ""
        frames += len(ffprobe_video_packets(path))
        keyframes = probed_keyframes(path)
        entries = check_ap(path, len(keyframes))
        assert [off for off, _pts in entries] == keyframes, "every keyframe indexed, nothing else"
        indexed += len(entries)
        assert entries and entries[0][0] < 188 * 8, "each file starts at PAT/PMT + keyframe"
        head = path.read_bytes()[:2 * 188]
        assert (head[1] & 0x1F, head[2]) == (0, 0), "the first packet is the PAT (not ffmpeg's SDT)"
        assert packet_pid(head, 1) == parse_psi(bytearray(path.read_bytes())).pmt_pid
        assert "Piped" in (path.parent / (path.name + ".meta")).read_text()
    assert frames == 4 * 24, "every video frame of the source, once"
    playlist = (fmp4 / "index.m3u8").read_text().splitlines()
    source_segments = [line for line in playlist if line.strip() and not line.startswith("#")]
    assert indexed == len(source_segments) == 4, "one keyframe per source segment, each indexed"
    starts = collector.of("start")
    assert sorted((s["section_index"], s["rec_file"]) for s in starts) == [
        (i, str(p)) for i, p in enumerate(sections)]
    assert child_processes() == []


@pytest_twisted.ensureDeferred
async def test_ffmpeg_output_reserve_reached(server, collector, fmp4, tmp_path):
    disk = FakeDisk(tmp_path, 50 * MB + 150_000)
    mgr = manager_with(collector, statvfs=disk)
    try:
        url = publish_dir(server, fmp4, "m4sfull")
        mgr.record_stream(rr(url, tmp_path, "hls_m4s", buffering=1))
        await wait_stopped(mgr)
    finally:
        mgr.close()
    stop = one_stop(collector)
    assert (stop["reason"], stop["error_id"]) == ("error", "disk_full")
    out = tmp_path / "stream_0.ts"
    assert 0 < out.stat().st_size <= 150_000 and out.stat().st_size % 188 == 0
    assert ffprobe_duration(out) > 0.5
    assert child_processes() == [], "ffmpeg stopped and reaped"


@pytest.mark.parametrize("cut_at", [0.35, 0.6, 0.85])
def test_stream_sections_end_on_a_whole_picture_when_the_disk_fills(tmp_path, media_ts, cut_at):
    """The ffmpeg path writes whole packets as they come, so a full disk can stop it inside a
    picture; the file is cut back to the last video PES start and decodes without an error."""
    from streamrecorder.hls.sections import StreamSections
    data = b"".join(p.read_bytes() for p in media_ts["restart"][:3])
    limit = int(len(data) * cut_at)

    class FillingVolume(vol.Volume):
        def check(self, upcoming_bytes=0, reclaimable=0):
            if sections.bytes_written + upcoming_bytes > limit:
                raise DiskFullError("only a little free (test)")

    rec = tmp_path / "rec"
    rec.mkdir()
    sections = StreamSections(str(rec), FillingVolume(str(rec), reserve_bytes=1))
    with pytest.raises(DiskFullError):
        for start in range(0, len(data), 188 * 7 + 61):  # pieces as a pipe delivers them
            sections.feed(data[start:start + 188 * 7 + 61])
    sections.close()
    out = rec / "stream_0.ts"
    size = out.stat().st_size
    assert 0 < size <= limit and size % 188 == 0
    assert ffmpeg_errors(out) == ""
    info = parse_psi(bytearray(data))
    last = out.read_bytes()[-188:]
    assert packet_pid(last, 0) != info.video_pid or not last[1] & 0x40  # no picture begun at the end
    assert all(offset < size for offset, _pts in read_ap(str(out) + ".ap"))
