"""`hls_m4s`: HLS with fMP4/CMAF segments (EXT-X-MAP), remuxed by ffmpeg into a growing TS.

The recorder checks the stream itself first (playlists through the session, variant choice, DRM,
the init section and its codecs) so a dead, forbidden or protected URL gets the right error_id and
never wipes the last recording; then ffmpeg copies the chosen media playlist(s) into
stream_0.ts (`-c copy`, no transcoding unless the user allowed it and nothing else fits).
"""

import logging
import math
import os
import select
import struct
import time
from bisect import bisect_right
from dataclasses import dataclass, field
from typing import Any, Dict, Iterator, List, Optional, Sequence, Set, Tuple

import requests

from .. import ffmpeg, files
from ..errors import (DrmProtectedError, InvalidStreamError, RecorderError, StreamTimeoutError,
                      UnsupportedCodecError)
from ..hls import playlist as hls_playlist
from ..hls import variants
from ..hls.playlist import Segment
from ..hls.sections import StreamSections
from ..http import RetryPolicy, redact
from ..messages import ProgressThrottle, SpeedMeter, progress_message
from ..mp4box import FIRST_BOXES
from .base import BaseRecorder

log = logging.getLogger(__name__)

PLAYLIST_LIMIT = hls_playlist.MAX_PLAYLIST_BYTES
INIT_LIMIT = 16 << 20
SEGMENT_PROBE_LIMIT = 64 << 20
MAX_MASTER_DEPTH = 3
OUTPUT_NAME = "stream_0.ts"
PIPE_CHUNK = 1 << 20

AUDIO_FAMILIES = frozenset(("aac", "mp3", "mp2", "usac", "ac3", "eac3", "ac4", "opus", "flac",
                            "alac", "mpegh", "dts"))
TEXT_FAMILIES = frozenset(("webvtt", "ttml", "cea608", "cea708"))
# What ffmpeg can decode when transcoding is allowed (a variant in none of these is hopeless).
TRANSCODABLE = ("h264", "hevc", "vp8", "vp9", "av1", "mpeg4", "aac", "mp3", "mp2", "ac3", "eac3",
                "opus", "flac", "alac", "dts", "usac")
# Session headers ffmpeg sets itself or that would break it (it cannot decode brotli).
_SKIP_HEADERS = frozenset(("user-agent", "accept-encoding", "connection", "host", "content-length",
                           "range", "keep-alive", "transfer-encoding"))


# --- init sections ------------------------------------------------------------------------------

def _boxes(data: bytes, start: int, end: int) -> Iterator[Tuple[bytes, int, int]]:
    """(type, payload start, box end) of the boxes in data[start:end]."""
    pos = start
    while pos + 8 <= end:
        size, kind = struct.unpack(">I4s", data[pos:pos + 8])
        header = 8
        if size == 1:
            if pos + 16 > end:
                return
            size = struct.unpack(">Q", data[pos + 8:pos + 16])[0]
            header = 16
        elif size == 0:
            size = end - pos
        if size < header or pos + size > end:
            return
        yield kind, pos + header, pos + size
        pos += size


def _child(data: bytes, start: int, end: int, kind: bytes) -> Optional[Tuple[int, int]]:
    for found, payload, box_end in _boxes(data, start, end):
        if found == kind:
            return payload, box_end
    return None


def _descriptor(data: bytes, pos: int, end: int) -> Optional[Tuple[int, int, int]]:
    """(tag, payload start, payload end) of an MPEG-4 descriptor (ISO 14496-1 expandable size)."""
    if pos >= end:
        return None
    tag, pos, size = data[pos], pos + 1, 0
    for _ in range(4):
        if pos >= end:
            return None
        byte = data[pos]
        pos += 1
        size = (size << 7) | (byte & 0x7F)
        if not byte & 0x80:
            break
    return tag, pos, min(end, pos + size)


def _mp4a_oti(data: bytes, entry_start: int, entry_end: int) -> Optional[int]:
    """objectTypeIndication from an mp4a sample entry's esds (0x40 AAC, 0x6B/0x69 MP3...)."""
    esds = _child(data, entry_start + 28, entry_end, b"esds")
    if esds is None:
        return None
    es = _descriptor(data, esds[0] + 4, esds[1])
    if es is None or es[0] != 0x03 or es[1] + 3 > es[2]:
        return None
    pos = es[1] + 2
    flags = data[pos]
    pos += 1
    if flags & 0x80:
        pos += 2
    if flags & 0x40 and pos < es[2]:
        pos += 1 + data[pos]
    if flags & 0x20:
        pos += 2
    config = _descriptor(data, pos, es[2])
    if config is None or config[0] != 0x04 or config[1] >= config[2]:
        return None
    return data[config[1]]


@dataclass
class Track:
    handler: str          # 'vide', 'soun', 'text', ...
    fourcc: str           # sample entry type: avc1, hvc1, mp4a, encv, ...
    family: Optional[str]
    encrypted: bool = False


def init_tracks(data: bytes) -> List[Track]:
    """Tracks of an fMP4 init section (moov/trak/mdia/{hdlr, minf/stbl/stsd}); [] if unreadable."""
    try:
        return _init_tracks(data)
    except (struct.error, IndexError, ValueError):
        log.debug("unreadable init section", exc_info=True)
        return []


def _init_tracks(data: bytes) -> List[Track]:
    tracks: List[Track] = []
    moov = _child(data, 0, len(data), b"moov")
    if moov is None:
        return tracks
    for kind, start, end in _boxes(data, *moov):
        if kind != b"trak":
            continue
        mdia = _child(data, start, end, b"mdia")
        if mdia is None:
            continue
        hdlr = _child(data, mdia[0], mdia[1], b"hdlr")
        handler = data[hdlr[0] + 8:hdlr[0] + 12].decode("latin-1") if hdlr else "?"
        stsd = None
        minf = _child(data, mdia[0], mdia[1], b"minf")
        stbl = _child(data, minf[0], minf[1], b"stbl") if minf else None
        if stbl:
            stsd = _child(data, stbl[0], stbl[1], b"stsd")
        if stsd is None:
            continue
        for entry, entry_start, entry_end in _boxes(data, stsd[0] + 8, stsd[1]):
            fourcc = entry.decode("latin-1")
            encrypted = fourcc in ("encv", "enca", "encs", "enct")
            family = variants.codec_family(fourcc)
            if fourcc == "mp4a":
                oti = _mp4a_oti(data, entry_start, entry_end)
                family = variants.codec_family("mp4a.%02x" % oti if oti is not None else "mp4a")
            tracks.append(Track(handler, fourcc, family, encrypted))
            break
    return tracks


def check_media_start(data: bytes, what: str) -> str:
    """'mp4', 'ts' or 'audio' for a plausible init section / first segment; else invalid_stream."""
    if data[:1] == b"\x47":
        return "ts"
    if len(data) >= 8 and data[4:8] in FIRST_BOXES:
        return "mp4"
    if data[:3] == b"ID3" or (len(data) > 1 and data[0] == 0xFF and data[1] & 0xF0 == 0xF0):
        return "audio"
    head = data[:64].decode("latin-1").strip().lower()
    kind = "an HTML page" if head.startswith("<") else "%d bytes of something else" % len(data)
    raise InvalidStreamError("the %s is not media (the server sent %s)" % (what, kind))


# --- the plan: what ffmpeg will read ------------------------------------------------------------

@dataclass
class MediaPlaylist:
    """A fetched, checked media playlist and what its init section says."""

    url: str
    segments: List[Segment]
    live: bool
    tracks: List[Track] = field(default_factory=list)
    inline_keys: bool = False
    ads_dropped: bool = False           # ffmpeg reads serve_url: this playlist without its ads
    serve_url: Optional[str] = None


def _quoted(value: str) -> str:
    return '"%s"' % value.replace('"', "%22").replace("\r", "").replace("\n", "")


class AdFreePlaylist:
    """A media playlist rewritten without its ad segments, for ffmpeg (which cannot skip them).

    Kept segments are numbered in the order they first appear, so a live playlist rewritten on
    every reload keeps a steady EXT-X-MEDIA-SEQUENCE; AES-128 IVs are written out (they derive
    from the original sequence numbers). A dropped ad break becomes an EXT-X-DISCONTINUITY."""

    def __init__(self) -> None:
        self._numbers: Dict[int, int] = {}
        self._next = 0

    def render(self, segs: Sequence[Segment], live: bool) -> bytes:
        target = max([1] + [int(math.ceil(s.duration)) for s in segs])
        body: List[str] = []
        first: Optional[int] = None
        key: Any = False
        init: Any = False
        dropped = False
        for seg in segs:
            if seg.is_ad:
                dropped = True
                continue
            number = self._numbers.get(seg.media_sequence)
            if number is None:
                number = self._numbers[seg.media_sequence] = self._next
                self._next += 1
            if first is None:
                first = number
            if body and (dropped or seg.discontinuity):
                body.append("#EXT-X-DISCONTINUITY")
            dropped = False
            if seg.key != key or (seg.key is not None and seg.key.iv is None):
                key = seg.key
                if key is None:
                    body.append("#EXT-X-KEY:METHOD=NONE")
                else:
                    attrs = "METHOD=%s,URI=%s,IV=0x%s" % (
                        key.method, _quoted(key.uri),
                        hls_playlist.iv_for(key, seg.media_sequence).hex())
                    if key.keyformat:
                        attrs += ",KEYFORMAT=%s" % _quoted(key.keyformat)
                    body.append("#EXT-X-KEY:" + attrs)
            if seg.init is not None and seg.init != init:
                init = seg.init
                attrs = "URI=" + _quoted(init.url)
                if init.byterange is not None:
                    attrs += ',BYTERANGE="%d@%d"' % (init.byterange[1], init.byterange[0])
                body.append("#EXT-X-MAP:" + attrs)
            body.append("#EXTINF:%.6f," % seg.duration)
            if seg.byterange is not None:
                body.append("#EXT-X-BYTERANGE:%d@%d" % (seg.byterange[1], seg.byterange[0]))
            body.append(seg.url)
        head = ["#EXTM3U", "#EXT-X-VERSION:6", "#EXT-X-TARGETDURATION:%d" % target,
                "#EXT-X-MEDIA-SEQUENCE:%d" % (first or 0)]
        tail = [] if live else ["#EXT-X-ENDLIST"]
        return ("\n".join(head + body + tail) + "\n").encode("utf-8")


@dataclass
class Plan:
    video: MediaPlaylist
    audio: Optional[MediaPlaylist] = None
    variant: Optional[variants.Variant] = None
    transcode_video: bool = False
    transcode_audio: Optional[str] = None   # encoder name

    @property
    def transcode(self) -> bool:
        return self.transcode_video or bool(self.transcode_audio)


class HlsM4sRecorder(BaseRecorder):
    """Records HLS with fMP4 segments (or separate audio renditions) through ffmpeg remuxing."""

    recorder_type = "hls_m4s"

    def __init__(self, *args: Any, allow_transcode: bool = False,
                 codecs: Sequence[str] = variants.DEFAULT_CODECS, ffmpeg_path: str = "ffmpeg",
                 audio_language: Optional[str] = None, retry: Optional[RetryPolicy] = None,
                 stall_timeout: float = 60.0, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.sink: Optional[StreamSections] = None
        self._pipe = -1
        self._eof = False
        self.allow_transcode = bool(allow_transcode)
        self.codecs = tuple(str(c).strip().lower() for c in codecs)
        self.ffmpeg_path = ffmpeg_path
        self.audio_language = audio_language
        # The wait between retries ends at once on stop() (the event may be swapped by delegate()).
        self.retry = retry or RetryPolicy(attempts=3, base=0.5, cap=4.0,
                                          sleep=lambda seconds: self.stop_event.wait(seconds))
        self.stall_timeout = float(stall_timeout)
        self.process: Optional[ffmpeg.FfmpegProcess] = None
        self.command: List[str] = []
        self._extra_headers: List[Tuple[str, str]] = []
        self._skipped_keys: Set[str] = set()
        self._playlist_server: Optional[ffmpeg.PlaylistServer] = None

    # --- fetching through the session ---------------------------------------------------------
    def _fetch(self, url: str, what: str, max_bytes: int,
               byterange: Optional[Tuple[int, int]] = None) -> Tuple[bytes, str]:
        assert self.http is not None
        headers = dict(self._extra_headers)
        if byterange is not None:
            headers["Range"] = "bytes=%d-%d" % (byterange[0], byterange[0] + byterange[1] - 1)
        body, final = self.retry.run(
            lambda: self.http.fetch(url, headers or None, max_bytes=max_bytes, what=what),
            what=what)
        if byterange is not None and len(body) > byterange[1]:
            body = body[byterange[0]:byterange[0] + byterange[1]]  # the server ignored Range
        return body, final

    def _load(self, url: str) -> Tuple[str, Any]:
        body, final = self._fetch(url, "playlist", PLAYLIST_LIMIT)
        return final, hls_playlist.parse_checked(body, final)

    # --- planning -------------------------------------------------------------------------------
    def plan(self, resolve_result: Dict[str, Any]) -> Plan:
        """Playlists, variant, DRM and codecs, all checked before ffmpeg starts."""
        url, variant, transcode_variant = self.url, None, False
        for _ in range(MAX_MASTER_DEPTH):
            final, pl = self._load(url)
            if not hls_playlist.is_master(pl):
                break
            variant, transcode_variant = self._choose(pl, resolve_result.get("quality", "best"))
            url = variant.url
        else:
            raise InvalidStreamError("master playlists nested more than %d deep" % MAX_MASTER_DEPTH)
        skip_ads = not resolve_result.get("show_ads", False)  # default: ads are dropped
        video = self._media(final, pl, "playlist", skip_ads)
        audio = None
        if variant is not None and variant.audio_url:
            audio_final, audio_pl = self._load(variant.audio_url)
            if hls_playlist.is_master(audio_pl):
                raise InvalidStreamError("the audio rendition is a master playlist")
            audio = self._media(audio_final, audio_pl, "audio playlist", skip_ads)
            log.info("separate %s audio rendition: %s", variant.audio_language or "default",
                     redact(audio_final))
        plan = Plan(video, audio, variant)
        self._check_codecs(plan, transcode_variant)
        return plan

    def _choose(self, master: Any, quality: Any) -> Tuple[variants.Variant, bool]:
        try:
            return variants.choose_variant(master, quality, self.codecs, self.audio_language), False
        except UnsupportedCodecError as exc:
            if not self.allow_transcode:
                raise UnsupportedCodecError("%s; transcoding is off (it is slower than real time "
                                            "on a receiver)" % exc) from None
            log.warning("%s: transcoding (allowed by the settings)", exc)
            try:
                return variants.choose_variant(master, quality, TRANSCODABLE,
                                               self.audio_language), True
            except UnsupportedCodecError:
                raise exc from None

    def _media(self, url: str, pl: Any, what: str, skip_ads: bool = True) -> MediaPlaylist:
        segs = hls_playlist.segments(pl)
        if not segs:
            raise InvalidStreamError("the %s lists no segments: %s" % (what, redact(url)))
        live = not hls_playlist.is_endlist(pl)
        media = MediaPlaylist(url, segs, live)
        if skip_ads and any(s.is_ad for s in segs):
            # ffmpeg gets this playlist rewritten without the ads (see _serve_ad_free)
            kept = [s for s in segs if not s.is_ad]
            if not kept and not live:
                raise InvalidStreamError("the %s lists only ad segments: %s" % (what, redact(url)))
            media.ads_dropped = True
            log.info("%s: %d ad segment(s) left out", what, len(segs) - len(kept))
            segs = media.segments = kept or segs
        media.inline_keys = any(s.key is not None and s.key.uri.startswith("data:") for s in segs)
        # Prove the stream: its init section (or, without one, its first segment) must be media.
        first = segs[-1] if live else segs[0]
        if first.init is not None:
            data, _ = self._fetch(first.init.url, "init section", INIT_LIMIT, first.init.byterange)
            check_media_start(data, "init section")
            media.tracks = init_tracks(data)
        elif first.key is None:
            data, _ = self._fetch(first.url, "segment", SEGMENT_PROBE_LIMIT, first.byterange)
            if check_media_start(data, "first segment") == "mp4":
                media.tracks = init_tracks(data)
        else:  # AES-128 segments: ffmpeg decrypts; fetching one here proves the server answers
            self._fetch(first.url, "segment", SEGMENT_PROBE_LIMIT, first.byterange)
        if any(t.encrypted for t in media.tracks):
            raise DrmProtectedError("the stream's samples are encrypted (common encryption, "
                                    "%s): it cannot be recorded" % ", ".join(
                                        t.fourcc for t in media.tracks if t.encrypted))
        log.info("%s %s: %d segment(s)%s", "live" if live else "VOD", what, len(segs),
                 ", tracks " + ", ".join("%s/%s" % (t.handler, t.fourcc) for t in media.tracks)
                 if media.tracks else "")
        return media

    def _check_codecs(self, plan: Plan, transcode_variant: bool) -> None:
        """Undecodable codecs: transcode when allowed (video to H.264, audio to AAC), else refuse."""
        families = [t.family or t.fourcc for p in (plan.video, plan.audio) if p for t in p.tracks
                    if t.handler in ("vide", "soun")]
        if not families and plan.variant is not None:
            families = [variants.codec_family(c) or c for c in plan.variant.codecs]
        bad = [f for f in families if f not in self.codecs and f not in TEXT_FAMILIES]
        if not bad:
            if transcode_variant:
                log.info("the chosen variant's media turned out decodable: no transcoding")
            return
        if not self.allow_transcode:
            raise UnsupportedCodecError(
                "the stream uses %s, which this receiver does not decode (decodable: %s); "
                "transcoding is off" % (", ".join(sorted(set(bad))), ", ".join(self.codecs)))
        plan.transcode_video = any(f not in AUDIO_FAMILIES for f in bad)
        if any(f in AUDIO_FAMILIES for f in bad):
            plan.transcode_audio = next((e for f, e in (("aac", "aac"), ("ac3", "ac3"),
                                                        ("mp3", "libmp3lame"))
                                         if f in self.codecs), "aac")
        log.warning("transcoding %s (allowed by the settings): this is slow on a receiver",
                    ", ".join(sorted(set(bad))) or "the stream")

    # --- ffmpeg ---------------------------------------------------------------------------------
    def _input(self, media: MediaPlaylist, buffering: int) -> ffmpeg.HttpInput:
        assert self.http is not None
        session = self.http.session
        pairs: List[Tuple[str, str]] = []
        for name, value in session.headers.items():
            lname = name.lower()
            if lname in _SKIP_HEADERS or (lname == "accept" and value == "*/*") or value is None:
                continue
            pairs.append((str(name), str(value)))
        if not any(n.lower() == "cookie" for n, _ in pairs):
            prepared = requests.Request("GET", media.url).prepare()
            cookie = requests.cookies.get_cookie_header(session.cookies, prepared)
            if cookie:
                pairs.append(("Cookie", cookie))
        user_agent = session.headers.get("User-Agent")
        for name, value in self._extra_headers:  # ffmpeg_headers win over the session's
            if name.lower() == "user-agent":
                user_agent = value
                continue
            pairs = [(n, v) for n, v in pairs if n.lower() != name.lower()] + [(name, value)]
        verify = self.verify_tls if self.verify_tls is not None else session.verify
        return ffmpeg.HttpInput(
            url=media.serve_url or media.url, headers=pairs, user_agent=user_agent, verify_tls=bool(verify),
            ca_file=verify if isinstance(verify, str) else None,
            extra_protocols=("data",) if media.inline_keys else (),
            live_start_index=-buffering if media.live else None)

    def _serve_ad_free(self, media: MediaPlaylist, name: str) -> None:
        """ffmpeg reads media without its ads from a loopback URL (rewritten on every reload of
        a live playlist; the original is fetched through the session)."""
        if self._playlist_server is None:
            self._playlist_server = ffmpeg.PlaylistServer()
        rewrite = AdFreePlaylist()
        if not media.live:
            body = rewrite.render(media.segments, False)
            media.serve_url = self._playlist_server.publish(name, lambda: body)
            return

        def page() -> bytes:
            final, pl = self._load(media.url)
            return rewrite.render(hls_playlist.segments(pl), not hls_playlist.is_endlist(pl))

        media.serve_url = self._playlist_server.publish(name, page)

    def build_command(self, info: ffmpeg.FfmpegInfo, plan: Plan, buffering: int,
                      output: str) -> List[str]:
        for media, name in ((plan.video, "video.m3u8"), (plan.audio, "audio.m3u8")):
            if media is not None and media.ads_dropped and media.serve_url is None:
                self._serve_ad_free(media, name)
        inputs = [self._input(plan.video, buffering)]
        if plan.audio is not None:
            inputs.append(self._input(plan.audio, buffering))
            maps = ["-map", "0:v?", "-map", "1:a"]  # '?': an audio-only variant has no video
        else:
            maps = ["-map", "0:v?", "-map", "0:a?"]
        if plan.transcode:
            codec_args = ffmpeg.transcode_args(info, plan.transcode_video, plan.transcode_audio)
        else:
            codec_args = list(ffmpeg.COPY_CODECS)
        return ffmpeg.build_command(info, inputs, maps, codec_args, output)

    def _on_stderr(self, line: str) -> None:
        skipped, key = ffmpeg.skipped_in_line(line)
        if skipped and (key is None or key not in self._skipped_keys):
            if key is not None:
                self._skipped_keys.add(key)
            self.skipped_segments += skipped
            log.warning("ffmpeg skipped media: %s", ffmpeg.clean_line(line))

    # --- recording ------------------------------------------------------------------------------
    def record_start(self, resolve_result: Dict[str, Any]) -> None:
        buffering = max(1, int(resolve_result.get("buffering") or 5))
        info = ffmpeg.probe(self.ffmpeg_path)
        self._extra_headers = ffmpeg.parse_header_lines(resolve_result.get("ffmpeg_headers") or "")
        assert self.http is not None
        # Everything here goes to ffmpeg's -headers: a CR/LF is refused before any request.
        ffmpeg.header_block((str(k), str(v)) for k, v in self.http.session.headers.items()
                            if v is not None)
        plan = self.plan(resolve_result)
        # Built (and so checked) before the old recording goes; the output fd comes after.
        self.command = self.build_command(info, plan, buffering, "pipe:1")
        self.check_stop()
        files.cleanup(self.rec_dir)  # the stream proved itself: playlist, no DRM, init section
        # ffmpeg writes into a pipe; the sink copies it into section files (reserve, size limit,
        # .ap index), so a FAT stick gets several files instead of EFBIG at 4 GiB.
        self.sink = StreamSections(self.rec_dir, self.volume, self.title, time.time())
        self._pipe, write_fd = os.pipe()
        self._eof = False
        self.command[-1] = "pipe:%d" % write_fd
        log.info("ffmpeg %s: %s", "transcode" if plan.transcode else "remux",
                 ffmpeg.describe_command(self.command))
        try:
            self.process = ffmpeg.FfmpegProcess(self.command, pass_fds=(write_fd,),
                                                on_stderr=self._on_stderr)
        finally:
            os.close(write_fd)  # ffmpeg holds the only write end: its exit means EOF here
        self.add_abort_hook(self.process.terminate)
        watch = _Watch(self, plan, buffering)
        try:
            self._supervise(self.process, watch, plan)
        finally:
            self.remove_abort_hook(self.process.terminate)
            if self.process.returncode is None:  # stopped, duration reached, or an error
                self._wind_down(self.process, watch)
                watch.drain(self.process, messages=False)
                watch.progress(force=True)

    def _supervise(self, proc: ffmpeg.FfmpegProcess, watch: "_Watch", plan: Plan) -> None:
        while not proc.exited():
            self.check_stop()
            self._pump(0.25, watch)
            self._take_progress(proc, watch)
            watch.tick()
        deadline = time.monotonic() + ffmpeg.TERMINATE_GRACE_S
        while not self._eof and time.monotonic() < deadline:
            self._pump(0.1, watch)  # what ffmpeg wrote just before it exited
        returncode = proc.reap()
        watch.drain(proc)
        if self.stop_event.is_set():
            return  # reason user: ffmpeg ended because stop() terminated it
        size = watch.size()
        if returncode != 0:
            raise ffmpeg.error_from_output(proc.stderr_tail(), returncode)
        if size == 0:
            raise InvalidStreamError("ffmpeg ended without writing any media: %s" % "; ".join(
                ffmpeg.clean_line(x) for x in proc.stderr_tail()[-3:]))
        if plan.video.live:
            self._confirm_live_end(plan, proc)
        watch.finish()

    def _pump(self, timeout: float, watch: "_Watch") -> None:
        """Copy what ffmpeg wrote into the section files (waits up to timeout for data)."""
        if self._eof or self._pipe < 0:
            time.sleep(timeout)
            return
        readable, _, _ = select.select([self._pipe], [], [], timeout)
        if not readable:
            return
        data = os.read(self._pipe, PIPE_CHUNK)
        if not data:
            self._eof = True
            return
        assert self.sink is not None
        if self.sink.feed(data) and self.sink.index > 0:
            # a later section (size limit): announced as soon as it holds data, after the
            # first one (complete now, even when it ended before `buffering` was reached)
            if not watch.started:
                watch.started = True
                self.start_playback(self.url, self.sink.paths[0], 0, watch.start_index)
            self.start_playback(self.url, self.sink.path, self.sink.index, watch.segment_index())

    @staticmethod
    def _take_progress(proc: ffmpeg.FfmpegProcess, watch: "_Watch") -> None:
        while True:
            block = proc.next_progress(0)
            if block is None:
                return
            watch.update(block)

    def _wind_down(self, proc: ffmpeg.FfmpegProcess, watch: "_Watch") -> None:
        """Stop ffmpeg and keep copying what it flushes (dropped after a disk error)."""
        start = time.monotonic()
        second_sigterm = True
        proc.terminate()
        while not self._eof and time.monotonic() - start < ffmpeg.TERMINATE_GRACE_S:
            if second_sigterm and time.monotonic() - start >= ffmpeg.SECOND_SIGTERM_AFTER_S:
                second_sigterm = False
                proc.terminate()  # the first one goes unnoticed inside a blocked read
            try:
                self._pump(0.1, watch)
            except (OSError, RecorderError) as exc:
                log.warning("the end of ffmpeg's output was not written: %s", exc)
        self._close_pipe()  # a writer still blocked on it gets EPIPE
        proc.stop()

    def _close_pipe(self) -> None:
        if self._pipe >= 0:
            os.close(self._pipe)
            self._pipe = -1

    def _confirm_live_end(self, plan: Plan, proc: ffmpeg.FfmpegProcess) -> None:
        """ffmpeg also ends a live input quietly (exit 0) when a playlist reload fails: only
        EXT-X-ENDLIST makes that a complete recording. A failing playlist raises its own error."""
        for media in (plan.video, plan.audio):
            if media is None or not media.live:
                continue
            _, pl = self._load(media.url)
            if not hls_playlist.is_endlist(pl):
                error = ffmpeg.error_from_output(proc.stderr_tail(), 0)
                raise type(error)("ffmpeg stopped reading the live stream before it ended (%s)"
                                  % error)

    def release(self) -> None:
        self._close_pipe()
        if self.process is not None:
            self.process.stop()
        if self._playlist_server is not None:
            self._playlist_server.close()
            self._playlist_server = None
        if self.sink is not None:
            self.sink.close()


class _Watch:
    """Turns ffmpeg's progress into start/progress messages; notices a stalled ffmpeg."""

    def __init__(self, recorder: HlsM4sRecorder, plan: Plan, buffering: int) -> None:
        self.rec = recorder
        segs = plan.video.segments
        self.live = plan.video.live
        self.durations = [s.duration for s in (segs[-buffering:] if self.live else segs)]
        self.ends: List[float] = []
        total = 0.0
        for duration in self.durations:
            total += duration
            self.ends.append(total)
        self.total = None if self.live else total
        count = min(buffering, len(self.durations))
        if self.live or len(segs) > buffering:
            # The media of `buffering` segments, less a frame's worth of rounding.
            self.threshold: Optional[float] = max(0.0, self.ends[count - 1] - 0.1)
        else:
            self.threshold = None  # a VOD this short starts when it is complete
        self.start_index = count - 1
        self.started = False
        self.media_s = 0.0
        self.throttle = ProgressThrottle()
        self.speed = SpeedMeter()
        self.last_change = time.monotonic()
        self._last_size = -1

    def size(self) -> int:
        return self.rec.sink.bytes_written if self.rec.sink is not None else 0

    def output_path(self) -> str:
        sink = self.rec.sink
        return sink.path if sink is not None and sink.path else os.path.join(self.rec.rec_dir,
                                                                             OUTPUT_NAME)

    def section(self) -> int:
        return max(0, self.rec.sink.index) if self.rec.sink is not None else 0

    def segment_index(self) -> int:
        if self.live:
            average = self.ends[-1] / len(self.ends) if self.ends and self.ends[-1] else 1.0
            return int(self.media_s / average)
        return min(len(self.ends) - 1, bisect_right(self.ends, self.media_s + 0.05))

    def update(self, block: ffmpeg.Progress) -> None:
        if block.out_time is not None and block.out_time > self.media_s:
            self.media_s = block.out_time
            self.last_change = time.monotonic()
        if not self.started and self.threshold is not None and self.media_s >= self.threshold \
                and self.size() > 0:
            self.started = True
            self.rec.start_playback(self.rec.url, self.output_path(), self.section(),
                                    self.start_index)
        self.progress(force=False)

    def drain(self, proc: ffmpeg.FfmpegProcess, messages: bool = True) -> None:
        """Take in the blocks ffmpeg wrote just before it exited."""
        while True:
            block = proc.next_progress(0)
            if block is None:
                return
            if messages:
                self.update(block)
            elif block.out_time is not None:
                self.media_s = max(self.media_s, block.out_time)

    def tick(self) -> None:
        size = self.size()
        if size != self._last_size:
            self._last_size = size
            self.last_change = time.monotonic()
        self.progress(force=False)  # also while ffmpeg waits (the throttle spaces them)
        idle = time.monotonic() - self.last_change
        if idle > self.rec.stall_timeout:
            raise StreamTimeoutError("ffmpeg wrote no media for %.0f s (%s)" % (idle, "; ".join(
                ffmpeg.clean_line(x) for x in (self.rec.process.stderr_tail()[-3:]
                                               if self.rec.process else []))))

    def percent(self) -> Optional[float]:
        if not self.total:
            return None
        return min(100.0, 100.0 * self.media_s / self.total)

    def progress(self, force: bool, complete: bool = False) -> None:
        percent = 100.0 if complete and self.total else self.percent()
        if not force and not self.throttle.due(percent):
            return
        size = self.size()
        self.speed.add(size)
        eta = None
        elapsed = time.monotonic() - self.rec.started_at
        if self.total and self.media_s > 0:
            eta = max(0.0, elapsed / self.media_s * (self.total - self.media_s))
        self.rec.emit(progress_message(
            self.rec.recorder_type, section_index=self.section(),
            segment_index=self.segment_index(),
            bytes_done=size, percent=percent, speed_bps=self.speed.bps(), eta_s=eta,
            media_s=self.media_s, skipped_segments=self.rec.skipped_segments))

    def finish(self) -> None:
        """ffmpeg ended 0: a VOD is complete (a short one starts now), a live stream ended."""
        if not self.started:
            self.started = True
            self.rec.start_playback(self.rec.url, self.output_path(), self.section(),
                                    max(0, len(self.durations) - 1 if not self.live else 0))
        self.progress(force=True, complete=True)

