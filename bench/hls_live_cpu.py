"""CPU seconds per media second of a live HLS recording (hls_live), vs a plain copy of the same bytes.

Run: .venv/bin/python bench/hls_live_cpu.py [--seconds 60]
A live sliding window of 2 s, ~2.6 Mbit/s 1280x720 H.264/AAC TS segments (ffmpeg-made once,
cached in the temp dir) advances in real time. It is served by a DevServer in a separate process
(this script started with --serve), so the CPU counted here is the recorder's own: this process
runs only the reactor, the manager and the recorder. Measured in one reactor run:
  1. idle: the process with the server running and no recorder (subtracted from 2 and 3);
  2. hls_live with duration=--seconds (ends as reason user); media seconds from the last
     progress message's media_s;
  3. baseline: a plain copy to disk of as many of the same segments as the recorder downloaded
     (requests.Session.get + file write), CPU per media second of the same segments.
Exits 1 above 0.02 CPU s per media s, or when the recording did not end as asked.
"""

import argparse
import math
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Dict, List, Optional

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

GOAL = 0.02  # CPU seconds per media second
BUFFERING = 5
CACHE = Path(tempfile.gettempdir()) / "streamrecorder-bench-live720-v1"
POOL_SECONDS = 20
WINDOW = 6
START_SEQ = 100


# -- media ---------------------------------------------------------------------------------------

def pool_segments(seg_dur: int) -> List[Path]:
    """POOL_SECONDS of 1280x720 at ~2.5 Mbit/s video + 128 kbit/s AAC, cut into seg_dur pieces.

    Each piece is muxed on its own (timestamps and continuity counters restart), so the
    recorder's joiner rewrites every packet, as it does for independently packaged segments.
    """
    cache = CACHE / ("seg%d" % seg_dur)
    done = cache / "done"
    if not done.exists():
        cache.mkdir(parents=True, exist_ok=True)
        for old in cache.glob("*"):
            old.unlink()
        fps = 25
        subprocess.run([
            "ffmpeg", "-v", "error", "-nostdin", "-y",
            "-f", "lavfi", "-i", "testsrc2=size=1280x720:rate=%d:duration=%d,noise=alls=12:allf=t"
            % (fps, POOL_SECONDS),
            "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000:duration=%d" % POOL_SECONDS,
            "-c:v", "libx264", "-preset", "ultrafast", "-bf", "2", "-g", str(fps * seg_dur),
            "-keyint_min", str(fps * seg_dur), "-sc_threshold", "0", "-pix_fmt", "yuv420p",
            "-b:v", "2500k", "-maxrate", "2500k", "-bufsize", "5000k",
            "-c:a", "aac", "-b:a", "128k",
            "-f", "segment", "-segment_time", str(seg_dur), "-segment_format", "mpegts",
            "-reset_timestamps", "1", str(cache / "pool_%03d.ts")], check=True, timeout=600)
        done.write_text("ok")
    return sorted(cache.glob("pool_*.ts"))


# -- the live server (runs in its own process: `hls_live_cpu.py --serve DIR`) --------------------

def serve(pool_dir: str, seg_dur: float) -> int:
    """Serve a live window over the pool at /live/index.m3u8; print the port; exit on stdin EOF."""
    from streamrecorder.devserver import DevServer

    pool = sorted(Path(pool_dir).glob("pool_*.ts"))
    server = DevServer()
    for n, path in enumerate(pool):
        server.put("/live/pool_%d.ts" % n, path.read_bytes())
    t0 = time.monotonic()
    target = max(1, int(math.ceil(seg_dur)))

    def playlist(_request: Any) -> tuple:
        edge = START_SEQ + WINDOW - 1 + int((time.monotonic() - t0) / seg_dur)
        first = max(START_SEQ, edge - WINDOW + 1)
        lines = ["#EXTM3U", "#EXT-X-VERSION:3", "#EXT-X-TARGETDURATION:%d" % target,
                 "#EXT-X-MEDIA-SEQUENCE:%d" % first]
        for seq in range(first, edge + 1):
            lines += ["#EXTINF:%.3f," % seg_dur, "pool_%d.ts" % (seq % len(pool))]
        return 200, {"Content-Type": "application/vnd.apple.mpegurl"}, ("\n".join(lines) + "\n").encode()

    def stats(_request: Any) -> tuple:
        counts = "%d %d" % (len(server.paths_requested(r"^/live/pool_")),
                            len(server.paths_requested(r"^/live/index")))
        return 200, {"Content-Type": "text/plain"}, counts.encode()

    server.route("/live/index.m3u8", playlist)
    server.route("/stats", stats)
    print(server.port, flush=True)
    sys.stdin.read()  # the parent closes stdin (or dies): stop
    server.close()
    return 0


def start_server(pool_dir: Path, seg_dur: float) -> tuple:
    proc = subprocess.Popen([sys.executable, os.path.abspath(__file__), "--serve", str(pool_dir),
                             "--seg-dur", str(seg_dur)],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    port = int(proc.stdout.readline())
    return proc, "http://127.0.0.1:%d" % port


def proc_cpu(pid: int) -> Optional[float]:
    """User + system CPU seconds of another process (Linux /proc), None elsewhere."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return None


class Meter:
    """Wall, own-process CPU and server CPU between start() and stop()."""

    def __init__(self, server_pid: int) -> None:
        self.server_pid = server_pid
        self.wall = self.cpu = 0.0
        self.server: Optional[float] = None

    def start(self) -> None:
        self._t0, self._c0, self._s0 = time.perf_counter(), time.process_time(), proc_cpu(self.server_pid)

    def stop(self) -> None:
        self.wall = time.perf_counter() - self._t0
        self.cpu = time.process_time() - self._c0
        s1 = proc_cpu(self.server_pid)
        self.server = None if s1 is None or self._s0 is None else s1 - self._s0


def server_stats(base: str) -> tuple:
    """(segment requests, playlist requests) the server has answered so far."""
    import requests

    seg, pl = requests.get(base + "/stats", timeout=10).text.split()
    return int(seg), int(pl)


def plain_copy(base: str, count: int, pool_size: int, out: str) -> None:
    """The baseline: fetch `count` segments in the pool's order and append them to one file."""
    import requests

    with requests.Session() as session, open(out, "wb") as f:
        for i in range(count):
            resp = session.get("%s/live/pool_%d.ts" % (base, i % pool_size), timeout=30)
            resp.raise_for_status()
            f.write(resp.content)


def measure(base: str, server_pid: int, work: str, seconds: float, idle_s: float,
            pool_size: int) -> Dict[str, Any]:
    """Idle, recorder, plain copy: one reactor run."""
    from twisted.internet import defer, reactor, task, threads

    from streamrecorder.manager import Manager

    manager = Manager()
    res: Dict[str, Any] = {"errors": [], "last_progress": None, "first_start": None}
    idle, rec, copy = Meter(server_pid), Meter(server_pid), Meter(server_pid)
    res.update(idle=idle, rec=rec, copy=copy)

    def on_message(message: Any) -> None:
        if message[0] == "progress":
            res["last_progress"] = message[1]
        elif message[0] == "start" and res["first_start"] is None:
            res["first_start"] = time.perf_counter() - res["t0"]

    manager.subscribe(on_message)

    @defer.inlineCallbacks
    def run():
        try:
            idle.start()
            yield task.deferLater(reactor, idle_s, lambda: None)
            idle.stop()

            rec_dir = os.path.join(work, "rec")
            res["rec_file"] = os.path.join(rec_dir, "stream_0.ts")
            res["t0"] = time.perf_counter()
            before = yield threads.deferToThread(server_stats, base)
            rec.start()
            manager.record_stream({"resolved_url": base + "/live/index.m3u8",
                                   "recorder_id": "hls_live", "rec_dir": rec_dir,
                                   "buffering": BUFFERING, "duration": seconds})
            stop = yield manager.stopped()
            rec.stop()
            res["stop"] = stop[1]
            after = yield threads.deferToThread(server_stats, base)
            # copy exactly as many segments as the recorder downloaded
            count = res["segments"] = after[0] - before[0]
            res["reloads"] = after[1] - before[1]

            out = os.path.join(work, "plain.ts")
            copy.start()
            yield threads.deferToThread(plain_copy, base, count, pool_size, out)
            copy.stop()
            res["copy_bytes"] = os.path.getsize(out)
        except Exception as exc:  # noqa: BLE001 - reported below
            res["errors"].append(repr(exc))
        finally:
            manager.close()
            reactor.stop()

    reactor.callWhenRunning(run)
    reactor.run()
    return res


def media_duration(path: str) -> Optional[float]:
    """The output's duration by ffprobe (a cross-check of media_s), None if ffprobe fails."""
    try:
        out = subprocess.run(["ffprobe", "-v", "error", "-show_entries", "format=duration",
                              "-of", "default=nw=1:nk=1", path],
                             capture_output=True, text=True, timeout=60).stdout
        return float(out.strip())
    except (OSError, ValueError, subprocess.SubprocessError):
        return None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0,
                        help="recording duration in seconds (default 60)")
    parser.add_argument("--seg-dur", type=int, default=2, help="segment length, 1 or 2 s (default 2)")
    parser.add_argument("--idle", type=float, default=3.0, help="idle measurement in seconds")
    parser.add_argument("--serve", metavar="POOL_DIR", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        return serve(args.serve, args.seg_dur)

    pool = pool_segments(args.seg_dur)
    pool_bytes = sum(p.stat().st_size for p in pool)
    work = tempfile.mkdtemp(prefix="hlslivebench-")
    server = None
    try:
        server, base = start_server(pool[0].parent, args.seg_dur)
        res = measure(base, server.pid, work, args.seconds, args.idle, len(pool))
        out_duration = None
        if os.path.isfile(res.get("rec_file", "")):
            out_duration = media_duration(res["rec_file"])
            res["rec_bytes"] = os.path.getsize(res["rec_file"])
    finally:
        if server is not None:
            server.stdin.close()
            try:
                server.wait(10)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()
        shutil.rmtree(work, ignore_errors=True)

    stop = res.get("stop") or {}
    progress = res["last_progress"] or {}
    media = float(progress.get("media_s") or 0.0)
    errors = list(res["errors"])
    if stop.get("reason") != "user" or stop.get("msg") != "requested duration reached":
        errors.append("stop message: %s" % stop)
    if stop.get("skipped_segments") or media < args.seconds * 0.8:
        errors.append("%s skipped segment(s), %.1f media s" % (stop.get("skipped_segments"), media))
    if errors:
        print("recorder failed: %s" % "; ".join(errors))
        return 1

    idle, rec, copy = res["idle"], res["rec"], res["copy"]
    idle_rate = idle.cpu / idle.wall
    rec_cpu = max(0.0, rec.cpu - idle_rate * rec.wall)
    copy_cpu = max(0.0, copy.cpu - idle_rate * copy.wall)
    per_media = rec_cpu / media
    copy_media = res["segments"] * args.seg_dur  # the pool is cut at seg_dur keyframes
    copy_per_media = copy_cpu / copy_media
    bitrate = pool_bytes * 8 / (len(pool) * args.seg_dur) / 1e6
    print("live: %d s segments, 1280x720 %.2f Mbit/s, window %d, buffering %d; python %s, %d CPUs"
          % (args.seg_dur, bitrate, WINDOW, BUFFERING, sys.version.split()[0], os.cpu_count() or 0))
    print("idle process (reactor, no recorder): %.4f CPU s per wall s over %.1f s (subtracted)"
          % (idle_rate, idle.wall))
    print("recorder: %.1f s wall (duration %.0f s), %d segments downloaded, %d playlist loads, "
          "%.1f MB written, first `start` after %.2f s"
          % (rec.wall, args.seconds, res["segments"], res["reloads"], res.get("rec_bytes", 0) / 1e6,
             res["first_start"] or float("nan")))
    print("media: %.2f s (last progress media_s, used below); output duration by ffprobe: %s"
          % (media, "%.2f s" % out_duration if out_duration is not None else "n/a"))
    print("recorder CPU: %.3f s -> %.5f CPU s per media s (goal <= %.2f)" % (rec_cpu, per_media, GOAL))
    print("plain copy of the same %d segments (%.1f MB, %d media s): %.3f CPU s -> %.5f CPU s per media s"
          % (res["segments"], res["copy_bytes"] / 1e6, copy_media, copy_cpu, copy_per_media))
    if copy_cpu > 0:
        print("ratio recorder/plain copy, CPU for the same segments: %.2f" % (rec_cpu / copy_cpu))
    if rec.server is not None:
        print("server process (not counted): %.3f CPU s during the recording, %.5f per media s"
              % (rec.server, rec.server / media))
    ok = per_media <= GOAL
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
