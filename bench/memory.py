"""Peak memory of recording a 20 Mbit/s 1080p HLS VOD: ours at parallel 4 and 8 vs ffmpeg -c copy.

Run: .venv/bin/python bench/memory.py [--seconds 48] [--latency 0.05] [--rounds 1] [--queue-mb MIB]
An H.264+AAC 1920x1080 25 fps VOD with 2 s MPEG-TS segments at a constant 20 Mbit/s (~5 MB per
segment) is made once with ffmpeg (cached in the temp dir, keyed by the settings) and served by
a DevServer on 127.0.0.1 that delays every response by --latency seconds; the recorder is given
the master playlist (BANDWIDTH set from the real segment sizes). Each measurement is its own
process, and its peak RSS is the kernel's (ru_maxrss from os.wait4):
  idle    the interpreter with the modules a recording imports, doing nothing;
  ours@4  `python -m streamrecorder record URL --recorder hls_basic --parallel 4`;
  ours@8  the same with --parallel 8;
  ffmpeg  `ffmpeg -i URL -c copy -f mpegts out.ts` of the same stream.
Every output must be complete (ffprobe duration within 1 s of the source). With --rounds N each
is measured N times and its highest peak counts. Exits 1 when ours exceeds ffmpeg's peak at
either pool size, when ours@8 exceeds ours@4 by more than 10 % (the byte budget, not the worker
count, bounds memory), or when an output is incomplete. --queue-mb MIB records through the
manager with the recorder option queue_bytes (the fetch budget) instead of the CLI, to see what
another budget gives.
"""

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Dict, List, Optional, Tuple

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from streamrecorder.devserver import DevServer, Fault  # noqa: E402

GOAL_FLAT = 1.10  # ours@8 / ours@4
SEGMENT_S = 2
BITRATE = "20M"
SIZE = "1920x1080"
FPS = 25
# What a recording process imports (the CLI, the manager, the TS recorders, the reactor).
IMPORTS = ("streamrecorder.cli", "streamrecorder.manager", "streamrecorder.recorders.hls",
           "streamrecorder.hls.fetch", "streamrecorder.ts.joiner", "twisted.internet.reactor",
           "requests")


def media(seconds: int) -> Path:
    """The HLS VOD (index.m3u8, seg_NNN.ts, master.m3u8) for these settings, made once."""
    settings = "v1 %s %s %d fps %d s seg %d s ultrafast cbr aac128k" % (SIZE, BITRATE, FPS, seconds,
                                                                       SEGMENT_S)
    key = hashlib.sha1(settings.encode()).hexdigest()[:12]
    cache = Path(tempfile.gettempdir()) / ("streamrecorder-bench-memory-%s" % key)
    done = cache / "done"
    if done.exists():
        return cache
    shutil.rmtree(str(cache), ignore_errors=True)
    cache.mkdir(parents=True)
    started = time.monotonic()
    subprocess.run([
        "ffmpeg", "-v", "error", "-nostdin", "-y",
        "-f", "lavfi", "-i", "testsrc2=size=%s:rate=%d:duration=%d" % (SIZE, FPS, seconds),
        "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000:duration=%d" % seconds,
        "-c:v", "libx264", "-preset", "ultrafast", "-b:v", BITRATE, "-minrate", BITRATE,
        "-maxrate", BITRATE, "-bufsize", BITRATE, "-x264-params", "nal-hrd=cbr",
        "-g", str(FPS * SEGMENT_S), "-keyint_min", str(FPS * SEGMENT_S), "-sc_threshold", "0",
        "-pix_fmt", "yuv420p", "-c:a", "aac", "-b:a", "128k",
        "-f", "hls", "-hls_time", str(SEGMENT_S), "-hls_playlist_type", "vod",
        "-hls_segment_type", "mpegts", "-hls_segment_filename", str(cache / "seg_%03d.ts"),
        str(cache / "index.m3u8")], check=True, timeout=300)
    entries = segment_entries(cache)
    peak_bps = max(int(size * 8 / duration) for _, size, duration in entries)
    (cache / "master.m3u8").write_text(
        "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-STREAM-INF:BANDWIDTH=%d,RESOLUTION=%s\nindex.m3u8\n"
        % (peak_bps, SIZE))
    done.write_text("made in %.1f s\n" % (time.monotonic() - started))
    return cache


def segment_entries(cache: Path) -> List[Tuple[str, int, float]]:
    """(name, bytes, EXTINF seconds) of each segment in the media playlist."""
    entries = []
    duration = None
    for line in (cache / "index.m3u8").read_text().splitlines():
        if line.startswith("#EXTINF:"):
            duration = float(line[8:].split(",")[0])
        elif line and not line.startswith("#") and duration is not None:
            entries.append((line, (cache / line).stat().st_size, duration))
            duration = None
    return entries


def run_measured(cmd: List[str], timeout: float, env: Optional[Dict[str, str]] = None,
                 stdout: Optional[int] = subprocess.DEVNULL) -> Tuple[int, float, float, str]:
    """Run cmd; (exit code, peak RSS in MB from the kernel, wall seconds, stderr tail)."""
    err = tempfile.TemporaryFile()
    started = time.monotonic()
    proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=stdout, stderr=err,
                            cwd=str(ROOT), env=env)
    timer = threading.Timer(timeout, proc.kill)
    timer.start()
    try:
        _, status, usage = os.wait4(proc.pid, 0)
    finally:
        timer.cancel()
    proc.returncode = -1  # reaped above: Popen must not wait for it again
    wall = time.monotonic() - started
    if os.WIFEXITED(status):
        code = os.WEXITSTATUS(status)
    else:
        code = -os.WTERMSIG(status) if os.WIFSIGNALED(status) else -1
    err.seek(0)
    tail = err.read()[-600:].decode("utf-8", "replace").strip()
    err.close()
    return code, usage.ru_maxrss / 1024.0, wall, tail  # ru_maxrss: KiB on Linux


def probe_duration(path: Path) -> float:
    out = subprocess.run(["ffprobe", "-v", "error", "-show_entries", "format=duration",
                          "-of", "json", str(path)], capture_output=True, text=True, timeout=60)
    try:
        return float(json.loads(out.stdout)["format"]["duration"])
    except (ValueError, KeyError, TypeError):
        return 0.0


def child_env() -> Dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT / "src"), env.get("PYTHONPATH")) if p)
    return env


def measure_idle() -> Tuple[float, float, str]:
    code = "import %s" % ", ".join(IMPORTS)
    rc, peak, wall, err = run_measured([sys.executable, "-c", code], 60, child_env())
    return peak, wall, ("" if rc == 0 else "idle interpreter exit %d: %s" % (rc, err))


# --queue-mb: the recording runs through the manager with this recorder option (the CLI has none).
DRIVER = """
import sys
from twisted.internet import reactor
from streamrecorder.manager import Manager
url, out, parallel, queue_bytes = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
manager = Manager(recorder_options={"parallel": parallel, "queue_bytes": queue_bytes})
stop = {}
def on_message(message):
    if message[0] == "stop":
        stop.update(message[1])
        reactor.callLater(0, reactor.stop)
manager.subscribe(on_message)
reactor.callWhenRunning(lambda: manager.record_stream(
    {"resolved_url": url, "recorder_id": "hls_basic", "rec_dir": out, "buffering": 5}))
reactor.run()
ok = stop.get("reason") == "complete" and not stop.get("skipped_segments")
sys.exit(0 if ok else "stop message: %r" % (stop,))
"""


def measure_ours(url: str, work: Path, parallel: int, source_s: float,
                 queue_mb: Optional[float]) -> Tuple[float, float, str]:
    """(peak RSS MB, wall seconds, problem or "") of one recording."""
    out_dir = work / ("ours_%d" % parallel)
    shutil.rmtree(str(out_dir), ignore_errors=True)
    if queue_mb is None:
        cmd = [sys.executable, "-m", "streamrecorder", "record", url, "-o", str(out_dir),
               "--recorder", "hls_basic", "--parallel", str(parallel), "--json", "--reserve-mb", "0"]
    else:
        cmd = [sys.executable, "-c", DRIVER, url, str(out_dir), str(parallel),
               str(int(queue_mb * (1 << 20)))]
    rc, peak, wall, err = run_measured(cmd, 600, child_env())
    problem = ""
    if rc != 0:
        problem = "ours@%d exit %d: %s" % (parallel, rc, err)
    else:
        got = probe_duration(out_dir / "stream_0.ts")
        if abs(got - source_s) > 1.0 or (out_dir / "stream_1.ts").exists():
            problem = "ours@%d: output holds %.2f s of %.2f s" % (parallel, got, source_s)
    shutil.rmtree(str(out_dir), ignore_errors=True)
    return peak, wall, problem


def measure_ffmpeg(url: str, work: Path, source_s: float) -> Tuple[float, float, str]:
    """(peak RSS MB, wall seconds, problem or "") of ffmpeg -c copy of the same stream."""
    out = work / "ffmpeg.ts"
    cmd = ["ffmpeg", "-v", "error", "-nostdin", "-y", "-i", url, "-c", "copy", "-f", "mpegts",
           str(out)]
    rc, peak, wall, err = run_measured(cmd, 600)
    problem = ""
    if rc != 0:
        problem = "ffmpeg exit %d: %s" % (rc, err)
    else:
        got = probe_duration(out)
        if abs(got - source_s) > 1.0:
            problem = "ffmpeg: output holds %.2f s of %.2f s" % (got, source_s)
    if out.exists():
        out.unlink()
    return peak, wall, problem


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=48,
                        help="media length in seconds (default 48: 24 segments of 2 s)")
    parser.add_argument("--latency", type=float, default=0.05,
                        help="seconds added to every response (default 0.05)")
    parser.add_argument("--rounds", type=int, default=1,
                        help="measure each this many times; the highest peak counts (default 1)")
    parser.add_argument("--queue-mb", type=float, default=None, metavar="MIB",
                        help="record through the manager with the recorder option queue_bytes "
                             "(the fetch budget) set to MIB instead of through the CLI, which "
                             "uses the recorder's default")
    args = parser.parse_args()
    try:
        cache = media(args.seconds)
    except (subprocess.SubprocessError, OSError) as exc:
        print("could not make the test stream with ffmpeg: %s" % exc)
        return 1
    entries = segment_entries(cache)
    source_s = sum(e[2] for e in entries)
    sizes = [e[1] for e in entries]
    work = Path(tempfile.mkdtemp(prefix="membench-"))
    server = DevServer(str(cache))
    server.add_fault(Fault(r".", latency=args.latency))
    url = server.url("/master.m3u8")
    runs = [("idle", measure_idle),
            ("ours@4", lambda: measure_ours(url, work, 4, source_s, args.queue_mb)),
            ("ours@8", lambda: measure_ours(url, work, 8, source_s, args.queue_mb)),
            ("ffmpeg", lambda: measure_ffmpeg(url, work, source_s))]
    peaks: Dict[str, float] = {}
    walls: Dict[str, float] = {}
    problems: List[str] = []
    try:
        for _ in range(max(1, args.rounds)):
            for name, run in runs:
                peak, wall, problem = run()
                if problem:
                    problems.append(problem)
                peaks[name] = max(peaks.get(name, 0.0), peak)
                walls[name] = max(walls.get(name, 0.0), wall)
    finally:
        server.close()
        shutil.rmtree(str(work), ignore_errors=True)
    print("VOD: %d segments of %d s, %.1f s, %s %d fps H.264+AAC, %.1f MB (segments %.1f-%.1f MB, "
          "mean %.1f MB), %.0f ms latency per response, rounds: %d (highest peak counts)"
          % (len(entries), SEGMENT_S, source_s, SIZE, FPS, sum(sizes) / 1e6, min(sizes) / 1e6,
             max(sizes) / 1e6, sum(sizes) / len(sizes) / 1e6, args.latency * 1000, args.rounds))
    how = ("the CLI (the recorder's default fetch budget)" if args.queue_mb is None else
           "the manager with queue_bytes = %g MiB" % args.queue_mb)
    print("ours: hls_basic through %s" % how)
    ffmpeg = peaks["ffmpeg"]
    print("%-34s %10s %10s %10s %9s" % ("", "peak RSS", "over idle", "vs ffmpeg", "wall"))
    labels = (("idle", "idle interpreter with our imports"), ("ours@4", "ours, --parallel 4"),
              ("ours@8", "ours, --parallel 8"), ("ffmpeg", "ffmpeg -c copy"))
    for name, label in labels:
        over = "%7.1f MB" % (peaks[name] - peaks["idle"]) if name.startswith("ours") else ""
        print("%-34s %7.1f MB %10s %10.2f %8.1fs" % (label, peaks[name], over, peaks[name] / ffmpeg,
                                                    walls[name]))
    flat = peaks["ours@8"] / peaks["ours@4"]
    print("ours@4 / ffmpeg: %.2f, ours@8 / ffmpeg: %.2f (goal <= 1.00)"
          % (peaks["ours@4"] / ffmpeg, peaks["ours@8"] / ffmpeg))
    print("ours@8 / ours@4: %.2f (goal <= %.2f)" % (flat, GOAL_FLAT))
    for problem in problems:
        print("problem: %s" % problem)
    ok = (not problems and peaks["ours@4"] <= ffmpeg and peaks["ours@8"] <= ffmpeg
          and flat <= GOAL_FLAT)
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
