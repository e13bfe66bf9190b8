"""Segment fetching: one segment (range, AES-128, validation, retries) and the ordered pool."""

import collections
import concurrent.futures
import logging
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
        self._pool = concurrent.futures.ThreadPoolExecutor(self.workers, thread_name_prefix=name)
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
        self._pool.shutdown(wait=True)

    @staticmethod
    def describe(error: Any) -> str:
        return str(error) or type(error).__name__
