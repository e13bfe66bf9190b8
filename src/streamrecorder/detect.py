"""Recorder id from the URL's first bytes and, for a playlist, from its plan (`--recorder auto`)."""

import logging
from typing import Optional, Tuple
from urllib.parse import urlsplit

from .errors import InvalidStreamError
from .hls.plan import Plan, Planner
from .http import iter_body
from .mp4box import FIRST_BOXES

log = logging.getLogger(__name__)

PLAYLIST_LIMIT = 16 << 20


def looks_like_mp4(head: bytes) -> bool:
    return len(head) >= 8 and head[4:8] in FIRST_BOXES and head[4:8] != b"moof"


def looks_like_playlist(head: bytes) -> bool:
    return head.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"#EXTM3U")


def detect(url: str, planner: Planner) -> Tuple[str, Optional[Plan]]:
    """(mp4 | hls_basic | hls_live | hls_m4s, the HLS plan or None); InvalidStreamError when
    the URL is neither an MP4 file nor an HLS playlist."""
    with planner.http.stream(url, what="stream detection") as resp:
        ctype = resp.headers.get("Content-Type", "").split(";")[0].strip().lower()
        final_url = resp.url
        body = bytearray()
        for chunk in iter_body(resp, 64 * 1024):
            body += chunk
            if not looks_like_playlist(bytes(body[:16])):
                break  # not a playlist: the first bytes are enough, do not download a video
            if len(body) > PLAYLIST_LIMIT:
                raise InvalidStreamError("playlist larger than %d bytes" % PLAYLIST_LIMIT)
    head = bytes(body)
    if looks_like_mp4(head) or (ctype in ("video/mp4", "video/quicktime")
                                and not looks_like_playlist(head)):
        return "mp4", None
    if not looks_like_playlist(head):
        raise InvalidStreamError("%s is neither an MP4 file nor an HLS playlist (Content-Type %s)"
                                 % (urlsplit(url).path or url, ctype or "unknown"))
    plan = planner.plan(final_url, first=(head, final_url))
    return plan.recorder_id, plan
