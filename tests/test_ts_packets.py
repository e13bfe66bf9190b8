"""Packet framing: 188/192/204 packets, junk, resync, truncation, not-TS input."""

import random

import pytest

from media import make_mp4, ts_to_204, ts_to_m2ts

from streamrecorder.errors import InvalidStreamError
from streamrecorder.ts import align, looks_like_ts
from streamrecorder.ts.packets import PidIndex, header_bytes


@pytest.fixture(scope="module")
def segment(media_ts_restart):
    return media_ts_restart[0].read_bytes()


def test_clean_188_is_returned_as_is(segment):
    out = align(segment)
    assert isinstance(out, bytearray)
    assert out == segment


def test_m2ts_192_and_204_become_188(segment):
    assert align(ts_to_m2ts(segment)) == segment
    assert align(ts_to_204(segment)) == segment
    assert looks_like_ts(ts_to_m2ts(segment)) and looks_like_ts(ts_to_204(segment))


def test_junk_before_first_sync_is_skipped(segment):
    junk = b"HTTP/1.1 200 OK\r\nX-G: GGG\r\n\r\n" + bytes(range(256)) * 3
    assert align(junk + segment) == segment
    assert looks_like_ts(junk + segment)


def test_garbage_in_the_middle_resyncs(segment):
    k = 50 * 188
    garbage = b"\x47\x00junk\x47" + bytes(range(0x40, 0x80)) + b"\x47" * 3  # shorter than a packet
    assert align(segment[:k] + garbage + segment[k:]) == segment


def test_packet_cut_short_in_the_middle_is_dropped(segment):
    k = 50 * 188
    spliced = segment[:k + 100] + segment[k + 188:]  # packet 50 lost its last 88 bytes
    assert align(spliced) == segment[:k] + segment[k + 188:]


def test_m2ts_with_garbage_resyncs(segment):
    m2ts = ts_to_m2ts(segment)
    k = 30 * 192
    assert align(m2ts[:k] + b"\x00junk\x47" + m2ts[k:]) == segment


def test_trailing_partial_packet_is_dropped(segment):
    assert align(segment + segment[:100]) == segment


def test_broken_sync_byte_drops_that_packet(segment):
    broken = bytearray(segment)
    broken[10 * 188] = 0x00
    assert align(broken) == segment[:10 * 188] + segment[11 * 188:]


def test_single_packet(segment):
    assert align(segment[:188]) == segment[:188]


@pytest.mark.parametrize("data", [
    b"",
    b"G",
    b"<!DOCTYPE html><html><head><title>Gone</title></head><body>"
    + b"".join(b"<p>GG %d: Go get Gadgets!</p>\n" % i for i in range(300)) + b"</body></html>",
    b"#EXTM3U\n#EXT-X-VERSION:3\n" + b"".join(b"#EXTINF:4.0,\nGseg%d.ts\n" % i for i in range(300)),
    bytes(random.Random(7).randrange(256) for _ in range(20000)),
])
def test_not_ts_raises_invalid_stream(data):
    with pytest.raises(InvalidStreamError):
        align(data)
    assert not looks_like_ts(data)


def test_mp4_is_not_ts(tmp_path):
    head = make_mp4(tmp_path / "a.mp4", 1).read_bytes()[:8192]
    assert not looks_like_ts(head)


def test_pid_index_matches_a_plain_scan(segment):
    buf = align(segment)
    index = PidIndex.build(header_bytes(buf, 1), header_bytes(buf, 2))
    pids = [((buf[o + 1] & 0x1F) << 8) | buf[o + 2] for o in range(0, len(buf), 188)]
    assert index.pids == list(dict.fromkeys(pids))
    for pid in index.pids:
        where = [i for i, p in enumerate(pids) if p == pid]
        assert index.indices(pid) == where
        assert (index.first(pid), index.last(pid)) == (where[0], where[-1])
    assert index.first(0x1234) == -1
