"""Recorder id from the URL and a look at the content, for `--recorder auto`."""

import logging
from typing import Optional, Sequence
from urllib.parse import urlsplit

from .errors import InvalidStreamError
from .http import HttpClient
from .mp4box import FIRST_BOXES

log = logging.getLogger(__name__)

PLAYLIST_LIMIT = 16 << 20
M4S_SUFFIXES = (".m4s", ".mp4", ".m4v", ".m4a", ".cmfv", ".cmfa", ".fmp4")


def looks_like_mp4(head: bytes) -> bool:
    return len(head) >= 8 and head[4:8] in FIRST_BOXES and head[4:8] != b"moof"


def looks_like_playlist(head: bytes) -> bool:
    return head.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"#EXTM3U")


def detect(url: str, http: HttpClient, quality: object = "best",
           codecs: Optional[Sequence[str]] = None) -> str:
    """Return mp4, hls_basic, hls_live or hls_m4s; InvalidStreamError when it is neither."""
    with http.stream(url, what="stream detection") as resp:
        ctype = resp.headers.get("Content-Type", "").split(";")[0].strip().lower()
        final_url = resp.url
        parts = []
        size = 0
        for chunk in resp.iter_content(64 * 1024):
            parts.append(chunk)
            size += len(chunk)
            head = parts[0]
            if not looks_like_playlist(head[:16]):
                break  # not a playlist: the first bytes are enough, do not download a video
            if size > PLAYLIST_LIMIT:
                raise InvalidStreamError("playlist larger than %d bytes" % PLAYLIST_LIMIT)
    head = b"".join(parts)
    if looks_like_mp4(head) or (ctype in ("video/mp4", "video/quicktime")
                                and not looks_like_playlist(head)):
        return "mp4"
    if not looks_like_playlist(head):
        raise InvalidStreamError("%s is neither an MP4 file nor an HLS playlist (Content-Type %s)"
                                 % (urlsplit(url).path or url, ctype or "unknown"))
    text = head.decode("utf-8", "replace")
    return _detect_hls(text, final_url, http, quality, codecs)


def _detect_hls(text: str, url: str, http: HttpClient, quality: object,
                codecs: Optional[Sequence[str]]) -> str:
    from .hls import playlist as hls_playlist
    from .hls import variants
    parsed = hls_playlist.parse(text, url)
    if hls_playlist.is_master(parsed):
        kwargs = {"codecs": codecs} if codecs else {}
        variant = variants.choose_variant(parsed, quality, **kwargs)
        body, final = http.fetch(variant.url, max_bytes=PLAYLIST_LIMIT, what="variant playlist")
        parsed = hls_playlist.parse(body, final)
    segs = hls_playlist.segments(parsed)
    if any(s.init is not None for s in segs) or any(
            urlsplit(s.url).path.lower().endswith(M4S_SUFFIXES) for s in segs[:3]):
        return "hls_m4s"
    if not hls_playlist.is_endlist(parsed):
        return "hls_live"
    return "hls_basic"
