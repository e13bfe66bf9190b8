"""A small loopback HTTP server with fault injection, for the demo, the tests and benchmarks."""

import argparse
import http.server
import io
import mimetypes
import os
import re
import select
import socket
import socketserver
import struct
import sys
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Optional, Tuple

Response = Tuple[int, Dict[str, str], bytes]
Handler = Callable[["RequestInfo"], Response]

mimetypes.add_type("application/vnd.apple.mpegurl", ".m3u8")
mimetypes.add_type("video/mp2t", ".ts")
mimetypes.add_type("video/iso.segment", ".m4s")
mimetypes.add_type("video/mp4", ".mp4")


@dataclass
class Fault:
    """What to do to requests whose path matches `pattern` (a regex searched in the path)."""

    pattern: str
    latency: float = 0.0          # seconds before answering
    fail_first: int = 0           # answer the first N matching requests with fail_status
    fail_status: int = 503
    status: Optional[int] = None  # always answer with this status
    require_header: Optional[Tuple[str, str]] = None   # else 403
    require_cookie: Optional[Tuple[str, str]] = None   # else 403
    cut_after: Optional[int] = None   # close the connection after N body bytes ...
    cut_times: int = 1                # ... for the first N matching requests
    stall_after: Optional[int] = None  # send N body bytes, then hang until the server closes
    stall_times: Optional[int] = None  # ... for the first N matching requests (None: always)
    reset_after: Optional[int] = None  # send N body bytes, then reset the connection (RST)
    reset_times: Optional[int] = None  # ... for the first N matching requests (None: always)
    never_answer: bool = False        # accept, read the request, never answer
    throttle_bps: Optional[int] = None
    html_instead: bool = False        # a 200 HTML error page instead of the content
    ignore_range: bool = False
    hits: int = 0

    def matches(self, path: str) -> bool:
        return re.search(self.pattern, path) is not None


@dataclass
class RequestInfo:
    path: str
    headers: Dict[str, str]
    time: float = field(default_factory=time.monotonic)


class _Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    # Many parallel segment fetches: a larger backlog than the default 5.
    request_queue_size = 64

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that stops a recording shuts its sockets down: that is not a server error.
        exc = sys.exc_info()[1]
        if isinstance(exc, (ConnectionResetError, BrokenPipeError, ConnectionAbortedError)):
            return
        super().handle_error(request, client_address)


class DevServer:
    """Serves `root` (files) and registered dynamic handlers on 127.0.0.1 in a thread."""

    def __init__(self, root: Optional[str] = None, port: int = 0) -> None:
        self.root = root
        self.faults: List[Fault] = []
        self.handlers: Dict[str, Handler] = {}
        self.files: Dict[str, bytes] = {}
        self.requests: List[RequestInfo] = []
        self.closing = threading.Event()
        self._lock = threading.Lock()
        outer = self

        class _Handler(_RequestHandler):
            server_state = outer

        self.httpd = _Server(("127.0.0.1", port), _Handler)
        self.port = self.httpd.server_address[1]
        self._thread = threading.Thread(target=self.httpd.serve_forever, name="devserver",
                                        kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()

    def url(self, path: str = "/") -> str:
        return "http://127.0.0.1:%d%s" % (self.port, path if path.startswith("/") else "/" + path)

    def add_fault(self, fault: Fault) -> Fault:
        with self._lock:
            self.faults.append(fault)
        return fault

    def remove_fault(self, fault: Fault) -> None:
        with self._lock:
            if fault in self.faults:
                self.faults.remove(fault)

    def clear_faults(self) -> None:
        with self._lock:
            self.faults.clear()

    def route(self, path: str, handler: Handler) -> None:
        """Serve a dynamic response at exactly `path`."""
        self.handlers[path] = handler

    def put(self, path: str, body: bytes) -> None:
        """Serve bytes held in memory at exactly `path`."""
        self.files[path] = body

    def paths_requested(self, pattern: str = "") -> List[str]:
        with self._lock:
            return [r.path for r in self.requests if re.search(pattern, r.path)]

    def close(self) -> None:
        self.closing.set()
        self.httpd.shutdown()
        self.httpd.server_close()
        self._thread.join(5)

    def __enter__(self) -> "DevServer":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def _fault_for(self, path: str) -> Optional[Fault]:
        with self._lock:
            for fault in self.faults:
                if fault.matches(path):
                    fault.hits += 1
                    return fault
        return None


class _RequestHandler(http.server.BaseHTTPRequestHandler):
    server_state: DevServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        pass

    def do_HEAD(self) -> None:  # noqa: N802
        self._serve(head=True)

    def do_GET(self) -> None:  # noqa: N802
        self._serve(head=False)

    def _serve(self, head: bool) -> None:
        state = self.server_state
        path = self.path.split("?", 1)[0]
        with state._lock:
            state.requests.append(RequestInfo(self.path, dict(self.headers.items())))
        fault = state._fault_for(self.path)
        if fault is not None:
            if fault.never_answer:
                self._hold()
                return
            if fault.latency:
                state.closing.wait(fault.latency)
            refusal = self._refusal(fault)
            if refusal is not None:
                self._send_simple(refusal, b"refused by test fault\n", head)
                return
            if fault.html_instead:
                self._send_simple(200, b"<html><body>Error: please try later</body></html>",
                                  head, "text/html")
                return
        found = self._lookup(path)
        if found is None:
            self._send_simple(404, b"not found\n", head)
            return
        status, headers, body = found
        if status != 200:
            extra = {k: headers[k] for k in ("Location", "Set-Cookie") if k in headers}
            self._send_simple(status, body, head, headers.get("Content-Type", "text/plain"), extra)
            return
        self._send_body(body, headers, head, fault)

    def _hold(self, limit: float = 120.0) -> None:
        """Keep the connection open without answering until the client goes away."""
        self.close_connection = True
        deadline = time.monotonic() + limit
        while time.monotonic() < deadline and not self.server_state.closing.is_set():
            readable, _, _ = select.select([self.connection], [], [], 0.05)
            if readable:
                try:
                    if not self.connection.recv(1, socket.MSG_PEEK):
                        return
                except OSError:
                    return

    def _refusal(self, fault: Fault) -> Optional[int]:
        if fault.status:
            return fault.status
        if fault.fail_first and fault.hits <= fault.fail_first:
            return fault.fail_status
        if fault.require_header:
            name, value = fault.require_header
            if self.headers.get(name) != value:
                return 403
        if fault.require_cookie:
            name, value = fault.require_cookie
            cookies = self.headers.get("Cookie", "")
            if "%s=%s" % (name, value) not in [c.strip() for c in cookies.split(";")]:
                return 403
        return None

    def _lookup(self, path: str) -> Optional[Response]:
        state = self.server_state
        if path in state.handlers:
            return state.handlers[path](RequestInfo(self.path, dict(self.headers.items())))
        if path in state.files:
            ctype = mimetypes.guess_type(path)[0] or "application/octet-stream"
            return 200, {"Content-Type": ctype}, state.files[path]
        if state.root:
            full = os.path.realpath(os.path.join(state.root, path.lstrip("/")))
            root = os.path.realpath(state.root)
            if full.startswith(root + os.sep) and os.path.isfile(full):
                ctype = mimetypes.guess_type(full)[0] or "application/octet-stream"
                return 200, {"Content-Type": ctype, "X-File": full}, b""
        return None

    def _send_simple(self, status: int, body: bytes, head: bool, ctype: str = "text/plain",
                     extra: Optional[Dict[str, str]] = None) -> None:
        self.send_response(status)
        for name, value in (extra or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if not head:
            self.wfile.write(body)

    def _send_body(self, body: bytes, headers: Dict[str, str], head: bool,
                   fault: Optional[Fault]) -> None:
        file_path = headers.pop("X-File", None)
        size = os.path.getsize(file_path) if file_path else len(body)
        start, end = 0, size - 1
        rng = self.headers.get("Range")
        ranged = False
        if rng and not (fault and fault.ignore_range):
            match = re.match(r"bytes=(\d*)-(\d*)$", rng.strip())
            if match and (match.group(1) or match.group(2)):
                if match.group(1):
                    start = int(match.group(1))
                    end = int(match.group(2)) if match.group(2) else size - 1
                else:
                    start = max(0, size - int(match.group(2)))
                end = min(end, size - 1)
                if start > end:
                    self.send_response(416)
                    self.send_header("Content-Range", "bytes */%d" % size)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                ranged = True
        self.send_response(206 if ranged else 200)
        for name, value in headers.items():
            self.send_header(name, value)
        if ranged:
            self.send_header("Content-Range", "bytes %d-%d/%d" % (start, end, size))
        self.send_header("Accept-Ranges", "bytes")
        self.send_header("Content-Length", str(end - start + 1))
        self.end_headers()
        if head:
            return
        self._write_range(file_path, body, start, end - start + 1, fault)

    def _write_range(self, file_path: Optional[str], body: bytes, start: int, count: int,
                     fault: Optional[Fault]) -> None:
        limit = count
        stall = reset = False
        if fault is not None and fault.cut_after is not None and fault.hits <= fault.cut_times:
            limit = min(count, fault.cut_after)
        if fault is not None and _applies(fault.stall_after, fault.stall_times, fault.hits):
            limit, stall = min(count, fault.stall_after), True
        if fault is not None and _applies(fault.reset_after, fault.reset_times, fault.hits):
            limit, reset = min(count, fault.reset_after), True
        throttle = fault.throttle_bps if fault is not None else None
        try:
            if file_path and limit == count and not throttle:
                with open(file_path, "rb") as f:
                    self.connection.sendfile(f, start, count)
            else:
                self._write_slow(file_path, body, start, limit, throttle)
            if stall:
                self._hold()
            if reset:
                self._reset()
        except (BrokenPipeError, ConnectionResetError):
            pass
        if limit < count:
            self.close_connection = True

    def _reset(self) -> None:
        """Abort the connection with a TCP RST (no FIN first), as a crashing proxy does."""
        self.wfile.flush()
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        # The socket closes for real only once the handler's file objects let go of it.
        self.wfile.close()
        self.rfile.close()
        self.connection.close()
        self.wfile, self.rfile = io.BytesIO(), io.BytesIO()  # for the handler's final flush
        self.close_connection = True

    def _write_slow(self, file_path: Optional[str], body: bytes, start: int, limit: int,
                    throttle: Optional[int]) -> None:
        chunk = 64 * 1024 if not throttle else max(1, min(64 * 1024, throttle // 10))
        if file_path:
            with open(file_path, "rb") as f:
                f.seek(start)
                data = f.read(limit)
        else:
            data = body[start:start + limit]
        for pos in range(0, len(data), chunk):
            self.wfile.write(data[pos:pos + chunk])
            if throttle:
                time.sleep(chunk / throttle)


def _applies(after: Optional[int], times: Optional[int], hits: int) -> bool:
    return after is not None and (times is None or hits <= times)


def main(argv: Optional[List[str]] = None) -> None:
    """`python -m streamrecorder.devserver --root DIR [--port N]`: serve a folder on 127.0.0.1."""
    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("--root", required=True)
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args(argv)
    server = DevServer(args.root, args.port)
    print(server.port, flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        server.close()


if __name__ == "__main__":
    main()
