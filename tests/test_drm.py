"""drm.check: only KEY/SESSION-KEY METHOD and KEYFORMAT count; AES-128 and words in URLs do not."""

import pytest

from streamrecorder import drm
from streamrecorder.errors import DrmProtectedError
from streamrecorder.hls.playlist import parse

URL = "https://drm.example.com/encrypted/drm/index.m3u8"


def media(key_line):
    return parse("#EXTM3U\n#EXT-X-TARGETDURATION:6\n%s\n#EXTINF:6,\nseg-drm-encrypted-1.ts\n"
                 "#EXT-X-ENDLIST\n" % key_line, URL)


@pytest.mark.parametrize("key_line, scheme", [
    ('#EXT-X-KEY:METHOD=SAMPLE-AES,URI="skd://key-id"', "SAMPLE-AES"),
    ('#EXT-X-KEY:METHOD=SAMPLE-AES-CTR,URI="data:text/plain;base64,AAAA"', "SAMPLE-AES-CTR"),
    ('#EXT-X-KEY:METHOD=SAMPLE-AES-CTR,URI="data:text/plain;base64,AAAA",'
     'KEYFORMAT="urn:uuid:edef8ba9-79d6-4ace-a3c8-27dcd51d21ed",KEYFORMATVERSIONS="1"', "Widevine"),
    ('#EXT-X-KEY:METHOD=SAMPLE-AES,URI="data:text/plain;charset=UTF-16;base64,AAAA",'
     'KEYFORMAT="com.microsoft.playready",KEYFORMATVERSIONS="1"', "PlayReady"),
    ('#EXT-X-KEY:METHOD=SAMPLE-AES-CTR,URI="data:;base64,AAAA",'
     'KEYFORMAT="urn:uuid:9a04f079-9840-4286-ab92-e65be0885f95"', "PlayReady"),
    ('#EXT-X-KEY:METHOD=SAMPLE-AES,URI="skd://twelve",KEYFORMAT="com.apple.streamingkeydelivery",'
     'KEYFORMATVERSIONS="1"', "FairPlay"),
    ('#EXT-X-KEY:METHOD=sample-aes,URI="skd://k"', "SAMPLE-AES"),
])
def test_drm_schemes(key_line, scheme):
    with pytest.raises(DrmProtectedError) as err:
        drm.check(media(key_line))
    assert scheme in str(err.value)
    assert err.value.error_id == "drm_protected"


def test_multi_drm_key_lines_for_the_same_segments():
    key_lines = ('#EXT-X-KEY:METHOD=SAMPLE-AES,URI="skd://k",KEYFORMAT="com.apple.streamingkeydelivery"\n'
                 '#EXT-X-KEY:METHOD=SAMPLE-AES,URI="data:;base64,AA",KEYFORMAT="urn:uuid:'
                 'edef8ba9-79d6-4ace-a3c8-27dcd51d21ed"')
    with pytest.raises(DrmProtectedError):
        drm.check(media(key_lines))


def test_session_key_in_a_master_playlist():
    master = parse('#EXTM3U\n#EXT-X-SESSION-KEY:METHOD=SAMPLE-AES,URI="skd://k",'
                   'KEYFORMAT="com.apple.streamingkeydelivery"\n'
                   "#EXT-X-STREAM-INF:BANDWIDTH=1000\nv.m3u8\n", URL)
    with pytest.raises(DrmProtectedError, match="FairPlay.*EXT-X-SESSION-KEY"):
        drm.check(master)


@pytest.mark.parametrize("key_line", [
    '#EXT-X-KEY:METHOD=AES-128,URI="https://drm.example.com/drm/encrypted/key"',
    '#EXT-X-KEY:METHOD=AES-128,URI="key.bin",IV=0x1,KEYFORMAT="identity"',
    "#EXT-X-KEY:METHOD=NONE",
    "",
])
def test_not_drm(key_line):
    drm.check(media(key_line))  # AES-128, no encryption, and 'drm'/'encrypted' in URLs are fine


def test_master_with_drm_words_in_urls_is_not_drm():
    drm.check(parse("#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1000\nwidevine/drm/encrypted.m3u8\n", URL))


def test_scheme_helper():
    assert drm.scheme("AES-128", None) is None
    assert drm.scheme("NONE", drm.WIDEVINE) is None
    assert drm.scheme("AES-128", drm.FAIRPLAY) == "FairPlay DRM"
    assert drm.scheme("SAMPLE-AES", "identity") == "SAMPLE-AES encryption"
