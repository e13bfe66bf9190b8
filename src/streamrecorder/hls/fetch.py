"""Segment fetching: one segment (range, AES-128, validation, retries) and the ordered pool."""

import collections
import concurrent.futures
import logging
import queue
import threading
import time
from typing import Any, Callable, Deque, Optional, Tuple

from ..crypto import KeyCache, decrypt_aes128_cbc_in_place
from ..errors import InvalidStreamError, RecorderError
from ..http import RETRYABLE, HttpClient, RetryPolicy, redact
from ..ts.packets import looks_like_ts
from .playlist import Segment, iv_for

log = logging.getLogger(__name__)

SEGMENT_LIMIT = 64 << 20  # one segment may not exhaust a receiver's memory (4K HEVC: ~50 MB per 10 s)
KEY_LIMIT = 4096


class InvalidSegmentError(InvalidStreamError):
    """A segment that is not MPEG-TS (an HTML error page with status 200, garbage)."""


class SegmentFetcher:
    """Downloads one segment through the shared session and returns its clear TS bytes.

    The segment arrives in one bytearray (HttpClient.fetch_buffer) and stays there: AES-128 is
    decrypted in place, and a server that ignored Range has only the byte range kept. The
    caller may rewrite it in place (SectionWriter.write does).
    """

    def __init__(self, http: HttpClient, retry: RetryPolicy, keys: Optional[KeyCache] = None,
                 validate: Callable[[bytes], bool] = looks_like_ts) -> None:
        self.http = http
        self.retry = retry
        self.keys = keys or KeyCache()
        self.validate = validate

    def fetch(self, seg: Segment, give_up: Optional[Callable[[], bool]] = None) -> bytearray:
        """Fetch with retries; give_up() tells when a live segment has left the window."""
        return self.retry.run(lambda: self._fetch_once(seg), what="segment %d" % seg.media_sequence,
                              retry_on=RETRYABLE + (InvalidSegmentError,), give_up=give_up)

    def _fetch_once(self, seg: Segment) -> bytearray:
        headers = None
        window = None
        if seg.byterange is not None:
            offset, length = seg.byterange
            headers = {"Range": "bytes=%d-%d" % (offset, offset + length - 1)}
            window = (offset, length)  # kept alone if the server ignores Range
        body, _ = self.http.fetch_buffer(seg.url, headers, max_bytes=SEGMENT_LIMIT, what="segment",
                                         window=window)
        if seg.key is not None:
            key = self.keys.get(seg.key.uri, self._fetch_key)
            decrypt_aes128_cbc_in_place(body, key, iv_for(seg.key, seg.media_sequence))
        if not self.validate(body):
            raise InvalidSegmentError("segment %d is not MPEG-TS (%s)"
                                      % (seg.media_sequence, redact(seg.url)))
        return body

    def _fetch_key(self, uri: str) -> bytes:
        return self.http.fetch(uri, max_bytes=KEY_LIMIT, what="key")[0]


Result = Tuple[Segment, Optional[bytes], Optional[BaseException]]
# The workers' requests leave at once on abort() (abortable.py), so close() after an abort is
# quick; a worker still busy after this long (CPU work, something unforeseen) is left behind.
CLOSE_WAIT_S = 5.0


class DaemonPool:
    """A fixed set of daemon worker threads, owned by one recorder and shut down with it.

    Not a ThreadPoolExecutor: Python joins its threads without a limit at exit, so a worker
    left behind by shutdown() would hold up the exit; a daemon worker never does.
    """

    def __init__(self, workers: int, name: str) -> None:
        self._queue: queue.Queue = queue.Queue()
        self._threads = [threading.Thread(target=self._work, name="%s_%d" % (name, i), daemon=True)
                         for i in range(workers)]
        for thread in self._threads:
            thread.start()

    def submit(self, func: Callable[..., Any], *args: Any) -> concurrent.futures.Future:
        future: concurrent.futures.Future = concurrent.futures.Future()
        self._queue.put((future, func, args))
        return future

    def _work(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            future, func, args = item
            if not future.set_running_or_notify_cancel():
                continue
            try:
                result = func(*args)
            except BaseException as exc:  # noqa: B036 - handed to the future's owner
                future.set_exception(exc)
            else:
                future.set_result(result)

    def shutdown(self, timeout: float) -> None:
        """End the workers once their current call returns; wait at most timeout seconds."""
        for _ in self._threads:
            self._queue.put(None)
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))
            if thread.is_alive():
                log.warning("%s is still busy; left behind", thread.name)


class OrderedFetcher:
    """Fetches on a bounded pool of its own; results come back strictly in submission order.

    Memory stays flat: a byte budget, `max_bytes`, bounds at every moment the segments in
    flight (at their expected size), those finished and waiting to be written (at their real
    size) and the last one handed out by next_result() until the next call (at its current
    length: a writer that empties a bytearray once it is written, as SectionWriter.write does,
    gives that memory back at once). New work is only submitted while all that plus the new
    segment's expected size stays within the budget; one segment is always allowed when nothing
    is pending, so a segment larger than the budget still records, one at a time.

    Expected size of a segment: `estimate(seg)` (the recorder's guess before anything arrived:
    the variant's BANDWIDTH x duration, a byte range's length) and the mean of the last real
    sizes, the larger of the two when both are known. The larger because either may be low:
    BANDWIDTH is often an average rather than the peak, and the mean lags behind a scene that
    needs more bits; a guess that is too high only costs parallelism. With neither known yet,
    one download runs at a time until the first size is in.
    """

    def __init__(self, fetch: Callable[[Segment], Any], workers: int = 4,
                 max_bytes: int = 32 << 20, name: str = "streamrecorder-fetch",
                 estimate: Optional[Callable[[Segment], int]] = None) -> None:
        self._fetch = fetch
        self.workers = max(1, workers)
        self.max_bytes = max_bytes
        self._estimate = estimate
        self._pool = DaemonPool(self.workers, name)
        self._pending: Deque[Tuple[Segment, concurrent.futures.Future, Optional[int]]] = collections.deque()
        self._sizes: Deque[int] = collections.deque(maxlen=8)
        self._held: Any = None  # the last result handed out, until the next next_result()

    def __len__(self) -> int:
        return len(self._pending)

    def _guess(self, seg: Segment) -> Optional[int]:
        """estimate(seg) as a positive whole number of bytes, or None."""
        if self._estimate is None:
            return None
        try:
            value = int(self._estimate(seg))
        except Exception:  # noqa: BLE001 - a bad guess must not stop the recording
            log.debug("size estimate failed for segment %d", seg.media_sequence, exc_info=True)
            return None
        return value if value > 0 else None

    def _mean_size(self) -> Optional[int]:
        """Mean of the last real sizes (those waiting in the queue too), or None."""
        sizes = list(self._sizes)
        if not sizes:
            sizes = [len(r) for r in (_result(f) for _, f, _ in self._pending) if r is not None]
        return int(sum(sizes) / len(sizes)) if sizes else None

    def _expected(self, guess: Optional[int]) -> Optional[int]:
        """The size to count for a segment not yet in (guess: its estimate)."""
        mean = self._mean_size()
        if guess is None:
            return mean
        return guess if mean is None else max(guess, mean)

    def buffered_bytes(self) -> int:
        """Bytes held by finished downloads and the last result handed out, plus the expected
        size of those in flight (0 for one whose size nobody knows yet)."""
        total = _size(self._held)
        for _, future, guess in self._pending:
            data = _result(future)
            if data is not None:
                total += len(data)
            elif not future.done():
                total += self._expected(guess) or 0
        return total

    def can_submit(self, seg: Optional[Segment] = None) -> bool:
        """May one more segment (`seg`, when the caller knows it) be submitted now?"""
        if not self._pending:
            return True
        if len(self._pending) >= 2 * self.workers:
            return False
        expected = self._expected(self._guess(seg) if seg is not None else self._last_guess())
        if expected is None:
            return False  # nothing known about sizes yet: one download at a time
        return self.buffered_bytes() + expected <= self.max_bytes

    def _last_guess(self) -> Optional[int]:
        """Without the next segment at hand: the estimate of the last one submitted."""
        return self._pending[-1][2] if self._pending else None

    def submit(self, seg: Segment) -> None:
        self._pending.append((seg, self._pool.submit(self._fetch, seg), self._guess(seg)))

    def next_result(self, timeout: float) -> Optional[Result]:
        """The oldest submission once it is done (None if still running after timeout).

        Asking for the next result hands the last one back: it no longer counts as held."""
        self._held = None
        if not self._pending:
            return None
        seg, future, _ = self._pending[0]
        try:
            data = future.result(timeout)
            error: Optional[BaseException] = None
        except concurrent.futures.TimeoutError:
            return None
        except concurrent.futures.CancelledError:
            data, error = None, RecorderError("cancelled")
        except Exception as exc:  # noqa: BLE001 - handed to the writer, which decides
            data, error = None, exc
        self._pending.popleft()
        if data is not None:
            self._sizes.append(len(data))
            self._held = data
        return seg, data, error

    def close(self) -> None:
        """Cancel queued work and wait for the pool's threads (in-flight requests are aborted)."""
        for _, future, _ in self._pending:
            future.cancel()
        self._pending.clear()
        self._held = None
        self._pool.shutdown(CLOSE_WAIT_S)

    @staticmethod
    def describe(error: Any) -> str:
        return str(error) or type(error).__name__


def _result(future: concurrent.futures.Future) -> Any:
    """The result of a future that finished well, else None (never blocks)."""
    if not future.done() or future.cancelled() or future.exception() is not None:
        return None
    return future.result()


def _size(data: Any) -> int:
    return len(data) if data is not None else 0
