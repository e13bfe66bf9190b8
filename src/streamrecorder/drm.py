"""DRM detection from playlist tags only: EXT-X-KEY / EXT-X-SESSION-KEY METHOD and KEYFORMAT.

AES-128 (whole-segment encryption with a key URI) is not DRM: the recorder decrypts it. Words in
URLs ("drm", "encrypted") and HTTP status codes say nothing about DRM and are never looked at.
"""

from typing import Any, Optional

from ._m3u8 import m3u8
from .errors import DrmProtectedError

WIDEVINE = "urn:uuid:edef8ba9-79d6-4ace-a3c8-27dcd51d21ed"
PLAYREADY = "com.microsoft.playready"
PLAYREADY_UUID = "urn:uuid:9a04f079-9840-4286-ab92-e65be0885f95"
FAIRPLAY = "com.apple.streamingkeydelivery"

_KEYFORMATS = {
    WIDEVINE: "Widevine",
    "com.widevine": "Widevine",
    "com.widevine.alpha": "Widevine",
    PLAYREADY: "PlayReady",
    PLAYREADY_UUID: "PlayReady",
    FAIRPLAY: "FairPlay",
    "urn:uuid:94ce86fb-07ff-4f43-adb8-93d2fa968ca2": "FairPlay",  # its DASH system id
    "com.adobe.primetime": "Adobe Primetime",
}

# Sample-level encryption needs a CDM (or at least keys the user does not have): refused.
_METHODS = {
    "SAMPLE-AES": "SAMPLE-AES encryption",
    "SAMPLE-AES-CTR": "SAMPLE-AES-CTR (CENC) encryption",
    "SAMPLE-AES-CENC": "SAMPLE-AES-CENC encryption",
    "ISO-23001-7": "CENC encryption",
}


def scheme(method: Optional[str], keyformat: Optional[str]) -> Optional[str]:
    """The protection a key tag names ('Widevine DRM', 'SAMPLE-AES encryption'), None if recordable."""
    method_name = str(method or "").strip().upper()
    if method_name in ("", "NONE"):
        return None
    system = _KEYFORMATS.get(str(keyformat or "").strip().lower())
    if system:
        return "%s DRM" % system
    return _METHODS.get(method_name)


def check(playlist: m3u8.M3U8) -> None:
    """Raise DrmProtectedError when a key tag of the playlist names DRM or sample encryption."""
    for tag, attr in (("EXT-X-KEY", "keys"), ("EXT-X-SESSION-KEY", "session_keys")):
        for key in getattr(playlist, attr, None) or ():
            found = _scheme_of(key)
            if found:
                details = "METHOD=%s" % str(getattr(key, "method", ""))[:30]
                keyformat = getattr(key, "keyformat", None)
                if keyformat:
                    details += ", KEYFORMAT=%s" % str(keyformat)[:60]
                raise DrmProtectedError("the stream is protected by %s (%s %s): it cannot be recorded"
                                        % (found, tag, details))


def _scheme_of(key: Any) -> Optional[str]:
    if key is None:
        return None
    return scheme(getattr(key, "method", None), getattr(key, "keyformat", None))
