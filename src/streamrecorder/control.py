"""Local control socket (issue 7): record/stop/status from another program on the receiver.

Off by default; the plugin creates a ControlServer from its settings. Framing: a 4-byte
big-endian length followed by a UTF-8 JSON object (Twisted's Int32StringReceiver, frames of at
most MAX_FRAME bytes). The first frame must be
{"cmd": "hello", "token": "..."}; afterwards {"cmd": "record", "resolve_result": {...}},
{"cmd": "stop"} and {"cmd": "status"} are answered with {"ok": true/false, ...}, and every
manager message is pushed as {"message": [...]}. Oversized or malformed frames close the
connection; a running recording is never affected. A client that stops reading is dropped once
MAX_PENDING_OUTPUT bytes were written after the transport asked its producer to pause (Twisted's
producer/consumer API). Everything runs on the reactor thread.
"""

import hmac
import json
import logging
import os
import stat
import struct
import uuid
from typing import Any, Callable, Dict, List, Optional, Set

import requests
from twisted.internet import defer
from twisted.internet.interfaces import IPushProducer
from twisted.internet.protocol import Factory
from twisted.protocols.basic import Int32StringReceiver
from zope.interface import implementer

log = logging.getLogger(__name__)

MAX_FRAME = 1 << 20          # bytes of JSON per frame
MAX_CLIENTS = 8              # concurrent connections, authenticated or not
AUTH_TIMEOUT = 10.0          # seconds a client may take to send its hello
MAX_PENDING_OUTPUT = 4 << 20  # bytes written while the transport is full: past this, dropped
_HEADER = struct.Struct(Int32StringReceiver.structFormat)
# Keys a client must not set: objects only in-process callers can provide.
_FORBIDDEN_KEYS = ("session", "socketserver", "headers", "cookies")


class BadRequest(ValueError):
    """A well-framed command with unusable content (answered with ok: false)."""


def _json(obj: Any) -> bytes:
    return json.dumps(obj, separators=(",", ":"), default=str).encode("utf-8")


def encode_frame(obj: Any) -> bytes:
    """One frame as a client writes it (the server sends with Int32StringReceiver.sendString)."""
    data = _json(obj)
    return _HEADER.pack(len(data)) + data


def _str_map(value: Any, what: str, check_crlf: bool) -> Dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise BadRequest("%s must be an object" % what)
    out = {}
    for name, item in value.items():
        if not isinstance(item, str) or not name:
            raise BadRequest("%s values must be strings" % what)
        if check_crlf and any(c in name + item for c in "\r\n\0"):
            raise BadRequest("%s %r contains a line break" % (what, name))
        if not check_crlf and any(c in name + item for c in "\r\n\0;"):
            raise BadRequest("%s %r contains a forbidden character" % (what, name))
        out[name] = item
    return out


def build_resolve_result(raw: Any, default_rec_dir: str) -> Dict[str, Any]:
    """Turn the JSON resolve_result into the manager's: headers/cookies -> requests.Session."""
    if not isinstance(raw, dict):
        raise BadRequest("resolve_result must be an object")
    headers = _str_map(raw.get("headers"), "header", True)
    cookies = _str_map(raw.get("cookies"), "cookie", False)
    result = {k: v for k, v in raw.items() if k not in _FORBIDDEN_KEYS}
    tokens = result.get("auth_tokens")
    if tokens is not None:
        if not isinstance(tokens, dict):
            raise BadRequest("auth_tokens must be an object")
        result["auth_tokens"] = {"headers": _str_map(tokens.get("headers"), "header", True),
                                 "cookies": _str_map(tokens.get("cookies"), "cookie", False)}
    for key in ("resolved_url", "recorder_id"):
        if not isinstance(result.get(key), str) or not result[key]:
            raise BadRequest("resolve_result.%s must be a non-empty string" % key)
    if not result.get("rec_dir"):
        result["rec_dir"] = default_rec_dir
    if not isinstance(result["rec_dir"], str) or not result["rec_dir"]:
        raise BadRequest("resolve_result.rec_dir must be a string (no default configured)")
    session = requests.Session()
    session.headers.update(headers)
    for name, value in cookies.items():
        session.cookies.set(name, value)
    result["session"] = session
    return result


@implementer(IPushProducer)
class _OutputGate:
    """The protocol's streaming producer registered with its transport (an IConsumer): the
    transport calls pauseProducing when its write buffer is full and resumeProducing once it is
    empty again. Input is not paused: commands are small and a client may send them any time."""

    def __init__(self, protocol: "ControlProtocol") -> None:
        self.protocol = protocol

    def pauseProducing(self) -> None:  # noqa: N802 - Twisted API
        self.protocol.output_paused = True

    def resumeProducing(self) -> None:  # noqa: N802 - Twisted API
        self.protocol.output_paused = False
        self.protocol.written_while_paused = 0

    def stopProducing(self) -> None:  # noqa: N802 - Twisted API
        self.protocol.output_paused = False


class ControlProtocol(Int32StringReceiver):
    MAX_LENGTH = MAX_FRAME
    factory: "_ControlFactory"

    def __init__(self) -> None:
        self.authed = False
        self.closing = False
        self.output_paused = False
        self.written_while_paused = 0
        self._auth_timer: Any = None

    # --- connection ---------------------------------------------------------------------------
    def connectionMade(self) -> None:  # noqa: N802 - Twisted API
        self.factory.clients.add(self)
        self.transport.registerProducer(_OutputGate(self), True)
        self._auth_timer = self.factory.reactor.callLater(AUTH_TIMEOUT, self._drop,
                                                          "no hello in time")

    def connectionLost(self, reason: Any = None) -> None:  # noqa: N802 - Twisted API
        self.closing = True
        self.factory.clients.discard(self)
        self._cancel_timer()
        if self.authed:
            self.factory.control.manager.unsubscribe(self)
        self._unprocessed = b""

    def _cancel_timer(self) -> None:
        if self._auth_timer is not None and self._auth_timer.active():
            self._auth_timer.cancel()
        self._auth_timer = None

    def _drop(self, why: str) -> None:
        """Close at once (no reply): malformed input or a broken client."""
        if self.closing:
            return
        self.closing = True
        log.warning("control client dropped: %s", why)
        self.transport.abortConnection()

    def _close_after_reply(self) -> None:
        """Close once the written replies are sent (a streaming producer still registered would
        keep a paused transport open)."""
        self.closing = True
        self.transport.unregisterProducer()
        self.transport.loseConnection()

    def _send(self, obj: Any) -> None:
        if self.closing:
            return
        data = _json(obj)
        # a client that never reads must not make us buffer without bound
        if self.output_paused:
            self.written_while_paused += _HEADER.size + len(data)
            if self.written_while_paused > MAX_PENDING_OUTPUT:
                self._drop("client does not read its messages")
                return
        self.sendString(data)

    # --- subscriber (reactor thread) ------------------------------------------------------
    def broadcast(self, message: Any) -> None:
        self._send({"message": message})

    # --- input --------------------------------------------------------------------------------
    def dataReceived(self, data: bytes) -> None:  # noqa: N802 - Twisted API
        if not self.closing:
            Int32StringReceiver.dataReceived(self, data)

    def lengthLimitExceeded(self, length: int) -> None:  # noqa: N802 - Twisted API
        self._drop("frame of %d bytes exceeds the limit" % length)

    def stringReceived(self, payload: bytes) -> None:  # noqa: N802 - Twisted API
        if self.closing:
            return
        try:
            frame = json.loads(payload.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            self._drop("malformed frame")
            return
        if not isinstance(frame, dict) or not isinstance(frame.get("cmd"), str):
            self._drop("frame is not an object with a cmd")
            return
        self._handle(frame)

    def _handle(self, frame: Dict[str, Any]) -> None:
        cmd = frame["cmd"]
        if not self.authed:
            token = frame.get("token")
            if cmd != "hello" or not isinstance(token, str) or not self.factory.control.check_token(
                    token):
                log.warning("control client failed authentication (cmd %r)", cmd)
                self._send({"ok": False, "error": "authentication failed"})
                self._close_after_reply()
                return
            self.authed = True
            self._cancel_timer()
            self.factory.control.manager.subscribe(self)
            self._send({"ok": True, "cmd": "hello"})
            return
        try:
            reply = self.factory.control.execute(cmd, frame)
        except BadRequest as exc:
            reply = {"ok": False, "error": str(exc)}
        except Exception as exc:  # noqa: BLE001 - one bad command must not kill the server
            log.exception("control command %r failed", cmd)
            reply = {"ok": False, "error": "internal error: %s" % type(exc).__name__}
        reply.setdefault("cmd", cmd)
        self._send(reply)


class _ControlFactory(Factory):
    protocol = ControlProtocol

    def __init__(self, control: "ControlServer") -> None:
        self.control = control
        self.reactor = control.reactor
        self.clients: Set[ControlProtocol] = set()

    def buildProtocol(self, addr: Any) -> Optional[ControlProtocol]:  # noqa: N802
        if len(self.clients) >= self.control.max_clients:
            log.warning("control socket: %d clients already, refusing one more",
                        len(self.clients))
            return None  # Twisted closes the connection
        return Factory.buildProtocol(self, addr)


class ControlServer:
    """The local control socket server; create it and call listen_tcp/listen_unix to enable."""

    def __init__(self, manager: Any, token: str, default_rec_dir: str, reactor: Any = None,
                 max_clients: int = MAX_CLIENTS,
                 record: Optional[Callable[[Dict[str, Any]], bool]] = None) -> None:
        """record: what starts a client's recording (default manager.record_stream); the GUI
        passes its own, which first keeps files the new recording's cleanup would remove."""
        if not isinstance(token, str) or len(token) < 8:
            raise ValueError("the control socket needs a shared token of at least 8 characters")
        if reactor is None:
            from twisted.internet import reactor as default_reactor
            reactor = default_reactor
        self.manager = manager
        self.record = record or manager.record_stream
        self.reactor = reactor
        self.default_rec_dir = default_rec_dir
        self.max_clients = max_clients
        self._token = token.encode("utf-8")
        self._factory = _ControlFactory(self)
        self._ports: List[Any] = []

    def check_token(self, token: str) -> bool:
        return hmac.compare_digest(self._token, token.encode("utf-8", "replace"))

    # --- listening ---------------------------------------------------------------------------
    def listen_tcp(self, port: int = 0) -> int:
        """Listen on 127.0.0.1 only; returns the port number (useful with port 0)."""
        listening = self.reactor.listenTCP(port, self._factory, interface="127.0.0.1")
        self._ports.append(listening)
        number = listening.getHost().port
        log.info("control socket listening on 127.0.0.1:%d", number)
        return number

    def listen_unix(self, path: str) -> None:
        """Listen on a unix socket with mode 0600; a stale socket file at path is replaced."""
        try:
            if stat.S_ISSOCK(os.lstat(path).st_mode):
                os.unlink(path)
        except FileNotFoundError:
            pass
        listening = self.reactor.listenUNIX(path, self._factory, mode=0o600)
        os.chmod(path, 0o600)
        self._ports.append(listening)
        log.info("control socket listening on %s", path)

    def close(self) -> defer.Deferred:
        """Stop listening and disconnect every client; fires when the ports are closed."""
        ports, self._ports = self._ports, []
        waits = [defer.maybeDeferred(p.stopListening) for p in ports]
        for client in list(self._factory.clients):
            if client.authed:
                self.manager.unsubscribe(client)
            client.closing = True
            client.transport.abortConnection()
        return defer.DeferredList(waits, consumeErrors=True)

    # --- commands (reactor thread) -----------------------------------------------------------
    def execute(self, cmd: str, frame: Dict[str, Any]) -> Dict[str, Any]:
        if cmd == "status":
            return {"ok": True, "status": self.manager.status()}
        if cmd == "stop":
            return {"ok": bool(self.manager.stop())}
        if cmd == "record":
            rr = build_resolve_result(frame.get("resolve_result"), self.default_rec_dir)
            # The client learns its recording's id now; the pushed messages carry it.
            rr["recording_id"] = uuid.uuid4().hex
            session = rr["session"]
            log.info("control: record %s (%s) headers=%s cookies=%s", rr.get("recorder_id"),
                     rr.get("rec_dir"), sorted(session.headers), sorted(session.cookies.keys()))
            if not self.record(rr):
                return {"ok": False, "error": "the manager refused the resolve_result"}
            return {"ok": True, "recording_id": rr["recording_id"]}
        if cmd == "hello":
            return {"ok": True}
        raise BadRequest("unknown command %r" % cmd)
