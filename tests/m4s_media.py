"""fMP4 (CMAF) HLS media made by ffmpeg once per session, and ways to serve it from a DevServer."""

import re
import shutil
import subprocess
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

__all__ = ["m4s_media", "make_fmp4_hls", "publish_dir", "master_playlist", "read_durations",
           "M4sLive"]

FFMPEG = ["ffmpeg", "-v", "error", "-nostdin", "-y"]


def make_fmp4_hls(out_dir, seconds, seg_time=1.0, video="h264", audio=True, size="320x180",
                  fps=24):
    """An fMP4 HLS VOD in out_dir: index.m3u8, init.mp4, seg_NNN.m4s (one keyframe per segment)."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    cmd = list(FFMPEG)
    maps = []
    if video:
        cmd += ["-f", "lavfi", "-i", "testsrc2=size=%s:rate=%d:duration=%s" % (size, fps, seconds)]
        maps += ["-map", "0:v"]
    if audio:
        cmd += ["-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000:duration=%s" % seconds]
        maps += ["-map", "%d:a" % (1 if video else 0)]
    cmd += maps
    gop = str(max(1, int(round(fps * seg_time))))
    if video == "h264":
        cmd += ["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p"]
    elif video == "vp9":
        cmd += ["-c:v", "libvpx-vp9", "-deadline", "realtime", "-cpu-used", "8", "-b:v", "200k",
                "-pix_fmt", "yuv420p"]
    if video:
        cmd += ["-g", gop, "-keyint_min", gop, "-sc_threshold", "0"]
    if audio:
        cmd += ["-c:a", "aac", "-b:a", "64k"]
    cmd += ["-f", "hls", "-hls_segment_type", "fmp4", "-hls_time", str(seg_time),
            "-hls_list_size", "0", "-hls_playlist_type", "vod",
            "-hls_fmp4_init_filename", "init.mp4",
            "-hls_segment_filename", str(out_dir / "seg_%03d.m4s"), str(out_dir / "index.m3u8")]
    subprocess.run(cmd, check=True, timeout=120)
    return out_dir


def read_durations(playlist_path):
    """EXTINF durations of a generated media playlist."""
    text = Path(playlist_path).read_text()
    return [float(m) for m in re.findall(r"#EXTINF:([0-9.]+)", text)]


@pytest.fixture(scope="session")
def m4s_media(tmp_path_factory):
    """Folders of fMP4 HLS: muxed VOD, video-only + audio-only renditions, a live pool, VP9."""
    root = tmp_path_factory.mktemp("m4smedia")
    jobs = {
        "vod": lambda: make_fmp4_hls(root / "vod", 4),
        "video": lambda: make_fmp4_hls(root / "video", 4, audio=False),
        "audio": lambda: make_fmp4_hls(root / "audio", 4, video=None),
        "live": lambda: make_fmp4_hls(root / "live", 15, seg_time=0.5, size="192x108"),
        "vp9": lambda: make_fmp4_hls(root / "vp9", 2, video="vp9", audio=False, size="160x96"),
    }
    with ThreadPoolExecutor(len(jobs)) as pool:
        futures = {name: pool.submit(job) for name, job in jobs.items()}
        return {name: future.result() for name, future in futures.items()}


def publish_dir(server, media_dir, prefix):
    """Copy a generated folder under the server root at /<prefix>/; URL of its index.m3u8."""
    shutil.copytree(str(media_dir), str(Path(server.root) / prefix))
    return server.url("/%s/index.m3u8" % prefix)


def master_playlist(variants, audio=()):
    """Master text. variants: (uri, bandwidth, codecs, resolution or None, audio group or None);
    audio: (group, name, language, uri, default)."""
    lines = ["#EXTM3U", "#EXT-X-VERSION:7", "#EXT-X-INDEPENDENT-SEGMENTS"]
    for group, name, language, uri, default in audio:
        lines.append('#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="%s",NAME="%s",LANGUAGE="%s",'
                     'DEFAULT=%s,AUTOSELECT=YES,URI="%s"'
                     % (group, name, language, "YES" if default else "NO", uri))
    for uri, bandwidth, codecs, resolution, group in variants:
        attrs = ["BANDWIDTH=%d" % bandwidth, 'CODECS="%s"' % codecs]
        if resolution:
            attrs.append("RESOLUTION=%s" % resolution)
        if group:
            attrs.append('AUDIO="%s"' % group)
        lines += ["#EXT-X-STREAM-INF:" + ",".join(attrs), uri]
    return "\n".join(lines) + "\n"


class M4sLive:
    """A live fMP4 window advancing in real time over a pool of pre-made segments (no ENDLIST).

    Sequence n is pool segment n; the window shows `window` segments ending at the current edge.
    The playlist ends (ENDLIST) at `end_at`, else when the pool runs out; `freeze_at` stalls it.
    """

    def __init__(self, server, media_dir, prefix="live", window=6, end_at=None, freeze_at=None,
                 ads=()):
        self.server = server
        self.ads = set(ads)         # sequence numbers inside an EXT-X-CUE-OUT/IN break
        self.prefix = prefix
        self.window = window
        self.end_at = end_at        # sequence number at which EXT-X-ENDLIST appears
        self.freeze_at = freeze_at  # sequence number after which the playlist stops changing
        self.durations = read_durations(Path(media_dir) / "index.m3u8")
        self.seg_dur = sum(self.durations) / len(self.durations)
        dest = Path(server.root) / prefix
        dest.mkdir(parents=True)
        for path in Path(media_dir).iterdir():
            if path.suffix in (".m4s", ".mp4"):
                shutil.copy(str(path), str(dest / path.name))
        self.t0 = time.monotonic()
        self.lock = threading.Lock()
        self.requests = 0
        server.route("/%s/index.m3u8" % prefix, self._playlist)

    @property
    def url(self):
        return self.server.url("/%s/index.m3u8" % self.prefix)

    def edge(self):
        return self.window - 1 + int((time.monotonic() - self.t0) / self.seg_dur)

    def _playlist(self, request):
        with self.lock:
            self.requests += 1
        last = len(self.durations) - 1 if self.end_at is None else self.end_at
        edge = min(self.edge(), last)
        if self.freeze_at is not None:
            edge = min(edge, self.freeze_at)
        first = max(0, edge - self.window + 1)
        lines = ["#EXTM3U", "#EXT-X-VERSION:7", "#EXT-X-TARGETDURATION:1",
                 "#EXT-X-MEDIA-SEQUENCE:%d" % first, '#EXT-X-MAP:URI="init.mp4"']
        for seq in range(first, edge + 1):
            if seq in self.ads and seq - 1 not in self.ads:
                lines.append("#EXT-X-CUE-OUT:%.3f" % sum(
                    self.durations[n] for n in self.ads if n < len(self.durations)))
            elif seq not in self.ads and seq - 1 in self.ads:
                lines.append("#EXT-X-CUE-IN")
            lines += ["#EXTINF:%.3f," % self.durations[seq], "seg_%03d.m4s" % seq]
        if edge == last:
            lines.append("#EXT-X-ENDLIST")
        body = ("\n".join(lines) + "\n").encode()
        return 200, {"Content-Type": "application/vnd.apple.mpegurl"}, body
