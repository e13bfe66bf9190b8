"""rec_dir/stream_state.json: where a recording stands, for continuing it (continue_recording).

Written by the recorder as it records (mode 0600, atomically: a temporary file, fsync,
os.replace), read when a recording is continued and by the plugin (`read(rec_dir)`). It holds
no header value, cookie or token in clear: the URL is kept as a SHA-256 to recognise it, and
without its query string and credentials for people.
"""

import errno
import hashlib
import json
import logging
import os
from dataclasses import asdict, dataclass, fields
from typing import Any, Dict, Optional
from urllib.parse import urlsplit

from .files import STATE_NAME
from .http import redact

log = logging.getLogger(__name__)

VERSION = 1
TEMP_SUFFIX = ".tmp"
MAX_STATE_BYTES = 64 << 10


@dataclass
class RecordingState:
    """One recording's progress, as stream_state.json holds it."""

    url_sha256: str                     # of the resolved URL (headers and fragment removed)
    url: str                            # the same without its query string, for people
    recorder: str                       # recorder type (hls_basic, hls_live, hls_m4s, ...)
    live: bool
    section_index: int                  # the section file written last
    media_sequence: Optional[int] = None  # of the last segment written (TS path)
    playlist_index: Optional[int] = None  # 0-based playlist index of that segment (VOD)
    missing_s: float = 0.0
    skipped_segments: int = 0
    original_sha256: Optional[str] = None  # of the resolver's original_url, when given
    updated: float = 0.0                # wall-clock time of this write
    version: int = VERSION

    def same_stream(self, url: str, original_url: Optional[str] = None) -> bool:
        """Is this the state of url (or of the same original_url, whose resolved URL may carry
        a fresh token each time)?"""
        if original_url and self.original_sha256 == url_hash(original_url):
            return True
        return self.url_sha256 == url_hash(url)


def url_hash(url: str) -> str:
    return hashlib.sha256(url.encode("utf-8", "surrogateescape")).hexdigest()


def for_people(url: str) -> str:
    """The URL without its query string and without a user name or password."""
    shown = redact(url)
    try:
        parts = urlsplit(shown)
    except ValueError:
        return "(unreadable URL)"
    if "@" in parts.netloc:
        shown = parts._replace(netloc=parts.netloc.rsplit("@", 1)[1]).geturl()
    return shown


def new(url: str, recorder: str, live: bool, original_url: Optional[str] = None,
        **values: Any) -> RecordingState:
    """A state for url; the URL itself is only stored redacted."""
    return RecordingState(url_sha256=url_hash(url), url=for_people(url), recorder=recorder, live=live,
                          original_sha256=url_hash(original_url) if original_url else None,
                          section_index=int(values.pop("section_index", 0)), **values)


def path_of(rec_dir: str) -> str:
    return os.path.join(rec_dir, STATE_NAME)


def read(rec_dir: str) -> Optional[RecordingState]:
    """The state recorded in rec_dir, or None (missing, unreadable or not a state file)."""
    path = path_of(rec_dir)
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    except OSError as exc:
        if exc.errno not in (errno.ENOENT, errno.ENOTDIR):
            log.warning("cannot read %s: %s", path, exc.strerror)
        return None
    with os.fdopen(fd, "rb") as f:
        raw = f.read(MAX_STATE_BYTES + 1)
    try:
        data = json.loads(raw.decode("utf-8"))
        return _from_dict(data)
    except (ValueError, TypeError, KeyError) as exc:
        log.warning("%s is not a state this version can read (%s): ignored", path, exc)
        return None


def _from_dict(data: Dict[str, Any]) -> RecordingState:
    if not isinstance(data, dict) or data.get("version") != VERSION:
        raise ValueError("unknown version")
    known = {f.name for f in fields(RecordingState)}
    state = RecordingState(**{k: v for k, v in data.items() if k in known})
    if not isinstance(state.url_sha256, str) or not isinstance(state.section_index, int):
        raise TypeError("malformed values")
    return state


def write(rec_dir: str, state: RecordingState) -> None:
    """Replace stream_state.json atomically (0600): readers see the old or the new state whole."""
    path = path_of(rec_dir)
    temp = path + TEMP_SUFFIX
    body = json.dumps(asdict(state), sort_keys=True, indent=1).encode("utf-8")
    flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_NOFOLLOW", 0)
    try:
        fd = os.open(temp, flags, 0o600)
    except OSError as exc:
        if exc.errno != errno.ELOOP:
            raise
        os.unlink(temp)  # a link planted at our temporary name is never followed
        fd = os.open(temp, flags, 0o600)
    try:
        os.fchmod(fd, 0o600)  # a temporary file left by a crash may have other modes
        view = memoryview(body)
        while view:
            view = view[os.write(fd, view):]
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(temp, path)


def remove(rec_dir: str) -> None:
    """Forget the state (the files it describes were kept elsewhere or deleted)."""
    for name in (path_of(rec_dir), path_of(rec_dir) + TEMP_SUFFIX):
        try:
            os.unlink(name)
        except OSError:
            pass
