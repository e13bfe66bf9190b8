"""Live playlist policy: which segments are new, when to reload, when a stream has stalled,
how an outage is ridden out and how much media it cost.

Pure logic: no I/O, and the clock is injectable, so every rule is testable without waiting.
"""

import logging
import math
import time
from typing import Any, Callable, Dict, List, Optional, Tuple
from urllib.parse import urlsplit

from ..errors import NotFoundError, StreamTimeoutError
from .playlist import Segment

log = logging.getLogger(__name__)

MIN_RELOAD = 0.5        # seconds: a broken tiny TARGETDURATION must not turn into a busy loop
MAX_RELOAD = 300.0      # seconds: nor may an absurd one park the recorder for hours
DEFAULT_TARGET = 6.0    # seconds, when a playlist gives no usable TARGETDURATION
HISTORY_WINDOWS = 3     # playlist lengths of segment identities remembered for stale/reset checks


def _positive(value: Any) -> Optional[float]:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) and number > 0 else None


def _name(url: str) -> str:
    """Identity of a segment URL that survives rotating tokens (query strings, path prefixes)."""
    try:
        path = urlsplit(url).path
    except ValueError:
        return url
    return path.rsplit("/", 1)[-1] or url


class LiveWindow:
    """Tracks which segments of successive live playlist reloads are new.

    Segments are ordered by media sequence number. A reload is the same timeline when one of its
    segments matches a remembered one: same media sequence, same file name (query strings and
    directories may carry rotating tokens) and a discontinuity sequence that did not go up.
    Lower discontinuity sequences are tolerated because servers that omit
    EXT-X-DISCONTINUITY-SEQUENCE renumber when a discontinuity slides out of the window.

    - Same timeline: the segments above the newest one seen are new (a stale reload from a lagging
      CDN edge yields nothing, and nothing is fetched twice).
    - No remembered segment in common and numbers above the newest seen: the window moved on
      (e.g. after an outage); all of it is new and the numbers in between count as `missed`.
    - Otherwise (numbers went backwards, or the same numbers now name other files or a higher
      discontinuity sequence): the stream restarted. The new window is new content and recording
      continues from its end minus `start_behind` segments, the same rule as the first load, so a
      restart never makes the recorder skip everything until the old numbers come round again.
    """

    def __init__(self, start_behind: int) -> None:
        self.start_behind = max(1, int(start_behind))
        self.changed = False
        self.missed = 0    # media sequence numbers that left the window before they were listed
        self.resets = 0    # restarts of the media sequence seen
        self._newest: Optional[int] = None
        self._known: Dict[int, Tuple[int, str]] = {}  # media sequence -> (discontinuity seq, name)

    def update(self, segs: List[Segment]) -> List[Segment]:
        """New segments of this reload, in playlist order; sets `changed`."""
        segs = list(segs)
        if not segs:
            self.changed = False
            return []
        if self._newest is None:
            new = segs[-self.start_behind:]  # start at the live edge minus start_behind segments
            self._newest = segs[-1].media_sequence
        else:
            new = self._advance(segs)
        self._remember(segs)
        self.changed = bool(new)
        return new

    def _advance(self, segs: List[Segment]) -> List[Segment]:
        newest = self._newest if self._newest is not None else segs[-1].media_sequence
        common = contradicts = False
        for seg in segs:
            known = self._known.get(seg.media_sequence)
            if known is None:
                continue
            if seg.discontinuity_sequence <= known[0] and _name(seg.url) == known[1]:
                common = True
            else:
                contradicts = True
        if common or (not contradicts and segs[-1].media_sequence > newest):
            new = [s for s in segs if s.media_sequence > newest]
            if new and new[0].media_sequence > newest + 1:
                gap = new[0].media_sequence - newest - 1
                self.missed += gap
                log.warning("%d live segment(s) left the playlist before they could be fetched", gap)
            self._newest = max(newest, segs[-1].media_sequence)
            return new
        self.resets += 1
        log.warning("live playlist restarted (media sequence %d..%d after %d): recording the new "
                    "window from its last %d segment(s)", segs[0].media_sequence,
                    segs[-1].media_sequence, newest, min(self.start_behind, len(segs)))
        self._known.clear()
        self._newest = segs[-1].media_sequence
        return segs[-self.start_behind:]

    def _remember(self, segs: List[Segment]) -> None:
        for seg in segs:
            self._known[seg.media_sequence] = (seg.discontinuity_sequence, _name(seg.url))
        oldest = segs[-1].media_sequence - HISTORY_WINDOWS * max(len(segs), 10)
        if len(self._known) > HISTORY_WINDOWS * max(len(segs), 10):
            self._known = {k: v for k, v in self._known.items() if k > oldest}


def reload_delay(target_duration: float, changed: bool, last_segment_duration: Optional[float],
                 elapsed_since_request_start: float) -> float:
    """Seconds until the next reload (RFC 8216 6.3.4), counted from the previous request's start."""
    target = _positive(target_duration) or _positive(last_segment_duration) or DEFAULT_TARGET
    if changed:
        # RFC 8216: at least the target duration; 8216bis: at least the last segment's duration.
        wait = _positive(last_segment_duration) or target
    else:
        wait = target / 2.0
    wait = min(max(wait, MIN_RELOAD), MAX_RELOAD)
    elapsed = _positive(elapsed_since_request_start) or 0.0
    return max(0.0, wait - elapsed)


class StallDetector:
    """Ends a live recording whose playlist stopped changing for max(6 target durations, floor=30 s)."""

    MIN_STALL = 30.0
    TARGETS = 6

    def __init__(self, clock: Callable[[], float] = time.monotonic, floor: float = MIN_STALL) -> None:
        self._clock = clock
        self.floor = floor  # the 30 s minimum; tests of whole recorders lower it
        self._since = clock()

    def excuse(self, seconds: float) -> None:
        """Leave `seconds` out of the stall time: an outage is no unchanged playlist (the outage
        limit covers it), so a playlist answering again gets its stall limit afresh."""
        self._since = min(self._clock(), self._since + max(0.0, seconds))

    @property
    def stalled_for(self) -> float:
        """Seconds since the playlist last changed."""
        return max(0.0, self._clock() - self._since)

    def observe(self, changed: bool, target_duration: float) -> None:
        """Record a reload; raise StreamTimeoutError when the playlist has not changed too long."""
        now = self._clock()
        if changed:
            self._since = now
            return
        limit = max(self.TARGETS * (_positive(target_duration) or 0.0), self.floor)
        stalled = now - self._since
        if stalled > limit:
            raise StreamTimeoutError(
                "the live playlist has not changed for %.0f s (limit %.0f s): the stream ended "
                "or stalled" % (stalled, limit))


class Outage:
    """A live playlist that fails to load (refused, reset, timed out, 5xx, 404/410).

    Reloads go on. While the playlist's window would still list what was published since the
    outage began (its media time: `window_s`), at the usual pace (`usual`, half the target
    duration: nothing is lost to a short hiccup); after that with exponential backoff, 1 s
    doubling up to 30 s and at most half the window, so the recorder is back before segments
    published after the server's return leave the window. After `limit` seconds of failures
    the recording ends: not_found when the last answer was 404/410, else timeout.
    """

    BASE = 1.0
    CAP = 30.0
    LIMIT = 600.0

    def __init__(self, clock: Callable[[], float] = time.monotonic, limit: float = LIMIT,
                 base: float = BASE, cap: float = CAP) -> None:
        self._clock = clock
        self.limit = limit
        self.base = base
        self.cap = cap
        self.since: Optional[float] = None  # the first failed reload of this outage
        self.failures = 0
        self.delay = 0.0  # from the start of the last failed reload to the next one

    @property
    def active(self) -> bool:
        return self.since is not None

    def failed(self, error: Exception, window_s: Optional[float] = None,
               usual: Optional[float] = None) -> None:
        """Count a failed reload and set `delay`; raise once the outage outlasts the limit."""
        now = self._clock()
        if self.since is None:
            self.since = now
        self.failures += 1
        lasted = now - self.since
        if lasted > self.limit:
            if isinstance(error, NotFoundError):
                raise error  # gone for good: a dead link, not a slow one
            raise StreamTimeoutError("the live playlist could not be loaded for %.0f s (limit "
                                     "%.0f s): %s" % (lasted, self.limit, error))
        window = _positive(window_s) or 0.0
        if usual is not None and lasted < window:
            self.delay = usual
            return
        cap = min(self.cap, max(self.base, window / 2.0)) if window else self.cap
        # waiting as long as the backoff has lasted so far doubles each wait: 1, 1, 2, 4, 8 ...
        self.delay = min(cap, max(self.base, lasted - (window if usual is not None else 0.0)))

    def ended(self) -> float:
        """The playlist answers again: how long the outage lasted (0.0 when there was none)."""
        if self.since is None:
            return 0.0
        lasted = max(0.0, self._clock() - self.since)
        self.since, self.failures, self.delay = None, 0, 0.0
        return lasted


def missing_media(before: Optional[Segment], new: List[Segment], away_s: float) -> Tuple[float, str]:
    """Seconds of media between `before` (the newest segment listed earlier) and new[0] when
    segments left the window unseen, and how that was estimated.

    EXT-X-PROGRAM-DATE-TIME on both sides gives it directly; without it, the media a live
    stream made while the playlist was away (`away_s`, from the last good reload to this one)
    less what the new window still lists.
    """
    first = new[0] if new else None
    if (first is not None and before is not None and first.program_date_time is not None
            and before.program_date_time is not None):
        gap = (first.program_date_time - before.program_date_time).total_seconds() - before.duration
        return max(0.0, gap), "EXT-X-PROGRAM-DATE-TIME"
    return max(0.0, away_s - sum(s.duration for s in new)), "the time the playlist was away"
