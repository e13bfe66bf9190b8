"""Requests through the shared session that abort() interrupts at once, with nothing process-wide
changed: no library's module-level name is patched and the session's adapters stay as they are.

The recorder thread is a reactor pool thread, which Twisted joins without a limit at shutdown:
nothing it does may block beyond the reach of abort(). Closing a requests response from another
thread does not interrupt a blocked read, so abort() shuts down the sockets themselves
(socket.shutdown(SHUT_RDWR); on Linux that also ends a connect() in progress), and whatever it
has no socket for runs on a daemon helper thread that the caller waits on and leaves at once on
abort(). Which applies depends on the adapter the session holds for the URL
(`session.get_adapter(url)`):

- requests' own HTTPAdapter (no behaviour beyond its settings) gets a twin for this recording
  with the same settings (TrackedAdapter) whose pools report every connection they hand out and
  every socket from its creation on, so connect, TLS handshake, headers and body are abortable;
  host name lookups run on helper threads (call_abortably);
- any other adapter (a resolver's own send(), TLS set-up, counters), and a twin that would
  connect through a SOCKS proxy, is called as it is on a helper thread (call_abortably). The
  body of its response is read on the caller's thread when it is a urllib3 one whose socket
  abort() can shut down (response_socket); any other body (AbortableBody) is read on helper
  threads, one call at a time;
- response hooks and a session's own auth are the resolver's code too: they run on helpers.

A helper left behind ends when its call returns (a late response is closed, late data dropped)
and never holds up the process's exit.
"""

import contextlib
import functools
import ipaddress
import logging
import socket
import sys
import threading
from typing import Any, Callable, Dict, Iterator, List, Optional, Tuple, TypeVar

import requests
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import ConnectTimeoutError, NewConnectionError
from urllib3.util import connection as u3_connection

log = logging.getLogger(__name__)
T = TypeVar("T")


class Tracker:
    """What abort() shuts down: the connections and sockets of the requests in flight."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._targets: Dict[int, Any] = {}
        self._wakers: Dict[int, threading.Event] = {}
        self._local = threading.local()
        self.aborted = False

    @contextlib.contextmanager
    def request(self) -> Iterator[None]:
        """One request on this thread; what it tracked is forgotten (guards closed) at the end."""
        owned: List[Tuple[int, Optional[socket.socket]]] = []
        self._local.owned = owned
        try:
            yield
        finally:
            self._local.owned = None
            with self._lock:
                for key, _ in owned:
                    self._targets.pop(key, None)
            for _, guard in owned:
                if guard is not None:
                    guard.close()

    def track(self, target: Any, guard: bool = False) -> None:
        """Shut target (a connection or a socket) down on abort() while this request runs.

        guard: target is our own dup of a socket, closed when the request ends.
        """
        owned = getattr(self._local, "owned", None)
        with self._lock:
            if owned is not None:
                self._targets[id(target)] = target
            aborted = self.aborted
        if owned is not None:
            owned.append((id(target), target if guard else None))
        elif guard:
            target.close()
            return
        if aborted:
            shutdown(target)

    def abort(self) -> None:
        """Shut down everything in flight (any thread); later requests fail at once."""
        with self._lock:
            self.aborted = True
            targets = list(self._targets.values())
            wakers = list(self._wakers.values())
        for target in targets:
            shutdown(target)
        for waker in wakers:
            waker.set()

    def wait(self, wake: threading.Event) -> None:
        """Block until wake is set or abort() comes (abort() sets every waiting wake)."""
        with self._lock:
            if self.aborted:
                return
            self._wakers[id(wake)] = wake
        try:
            wake.wait()
        finally:
            with self._lock:
                self._wakers.pop(id(wake), None)


def shutdown(target: Any) -> None:
    """socket.shutdown on a socket or on a connection's socket; errors mean it is gone already."""
    sock = target if isinstance(target, socket.socket) else getattr(target, "sock", None)
    if sock is None:
        return
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass


class _HelperCall:
    """One call on a helper thread; its result is closed if it comes after the caller left."""

    def __init__(self, func: Callable[[], Any]) -> None:
        self.func = func
        self.wake = threading.Event()
        self._lock = threading.Lock()
        self._finished = False
        self._abandoned = False
        self._value: Any = None
        self._error: Optional[BaseException] = None

    def run(self) -> None:
        value, error = None, None
        try:
            value = self.func()
        except BaseException as exc:  # noqa: B036 - handed over to the caller
            error = exc
        with self._lock:
            self._value, self._error, self._finished = value, error, True
            late = self._abandoned
        self.wake.set()
        if late:
            _close_quietly(value)

    def outcome(self) -> Any:
        with self._lock:
            if not self._finished:
                self._abandoned = True
                raise ConnectionAbortedError("stopped while a request was in flight")
        if self._error is not None:
            raise self._error
        return self._value


def call_abortably(tracker: Tracker, func: Callable[[], T], name: str,
                   even_if_aborted: bool = False) -> T:
    """func() on a daemon helper thread; ConnectionAbortedError at once when abort() comes first.

    For blocking calls that abort() cannot reach otherwise (a resolver's adapter, a DNS lookup,
    a body read without a socket to shut down). even_if_aborted: func (a close, say) is started
    after abort() as well, and left to itself.
    """
    if tracker.aborted and not even_if_aborted:
        raise ConnectionAbortedError("stopped")
    call = _HelperCall(func)
    threading.Thread(target=call.run, name=name, daemon=True).start()
    tracker.wait(call.wake)
    return call.outcome()


BODY_THREAD = "streamrecorder-body"
_END = object()


class AbortableBody:
    """Stands in for resp.raw when abort() has no socket to shut down for the body (a resolver
    adapter's response that is not a urllib3 one): each read runs on a daemon helper thread
    that the reader leaves at once on abort().

    requests' iter_content and content read through read() or stream() (the latter only when
    the body has one); close() and release_conn() run on helpers as well. The body's own
    readers (_fp, fp, data, read_chunked) are not handed out, so nothing reads it on the
    caller's thread (iter_body falls back to iter_content); other attributes (headers,
    status, _original_response for cookies) are the body's.
    """

    _CALLS = frozenset(("read", "read1", "readinto", "readline", "readlines", "drain_conn"))
    _HIDDEN = frozenset(("_raw", "_tracker", "_fp", "fp", "data", "read_chunked"))

    def __init__(self, raw: Any, tracker: Tracker) -> None:
        self._raw = raw
        self._tracker = tracker

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__") or name in self._HIDDEN:
            raise AttributeError(name)
        attr = getattr(self._raw, name)
        if name in self._CALLS and callable(attr):
            return functools.partial(self._call, attr)
        if name == "stream" and callable(attr):
            return functools.partial(self._stream, attr)
        if name in ("close", "release_conn") and callable(attr):
            return functools.partial(self._finish, attr)
        return attr

    def _call(self, method: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        return call_abortably(self._tracker, lambda: method(*args, **kwargs), BODY_THREAD)

    def _stream(self, method: Callable[..., Any], *args: Any, **kwargs: Any) -> Iterator[Any]:
        chunks = self._call(lambda: iter(method(*args, **kwargs)))
        while True:
            chunk = self._call(next, chunks, _END)
            if chunk is _END:
                return
            yield chunk

    def _finish(self, method: Callable[[], Any]) -> None:
        """close()/release_conn(): also after abort(), then without waiting for it."""
        try:
            call_abortably(self._tracker, method, BODY_THREAD, even_if_aborted=True)
        except ConnectionAbortedError:
            pass


def _close_quietly(value: Any) -> None:
    close = getattr(value, "close", None)
    if close is None:
        return
    try:
        close()
    except Exception:  # noqa: BLE001 - a late response of a recording that has ended
        log.debug("closing a late response failed", exc_info=True)


def response_socket(resp: requests.Response) -> Optional[socket.socket]:
    """The socket a urllib3 response's body is read from (None for other responses)."""
    raw = getattr(resp, "raw", None)
    fp = getattr(getattr(raw, "_fp", None), "fp", None)  # http.client's buffered socket file
    sock = getattr(getattr(fp, "raw", None), "_sock", None)
    if sock is None:
        sock = getattr(getattr(raw, "_connection", None), "sock", None)
    return sock if isinstance(sock, socket.socket) else None


# --- connecting -------------------------------------------------------------------------------

def _lookup(tracker: Tracker, host: str, port: int, family: int) -> List[Any]:
    """getaddrinfo that abort() can leave: a resolver that does not answer (network down)
    would otherwise hold the recorder for its whole timeout. Addresses need no lookup."""
    try:
        ipaddress.ip_address(host)
        return socket.getaddrinfo(host, port, family, socket.SOCK_STREAM)
    except ValueError:
        pass
    return call_abortably(
        tracker, lambda: socket.getaddrinfo(host, port, family, socket.SOCK_STREAM),
        "streamrecorder-dns")


def tracked_connect(tracker: Tracker, address: Tuple[str, int], timeout: Any = None,
                    source_address: Any = None, socket_options: Any = None) -> socket.socket:
    """urllib3's create_connection, with each socket visible to abort() before connect().

    abort() gets a dup of the socket: a TLS wrapper detaches the original during the handshake,
    the dup still reaches the connection until the request ends.
    """
    host, port = address
    if host.startswith("["):
        host = host.strip("[]")
    error: Optional[OSError] = None
    for af, socktype, proto, _name, sockaddr in _lookup(tracker, host, port,
                                                        u3_connection.allowed_gai_family()):
        sock = socket.socket(af, socktype, proto)
        try:
            for option in socket_options or ():
                sock.setsockopt(*option)
            # urllib3 passes a sentinel object for "the global default": leave that alone
            if timeout is None or isinstance(timeout, (int, float)):
                sock.settimeout(timeout)
            if source_address:
                sock.bind(source_address)
            tracker.track(sock.dup(), guard=True)
            sock.connect(sockaddr)
            return sock
        except OSError as exc:
            error = exc
            sock.close()
    if error is not None:
        raise error
    raise OSError("getaddrinfo returns an empty list")


class _TrackedConnection:
    """Mixin for urllib3's connection classes: new sockets come from tracked_connect."""

    tracker: Optional[Tracker] = None

    def _new_conn(self) -> socket.socket:
        tracker = self.tracker
        if tracker is None:
            return super()._new_conn()  # type: ignore[misc]
        conn: Any = self
        host = getattr(conn, "_dns_host", conn.host)
        try:
            sock = tracked_connect(tracker, (host, conn.port), conn.timeout,
                                   conn.source_address, conn.socket_options)
        except socket.gaierror as exc:
            raise NewConnectionError(conn, "Failed to resolve %s (%s)" % (conn.host, exc)) from exc
        except socket.timeout as exc:
            raise ConnectTimeoutError(conn, "Connection to %s timed out. (connect timeout=%s)"
                                      % (conn.host, conn.timeout)) from exc
        except OSError as exc:
            raise NewConnectionError(conn, "Failed to establish a new connection: %s" % exc) from exc
        sys.audit("http.client.connect", conn, conn.host, conn.port)  # as urllib3 2.x does
        return sock


class TrackedHTTPConnection(_TrackedConnection, HTTPConnection):
    pass


class TrackedHTTPSConnection(_TrackedConnection, HTTPSConnection):
    pass


class _TrackedPool:
    """Mixin for urllib3's pools: every connection handed out is tracked for the request."""

    def __init__(self, *args: Any, tracker: Optional[Tracker] = None, **kwargs: Any) -> None:
        self.tracker = tracker
        super().__init__(*args, **kwargs)  # type: ignore[call-arg]

    def _new_conn(self) -> Any:
        conn = super()._new_conn()  # type: ignore[misc]
        conn.tracker = self.tracker
        return conn

    def _get_conn(self, timeout: Any = None) -> Any:
        conn = super()._get_conn(timeout=timeout)  # type: ignore[misc]
        if self.tracker is not None:
            self.tracker.track(conn)
        return conn


class TrackedHTTPConnectionPool(_TrackedPool, HTTPConnectionPool):
    ConnectionCls = TrackedHTTPConnection


class TrackedHTTPSConnectionPool(_TrackedPool, HTTPSConnectionPool):
    ConnectionCls = TrackedHTTPSConnection


class TrackedAdapter(HTTPAdapter):
    """A twin of a plain requests HTTPAdapter (same settings) whose pools report to a Tracker."""

    def __init__(self, tracker: Tracker, template: HTTPAdapter) -> None:
        self._tracker = tracker
        super().__init__(pool_connections=template._pool_connections,
                         pool_maxsize=template._pool_maxsize,
                         max_retries=template.max_retries, pool_block=template._pool_block)

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self._use_tracked_pools(self.poolmanager)

    def proxy_manager_for(self, proxy: str, **proxy_kwargs: Any) -> Any:
        manager = super().proxy_manager_for(proxy, **proxy_kwargs)
        if not proxy.lower().startswith("socks"):  # SOCKS pools are urllib3's own business
            self._use_tracked_pools(manager)
        return manager

    def _use_tracked_pools(self, manager: Any) -> None:
        # An attribute of this adapter's own PoolManager, not urllib3's module-wide table.
        manager.pool_classes_by_scheme = {
            "http": functools.partial(TrackedHTTPConnectionPool, tracker=self._tracker),
            "https": functools.partial(TrackedHTTPSConnectionPool, tracker=self._tracker),
        }


def is_plain_adapter(adapter: Any) -> bool:
    """requests' own HTTPAdapter, not a subclass: nothing but settings, so a twin may stand in."""
    return type(adapter) is HTTPAdapter
