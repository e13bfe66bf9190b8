"""Benchmark SectionJoiner.push() on real segments: MB/s and the ratio to a plain bytearray copy.

Run: .venv/bin/python bench/ts_join.py [--min-mbps 300] [--rounds 7]
Generates ~56 MB of independently muxed H.264/AAC segments with ffmpeg once (cached in the temp
dir), then times push() over all of them. Exits 1 when below --min-mbps.
"""

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import List

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from streamrecorder.ts import SectionJoiner  # noqa: E402

CACHE = Path(tempfile.gettempdir()) / "streamrecorder-bench-ts-v1"
SECONDS = 56
SEGMENT_SECONDS = 4
MIN_BYTES = 50 * 1000 * 1000


def segments() -> List[Path]:
    """~14 segments of 4 s at ~8 Mbit/s (noise keeps the bitrate real), generated once."""
    done = CACHE / "done"
    if not done.exists():
        CACHE.mkdir(parents=True, exist_ok=True)
        for old in CACHE.glob("seg_*.ts"):
            old.unlink()
        subprocess.run([
            "ffmpeg", "-v", "error", "-nostdin", "-y",
            "-f", "lavfi", "-i", "testsrc2=size=640x360:rate=25:duration=%d,noise=alls=40:allf=t" % SECONDS,
            "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000:duration=%d" % SECONDS,
            "-c:v", "libx264", "-preset", "ultrafast", "-bf", "2", "-g", "50", "-b:v", "8M",
            "-maxrate", "8M", "-bufsize", "8M", "-c:a", "aac", "-b:a", "128k",
            "-f", "segment", "-segment_time", str(SEGMENT_SECONDS), "-segment_format", "mpegts",
            "-reset_timestamps", "1", str(CACHE / "seg_%03d.ts")], check=True, timeout=600)
        done.write_text("ok")
    return sorted(CACHE.glob("seg_*.ts"))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--min-mbps", type=float, default=300.0)
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    datas = [p.read_bytes() for p in segments()]
    total = sum(len(d) for d in datas)
    if total < MIN_BYTES:
        print("only %.1f MB of segments generated" % (total / 1e6), file=sys.stderr)
        return 1
    push_times, copy_times = [], []
    for _ in range(args.rounds):
        start = time.perf_counter()
        for data in datas:
            bytearray(data)
        copy_times.append(time.perf_counter() - start)
        joiner = SectionJoiner()
        start = time.perf_counter()
        for data in datas:
            joiner.push(data)
        push_times.append(time.perf_counter() - start)
    push = sorted(push_times)[len(push_times) // 2]  # median: robust against a busy neighbour
    copy = sorted(copy_times)[len(copy_times) // 2]
    mbps = total / push / 1e6
    print("ts_join: %d segments, %.1f MB, %.1f s of media, python %s, %d CPUs"
          % (len(datas), total / 1e6, joiner.media_seconds, sys.version.split()[0], os.cpu_count() or 0))
    print("push():         %8.1f MB/s  (median of %d rounds, %.1f ms per MB)"
          % (mbps, args.rounds, push * 1000 / (total / 1e6)))
    print("bytearray copy: %8.1f MB/s" % (total / copy / 1e6))
    print("ratio push/copy throughput: %.3f  (push takes %.1fx the time of one copy)"
          % (copy / push, push / copy))
    if mbps < args.min_mbps:
        print("FAIL: below %.0f MB/s" % args.min_mbps, file=sys.stderr)
        return 1
    print("OK: >= %.0f MB/s" % args.min_mbps)
    return 0


if __name__ == "__main__":
    sys.exit(main())
