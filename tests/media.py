"""Test media generated with ffmpeg at test time (session-scoped fixtures)."""

import json
import os
import random
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

import pytest

__all__ = [
    "make_ts_segments", "make_mp4", "ts_segment_jobs", "run_ffmpeg_jobs", "produced_segments",
    "has_encoder", "missing_tool", "ts_cc_errors", "ts_pids",
    "ts_to_m2ts", "ts_to_204", "ffprobe_packets", "stream_span", "largest_gap",
    "media_ts", "media_ts_restart", "media_ts_continuous", "media_ts_640", "media_ts_ad",
    "media_ts_audio", "media_ts_hevc", "media_ts_odd", "media_ts_1080", "media_ts_wrap",
]

FFMPEG = ["ffmpeg", "-v", "error", "-nostdin", "-y"]
# Where the 33-bit clock wraps, in seconds; ffmpeg's mpegts muxer adds 1.4 s of its own delay.
WRAP_SECONDS = (1 << 33) / 90000.0
MUXER_DELAY = 1.4


def missing_tool(reason: str) -> None:
    """A tool the test needs is missing: fail in CI (env CI set, e.g. CI=true), skip elsewhere."""
    if os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no"):
        pytest.fail("%s (a missing tool fails the test when CI is set)" % reason, pytrace=False)
    pytest.skip(reason)


def has_encoder(name: str) -> bool:
    """Is this ffmpeg encoder (e.g. libx265) compiled in?"""
    out = subprocess.run(["ffmpeg", "-hide_banner", "-encoders"], capture_output=True, text=True,
                         timeout=30).stdout
    return any(line.split()[1:2] == [name] for line in out.splitlines() if line.strip())


def ts_segment_jobs(out_dir, count: int, seconds_each: float, size: Tuple[int, int] = (320, 240),
                    audio: bool = True, video: bool = True, independent: bool = True,
                    ts_offset: Optional[float] = None, codec: str = "h264", fps: int = 25,
                    name: str = "seg", extra: Sequence[str] = (),
                    separate_runs: bool = False, bframes: int = 0) -> Tuple[List[List[str]], List[Path]]:
    """The ffmpeg command lines make_ts_segments would run, and the files they will write."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    total = count * seconds_each
    inputs: List[str] = []
    maps: List[str] = []
    if video:
        inputs += ["-f", "lavfi", "-i", "testsrc2=size=%dx%d:rate=%d:duration=%s"
                   % (size[0], size[1], fps, total)]
        maps += ["-map", "%d:v" % 0]
    if audio:
        # Audio alone is cut at any AAC frame: end a little early so no last, one-frame file appears.
        inputs += ["-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000:duration=%s"
                   % (total if video else total - 0.05)]
        maps += ["-map", "%d:a" % (1 if video else 0)]
    enc: List[str] = []
    if video:
        if codec == "hevc":
            enc += ["-c:v", "libx265", "-preset", "ultrafast", "-x265-params", "log-level=error",
                    "-tag:v", "hvc1"]
        else:
            enc += ["-c:v", "libx264", "-preset", "ultrafast", "-bf", str(bframes)]
        enc += ["-g", str(fps), "-keyint_min", str(fps), "-sc_threshold", "0", "-pix_fmt", "yuv420p"]
    if audio:
        enc += ["-c:a", "aac", "-b:a", "64k"]
    enc += list(extra)
    if not independent:
        playlist = out_dir / ("%s.m3u8" % name)
        cmd = FFMPEG + inputs + maps + enc + [
            "-f", "hls", "-hls_time", str(seconds_each), "-hls_list_size", "0",
            "-hls_segment_filename", str(out_dir / ("%s_%%03d.ts" % name))]
        if ts_offset is not None:
            cmd += ["-output_ts_offset", str(ts_offset)]
        return [cmd + [str(playlist)]], [out_dir / ("%s_%03d.ts" % (name, i)) for i in range(count)]
    paths = [out_dir / ("%s_%03d.ts" % (name, i)) for i in range(count)]
    if separate_runs:
        cmds = []
        for i, path in enumerate(paths):
            cmd = FFMPEG + inputs + maps + ["-ss", str(i * seconds_each), "-t", str(seconds_each)] + enc
            if ts_offset is not None:
                cmd += ["-output_ts_offset", str(ts_offset + i * seconds_each)]
            cmds.append(cmd + ["-f", "mpegts", str(path)])
        return cmds, paths
    # The segment muxer opens a new mpegts muxer per file: CCs restart, PAT/PMT lead each file.
    cmd = FFMPEG + inputs + maps + enc
    if ts_offset is None:
        cmd += ["-reset_timestamps", "1"]
    else:
        cmd += ["-output_ts_offset", str(ts_offset)]
    cmd += ["-f", "segment", "-segment_time", str(seconds_each), "-segment_format", "mpegts",
            str(out_dir / ("%s_%%03d.ts" % name))]
    return [cmd], paths


def run_ffmpeg_jobs(cmds: Sequence[Sequence[str]], workers: Optional[int] = None) -> None:
    """Run ffmpeg command lines concurrently (one per CPU); raise if any fails."""
    def run(cmd):
        proc = subprocess.run(list(cmd), capture_output=True, text=True, timeout=300)
        if proc.returncode:
            raise RuntimeError("ffmpeg failed: %s\n%s" % (" ".join(cmd), proc.stderr))

    with ThreadPoolExecutor(max_workers=workers or os.cpu_count() or 2) as pool:
        list(pool.map(run, cmds))


def make_ts_segments(out_dir, count: int, seconds_each: float, size: Tuple[int, int] = (320, 240),
                     audio: bool = True, video: bool = True, independent: bool = True,
                     ts_offset: Optional[float] = None, **kwargs) -> List[Path]:
    """Write about `count` MPEG-TS segments of `seconds_each` seconds into out_dir; return their paths.

    H.264 (one keyframe per second) + AAC test pattern and tone at 25 fps; segments
    are cut at keyframes, so seconds_each should be a whole number of seconds (or the total).
    independent=True: every file is muxed on its own (ffmpeg's segment muxer, one encode), so
    each restarts its continuity counters and is a complete TS (SDT, PAT, PMT first).
    Timestamps restart near ffmpeg's 1.4 s in every file when ts_offset is None; with ts_offset
    they continue across files from ts_offset + 1.4 s, as in a live stream.
    independent=False: one `ffmpeg -f hls` run (continuous timestamps and CCs), plus NAME.m3u8.
    Extra keyword arguments: codec ("h264" | "hevc"), fps, name (file prefix, default "seg"),
    bframes (H.264 B-frames, default 0 so PTS rise in file order; 2 makes DTS != PTS),
    extra (additional ffmpeg output options, e.g. ["-mpegts_start_pid", "0x200"]),
    separate_runs=True (one ffmpeg run per file, as separate encoders would make them; audio
    then overlaps a few ms at the joins, and ts_offset + i * seconds_each offsets file i).
    """
    cmds, paths = ts_segment_jobs(out_dir, count, seconds_each, size, audio, video, independent,
                                  ts_offset, **kwargs)
    run_ffmpeg_jobs(cmds)
    return produced_segments(paths)


def produced_segments(expected: Sequence[Path]) -> List[Path]:
    """The segment files ffmpeg really wrote for a planned list (audio-only cuts may add one)."""
    first = Path(expected[0])
    name = first.name.rsplit("_", 1)[0]
    return sorted(first.parent.glob("%s_[0-9][0-9][0-9].ts" % name))


def make_mp4(path, seconds: float, faststart: bool = True, size: Tuple[int, int] = (320, 240)) -> Path:
    """An H.264/AAC MP4; faststart puts moov before mdat, otherwise moov is at the end."""
    path = Path(path)
    cmd = FFMPEG + [
        "-f", "lavfi", "-i", "testsrc2=size=%dx%d:rate=25:duration=%s" % (size[0], size[1], seconds),
        "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000:duration=%s" % seconds,
        "-c:v", "libx264", "-preset", "ultrafast", "-g", "25", "-pix_fmt", "yuv420p",
        "-c:a", "aac", "-b:a", "64k"]
    if faststart:
        cmd += ["-movflags", "+faststart"]
    run_ffmpeg_jobs([cmd + [str(path)]])
    return path


# -- checking TS output --------------------------------------------------------------------------

def ts_cc_errors(data: bytes) -> List[str]:
    """Continuity-counter violations of 188-byte packets, by the rules in docs/mpegts.md."""
    errors = []
    last: Dict[int, Tuple[int, bool]] = {}  # pid -> (cc, a duplicate was just seen)
    for off in range(0, len(data) - 187, 188):
        pid = ((data[off + 1] & 0x1F) << 8) | data[off + 2]
        if pid == 0x1FFF:
            continue
        cc, payload = data[off + 3] & 0x0F, bool(data[off + 3] & 0x10)
        discontinuity = data[off + 3] & 0x20 and data[off + 4] and data[off + 5] & 0x80
        if pid in last and not discontinuity:
            prev, dup = last[pid]
            if payload and cc == prev and not dup:
                last[pid] = (cc, True)  # one duplicate packet is allowed
                continue
            want = (prev + 1) & 0x0F if payload else prev
            if cc != want:
                errors.append("packet %d pid 0x%x: cc %d after %d" % (off // 188, pid, cc, prev))
        last[pid] = (cc, False)
    return errors


def ts_to_m2ts(data: bytes) -> bytes:
    """188-byte packets as 192-byte M2TS: a 4-byte timecode before each (0x47 in it on purpose)."""
    return b"".join((0x47474700 + i).to_bytes(4, "big") + data[off:off + 188]
                    for i, off in enumerate(range(0, len(data) - 187, 188)))


def ts_to_204(data: bytes) -> bytes:
    """188-byte packets as 204-byte packets: a 16-byte trailer after each (like RS parity)."""
    rnd = random.Random(204)
    return b"".join(data[off:off + 188] + bytes(rnd.randrange(256) for _ in range(16))
                    for off in range(0, len(data) - 187, 188))


def ts_pids(data: bytes) -> List[int]:
    """PIDs of 188-byte packets in order of first appearance."""
    return list(dict.fromkeys(((data[off + 1] & 0x1F) << 8) | data[off + 2]
                              for off in range(0, len(data) - 187, 188)))


def ffprobe_packets(path) -> Dict[str, List[Tuple[Optional[float], Optional[float], float]]]:
    """{'video'|'audio': [(pts, dts, duration) seconds]} of the first stream of each type."""
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-show_entries",
         "stream=index,codec_type:packet=stream_index,pts_time,dts_time,duration_time",
         "-of", "json", str(path)], capture_output=True, text=True, timeout=60, check=True).stdout
    info = json.loads(out)
    index_type: Dict[int, str] = {}
    for stream in info.get("streams", []):
        index_type.setdefault(stream["index"], stream.get("codec_type", "?"))
    first_of_type = {}
    for index, kind in sorted(index_type.items()):
        first_of_type.setdefault(kind, index)
    result: Dict[str, List[Tuple[Optional[float], Optional[float], float]]] = {
        kind: [] for kind in first_of_type}

    def num(value):
        return None if value in (None, "N/A") else float(value)

    for packet in info.get("packets", []):
        kind = index_type.get(packet["stream_index"])
        if kind is not None and first_of_type[kind] == packet["stream_index"]:
            result[kind].append((num(packet.get("pts_time")), num(packet.get("dts_time")),
                                 num(packet.get("duration_time")) or 0.0))
    return result


def stream_span(packets: Sequence[Tuple[Optional[float], Optional[float], float]]) -> Tuple[float, float]:
    """(first PTS, last PTS + duration) of one stream's packets."""
    times = [(pts, dur) for pts, _, dur in packets if pts is not None]
    return min(t for t, _ in times), max(t + d for t, d in times)


def largest_gap(packets: Sequence[Tuple[Optional[float], Optional[float], float]]) -> float:
    """Largest hole in presentation time between consecutive packets (by PTS order)."""
    times = sorted((pts, dur) for pts, _, dur in packets if pts is not None)
    return max([b[0] - (a[0] + a[1]) for a, b in zip(times, times[1:])] or [0.0])


# -- session fixtures: everything generated in one concurrent batch (~3 s on 2 cores) -----------

def _media_plan(root: Path, hevc: bool) -> Dict[str, dict]:
    plan = {
        "restart": dict(count=6, seconds_each=1),
        "continuous": dict(count=4, seconds_each=1, ts_offset=10),
        "640": dict(count=2, seconds_each=1, size=(640, 360), extra=["-x264-params", "8x8dct=1:cqm=jvt"]),
        # An ad from another encoder: other PIDs, timestamps far away from the main stream.
        "ad": dict(count=1, seconds_each=1, ts_offset=5000, separate_runs=True,
                   extra=["-mpegts_start_pid", "0x200", "-mpegts_pmt_start_pid", "0x1100",
                          "-mpegts_service_id", "7"]),
        "audio": dict(count=3, seconds_each=1, video=False),
        "odd": dict(count=1, seconds_each=0.4, size=(426, 240)),
        # Interlaced (field MBs): cropping units double vertically.
        "1080": dict(count=1, seconds_each=0.2, size=(1920, 1080), audio=False,
                     extra=["-flags", "+ildct+ilme", "-top", "1"]),
        # The 33-bit clock wraps about half a second into the first segment.
        "wrap": dict(count=2, seconds_each=1, ts_offset=WRAP_SECONDS - MUXER_DELAY - 0.5),
    }
    if hevc:
        plan["hevc"] = dict(count=2, seconds_each=1, codec="hevc", size=(426, 240))
    for key, kwargs in plan.items():
        kwargs["out_dir"] = root / key
        if kwargs.get("codec", "h264") == "h264":
            kwargs["bframes"] = 2  # DTS != PTS, frames reordered: what real streams carry
    return plan


@pytest.fixture(scope="session")
def media_ts(tmp_path_factory) -> Dict[str, List[Path]]:
    """All generated TS segment sets by name (media_ts_* fixtures); H.264 ones have B-frames."""
    root = tmp_path_factory.mktemp("ts_media")
    plan = _media_plan(root, has_encoder("libx265"))
    cmds: List[List[str]] = []
    result: Dict[str, List[Path]] = {}
    for key, kwargs in plan.items():
        jobs, paths = ts_segment_jobs(**kwargs)
        cmds += jobs
        result[key] = paths
    # Long jobs first so the two cores stay busy until the end.
    cmds.sort(key=lambda c: "1920x1080" not in " ".join(c) and "libx265" not in c)
    run_ffmpeg_jobs(cmds)
    return {key: produced_segments(paths) for key, paths in result.items()}


@pytest.fixture(scope="session")
def media_ts_restart(media_ts) -> List[Path]:
    """6 x 1 s H.264/AAC 320x240, separate ffmpeg runs: CC and timestamps restart in each file."""
    return media_ts["restart"]


@pytest.fixture(scope="session")
def media_ts_continuous(media_ts) -> List[Path]:
    """4 x 1 s, separate runs (CC restarts) whose timestamps continue (-output_ts_offset 10 + i)."""
    return media_ts["continuous"]


@pytest.fixture(scope="session")
def media_ts_640(media_ts) -> List[Path]:
    """2 x 1 s H.264 High profile with JVT scaling matrices in the SPS, AAC, 640x360."""
    return media_ts["640"]


@pytest.fixture(scope="session")
def media_ts_ad(media_ts) -> List[Path]:
    """1 x 1 s with other PIDs (video 0x200, PMT 0x1100, service 7) and timestamps near 5000 s."""
    return media_ts["ad"]


@pytest.fixture(scope="session")
def media_ts_audio(media_ts) -> List[Path]:
    """3 x 1 s AAC only (no video PID)."""
    return media_ts["audio"]


@pytest.fixture(scope="session")
def media_ts_hevc(media_ts) -> List[Path]:
    """2 x 1 s HEVC/AAC 426x240 (conformance window). Without libx265 in ffmpeg: skips the test,
    or fails it when the environment variable CI is set."""
    if "hevc" not in media_ts:
        missing_tool("ffmpeg has no libx265 encoder: install an ffmpeg built with --enable-libx265")
    return media_ts["hevc"]


@pytest.fixture(scope="session")
def media_ts_odd(media_ts) -> List[Path]:
    """One 0.4 s segment at 426x240 (SPS cropping from 432 wide)."""
    return media_ts["odd"]


@pytest.fixture(scope="session")
def media_ts_1080(media_ts) -> List[Path]:
    """One 0.2 s video-only interlaced segment at 1920x1080 (SPS cropping from 1088 high)."""
    return media_ts["1080"]


@pytest.fixture(scope="session")
def media_ts_wrap(media_ts) -> List[Path]:
    """2 x 1 s whose 33-bit timestamps wrap to 0 about 0.5 s into the first file."""
    return media_ts["wrap"]

