"""hls.live: new segments across reloads, restarts, reload timing, stall detection (fake clock)."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from streamrecorder.errors import StreamTimeoutError
from streamrecorder.hls.live import LiveWindow, StallDetector, reload_delay
from streamrecorder.hls.playlist import parse, segments

URL = "https://live.example.com/ch1/index.m3u8"


def window(first, count, disc_seq=None, disc_before=(), name="seg", query="", duration=6):
    """Segments of a real live playlist text: media sequence first..first+count-1."""
    lines = ["#EXTM3U", "#EXT-X-TARGETDURATION:6", "#EXT-X-MEDIA-SEQUENCE:%d" % first]
    if disc_seq is not None:
        lines.append("#EXT-X-DISCONTINUITY-SEQUENCE:%d" % disc_seq)
    for n in range(first, first + count):
        if n in disc_before:
            lines.append("#EXT-X-DISCONTINUITY")
        lines += ["#EXTINF:%s," % duration, "%s%d.ts%s" % (name, n, query)]
    return segments(parse("\n".join(lines) + "\n", URL))


def seqs(segs):
    return [s.media_sequence for s in segs]


def test_first_load_starts_at_the_edge_minus_n():
    live = LiveWindow(3)
    assert seqs(live.update(window(10, 10))) == [17, 18, 19]
    assert live.changed
    assert seqs(LiveWindow(50).update(window(10, 5))) == [10, 11, 12, 13, 14]
    assert seqs(LiveWindow(0).update(window(10, 5))) == [14]  # at least the newest segment


def test_sliding_window_advances():
    live = LiveWindow(2)
    live.update(window(0, 6))
    assert seqs(live.update(window(2, 6))) == [6, 7]
    assert live.changed
    assert seqs(live.update(window(3, 6))) == [8]
    assert seqs(live.update(window(5, 6))) == [9, 10]
    assert live.missed == 0 and live.resets == 0


def test_unchanged_window():
    live = LiveWindow(2)
    live.update(window(0, 6))
    assert live.update(window(0, 6)) == []
    assert not live.changed
    assert live.update([]) == [] and not live.changed


def test_stale_reload_from_a_lagging_edge_fetches_nothing_twice():
    live = LiveWindow(2)
    live.update(window(0, 6))
    assert seqs(live.update(window(2, 6))) == [6, 7]
    assert live.update(window(1, 6)) == []      # an older copy of the playlist
    assert not live.changed
    assert seqs(live.update(window(3, 6))) == [8]
    assert live.resets == 0


def test_rotating_tokens_in_urls_are_the_same_segments():
    live = LiveWindow(2)
    live.update(window(0, 6, query="?token=aaa"))
    assert live.update(window(0, 6, query="?token=bbb")) == []
    assert seqs(live.update(window(1, 6, query="?token=ccc"))) == [6]


def test_media_sequence_reset_continues_with_the_new_window():
    live = LiveWindow(2)
    live.update(window(500, 6, name="old"))
    new = live.update(window(0, 3, name="new"))   # encoder restart: numbers went backwards
    assert seqs(new) == [1, 2] and live.resets == 1 and live.changed
    assert seqs(live.update(window(1, 3, name="new"))) == [3]
    assert seqs(live.update(window(2, 3, name="new"))) == [4]


def test_reset_with_the_same_file_names_but_a_higher_discontinuity_sequence():
    live = LiveWindow(2)
    live.update(window(0, 6))
    # The same numbers and names come back, announced by a discontinuity: new content.
    new = live.update(window(0, 3, disc_seq=0, disc_before=(0,)))
    assert seqs(new) == [1, 2] and live.resets == 1
    assert seqs(live.update(window(1, 3, disc_seq=1))) == [3]   # the tag slid out: DSN 1


def test_reset_to_other_file_names_with_overlapping_numbers():
    live = LiveWindow(3)
    live.update(window(10, 6, name="a"))
    assert seqs(live.update(window(8, 4, name="b"))) == [9, 10, 11]
    assert live.resets == 1


def test_discontinuity_sequence_change_while_numbers_continue():
    live = LiveWindow(2)
    live.update(window(0, 6))
    new = live.update(window(2, 6, disc_before=(6,)))
    assert seqs(new) == [6, 7]
    assert [s.discontinuity_sequence for s in new] == [1, 1] and new[0].discontinuity


def test_server_without_discontinuity_sequence_tag_does_not_cause_duplicates():
    live = LiveWindow(2)
    live.update(window(0, 6, disc_before=(3,)))            # segments 3..5 have dsn 1
    # The discontinuity slid out and the server forgot EXT-X-DISCONTINUITY-SEQUENCE: 4, 5 are dsn 0.
    assert seqs(live.update(window(4, 6))) == [6, 7, 8, 9]
    assert live.resets == 0


def test_long_gap_without_overlap_counts_missed_segments():
    live = LiveWindow(2)
    live.update(window(0, 6))
    assert seqs(live.update(window(50, 6))) == [50, 51, 52, 53, 54, 55]
    assert live.missed == 44 and live.resets == 0


def test_renumbered_older_window_without_overlap_is_a_reset():
    live = LiveWindow(2)
    live.update(window(1000, 6))
    assert seqs(live.update(window(10, 6))) == [14, 15]
    assert live.resets == 1


@given(st.lists(st.tuples(st.integers(0, 40), st.integers(0, 8), st.integers(0, 2),
                          st.sampled_from(["a", "b"])), max_size=12))
def test_arbitrary_reload_sequences(reloads):
    live = LiveWindow(3)
    for first, count, disc, name in reloads:
        segs = window(first, count, disc_seq=disc, name=name)
        new = live.update(segs)
        assert new == segs[len(segs) - len(new):]   # always a tail of the playlist, in order
        assert live.changed == bool(new)


# --- reload timing ------------------------------------------------------------------------------

@pytest.mark.parametrize("args, expected", [
    ((6, True, None, 0.0), 6.0),          # changed: the target duration
    ((6, True, 4.0, 0.0), 4.0),           # 8216bis: the last segment's duration
    ((6, False, None, 0.0), 3.0),         # unchanged: half the target duration
    ((6, False, 4.0, 0.0), 3.0),
    ((6, True, None, 1.5), 4.5),          # measured from the start of the previous request
    ((6, False, None, 10.0), 0.0),        # never negative
    ((10, True, 9.97, 0.25), 9.72),
    ((0, True, None, 0.0), 6.0),          # no usable target duration: 6 s
    ((None, False, 2.0, 0.0), 1.0),
    ((0.01, False, None, 0.0), 0.5),      # no busy loop on absurd values
    ((10 ** 9, True, None, 0.0), 300.0),
    ((6, True, float("nan"), float("nan")), 6.0),
])
def test_reload_delay(args, expected):
    assert reload_delay(*args) == pytest.approx(expected)


@given(st.floats(allow_nan=True), st.booleans(), st.one_of(st.none(), st.floats()), st.floats())
def test_reload_delay_is_never_negative(target, changed, last, elapsed):
    assert 0.0 <= reload_delay(target, changed, last, elapsed) <= 300.0


# --- stall detection ----------------------------------------------------------------------------

class FakeClock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


def test_stall_detector_short_targets_get_30_seconds():
    clock = FakeClock()
    stall = StallDetector(clock)
    for _ in range(29):
        clock.now += 1
        stall.observe(False, 2)
    assert stall.stalled_for == 29
    clock.now += 1
    stall.observe(False, 2)                # exactly 30 s: still allowed
    clock.now += 1
    with pytest.raises(StreamTimeoutError, match="has not changed for 31 s"):
        stall.observe(False, 2)


def test_stall_detector_six_target_durations():
    clock = FakeClock()
    stall = StallDetector(clock)
    clock.now += 59
    stall.observe(False, 10)
    clock.now += 2
    with pytest.raises(StreamTimeoutError) as err:
        stall.observe(False, 10)
    assert err.value.error_id == "timeout"


def test_a_change_resets_the_stall_clock():
    clock = FakeClock()
    stall = StallDetector(clock)
    for _ in range(10):
        clock.now += 25
        stall.observe(False, 4)
        clock.now += 1
        stall.observe(True, 4)
    assert stall.stalled_for == 0


def test_stall_floor_can_be_lowered():
    clock = FakeClock()
    stall = StallDetector(clock, floor=1.5)
    clock.now += 1.4
    stall.observe(False, 0.2)
    clock.now += 0.2
    with pytest.raises(StreamTimeoutError):
        stall.observe(False, 0.2)
