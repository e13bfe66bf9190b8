"""Segment fetching: one segment (range, AES-128, validation, retries) and the ordered pool."""

import collections
import concurrent.futures
import logging
import queue
import threading
import time
from typing import Any, Callable, Deque, Optional, Tuple

from ..crypto import KeyCache, decrypt_aes128_cbc
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
    """Downloads one segment through the shared session and returns its clear TS bytes."""

    def __init__(self, http: HttpClient, retry: RetryPolicy, keys: Optional[KeyCache] = None,
                 validate: Callable[[bytes], bool] = looks_like_ts) -> None:
        self.http = http
        self.retry = retry
        self.keys = keys or KeyCache()
        self.validate = validate

    def fetch(self, seg: Segment, give_up: Optional[Callable[[], bool]] = None) -> bytes:
        """Fetch with retries; give_up() tells when a live segment has left the window."""
        return self.retry.run(lambda: self._fetch_once(seg), what="segment %d" % seg.media_sequence,
                              retry_on=RETRYABLE + (InvalidSegmentError,), give_up=give_up)

    def _fetch_once(self, seg: Segment) -> bytes:
        headers = None
        if seg.byterange is not None:
            offset, length = seg.byterange
            headers = {"Range": "bytes=%d-%d" % (offset, offset + length - 1)}
        body, _ = self.http.fetch(seg.url, headers, max_bytes=SEGMENT_LIMIT, what="segment")
        if seg.byterange is not None and len(body) > seg.byterange[1]:
            offset, length = seg.byterange  # the server ignored Range and sent everything
            body = body[offset:offset + length]
        if seg.key is not None:
            key = self.keys.get(seg.key.uri, self._fetch_key)
            body = decrypt_aes128_cbc(body, key, iv_for(seg.key, seg.media_sequence))
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

    Memory stays flat: new work is only submitted while the bytes waiting to be written plus
    the expected size of the downloads in flight stay under `max_bytes`.
    """

    def __init__(self, fetch: Callable[[Segment], bytes], workers: int = 4,
                 max_bytes: int = 32 << 20, name: str = "streamrecorder-fetch") -> None:
        self._fetch = fetch
        self.workers = max(1, workers)
        self.max_bytes = max_bytes
        self._pool = DaemonPool(self.workers, name)
        self._pending: Deque[Tuple[Segment, concurrent.futures.Future]] = collections.deque()
        self._sizes: Deque[int] = collections.deque(maxlen=8)

    def __len__(self) -> int:
        return len(self._pending)

    def _expected_size(self) -> int:
        return int(sum(self._sizes) / len(self._sizes)) if self._sizes else 0

    def buffered_bytes(self) -> int:
        """Bytes held by finished downloads plus the expected size of those in flight."""
        total = 0
        expected = self._expected_size()
        for _, future in self._pending:
            if future.done() and not future.cancelled() and future.exception() is None:
                total += len(future.result())
            else:
                total += expected
        return total

    def can_submit(self) -> bool:
        if not self._pending:
            return True
        if len(self._pending) >= 2 * self.workers:
            return False
        return self.buffered_bytes() + self._expected_size() <= self.max_bytes

    def submit(self, seg: Segment) -> None:
        self._pending.append((seg, self._pool.submit(self._fetch, seg)))

    def next_result(self, timeout: float) -> Optional[Result]:
        """The oldest submission once it is done (None if still running after timeout)."""
        if not self._pending:
            return None
        seg, future = self._pending[0]
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
        return seg, data, error

    def close(self) -> None:
        """Cancel queued work and wait for the pool's threads (in-flight requests are aborted)."""
        for _, future in self._pending:
            future.cancel()
        self._pending.clear()
        self._pool.shutdown(CLOSE_WAIT_S)

    @staticmethod
    def describe(error: Any) -> str:
        return str(error) or type(error).__name__
