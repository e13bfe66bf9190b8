"""Helpers for tests: waiting on the reactor, process/fd/thread counts, ffmpeg checks."""

import os
import subprocess
import threading
import time

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


# The longest the reactor may go without running a heartbeat tick while a test checks that a call
# does not block it: generous (a loaded test machine is slow), far below a blocking join or kill.
MAX_REACTOR_LAG_S = 1.0


class ReactorHeartbeat:
    """A LoopingCall ticking on the reactor; `max_lag` is the longest a tick came late (seconds).

    A call that blocks the reactor thread (a join, a sleep, a kill's grace time) delays the next
    tick by as long as it blocks: `await heartbeat.finish()` after the calls under test returns
    the worst lag, a check that nothing blocked rather than a check of how fast things went."""

    def __init__(self, interval=0.01):
        from twisted.internet import task
        self.interval = interval
        self.ticks = 0
        self.max_lag = 0.0
        self._last = None
        self._loop = task.LoopingCall(self._tick)
        self._loop.clock = reactor
        self._loop.start(interval, now=True)

    def _tick(self):
        now = time.monotonic()
        if self._last is not None:
            self.max_lag = max(self.max_lag, now - self._last - self.interval)
        self._last = now
        self.ticks += 1

    async def finish(self, timeout=10.0):
        """Wait for two more ticks (so any blocking so far is measured), stop; the worst lag."""
        seen = self.ticks
        assert await until(lambda: self.ticks >= seen + 2, timeout=timeout), "the reactor is stuck"
        self._loop.stop()
        return self.max_lag


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


def ts_report(path):
    """Parse a TS file packet by packet: PIDs, CC errors per PID, PAT position, PTS per PID."""
    data = open(path, "rb").read()
    assert len(data) % 188 == 0, "file length is not whole 188-byte packets"
    last_cc = {}
    cc_errors = 0
    pids = []
    first_pid = None
    pts = {}
    dts = {}
    for pos in range(0, len(data), 188):
        pkt = data[pos:pos + 188]
        assert pkt[0] == 0x47, "lost sync at %d" % pos
        pid = ((pkt[1] & 0x1F) << 8) | pkt[2]
        if first_pid is None:
            first_pid = pid
        if pid not in pids:
            pids.append(pid)
        afc = (pkt[3] >> 4) & 3
        cc = pkt[3] & 0x0F
        if pid != 0x1FFF and afc in (1, 3):
            disc = afc == 3 and pkt[4] > 0 and pkt[5] & 0x80
            if pid in last_cc and not disc and cc not in (last_cc[pid], (last_cc[pid] + 1) & 0xF):
                cc_errors += 1
            last_cc[pid] = cc
        if pkt[1] & 0x40 and afc in (1, 3):
            off = 4 + (pkt[4] + 1 if afc == 3 else 0)
            if off + 14 <= 188 and pkt[off:off + 3] == b"\x00\x00\x01" and pkt[off + 7] & 0x80:
                value = _pes_timestamp(pkt[off + 9:off + 14])
                pts.setdefault(pid, []).append(value)
                if pkt[off + 7] & 0x40 and off + 19 <= 188:  # a DTS follows the PTS
                    value = _pes_timestamp(pkt[off + 14:off + 19])
                dts.setdefault(pid, []).append(value)  # decode time: the DTS, else the PTS
    return {"first_pid": first_pid, "pids": pids, "cc_errors": cc_errors, "pts": pts,
            "dts": dts, "packets": len(data) // 188}


def _pes_timestamp(b):
    return (((b[0] >> 1) & 7) << 30) | (b[1] << 22) | ((b[2] >> 1) << 15) | (b[3] << 7) | (b[4] >> 1)


def max_dts_gap(dts_values):
    """Largest jump between consecutive decode timestamps of one stream, in file (decode) order,
    in seconds. Fails on a backward jump; a 33-bit wrap (2^33 -> 0) counts as going forward."""
    largest = 0
    for index, (a, b) in enumerate(zip(dts_values, dts_values[1:])):
        step = (b - a) % (1 << 33)
        assert step < 1 << 32, "timestamp goes back %.3f s at PES %d (%d -> %d)" % (
            ((1 << 33) - step) / 90000.0, index + 1, a, b)
        largest = max(largest, step)
    return largest / 90000.0


def ffprobe_video_size(path):
    out = subprocess.run(["ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries",
                          "stream=width,height", "-of", "csv=p=0", str(path)],
                         capture_output=True, text=True, timeout=60).stdout.strip()
    # ffprobe lists a TS stream twice (once under its program): the first line is enough
    first = out.splitlines()[0] if out else ""
    return tuple(int(x) for x in first.split(",")[:2]) if first else None


def child_processes():
    """PIDs of this process's live children (zombies included)."""
    kids = []
    for task in os.listdir("/proc/self/task"):
        try:
            with open("/proc/self/task/%s/children" % task) as f:
                kids.extend(int(p) for p in f.read().split())
        except OSError:
            pass
    return kids


def rr(url, rec_dir, recorder_id="hls_basic", **extra):
    """A resolve_result for url into rec_dir."""
    result = {"resolved_url": url, "recorder_id": recorder_id, "rec_dir": str(rec_dir)}
    result.update(extra)
    return result


def one_stop(collector):
    """The one stop message a recording sent (fails on none or several)."""
    stops = collector.of("stop")
    assert len(stops) == 1, stops
    return stops[0]
