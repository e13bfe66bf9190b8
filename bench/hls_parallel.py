"""HLS VOD download with the default fetch pool (4) vs one download at a time, same run, loopback.

Run: .venv/bin/python bench/hls_parallel.py [--segments 32] [--latency 0.15] [--rounds 2]
A VOD playlist of 1 s TS segments (ffmpeg-made once, cached in the temp dir) is served from
memory by an in-process DevServer that delays every segment request by --latency seconds, as a
distant CDN would. hls_basic records it with parallel=4 and parallel=1, alternating, in one
reactor run; the best round of each counts. Reports wall time, the speedup and the time to the
first `start` message (buffering 5). Exits 1 when the speedup is below 3x or an output is incomplete.
"""

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Dict, List

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from streamrecorder.devserver import DevServer, Fault  # noqa: E402

GOAL_SPEEDUP = 3.0
BUFFERING = 5
CACHE = Path(tempfile.gettempdir()) / "streamrecorder-bench-hlsvod-v1"
POOLS = (4, 1)  # the recorder's default pool size, then one download at a time


def segments(count: int) -> List[Path]:
    """`count` independently muxed 1 s H.264/AAC 320x240 segments, generated once."""
    done = CACHE / ("done_%d" % count)
    if not done.exists():
        CACHE.mkdir(parents=True, exist_ok=True)
        for old in CACHE.glob("*"):
            old.unlink()
        subprocess.run([
            "ffmpeg", "-v", "error", "-nostdin", "-y",
            "-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25:duration=%d" % count,
            "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000:duration=%d" % count,
            "-c:v", "libx264", "-preset", "ultrafast", "-g", "25", "-keyint_min", "25",
            "-sc_threshold", "0", "-pix_fmt", "yuv420p", "-c:a", "aac", "-b:a", "64k",
            "-f", "segment", "-segment_time", "1", "-segment_format", "mpegts",
            "-reset_timestamps", "1", str(CACHE / "seg_%03d.ts")], check=True, timeout=300)
        done.write_text("ok")
    return sorted(CACHE.glob("seg_*.ts"))


def publish(server: DevServer, paths: List[Path]) -> str:
    lines = ["#EXTM3U", "#EXT-X-VERSION:3", "#EXT-X-TARGETDURATION:1", "#EXT-X-MEDIA-SEQUENCE:0"]
    for i, path in enumerate(paths):
        server.put("/vod/seg_%d.ts" % i, path.read_bytes())
        lines += ["#EXTINF:1.000,", "seg_%d.ts" % i]
    lines.append("#EXT-X-ENDLIST")
    server.put("/vod/index.m3u8", ("\n".join(lines) + "\n").encode())
    return server.url("/vod/index.m3u8")


def alternate_runs(url: str, work: str, rounds: int, count: int) -> tuple:
    """In one reactor run: pool 4 and pool 1 recordings (real managers), alternating."""
    from twisted.internet import defer, reactor

    from streamrecorder.manager import Manager

    managers = {n: Manager(recorder_options={"parallel": n}) for n in POOLS}
    results: Dict[int, List[tuple]] = {n: [] for n in POOLS}
    errors: List[str] = []
    state: Dict[str, Any] = {}

    def on_message(message: Any) -> None:
        if message[0] == "start" and state.get("first_start") is None:
            state["first_start"] = time.perf_counter() - state["t0"]
        elif message[0] == "progress":
            state["media_s"] = message[1]["media_s"]

    for manager in managers.values():
        manager.subscribe(on_message)

    @defer.inlineCallbacks
    def run():
        try:
            for i in range(rounds):
                for pool in POOLS:
                    manager = managers[pool]
                    rec_dir = os.path.join(work, "rec_%d" % pool)
                    state.clear()
                    state["t0"] = time.perf_counter()
                    manager.record_stream({"resolved_url": url, "recorder_id": "hls_basic",
                                           "rec_dir": rec_dir, "buffering": BUFFERING})
                    stop = yield manager.stopped()
                    wall = time.perf_counter() - state["t0"]
                    out = os.path.join(rec_dir, "stream_0.ts")
                    media = state.get("media_s", 0.0)
                    info = stop[1]
                    if (info["reason"] != "complete" or info["skipped_segments"]
                            or not os.path.isfile(out) or media < count - 0.5
                            or state.get("first_start") is None):
                        errors.append("pool %d round %d: %s, media %.1f s of %d, first start %s"
                                      % (pool, i, info, media, count, state.get("first_start")))
                    results[pool].append((wall, state.get("first_start") or 0.0, media))
                    shutil.rmtree(rec_dir)
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(repr(exc))
        finally:
            for manager in managers.values():
                manager.close()
            reactor.stop()

    reactor.callWhenRunning(run)
    reactor.run()
    return results, errors


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--segments", type=int, default=32, help="1 s segments (>= 30, default 32)")
    parser.add_argument("--latency", type=float, default=0.15,
                        help="seconds added to every segment request (default 0.15)")
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    paths = segments(args.segments)
    if len(paths) < 30:
        print("only %d segments generated" % len(paths), file=sys.stderr)
        return 1
    work = tempfile.mkdtemp(prefix="hlsparbench-")
    server = DevServer()
    try:
        url = publish(server, paths)
        server.add_fault(Fault(r"^/vod/seg_\d+\.ts", latency=args.latency))
        results, errors = alternate_runs(url, work, args.rounds, len(paths))
    finally:
        server.close()
        shutil.rmtree(work, ignore_errors=True)
    if errors:
        print("recorder failed: %s" % "; ".join(errors))
        return 1
    best = {n: min(results[n]) for n in POOLS}  # best wall time of each pool size
    first = {n: min(r[1] for r in results[n]) for n in POOLS}
    speedup = best[1][0] / best[4][0]
    size_mb = sum(p.stat().st_size for p in paths) / 1e6
    print("VOD: %d x 1 s segments, %.1f MB, %.0f ms latency per segment request, rounds: %d "
          "(best of each)" % (len(paths), size_mb, args.latency * 1000, args.rounds))
    print("serial floor (segments x latency): %.2f s" % (len(paths) * args.latency))
    for n in POOLS:
        print("parallel=%d: %6.2f s wall, first `start` (buffering %d) after %.3f s, media %.1f s"
              % (n, best[n][0], BUFFERING, first[n], best[n][2]))
    print("first `start` ratio pool1/pool4: %.2f" % (first[1] / first[4]))
    print("speedup parallel=4 vs parallel=1: %.2fx (goal >= %.1fx)" % (speedup, GOAL_SPEEDUP))
    ok = speedup >= GOAL_SPEEDUP
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
