"""Property tests: any input gives output or InvalidStreamError; valid input keeps CC and DTS order."""

import os

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from media import ts_cc_errors

from streamrecorder.errors import InvalidStreamError
from streamrecorder.ts import SectionJoiner, align, looks_like_ts, parse_psi, video_resolution
from streamrecorder.ts.packets import TS_SIZE
from streamrecorder.ts.probe import StreamInfo
from streamrecorder.ts.timestamps import diff, read_ts

# TS_FUZZ_EXAMPLES=2000 runs a longer, randomised search (default: 120 fixed examples per test).
FUZZ = int(os.environ.get("TS_FUZZ_EXAMPLES", "0"))
SETTINGS = settings(max_examples=FUZZ or 120, deadline=None, derandomize=not FUZZ,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
ANY_INFO = [StreamInfo(1, 0x1000, 0x100, [(0x100, 0x1B), (0x101, 0x0F)]),
            StreamInfo(1, 0x1000, 0x100, [(0x100, 0x24)])]


class Segments(list):
    """A list of segment bytes that hypothesis reports by size, not by content."""

    def __repr__(self):
        return "<%d segments>" % len(self)


@pytest.fixture(scope="module")
def corpus(media_ts_restart, media_ts_continuous, media_ts_ad, media_ts_wrap, media_ts_hevc):
    """Whole A/V segments of every kind (restarting, continuing, other PIDs, wrapping, HEVC)."""
    paths = media_ts_restart[:3] + media_ts_continuous[:3] + media_ts_ad + media_ts_wrap
    return Segments(p.read_bytes() for p in paths + media_ts_hevc[:1])


@pytest.fixture(scope="module")
def pieces(corpus, media_ts_audio):
    """The first 300 packets of segments (plus audio-only): small enough for many examples."""
    return Segments([data[:300 * TS_SIZE] for data in corpus] + [media_ts_audio[0].read_bytes()])


def exercise(data, joiner=None, discontinuity=False):
    """Every public entry point on one input; only InvalidStreamError may escape."""
    assert isinstance(looks_like_ts(data), bool)
    for info in ANY_INFO:
        video_resolution(bytearray(data), info)
    parse_psi(bytearray(data))
    try:
        buf = align(data)
    except InvalidStreamError:
        buf = None
    if buf is not None:
        info = parse_psi(buf)
        if info is not None:
            video_resolution(buf, info)
    joiner = joiner or SectionJoiner()
    try:
        out = joiner.push(data, discontinuity)
    except InvalidStreamError:
        return None
    assert len(out) % TS_SIZE == 0
    return out


def dts_order_errors(data):
    """Per PID, PES decode times (DTS, else PTS) that do not increase (wrap-aware)."""
    last = {}
    errors = []
    for off in range(0, len(data), TS_SIZE):
        if not data[off + 1] & 0x40 or data[off + 3] & 0x30 not in (0x10, 0x30):
            continue
        p = off + 4 + (1 + data[off + 4] if data[off + 3] & 0x20 else 0)
        if p + 19 > off + TS_SIZE or data[p:p + 3] != b"\0\0\1" or data[p + 3] < 0xC0:
            continue
        flags = data[p + 7] >> 6
        if flags not in (2, 3):
            continue
        dts = read_ts(data, p + 14 if flags == 3 else p + 9)
        pid = ((data[off + 1] & 0x1F) << 8) | data[off + 2]
        if pid in last and diff(dts, last[pid]) <= 0:
            errors.append((off // TS_SIZE, hex(pid), last[pid], dts))
        last[pid] = dts
    return errors


@SETTINGS
@given(st.binary(max_size=3000))
def test_random_bytes(data):
    exercise(data)


@SETTINGS
@given(st.lists(st.binary(min_size=187, max_size=187), max_size=12), st.binary(max_size=200))
def test_random_packets(bodies, tail):
    exercise(b"".join(b"\x47" + body for body in bodies) + tail)


mutation = st.tuples(st.sampled_from(["set", "delete", "insert", "sync"]),
                     st.floats(0, 1), st.binary(min_size=1, max_size=300))


@SETTINGS
@given(st.data(), st.lists(mutation, max_size=12), st.booleans(), st.booleans())
def test_mutated_segments(pieces, data, mutations, head_only, discontinuity):
    first = data.draw(st.sampled_from(pieces))
    victim = bytearray(data.draw(st.sampled_from(pieces)))
    span = min(len(victim), 2000) if head_only else len(victim)  # the head holds PSI and the SPS
    for op, where, blob in mutations:
        pos = int(where * max(span - 1, 0))
        if op == "set":
            victim[pos:pos + len(blob)] = blob
        elif op == "delete":
            del victim[pos:pos + len(blob)]
        elif op == "insert":
            victim[pos:pos] = blob
        else:
            victim[pos - pos % TS_SIZE] = blob[0]  # hit a sync byte
    joiner = SectionJoiner()
    joiner.push(first)
    exercise(bytes(victim), joiner, discontinuity)
    exercise(bytes(victim))


packet_range = st.tuples(st.integers(0, 10), st.floats(0, 1), st.floats(0, 1), st.booleans())


@SETTINGS
@given(st.lists(packet_range, min_size=1, max_size=5))
def test_cc_continuous_for_any_valid_slices(pieces, ranges):
    joiner = SectionJoiner()
    out = bytearray()
    for which, a, b, discontinuity in ranges:
        data = pieces[which % len(pieces)]
        count = len(data) // TS_SIZE
        lo, hi = sorted((int(a * (count - 1)), int(b * count)))
        hi = max(hi, lo + 1)
        out += joiner.push(data[lo * TS_SIZE:hi * TS_SIZE], discontinuity)
    assert ts_cc_errors(bytes(out)) == []


@SETTINGS
@given(st.lists(st.tuples(st.integers(0, 20), st.booleans()), min_size=2, max_size=5))
def test_timeline_monotonic_for_any_segment_order(corpus, order):
    joiner = SectionJoiner()
    out = bytearray()
    for which, discontinuity in order:
        out += joiner.push(corpus[which % len(corpus)], discontinuity)
    assert ts_cc_errors(bytes(out)) == []
    assert dts_order_errors(out) == []
