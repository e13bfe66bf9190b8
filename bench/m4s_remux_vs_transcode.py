"""fMP4 HLS to TS: CPU per media second of the recorder's remux command vs a transcode, same run.

Run: .venv/bin/python bench/m4s_remux_vs_transcode.py [--seconds 20] [--remux-runs 3]

The input is a 720p H.264/AAC fMP4 HLS VOD made by ffmpeg and served by the loopback DevServer.
Both commands are built by streamrecorder.ffmpeg exactly as the hls_m4s recorder builds them
(same HTTP input options, same mpegts output); they differ only in the codec options:
  remux      -c copy                                                       (what hls_m4s does)
  transcode  libx264 baseline <= 720p, default preset                      (the upstream design)
  fallback   libx264 baseline <= 720p, ultrafast (hls_m4s with allow_transcode; shown, not gated)
CPU = user + system time of the ffmpeg children (resource.getrusage(RUSAGE_CHILDREN) deltas).
Exits non-zero when transcode CPU / remux CPU < 20.
"""

import argparse
import os
import resource
import subprocess
import sys
import tempfile
from typing import List, Tuple

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "src"))

from streamrecorder import ffmpeg  # noqa: E402
from streamrecorder.devserver import DevServer  # noqa: E402

GOAL_RATIO = 20.0


def make_input(folder: str, seconds: int) -> None:
    """720p25 H.264 (main profile, 3 Mbit/s) + AAC as fMP4 HLS with 2 s segments."""
    cmd = ["ffmpeg", "-v", "error", "-nostdin", "-y",
           "-f", "lavfi", "-i", "testsrc2=size=1280x720:rate=25:duration=%d" % seconds,
           "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000:duration=%d" % seconds,
           "-c:v", "libx264", "-preset", "veryfast", "-profile:v", "main", "-b:v", "3M",
           "-g", "50", "-keyint_min", "50", "-sc_threshold", "0", "-pix_fmt", "yuv420p",
           "-c:a", "aac", "-b:a", "128k",
           "-f", "hls", "-hls_segment_type", "fmp4", "-hls_time", "2", "-hls_list_size", "0",
           "-hls_playlist_type", "vod", "-hls_fmp4_init_filename", "init.mp4",
           "-hls_segment_filename", os.path.join(folder, "seg_%03d.m4s"),
           os.path.join(folder, "index.m3u8")]
    subprocess.run(cmd, check=True, timeout=600)


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def media_seconds(path: str) -> float:
    out = subprocess.run(["ffprobe", "-v", "error", "-show_entries", "format=duration",
                          "-of", "csv=p=0", path], capture_output=True, text=True, timeout=60)
    return float(out.stdout.strip())


def run(info: ffmpeg.FfmpegInfo, url: str, codec_args: List[str], out_path: str) -> Tuple[float, float]:
    """(CPU seconds, media seconds) of one ffmpeg run writing out_path like the recorder does."""
    with open(out_path, "wb") as out:
        fd = out.fileno()
        argv = ffmpeg.build_command(info, [ffmpeg.HttpInput(url)], ["-map", "0:v?", "-map", "0:a?"],
                                    codec_args, "pipe:%d" % fd)
        before = children_cpu()
        proc = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE, pass_fds=(fd,), timeout=1800)
        cpu = children_cpu() - before
    if proc.returncode != 0:
        sys.exit("ffmpeg failed: %s" % proc.stderr.decode("utf-8", "replace")[-500:])
    return cpu, media_seconds(out_path)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=int, default=20, help="input length (default 20)")
    parser.add_argument("--remux-runs", type=int, default=3,
                        help="remux runs averaged (a remux is short and noisy; default 3)")
    args = parser.parse_args()
    info = ffmpeg.probe("ffmpeg")
    with tempfile.TemporaryDirectory(prefix="m4sbench") as work:
        www = os.path.join(work, "www")
        os.mkdir(www)
        print("making a %d s 720p fMP4 HLS input ..." % args.seconds, flush=True)
        make_input(www, args.seconds)
        server = DevServer(www)
        try:
            url = server.url("/index.m3u8")
            remux_cpu = remux_media = 0.0
            for i in range(args.remux_runs):
                cpu, media = run(info, url, list(ffmpeg.COPY_CODECS),
                                 os.path.join(work, "remux_%d.ts" % i))
                remux_cpu += cpu
                remux_media += media
            upstream = ["-c:v", "libx264", "-profile:v", "baseline", "-pix_fmt", "yuv420p",
                        "-vf", "scale=-2:'min(720,ih)'", "-c:a", "copy"]
            trans_cpu, trans_media = run(info, url, upstream, os.path.join(work, "transcode.ts"))
            fallback = ffmpeg.transcode_args(info, video=True, audio=None)
            fall_cpu, fall_media = run(info, url, fallback, os.path.join(work, "fallback.ts"))
        finally:
            server.close()
    remux = remux_cpu / remux_media
    transcode = trans_cpu / trans_media
    fast = fall_cpu / fall_media
    ratio = transcode / remux if remux > 0 else float("inf")
    print("ffmpeg %s, input %d s 1280x720 H.264 3 Mbit/s + AAC, fMP4 HLS over loopback"
          % (info.version_line.split()[2], args.seconds))
    print("remux     (-c copy, %d runs):              %.4f CPU s per media s"
          % (args.remux_runs, remux))
    print("transcode (libx264 baseline 720p, upstream): %.4f CPU s per media s" % transcode)
    print("fallback  (libx264 baseline 720p ultrafast): %.4f CPU s per media s (ratio %.1f, "
          "not gated)" % (fast, fast / remux if remux > 0 else float("inf")))
    print("ratio transcode / remux: %.1f (goal >= %.0f)" % (ratio, GOAL_RATIO))
    return 0 if ratio >= GOAL_RATIO else 1


if __name__ == "__main__":
    sys.exit(main())
