"""One options object per recording, from a resolve_result (or the CLI, which builds one).

Every key architecture.md lists is read here: honoured, or refused with a clear message before
anything is fetched or cleaned up. Unknown keys are ignored. The recorder's constructor options
(the plugin's settings, the CLI's flags) are the defaults; the resolve_result's keys win.
"""

import logging
import re
from dataclasses import dataclass
from typing import Any, Mapping, Optional, Sequence, Tuple, Union

from .errors import RecorderError
from .ffmpeg import parse_header_lines
from .mediacodecs import DEFAULT_CODECS

log = logging.getLogger(__name__)

MAX_PARALLEL = 16
MAX_BUFFERING = 100
# Keys a resolve_result may carry that the recorders themselves do not read: the session and its
# tokens (http.prepare_session), the extra sink (manager), and two that are only for people.
PASSED_ON = ("resolved_url", "recorder_id", "rec_dir", "session", "auth_tokens", "socketserver",
             "original_url", "resolver", "recording_id")


Quality = Union[str, int]


# Descriptive labels resolvers and users write, as the maximum height they stand for.
QUALITY_LABELS = {"sd": 576, "hd": 720, "fhd": 1080, "uhd": 2160, "4k": 2160}


def parse_quality(quality: Any) -> Quality:
    """'best' | 'worst' | a maximum height from best/worst, 720, '720', '720p' or a label
    (SD 576, HD 720, FHD 1080, UHD/4K 2160); None or empty means best.

    Raises ValueError for anything else (the CLI refuses it; a resolve_result falls back to best).
    """
    if quality is None:
        return "best"
    if isinstance(quality, bool):
        raise ValueError("invalid quality %r" % (quality,))
    if isinstance(quality, int) and quality > 0:
        return quality
    if isinstance(quality, float) and quality.is_integer() and quality > 0:
        return int(quality)
    if isinstance(quality, str):
        text = quality.strip().lower()
        if not text or text in ("best", "worst"):
            return text or "best"
        if text in QUALITY_LABELS:
            return QUALITY_LABELS[text]
        match = re.fullmatch(r"([0-9]+)p?", text)
        if match and int(match.group(1)) > 0:
            return int(match.group(1))
    raise ValueError("invalid quality %r: use best, worst, a maximum height such as 720 or 720p, "
                     "or SD, HD, FHD, UHD, 4K" % (quality,))


class OptionError(RecorderError):
    """A resolve_result key with a value that cannot be used (error_id failure)."""


@dataclass(frozen=True)
class RecordOptions:
    """What a recording was asked to do (architecture.md, resolve_result)."""

    buffering: int = 5
    quality: Quality = "best"
    show_ads: bool = False
    parallel: int = 4
    audio_language: Optional[str] = None
    allow_transcode: bool = False
    duration: Optional[float] = None
    title: Optional[str] = None
    ffmpeg_headers: Tuple[Tuple[str, str], ...] = ()
    codecs: Tuple[str, ...] = DEFAULT_CODECS
    # no cleanup: new sections after the highest stream_<n> in rec_dir, a VOD after the last
    # segment stream_state.json records (state.py)
    continue_recording: bool = False


def _whole(value: Any, key: str, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise OptionError("%s must be a whole number from %d to %d, not %r" % (key, low, high, value))
    try:
        number = float(value)
    except ValueError:
        number = float("nan")
    if not number.is_integer() or not low <= number <= high:
        raise OptionError("%s must be a whole number from %d to %d, not %r" % (key, low, high, value))
    return int(number)


def _flag(value: Any, key: str) -> bool:
    if isinstance(value, bool) or value in (0, 1):
        return bool(value)
    text = str(value).strip().lower()
    if text in ("true", "yes", "on", "1"):
        return True
    if text in ("false", "no", "off", "0", "", "none"):
        return False
    raise OptionError("%s must be true or false, not %r" % (key, value))


def _seconds(value: Any) -> Optional[float]:
    if value in (None, "", 0):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        number = -1.0
    if not number > 0 or number == float("inf"):
        raise OptionError("duration must be a number of seconds > 0, not %r" % (value,))
    return number


def _quality(value: Any) -> Quality:
    """Never an error (architecture.md): what cannot be read means best, with a log line."""
    try:
        return parse_quality(value)
    except ValueError:
        log.warning("unknown quality %r: recording the best variant", value)
        return "best"


def _language(value: Any) -> Optional[str]:
    text = str(value or "").strip()
    return None if text.lower() in ("", "auto", "none") else text


def _headers(value: Any) -> Tuple[Tuple[str, str], ...]:
    if isinstance(value, Mapping):
        value = "".join("%s: %s\r\n" % item for item in value.items())
    try:
        return tuple(parse_header_lines(str(value or "")))
    except RecorderError as exc:
        raise OptionError(str(exc)) from None


def _codecs(value: Any) -> Tuple[str, ...]:
    items = value.split(",") if isinstance(value, str) else list(value or ())
    codecs = tuple(str(c).strip().lower() for c in items if str(c).strip())
    return codecs or DEFAULT_CODECS


def _given(merged: Mapping[str, Any], key: str, default: Any) -> Any:
    value = merged.get(key)
    return default if value is None or value == "" else value


def build(resolve_result: Mapping[str, Any], defaults: Optional[Mapping[str, Any]] = None,
          ) -> RecordOptions:
    """The options of one recording; OptionError (before any request) for a value it cannot use."""
    merged = dict(defaults or {})
    merged.update((k, v) for k, v in resolve_result.items() if v is not None)
    return RecordOptions(
        continue_recording=_flag(merged.get("continue_recording", False), "continue_recording"),
        buffering=_whole(_given(merged, "buffering", 5), "buffering", 1, MAX_BUFFERING),
        quality=_quality(merged.get("quality")),
        show_ads=_flag(merged.get("show_ads", False), "show_ads"),
        parallel=_whole(_given(merged, "parallel", 4), "parallel", 1, MAX_PARALLEL),
        audio_language=_language(merged.get("audio_language")),
        allow_transcode=_flag(merged.get("allow_transcode", False), "allow_transcode"),
        duration=_seconds(merged.get("duration")),
        title=str(merged["title"]) if merged.get("title") else None,
        ffmpeg_headers=_headers(merged.get("ffmpeg_headers")),
        codecs=_codecs(merged.get("codecs")))


def known_keys() -> Sequence[str]:
    """Every resolve_result key architecture.md lists."""
    return PASSED_ON + ("buffering", "quality", "show_ads", "parallel", "audio_language",
                        "allow_transcode", "duration", "title", "ffmpeg_headers",
                        "continue_recording")
