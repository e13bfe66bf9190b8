"""Helpers for tests: waiting on the reactor, process/fd/thread counts, ffmpeg checks."""

import os
import subprocess
import threading

import pytest_twisted
from twisted.internet import reactor


def wait_stopped(mgr, timeout=30.0):
    """Deferred: fires with the last stop message once the manager is idle (or times out)."""
    d = mgr.stopped()
    d.addTimeout(timeout, reactor)
    return d


def block_until_stopped(mgr, timeout=30.0):
    """For fixtures (main greenlet): run the reactor until the manager is idle."""
    return pytest_twisted.blockon(wait_stopped(mgr, timeout))


def sleep(seconds):
    """Deferred that fires after `seconds` of reactor time (messages flow meanwhile)."""
    from twisted.internet import task
    return task.deferLater(reactor, seconds, lambda: None)


async def until(predicate, timeout=10.0, step=0.02):
    """Let the reactor run until predicate() is true; False on timeout."""
    waited = 0.0
    while not predicate():
        if waited >= timeout:
            return False
        await sleep(step)
        waited += step
    return True


def open_fds():
    return len(os.listdir("/proc/self/fd"))


def recorder_threads():
    """Threads doing recorder work: the reactor pool's busy workers and our own pools."""
    pool = reactor.getThreadPool()
    busy = len(pool.working)
    own = [t for t in threading.enumerate() if t.name.startswith("streamrecorder")]
    return busy + len(own)


def ffmpeg_errors(path):
    """Decode a file completely; return ffmpeg's complaints (empty when clean)."""
    proc = subprocess.run(["ffmpeg", "-v", "error", "-i", str(path), "-f", "null", "-"],
                          capture_output=True, text=True, timeout=120)
    return proc.stderr.strip()


def ffprobe_duration(path):
    out = subprocess.run(["ffprobe", "-v", "error", "-show_entries", "format=duration",
                          "-of", "csv=p=0", str(path)], capture_output=True, text=True,
                         timeout=60).stdout.strip()
    return float(out) if out and out != "N/A" else None


def make_mp4_file(path, seconds=6, faststart=True, bitrate="8M", size="480x270"):
    """An H.264/AAC MP4; noise keeps the bitrate real, so the file is bitrate * seconds big."""
    cmd = ["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i",
           "testsrc2=size=%s:rate=25,noise=alls=30:allf=t" % size, "-f", "lavfi", "-i",
           "sine=frequency=440:sample_rate=48000", "-t", str(seconds), "-c:v", "libx264",
           "-preset", "ultrafast", "-b:v", bitrate, "-g", "25", "-c:a", "aac", "-shortest"]
    if faststart:
        cmd += ["-movflags", "+faststart"]
    subprocess.run(cmd + [str(path)], check=True, timeout=120)
    return path
