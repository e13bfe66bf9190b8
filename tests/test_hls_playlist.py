"""hls.playlist and hls.variants on real playlist text: URIs, byte ranges, keys, PDT, ads, variants."""

import importlib
import logging
import re
from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from streamrecorder import drm
from streamrecorder._m3u8 import m3u8
from streamrecorder.errors import (
    DrmProtectedError,
    InvalidStreamError,
    RecorderError,
    UnsupportedCodecError,
)
from streamrecorder.hls import playlist as hls_playlist
from streamrecorder.hls import variants
from streamrecorder.hls.live import LiveWindow
from streamrecorder.hls.playlist import InitSection, Key, iv_for, parse, parse_pdt, segments

m3u8_parser = importlib.import_module(m3u8.__name__ + ".parser")  # the m3u8 the core really uses

FINAL_URL = "https://cdn2.example.com/path/to/master.m3u8?token=abc"   # after redirects
MEDIA_URL = "https://media.example.org/live/sub/index.m3u8"

MASTER = """#EXTM3U
#EXT-X-VERSION:6
#EXT-X-INDEPENDENT-SEGMENTS
#EXT-X-STREAM-INF:BANDWIDTH=800000,RESOLUTION=640x360,CODECS="avc1.4d401e,mp4a.40.2"
low/index.m3u8
#EXT-X-STREAM-INF:BANDWIDTH=2500000,AVERAGE-BANDWIDTH=2200000,RESOLUTION=1280x720,CODECS="avc1.64001f,mp4a.40.2"
../720/index.m3u8
#EXT-X-STREAM-INF:BANDWIDTH=5000000,RESOLUTION=1920x1080,CODECS="hvc1.2.4.L123.B0,ec-3"
/abs/1080/index.m3u8
#EXT-X-STREAM-INF:BANDWIDTH=9000000,RESOLUTION=3840x2160,CODECS="vp09.00.50.08,mp4a.40.2"
https://other.example.net/4k.m3u8
#EXT-X-STREAM-INF:BANDWIDTH=64000,CODECS="mp4a.40.2"
audio-only.m3u8
#EXT-X-I-FRAME-STREAM-INF:BANDWIDTH=100000,RESOLUTION=640x360,CODECS="avc1.4d401e",URI="iframes.m3u8"
"""

MASTER_AUDIO = """#EXTM3U
#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="aac",LANGUAGE="en",NAME="English",DEFAULT=YES,AUTOSELECT=YES,URI="audio/en.m3u8"
#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="aac",LANGUAGE="de",NAME="Deutsch",DEFAULT=NO,AUTOSELECT=YES,URI="audio/de.m3u8"
#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="muxed",LANGUAGE="en",NAME="Main",DEFAULT=YES
#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="muxed",LANGUAGE="de",NAME="Deutsch",URI="audio/de-360.m3u8"
#EXT-X-MEDIA:TYPE=SUBTITLES,GROUP-ID="subs",LANGUAGE="de",NAME="Deutsch",URI="subs/de.m3u8"
#EXT-X-STREAM-INF:BANDWIDTH=3000000,RESOLUTION=1280x720,CODECS="avc1.64001f,mp4a.40.2,wvtt",AUDIO="aac",SUBTITLES="subs"
video/720.m3u8
#EXT-X-STREAM-INF:BANDWIDTH=1000000,RESOLUTION=640x360,CODECS="avc1.4d401e,mp4a.40.2",AUDIO="muxed"
video/360.m3u8
"""

BYTERANGES = """#EXTM3U
#EXT-X-TARGETDURATION:4
#EXT-X-VERSION:4
#EXT-X-MEDIA-SEQUENCE:0
#EXT-X-MAP:URI="init.mp4",BYTERANGE="720@0"
#EXTINF:4,
#EXT-X-BYTERANGE:75232@720
main.mp4
#EXTINF:4,
#EXT-X-BYTERANGE:82112
main.mp4
#EXT-X-BYTERANGE:69864
#EXTINF:4,
main.mp4
#EXTINF:4,
#EXT-X-BYTERANGE:1000@0
../other/other.mp4
#EXTINF:4,
#EXT-X-BYTERANGE:2000
../other/other.mp4
#EXTINF:4,
#EXT-X-BYTERANGE:500@100000
main.mp4
#EXTINF:4,
#EXT-X-BYTERANGE:300
main.mp4
#EXT-X-ENDLIST
"""

DISCONTINUITIES = """#EXTM3U
#EXT-X-TARGETDURATION:6
#EXT-X-MEDIA-SEQUENCE:100
#EXT-X-DISCONTINUITY-SEQUENCE:7
#EXTINF:6.000,first
a.ts
#EXT-X-DISCONTINUITY
#EXTINF:5.5,
b.ts
#EXTINF:6,
c.ts
#EXT-X-DISCONTINUITY
#EXTINF:6,
d.ts
"""

AES = """#EXTM3U
#EXT-X-TARGETDURATION:6
#EXT-X-MEDIA-SEQUENCE:41
#EXT-X-KEY:METHOD=AES-128,URI="https://keys.example.com/k1?drm=1",IV=0x000102030405060708090A0B0C0D0E0F
#EXTINF:6,
s41.ts
#EXT-X-KEY:METHOD=AES-128,URI="/keys/k2"
#EXTINF:6,
s42.ts
#EXTINF:6,
s43.ts
#EXT-X-KEY:METHOD=AES-128,URI="k3",IV=0x1
#EXTINF:6,
s44.ts
#EXT-X-KEY:METHOD=NONE
#EXTINF:6,
s45.ts
#EXT-X-ENDLIST
"""

ADS_CUE = """#EXTM3U
#EXT-X-TARGETDURATION:6
#EXT-X-MEDIA-SEQUENCE:1
#EXTINF:6,
c1.ts
#EXT-X-CUE-OUT:DURATION=18
#EXT-X-DISCONTINUITY
#EXTINF:6,
ad1.ts
#EXT-X-CUE-OUT-CONT:ElapsedTime=6,Duration=18
#EXTINF:6,
ad2.ts
#EXT-X-CUE-OUT-CONT:ElapsedTime=12,Duration=18
#EXTINF:6,
ad3.ts
#EXT-X-CUE-IN
#EXT-X-DISCONTINUITY
#EXTINF:6,
c2.ts
#EXT-X-CUE-OUT:12
#EXTINF:6,
ad4.ts
#EXTINF:5.9,
ad5.ts
#EXTINF:6,
c3.ts
#EXT-X-CUE-OUT
#EXTINF:6,
ad6.ts
#EXTINF:6,
ad7.ts
#EXT-X-CUE-IN
#EXTINF:6,
c4.ts
"""

ADS_DATERANGE = """#EXTM3U
#EXT-X-TARGETDURATION:6
#EXT-X-MEDIA-SEQUENCE:1
#EXT-X-PROGRAM-DATE-TIME:2024-05-01T10:00:00.000Z
#EXTINF:6,
c1.ts
#EXT-X-DATERANGE:ID="splice-1",START-DATE="2024-05-01T10:00:06.000Z",PLANNED-DURATION=12,SCTE35-OUT=0xFC302000
#EXTINF:6,
ad1.ts
#EXTINF:6,
ad2.ts
#EXT-X-DATERANGE:ID="splice-1",START-DATE="2024-05-01T10:00:18Z",SCTE35-IN=0xFC302100
#EXTINF:6,
c2.ts
#EXT-X-DATERANGE:ID="splice-2",START-DATE="2024-05-01T10:00:24Z",DURATION=6.0,SCTE35-CMD=0xFC301100
#EXTINF:6,
ad3.ts
#EXTINF:6,
c3.ts
#EXT-X-DATERANGE:ID="other",CLASS="com.example.chapter",START-DATE="2024-05-01T10:00:36Z",DURATION=6
#EXTINF:6,
c4.ts
"""

ADS_DATERANGE_UNDATED = """#EXTM3U
#EXT-X-TARGETDURATION:6
#EXTINF:6,
c1.ts
#EXT-X-DATERANGE:ID="b1",SCTE35-OUT=0xFC30
#EXTINF:6,
ad1.ts
#EXTINF:6,
ad2.ts
#EXT-X-DATERANGE:ID="b1",SCTE35-IN=0xFC30
#EXTINF:6,
c2.ts
"""

PDT_VALUES = [
    ("2024-01-01T12:00:00Z", datetime(2024, 1, 1, 12, 0, 0, tzinfo=timezone.utc)),
    ("2024-01-01T12:00:00+0000", datetime(2024, 1, 1, 12, 0, 0, tzinfo=timezone.utc)),
    ("2024-01-01T12:00:00.5Z", datetime(2024, 1, 1, 12, 0, 0, 500000, tzinfo=timezone.utc)),
    ("2024-01-01T12:00:00.123456789+01:00",
     datetime(2024, 1, 1, 11, 0, 0, 123456, tzinfo=timezone.utc)),
    ("2024-01-01T12:00:00", datetime(2024, 1, 1, 12, 0, 0, tzinfo=timezone.utc)),
    ("2024-01-01T12:00:00.123+00:00", datetime(2024, 1, 1, 12, 0, 0, 123000, tzinfo=timezone.utc)),
    ("2024-01-01T12:00:00.12-0530", datetime(2024, 1, 1, 17, 30, 0, 120000, tzinfo=timezone.utc)),
    ("2024-01-01 12:00:00z", datetime(2024, 1, 1, 12, 0, 0, tzinfo=timezone.utc)),
    ("2024-01-01T12:00Z", datetime(2024, 1, 1, 12, 0, 0, tzinfo=timezone.utc)),
    ("2024-01-01T12:00:00,25+02", datetime(2024, 1, 1, 10, 0, 0, 250000, tzinfo=timezone.utc)),
]

# What datetime.fromisoformat accepts on Python 3.8-3.10: no 'Z', no '+0000', 3 or 6 digits.
_PY38_ISO = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}(.[0-9]{2}(:[0-9]{2}(:[0-9]{2}(\.([0-9]{3}|[0-9]{6}))?)?)?"
                       r"([+-][0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]{6})?)?)?)?")


class Py38DateTime(datetime):
    """datetime whose fromisoformat behaves as on Python 3.8."""

    @classmethod
    def fromisoformat(cls, value):
        if not isinstance(value, str) or not _PY38_ISO.fullmatch(value):
            raise ValueError("Invalid isoformat string: %r" % (value,))
        return datetime.fromisoformat(value)


@pytest.fixture
def py38_fromisoformat(monkeypatch):
    """Force the pre-3.11 fromisoformat path in m3u8 and in our own module."""
    monkeypatch.setattr(m3u8_parser, "datetime", Py38DateTime)
    monkeypatch.setattr(hls_playlist, "datetime", Py38DateTime)


def media(body, header="#EXTM3U\n#EXT-X-TARGETDURATION:6\n"):
    return parse(header + body, MEDIA_URL)


# --- parse: URIs and what is not a playlist -----------------------------------------------------

def test_master_uris_resolve_against_the_redirected_url():
    pl = parse(MASTER, FINAL_URL)
    assert hls_playlist.is_master(pl)
    assert not hls_playlist.is_endlist(pl)
    assert [p.uri for p in pl.playlists] == [
        "https://cdn2.example.com/path/to/low/index.m3u8",
        "https://cdn2.example.com/path/720/index.m3u8",
        "https://cdn2.example.com/abs/1080/index.m3u8",
        "https://other.example.net/4k.m3u8",
        "https://cdn2.example.com/path/to/audio-only.m3u8",
    ]
    assert pl.iframe_playlists[0].uri == "https://cdn2.example.com/path/to/iframes.m3u8"
    assert pl.playlists[0].absolute_uri == pl.playlists[0].uri


def test_media_renditions_keys_and_maps_resolve():
    pl = parse(MASTER_AUDIO, FINAL_URL)
    assert [m.uri for m in pl.media] == [
        "https://cdn2.example.com/path/to/audio/en.m3u8",
        "https://cdn2.example.com/path/to/audio/de.m3u8",
        None,
        "https://cdn2.example.com/path/to/audio/de-360.m3u8",
        "https://cdn2.example.com/path/to/subs/de.m3u8",
    ]
    segs = segments(parse(AES, FINAL_URL))
    assert [s.key.uri if s.key else None for s in segs] == [
        "https://keys.example.com/k1?drm=1", "https://cdn2.example.com/keys/k2",
        "https://cdn2.example.com/keys/k2", "https://cdn2.example.com/path/to/k3", None]
    segs = segments(parse(BYTERANGES, FINAL_URL))
    assert segs[0].init == InitSection("https://cdn2.example.com/path/to/init.mp4", (0, 720))
    assert segs[3].url == "https://cdn2.example.com/path/other/other.mp4"


@pytest.mark.parametrize("text, says", [
    ("<!DOCTYPE html><html><body>403 Forbidden</body></html>", "HTML"),
    ("\n\n  <html><head>", "HTML"),
    ("", "empty"),
    ("   \r\n", "empty"),
    ('{"error": "geo blocked"}', "JSON"),
    ("\x00\x01\x02\x03" * 50, "binary"),
    ("\x47\x40\x11\x10" + "\ufffd" * 100, "binary"),
    ('<?xml version="1.0"?><MPD xmlns="urn:mpeg:dash:schema:mpd:2011">', "DASH"),
    ("#EXTINF:10,\nseg.ts\n", "not a playlist"),
])
def test_what_is_not_a_playlist(text, says):
    with pytest.raises(InvalidStreamError, match="no #EXTM3U") as err:
        parse(text, MEDIA_URL)
    assert says in str(err.value)


def test_bom_and_leading_blank_lines_are_fine():
    pl = parse("\ufeff\r\n\n#EXTM3U\n#EXTINF:4,\na.ts\n#EXT-X-ENDLIST\n", MEDIA_URL)
    assert [s.url for s in segments(pl)] == ["https://media.example.org/live/sub/a.ts"]
    assert hls_playlist.is_endlist(pl)


def test_too_large():
    with pytest.raises(InvalidStreamError, match="too large"):
        parse("#EXTM3U\n" + "#" * (16 << 20), MEDIA_URL)


def test_playlist_type_vod_counts_as_finished():
    assert hls_playlist.is_endlist(media("#EXT-X-PLAYLIST-TYPE:VOD\n#EXTINF:4,\na.ts\n"))
    assert not hls_playlist.is_endlist(media("#EXT-X-PLAYLIST-TYPE:EVENT\n#EXTINF:4,\na.ts\n"))


def test_tolerated_sloppiness(caplog):
    pl = parse("#EXTM3U\n#EXT-X-TARGETDURATION:6.006\n"
               '#EXT-X-DATERANGE:CLASS="no id"\n#EXTINF:6,\na.ts\n', MEDIA_URL)
    assert pl.target_duration == 7
    assert [s.url for s in segments(pl)] == ["https://media.example.org/live/sub/a.ts"]
    master = parse('#EXTM3U\n#EXT-X-STREAM-INF:RESOLUTION=640x360,CODECS="avc1.4d401e"\nv.m3u8\n',
                   MEDIA_URL)
    assert variants.choose_variant(master).url == "https://media.example.org/live/sub/v.m3u8"


@pytest.mark.parametrize("line", [
    "#EXT-X-KEY:METHOD",
    '#EXT-X-MAP:URI="init.mp4",FOO="bar"',
    "#EXTINF:ten,",
    "#EXT-X-MEDIA-SEQUENCE:abc",
])
def test_malformed_essential_tags_fail_clearly(line):
    with pytest.raises(InvalidStreamError, match="unreadable playlist"):
        parse("#EXTM3U\n%s\n#EXTINF:6,\na.ts\n" % line, MEDIA_URL)


# --- PDT ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("value, expected", PDT_VALUES)
def test_parse_pdt(value, expected, py38_fromisoformat):
    assert parse_pdt(value) == expected
    assert parse_pdt(value).utcoffset() is not None


def test_the_py38_stand_in_really_rejects_what_old_pythons_reject(py38_fromisoformat):
    with pytest.raises(ValueError):
        m3u8.loads("#EXTM3U\n#EXT-X-PROGRAM-DATE-TIME:2024-01-01T12:00:00Z\n#EXTINF:1,\na.ts\n")


@pytest.mark.parametrize("value, expected", PDT_VALUES)
def test_pdt_in_playlists_on_old_pythons(value, expected, py38_fromisoformat):
    segs = segments(media("#EXT-X-PROGRAM-DATE-TIME:%s\n#EXTINF:4,\na.ts\n#EXTINF:4,\nb.ts\n" % value))
    assert segs[0].program_date_time == expected
    assert segs[1].program_date_time == expected + timedelta(seconds=4)


@pytest.mark.parametrize("value", ["yesterday", "2024-13-01T12:00:00Z", "2024-01-01T25:00:00Z",
                                   "2024-01-01", "", "2024-01-01T12:00:00+99:00"])
def test_unreadable_pdt(value, py38_fromisoformat):
    with pytest.raises(InvalidStreamError):
        parse_pdt(value)
    segs = segments(media("#EXT-X-PROGRAM-DATE-TIME:%s\n#EXTINF:4,\na.ts\n" % value))
    assert segs[0].program_date_time is None


def test_leap_second():
    assert parse_pdt("2016-12-31T23:59:60Z") == datetime(2016, 12, 31, 23, 59, 59, 999999,
                                                         tzinfo=timezone.utc)


# --- segments -----------------------------------------------------------------------------------

def test_byteranges_explicit_and_implicit():
    segs = segments(parse(BYTERANGES, MEDIA_URL))
    assert [s.byterange for s in segs] == [
        (720, 75232), (75952, 82112), (158064, 69864), (0, 1000), (1000, 2000),
        (100000, 500), (100500, 300)]
    assert all(s.init == InitSection("https://media.example.org/live/sub/init.mp4", (0, 720))
               for s in segs)
    assert [s.media_sequence for s in segs] == list(range(7))
    assert hls_playlist.is_endlist(parse(BYTERANGES, MEDIA_URL))


def test_map_changes_and_map_without_byterange():
    segs = segments(media('#EXT-X-MAP:URI="a/init.mp4"\n#EXTINF:4,\na/1.m4s\n'
                          '#EXT-X-DISCONTINUITY\n#EXT-X-MAP:URI="b/init.mp4",BYTERANGE="100@50"\n'
                          "#EXTINF:4,\nb/1.m4s\n"))
    assert segs[0].init == InitSection("https://media.example.org/live/sub/a/init.mp4", None)
    assert segs[1].init == InitSection("https://media.example.org/live/sub/b/init.mp4", (50, 100))


def test_discontinuity_sequence():
    segs = segments(parse(DISCONTINUITIES, MEDIA_URL))
    assert [s.media_sequence for s in segs] == [100, 101, 102, 103]
    assert [s.discontinuity_sequence for s in segs] == [7, 8, 8, 9]
    assert [s.discontinuity for s in segs] == [False, True, False, True]
    assert [s.duration for s in segs] == [6.0, 5.5, 6.0, 6.0]
    assert segs[0].title == "first"


def test_aes128_keys_and_ivs():
    segs = segments(parse(AES, MEDIA_URL))
    assert segs[0].key == Key("AES-128", "https://keys.example.com/k1?drm=1", bytes(range(16)), None)
    assert iv_for(segs[0].key, segs[0].media_sequence) == bytes(range(16))
    # No IV attribute: the media sequence number, 16 bytes big-endian.
    assert segs[1].key.iv is None
    assert iv_for(segs[1].key, 42) == (42).to_bytes(16, "big")
    assert iv_for(segs[2].key, segs[2].media_sequence) == b"\x00" * 15 + b"\x2b"
    assert segs[3].key.iv == b"\x00" * 15 + b"\x01"
    assert segs[4].key is None
    drm.check(parse(AES, MEDIA_URL))  # AES-128 is not DRM, whatever the URL says


@pytest.mark.parametrize("line", ['#EXT-X-KEY:METHOD=AES-128,URI="k",IV=0xZZ',
                                  '#EXT-X-KEY:METHOD=AES-128,URI="k",IV=0x' + "1" * 33,
                                  "#EXT-X-KEY:METHOD=AES-128"])
def test_bad_aes_keys(line):
    with pytest.raises(InvalidStreamError):
        segments(media(line + "\n#EXTINF:4,\na.ts\n"))


def test_bad_byterange():
    with pytest.raises(InvalidStreamError, match="BYTERANGE"):
        segments(media("#EXT-X-BYTERANGE:12x@3\n#EXTINF:4,\na.ts\n"))


def test_sample_aes_segments_are_drm():
    with pytest.raises(DrmProtectedError, match="SAMPLE-AES"):
        segments(media('#EXT-X-KEY:METHOD=SAMPLE-AES,URI="skd://k"\n#EXTINF:4,\na.ts\n'))
    with pytest.raises(RecorderError, match="AES-256"):
        segments(media('#EXT-X-KEY:METHOD=AES-256,URI="k"\n#EXTINF:4,\na.ts\n'))


# --- ads ----------------------------------------------------------------------------------------

def names(segs, ads=True):
    return [s.url.rsplit("/", 1)[-1] for s in segs if s.is_ad == ads]


def test_cue_out_cue_in_breaks():
    segs = segments(parse(ADS_CUE, MEDIA_URL))
    # The CUE-OUT:12 break ends by duration (6 + 5.9 s), without a CUE-IN.
    assert names(segs) == ["ad1.ts", "ad2.ts", "ad3.ts", "ad4.ts", "ad5.ts", "ad6.ts", "ad7.ts"]
    assert names(segs, ads=False) == ["c1.ts", "c2.ts", "c3.ts", "c4.ts"]


def test_live_window_starting_inside_a_break():
    segs = segments(media("#EXT-X-CUE-OUT-CONT:ElapsedTime=12,Duration=18\n#EXTINF:6,\nad3.ts\n"
                          "#EXTINF:6,\nc1.ts\n"))
    assert names(segs) == ["ad3.ts"]


def test_daterange_scte35_breaks():
    segs = segments(parse(ADS_DATERANGE, MEDIA_URL))
    assert names(segs) == ["ad1.ts", "ad2.ts", "ad3.ts"]


def test_daterange_breaks_without_dates():
    segs = segments(parse(ADS_DATERANGE_UNDATED, MEDIA_URL))
    assert names(segs) == ["ad1.ts", "ad2.ts"]


def test_daterange_break_still_open():
    segs = segments(media("#EXT-X-PROGRAM-DATE-TIME:2024-05-01T10:00:00Z\n#EXTINF:6,\nc1.ts\n"
                          '#EXT-X-DATERANGE:ID="s",START-DATE="2024-05-01T10:00:06Z",SCTE35-OUT=0xFC\n'
                          "#EXTINF:6,\nad1.ts\n#EXTINF:6,\nad2.ts\n"))
    assert names(segs) == ["ad1.ts", "ad2.ts"]


# --- variants -----------------------------------------------------------------------------------

@pytest.mark.parametrize("codec, family", [
    ("avc1.64001f", "h264"), ("avc3.4d401e", "h264"), ("hvc1.2.4.L123.B0", "hevc"),
    ("hev1.1.6.L93.B0", "hevc"), ("mp4a.40.2", "aac"), ("mp4a.40.5", "aac"), ("mp4a.40.29", "aac"),
    ("mp4a.40.34", "mp3"), ("mp4a.6B", "mp3"), ("mp4a.69", "mp3"), ("ac-3", "ac3"), ("ec-3", "eac3"),
    ("mp4a.a5", "ac3"), ("mp4a.A6", "eac3"), ("vp09.00.50.08", "vp9"), ("av01.0.08M.08", "av1"),
    ("Opus", "opus"), ("fLaC", "flac"), ("dvh1.05.06", "dolby-vision"), ("wvtt", "webvtt"),
    ("stpp.ttml.im1t", "ttml"), (" AVC1.640028 ", "h264"), ("xyz1.2", None), ("", None),
    ("mp4a.40.x", None),
])
def test_codec_family(codec, family):
    assert variants.codec_family(codec) == family


def test_choose_best_worst_and_height_caps(caplog):
    pl = parse(MASTER, FINAL_URL)
    caplog.set_level(logging.INFO, logger="streamrecorder.hls.variants")
    best = variants.choose_variant(pl)
    assert (best.resolution, best.bandwidth) == ((1920, 1080), 5000000)  # 4K is VP9: skipped
    assert best.codecs == ["hvc1.2.4.L123.B0", "ec-3"]
    assert best.url == "https://cdn2.example.com/abs/1080/index.m3u8"
    assert "vp09.00.50.08" in caplog.text and "chose variant 1920x1080" in caplog.text
    assert variants.choose_variant(pl, "worst").resolution == (640, 360)  # not the audio-only one
    assert variants.choose_variant(pl, 720).resolution == (1280, 720)
    assert variants.choose_variant(pl, "1000").resolution == (1280, 720)
    assert variants.choose_variant(pl, "720p").resolution == (1280, 720)
    assert variants.choose_variant(pl, 2160).resolution == (1920, 1080)
    assert variants.choose_variant(pl, 200).resolution == (640, 360)  # none fits: the lowest
    assert variants.choose_variant(pl, codecs=("h264", "aac")).resolution == (1280, 720)
    assert variants.choose_variant(pl, codecs=("vp9", "aac")).resolution == (3840, 2160)
    assert variants.choose_variant(pl, None).resolution == (1920, 1080)


def test_no_decodable_variant_names_the_codecs():
    pl = parse(MASTER, FINAL_URL)
    with pytest.raises(UnsupportedCodecError) as err:
        variants.choose_variant(pl, codecs=("mpeg2",))
    assert err.value.error_id == "unsupported_codec"
    for codec in ("avc1.64001f", "hvc1.2.4.L123.B0", "vp09.00.50.08", "ec-3"):
        assert codec in str(err.value)


def test_variants_without_codecs_count_as_decodable():
    pl = parse("#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1000\na.m3u8\n"
               "#EXT-X-STREAM-INF:BANDWIDTH=2000\nb.m3u8\n", MEDIA_URL)
    chosen = variants.choose_variant(pl, 720, codecs=("h264",))
    assert chosen.url.endswith("/b.m3u8") and chosen.resolution is None and chosen.codecs == []


@pytest.mark.parametrize("quality", ["medium", 0, -5, True, "720i", 3.5])
def test_invalid_quality(quality, caplog):
    """A resolve_result's unknown quality records the best variant (never an error);
    parse_quality, which the CLI uses, refuses it."""
    with pytest.raises(ValueError, match="invalid quality"):
        variants.parse_quality(quality)
    master = parse(MASTER, FINAL_URL)
    with caplog.at_level(logging.WARNING):
        chosen = variants.choose_variant(master, quality)
    assert chosen.url == variants.choose_variant(master, "best").url
    assert "unknown quality" in caplog.text


def test_master_without_variants():
    with pytest.raises(InvalidStreamError, match="no variant"):
        variants.choose_variant(parse("#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1\n", MEDIA_URL))


@pytest.mark.parametrize("language, url, lang", [
    (None, "https://cdn2.example.com/path/to/audio/en.m3u8", "en"),
    ("de", "https://cdn2.example.com/path/to/audio/de.m3u8", "de"),
    ("deu", "https://cdn2.example.com/path/to/audio/de.m3u8", "de"),
    ("ger", "https://cdn2.example.com/path/to/audio/de.m3u8", "de"),
    ("de-DE", "https://cdn2.example.com/path/to/audio/de.m3u8", "de"),
    ("fr", "https://cdn2.example.com/path/to/audio/en.m3u8", "en"),
])
def test_audio_renditions(language, url, lang):
    chosen = variants.choose_variant(parse(MASTER_AUDIO, FINAL_URL), audio_language=language)
    assert chosen.url == "https://cdn2.example.com/path/to/video/720.m3u8"
    assert (chosen.audio_url, chosen.audio_language) == (url, lang)


def test_muxed_default_audio_has_no_audio_url():
    pl = parse(MASTER_AUDIO, FINAL_URL)
    chosen = variants.choose_variant(pl, "worst")
    assert chosen.url.endswith("/video/360.m3u8")
    assert (chosen.audio_url, chosen.audio_language) == (None, "en")
    chosen = variants.choose_variant(pl, "worst", audio_language="de")
    assert chosen.audio_url == "https://cdn2.example.com/path/to/audio/de-360.m3u8"


# --- robustness (hypothesis) --------------------------------------------------------------------

REAL_PLAYLISTS = [MASTER, MASTER_AUDIO, BYTERANGES, DISCONTINUITIES, AES, ADS_CUE, ADS_DATERANGE,
                  ADS_DATERANGE_UNDATED]
TAGS = ["#EXTINF", "#EXT-X-BYTERANGE", "#EXT-X-KEY", "#EXT-X-MAP", "#EXT-X-STREAM-INF",
        "#EXT-X-MEDIA", "#EXT-X-PROGRAM-DATE-TIME", "#EXT-X-DATERANGE", "#EXT-X-CUE-OUT",
        "#EXT-X-CUE-OUT-CONT", "#EXT-X-CUE-IN", "#EXT-X-DISCONTINUITY", "#EXT-X-MEDIA-SEQUENCE",
        "#EXT-X-DISCONTINUITY-SEQUENCE", "#EXT-X-TARGETDURATION", "#EXT-X-SESSION-KEY",
        "#EXT-X-I-FRAME-STREAM-INF", "#EXT-X-PART", "#EXT-X-ENDLIST", "#EXT-X-SKIP",
        "#EXT-X-PRELOAD-HINT", "#EXT-X-START", "#EXT-X-SERVER-CONTROL", "#EXT-X-SESSION-DATA"]
ATTRS = ["METHOD=AES-128", "METHOD=SAMPLE-AES", 'URI="x"', "IV=0x1", "BANDWIDTH=1", "BANDWIDTH=x",
         "RESOLUTION=1x1", "RESOLUTION=ax", 'CODECS="avc1"', "DURATION=1", 'ID="a"',
         "SCTE35-OUT=0x1", 'BYTERANGE="1@2"', "TYPE=AUDIO", 'GROUP-ID="g"', "AUDIO=\"g\"",
         "10", "1@5", "-1", "nan", "2024-01-01T00:00:00Z", "", '"', "=", ",", "@", "0x"]

attr_text = st.lists(st.one_of(st.sampled_from(ATTRS), st.text(max_size=8)), max_size=4).map(",".join)
tag_line = st.builds(lambda tag, sep, attrs: tag + sep + attrs,
                     st.sampled_from(TAGS), st.sampled_from([":", "", ": "]), attr_text)


def exercise(text):
    """Everything a recorder does with a playlist; only the project's errors may come out."""
    try:
        pl = parse(text, MEDIA_URL)
    except RecorderError:
        return
    hls_playlist.is_master(pl)
    hls_playlist.is_endlist(pl)
    try:
        drm.check(pl)
    except DrmProtectedError:
        pass
    for quality in ("best", "worst", 720):
        try:
            variants.choose_variant(pl, quality, audio_language="de")
        except RecorderError:
            pass
    try:
        segs = segments(pl)
    except RecorderError:
        return
    window = LiveWindow(3)
    window.update(segs)
    window.update(segs[1:])


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(max_size=600), st.booleans())
def test_random_text_only_raises_project_errors(text, header):
    exercise(("#EXTM3U\n" if header else "") + text)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(REAL_PLAYLISTS), st.data())
def test_mutated_playlists_only_raise_project_errors(text, data):
    lines = text.splitlines()
    for _ in range(data.draw(st.integers(1, 6))):
        op = data.draw(st.sampled_from(["delete", "duplicate", "insert", "replace", "garble", "swap"]))
        i = data.draw(st.integers(0, len(lines)))
        if op == "insert" or not lines:
            lines.insert(i, data.draw(tag_line))
            continue
        i = min(i, len(lines) - 1)
        if op == "delete" and i > 0:
            del lines[i]
        elif op == "duplicate":
            lines.insert(i, lines[i])
        elif op == "replace" and i > 0:
            lines[i] = data.draw(tag_line)
        elif op == "garble":
            pos = data.draw(st.integers(0, len(lines[i])))
            lines[i] = lines[i][:pos] + data.draw(st.text(max_size=5)) + lines[i][pos + 1:]
        elif op == "swap":
            j = data.draw(st.integers(0, len(lines) - 1))
            lines[i], lines[j] = lines[j], lines[i]
    exercise("\n".join(lines))
