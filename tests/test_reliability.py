"""Reliability (issue 7): a really full disk, start/stop leak cycles, and a fault matrix.

Every fault runs against the loopback DevServer (real sockets) and checks the stop message's
reason/error_id, that exactly one stop message came, that no traceback reached the message and
that the output decodes cleanly with ffmpeg up to where it ends.
Run with `-s` to see the leak numbers and the fault matrix (printed at the end of the module).
LEAK_CYCLES (default 200) sets the number of start/stop cycles.
"""

import gc
import logging
import os
import random
import subprocess
import threading
import time

import pytest
import pytest_twisted
from twisted.internet import reactor

from helpers import (child_processes, ffmpeg_errors, ffprobe_duration, make_mp4_file, one_stop,
                     open_fds, rr, sleep, until, wait_stopped)
from hls_server import LiveStream, publish_vod
from m4s_media import *  # noqa: F401,F403  (session fixture m4s_media)
from m4s_media import publish_dir
from media import make_ts_segments
from streamrecorder.devserver import Fault
from streamrecorder.http import RetryPolicy
from streamrecorder.manager import Manager

FAST_RETRY = RetryPolicy(attempts=2, base=0.01, cap=0.02)
LEAK_CYCLES = int(os.environ.get("LEAK_CYCLES", "200"))
# Fault tests: 2 s connect / 1 s read timeout (defaults 10 s / 20 s), short retries.
FAULT_OPTIONS = {"retry": FAST_RETRY, "timeout": (2.0, 1.0)}

FAULT_MATRIX = {}


@pytest.fixture(scope="module", autouse=True)
def print_fault_matrix():
    yield
    if FAULT_MATRIX:
        print("\nfault matrix (case -> result):")
        for case, result in FAULT_MATRIX.items():
            print("  %-40s -> %s" % (case, result))


@pytest.fixture(scope="module")
def rmedia(tmp_path_factory):
    root = tmp_path_factory.mktemp("relmedia")
    # ~660 KB per 1 s segment (noise defeats the encoder): 8 of them overflow a 3 MB disk
    big = make_ts_segments(root / "big", 8, 1.0, size=(640, 360),
                           extra=["-vf", "noise=alls=40:allf=t", "-b:v", "5M", "-maxrate", "5M",
                                  "-bufsize", "2M"])
    small = make_ts_segments(root / "small", 8, 1.0)
    return {
        "big": big,
        "small": small,
        "mp4_big": make_mp4_file(root / "big.mp4", seconds=6, bitrate="9M"),
        "mp4_small": make_mp4_file(root / "small.mp4", seconds=2, bitrate="1M", size="320x240"),
    }


def no_traceback(msg):
    assert "Traceback" not in msg and 'File "' not in msg, msg


# --- 1. disk full, for real -----------------------------------------------------------------

@pytest.fixture
def small_disk(tmp_path):
    """A 3 MB tmpfs (needs root; CI runs as root)."""
    if os.geteuid() != 0:
        if os.environ.get("CI"):
            pytest.fail("CI must run as root: the ENOSPC test mounts a real 3 MB tmpfs")
        pytest.skip("mounting a 3 MB tmpfs needs root (CI runs as root); not root here")
    disk = tmp_path / "disk"
    disk.mkdir()
    proc = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=3m", "tmpfs", str(disk)],
                          capture_output=True, text=True)
    if proc.returncode:
        pytest.fail("running as root but cannot mount a tmpfs: %s" % proc.stderr.strip())
    yield disk
    if subprocess.run(["umount", str(disk)], capture_output=True).returncode:
        subprocess.run(["umount", "-l", str(disk)], capture_output=True)


def assert_disk_full(collector, stop):
    assert stop[1]["reason"] == "error", stop
    assert stop[1]["error_id"] == "disk_full", stop
    assert one_stop(collector) == stop[1]
    no_traceback(stop[1]["msg"])


@pytest.fixture
def raw_manager(collector):
    """A manager without the free-space reserve, so the disk really runs full (ENOSPC)."""
    mgr = Manager(recorder_options={"reserve_bytes": 0})
    mgr.subscribe(collector)
    yield mgr
    mgr.stop()
    pytest_twisted.blockon(wait_stopped(mgr, 15))
    mgr.close()


@pytest_twisted.ensureDeferred
async def test_disk_full_hls_vod(server, raw_manager, collector, rmedia, small_disk):
    manager = raw_manager
    url = publish_vod(server, "big", rmedia["big"])
    manager.record_stream(rr(url, small_disk / "rec"))
    stop = await wait_stopped(manager)
    assert_disk_full(collector, stop)
    out = small_disk / "rec" / "stream_0.ts"
    size = out.stat().st_size
    assert 0 < size < 3 << 20 and size % 188 == 0, size
    assert ffmpeg_errors(out) == "", "the half-written segment was not cut off"


@pytest_twisted.ensureDeferred
async def test_disk_full_mp4(server, raw_manager, collector, rmedia, small_disk):
    manager = raw_manager
    assert rmedia["mp4_big"].stat().st_size > 4 << 20
    server.put("/big.mp4", rmedia["mp4_big"].read_bytes())
    manager.record_stream(rr(server.url("/big.mp4"), small_disk / "rec", recorder_id="mp4"))
    stop = await wait_stopped(manager)
    assert_disk_full(collector, stop)
    out = small_disk / "rec" / "stream_0.mp4"
    assert out.stat().st_size > 1 << 20
    # a cut faststart file: moov is complete, mdat is short; it must still open
    probe = subprocess.run(["ffprobe", "-v", "error", "-show_entries", "stream=codec_type",
                            "-of", "csv=p=0", str(out)], capture_output=True, text=True, timeout=60)
    assert probe.returncode == 0, probe.stderr
    assert "video" in probe.stdout.split(), probe.stdout


@pytest_twisted.ensureDeferred
async def test_disk_full_hls_m4s(server, raw_manager, collector, m4s_media, small_disk):
    """The ffmpeg path: ffmpeg writes into a pipe, the recorder's write hits ENOSPC."""
    url = publish_dir(server, m4s_media["vod"], "m4sfull")
    rec = small_disk / "rec"
    rec.mkdir()
    free = os.statvfs(str(small_disk))
    # leave ~120 KB: the 4 s fMP4 VOD remuxes into ~350 KB of TS
    filler = free.f_bavail * free.f_frsize - 120_000
    with open(str(small_disk / "filler"), "wb") as f:
        f.write(b"\0" * filler)
    raw_manager.record_stream(rr(url, rec, recorder_id="hls_m4s", buffering=1))
    stop = await wait_stopped(raw_manager, 30)
    assert_disk_full(collector, stop)
    out = rec / "stream_0.ts"
    assert 0 < out.stat().st_size < 200_000 and out.stat().st_size % 188 == 0, out.stat()
    assert ffmpeg_errors(out) == ""
    assert child_processes() == [], "ffmpeg ended with the recording"


# --- 2. leak cycles -------------------------------------------------------------------------

POOL_PREFIX = "PoolThread-twisted.internet.reactor"


def non_pool_threads():
    """Threads other than the reactor pool's workers (idle ones stay around by design)."""
    return sorted(t.name for t in threading.enumerate() if not t.name.startswith(POOL_PREFIX))


def rss_kib():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


@pytest_twisted.ensureDeferred
async def test_start_stop_cycles_leak_nothing(server, collector, rmedia, m4s_media, tmp_path):
    mgr = Manager(recorder_options={"retry": FAST_RETRY})
    mgr.subscribe(collector)
    # pytest keeps every log record of a test in memory; on the receiver they go to a stream.
    root = logging.getLogger()
    saved = root.handlers[:]
    devnull = open(os.devnull, "w")
    root.handlers = [logging.StreamHandler(devnull)]
    try:
        await _leak_cycles(mgr, server, collector, rmedia, m4s_media, tmp_path)
    finally:
        root.handlers = saved
        devnull.close()
        mgr.stop()
        await wait_stopped(mgr, 15)
        mgr.close()


async def _leak_cycles(mgr, server, collector, rmedia, m4s_media, tmp_path):
    server.put("/leak.mp4", rmedia["mp4_small"].read_bytes())
    vod_url = publish_vod(server, "leakvod", rmedia["small"])
    live = LiveStream(server, rmedia["small"], seg_dur=0.3, window=6, prefix="leaklive")
    targets = {
        "mp4": server.url("/leak.mp4"),
        "hls_basic": vod_url,
        "hls_live": live.url,
        "hls_m4s": publish_dir(server, m4s_media["vod"], "leakm4s"),
    }
    kinds = list(targets)
    rec_dir = tmp_path / "rec"
    rng = random.Random(20261126)
    outcomes = {}

    async def cycle(kind, delay):
        before = len(collector.of("stop"))
        starts_before = len(collector.of("start"))
        assert mgr.record_stream(rr(targets[kind], rec_dir, recorder_id=kind, buffering=2))
        if delay:
            await sleep(delay)
        mgr.stop()
        stop = await wait_stopped(mgr, 15)
        stops = collector.of("stop")
        assert len(stops) == before + 1, stops[before:]
        assert stop[1]["reason"] in ("user", "complete"), stop
        started = len(collector.of("start")) > starts_before
        key = (kind, stop[1]["reason"], "started" if started else "before start")
        outcomes[key] = outcomes.get(key, 0) + 1
        # the test's own records grow with every cycle: keep them out of the RSS numbers
        collector.messages.clear()
        with server._lock:
            server.requests.clear()
        del live.playlist_requests[:]

    async def settle():
        # The same finished recording before both measurements (the manager keeps the last
        # recorder). Recorders sit in reference cycles and their sessions' pooled sockets go
        # with them, so both ends are measured after a full collection (see
        # test_finished_recording_closes_its_connections).
        await cycle("mp4", 0.6)
        gc.collect()
        await sleep(0.3)

    for kind in kinds:  # warm-up: the thread pool, imports, the session caches
        await cycle(kind, 0.15)
    await settle()
    base_threads, base_fds, base_rss = non_pool_threads(), open_fds(), rss_kib()
    rss_20 = None
    t0 = time.monotonic()
    for i in range(LEAK_CYCLES):
        kind = kinds[i % len(kinds)]
        delay = 0.0 if rng.random() < 0.1 else rng.uniform(0.0, 0.3)
        await cycle(kind, delay)
        if i + 1 == 20:
            rss_20 = rss_kib()
            if os.environ.get("LEAK_TRACE"):  # where the memory goes: LEAK_TRACE=1 pytest -s
                import tracemalloc
                tracemalloc.start(12)
                snap_20 = tracemalloc.take_snapshot()
    elapsed = time.monotonic() - t0
    print("\nleak: before settle + gc.collect(): threads %d, fds %d" % (len(non_pool_threads()), open_fds()))
    await settle()
    # sockets and server handler threads close asynchronously: give them a moment
    await until(lambda: len(non_pool_threads()) <= len(base_threads) and open_fds() <= base_fds,
                5.0)
    threads, fds, rss_end = non_pool_threads(), open_fds(), rss_kib()
    if os.environ.get("LEAK_TRACE") and rss_20 is not None:
        import tracemalloc
        gc.collect()
        for stat in tracemalloc.take_snapshot().compare_to(snap_20, "traceback")[:8]:
            print(stat)
            for line in stat.traceback.format()[-12:]:
                print("   ", line)
        tracemalloc.stop()
    kids = child_processes()
    pool = reactor.getThreadPool()
    print("\nleak cycles: %d in %.1f s; outcomes %s" % (
        LEAK_CYCLES, elapsed, dict(sorted(outcomes.items()))))
    print("leak: threads %d -> %d (+ %d reactor pool workers, %d busy); fds %d -> %d; "
          "children %s" % (len(base_threads), len(threads), len(pool.threads),
                           len(pool.working), base_fds, fds, kids))
    print("leak: RSS baseline %d KiB, cycle 20 %s KiB, last %d KiB, last - cycle20 = %s KiB" % (
        base_rss, rss_20, rss_end, None if rss_20 is None else rss_end - rss_20))
    assert len(threads) <= len(base_threads), (base_threads, threads)
    assert not [t for t in threads if t.startswith("streamrecorder")], threads
    assert fds <= base_fds
    assert kids == []
    assert len(pool.working) == 0
    if rss_20 is not None:
        assert rss_end - rss_20 < 5 * 1024
    if LEAK_CYCLES >= 60:
        reasons = {k[1] for k in outcomes}
        when = {k[2] for k in outcomes}
        assert reasons == {"user", "complete"} and when == {"started", "before start"}, outcomes


@pytest_twisted.ensureDeferred
async def test_finished_recording_closes_its_connections(server, collector, rmedia, tmp_path):
    url = publish_vod(server, "gc", rmedia["small"])
    mgr = Manager()
    mgr.subscribe(collector)
    gc.collect()
    gc.disable()  # no automatic collection may hide the sockets the recorders leave open
    try:
        await sleep(0.2)
        base = open_fds()
        for _ in range(3):
            mgr.record_stream(rr(url, tmp_path))
            assert (await wait_stopped(mgr, 15))[1]["reason"] == "complete"
        left = await until(lambda: open_fds() <= base, 1.0)
        print("\nwithout gc: fds %d -> %d after 3 complete hls_basic recordings" % (base, open_fds()))
        assert left, (base, open_fds())
    finally:
        gc.enable()
        mgr.close()


# --- 3. fault matrix ------------------------------------------------------------------------

def fault_manager(collector, **options):
    mgr = Manager(recorder_options=dict(FAULT_OPTIONS, **options))
    mgr.subscribe(collector)
    return mgr


def fresh(fault):
    """A copy with its hit counter at zero (the case tables are shared between runs)."""
    return Fault(**{k: v for k, v in vars(fault).items() if k != "hits"})


def record_result(case, stop, took, out):
    decode = ffmpeg_errors(out) if out.exists() and out.stat().st_size else None
    FAULT_MATRIX[case] = "%s%s, skipped %d, %.1f s, output %s" % (
        stop["reason"], "/" + stop["error_id"] if stop["error_id"] else "",
        stop["skipped_segments"], took,
        "none" if decode is None else ("decodes cleanly" if decode == "" else "DECODE ERRORS"))
    return decode


def check_expected(stop, decode, expected):
    """expected: "complete", ("complete"|"user", skipped or None for any > 0), or an error_id."""
    assert decode in (None, ""), decode
    if isinstance(expected, tuple):
        reason, skipped = expected
        assert stop["reason"] == reason, stop
        if skipped is None:
            assert stop["skipped_segments"] > 0, stop
        else:
            assert stop["skipped_segments"] == skipped, stop
        assert decode == "", "a finished recording has an output file"
    elif expected == "complete":
        assert stop["reason"] == "complete" and stop["skipped_segments"] == 0, stop
        assert decode == ""
    else:
        assert (stop["reason"], stop["error_id"]) == ("error", expected), stop


async def run_case(mgr, collector, case, result, out, timeout=40):
    FAULT_MATRIX[case] = "(did not finish)"
    t0 = time.monotonic()
    try:
        mgr.record_stream(result)
        stop = (await wait_stopped(mgr, timeout))[1]
        took = time.monotonic() - t0
    finally:
        mgr.stop()
        await wait_stopped(mgr, 15)
        mgr.close()
    decode = record_result(case, stop, took, out)
    assert one_stop(collector) == stop
    no_traceback(stop["msg"])
    return stop, decode


SEG = r"seg_\d+\.ts"
PL = r"index\.m3u8"

# HLS VOD: case -> (faults, expected)
VOD_CASES = {
    "playlist: never answers": ([Fault(PL, never_answer=True)], "timeout"),
    "playlist: stalls mid-body": ([Fault(PL, stall_after=40)], "timeout"),
    "playlist: cut mid-body once": ([Fault(PL, cut_after=40)], "complete"),
    "playlist: reset once": ([Fault(PL, reset_after=40, reset_times=1)], "complete"),
    "playlist: reset always": ([Fault(PL, reset_after=40)], "failure"),
    "playlist: one 503": ([Fault(PL, fail_first=1)], "complete"),
    "playlist: 503 burst longer than retries": ([Fault(PL, fail_first=5)], "failure"),
    "playlist: 500 always": ([Fault(PL, status=500)], "failure"),
    "playlist: 404": ([Fault(PL, status=404)], "not_found"),
    "playlist: 403": ([Fault(PL, status=403)], "forbidden"),
    "playlist: HTML page with 200": ([Fault(PL, html_instead=True)], "invalid_stream"),
    "playlist: trickle 2 kB/s": ([Fault(PL, throttle_bps=2000)], "complete"),
    "segment: one never answers": ([Fault(r"seg_3\.ts", never_answer=True)], ("complete", 1)),
    "segment: all never answer": ([Fault(SEG, never_answer=True)], "timeout"),
    "segment: one stalls mid-body": ([Fault(r"seg_3\.ts", stall_after=5000)], ("complete", 1)),
    "segment: one stalls once": ([Fault(r"seg_3\.ts", stall_after=5000, stall_times=1)],
                                 ("complete", 0)),
    "segment: all stall mid-body": ([Fault(SEG, stall_after=5000)], "timeout"),
    "segment: cut mid-body once": ([Fault(r"seg_2\.ts", cut_after=5000)], ("complete", 0)),
    "segment: cut always": ([Fault(SEG, cut_after=5000, cut_times=1000)], "failure"),
    "segment: reset once": ([Fault(r"seg_2\.ts", reset_after=5000, reset_times=1)],
                            ("complete", 0)),
    "segment: one always reset": ([Fault(r"seg_5\.ts", reset_after=0)], ("complete", 1)),
    "segment: one 503": ([Fault(r"seg_2\.ts", fail_first=1)], ("complete", 0)),
    "segment: 503 burst on one": ([Fault(r"seg_2\.ts", fail_first=2)], ("complete", 1)),
    "segment: 500 on all": ([Fault(SEG, status=500)], "failure"),
    "segment: one HTML page with 200": ([Fault(r"seg_4\.ts", html_instead=True)],
                                        ("complete", 1)),
    "segment: all HTML pages with 200": ([Fault(SEG, html_instead=True)], "invalid_stream"),
    "segment: trickle 500 kB/s": ([Fault(SEG, throttle_bps=500_000)], ("complete", 0)),
}


@pytest.mark.parametrize("case", list(VOD_CASES))
@pytest_twisted.ensureDeferred
async def test_hls_vod_fault(server, collector, rmedia, tmp_path, case):
    faults, expected = VOD_CASES[case]
    mgr = fault_manager(collector)
    url = publish_vod(server, "vod", rmedia["small"])
    for fault in faults:
        server.add_fault(fresh(fault))
    stop, decode = await run_case(mgr, collector, "hls vod / " + case, rr(url, tmp_path),
                                  tmp_path / "stream_0.ts")
    check_expected(stop, decode, expected)


MP4 = r"clip\.mp4"
MP4_CASES = {
    "never answers": ([Fault(MP4, never_answer=True)], "timeout"),
    "stalls mid-body once (resumed with Range)": (
        [Fault(MP4, stall_after=300_000, stall_times=1)], "complete"),
    "stalls before the first byte always": ([Fault(MP4, stall_after=0)], "timeout"),
    "big file: every response stalls after 2 MB (progress each time)": (
        [Fault(MP4, stall_after=2_000_000)], "complete"),
    "reset mid-body once (resumed with Range)": (
        [Fault(MP4, reset_after=300_000, reset_times=1)], "complete"),
    "cut mid-body twice": ([Fault(MP4, cut_after=200_000, cut_times=2)], "complete"),
    "503 burst": ([Fault(MP4, fail_first=1)], "complete"),
    "500 always": ([Fault(MP4, status=500)], "failure"),
    "HTML page with 200": ([Fault(MP4, html_instead=True)], "invalid_stream"),
    "403": ([Fault(MP4, status=403)], "forbidden"),
    "trickle 1 MB/s": ([Fault(MP4, throttle_bps=1_000_000)], "complete"),
}


@pytest.mark.parametrize("case", list(MP4_CASES))
@pytest_twisted.ensureDeferred
async def test_mp4_fault(server, collector, rmedia, tmp_path, case):
    faults, expected = MP4_CASES[case]
    data = rmedia["mp4_big" if case.startswith("big") else "mp4_small"].read_bytes()
    server.put("/clip.mp4", data)
    for fault in faults:
        server.add_fault(fresh(fault))
    mgr = fault_manager(collector)
    out = tmp_path / "stream_0.mp4"
    stop, decode = await run_case(mgr, collector, "mp4 / " + case,
                                  rr(server.url("/clip.mp4"), tmp_path, recorder_id="mp4"), out)
    check_expected(stop, decode, expected)
    if expected == "complete":
        assert out.read_bytes() == data, "the resumed file is byte-identical"


LIVE = r"/live/"


@pytest_twisted.ensureDeferred
async def test_live_playlist_stops_changing_forever(server, collector, rmedia, tmp_path):
    live = LiveStream(server, rmedia["small"], seg_dur=0.3, window=4, stall_at=8, start_seq=0)
    mgr = fault_manager(collector, stall_floor=2.0)
    stop, decode = await run_case(mgr, collector, "hls live / playlist stops changing forever",
                                  rr(live.url, tmp_path, recorder_id="hls_live", buffering=2),
                                  tmp_path / "stream_0.ts")
    check_expected(stop, decode, "timeout")
    assert decode == "", "what was recorded before the stall stays playable"


@pytest_twisted.ensureDeferred
async def test_live_media_sequence_reset(server, collector, rmedia, tmp_path):
    live = LiveStream(server, rmedia["small"], seg_dur=0.3, window=4, reset_at=8, start_seq=0)
    mgr = fault_manager(collector)
    out = tmp_path / "stream_0.ts"
    stop, decode = await run_case(mgr, collector, "hls live / media sequence reset",
                                  rr(live.url, tmp_path, recorder_id="hls_live", buffering=2,
                                     duration=5), out)
    assert stop["reason"] == "user" and decode == "", stop
    # 5 s of a 0.3 s/segment live stream; the numbers restarting must not end or stall it
    assert stop["skipped_segments"] <= 2, stop


# faults switched on 3 s into the recording
LIVE_CASES = {
    "playlist 503 burst (4 reloads)": ([Fault(r"index\.m3u8", fail_first=4)], ("user", 0)),
    "playlist reset once": ([Fault(r"index\.m3u8", reset_after=20, reset_times=1)], ("user", 0)),
    "one segment never answers": ([Fault(r"pool_7\.ts", never_answer=True)], ("user", None)),
    "segments trickle just above the bitrate": ([Fault(r"pool_\d+\.ts", throttle_bps=400_000)],
                                                ("user", 0)),
}


@pytest.mark.parametrize("case", list(LIVE_CASES))
@pytest_twisted.ensureDeferred
async def test_live_fault(server, collector, rmedia, tmp_path, case):
    faults, expected = LIVE_CASES[case]
    for fault in faults:
        reactor.callLater(3.0, server.add_fault, fresh(fault))
    # pool of 8 x 1 s segments, one per second: sequence 7 (pool_7) appears at 4 s
    live = LiveStream(server, rmedia["small"], seg_dur=1.0, window=3, start_seq=0)
    mgr = fault_manager(collector, timeout=(2.0, 2.0))
    stop, decode = await run_case(mgr, collector, "hls live / " + case,
                                  rr(live.url, tmp_path, recorder_id="hls_live", buffering=2,
                                     duration=10), tmp_path / "stream_0.ts")
    check_expected(stop, decode, expected)


@pytest_twisted.ensureDeferred
async def test_live_server_gone_for_20_seconds(server, collector, rmedia, tmp_path):
    """The origin resets every connection for 20 s in the middle of a live recording."""
    live = LiveStream(server, rmedia["small"], seg_dur=1.0, window=6, start_seq=0)
    mgr = fault_manager(collector)  # default stall limit: max(6 x target, 30 s)
    out = tmp_path / "stream_0.ts"
    gone = Fault(LIVE, reset_after=0)
    outage = {}

    def go_away():
        outage["size"] = out.stat().st_size if out.exists() else 0
        outage["t"] = time.monotonic()
        server.add_fault(gone)  # every request now gets its connection reset

    reactor.callLater(4.0, go_away)
    reactor.callLater(24.0, server.remove_fault, gone)
    stop, decode = await run_case(mgr, collector, "hls live / server gone for 20 s, comes back",
                                  rr(live.url, tmp_path, recorder_id="hls_live", buffering=2,
                                     duration=30), out, timeout=60)
    assert stop["reason"] == "user", stop
    assert decode == ""
    assert stop["skipped_segments"] >= 10, "segments that left the window in the outage are reported"
    assert out.stat().st_size > outage["size"] * 1.3, "the recording went on after the outage"


@pytest.fixture
def unreachable_port():
    """A loopback port whose accept queue is full: a new connect() hangs as for a dead host."""
    import socket
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    held = []
    for _ in range(8):
        sock = socket.socket()
        sock.settimeout(0.3)
        try:
            sock.connect(listener.getsockname())
        except OSError:
            sock.close()
            break
        held.append(sock)
    else:
        pytest.skip("the kernel accepted every connection: cannot make connect() hang here")
    yield listener.getsockname()[1]
    for sock in held:
        sock.close()
    listener.close()


@pytest.mark.parametrize("recorder_id", ["mp4", "hls_basic"])
@pytest_twisted.ensureDeferred
async def test_stop_while_connecting(collector, tmp_path, unreachable_port, recorder_id):
    """stop() aborts a connect() in progress instead of waiting for the connect timeout."""
    mgr = Manager(recorder_options={"timeout": (30.0, 30.0)})
    mgr.subscribe(collector)
    url = "http://127.0.0.1:%d/x" % unreachable_port
    try:
        mgr.record_stream(rr(url, tmp_path, recorder_id=recorder_id))
        await sleep(0.5)
        t0 = time.monotonic()
        mgr.stop()
        stop = (await wait_stopped(mgr, 10))[1]
        took = time.monotonic() - t0
    finally:
        mgr.close()
    FAULT_MATRIX["%s / stop while connect() hangs" % recorder_id] = "%s after %.2f s" % (
        stop["reason"], took)
    assert stop["reason"] == "user", stop
    assert one_stop(collector) == stop
    assert took < 2.0, "the stop message came %.1f s after stop()" % took


@pytest_twisted.ensureDeferred
async def test_connect_timeout(collector, tmp_path, unreachable_port):
    mgr = fault_manager(collector)
    url = "http://127.0.0.1:%d/index.m3u8" % unreachable_port
    stop, _ = await run_case(mgr, collector, "hls vod / server never accepts (connect timeout)",
                             rr(url, tmp_path), tmp_path / "stream_0.ts")
    assert (stop["reason"], stop["error_id"]) == ("error", "timeout"), stop


# --- 4. hostile input limits ------------------------------------------------------------------

@pytest.mark.parametrize("recorder_id", ["mp4", "hls_basic"])
@pytest_twisted.ensureDeferred
async def test_redirect_loop_is_a_clear_error(server, collector, tmp_path, recorder_id):
    hops = []

    def loop(request):
        hops.append(request.path)
        return 302, {"Location": "/loop?n=%d" % len(hops)}, b""

    server.route("/loop", loop)
    mgr = fault_manager(collector)
    stop, _ = await run_case(mgr, collector, "%s / redirect loop" % recorder_id,
                             rr(server.url("/loop"), tmp_path, recorder_id=recorder_id),
                             tmp_path / "nothing")
    assert (stop["reason"], stop["error_id"]) == ("error", "failure"), stop
    assert "too many redirects" in stop["msg"], stop
    assert len(hops) == 11, "10 redirects followed, once, no retries: %d requests" % len(hops)


@pytest_twisted.ensureDeferred
async def test_playlist_with_too_many_segments(server, collector, tmp_path):
    from streamrecorder.hls.playlist import MAX_SEGMENTS
    body = "#EXTM3U\n#EXT-X-TARGETDURATION:1\n" + "#EXTINF:1,\ns.ts\n" * (MAX_SEGMENTS + 1)
    server.put("/huge.m3u8", body.encode())
    mgr = fault_manager(collector)
    stop, _ = await run_case(mgr, collector, "hls vod / playlist with too many segments",
                             rr(server.url("/huge.m3u8"), tmp_path), tmp_path / "stream_0.ts")
    assert (stop["reason"], stop["error_id"]) == ("error", "invalid_stream"), stop
    assert "limit" in stop["msg"], stop


# --- 5. a live variant playlist that vanishes -----------------------------------------------

def master_text(variant_path):
    return ("#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=800000,RESOLUTION=320x240,"
            "CODECS=\"avc1.42c01e,mp4a.40.2\"\n%s\n" % variant_path).encode()


@pytest_twisted.ensureDeferred
async def test_live_variant_moved_is_found_in_the_master_again(server, collector, rmedia,
                                                               tmp_path):
    """The variant playlist answers 404 for good and the master names a new one (new CDN path
    or token): the recording follows it instead of ending."""
    LiveStream(server, rmedia["small"], seg_dur=1.0, window=4, start_seq=0, prefix="live")
    LiveStream(server, rmedia["small"], seg_dur=1.0, window=4, start_seq=0, prefix="live2")
    current = {"variant": "/live/index.m3u8"}
    server.route("/master.m3u8", lambda request: (
        200, {"Content-Type": "application/vnd.apple.mpegurl"}, master_text(current["variant"])))

    def move():
        current["variant"] = "/live2/index.m3u8"
        server.add_fault(Fault(r"^/live/index\.m3u8", status=404))

    reactor.callLater(3.0, move)
    mgr = fault_manager(collector)
    out = tmp_path / "stream_0.ts"
    stop, decode = await run_case(mgr, collector, "hls live / variant playlist moved (master "
                                  "names a new one)",
                                  rr(server.url("/master.m3u8"), tmp_path, recorder_id="hls_live",
                                     buffering=2, duration=12), out)
    assert stop["reason"] == "user" and decode == "", stop
    assert len(server.paths_requested(r"^/master\.m3u8")) >= 2, "the master was read again"
    assert server.paths_requested(r"^/live2/pool_"), "segments came from the new variant"
    assert ffprobe_duration(out) > 8.0


@pytest_twisted.ensureDeferred
async def test_live_playlist_404_for_a_while(server, collector, rmedia, tmp_path):
    live = LiveStream(server, rmedia["small"], seg_dur=1.0, window=6, start_seq=0)
    gone = Fault(r"index\.m3u8", status=404)
    reactor.callLater(3.0, server.add_fault, gone)
    reactor.callLater(6.0, server.remove_fault, gone)
    mgr = fault_manager(collector)
    stop, decode = await run_case(mgr, collector, "hls live / playlist 404 for 3 s",
                                  rr(live.url, tmp_path, recorder_id="hls_live", buffering=2,
                                     duration=10), tmp_path / "stream_0.ts")
    check_expected(stop, decode, ("user", 0))


@pytest_twisted.ensureDeferred
async def test_live_playlist_gone_for_good_is_not_found(server, collector, rmedia, tmp_path):
    live = LiveStream(server, rmedia["small"], seg_dur=0.5, window=4, start_seq=0)
    reactor.callLater(2.0, server.add_fault, Fault(r"index\.m3u8", status=404))
    mgr = fault_manager(collector, outage_limit=3.0)  # a failing playlist: the outage limit
    stop, decode = await run_case(mgr, collector, "hls live / playlist 404 for good",
                                  rr(live.url, tmp_path, recorder_id="hls_live", buffering=2),
                                  tmp_path / "stream_0.ts")
    check_expected(stop, decode, "not_found")
    assert decode == "", "what came before stays playable"


# --- 6. symlinks planted in the recording folder ----------------------------------------------

def plant_links(rec_dir, outside, names):
    """Symlinks at the recorder's own names, pointing at files outside rec_dir."""
    rec_dir.mkdir(parents=True, exist_ok=True)
    targets = {}
    for name in names:
        target = outside / ("victim_" + name)
        target.write_bytes(b"precious " + name.encode())
        (rec_dir / name).symlink_to(target)
        targets[name] = target
    return targets


@pytest.mark.parametrize("recorder_id", ["hls_basic", "mp4"])
@pytest_twisted.ensureDeferred
async def test_symlinks_in_rec_dir_are_never_followed(server, collector, rmedia, tmp_path,
                                                      recorder_id):
    """Links at stream_<n> names (the output, its .ap/.meta, an old section) pointing outside:
    the recorder replaces or removes the links and never writes to or deletes their targets."""
    rec_dir, outside = tmp_path / "rec", tmp_path / "outside"
    outside.mkdir()
    main = "stream_0.ts" if recorder_id == "hls_basic" else "stream_0.mp4"
    names = [main, main + ".meta", "stream_0.ts.ap", "stream_7.ts", "stream_7.ts.ap"]
    targets = plant_links(rec_dir, outside, names)
    (outside / "dir").mkdir()
    (rec_dir / "stream_8.ts").symlink_to(outside / "dir")
    if recorder_id == "mp4":
        server.put("/clip.mp4", rmedia["mp4_small"].read_bytes())
        url = server.url("/clip.mp4")
    else:
        url = publish_vod(server, "links", rmedia["small"])
    mgr = fault_manager(collector)
    stop, decode = await run_case(mgr, collector, "%s / symlinks planted in rec_dir" % recorder_id,
                                  rr(url, rec_dir, recorder_id=recorder_id), rec_dir / main)
    assert stop["reason"] == "complete" and decode == "", stop
    for name, target in targets.items():
        assert target.read_bytes() == b"precious " + name.encode(), name
    assert (outside / "dir").is_dir()
    for name in os.listdir(str(rec_dir)):
        assert not (rec_dir / name).is_symlink(), name
    assert not (rec_dir / main).is_symlink() and (rec_dir / (main + ".meta")).is_file()


@pytest_twisted.ensureDeferred
async def test_oversized_segment_is_skipped_not_buffered(server, collector, rmedia, tmp_path):
    """A segment over the 64 MiB cap (a hostile or broken server) is refused from its
    Content-Length (or once more than the cap has arrived), never held in memory: skipped and
    reported, the rest of the recording is written."""
    from streamrecorder.hls.fetch import SEGMENT_LIMIT
    url = publish_vod(server, "huge", rmedia["small"])
    server.put("/huge/seg_3.ts", b"\x47" + bytes(SEGMENT_LIMIT + 188))
    mgr = fault_manager(collector)
    stop, decode = await run_case(mgr, collector, "hls vod / one segment over the 64 MiB cap",
                                  rr(url, tmp_path), tmp_path / "stream_0.ts")
    check_expected(stop, decode, ("complete", 1))


@pytest_twisted.ensureDeferred
async def test_host_names_are_looked_up_off_the_recorder_thread(server, collector, rmedia,
                                                               tmp_path):
    """'localhost' goes through the stoppable lookup (and, where it resolves to ::1 first, on
    to 127.0.0.1 after the refused attempt); the lookup threads end with the recording."""
    data = rmedia["mp4_small"].read_bytes()
    server.put("/named.mp4", data)
    mgr = fault_manager(collector)
    url = "http://localhost:%d/named.mp4" % server.port
    stop, decode = await run_case(mgr, collector, "mp4 / host name instead of an address",
                                  rr(url, tmp_path, recorder_id="mp4"), tmp_path / "stream_0.mp4")
    check_expected(stop, decode, "complete")
    assert (tmp_path / "stream_0.mp4").read_bytes() == data
    assert await until(lambda: not [t for t in threading.enumerate()
                                    if t.name == "streamrecorder-dns"], 2.0)
