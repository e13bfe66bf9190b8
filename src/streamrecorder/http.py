"""HTTP for recorders: session set-up, status/exception mapping, retries, abortable requests."""

import contextlib
import datetime
import http.client
import logging
import random
import socket
import threading
import time
from typing import Any, Callable, Dict, Iterator, List, Optional, Tuple, TypeVar
from urllib.parse import urlsplit

import requests
import urllib3
from requests.cookies import extract_cookies_to_jar
from requests.hooks import dispatch_hook
from requests.utils import select_proxy

from . import abortable
from .buffers import BufferAllocator
from .errors import (ForbiddenError, NotFoundError, RecorderError, StopRequested,
                     StreamTimeoutError, TlsError)

log = logging.getLogger(__name__)
T = TypeVar("T")

DEFAULT_USER_AGENT = ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 "
                      "(KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36")
DEFAULT_TIMEOUT = (10.0, 20.0)  # connect, read
MAX_REDIRECTS = 10


class TransientError(RecorderError):
    """A failure worth retrying: connection reset, 5xx, truncated body."""

    def __init__(self, msg: str, status: Optional[int] = None) -> None:
        super().__init__(msg)
        self.status = status


RETRYABLE = (TransientError, StreamTimeoutError)
# What a request or a body read raises; a disk error in the caller's block is not among them.
NETWORK_ERRORS = (requests.exceptions.RequestException, urllib3.exceptions.HTTPError,
                  http.client.HTTPException, ConnectionError, socket.timeout)


def prepare_session(resolve_result: Dict[str, Any],
                    user_agent: str = DEFAULT_USER_AGENT) -> requests.Session:
    """The resolver's session (never a copy) with auth_tokens applied and a browser User-Agent."""
    session = resolve_result.get("session")
    if session is None:
        session = requests.Session()
    tokens = resolve_result.get("auth_tokens") or {}
    for name, value in (tokens.get("headers") or {}).items():
        check_header_value(name, value)
        session.headers[name] = value
    for name, value in (tokens.get("cookies") or {}).items():
        session.cookies.set(name, value)
    # A redirect loop or chain ends after a few hops (requests allows 30).
    session.max_redirects = min(int(getattr(session, "max_redirects", MAX_REDIRECTS)), MAX_REDIRECTS)
    agent = session.headers.get("User-Agent", "")
    if not agent or agent.startswith("python-requests/"):
        session.headers["User-Agent"] = user_agent
    return session


def check_header_value(name: str, value: str) -> None:
    """Reject CR/LF in header names or values: they would inject headers."""
    if any(c in str(name) + str(value) for c in "\r\n\0"):
        raise RecorderError("header %r contains a line break; refusing it" % name)


def check_url(url: str) -> None:
    """Only http and https URLs are fetched."""
    scheme = urlsplit(url).scheme.lower()
    if scheme not in ("http", "https"):
        raise RecorderError("unsupported URL scheme %r (only http and https): %s"
                            % (scheme, redact(url)))


def redact(url: str) -> str:
    """A URL for logs: query strings often carry tokens."""
    parts = urlsplit(url)
    return parts._replace(query="..." if parts.query else "").geturl()


def raise_for_status(resp: requests.Response, what: str = "request") -> None:
    """Map HTTP status codes onto error types carrying their error_id."""
    code = resp.status_code
    if code < 400:
        return
    where = "%s %s" % (what, redact(resp.url or ""))
    if code in (401, 403):
        raise ForbiddenError("access denied (HTTP %d) for %s" % (code, where))
    if code in (404, 410):
        raise NotFoundError("not found (HTTP %d): %s" % (code, where))
    if code == 429 or code >= 500:
        raise TransientError("server error (HTTP %d) for %s" % (code, where), status=code)
    raise RecorderError("HTTP %d for %s" % (code, where))


def map_exception(exc: BaseException, url: str) -> RecorderError:
    """Turn a requests/urllib3/socket exception into a RecorderError with an error_id."""
    where = redact(url)
    if isinstance(exc, RecorderError):
        return exc
    if isinstance(exc, requests.exceptions.SSLError):
        return TlsError("TLS certificate or handshake failure for %s: %s" % (where, _short(exc)))
    if isinstance(exc, (requests.exceptions.Timeout, socket.timeout,
                        urllib3.exceptions.ReadTimeoutError)) or _is_read_timeout(exc):
        return StreamTimeoutError("no answer in time from %s" % where)
    if isinstance(exc, (requests.exceptions.InvalidURL, requests.exceptions.MissingSchema,
                        requests.exceptions.InvalidSchema)):
        return RecorderError("invalid URL: %s" % where)
    if isinstance(exc, requests.exceptions.TooManyRedirects):
        return RecorderError("too many redirects (more than %d) for %s" % (MAX_REDIRECTS, where))
    if isinstance(exc, NETWORK_ERRORS):
        return TransientError("network error for %s: %s" % (where, _short(exc)))
    return RecorderError("%s: %s" % (type(exc).__name__, exc))


def _is_read_timeout(exc: BaseException) -> bool:
    # requests wraps urllib3's ReadTimeoutError from a body read (iter_content) in a
    # ConnectionError, so a server that stalls mid-body would otherwise look like a failure.
    if not isinstance(exc, requests.exceptions.ConnectionError):
        return False
    return any(isinstance(arg, (urllib3.exceptions.ReadTimeoutError, socket.timeout))
               for arg in exc.args)


def _short(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    return text if len(text) < 200 else text[:200] + "..."


class RetryPolicy:
    """Exponential backoff with jitter; the sleep function is pluggable (an interruptible wait)."""

    def __init__(self, attempts: int = 4, base: float = 0.5, cap: float = 8.0,
                 jitter: float = 0.5, sleep: Optional[Callable[[float], Any]] = None) -> None:
        self.attempts = attempts
        self.base = base
        self.cap = cap
        self.jitter = jitter
        self.sleep = sleep or time.sleep

    def delay(self, attempt: int) -> float:
        """Wait before retry number `attempt` (1-based)."""
        raw = min(self.cap, self.base * (2 ** (attempt - 1)))
        return raw * (1.0 + self.jitter * random.random())

    def run(self, func: Callable[[], T], what: str = "request",
            retry_on: Tuple[type, ...] = RETRYABLE,
            give_up: Optional[Callable[[], bool]] = None) -> T:
        """Call func until it succeeds, raises a non-retryable error, or attempts run out."""
        attempt = 0
        while True:
            try:
                return func()
            except retry_on as exc:
                attempt += 1
                if attempt >= self.attempts or (give_up is not None and give_up()):
                    raise
                wait = self.delay(attempt)
                log.info("%s failed (%s); retry %d/%d in %.1f s",
                         what, exc, attempt, self.attempts - 1, wait)
                if self.sleep(wait):
                    raise StopRequested() from None


# --- abortable requests -------------------------------------------------------------------

class HttpClient:
    """GET requests through the shared session that stop() can interrupt at once.

    The session is the resolver's and is never replaced or changed: each request goes through
    the adapter the session holds for its URL (see abortable.py for how abort() reaches it),
    with requests' own preparation, redirect, cookie and hook handling.
    """

    def __init__(self, session: requests.Session, stop_event: Optional[threading.Event] = None,
                 timeout: Tuple[float, float] = DEFAULT_TIMEOUT,
                 verify: Optional[bool] = None,
                 headers: Optional[Dict[str, str]] = None) -> None:
        self.session = session
        # Sent with every request of this recording, over the session's own (ffmpeg_headers).
        self.headers = dict(headers or {})
        self.stop_event = stop_event or threading.Event()
        self.timeout = timeout
        self.verify = verify
        self._tracker = abortable.Tracker()
        self._lock = threading.Lock()
        self._twins: Dict[int, Tuple[Any, abortable.TrackedAdapter]] = {}
        self._allocator = BufferAllocator()

    @property
    def aborted(self) -> bool:
        return self._tracker.aborted

    def abort(self) -> None:
        """Shut down the sockets of all in-flight requests (any thread); later requests fail."""
        self._tracker.abort()

    def close(self) -> None:
        """Close the connections this client opened itself (the session's stay as they are)."""
        with self._lock:
            twins, self._twins = list(self._twins.values()), {}
        for _, twin in twins:
            twin.close()
        self._allocator.close()

    def check_stop(self) -> None:
        if self.stop_event.is_set():
            raise StopRequested()

    @contextlib.contextmanager
    def stream(self, url: str, headers: Optional[Dict[str, str]] = None,
               what: str = "request") -> Iterator[requests.Response]:
        """GET with stream=True; status mapped to errors; the body must be read inside the block."""
        check_url(url)
        self.check_stop()
        if self.headers:
            headers = dict(self.headers, **(headers or {}))
        resp = None
        with self._tracker.request():
            try:
                resp = self._get(url, headers)
                raise_for_status(resp, what)
                yield resp
            except NETWORK_ERRORS as exc:
                if self.stop_event.is_set():
                    raise StopRequested() from None
                raise map_exception(exc, url) from None
            finally:
                if resp is not None:
                    resp.close()

    def _get(self, url: str, headers: Optional[Dict[str, str]]) -> requests.Response:
        if _standard_session(self.session):
            return self._follow_redirects(url, headers)
        # A session class with request logic of its own (a challenge solver, say) runs as it is.
        kwargs: Dict[str, Any] = {"headers": headers, "stream": True, "timeout": self.timeout}
        if self.verify is not None:
            kwargs["verify"] = self.verify
        return self._guard_body(abortable.call_abortably(
            self._tracker, lambda: self.session.get(url, **kwargs), "streamrecorder-request"))

    def _follow_redirects(self, url: str, headers: Optional[Dict[str, str]]) -> requests.Response:
        """What session.get(url, stream=True) does, with each hop sent through _send."""
        session = self.session
        request = requests.Request("GET", url, headers=headers)
        if session.auth is None:
            prep = session.prepare_request(request)
        else:  # the session's auth is called: the resolver's code (a token refresh, say)
            prep = abortable.call_abortably(self._tracker, lambda: session.prepare_request(request),
                                            "streamrecorder-auth")
        kwargs = session.merge_environment_settings(prep.url, {}, True, self.verify, None)
        kwargs["timeout"] = self.timeout
        history: List[requests.Response] = []
        while True:
            resp = self._send(prep, kwargs)
            if not resp.is_redirect:
                resp.history = history
                return resp
            if len(history) >= session.max_redirects:
                resp.close()
                raise requests.exceptions.TooManyRedirects(
                    "Exceeded %d redirects." % session.max_redirects, response=resp)
            history.append(resp)
            # requests' own step to the next hop (method, headers, cookies, auth); it reads and
            # closes resp. Only the proxies it works out are not handed back: the same call again.
            prep = next(session.resolve_redirects(resp, prep, yield_requests=True, **kwargs))
            kwargs["proxies"] = session.rebuild_proxies(prep, kwargs["proxies"])

    def _send(self, prep: requests.PreparedRequest, kwargs: Dict[str, Any]) -> requests.Response:
        """One hop, as Session.send does it without redirects: adapter, hooks, cookies."""
        adapter = self.session.get_adapter(prep.url)
        twin = None if _socks_proxy(prep.url, kwargs.get("proxies")) else self._twin(adapter)
        started = time.perf_counter()
        if twin is not None:
            resp = twin.send(prep, **kwargs)
        else:
            resp = self._guard_body(abortable.call_abortably(
                self._tracker, lambda: adapter.send(prep, **kwargs), "streamrecorder-adapter"))
        resp.elapsed = datetime.timedelta(seconds=time.perf_counter() - started)
        if any(prep.hooks.get("response") or ()):  # the resolver's code: it may send or read
            sent = resp
            resp = abortable.call_abortably(
                self._tracker, lambda: dispatch_hook("response", prep.hooks, sent, **kwargs),
                "streamrecorder-hook")
            if resp is not sent:  # a hook sent the request again (digest auth)
                resp = self._guard_body(resp)
        for old in resp.history:  # responses that hooks sent (digest auth)
            extract_cookies_to_jar(self.session.cookies, old.request, old.raw)
        extract_cookies_to_jar(self.session.cookies, prep, resp.raw)
        return resp

    def _guard_body(self, resp: requests.Response) -> requests.Response:
        """Make the body of a response that no twin produced abortable: its socket is shut
        down on abort() when it is a urllib3 response's; otherwise it is read on helpers."""
        raw = resp.raw
        if raw is None or isinstance(raw, abortable.AbortableBody):
            return resp
        sock = abortable.response_socket(resp)
        if sock is not None:
            self._tracker.track(sock)
        else:
            resp.raw = abortable.AbortableBody(raw, self._tracker)
        return resp

    def _twin(self, adapter: Any) -> Optional[abortable.TrackedAdapter]:
        """The tracked stand-in for requests' plain HTTPAdapter; None for any other adapter."""
        if not abortable.is_plain_adapter(adapter):
            return None
        with self._lock:
            entry = self._twins.get(id(adapter))
            if entry is None:  # the adapter is kept in the entry, so its id stays unique
                entry = self._twins[id(adapter)] = (adapter, abortable.TrackedAdapter(
                    self._tracker, adapter))
            return entry[1]

    def fetch(self, url: str, headers: Optional[Dict[str, str]] = None,
              max_bytes: int = 64 << 20, what: str = "request") -> Tuple[bytes, str]:
        """Whole body (capped at max_bytes) and the final URL after redirects."""
        with self.stream(url, headers, what) as resp:
            declared = _declared_length(resp, max_bytes, what)
            chunks = []
            size = 0
            for chunk in resp.iter_content(256 * 1024):
                size += len(chunk)
                if size > max_bytes:
                    raise RecorderError("%s too large (over %d bytes)" % (what, max_bytes))
                chunks.append(chunk)
            body = b"".join(chunks)
            _check_complete(resp, declared, len(body), what)
            return body, resp.url

    def fetch_buffer(self, url: str, headers: Optional[Dict[str, str]] = None,
                     max_bytes: int = 64 << 20, what: str = "request",
                     window: Optional[Tuple[int, int]] = None) -> Tuple[bytearray, str]:
        """fetch() for large bodies (segments): the body in one bytearray, no other copy of it.

        With a Content-Length (and no Content-Encoding) the buffer is allocated once at its
        final size and the body is read into it; otherwise it grows as the body arrives.
        window=(offset, length): the bytes wanted when the server sends more than `length`
        (it ignored a Range header): only those are kept, reading stops after them, and
        max_bytes applies to them. Same checks as fetch(): the cap, a truncated body ->
        TransientError.
        """
        with self.stream(url, headers, what) as resp:
            declared = _declared_length(resp, None if window else max_bytes, what)
            encoded = "Content-Encoding" in resp.headers
            readinto = getattr(resp.raw, "readinto", None)
            if declared is None or encoded or not callable(readinto):
                # Size unknown until the end (chunked, compressed, a resolver's own body)
                stop_at = None if window is None else window[0] + window[1]
                body = self._grow(resp, max_bytes, stop_at, what)
                if window is not None and len(body) > window[1]:
                    _cut(body, window, what)
                else:
                    _check_complete(resp, declared, len(body), what)
                return body, resp.url
            skip, size = 0, declared
            if window is not None and declared > window[1]:
                skip, size = window[0], window[1]  # the whole resource came: keep the window
                if skip + size > declared:
                    raise TransientError("%s truncated: the server sent %d bytes without the "
                                         "range %d-%d" % (what, declared, skip, skip + size - 1))
            if size > max_bytes:
                raise RecorderError("%s too large (%d bytes, limit %d)" % (what, size, max_bytes))
            if skip:
                _discard(readinto, skip)
            body = self._allocator.bytearray(size)
            got = _read_into(readinto, body)
            if got < size:
                raise TransientError("%s truncated: %d of %d bytes" % (what, skip + got, declared))
            return body, resp.url

    @staticmethod
    def _grow(resp: requests.Response, max_bytes: int, stop_at: Optional[int],
              what: str) -> bytearray:
        """The body read into a growing bytearray (at most max_bytes of it); reading stops
        once it holds stop_at bytes."""
        body = bytearray()
        for chunk in resp.iter_content(BODY_CHUNK):
            body += chunk
            if stop_at is not None and len(body) >= stop_at:
                break
            if len(body) > max_bytes:
                raise RecorderError("%s too large (over %d bytes)" % (what, max_bytes))
        return body


BODY_CHUNK = 256 * 1024  # read size for fetch_buffer: a bounded temporary whatever the body size


def _declared_length(resp: requests.Response, max_bytes: Optional[int], what: str) -> Optional[int]:
    """The Content-Length, or None; an error when it is above max_bytes."""
    declared = resp.headers.get("Content-Length")
    if not declared or not declared.isdigit():
        return None
    if max_bytes is not None and int(declared) > max_bytes:
        raise RecorderError("%s too large (%s bytes, limit %d)" % (what, declared, max_bytes))
    return int(declared)


def _check_complete(resp: requests.Response, declared: Optional[int], got: int, what: str) -> None:
    if declared is not None and got < declared and "Content-Encoding" not in resp.headers:
        raise TransientError("%s truncated: %d of %d bytes" % (what, got, declared))


def _read_into(readinto: Callable[[memoryview], int], body: bytearray) -> int:
    """Fill body from readinto in bounded steps; the number of bytes read (short at EOF)."""
    pos = 0
    with memoryview(body) as view:
        while pos < len(body):
            count = readinto(view[pos:pos + BODY_CHUNK])
            if not count:
                break
            pos += count
    return pos


def _discard(readinto: Callable[[bytearray], int], count: int) -> None:
    scratch = bytearray(min(count, BODY_CHUNK))
    with memoryview(scratch) as view:
        while count > 0:
            got = readinto(view[:min(count, len(scratch))])
            if not got:
                return
            count -= got


def _cut(body: bytearray, window: Tuple[int, int], what: str) -> None:
    """Keep only body[offset:offset + length] (in place; the rest is given back)."""
    offset, length = window
    if offset + length > len(body):
        raise TransientError("%s truncated: the server sent %d bytes without the range %d-%d"
                             % (what, len(body), offset, offset + length - 1))
    del body[offset + length:]
    del body[:offset]


def _socks_proxy(url: Optional[str], proxies: Optional[Dict[str, str]]) -> bool:
    """True when the request goes through a SOCKS proxy (whose pools a twin does not track)."""
    proxy = select_proxy(url or "", proxies or {})
    return bool(proxy) and proxy.lower().startswith("socks")


def _standard_session(session: requests.Session) -> bool:
    """True when the session's class leaves requests' request/send logic as it is."""
    cls = type(session)
    return all(getattr(cls, name, None) is getattr(requests.Session, name)
               for name in ("get", "request", "send"))


def iter_body(resp: requests.Response, size: int = 1 << 20) -> Iterator[bytes]:
    """Body pieces of up to `size` bytes as they arrive.

    iter_content(size) waits until `size` bytes are in (and drops them when the connection
    breaks); read1 on the underlying http.client response hands over whatever arrived, so a
    slow or stalled server's data reaches the disk and a resume loses nothing.
    """
    fp = getattr(resp.raw, "_fp", None)
    encoding = resp.headers.get("Content-Encoding", "identity").lower()
    if encoding != "identity" or not hasattr(fp, "read1"):
        yield from resp.iter_content(size)
        return
    while True:
        chunk = fp.read1(size)
        if not chunk:
            return
        yield chunk
