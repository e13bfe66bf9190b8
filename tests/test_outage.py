"""A live recording rides out a network outage of minutes (hls.live.Outage), on a fake clock:
the recorder and the loopback server share it, so two minutes pass in about a second."""

import datetime
import threading
import time
from urllib.parse import parse_qs, urlsplit

import pytest
import pytest_twisted

from fakeclock import FakeClock
from helpers import ffmpeg_errors, one_stop, rr, sleep, until, wait_stopped
from hls_server import media_playlist
from streamrecorder.devserver import Fault
from streamrecorder.errors import NotFoundError, StreamTimeoutError
from streamrecorder.http import TransientError
from streamrecorder.hls.live import Outage, StallDetector, missing_media
from streamrecorder.hls.playlist import Segment

OUTAGE_S = 120.0
PDT_BASE = datetime.datetime(2026, 1, 1, tzinfo=datetime.timezone.utc)


class ClockedLive:
    """A live window over a pool of segments that moves with the fake clock.

    Media sequence n is pool[n % len(pool)], listed from (n - window + 1) x seg_dur on; its URI
    carries n (`?n=`), so `served` says which ones reached the recorder. During `outage`
    (fake-clock seconds) the playlist and the segments answer 503.
    """

    def __init__(self, server, pool, clock, seg_dur=1.0, window=4, prefix="olive", pdt=False):
        self.clock = clock
        self.seg_dur = seg_dur
        self.window = window
        self.prefix = prefix
        self.pdt = pdt
        self.pool = [p.read_bytes() for p in pool]
        self.t0 = clock.monotonic()
        self.outage = None
        self.served = set()
        self._lock = threading.Lock()
        server.route("/%s/index.m3u8" % prefix, self._playlist)
        for i, body in enumerate(self.pool):
            server.route("/%s/pool_%d.ts" % (prefix, i), self._segment(body))
        self.url = server.url("/%s/index.m3u8" % prefix)

    def down(self):
        now = self.clock.monotonic()
        return self.outage is not None and self.outage[0] <= now < self.outage[1]

    def edge(self):
        return self.window - 1 + int((self.clock.monotonic() - self.t0) / self.seg_dur)

    def _playlist(self, _request):
        if self.down():
            return 503, {"Content-Type": "text/plain"}, b"down"
        edge = self.edge()
        first = max(0, edge - self.window + 1)
        entries = []
        for n in range(first, edge + 1):
            tags = ()
            if self.pdt:
                stamp = PDT_BASE + datetime.timedelta(seconds=n * self.seg_dur)
                tags = ("#EXT-X-PROGRAM-DATE-TIME:" + stamp.isoformat(timespec="milliseconds"),)
            entries.append(("pool_%d.ts?n=%d" % (n % len(self.pool), n), self.seg_dur, tags))
        text = media_playlist(entries, target=max(1, int(self.seg_dur + 0.999)), endlist=False,
                              media_sequence=first)
        return 200, {"Content-Type": "application/vnd.apple.mpegurl"}, text.encode()

    def _segment(self, body):
        def serve(request):
            if self.down():
                return 503, {"Content-Type": "text/plain"}, b"down"
            n = int(parse_qs(urlsplit(request.path).query)["n"][0])
            with self._lock:
                self.served.add(n)
            return 200, {"Content-Type": "video/mp2t"}, body
        return serve

    def served_after(self, seq):
        with self._lock:
            return sorted(n for n in self.served if n > seq)

    def not_served(self):
        """Sequence numbers between the first and the last served that never were."""
        with self._lock:
            served = set(self.served)
        return [n for n in range(min(served), max(served) + 1) if n not in served]


async def go_down(live, clock, server, kind, seconds=OUTAGE_S, step=5.0, lasting=None):
    """An outage of `seconds` on the fake clock (or `lasting`, longer than the time passed
    here), passed in steps of `step` every 50 ms."""
    start = clock.monotonic()
    fault = None
    if kind == "503":
        live.outage = (start, start + (lasting or seconds))
    else:  # connections reset: what a dead route or a restarting server looks like
        fault = server.add_fault(Fault(r"^/%s/" % live.prefix, reset_after=0))
    for _ in range(int(seconds / step)):
        clock.advance(step)
        await sleep(0.05)
    if fault is not None:
        server.remove_fault(fault)
    return live.edge()


@pytest.mark.parametrize("kind, pdt", [("503", False), ("reset", False), ("503", True)])
@pytest_twisted.ensureDeferred
async def test_a_two_minute_outage_is_ridden_out(server, make_manager, collector, media_ts_restart,
                                                tmp_path, kind, pdt):
    clock = FakeClock()
    live = ClockedLive(server, media_ts_restart, clock, pdt=pdt)
    mgr = make_manager(clock=clock)
    mgr.record_stream(rr(live.url, tmp_path, recorder_id="hls_live", buffering=2))
    assert await until(lambda: len(live.served) >= 4 and collector.of("start"), timeout=20)
    out = tmp_path / "stream_0.ts"
    size_before = out.stat().st_size
    edge_after = await go_down(live, clock, server, kind)
    assert await until(lambda: len(live.served_after(edge_after)) >= 3, timeout=20), \
        "the recording goes on once the server answers again"
    assert await until(lambda: out.stat().st_size > size_before + 3 * 188 * 10, timeout=10)
    mgr.stop()
    stop = (await wait_stopped(mgr))[1]
    assert (stop["reason"], stop["error_id"]) == ("user", None), stop
    assert one_stop(collector) == stop
    lost = live.not_served()
    truth = len(lost) * live.seg_dur
    assert truth >= OUTAGE_S - live.window * live.seg_dur - 2, "the outage was real: %s" % lost
    # missing_s: the segments that failed, and those that left the window unseen (estimated
    # from EXT-X-PROGRAM-DATE-TIME, or without it from the time the playlist was away)
    assert abs(stop["missing_s"] - truth) <= 2 * live.seg_dur, (stop, truth)
    assert OUTAGE_S - live.window * live.seg_dur - 2 <= stop["missing_s"] <= OUTAGE_S + 2, stop
    assert abs(stop["skipped_segments"] - len(lost)) <= 1, (stop, len(lost))
    assert ffmpeg_errors(out) == "", "the file stays playable across the gap"


@pytest_twisted.ensureDeferred
async def test_a_stop_during_an_outage_ends_the_recording_at_once(server, make_manager, collector,
                                                                 media_ts_restart, tmp_path):
    clock = FakeClock()
    live = ClockedLive(server, media_ts_restart, clock)
    mgr = make_manager(clock=clock)
    mgr.record_stream(rr(live.url, tmp_path, recorder_id="hls_live", buffering=2))
    assert await until(lambda: len(live.served) >= 3 and collector.of("start"), timeout=20)
    await go_down(live, clock, server, "503", seconds=300, step=30.0, lasting=3600)
    assert not collector.of("stop"), "five minutes of outage do not end the recording"
    started = time.monotonic()
    mgr.stop()
    stop = (await wait_stopped(mgr, timeout=10))[1]
    assert time.monotonic() - started < 3.0, "the stop waited for a retry"
    assert (stop["reason"], stop["error_id"]) == ("user", None), stop


@pytest_twisted.ensureDeferred
async def test_an_outage_longer_than_the_limit_ends_with_timeout(server, make_manager, collector,
                                                                media_ts_restart, tmp_path):
    clock = FakeClock()
    live = ClockedLive(server, media_ts_restart, clock)
    mgr = make_manager(clock=clock, outage_limit=300)
    mgr.record_stream(rr(live.url, tmp_path, recorder_id="hls_live", buffering=2))
    assert await until(lambda: len(live.served) >= 3 and collector.of("start"), timeout=20)
    await go_down(live, clock, server, "503", seconds=400, step=20.0, lasting=3600)
    stop = (await wait_stopped(mgr, timeout=10))[1]
    assert (stop["reason"], stop["error_id"]) == ("error", "timeout"), stop
    assert "could not be loaded" in stop["msg"] and "limit 300 s" in stop["msg"], stop
    assert ffmpeg_errors(tmp_path / "stream_0.ts") == "", "what came before stays playable"


# --- the rules on their own ------------------------------------------------------------------

class Ticks:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


def backoff(outage, ticks, count, **window):
    delays = []
    for _ in range(count):
        outage.failed(TransientError("503"), **window)
        delays.append(outage.delay)
        ticks.now += outage.delay
    return delays


def test_backoff_doubles_from_one_second_to_the_cap():
    ticks = Ticks()
    assert backoff(Outage(clock=ticks), ticks, 9) == [1, 1, 2, 4, 8, 16, 30, 30, 30]


def test_the_usual_pace_while_the_window_still_holds_everything_then_backoff():
    ticks = Ticks()
    delays = backoff(Outage(clock=ticks), ticks, 30, window_s=12.0, usual=0.5)
    assert delays[:24] == [0.5] * 24, "a hiccup shorter than the window loses nothing"
    # then 1 s doubling, at most half the window: back before the window forgets the return
    assert delays[24:] == [1, 1, 2, 4, 6, 6]


def test_the_outage_limit_ends_with_the_error_of_the_last_failure():
    ticks = Ticks()
    outage = Outage(clock=ticks, limit=600)
    outage.failed(TransientError("503"))
    ticks.now += 600
    outage.failed(TransientError("503"))  # exactly the limit: still going on
    ticks.now += 1
    with pytest.raises(StreamTimeoutError, match="601 s"):
        outage.failed(TransientError("503"))
    gone = Outage(clock=ticks, limit=10)
    gone.failed(NotFoundError("404"))
    ticks.now += 11
    with pytest.raises(NotFoundError):
        gone.failed(NotFoundError("404"))


def test_an_answer_ends_the_outage_and_the_count_starts_again():
    ticks = Ticks()
    outage = Outage(clock=ticks, limit=100)
    outage.failed(TransientError("503"))
    ticks.now += 90
    assert outage.ended() == 90
    assert not outage.active and outage.ended() == 0.0
    ticks.now += 50
    outage.failed(TransientError("503"))
    ticks.now += 90
    outage.failed(TransientError("503"))  # 90 s of this outage, not 180 s
    assert outage.delay == 30 and outage.failures == 2


def test_outage_time_is_no_stall_time():
    ticks = Ticks()
    stall = StallDetector(clock=ticks, floor=30)
    stall.observe(True, 6)
    ticks.now += 300
    stall.excuse(290)  # a 290 s outage; then 10 s of unchanged answers
    stall.observe(False, 6)
    ticks.now += 40
    with pytest.raises(StreamTimeoutError):
        stall.observe(False, 6)


def seg(n, duration=2.0, pdt=None):
    return Segment(url="s%d.ts" % n, media_sequence=n, discontinuity_sequence=0,
                   duration=duration, program_date_time=pdt)


def test_missing_media_from_program_date_time_or_the_time_away():
    at = PDT_BASE
    before = seg(10, pdt=at)
    new = [seg(n, pdt=at + datetime.timedelta(seconds=2 * (n - 10))) for n in (71, 72, 73)]
    assert missing_media(before, new, away_s=500.0) == (120.0, "EXT-X-PROGRAM-DATE-TIME")
    plain = [seg(n) for n in (71, 72, 73)]
    assert missing_media(seg(10), plain, away_s=128.0) == (122.0, "the time the playlist was away")
    assert missing_media(seg(10), plain, away_s=3.0)[0] == 0.0
