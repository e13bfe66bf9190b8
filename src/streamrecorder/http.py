"""HTTP for recorders: session set-up, status/exception mapping, retries, abortable requests."""

import contextlib
import http.client
import ipaddress
import logging
import random
import socket
import threading
import time
from typing import Any, Callable, Dict, Iterator, List, Optional, Tuple, TypeVar
from urllib.parse import urlsplit

import requests
import urllib3

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
    if isinstance(exc, (requests.exceptions.Timeout, socket.timeout)) or _is_read_timeout(exc):
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
# Closing a requests response from another thread does not interrupt a blocked read, so stop()
# shuts down the socket itself. urllib3 hands a connection to a request in
# HTTPConnectionPool._get_conn (urllib3 1.25 to 2.x); a hook there tells the client which
# connection the current thread uses, for any adapter the resolver mounted.

_local = threading.local()
_hook_lock = threading.Lock()
_hook_installed = False


_CONNECT_KWARGS = frozenset(("timeout", "source_address", "socket_options"))


def _install_conn_hook() -> None:
    """Let HttpClient.abort() reach the socket of every request its thread makes.

    Two hooks, both inert for threads that are not inside HttpClient.stream (other plugins
    in the same enigma2 process): the pool's _get_conn reports each connection used, and
    create_connection reports the socket while it is still connecting, because a dead host
    would otherwise hold stop() up for the whole connect timeout (shutdown() aborts a
    connect in progress on Linux).
    """
    global _hook_installed
    with _hook_lock:
        if _hook_installed:
            return
        try:
            from urllib3.connectionpool import HTTPConnectionPool
            from urllib3.util import connection as u3_connection
        except ImportError:  # pragma: no cover - requests always brings urllib3
            return
        original_get_conn = HTTPConnectionPool._get_conn
        original_create = u3_connection.create_connection

        def _get_conn(pool: Any, *args: Any, **kwargs: Any) -> Any:
            conn = original_get_conn(pool, *args, **kwargs)
            tracker = getattr(_local, "client", None)
            if tracker is not None:
                tracker._track(conn)
            return conn

        def create_connection(address: Tuple[str, int], *args: Any, **kwargs: Any) -> Any:
            tracker = getattr(_local, "client", None)
            # Only the call urllib3 1.26 and 2.x make; anything else is urllib3's own business.
            if tracker is None or len(args) > 3 or not set(kwargs) <= _CONNECT_KWARGS:
                return original_create(address, *args, **kwargs)
            return _tracked_connect(tracker, u3_connection, address, *args, **kwargs)

        HTTPConnectionPool._get_conn = _get_conn
        u3_connection.create_connection = create_connection
        _hook_installed = True


def _lookup(tracker: "HttpClient", host: str, port: int, family: int) -> List[Any]:
    """getaddrinfo that stop() can leave: a resolver that does not answer (network down)
    would otherwise hold the recorder for its whole timeout. Addresses need no lookup."""
    try:
        ipaddress.ip_address(host)
        return socket.getaddrinfo(host, port, family, socket.SOCK_STREAM)
    except ValueError:
        pass
    box: Dict[str, Any] = {}
    done = threading.Event()

    def lookup() -> None:
        try:
            box["result"] = socket.getaddrinfo(host, port, family, socket.SOCK_STREAM)
        except OSError as exc:
            box["error"] = exc
        finally:
            done.set()

    threading.Thread(target=lookup, name="streamrecorder-dns", daemon=True).start()
    while not done.wait(0.05):
        if tracker.aborted:
            raise ConnectionAbortedError("stopped while looking up %s" % host)
    if "error" in box:
        raise box["error"]
    return box["result"]


def _tracked_connect(tracker: "HttpClient", u3_connection: Any, address: Tuple[str, int],
                     timeout: Any = None, source_address: Any = None,
                     socket_options: Any = None) -> socket.socket:
    """urllib3's create_connection, with the socket visible to abort() before connect()."""
    host, port = address
    if host.startswith("["):
        host = host.strip("[]")
    family = u3_connection.allowed_gai_family()
    error: Optional[OSError] = None
    for af, socktype, proto, _name, sockaddr in _lookup(tracker, host, port, family):
        sock = socket.socket(af, socktype, proto)
        try:
            for option in socket_options or ():
                sock.setsockopt(*option)
            # urllib3 passes a sentinel object for "the global default": leave that alone
            if timeout is None or isinstance(timeout, (int, float)):
                sock.settimeout(timeout)
            if source_address:
                sock.bind(source_address)
            tracker._connecting(sock, True)
            try:
                sock.connect(sockaddr)
            finally:
                tracker._connecting(sock, False)
            return sock
        except OSError as exc:
            error = exc
            sock.close()
    if error is not None:
        raise error
    raise OSError("getaddrinfo returns an empty list")


class HttpClient:
    """Requests through the shared session that stop() can interrupt at once."""

    def __init__(self, session: requests.Session, stop_event: Optional[threading.Event] = None,
                 timeout: Tuple[float, float] = DEFAULT_TIMEOUT,
                 verify: Optional[bool] = None) -> None:
        self.session = session
        self.stop_event = stop_event or threading.Event()
        self.timeout = timeout
        self.verify = verify
        self._lock = threading.Lock()
        self._conns: Dict[int, Any] = {}
        self._sockets: Dict[int, socket.socket] = {}
        self._aborted = False
        _install_conn_hook()

    @property
    def aborted(self) -> bool:
        return self._aborted

    def _connecting(self, sock: socket.socket, active: bool) -> None:
        with self._lock:
            if active:
                self._sockets[id(sock)] = sock
            else:
                self._sockets.pop(id(sock), None)
            aborted = self._aborted
        if active and aborted:
            _shutdown_socket(sock)

    def _track(self, conn: Any) -> None:
        _local.conns.append(conn)
        with self._lock:
            self._conns[id(conn)] = conn
            aborted = self._aborted
        if aborted:
            _shutdown(conn)

    def abort(self) -> None:
        """Shut down the sockets of all in-flight requests (any thread); later requests fail."""
        with self._lock:
            self._aborted = True
            conns = list(self._conns.values())
            sockets = list(self._sockets.values())
        for conn in conns:
            _shutdown(conn)
        for sock in sockets:
            _shutdown_socket(sock)

    def check_stop(self) -> None:
        if self.stop_event.is_set():
            raise StopRequested()

    @contextlib.contextmanager
    def stream(self, url: str, headers: Optional[Dict[str, str]] = None,
               what: str = "request") -> Iterator[requests.Response]:
        """GET with stream=True; status mapped to errors; the body must be read inside the block."""
        check_url(url)
        self.check_stop()
        _local.client = self
        _local.conns = []
        resp = None
        try:
            kwargs: Dict[str, Any] = {"headers": headers, "stream": True, "timeout": self.timeout}
            if self.verify is not None:
                kwargs["verify"] = self.verify
            resp = self.session.get(url, **kwargs)
            raise_for_status(resp, what)
            yield resp
        except NETWORK_ERRORS as exc:
            if self.stop_event.is_set():
                raise StopRequested() from None
            raise map_exception(exc, url) from None
        finally:
            _local.client = None
            if resp is not None:
                resp.close()
            with self._lock:
                for conn in _local.conns:
                    self._conns.pop(id(conn), None)

    def fetch(self, url: str, headers: Optional[Dict[str, str]] = None,
              max_bytes: int = 64 << 20, what: str = "request") -> Tuple[bytes, str]:
        """Whole body (capped at max_bytes) and the final URL after redirects."""
        with self.stream(url, headers, what) as resp:
            declared = resp.headers.get("Content-Length")
            if declared and declared.isdigit() and int(declared) > max_bytes:
                raise RecorderError("%s too large (%s bytes, limit %d)" % (what, declared, max_bytes))
            chunks = []
            size = 0
            for chunk in resp.iter_content(256 * 1024):
                size += len(chunk)
                if size > max_bytes:
                    raise RecorderError("%s too large (over %d bytes)" % (what, max_bytes))
                chunks.append(chunk)
            body = b"".join(chunks)
            if declared and declared.isdigit() and len(body) < int(declared) \
                    and "Content-Encoding" not in resp.headers:
                raise TransientError("%s truncated: %d of %s bytes" % (what, len(body), declared))
            return body, resp.url


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


def _shutdown(conn: Any) -> None:
    sock = getattr(conn, "sock", None)
    if sock is not None:
        _shutdown_socket(sock)


def _shutdown_socket(sock: socket.socket) -> None:
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
