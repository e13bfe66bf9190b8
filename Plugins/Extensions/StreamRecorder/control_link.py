"""The local control socket (streamrecorder.control) as the settings describe it.

Started by the controller when enabled, restarted when the settings are saved, closed on
shutdown. Everything runs on the reactor thread; the only disk access (finding the automatic
recording folder, which another program's "record" uses by default) goes to a worker thread.
"""

import logging
import os
import stat
from typing import Any, Callable, Dict, Optional, Tuple

from streamrecorder.control import ControlServer
from twisted.internet import defer, threads
from twisted.python.failure import Failure

from . import _, storage
from . import config as cfg

log = logging.getLogger(__name__)


def _default_rec_dir() -> str:
    """The configured recording folder, or the automatic one (blocking: worker thread)."""
    return cfg.settings.rec_dir.value or storage.find_default() or ""


class ControlLink:
    """Owns at most one ControlServer; apply() makes it match the settings."""

    def __init__(self, manager: Callable[[], Any],
                 record: Optional[Callable[[Dict[str, Any]], bool]] = None) -> None:
        self._manager = manager  # called when needed: the Manager is created lazily
        self._record = record
        self.server: Optional[ControlServer] = None
        self.address: Optional[Tuple[str, Any]] = None
        self.error = ""
        self._busy: defer.Deferred = defer.succeed(None)

    def apply(self) -> defer.Deferred:
        """(Re)start or stop the server per the settings; fires with an error text or ""."""
        # One change at a time: a restart waits until the previous port is really closed.
        self._busy.addBoth(lambda _: self._restart())
        done: defer.Deferred = defer.Deferred()
        self._busy.addBoth(self._forward, done)
        return done

    @staticmethod
    def _forward(result: Any, done: defer.Deferred) -> None:
        done.callback(result if isinstance(result, str) else "")

    def _restart(self) -> defer.Deferred:
        d = self.close()
        wanted = cfg.control_address()
        if wanted is None:
            return d.addCallback(lambda _: "")
        token = cfg.ensure_token()
        d.addCallback(lambda _: threads.deferToThread(_default_rec_dir))
        d.addCallback(self._listen, wanted, token)
        d.addErrback(self._failed, wanted)
        return d

    def _listen(self, rec_dir: str, wanted: Tuple[str, Any], token: str) -> str:
        server = ControlServer(self._manager(), token, rec_dir, record=self._record)
        kind, where = wanted
        if kind == "unix":
            server.listen_unix(where)
        else:
            server.listen_tcp(int(where))
        self.server, self.address, self.error = server, wanted, ""
        return ""

    def _failed(self, failure: Failure, wanted: Tuple[str, Any]) -> str:
        reason = getattr(failure.value, "strerror", None) or failure.getErrorMessage()
        self.error = _("The control socket could not be opened on %(where)s: %(reason)s") % {
            "where": wanted[1], "reason": reason}
        log.error("StreamRecorder: %s", self.error)
        return self.error

    def close(self) -> defer.Deferred:
        """Stop listening and drop the clients (a recording they started goes on)."""
        server, address = self.server, self.address
        self.server = self.address = None
        if server is None:
            return defer.succeed(None)
        d = server.close()
        if address is not None and address[0] == "unix":
            d.addCallback(lambda _: _remove_socket(address[1]))
        return d


def _remove_socket(path: str) -> None:
    """Leave no stale socket file behind (only a socket, never another file at that path)."""
    try:
        if stat.S_ISSOCK(os.lstat(path).st_mode):
            os.unlink(path)
    except OSError:
        pass
