"""The command line as a user runs it: a real subprocess against the loopback server."""

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from streamrecorder.devserver import Fault


# Recordings keep 1 MB free, not 500 MB: the tests must not depend on the machine's free space.
SMALL_RESERVE = ["--reserve-mb", "1"]


def run_cli(*args, timeout=60):
    extra = SMALL_RESERVE if args[:1] == ("record",) else []
    return subprocess.run([sys.executable, "-m", "streamrecorder", *args, *extra],
                          capture_output=True, text=True, timeout=timeout)


def test_record_json_lines_and_exit_0(server, mp4_media, tmp_path):
    data = mp4_media["faststart"].read_bytes()
    server.put("/clip.mp4", data)
    proc = run_cli("record", server.url("/clip.mp4"), "-o", str(tmp_path), "--json",
                   "--recorder", "mp4")
    assert proc.returncode == 0, proc.stderr
    messages = [json.loads(line) for line in proc.stdout.splitlines()]
    kinds = [m[0] for m in messages]
    assert kinds.count("start") == 1 and kinds[-1] == "stop" and kinds.count("stop") == 1
    assert messages[-1][1]["reason"] == "complete"
    assert (tmp_path / "stream_0.mp4").read_bytes() == data


def test_auto_detects_mp4_and_prints_a_summary(server, mp4_media, tmp_path):
    server.put("/clip", mp4_media["moov_end"].read_bytes())
    proc = run_cli("record", server.url("/clip"), "-o", str(tmp_path))
    assert proc.returncode == 0, proc.stderr
    assert "recording complete" in proc.stderr
    assert "stream_0.mp4" in proc.stdout


def test_not_found_exits_1_with_error_id_and_no_traceback(server, tmp_path):
    proc = run_cli("record", server.url("/missing.mp4"), "-o", str(tmp_path), "--json",
                   "--recorder", "mp4")
    assert proc.returncode == 1
    assert "[not_found]" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert json.loads(proc.stdout.splitlines()[-1])[1]["error_id"] == "not_found"


def test_html_page_is_invalid_stream_in_auto_mode(server, tmp_path):
    server.add_fault(Fault(r"/page", html_instead=True))
    proc = run_cli("record", server.url("/page"), "-o", str(tmp_path))
    assert proc.returncode == 1
    assert "invalid_stream" in proc.stderr and "Traceback" not in proc.stderr


@pytest.mark.parametrize("args", [
    ["record"],
    ["record", "http://x/", "--recorder", "bogus"],
    ["record", "http://x/", "--buffering", "0"],
    ["record", "http://x/", "--quality", "huge"],
    ["record", "http://x/", "-H", "NoColon"],
    ["record", "http://x/", "--duration", "-5"],
    [],
])
def test_bad_arguments_exit_2(args):
    proc = run_cli(*args)
    assert proc.returncode == 2, (args, proc.stderr)
    assert "Traceback" not in proc.stderr


def test_header_option_authenticates(server, mp4_media, tmp_path):
    server.put("/auth.mp4", mp4_media["faststart"].read_bytes())
    server.add_fault(Fault(r"auth\.mp4", require_header=("Authorization", "Bearer t0k")))
    proc = run_cli("record", server.url("/auth.mp4"), "-o", str(tmp_path), "--json",
                   "-H", "Authorization: Bearer t0k")
    assert proc.returncode == 0, proc.stderr


def test_ctrl_c_stops_cleanly_and_keeps_a_playable_file(server, mp4_media, tmp_path):
    data = mp4_media["faststart"].read_bytes()
    server.put("/slow.mp4", data)
    server.add_fault(Fault(r"slow\.mp4", stall_after=4_000_000))
    proc = subprocess.Popen([sys.executable, "-m", "streamrecorder", "record",
                             server.url("/slow.mp4"), "-o", str(tmp_path), "--json",
                             *SMALL_RESERVE],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    out = tmp_path / "stream_0.mp4"
    deadline = time.monotonic() + 20
    while not (out.exists() and out.stat().st_size >= 4_000_000) and time.monotonic() < deadline:
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    stdout, stderr = proc.communicate(timeout=10)
    assert proc.returncode == 0, stderr
    last = json.loads(stdout.splitlines()[-1])
    assert last[0] == "stop" and last[1]["reason"] == "user"
    assert "Traceback" not in stderr
    assert os.path.getsize(out) == 4_000_000
    probe = subprocess.run(["ffprobe", "-v", "error", "-show_entries", "format=duration",
                            "-of", "csv=p=0", str(out)], capture_output=True, text=True)
    assert float(probe.stdout) > 1.0, "the partial faststart MP4 still opens"


@pytest.mark.parametrize("value,expected", [
    ("HD", 720), ("sd", 576), ("FHD", 1080), ("UHD", 2160), ("4k", 2160), ("", "best"),
])
def test_quality_accepts_labels_and_empty(value, expected):
    from streamrecorder.cli import build_parser
    args = build_parser().parse_args(["record", "http://x/", "--quality", value])
    assert args.quality == expected


def test_unparsable_quality_says_what_is_accepted():
    proc = run_cli("record", "http://x/", "--quality", "huge")
    assert proc.returncode == 2
    assert "unknown quality 'huge'" in proc.stderr and "HD (720)" in proc.stderr, proc.stderr


def test_quality_hd_records_the_720_capped_variant(server, media_ts, tmp_path):
    from hls_server import publish_vod
    v360 = publish_vod(server, "v360", media_ts["640"])
    v1080 = publish_vod(server, "v1080", media_ts["1080"])
    server.put("/master.m3u8", "\n".join([
        "#EXTM3U",
        '#EXT-X-STREAM-INF:BANDWIDTH=1000000,RESOLUTION=640x360,CODECS="avc1.640028,mp4a.40.2"',
        v360,
        '#EXT-X-STREAM-INF:BANDWIDTH=6000000,RESOLUTION=1920x1080,CODECS="avc1.640028"',
        v1080, ""]).encode())
    proc = run_cli("record", server.url("/master.m3u8"), "-o", str(tmp_path), "--json",
                   "--quality", "HD")
    assert proc.returncode == 0, proc.stderr
    assert server.paths_requested("v360/seg_") and not server.paths_requested("v1080/seg_")
