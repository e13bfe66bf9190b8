"""URL -> plan, once per recording: recorder id, variant, renditions, codecs, keys, DRM, live/VOD.

Detection (`--recorder auto`) and every HLS recorder take the plan made here, so the master is
fetched once, a variant is chosen by one rule (one codec table, the options' quality, codecs,
audio language and transcode permission), and a dead, forbidden or protected stream is refused
before anything of the previous recording is cleaned up.
"""

import logging
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Tuple
from urllib.parse import urlsplit

from ..errors import DrmProtectedError, InvalidStreamError, UnsupportedCodecError
from ..http import HttpClient, RetryPolicy, iter_body, redact
from ..mediacodecs import AUDIO_FAMILIES, TEXT_FAMILIES, TRANSCODABLE, audio_encoder, codec_family
from ..mp4box import Track, check_media_start, init_tracks, moov_end
from ..options import RecordOptions
from . import playlist as hls_playlist
from . import variants
from .playlist import Segment
from .variants import Variant

log = logging.getLogger(__name__)

PLAYLIST_LIMIT = hls_playlist.MAX_PLAYLIST_BYTES
INIT_LIMIT = 16 << 20
SNIFF_BYTES = 64 << 10      # enough to tell media from an error page
MOOV_LIMIT = 4 << 20        # a segment that carries its own moov: read that far at most
MAX_MASTER_DEPTH = 3
M4S_SUFFIXES = (".m4s", ".mp4", ".m4v", ".m4a", ".cmfv", ".cmfa", ".fmp4")


@dataclass
class Media:
    """A fetched, checked media playlist; `tracks` from its init section (ffmpeg path only)."""

    url: str
    segments: List[Segment]
    live: bool
    target_duration: float
    tracks: List[Track] = field(default_factory=list)

    @property
    def fmp4(self) -> bool:
        return any(s.init is not None for s in self.segments) or any(
            urlsplit(s.url).path.lower().endswith(M4S_SUFFIXES) for s in self.segments[:3])

    @property
    def inline_keys(self) -> bool:
        return any(s.key is not None and s.key.uri.startswith("data:") for s in self.segments)

    @property
    def ads(self) -> int:
        return sum(1 for s in self.segments if s.is_ad)

    def kept(self, show_ads: bool) -> List[Segment]:
        """The segments recorded: without the ads unless they are wanted (all, if only ads)."""
        if show_ads:
            return list(self.segments)
        return [s for s in self.segments if not s.is_ad] or list(self.segments)


@dataclass
class Plan:
    """What one HLS recording reads and how."""

    recorder_id: str                     # hls_basic, hls_live or hls_m4s
    video: Media
    playlist: Any = None                 # the parsed media playlist of `video`
    audio: Optional[Media] = None        # a separate audio rendition (ffmpeg maps both)
    variant: Optional[Variant] = None
    master_url: Optional[str] = None
    transcode_video: bool = False
    transcode_audio: Optional[str] = None  # ffmpeg encoder name
    proven: bool = False                 # init section / first media bytes checked
    imports: Optional[Dict[str, str]] = None  # the master's EXT-X-DEFINE variables (reloads)

    @property
    def live(self) -> bool:
        return self.video.live

    @property
    def transcode(self) -> bool:
        return self.transcode_video or bool(self.transcode_audio)

    def segment_bytes(self, seg: Segment) -> int:
        """Expected size of seg before any segment arrived: BANDWIDTH x EXTINF (0: unknown)."""
        if seg.byterange is not None:
            return seg.byterange[1]
        bandwidth = self.variant.bandwidth if self.variant is not None else 0
        return int(bandwidth * seg.duration / 8)


class Planner:
    """Makes the plan of one recording through its HTTP client; also re-reads the master."""

    def __init__(self, http: HttpClient, options: RecordOptions, retry: RetryPolicy) -> None:
        self.http = http
        self.options = options
        self.retry = retry
        self._transcode_variant = False

    # --- fetching ----------------------------------------------------------------------------
    def load(self, url: str, imports: Optional[Dict[str, str]] = None,
             retry: bool = True) -> Tuple[str, Any]:
        """(final URL, parsed and DRM-checked playlist); retry=False for a live reload, whose
        failures the reload policy counts."""
        def fetch() -> Tuple[bytes, str]:
            return self.http.fetch(url, max_bytes=PLAYLIST_LIMIT, what="playlist")
        body, final = self.retry.run(fetch, what="playlist") if retry else fetch()
        return final, hls_playlist.parse_checked(body, final, imports)

    def head(self, url: str, byterange: Optional[Tuple[int, int]], what: str,
             limit: int = SNIFF_BYTES) -> bytes:
        """The first bytes of a segment or init section (never the whole of a large one)."""
        def read() -> bytes:
            headers = None
            if byterange is not None:
                headers = {"Range": "bytes=%d-%d" % (byterange[0], byterange[0] + byterange[1] - 1)}
            data = bytearray()
            with self.http.stream(url, headers, what=what) as resp:
                skip = byterange[0] if byterange is not None and resp.status_code == 200 else 0
                for chunk in iter_body(resp, SNIFF_BYTES):
                    data += chunk
                    if _enough(data, skip, limit):
                        break
            return bytes(data[skip:skip + limit])
        return self.retry.run(read, what=what)

    # --- the plan ----------------------------------------------------------------------------
    def plan(self, url: str, first: Optional[Tuple[bytes, str]] = None,
             ffmpeg: bool = False) -> Plan:
        """Resolve url into a plan; `first`: its body and final URL when already fetched.

        ffmpeg=True proves the media for the ffmpeg recorder even for TS segments."""
        self._transcode_variant = False
        final, pl = (first[1], hls_playlist.parse_checked(first[0], first[1])) if first \
            else self.load(url)
        master_url, variant, variables = None, None, None
        for _ in range(MAX_MASTER_DEPTH):
            if not hls_playlist.is_master(pl):
                break
            master_url, variant, variables = final, self.choose(pl), pl.variables
            final, pl = self.load(variant.url, variables)
        else:
            raise InvalidStreamError("master playlists nested more than %d deep" % MAX_MASTER_DEPTH)
        video = self._media(final, pl, "playlist")
        plan = Plan("", video, pl, variant=variant, master_url=master_url, imports=variables)
        if variant is not None and variant.audio_url:
            audio_final, audio_pl = self.load(variant.audio_url, variables)
            if hls_playlist.is_master(audio_pl):
                raise InvalidStreamError("the audio rendition is a master playlist")
            plan.audio = self._media(audio_final, audio_pl, "audio playlist")
            log.info("separate %s audio rendition: %s", variant.audio_language or "default",
                     redact(audio_final))
        plan.recorder_id = self._recorder_id(plan)
        if ffmpeg or plan.recorder_id == "hls_m4s":
            self.prove(plan)
        log.info("plan: %s, %s, %d segment(s)%s%s", plan.recorder_id, "live" if video.live else "VOD",
                 len(video.segments), ", separate audio" if plan.audio else "",
                 ", transcoding" if plan.transcode else "")
        return plan

    def choose(self, master: Any) -> Variant:
        """The variant by the options; transcodable ones only when nothing decodable is offered
        and transcoding is allowed."""
        opts = self.options
        try:
            return variants.choose_variant(master, opts.quality, opts.codecs, opts.audio_language)
        except UnsupportedCodecError as exc:
            if not opts.allow_transcode:
                raise UnsupportedCodecError("%s; transcoding is off (it is slower than real time "
                                            "on a receiver)" % exc) from None
            log.warning("%s: transcoding (allowed by the settings)", exc)
            try:
                variant = variants.choose_variant(master, opts.quality, TRANSCODABLE,
                                                  opts.audio_language)
            except UnsupportedCodecError:
                raise exc from None
            self._transcode_variant = True
            return variant

    def media_url_now(self, master_url: str) -> str:
        """The media playlist URL the master names now (a live variant that moved)."""
        _final, master = self.load(master_url)
        if not hls_playlist.is_master(master):
            return master_url
        return self.choose(master).url

    def _media(self, url: str, pl: Any, what: str) -> Media:
        segs = hls_playlist.segments(pl)
        live = not hls_playlist.is_endlist(pl)
        if not segs and not live:
            raise InvalidStreamError("the %s lists no segments: %s" % (what, redact(url)))
        media = Media(url, segs, live, float(pl.target_duration or 6))
        if not self.options.show_ads and media.ads:
            if media.ads == len(segs) and not live:
                raise InvalidStreamError("the %s lists only ad segments: %s" % (what, redact(url)))
            log.info("%s: %d ad segment(s) left out", what, media.ads)
        return media

    def _recorder_id(self, plan: Plan) -> str:
        if plan.audio is not None or plan.video.fmp4 or self._transcode_variant:
            return "hls_m4s"
        return "hls_live" if plan.live else "hls_basic"

    # --- proving the media (the ffmpeg path) --------------------------------------------------
    def prove(self, plan: Plan) -> None:
        """Init section (or the first segment's first bytes) is media, not DRM; codecs checked."""
        if plan.proven:
            return
        for media, what in ((plan.video, "playlist"), (plan.audio, "audio playlist")):
            if media is not None:
                self._prove_media(media, what)
        self._check_codecs(plan)
        plan.proven = True

    def _prove_media(self, media: Media, what: str) -> None:
        kept = media.kept(self.options.show_ads)
        if not kept:
            raise InvalidStreamError("the %s lists no segments yet: %s" % (what, redact(media.url)))
        first = kept[-1] if media.live else kept[0]
        if first.init is not None:
            data = self.head(first.init.url, first.init.byterange, "init section", INIT_LIMIT)
            check_media_start(data, "init section")
            media.tracks = init_tracks(data)
        else:
            data = self.head(first.url, first.byterange, "segment",
                             MOOV_LIMIT if first.key is None else SNIFF_BYTES)
            # AES-128 segments: ffmpeg decrypts; their first bytes prove the server answers
            if first.key is None and check_media_start(data, "first segment") == "mp4":
                media.tracks = init_tracks(data)
        encrypted = [t.fourcc for t in media.tracks if t.encrypted]
        if encrypted:
            raise DrmProtectedError("the stream's samples are encrypted (common encryption, %s): "
                                    "it cannot be recorded" % ", ".join(encrypted))
        log.info("%s %s: %d segment(s)%s", "live" if media.live else "VOD", what,
                 len(media.segments), ", tracks " + ", ".join(
                     "%s/%s" % (t.handler, t.fourcc) for t in media.tracks) if media.tracks else "")

    def _check_codecs(self, plan: Plan) -> None:
        """Undecodable codecs: transcode when allowed (video to H.264, audio by the receiver's
        codecs), else refuse. The init section's tracks win over the master's CODECS."""
        allowed = self.options.codecs
        families = [t.family or t.fourcc for m in (plan.video, plan.audio) if m for t in m.tracks
                    if t.handler in ("vide", "soun")]
        if not families and plan.variant is not None:
            families = [codec_family(c) or c for c in plan.variant.codecs]
        bad = [f for f in families if f not in allowed and f not in TEXT_FAMILIES]
        if not bad:
            if self._transcode_variant:
                log.info("the chosen variant's media turned out decodable: no transcoding")
            return
        if not self.options.allow_transcode:
            raise UnsupportedCodecError(
                "the stream uses %s, which this receiver does not decode (decodable: %s); "
                "transcoding is off" % (", ".join(sorted(set(bad))), ", ".join(allowed)))
        plan.transcode_video = any(f not in AUDIO_FAMILIES for f in bad)
        if any(f in AUDIO_FAMILIES for f in bad):
            plan.transcode_audio = audio_encoder(allowed)
        log.warning("transcoding %s (allowed by the settings): this is slow on a receiver",
                    ", ".join(sorted(set(bad))))


def _enough(data: bytearray, skip: int, limit: int) -> bool:
    """limit bytes are in, or (reading for a moov) the leading moov is whole or cannot come."""
    have = len(data) - skip
    if have >= limit:
        return True
    if limit <= SNIFF_BYTES or have < 8:
        return False
    end = moov_end(data, skip)
    return end is not None and (end < 0 or have >= end)
