"""Playlists as real services write them (RFC 8216bis): LL-HLS parts, delta updates, EXT-X-DEFINE,
I-frame-only playlists, EXT-X-GAP and a trailing EXTINF still being written.

The playlists follow the examples of draft-pantos-hls-rfc8216bis; the recordings run against
the loopback DevServer.
"""

from datetime import timedelta

import pytest
import pytest_twisted

from helpers import one_stop, rr, wait_stopped
from media import make_ts_segments
from streamrecorder.errors import InvalidStreamError
from streamrecorder.hls.live import LiveWindow
from streamrecorder.hls.playlist import parse, parse_checked, segments

BASE = "https://example.com/2M/"
URL = BASE + "index.m3u8"

# 8216bis section 9.6 (low-latency Media Playlist), cut short: the parts of segment 269 are
# all there is of it yet.
LL_HLS = """#EXTM3U
#EXT-X-TARGETDURATION:4
#EXT-X-VERSION:6
#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,PART-HOLD-BACK=1.0,CAN-SKIP-UNTIL=12.0
#EXT-X-PART-INF:PART-TARGET=0.33334
#EXT-X-MEDIA-SEQUENCE:266
#EXT-X-PROGRAM-DATE-TIME:2019-02-14T02:13:36.106Z
#EXTINF:4.00008,
fileSequence266.ts
#EXTINF:4.00008,
fileSequence267.ts
#EXT-X-PART:DURATION=0.33334,URI="filePart268.0.ts",INDEPENDENT=YES
#EXT-X-PART:DURATION=0.33334,URI="filePart268.1.ts"
#EXT-X-PART:DURATION=0.33334,URI="filePart268.2.ts"
#EXTINF:4.00008,
fileSequence268.ts
#EXT-X-PART:DURATION=0.33334,URI="filePart269.0.ts",INDEPENDENT=YES
#EXT-X-PART:DURATION=0.33334,URI="filePart269.1.ts"
#EXT-X-PRELOAD-HINT:TYPE=PART,URI="filePart269.2.ts"
#EXT-X-RENDITION-REPORT:URI="../1M/waitForMSN.php",LAST-MSN=269,LAST-PART=1
"""

# 8216bis section 9.7 (Playlist Delta Update): the first three segments are skipped.
DELTA = """#EXTM3U
#EXT-X-TARGETDURATION:4
#EXT-X-VERSION:9
#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,CAN-SKIP-UNTIL=12.0
#EXT-X-MEDIA-SEQUENCE:266
#EXT-X-SKIP:SKIPPED-SEGMENTS=3
#EXTINF:4.00008,
fileSequence269.ts
#EXTINF:4.00008,
fileSequence270.ts
#EXT-X-PART:DURATION=0.33334,URI="filePart271.0.ts"
#EXT-X-PRELOAD-HINT:TYPE=PART,URI="filePart271.1.ts"
"""

FULL = """#EXTM3U
#EXT-X-TARGETDURATION:4
#EXT-X-VERSION:6
#EXT-X-MEDIA-SEQUENCE:266
#EXTINF:4.00008,
fileSequence266.ts
#EXTINF:4.00008,
fileSequence267.ts
#EXTINF:4.00008,
fileSequence268.ts
"""

IFRAMES = """#EXTM3U
#EXT-X-VERSION:4
#EXT-X-TARGETDURATION:10
#EXT-X-I-FRAMES-ONLY
#EXTINF:1.001,
#EXT-X-BYTERANGE:7520@376
main.ts
#EXTINF:1.001,
#EXT-X-BYTERANGE:8460@5640
main.ts
#EXT-X-ENDLIST
"""

GAPS = """#EXTM3U
#EXT-X-TARGETDURATION:4
#EXT-X-VERSION:8
#EXT-X-MEDIA-SEQUENCE:10
#EXTINF:4.0,
seg10.ts
#EXT-X-GAP
#EXTINF:4.0,
seg11.ts
#EXTINF:3.5,
#EXT-X-GAP
seg12.ts
#EXTINF:4.0,
seg13.ts
#EXT-X-ENDLIST
"""


def _urls(segs):
    return [s.url.rsplit("/", 1)[-1] for s in segs]


# --- 1. low-latency HLS -------------------------------------------------------------------------

def test_ll_hls_parts_are_left_aside_and_whole_segments_kept():
    pl = parse_checked(LL_HLS.encode(), URL)
    segs = segments(pl)
    assert _urls(segs) == ["fileSequence266.ts", "fileSequence267.ts", "fileSequence268.ts"]
    assert [s.media_sequence for s in segs] == [266, 267, 268]
    assert all(s.duration == pytest.approx(4.00008) for s in segs)
    assert all(ms.uri and ms.duration for ms in pl.segments), "no entry without URI or duration"
    # the date-times follow the whole segments only (parts are not added twice)
    first = segs[0].program_date_time
    assert segs[2].program_date_time == first + timedelta(seconds=2 * 4.00008)


def test_ll_hls_reload_continues_the_live_window():
    window = LiveWindow(start_behind=2)
    assert _urls(window.update(segments(parse(LL_HLS, URL)))) == ["fileSequence267.ts",
                                                                    "fileSequence268.ts"]
    more = LL_HLS.replace("#EXT-X-PRELOAD-HINT", "#EXTINF:4.00008,\nfileSequence269.ts\n"
                                                 "#EXT-X-PRELOAD-HINT")
    assert _urls(window.update(segments(parse(more, URL)))) == ["fileSequence269.ts"]
    assert window.missed == 0 and window.resets == 0


# --- 2. delta updates ---------------------------------------------------------------------------

def test_delta_update_keeps_the_media_sequence_numbering():
    segs = segments(parse_checked(DELTA.encode(), URL))
    assert _urls(segs) == ["fileSequence269.ts", "fileSequence270.ts"]
    assert [s.media_sequence for s in segs] == [269, 270]


def test_delta_update_after_a_full_playlist_yields_only_new_segments():
    window = LiveWindow(start_behind=3)
    window.update(segments(parse(FULL, URL)))
    new = window.update(segments(parse(DELTA, URL)))
    assert _urls(new) == ["fileSequence269.ts", "fileSequence270.ts"]
    assert [s.media_sequence for s in new] == [269, 270]
    assert window.missed == 0 and window.resets == 0


# --- 3. EXT-X-DEFINE ----------------------------------------------------------------------------

MASTER_DEFINES = """#EXTM3U
#EXT-X-VERSION:8
#EXT-X-DEFINE:NAME="cdn",VALUE="https://cdn.example.net/hls"
#EXT-X-DEFINE:QUERYPARAM="token"
#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="aud",NAME="English",LANGUAGE="en",DEFAULT=YES,URI="{$cdn}/audio/en.m3u8?token={$token}"
#EXT-X-STREAM-INF:BANDWIDTH=1280000,RESOLUTION=640x360,CODECS="avc1.4d401e,mp4a.40.2"
{$cdn}/v360/index.m3u8?token={$token}
"""

MEDIA_DEFINES = """#EXTM3U
#EXT-X-VERSION:8
#EXT-X-TARGETDURATION:4
#EXT-X-DEFINE:IMPORT="token"
#EXT-X-DEFINE:NAME="path",VALUE="segments/v360"
#EXT-X-DEFINE:QUERYPARAM="session"
#EXT-X-KEY:METHOD=AES-128,URI="{$path}/key.bin?token={$token}"
#EXT-X-MAP:URI="{$path}/init.mp4"
#EXTINF:4.0,
{$path}/seg0.ts?token={$token}&session={$session}
#EXTINF:4.0,
{$path}/seg1.ts?token={$token}&session={$session}
#EXT-X-ENDLIST
"""


def test_define_value_and_queryparam_in_a_master():
    master = parse_checked(MASTER_DEFINES.encode(), "https://example.com/master.m3u8?token=a%2Bb")
    assert master.variables == {"cdn": "https://cdn.example.net/hls", "token": "a+b"}
    assert [p.uri for p in master.playlists] == ["https://cdn.example.net/hls/v360/index.m3u8?token=a+b"]
    assert master.media[0].uri == "https://cdn.example.net/hls/audio/en.m3u8?token=a+b"


def test_define_import_from_the_master_and_substitution_in_attributes():
    media_url = "https://cdn.example.net/hls/v360/index.m3u8?token=secret&session=42"
    pl = parse(MEDIA_DEFINES, media_url, imports={"token": "secret"})
    segs = segments(pl)
    base = "https://cdn.example.net/hls/v360/segments/v360/"
    assert [s.url for s in segs] == [base + "seg0.ts?token=secret&session=42",
                                     base + "seg1.ts?token=secret&session=42"]
    assert segs[0].key.uri == base + "key.bin?token=secret"
    assert segs[0].init.url == base + "init.mp4"
    assert "{$" not in "".join(s.url for s in segs)


def test_define_import_takes_the_variables_of_the_master_it_came_from():
    master_url = "https://example.com/master.m3u8?token=t0k"
    master = parse(MASTER_DEFINES, master_url)
    media_url = master.playlists[0].uri  # hls.plan passes the master's variables on
    pl = parse(MEDIA_DEFINES.replace("&session={$session}", "").replace(
        '#EXT-X-DEFINE:QUERYPARAM="session"\n', ""), media_url, imports=master.variables)
    assert [s.url.rsplit("/", 1)[-1] for s in segments(pl)] == ["seg0.ts?token=t0k", "seg1.ts?token=t0k"]


@pytest.mark.parametrize("text, says", [
    ("#EXTM3U\n#EXT-X-TARGETDURATION:4\n#EXTINF:4,\n{$missing}/a.ts\n", "{$missing}"),
    ("#EXTM3U\n#EXT-X-TARGETDURATION:4\n#EXTINF:4,\n{$late}/a.ts\n"
     '#EXT-X-DEFINE:NAME="late",VALUE="x"\n', "{$late}"),
    ('#EXTM3U\n#EXT-X-TARGETDURATION:4\n#EXT-X-KEY:METHOD=AES-128,URI="{$k}"\n#EXTINF:4,\na.ts\n', "{$k}"),
    ('#EXTM3U\n#EXT-X-DEFINE:QUERYPARAM="nope"\n#EXTINF:4,\na.ts\n', "query parameter"),
    ('#EXTM3U\n#EXT-X-DEFINE:IMPORT="nope"\n#EXTINF:4,\na.ts\n', "master playlist defines no"),
    ('#EXTM3U\n#EXT-X-DEFINE:IMPORT="x"\n#EXT-X-STREAM-INF:BANDWIDTH=1\nv.m3u8\n', "in a master"),
    ('#EXTM3U\n#EXT-X-DEFINE:NAME="a",VALUE="1"\n#EXT-X-DEFINE:NAME="a",VALUE="2"\n', "twice"),
    ('#EXTM3U\n#EXT-X-DEFINE:NAME="a b",VALUE="1"\n', "invalid variable name"),
    ('#EXTM3U\n#EXT-X-DEFINE:NAME="a"\n', "without a VALUE"),
])
def test_define_errors_are_invalid_stream(text, says):
    with pytest.raises(InvalidStreamError) as info:
        parse_checked(text.encode(), "https://example.com/x/index.m3u8?token=1")
    assert info.value.error_id == "invalid_stream"
    assert says in str(info.value)


# --- 4. I-frame-only playlists ------------------------------------------------------------------

def test_iframe_only_playlist_is_refused():
    with pytest.raises(InvalidStreamError, match=r"I-frame-only playlist \(trick play\), not a stream"):
        parse_checked(IFRAMES.encode(), URL)
    with pytest.raises(InvalidStreamError, match="I-frame-only"):
        segments(parse(IFRAMES, URL))


# --- 5. EXT-X-GAP -------------------------------------------------------------------------------

def test_gap_segments_are_marked_with_their_duration():
    segs = segments(parse_checked(GAPS.encode(), URL))
    assert [s.media_sequence for s in segs] == [10, 11, 12, 13]
    assert [s.gap for s in segs] == [False, True, True, False]
    assert sum(s.duration for s in segs if s.gap) == pytest.approx(7.5)


# --- 6. a trailing EXTINF without its URI -------------------------------------------------------

def test_trailing_extinf_without_uri_is_still_being_written():
    head = "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXT-X-MEDIA-SEQUENCE:5\n"
    writing = head + "#EXTINF:2.0,\ns5.ts\n#EXTINF:2.0,\ns6.ts\n#EXTINF:2.0,\n"
    pl = parse_checked(writing.encode(), URL)
    assert [ms.uri.rsplit("/", 1)[-1] for ms in pl.segments] == ["s5.ts", "s6.ts"]
    window = LiveWindow(start_behind=5)
    assert _urls(window.update(segments(pl))) == ["s5.ts", "s6.ts"]
    complete = writing + "s7.ts\n"
    assert [(s.media_sequence, s.url.rsplit("/", 1)[-1])
            for s in window.update(segments(parse(complete, URL)))] == [(7, "s7.ts")]
    assert window.missed == 0


# --- end to end on the loopback server ----------------------------------------------------------

@pytest.fixture(scope="module")
def ts_segs(tmp_path_factory):
    return make_ts_segments(tmp_path_factory.mktemp("rfc8216bis"), 3, 1.0)


@pytest_twisted.ensureDeferred
async def test_recording_ll_hls_with_variables(server, manager, collector, ts_segs, tmp_path):
    """A master with variables, a media playlist importing them, parts and a preload hint:
    the whole segments are recorded, no part is requested."""
    for i, path in enumerate(ts_segs):
        server.put("/ll/v1/seg%d.ts" % i, path.read_bytes())
        server.put("/ll/v1/part%d.0.ts" % i, b"not to be fetched")
    server.put("/ll/master.m3u8", (
        b"#EXTM3U\n#EXT-X-DEFINE:QUERYPARAM=\"auth\"\n#EXT-X-DEFINE:NAME=\"v\",VALUE=\"v1\"\n"
        b"#EXT-X-STREAM-INF:BANDWIDTH=500000,RESOLUTION=320x240,CODECS=\"avc1.42c00d,mp4a.40.2\"\n"
        b"{$v}/index.m3u8?auth={$auth}\n"))
    lines = ["#EXTM3U", "#EXT-X-VERSION:9", "#EXT-X-TARGETDURATION:1",
             "#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,PART-HOLD-BACK=0.6",
             "#EXT-X-PART-INF:PART-TARGET=0.2", '#EXT-X-DEFINE:IMPORT="auth"']
    for i in range(len(ts_segs)):
        lines += ['#EXT-X-PART:DURATION=0.2,URI="part%d.0.ts?auth={$auth}",INDEPENDENT=YES' % i,
                  "#EXTINF:1.0,", "seg%d.ts?auth={$auth}" % i]
    lines += ['#EXT-X-PRELOAD-HINT:TYPE=PART,URI="part3.0.ts"', "#EXT-X-ENDLIST"]
    server.put("/ll/v1/index.m3u8", ("\n".join(lines) + "\n").encode())
    manager.record_stream(rr(server.url("/ll/master.m3u8?auth=k1"), tmp_path, buffering=1))
    stop = await wait_stopped(manager)
    assert stop[1]["reason"] == "complete", stop
    assert stop[1]["skipped_segments"] == 0
    assert server.paths_requested("part") == []
    fetched = server.paths_requested(r"seg\d")
    assert len(fetched) == 3 and all(p.endswith("?auth=k1") for p in fetched)
    assert (tmp_path / "stream_0.ts").stat().st_size > 0
    one_stop(collector)


@pytest_twisted.ensureDeferred
async def test_recording_an_iframe_only_playlist_is_invalid_stream(server, manager, collector,
                                                                   ts_segs, tmp_path):
    server.put("/iframes/main.ts", ts_segs[0].read_bytes())
    server.put("/iframes/index.m3u8", IFRAMES.encode())
    keep = tmp_path / "stream_0.ts"
    keep.write_bytes(b"the last recording")
    manager.record_stream(rr(server.url("/iframes/index.m3u8"), tmp_path))
    stop = await wait_stopped(manager)
    assert stop[1]["reason"] == "error" and stop[1]["error_id"] == "invalid_stream"
    assert "I-frame-only playlist (trick play), not a stream to record" in stop[1]["msg"]
    assert server.paths_requested("main.ts") == []
    assert keep.read_bytes() == b"the last recording"
    one_stop(collector)


@pytest_twisted.ensureDeferred
async def test_recording_with_a_gap_segment_never_requests_it(server, manager, collector, ts_segs,
                                                              tmp_path):
    """EXT-X-GAP: the server has no media there. It is not requested, not a failure, and its
    duration is reported as missing media."""
    for i, path in enumerate(ts_segs):
        server.put("/gap/seg%d.ts" % i, path.read_bytes())
    server.put("/gap/index.m3u8", (
        b"#EXTM3U\n#EXT-X-VERSION:8\n#EXT-X-TARGETDURATION:2\n"
        b"#EXTINF:1.0,\nseg0.ts\n#EXT-X-GAP\n#EXTINF:1.5,\nseg1.ts\n#EXTINF:1.0,\nseg2.ts\n"
        b"#EXT-X-ENDLIST\n"))
    manager.record_stream(rr(server.url("/gap/index.m3u8"), tmp_path, buffering=1))
    stop = await wait_stopped(manager)
    assert stop[1]["reason"] == "complete", stop
    assert stop[1]["skipped_segments"] == 0
    assert stop[1]["missing_s"] == 1.5
    assert server.paths_requested("seg1") == []
    assert len(server.paths_requested(r"seg[02]")) == 2
    one_stop(collector)


def test_import_without_a_master_is_invalid_stream_even_after_a_master_named_that_url():
    # Nothing is remembered between playlists (no process-wide store): a media playlist that
    # imports a variable gets it from the master of the same recording, or fails.
    master = parse('#EXTM3U\n#EXT-X-DEFINE:NAME="token",VALUE="t"\n#EXT-X-STREAM-INF:BANDWIDTH=1\n'
                   "v.m3u8\n", "https://bound.example.com/m.m3u8")
    with pytest.raises(InvalidStreamError, match="defines no variable"):
        parse(MEDIA_DEFINES, master.playlists[0].uri)
