"""MP4 recorder throughput vs a plain requests + 1 MiB-chunk loop, same run, loopback server.

Run: .venv/bin/python bench/mp4_throughput.py [--size-mb 256]
The server runs in a separate process. Exits non-zero below the goal
(>= 90 % of the plain loop's speed, peak RSS < 80 MB).
"""

import argparse
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time

import requests

GOAL_RATIO = 0.90
GOAL_RSS_MB = 80.0


def make_file(path: str, size: int) -> None:
    """A minimal MP4 layout (ftyp + one large mdat) so the recorder accepts it."""
    ftyp = b"\x00\x00\x00\x18ftypisom\x00\x00\x02\x00isomiso2"
    body = size - len(ftyp)
    block = os.urandom(1 << 20)
    with open(path, "wb") as f:
        f.write(ftyp)
        f.write((body).to_bytes(4, "big") + b"mdat")
        left = body - 8
        while left > 0:
            f.write(block[:min(left, len(block))])
            left -= len(block)


def start_server(root: str):
    proc = subprocess.Popen([sys.executable, "-m", "streamrecorder.devserver", "--root", root],
                            stdout=subprocess.PIPE, text=True)
    port = int(proc.stdout.readline())
    return proc, "http://127.0.0.1:%d/big.mp4" % port


def baseline(url: str, out: str) -> tuple:
    t0, c0 = time.perf_counter(), time.process_time()
    with requests.get(url, stream=True) as resp, open(out, "wb") as f:
        for chunk in resp.iter_content(1 << 20):
            f.write(chunk)
    return time.perf_counter() - t0, time.process_time() - c0


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def alternate_runs(url: str, work: str, rounds: int, size: int) -> tuple:
    """In one reactor run: plain loop (on a thread) and recorder (real manager), alternating."""
    from twisted.internet import defer, reactor, threads

    from streamrecorder.manager import Manager

    manager = Manager()
    ours, base, errors = [], [], []

    @defer.inlineCallbacks
    def run():
        try:
            for i in range(rounds):
                out = os.path.join(work, "plain.mp4")
                base.append((yield threads.deferToThread(baseline, url, out)))
                os.remove(out)
                rec_dir = os.path.join(work, "rec")
                t0, c0 = time.perf_counter(), time.process_time()
                manager.record_stream({"resolved_url": url, "recorder_id": "mp4",
                                       "rec_dir": rec_dir})
                stop = yield manager.stopped()
                ours.append((time.perf_counter() - t0, time.process_time() - c0))
                got = os.path.getsize(os.path.join(rec_dir, "stream_0.mp4"))
                if stop[1]["reason"] != "complete" or got != size:
                    errors.append("round %d: %s, %d bytes" % (i, stop[1], got))
                shutil.rmtree(rec_dir)
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(repr(exc))
        finally:
            reactor.stop()

    reactor.callWhenRunning(run)
    reactor.run()
    return ours, base, errors


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mb", type=int, default=256)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    size = args.size_mb << 20
    work = tempfile.mkdtemp(prefix="mp4bench-")
    server = None
    try:
        make_file(os.path.join(work, "big.mp4"), size)
        server, url = start_server(work)
        ours, base, errors = alternate_runs(url, work, args.rounds, size)
        rss = peak_rss_mb()
        if errors:
            print("recorder failed: %s" % "; ".join(errors))
            return 1
    finally:
        if server is not None:
            server.terminate()
            server.wait()
        shutil.rmtree(work, ignore_errors=True)
    mb = size / 1e6
    best_ours = min(ours, key=lambda r: r[0])
    best_base = min(base, key=lambda r: r[0])
    ours_speed, base_speed = mb / best_ours[0], mb / best_base[0]
    ratio = ours_speed / base_speed
    print("file: %d MB, rounds: %d (best of each)" % (args.size_mb, args.rounds))
    print("recorder     : %7.1f MB/s  CPU %.3f s per 100 MB" % (ours_speed, best_ours[1] * 100 / mb))
    print("requests loop: %7.1f MB/s  CPU %.3f s per 100 MB" % (base_speed, best_base[1] * 100 / mb))
    print("speed ratio recorder/loop: %.2f (goal >= %.2f)" % (ratio, GOAL_RATIO))
    print("peak RSS of the process: %.1f MB (goal < %.0f)" % (rss, GOAL_RSS_MB))
    ok = ratio >= GOAL_RATIO and rss < GOAL_RSS_MB
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
