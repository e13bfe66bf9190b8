"""Variant choice in a master playlist: quality cap, codecs the receiver decodes, audio rendition."""

import logging
import re
from dataclasses import dataclass, field
from typing import Any, Iterable, List, Optional, Sequence, Tuple

from .._m3u8 import m3u8
from ..errors import InvalidStreamError, RecorderError, UnsupportedCodecError
from ..mediacodecs import DEFAULT_CODECS, codec_family, is_audio_only, undecodable
from ..options import Quality, parse_quality

log = logging.getLogger(__name__)

__all__ = ["DEFAULT_CODECS", "Quality", "Variant", "codec_family", "choose_variant", "parse_quality"]


@dataclass
class Variant:
    """The chosen variant stream; audio_url is set when its audio is a separate rendition."""

    url: str
    bandwidth: int
    resolution: Optional[Tuple[int, int]] = None
    codecs: List[str] = field(default_factory=list)
    audio_url: Optional[str] = None
    audio_language: Optional[str] = None


# --- codecs -------------------------------------------------------------------------------------

def _undecodable(codecs: Iterable[str], allowed: Sequence[str]) -> List[str]:
    """Codec strings outside `allowed` (unknown ones included; subtitle formats never count)."""
    return [c for c in codecs if undecodable([codec_family(c)], allowed)]


# --- languages ----------------------------------------------------------------------------------

# ISO 639-2 (B and T) codes of common languages -> ISO 639-1, so 'deu', 'ger' and 'de' all match.
_LANGUAGES = {
    "eng": "en", "deu": "de", "ger": "de", "fra": "fr", "fre": "fr", "spa": "es", "ita": "it",
    "nld": "nl", "dut": "nl", "por": "pt", "pol": "pl", "rus": "ru", "ukr": "uk", "tur": "tr",
    "ara": "ar", "ces": "cs", "cze": "cs", "slk": "sk", "slo": "sk", "hun": "hu", "ron": "ro",
    "rum": "ro", "bul": "bg", "hrv": "hr", "srp": "sr", "slv": "sl", "ell": "el", "gre": "el",
    "swe": "sv", "dan": "da", "nor": "no", "nob": "nb", "fin": "fi", "isl": "is", "ice": "is",
    "heb": "he", "fas": "fa", "per": "fa", "hin": "hi", "jpn": "ja", "kor": "ko", "zho": "zh",
    "chi": "zh", "tha": "th", "vie": "vi", "ind": "id", "msa": "ms", "may": "ms", "cat": "ca",
    "eus": "eu", "baq": "eu", "glg": "gl", "lit": "lt", "lav": "lv", "est": "et", "sqi": "sq",
    "alb": "sq", "mkd": "mk", "mac": "mk", "bos": "bs",
}


def _language_key(language: Optional[str]) -> str:
    primary = re.split(r"[-_]", str(language or "").strip().lower(), maxsplit=1)[0]
    return _LANGUAGES.get(primary, primary)


def _choose_audio(master: m3u8.M3U8, group: Optional[str],
                  preferred: Optional[str]) -> Tuple[Optional[str], Optional[str]]:
    """(URI of the separate audio rendition or None when muxed, its language) for an AUDIO group."""
    if not group:
        return None, None
    renditions = [m for m in getattr(master, "media", None) or ()
                  if str(getattr(m, "type", "") or "").upper() == "AUDIO"
                  and getattr(m, "group_id", None) == group]
    if not renditions:
        return None, None
    chosen = None
    if preferred:
        wanted = _language_key(preferred)
        chosen = next((m for m in renditions
                       if wanted and _language_key(getattr(m, "language", None)) == wanted), None)
    if chosen is None:
        chosen = next((m for m in renditions
                       if str(getattr(m, "default", None) or "").upper() == "YES"), renditions[0])
    return (getattr(chosen, "uri", None) or None), (getattr(chosen, "language", None) or None)


# --- choice -------------------------------------------------------------------------------------

def _parse_quality(quality: Any) -> Quality:
    """A resolve_result's quality: never an error; what cannot be read means best (logged)."""
    try:
        return parse_quality(quality)
    except ValueError:
        log.warning("unknown quality %r: recording the best variant", quality)
        return "best"


def _variant(master: m3u8.M3U8, entry: Any, audio_language: Optional[str]) -> Variant:
    info = entry.stream_info
    codecs = [c.strip() for c in str(getattr(info, "codecs", None) or "").split(",") if c.strip()]
    resolution = getattr(info, "resolution", None)
    if not (isinstance(resolution, tuple) and len(resolution) == 2
            and all(isinstance(n, int) and n > 0 for n in resolution)):
        resolution = None
    try:
        bandwidth = max(0, int(getattr(info, "bandwidth", None) or 0))
    except (TypeError, ValueError, OverflowError):
        bandwidth = 0
    audio_url, language = _choose_audio(master, getattr(info, "audio", None), audio_language)
    return Variant(entry.uri, bandwidth, resolution, codecs, audio_url, language)


def _describe(variant: Variant) -> str:
    size = "%dx%d" % variant.resolution if variant.resolution else "unknown size"
    return "%s, %d bps, codecs %s" % (size, variant.bandwidth, ",".join(variant.codecs) or "unknown")


def _audio_only(variant: Variant) -> bool:
    return variant.resolution is None and is_audio_only(codec_family(c) for c in variant.codecs)


def _pick(candidates: List[Variant], quality: Quality) -> Tuple[Variant, str]:
    def by_bandwidth(v: Variant) -> Tuple[int, int]:
        return v.bandwidth, v.resolution[1] if v.resolution else 0

    if quality == "best":
        return max(candidates, key=by_bandwidth), "highest bandwidth"
    if quality == "worst":
        return min(candidates, key=by_bandwidth), "lowest bandwidth"
    assert isinstance(quality, int)
    sized = [v for v in candidates if v.resolution]
    fitting = [v for v in sized if v.resolution and v.resolution[1] <= quality]
    if fitting:
        return max(fitting, key=by_bandwidth), "best variant at most %d lines high" % quality
    if sized:
        return (min(sized, key=lambda v: (v.resolution[1] if v.resolution else 0, v.bandwidth)),
                "no variant is at most %d lines high: the lowest one" % quality)
    return (max(candidates, key=by_bandwidth),
            "no RESOLUTION in the master playlist, so the %d-line cap cannot apply: highest bandwidth"
            % quality)


def choose_variant(master: m3u8.M3U8, quality: Any = "best", codecs: Sequence[str] = DEFAULT_CODECS,
                   audio_language: Optional[str] = None) -> Variant:
    """Pick a decodable variant by quality (see parse_quality; unknown means best); logs why."""
    wanted = _parse_quality(quality)
    if codecs is None:
        codecs = DEFAULT_CODECS
    elif isinstance(codecs, str):
        codecs = codecs.split(",")
    try:
        return _choose(master, wanted, [str(c).strip().lower() for c in codecs], audio_language)
    except RecorderError:
        raise
    except Exception as exc:  # the contract: only the project's errors leave this module
        log.debug("choose_variant() failed", exc_info=True)
        raise InvalidStreamError("unreadable master playlist (%s)" % type(exc).__name__) from None


def _is_iframe(entry: Any) -> bool:
    """An I-frame-only entry, whichever list a parser put it in."""
    return type(entry).__name__ == "IFramePlaylist" or getattr(entry, "stream_info", None) is None


def _choose(master: m3u8.M3U8, quality: Quality, allowed: List[str],
            audio_language: Optional[str]) -> Variant:
    # EXT-X-I-FRAME-STREAM-INF entries (trick-play key frames, no audio) are never recorded.
    iframes = {id(p) for p in getattr(master, "iframe_playlists", None) or ()}
    entries = [p for p in getattr(master, "playlists", None) or ()
               if getattr(p, "uri", None) and id(p) not in iframes and not _is_iframe(p)]
    if not entries:
        raise InvalidStreamError("the master playlist lists no variant streams")
    variants = [_variant(master, entry, audio_language) for entry in entries]
    decodable = []
    for variant in variants:
        bad = _undecodable(variant.codecs, allowed)
        if bad:
            log.info("skipping variant (%s): codec %s not decodable here", _describe(variant),
                     ", ".join(bad))
        else:
            decodable.append(variant)
    if not decodable:
        offered = sorted({c for v in variants for c in v.codecs})
        raise UnsupportedCodecError(
            "no variant uses codecs this receiver decodes (%s); the stream offers %s"
            % (", ".join(allowed) or "none", ", ".join(offered) or "unknown codecs"))
    # An audio-only variant is the right answer only when nothing with video is left.
    candidates = [v for v in decodable if not _audio_only(v)] or decodable
    chosen, reason = _pick(candidates, quality)
    log.info("chose variant %s of %d (%s)%s", _describe(chosen), len(variants), reason,
             "; separate %s audio" % (chosen.audio_language or "default") if chosen.audio_url else "")
    return chosen
