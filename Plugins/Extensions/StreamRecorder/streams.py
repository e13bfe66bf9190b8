"""The saved streams (name, URL, recorder id) in a JSON file under the settings folder.

Reading and writing run on a worker thread; each write goes to a temporary file in the same
folder, is fsynced and then renamed over the old file (os.replace), so a power cut leaves either
the old or the new list, never half a file. Writes are serialised; a stale one is skipped.
"""

import json
import logging
import threading
from typing import Any, Dict, List, Optional

from streamrecorder import streamurl
from streamrecorder.errors import RecorderError
from twisted.internet import defer, threads

from .jsonfiles import read_json, write_atomic

__all__ = ["read_streams", "valid_url", "StreamStore"]

log = logging.getLogger(__name__)

FILE_NAME = "streams.json"
RECORDER_IDS = ("auto", "mp4", "hls_basic", "hls_live", "hls_m4s")

Stream = Dict[str, str]


def valid_url(url: str) -> bool:
    """An http(s) URL, also as receivers write them (url#User-Agent=..., url|Name=value, a
    service reference with an encoded URL)."""
    try:
        streamurl.parse(url)
    except RecorderError:
        return False
    return True


def _clean(entry: Any) -> Optional[Stream]:
    if not isinstance(entry, dict):
        return None
    name, url = entry.get("name"), entry.get("url")
    if not isinstance(name, str) or not isinstance(url, str) or not url.strip():
        return None
    recorder = entry.get("recorder")
    return {"name": name.strip() or url.strip(), "url": url.strip(),
            "recorder": recorder if recorder in RECORDER_IDS else "auto"}


def read_streams(path: str) -> List[Stream]:
    """The list in path ([] when missing); a broken file is set aside as .bad, not overwritten."""
    data = read_json(path)
    entries = data.get("streams", []) if isinstance(data, dict) else data
    if not isinstance(entries, list):
        return []
    return [s for s in (_clean(e) for e in entries) if s is not None]


def encode(streams: List[Stream]) -> bytes:
    return json.dumps({"version": 1, "streams": streams}, ensure_ascii=False,
                      indent=1).encode("utf-8")


class StreamStore:
    """In-memory list for the GUI; load() and save() return Deferreds fired on the reactor."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.streams: List[Stream] = []
        self._lock = threading.Lock()
        self._queued = 0
        self._written = 0
        self._pending: List[defer.Deferred] = []

    def load(self) -> defer.Deferred:
        d = threads.deferToThread(read_streams, self.path)

        def loaded(streams: List[Stream]) -> List[Stream]:
            self.streams = streams
            return streams
        return d.addCallback(loaded)

    def add(self, name: str, url: str, recorder: str = "auto") -> int:
        self.streams.append(_clean({"name": name, "url": url, "recorder": recorder}) or {})
        return len(self.streams) - 1

    def update(self, index: int, name: str, url: str, recorder: str = "auto") -> None:
        entry = _clean({"name": name, "url": url, "recorder": recorder})
        if entry is not None:
            self.streams[index] = entry

    def remove(self, index: int) -> Stream:
        return self.streams.pop(index)

    def save(self) -> defer.Deferred:
        """Write the current list in the background; fires (None) once it is on disk."""
        self._queued += 1
        seq, data = self._queued, encode(self.streams)
        d = threads.deferToThread(self._write, seq, data)
        self._pending.append(d)
        d.addBoth(self._forget, d)
        return d

    def _write(self, seq: int, data: bytes) -> None:
        with self._lock:
            if seq <= self._written:
                return  # a newer list is already on disk
            write_atomic(self.path, data)
            self._written = seq

    def _forget(self, result: Any, d: defer.Deferred) -> Any:
        if d in self._pending:
            self._pending.remove(d)
        return result

    def idle(self) -> defer.Deferred:
        """Fires when every queued write has finished."""
        pending = list(self._pending)
        if not pending:
            return defer.succeed(None)
        return defer.DeferredList(pending, consumeErrors=True).addCallback(lambda _: None)
