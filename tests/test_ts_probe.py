"""PAT/PMT parsing and picture size from the SPS, checked against ffprobe."""

import subprocess

import pytest

from streamrecorder.ts import StreamInfo, align, parse_psi, video_resolution
from streamrecorder.ts.sps import BitReader, unescape


def ffprobe_size(path):
    out = subprocess.run(["ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries",
                          "stream=width,height", "-of", "csv=p=0", str(path)],
                         capture_output=True, text=True, timeout=60, check=True).stdout
    width, height = out.strip().splitlines()[0].split(",")[:2]
    return int(width), int(height)


def test_psi_of_an_ffmpeg_segment(media_ts_restart):
    info = parse_psi(align(media_ts_restart[0].read_bytes()))
    assert isinstance(info, StreamInfo)
    assert (info.program_number, info.pmt_pid, info.pcr_pid) == (1, 0x1000, 0x100)
    assert info.streams == [(0x100, 0x1B), (0x101, 0x0F)]
    assert (info.video_pid, info.video_codec, info.audio_pids) == (0x100, "h264", [0x101])


def test_psi_with_other_pids(media_ts_ad):
    info = parse_psi(align(media_ts_ad[0].read_bytes()))
    assert (info.program_number, info.pmt_pid, info.video_pid) == (7, 0x1100, 0x200)
    assert info.audio_pids == [0x201]


def test_audio_only(media_ts_audio):
    buf = align(media_ts_audio[0].read_bytes())
    info = parse_psi(buf)
    assert info.video_pid is None and info.video_codec is None
    assert info.audio_pids == [info.streams[0][0]]
    assert video_resolution(buf, info) is None


def test_hevc_codec(media_ts_hevc):
    info = parse_psi(align(media_ts_hevc[0].read_bytes()))
    assert info.video_codec == "hevc"


def test_no_psi_gives_none(media_ts_restart):
    buf = align(media_ts_restart[0].read_bytes())
    only_video = bytearray(b"".join(bytes(buf[o:o + 188]) for o in range(0, len(buf), 188)
                                    if ((buf[o + 1] & 0x1F) << 8 | buf[o + 2]) == 0x100))
    assert parse_psi(only_video) is None


def test_corrupt_pmt_is_ignored(media_ts_restart):
    buf = align(media_ts_restart[0].read_bytes())
    for off in range(0, len(buf), 188):  # break every PMT's CRC
        if ((buf[off + 1] & 0x1F) << 8 | buf[off + 2]) == 0x1000:
            buf[off + 20] ^= 0xFF
    assert parse_psi(buf) is None


@pytest.mark.parametrize("fixture, expected", [
    ("media_ts_restart", (320, 240)),
    ("media_ts_640", (640, 360)),  # High profile with scaling matrices
    ("media_ts_odd", (426, 240)),  # cropped from 432 wide
    ("media_ts_1080", (1920, 1080)),  # interlaced, cropped from 1088 high
    ("media_ts_hevc", (426, 240)),  # HEVC conformance window
])
def test_resolution_from_sps_equals_ffprobe(request, fixture, expected):
    path = request.getfixturevalue(fixture)[0]
    buf = align(path.read_bytes())
    assert video_resolution(buf, parse_psi(buf)) == expected == ffprobe_size(path)


def test_exp_golomb_and_emulation_prevention():
    assert unescape(b"\x00\x00\x03\x01\x00\x00\x03\x00\x00\x03") == b"\x00\x00\x01\x00\x00\x00\x00"
    r = BitReader(bytes([0b10100110, 0b01000010, 0b11000000]))
    assert [r.ue(), r.ue(), r.ue(), r.ue(), r.se(), r.se()] == [0, 1, 2, 3, -2, 0]
