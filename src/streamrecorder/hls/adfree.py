"""A media playlist rewritten without its ad segments, for ffmpeg (which cannot skip them)."""

import math
from typing import Any, Dict, List, Optional, Sequence, Set

from .playlist import Segment, iv_for


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
        # Ads stay ads once seen: a live window that has scrolled past the EXT-X-CUE-OUT no longer
        # marks the rest of its break.
        self._ads: Set[int] = set()

    def render(self, segs: Sequence[Segment], live: bool) -> bytes:
        target = max([1] + [int(math.ceil(s.duration)) for s in segs])
        body: List[str] = []
        first: Optional[int] = None
        key: Any = False
        init: Any = False
        dropped = False
        for seg in segs:
            if (seg.is_ad and seg.media_sequence not in self._numbers) \
                    or seg.media_sequence in self._ads:
                self._ads.add(seg.media_sequence)
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
                        iv_for(key, seg.media_sequence).hex())
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
