"""SectionJoiner on real ffmpeg segments: PSI first, constant PIDs, CC and timeline continuity."""

import pytest
from helpers import ffmpeg_errors
from media import ffprobe_packets, largest_gap, stream_span, ts_cc_errors, ts_pids, ts_to_204, ts_to_m2ts

from streamrecorder.errors import InvalidStreamError
from streamrecorder.ts import SectionJoiner, align, parse_psi, video_resolution
from streamrecorder.ts.timestamps import read_pcr, read_ts

SECTION_PIDS = [0x0, 0x1000, 0x11, 0x100, 0x101]


def join(paths, out_path, discontinuities=(), datas=None):
    """Push files (or given bytes) through one joiner into out_path; return the joiner."""
    joiner = SectionJoiner()
    with open(str(out_path), "wb") as out:
        for i, path in enumerate(paths):
            data = datas[i] if datas and datas[i] is not None else path.read_bytes()
            out.write(joiner.push(data, discontinuity=i in discontinuities))
    return joiner


def durations(paths):
    """Sum over files of each stream's own span (what the joined file should last)."""
    total = {"video": 0.0, "audio": 0.0}
    for path in paths:
        for kind, packets in ffprobe_packets(path).items():
            if kind in total:
                first, end = stream_span(packets)
                total[kind] += end - first
    return total


def file_span(packets):
    """Seconds from the earliest start to the latest end over all streams of a file."""
    spans = [stream_span(stream) for stream in packets.values() if stream]
    return max(end for _, end in spans) - min(start for start, _ in spans)


def dts_errors(packets):
    dts = [d if d is not None else p for p, d, _ in packets]
    return [(a, b) for a, b in zip(dts, dts[1:]) if b <= a]


def check_section(out_path, expect_pids=SECTION_PIDS):
    """The invariants every section file must hold; returns ffprobe's packets."""
    data = out_path.read_bytes()
    assert len(data) % 188 == 0
    assert ts_cc_errors(data) == []
    first = [((data[o + 1] & 0x1F) << 8) | data[o + 2] for o in (0, 188)]
    assert first == [0x0, 0x1000]  # PAT, then PMT, lead the file
    assert sorted(ts_pids(data)) == sorted(expect_pids)
    assert ffmpeg_errors(out_path) == ""
    packets = ffprobe_packets(out_path)
    for kind, stream in packets.items():
        assert dts_errors(stream) == [], kind
        assert largest_gap(stream) < 0.1, kind
    return packets


def test_restarting_segments_join_into_one_timeline(media_ts_restart, tmp_path):
    out = tmp_path / "stream_0.ts"
    joiner = join(media_ts_restart, out)
    packets = check_section(out)
    expected = durations(media_ts_restart)
    for kind in ("video", "audio"):
        first, end = stream_span(packets[kind])
        # Joins may leave at most a few ms per join (audio and video never end together).
        assert expected[kind] - 0.01 <= end - first <= expected[kind] + 0.01 * len(media_ts_restart)
    assert joiner.segments == len(media_ts_restart)
    assert joiner.media_seconds == pytest.approx(file_span(packets), abs=0.01)
    assert joiner.info.streams == [(0x100, 0x1B), (0x101, 0x0F)]
    # Rebased: the first PCR at 1 s, so a section does not wrap the 33-bit clock for 26 h.
    buf = align(out.read_bytes())
    pcr = next(read_pcr(buf, o + 6) for o in range(0, len(buf), 188)
               if buf[o + 3] & 0x20 and buf[o + 4] >= 7 and buf[o + 5] & 0x10)
    assert pcr == 90000
    assert 0.9 < stream_span(packets["video"])[0] < 2.5


def test_continuing_timestamps_keep_their_offset(media_ts_continuous, tmp_path):
    out = tmp_path / "stream_0.ts"
    join(media_ts_continuous, out)
    packets = check_section(out)
    source = [p for path in media_ts_continuous for p in ffprobe_packets(path)["video"]]
    shifts = {round(o[0] - s[0], 6) for o, s in zip(packets["video"], source)}
    assert len(shifts) == 1  # one offset for the whole section: no join moved anything
    assert len(packets["video"]) == len(source)


def test_discontinuity_flag_on_continuous_timestamps(media_ts_continuous, tmp_path):
    out = tmp_path / "stream_0.ts"
    join(media_ts_continuous, out, discontinuities={2})
    packets = check_section(out)
    first, end = stream_span(packets["video"])
    assert end - first == pytest.approx(sum(durations(media_ts_continuous).values()) / 2, abs=0.05)


def test_forward_jump_is_closed_small_gap_kept(media_ts_continuous, tmp_path):
    segs = media_ts_continuous
    out = tmp_path / "jump.ts"
    join([segs[0], segs[3]], out)  # 2 s missing: more than 1 s forward, re-based
    assert largest_gap(check_section(out)["video"]) < 0.05
    out = tmp_path / "gap.ts"
    join([segs[0], segs[1], segs[3]], out)  # 1 s missing: a real gap, kept as it is
    packets = ffprobe_packets(out)
    assert 0.9 < largest_gap(packets["video"]) < 1.05
    assert dts_errors(packets["video"]) == []


@pytest.mark.parametrize("flagged", [False, True])
def test_ad_from_another_encoder_is_mapped_onto_section_pids(media_ts_restart, media_ts_ad,
                                                             tmp_path, flagged):
    paths = media_ts_restart[:3] + media_ts_ad + media_ts_restart[3:]
    out = tmp_path / "stream_0.ts"
    joiner = join(paths, out, discontinuities={3, 4} if flagged else ())
    packets = check_section(out)
    assert parse_psi(align(out.read_bytes())).program_number == 1
    expected = durations(paths)
    first, end = stream_span(packets["video"])
    assert end - first == pytest.approx(expected["video"], abs=0.05 * len(paths))
    assert joiner.media_seconds == pytest.approx(file_span(packets), abs=0.01)
    # Only the section's PAT/PMT/SDT appear: one program, one service.
    data = out.read_bytes()
    pmts = {data[o:o + 188][4:] for o in range(0, len(data), 188)
            if ((data[o + 1] & 0x1F) << 8 | data[o + 2]) == 0x1000}
    assert len(pmts) == 1


def test_audio_only_segments(media_ts_audio, tmp_path):
    out = tmp_path / "stream_0.ts"
    joiner = join(media_ts_audio, out)
    packets = check_section(out, [0x0, 0x1000, 0x11, 0x100])
    first, end = stream_span(packets["audio"])
    assert joiner.info.video_pid is None
    assert joiner.media_seconds == pytest.approx(end - first, abs=0.01)
    assert end - first == pytest.approx(durations(media_ts_audio)["audio"], abs=0.01)


def test_hevc_segments(media_ts_hevc, tmp_path):
    out = tmp_path / "stream_0.ts"
    join(media_ts_hevc, out)
    check_section(out)
    buf = align(out.read_bytes())
    assert video_resolution(buf, parse_psi(buf)) == (426, 240)


def test_33_bit_wrap_inside_a_segment(media_ts_wrap, tmp_path):
    buf = align(media_ts_wrap[0].read_bytes())
    pts = [read_ts(buf, o + 13) for o in range(0, len(buf), 188)
           if buf[o + 1] & 0x40 and buf[o + 3] & 0x30 == 0x10 and buf[o + 4:o + 7] == b"\0\0\1"]
    assert max(pts) > 2 ** 33 - 90000 and min(pts) < 90000  # the source really wraps
    out = tmp_path / "stream_0.ts"
    joiner = join(media_ts_wrap + media_ts_wrap, out)  # and jumps back to the wrap after it
    check_section(out)
    assert joiner.media_seconds == pytest.approx(sum(durations(media_ts_wrap * 2).values()) / 2,
                                                 abs=0.1)


def test_m2ts_204_and_junk_input_give_identical_output(media_ts_restart, tmp_path):
    paths = media_ts_restart[:3]
    plain = tmp_path / "plain.ts"
    join(paths, plain)
    odd = tmp_path / "odd.ts"
    raw = [p.read_bytes() for p in paths]
    join(paths, odd, datas=[ts_to_m2ts(raw[0]), b"<junk>" + ts_to_204(raw[1]), raw[2] + raw[2][:77]])
    assert odd.read_bytes() == plain.read_bytes()


def test_a_second_section_at_another_resolution(media_ts_640, tmp_path):
    out = tmp_path / "stream_1.ts"
    join(media_ts_640, out)
    check_section(out)
    buf = align(out.read_bytes())
    assert video_resolution(buf, parse_psi(buf)) == (640, 360)


def test_not_ts_raises_and_the_joiner_carries_on(media_ts_restart, tmp_path):
    joiner = SectionJoiner()
    first = joiner.push(media_ts_restart[0].read_bytes())
    for bad in (b"", b"<html><body>403 Forbidden</body></html>", bytes(5000)):
        with pytest.raises(InvalidStreamError):
            joiner.push(bad)
    second = joiner.push(media_ts_restart[1].read_bytes())
    assert ts_cc_errors(bytes(first + second)) == []
    assert joiner.segments == 2


def test_first_segment_without_psi_first(media_ts_restart, tmp_path):
    data = media_ts_restart[0].read_bytes()
    # Start with video packets, PAT/PMT only later (as some packagers cut segments).
    video = [o for o in range(0, len(data), 188) if ((data[o + 1] & 0x1F) << 8 | data[o + 2]) == 0x100]
    cut = video[5]
    out = tmp_path / "stream_0.ts"
    join([media_ts_restart[0], media_ts_restart[1]], out, datas=[data[cut:], None])
    body = out.read_bytes()
    assert ts_pids(body)[:2] == [0x0, 0x1000]
    assert ts_cc_errors(body) == []
