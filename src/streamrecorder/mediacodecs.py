"""The one codec table: RFC 6381 / sample-entry names -> codec families, and what they are."""

from typing import Iterable, List, Optional, Sequence

# What an Enigma2 receiver's decoders play (the default of the `codecs` option).
DEFAULT_CODECS = ("h264", "hevc", "aac", "mp3", "ac3", "eac3")

_FOURCC = {
    "avc1": "h264", "avc2": "h264", "avc3": "h264", "avc4": "h264",
    "hvc1": "hevc", "hev1": "hevc",
    "dvh1": "dolby-vision", "dvhe": "dolby-vision", "dva1": "dolby-vision", "dvav": "dolby-vision",
    "dav1": "dolby-vision",
    "vvc1": "vvc", "vvi1": "vvc",
    "vp08": "vp8", "vp8": "vp8", "vp09": "vp9", "vp9": "vp9", "av01": "av1",
    "mp4v": "mpeg4",
    "ac-3": "ac3", "ec-3": "eac3", "ac-4": "ac4",
    "opus": "opus", "flac": "flac", "alac": "alac", "mhm1": "mpegh", "mha1": "mpegh",
    "dtsc": "dts", "dtse": "dts", "dtsh": "dts", "dtsl": "dts", "dtsx": "dts",
    "mp3": "mp3", ".mp3": "mp3",
    "wvtt": "webvtt", "stpp": "ttml", "c608": "cea608", "c708": "cea708",
    # Plain names some servers write instead of RFC 6381 strings.
    "h264": "h264", "avc": "h264", "h265": "hevc", "hevc": "hevc", "aac": "aac", "ac3": "ac3",
    "eac3": "eac3", "mp2": "mp2",
}
# Subtitles: nothing to decode, never a reason to refuse a stream.
TEXT_FAMILIES = frozenset(("webvtt", "ttml", "cea608", "cea708"))
AUDIO_FAMILIES = frozenset(("aac", "mp3", "mp2", "usac", "ac3", "eac3", "ac4", "opus", "flac",
                            "alac", "mpegh", "dts"))
# What ffmpeg decodes when transcoding is allowed (a stream in none of these is hopeless).
TRANSCODABLE = ("h264", "hevc", "vp8", "vp9", "av1", "mpeg4", "aac", "mp3", "mp2", "ac3", "eac3",
                "opus", "flac", "alac", "dts", "usac")
# Sample entries whose samples are encrypted (ISO 23001-7 common encryption).
ENCRYPTED_ENTRIES = frozenset(("encv", "enca", "encs", "enct"))


def _mp4a_family(parts: List[str]) -> Optional[str]:
    """mp4a.<object type>[.<audio object type>] (RFC 6381 3.3)."""
    oti = parts[0].lower() if parts else "40"
    if oti == "40":
        try:
            aot = int(parts[1]) if len(parts) > 1 else 2
        except ValueError:
            return None
        return {32: "mp2", 33: "mp2", 34: "mp3", 42: "usac"}.get(aot, "aac")
    return {"66": "aac", "67": "aac", "68": "aac", "69": "mp3", "6b": "mp3",
            "a5": "ac3", "a6": "eac3", "a9": "dts", "ac": "dts", "ad": "opus"}.get(oti)


def codec_family(rfc6381: str) -> Optional[str]:
    """avc1.* -> h264, hvc1/hev1 -> hevc, mp4a.40.2 -> aac, mp4a.40.34/mp4a.6B -> mp3, ... or None."""
    text = str(rfc6381 or "").strip()
    if not text:
        return None
    head, _, rest = text.partition(".")
    fourcc = head.lower()
    if fourcc == "mp4a":
        return _mp4a_family(rest.split(".") if rest else [])
    return _FOURCC.get(fourcc)


def undecodable(families: Iterable[Optional[str]], allowed: Sequence[str]) -> List[str]:
    """The families outside `allowed` (unknown ones, None, included; subtitles never count)."""
    return [str(f) for f in families if f not in TEXT_FAMILIES and (f is None or f not in allowed)]


def is_audio_only(families: Iterable[Optional[str]]) -> bool:
    found = [f for f in families if f not in TEXT_FAMILIES]
    return bool(found) and all(f in AUDIO_FAMILIES for f in found)


def audio_encoder(allowed: Sequence[str]) -> str:
    """ffmpeg encoder for audio the receiver cannot decode: the first decodable of AAC, AC-3, MP3."""
    return next((encoder for family, encoder in (("aac", "aac"), ("ac3", "ac3"),
                                                 ("mp3", "libmp3lame")) if family in allowed),
                "aac")
