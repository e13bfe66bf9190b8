"""Playlist text -> m3u8 objects with absolute URIs; media playlist -> flat segment descriptions.

Download logic never re-parses a playlist: `segments()` turns one into a list of `Segment`
(URL, byte range, key, init section, sequence numbers, ad and gap marking), as yt-dlp does.

Playlists as services write them (RFC 8216bis): EXT-X-DEFINE variables are substituted in the
text before m3u8 reads it; low-latency parts (EXT-X-PART, EXT-X-PRELOAD-HINT) are left aside and
only whole segments recorded; a delta update (EXT-X-SKIP) keeps the media sequence numbering; a
trailing EXTINF whose URI is still being written is dropped; EXT-X-GAP segments are marked `gap`;
an I-frame-only playlist is refused.
"""

import logging
import math
import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, Dict, List, Optional, Sequence, Set, Tuple
from urllib.parse import parse_qs, urljoin, urlsplit

from .. import drm
from .._m3u8 import m3u8
from ..errors import DrmProtectedError, InvalidStreamError, RecorderError

log = logging.getLogger(__name__)

MAX_PLAYLIST_CHARS = 16 << 20
MAX_PLAYLIST_BYTES = MAX_PLAYLIST_CHARS  # the download cap for a playlist
# A week of 2 s segments; more is a broken or hostile playlist, not a recording.
MAX_SEGMENTS = 300_000

# Tags whose loss would change what gets downloaded or hide DRM: a malformed one fails the
# playlist instead of being dropped.
_ESSENTIAL_TAGS = ("#EXTINF", "#EXT-X-KEY", "#EXT-X-SESSION-KEY", "#EXT-X-MAP", "#EXT-X-BYTERANGE",
                   "#EXT-X-MEDIA-SEQUENCE", "#EXT-X-DISCONTINUITY-SEQUENCE")
_SALVAGE_LINE_LIMIT = 2000   # distinct tag lines tried one by one when the whole text fails
_AD_EPSILON = 0.5            # seconds: rounding slack when a break's duration runs out


@dataclass(frozen=True)
class Key:
    """An AES-128 key reference (EXT-X-KEY METHOD=AES-128)."""

    method: str
    uri: str
    iv: Optional[bytes] = None
    keyformat: Optional[str] = None


@dataclass(frozen=True)
class InitSection:
    """An EXT-X-MAP media initialization section; byterange is (offset, length)."""

    url: str
    byterange: Optional[Tuple[int, int]] = None


@dataclass(frozen=True)
class Segment:
    """One media segment, everything needed to fetch and place it; byterange is (offset, length)."""

    url: str
    media_sequence: int
    discontinuity_sequence: int
    duration: float
    byterange: Optional[Tuple[int, int]] = None
    key: Optional[Key] = None
    init: Optional[InitSection] = None
    discontinuity: bool = False
    program_date_time: Optional[datetime] = None
    is_ad: bool = False
    title: str = ""
    # EXT-X-GAP: the server has no media for this segment. It must not be requested; its
    # `duration` seconds count as missing media (the stop message's missing_s).
    gap: bool = False


# --- EXT-X-PROGRAM-DATE-TIME --------------------------------------------------------------------

_PDT_RE = re.compile(
    r"([0-9]{4})-([0-9]{2})-([0-9]{2})[Tt ]([0-9]{2}):([0-9]{2})(?::([0-9]{2})(?:[.,]([0-9]+))?)?"
    r"\s*(?:([Zz])|([+-])([0-9]{2})(?::?([0-9]{2}))?)?")


def parse_pdt(value: str) -> datetime:
    """Tolerant ISO 8601 date-time (Z, +0000, +00:00, any fraction) that works on Python 3.8."""
    # Built by hand: datetime.fromisoformat before 3.11 rejects 'Z', '+0000' and short fractions.
    match = _PDT_RE.fullmatch(value.strip()) if isinstance(value, str) else None
    if match is None:
        raise InvalidStreamError("unreadable date-time %r" % (str(value)[:40],))
    year, month, day, hour, minute = (int(match.group(i)) for i in range(1, 6))
    second = int(match.group(6) or 0)
    microsecond = int(((match.group(7) or "") + "000000")[:6])  # nanoseconds are truncated
    if second == 60:  # a leap second: datetime cannot hold it
        second, microsecond = 59, 999999
    try:
        tz = timezone.utc  # no offset given: UTC, so every value stays comparable
        if match.group(9):
            offset = timedelta(hours=int(match.group(10)), minutes=int(match.group(11) or 0))
            tz = timezone(-offset if match.group(9) == "-" else offset)
        return datetime(year, month, day, hour, minute, second, microsecond, tzinfo=tz)
    except (ValueError, OverflowError):
        raise InvalidStreamError("date-time out of range: %r" % (value.strip()[:40],)) from None


def _date_or_none(value: Any) -> Optional[datetime]:
    try:
        return parse_pdt(value)
    except RecorderError:
        return None


# --- parsing ------------------------------------------------------------------------------------

def parse(text: str, url: str, imports: Optional[Dict[str, str]] = None) -> m3u8.M3U8:
    """Parse playlist text fetched through the session; every URI becomes absolute against `url`.

    `imports`: the EXT-X-DEFINE variables of the master playlist this media playlist was chosen
    from (its `variables` attribute; hls.plan passes them on).
    """
    if isinstance(text, (bytes, bytearray)):
        text = bytes(text).decode("utf-8", "replace")
    text = text or ""
    if len(text) > MAX_PLAYLIST_CHARS:
        raise InvalidStreamError("playlist too large (%d characters, the limit is 16 MiB)" % len(text))
    body = text.lstrip("\ufeff \t\r\n")
    if not body.startswith("#EXTM3U"):
        raise InvalidStreamError("not an HLS playlist (no #EXTM3U header): the server sent %s"
                                 % _describe(body))
    lines = _normalise(body.splitlines())
    entries = sum(1 for line in lines if line.startswith(("#EXTINF", "#EXT-X-STREAM-INF")))
    if entries > MAX_SEGMENTS:
        raise InvalidStreamError("playlist has %d entries, the limit is %d" % (entries, MAX_SEGMENTS))
    lines, variables = _substitute(lines, url, imports)
    playlist = _load(lines, url)
    _make_absolute(playlist, url)
    _drop_unfinished(playlist)
    playlist.variables = variables
    return playlist


def parse_checked(body: bytes, url: str, imports: Optional[Dict[str, str]] = None) -> m3u8.M3U8:
    """parse() of a fetched playlist body; a DRM-protected one raises drm_protected, an
    I-frame-only one (trick play) invalid_stream."""
    playlist = parse(body, url, imports)
    drm.check(playlist)
    check_recordable(playlist)
    return playlist


def check_recordable(playlist: m3u8.M3U8) -> None:
    """Raise invalid_stream for a playlist that lists no stream to record (EXT-X-I-FRAMES-ONLY)."""
    if getattr(playlist, "is_i_frames_only", False):
        raise InvalidStreamError("an I-frame-only playlist (trick play), not a stream to record")


def _describe(body: str) -> str:
    head = body[:512].lower()
    if not body.strip():
        return "an empty response"
    if "\x00" in head or head.count("\ufffd") > 4:
        return "binary data"
    if (head.startswith("<?xml") and "<mpd" in head) or head.startswith("<mpd"):
        return "a DASH manifest (MPD), which is not HLS"
    if head.startswith("<") or "<html" in head:
        return "an HTML page (an error or login page?)"
    if head.startswith(("{", "[")):
        return "JSON"
    return "text that is not a playlist"


# Low-latency HLS: parts of segments and hints of the next part. Whole segments are recorded
# (as ffmpeg, yt-dlp and streamlink do); m3u8 would turn the parts of the unfinished last segment
# into a segment without URI or duration and add part durations to the date-times.
_LL_PART_TAGS = ("#EXT-X-PART:", "#EXT-X-PRELOAD-HINT:")


def _normalise(lines: List[str]) -> List[str]:
    """Rewrite the few tags m3u8 reads too strictly; drop unreadable date-times and LL-HLS parts."""
    out = []
    for line in lines:
        stripped = line.strip()
        if stripped.startswith(_LL_PART_TAGS):
            continue
        if stripped.startswith("#EXT-X-PROGRAM-DATE-TIME"):
            # m3u8 calls datetime.fromisoformat, which before 3.11 rejects 'Z', '+0000' and short
            # fractions: hand it one canonical form that every Python accepts.
            value = stripped.partition(":")[2]
            pdt = _date_or_none(value)
            if pdt is None:
                log.warning("ignoring unreadable EXT-X-PROGRAM-DATE-TIME %r", value[:40])
                continue
            line = "#EXT-X-PROGRAM-DATE-TIME:" + pdt.isoformat(timespec="microseconds")
        elif stripped.startswith("#EXT-X-TARGETDURATION"):
            line = _fix_target_duration(stripped)
            if not line:
                continue
        elif stripped.startswith("#EXT-X-STREAM-INF") and not _BANDWIDTH_RE.search(stripped):
            # BANDWIDTH is required, yet some servers omit it; m3u8 would fail the whole master.
            line = stripped + ("BANDWIDTH=0" if stripped.endswith(":") else
                               ",BANDWIDTH=0" if ":" in stripped else ":BANDWIDTH=0")
        out.append(line)
    return out


_BANDWIDTH_RE = re.compile(r"[:,]\s*BANDWIDTH\s*=", re.IGNORECASE)


def _fix_target_duration(line: str) -> str:
    value = line.partition(":")[2].strip()
    try:
        int(value)
        return line
    except ValueError:
        pass
    try:
        seconds = float(value)
        if math.isfinite(seconds) and seconds >= 0:
            return "#EXT-X-TARGETDURATION:%d" % math.ceil(seconds)  # '6.006' seen in the wild
    except ValueError:
        pass
    log.warning("ignoring unreadable EXT-X-TARGETDURATION %r", value[:20])
    return ""


# --- EXT-X-DEFINE (RFC 8216bis 4.3 and 4.4.2.3) -----------------------------------------------

_DEFINE = "#EXT-X-DEFINE"
_VAR_NAME_RE = re.compile(r"[A-Za-z0-9_-]+")
_VAR_REF_RE = re.compile(r"\{\$([^}\s\"]*)\}")
_QUOTED_RE = re.compile(r'"[^"]*"')
_ATTR_RE = re.compile(r'\s*([A-Za-z0-9-]+)\s*=\s*("[^"]*"|[^,]*)\s*(?:,|$)')
_MASTER_TAGS = ("#EXT-X-STREAM-INF", "#EXT-X-I-FRAME-STREAM-INF", "#EXT-X-MEDIA:",
                "#EXT-X-SESSION-")


def _attributes(value: str) -> Dict[str, str]:
    attrs: Dict[str, str] = {}
    pos = 0
    value = value.strip()
    while pos < len(value):
        match = _ATTR_RE.match(value, pos)
        if match is None or match.end() == pos:
            raise InvalidStreamError("malformed EXT-X-DEFINE tag: %r" % (value[:80],))
        attrs[match.group(1).upper()] = match.group(2).strip().strip('"')
        pos = match.end()
    return attrs


def _substitute(lines: List[str], url: str,
                imports: Optional[Dict[str, str]]) -> Tuple[List[str], Dict[str, str]]:
    """Apply EXT-X-DEFINE: variables replace {$name} in URI lines and quoted attribute values
    after their definition; an undefined reference fails the playlist, as 8216bis requires."""
    if not any(line.startswith(_DEFINE) or "{$" in line for line in lines):
        return lines, {}
    master = (any(line.startswith(_MASTER_TAGS) for line in lines)
              and not any(line.startswith("#EXTINF") for line in lines))
    variables: Dict[str, str] = {}
    out = []

    def replace(match: "re.Match[str]") -> str:
        name = match.group(1)
        if name not in variables:
            raise InvalidStreamError(
                "the playlist uses the variable {$%s}, which no EXT-X-DEFINE before it defines"
                % name[:40])
        return variables[name]

    for line in lines:
        stripped = line.strip()
        if stripped.startswith(_DEFINE):
            name, value = _define(stripped, url, imports, master)
            if name in variables:
                raise InvalidStreamError("EXT-X-DEFINE defines the variable %r twice" % name)
            variables[name] = value
            continue  # m3u8 does not know the tag; nothing else needs it
        if "{$" in stripped:
            if stripped.startswith("#"):
                line = _QUOTED_RE.sub(lambda q: _VAR_REF_RE.sub(replace, q.group(0)), stripped)
            else:
                line = _VAR_REF_RE.sub(replace, stripped)
        out.append(line)
    return out, variables


def _define(line: str, url: str, imports: Optional[Dict[str, str]], master: bool) -> Tuple[str, str]:
    attrs = _attributes(line.partition(":")[2])
    kinds = [k for k in ("NAME", "IMPORT", "QUERYPARAM") if k in attrs]
    if len(kinds) != 1:
        raise InvalidStreamError("EXT-X-DEFINE needs exactly one of NAME, IMPORT or QUERYPARAM: %r"
                                 % (line[:80],))
    kind = kinds[0]
    name = attrs[kind]
    if not _VAR_NAME_RE.fullmatch(name):
        raise InvalidStreamError("EXT-X-DEFINE: invalid variable name %r" % (name[:40],))
    if kind == "NAME":
        if "VALUE" not in attrs:
            raise InvalidStreamError("EXT-X-DEFINE NAME=%s without a VALUE" % name)
        return name, attrs["VALUE"]
    if kind == "QUERYPARAM":
        try:
            query = parse_qs(urlsplit(url).query, keep_blank_values=True)
        except ValueError:
            query = {}
        if name not in query:
            raise InvalidStreamError("EXT-X-DEFINE QUERYPARAM=%s: the playlist URL has no query "
                                     "parameter %r" % (name, name))
        return name, query[name][0]
    if master:
        raise InvalidStreamError("EXT-X-DEFINE IMPORT=%s in a master playlist (only media "
                                 "playlists import variables)" % name)
    if imports is None or name not in imports:
        raise InvalidStreamError("EXT-X-DEFINE IMPORT=%s: the master playlist defines no variable "
                                 "%r (or this media playlist was not loaded from a master)"
                                 % (name, name))
    return name, imports[name]


def _drop_unfinished(playlist: m3u8.M3U8) -> None:
    """A trailing entry without URI is still being written (an EXTINF whose URI line is not
    there yet): not a segment; the next reload lists it complete."""
    segs = getattr(playlist, "segments", None)
    while segs and not getattr(segs[-1], "uri", None):
        log.debug("ignoring the unfinished last playlist entry (no URI yet)")
        segs.pop()


def _load(lines: List[str], url: str) -> m3u8.M3U8:
    base = _join(url, ".") or url
    try:
        return m3u8.M3U8("\n".join(lines), base_uri=base)
    except Exception as exc:  # m3u8 raises ValueError, KeyError, TypeError... on malformed tags
        error = exc
    bad = _unreadable_tags(lines)
    essential = sorted({line.split(":", 1)[0] for line in bad if line.startswith(_ESSENTIAL_TAGS)})
    if essential or not bad:
        what = "malformed %s tag" % ", ".join(essential) if essential else type(error).__name__
        raise InvalidStreamError("unreadable playlist (%s)" % what)
    log.warning("ignoring %d malformed tag line(s): %s", len(bad),
                ", ".join(sorted({line.split(":", 1)[0] for line in bad})))
    try:
        return m3u8.M3U8("\n".join(line for line in lines if line.strip() not in bad), base_uri=base)
    except Exception as exc:
        raise InvalidStreamError("unreadable playlist (%s)" % type(exc).__name__) from None


def _unreadable_tags(lines: List[str]) -> Set[str]:
    """Tag lines that m3u8 cannot read even on their own (tried in a segment and a variant context)."""
    seen: Set[str] = set()
    bad: Set[str] = set()
    for line in lines:
        stripped = line.strip()
        if not stripped.startswith("#EXT") or stripped in seen or stripped.startswith("#EXT-X-BYTERANGE"):
            continue  # m3u8 keeps BYTERANGE as text; segments() checks it
        seen.add(stripped)
        if len(seen) > _SALVAGE_LINE_LIMIT:
            break
        for context in ("\n#EXTINF:1,\nx.ts", "\nx.m3u8"):
            try:
                m3u8.M3U8("#EXTM3U\n" + stripped + context)
            except Exception:
                bad.add(stripped)
                break
    return bad


def _join(base: str, uri: str) -> Optional[str]:
    try:
        return urljoin(base, uri)
    except ValueError:  # e.g. a malformed IPv6 host
        return None


def _make_absolute(playlist: m3u8.M3U8, url: str) -> None:
    """Resolve every URI against the final playlist URL (after redirects), as clients must."""
    def fix(obj: Any) -> None:
        value = getattr(obj, "uri", None) if obj is not None else None
        if isinstance(value, str) and value:
            joined = _join(url, value)
            if joined is None:
                log.debug("leaving malformed URI as it is: %r", value[:80])
            else:
                obj.uri = joined

    for seg in getattr(playlist, "segments", ()):
        fix(seg)
        fix(getattr(seg, "init_section", None))
        for part in getattr(seg, "parts", None) or ():
            fix(part)
    for attr in ("keys", "session_keys", "segment_map", "media", "playlists", "iframe_playlists",
                 "image_playlists", "rendition_reports"):
        for obj in getattr(playlist, attr, None) or ():
            fix(obj)
    fix(getattr(playlist, "preload_hint", None))
    fix(getattr(playlist, "content_steering", None))


# --- segments -----------------------------------------------------------------------------------

def segments(playlist: m3u8.M3U8) -> List[Segment]:
    """Flat, ordered segment descriptions of a media playlist (byte ranges, keys, maps, ads)."""
    try:
        return _segments(playlist)
    except RecorderError:
        raise
    except Exception as exc:  # the contract: only the project's errors leave this module
        log.debug("segments() failed", exc_info=True)
        raise InvalidStreamError("unreadable media playlist (%s)" % type(exc).__name__) from None


def _segments(playlist: m3u8.M3U8) -> List[Segment]:
    check_recordable(playlist)
    msegs = list(getattr(playlist, "segments", None) or ())
    while msegs and not getattr(msegs[-1], "uri", None):
        msegs.pop()  # still being written (parse() drops it already)
    # A delta update (EXT-X-SKIP) leaves out the first SKIPPED-SEGMENTS segments, which the
    # client already has: the listed ones come after them.
    first_sequence = _int(getattr(playlist, "media_sequence", 0)) + _skipped(playlist)
    disc_sequence = _int(getattr(playlist, "discontinuity_sequence", 0))
    ads = _ad_flags(msegs)
    keys: Dict[int, Optional[Key]] = {}
    range_end: Dict[str, int] = {}
    out = []
    for index, ms in enumerate(msegs):
        url = ms.uri or ""
        discontinuity = bool(getattr(ms, "discontinuity", False))
        if discontinuity:
            disc_sequence += 1  # each EXT-X-DISCONTINUITY starts the next discontinuity sequence
        byterange = None
        if getattr(ms, "byterange", None):
            length, offset = _byterange(ms.byterange)
            if offset is None:  # implicit: continues right after the previous range of this URI
                offset = range_end.get(url, 0)
            byterange = (offset, length)
            range_end[url] = offset + length
        else:
            range_end.pop(url, None)
        mkey = getattr(ms, "key", None)
        if id(mkey) not in keys:
            keys[id(mkey)] = _key(mkey)
        out.append(Segment(
            url=url,
            media_sequence=first_sequence + index,
            discontinuity_sequence=disc_sequence,
            duration=_seconds(getattr(ms, "duration", None)) or 0.0,
            byterange=byterange,
            key=keys[id(mkey)],
            init=_init(getattr(ms, "init_section", None)),
            discontinuity=discontinuity,
            program_date_time=(getattr(ms, "current_program_date_time", None)
                               or getattr(ms, "program_date_time", None)),
            is_ad=ads[index],
            title=str(getattr(ms, "title", None) or ""),
            gap=bool(getattr(ms, "gap_tag", None)),
        ))
    return out


def _skipped(playlist: m3u8.M3U8) -> int:
    skip = getattr(playlist, "skip", None)
    count = _int(getattr(skip, "skipped_segments", 0)) if skip else 0
    return max(0, count)


def _int(value: Any) -> int:
    try:
        return int(value or 0)
    except (TypeError, ValueError, OverflowError):
        return 0


def _seconds(value: Any) -> Optional[float]:
    """A non-negative finite number of seconds, or None."""
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        return None
    return seconds if math.isfinite(seconds) and seconds >= 0 else None


_BYTERANGE_RE = re.compile(r"\s*([0-9]+)\s*(?:@\s*([0-9]+))?\s*")


def _byterange(value: str) -> Tuple[int, Optional[int]]:
    """'length[@offset]' -> (length, offset or None)."""
    match = _BYTERANGE_RE.fullmatch(str(value).strip('"'))
    if match is None or int(match.group(1)) == 0:
        raise InvalidStreamError("invalid BYTERANGE %r" % (str(value)[:40],))
    offset = match.group(2)
    return int(match.group(1)), (int(offset) if offset is not None else None)


def _init(section: Any) -> Optional[InitSection]:
    if section is None or not getattr(section, "uri", None):
        return None
    byterange = None
    if getattr(section, "byterange", None):
        length, offset = _byterange(section.byterange)
        byterange = (offset or 0, length)
    return InitSection(section.uri, byterange)


def _key(mkey: Any) -> Optional[Key]:
    if mkey is None:
        return None
    method = str(getattr(mkey, "method", None) or "NONE").strip().upper()
    if method == "NONE":
        return None
    keyformat = getattr(mkey, "keyformat", None)
    if method != "AES-128":
        scheme = drm.scheme(method, keyformat)
        if scheme:
            raise DrmProtectedError("the stream is protected by %s" % scheme)
        raise RecorderError("unsupported encryption (EXT-X-KEY METHOD=%s)" % method[:30])
    if not getattr(mkey, "uri", None):
        raise InvalidStreamError("EXT-X-KEY METHOD=AES-128 without a URI")
    return Key("AES-128", mkey.uri, _iv(getattr(mkey, "iv", None)), keyformat)


def _iv(value: Any) -> Optional[bytes]:
    if not value:
        return None
    digits = str(value).strip()
    if digits[:2] in ("0x", "0X"):
        digits = digits[2:]
    if not digits or len(digits) > 32 or not all(c in "0123456789abcdefABCDEF" for c in digits):
        raise InvalidStreamError("invalid EXT-X-KEY IV %r" % (str(value)[:40],))
    return bytes.fromhex(digits.rjust(32, "0"))


def iv_for(key: Key, media_sequence: int) -> bytes:
    """The key's IV, else the media sequence number as a 16-byte big-endian integer (RFC 8216 5.2)."""
    if key.iv is not None:
        return key.iv
    return (int(media_sequence) & ((1 << 128) - 1)).to_bytes(16, "big")


# --- ad breaks ----------------------------------------------------------------------------------

def _is_break_start(dr: Any) -> bool:
    if getattr(dr, "scte35_out", None) is not None:
        return True
    has_duration = _seconds(getattr(dr, "duration", None)) or _seconds(getattr(dr, "planned_duration", None))
    return getattr(dr, "scte35_cmd", None) is not None and bool(has_duration)


def _is_break_end(dr: Any) -> bool:
    return getattr(dr, "scte35_in", None) is not None


def _break_duration(dr: Any) -> Optional[float]:
    return _seconds(getattr(dr, "duration", None)) or _seconds(getattr(dr, "planned_duration", None))


def _daterange_windows(msegs: Sequence[Any]) -> List[Tuple[datetime, Optional[datetime]]]:
    """Dated SCTE-35 breaks: (start, end or None while the break is still open)."""
    starts: Dict[str, Tuple[datetime, Optional[datetime]]] = {}
    ends: Dict[str, datetime] = {}
    for ms in msegs:
        for dr in getattr(ms, "dateranges", None) or ():
            rid = str(getattr(dr, "id", ""))
            start = _date_or_none(getattr(dr, "start_date", None))
            if _is_break_start(dr) and start is not None:
                seconds = _break_duration(dr)
                end = _date_or_none(getattr(dr, "end_date", None))
                if end is None and seconds:
                    end = start + timedelta(seconds=min(seconds, 86400.0))
                starts[rid] = (start, end)
            if _is_break_end(dr):
                end = start or _date_or_none(getattr(dr, "end_date", None))
                if end is not None:
                    ends[rid] = end
    return [(start, ends.get(rid, end)) for rid, (start, end) in starts.items()]


def _in_window(pdt: Optional[datetime], windows: List[Tuple[datetime, Optional[datetime]]]) -> bool:
    if pdt is None:
        return False
    slack = timedelta(seconds=_AD_EPSILON)
    for start, end in windows:
        try:
            if start - slack <= pdt and (end is None or pdt < end - slack):
                return True
        except TypeError:  # naive vs aware date-times from an unusual m3u8 version
            continue
    return False


def _ad_flags(msegs: Sequence[Any]) -> List[bool]:
    """is_ad per segment: EXT-X-CUE-OUT/-CONT/-IN and EXT-X-DATERANGE SCTE35 breaks."""
    windows = _daterange_windows(msegs)
    flags = []
    cue = False
    cue_left: Optional[float] = None
    open_ranges: Dict[str, Optional[float]] = {}  # undated DATERANGE breaks: id -> seconds left
    for ms in msegs:
        if getattr(ms, "cue_in", False):
            cue, cue_left = False, None
        if getattr(ms, "cue_out_start", False):
            cue, cue_left = True, _seconds(getattr(ms, "scte35_duration", None))
        elif getattr(ms, "cue_out", False):
            cue = True
            total = _seconds(getattr(ms, "scte35_duration", None))
            elapsed = _seconds(getattr(ms, "scte35_elapsedtime", None))
            if total is not None and elapsed is not None:
                cue_left = total - elapsed
        pdt = getattr(ms, "current_program_date_time", None)
        for dr in getattr(ms, "dateranges", None) or ():
            rid = str(getattr(dr, "id", ""))
            dated = pdt is not None and _date_or_none(getattr(dr, "start_date", None)) is not None
            if _is_break_start(dr) and not dated:
                open_ranges[rid] = _break_duration(dr)
            if _is_break_end(dr):
                open_ranges.pop(rid, None)
        flags.append(cue or bool(open_ranges) or _in_window(pdt, windows))
        # Breaks that announced a duration end when it has run out, even without a CUE-IN.
        duration = _seconds(getattr(ms, "duration", None)) or 0.0
        if cue and cue_left is not None:
            cue_left -= duration
            if cue_left < _AD_EPSILON:
                cue, cue_left = False, None
        for rid, left in list(open_ranges.items()):
            if left is not None:
                if left - duration < _AD_EPSILON:
                    del open_ranges[rid]
                else:
                    open_ranges[rid] = left - duration
    return flags


# --- playlist kind ------------------------------------------------------------------------------

def is_master(playlist: m3u8.M3U8) -> bool:
    """A master (multivariant) playlist: variants, no segments of its own."""
    return bool(getattr(playlist, "is_variant", False)) and not getattr(playlist, "segments", None)


def is_endlist(playlist: m3u8.M3U8) -> bool:
    """No more segments will come: EXT-X-ENDLIST, or PLAYLIST-TYPE VOD (which cannot change)."""
    if getattr(playlist, "is_endlist", False):
        return True
    return str(getattr(playlist, "playlist_type", None) or "").strip().lower() == "vod"
