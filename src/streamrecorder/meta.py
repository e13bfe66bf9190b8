"""enigma2's .meta sidecar: the movie list reads a recording's title from it."""

import logging
import os
import re
import time
from typing import Optional
from urllib.parse import unquote, urlsplit

from . import files

log = logging.getLogger(__name__)

SERVICE_TYPES = {".ts": 1, ".mp4": 4097}


def meta_text(service_type: int, title: str, description: str, started_at: float,
              size: int) -> str:
    """enigma2's .meta layout (lib/dvb/metaparser.cpp): reference, name, description, creation
    time, tags, length in PTS (0 = unknown, enigma2 works it out), file size, service data,
    packet size, scrambled."""
    def line(value: str) -> str:
        return re.sub(r"[\r\n]+", " ", value)
    return "%d:0:0:0:0:0:0:0:0:0:\n%s\n%s\n%d\n\n0\n%d\n\n188\n0\n" % (
        service_type, line(title), line(description), int(started_at), size)


def title_for(title: Optional[str], url: str) -> str:
    """The resolver's title, else the URL's last path part (without extension), else a default."""
    if title and str(title).strip():
        return str(title).strip()
    name = unquote(urlsplit(url or "").path.rstrip("/").rsplit("/", 1)[-1])
    return os.path.splitext(name)[0] or name or "StreamRecorder"


def write_meta(media_path: str, title: str, started_at: Optional[float] = None) -> None:
    """Write media_path + '.meta' (size 0: enigma2 reads the growing file's size itself).

    A .meta that cannot be written costs the movie list its title, not the recording: logged only.
    """
    ext = os.path.splitext(media_path)[1]
    text = meta_text(SERVICE_TYPES.get(ext, 1), title, "",
                     time.time() if started_at is None else started_at, 0)
    folder, name = os.path.split(media_path)
    try:
        # like the media file: a symlink planted at the name is replaced, never followed
        with files.open_output(folder, name + ".meta") as out:
            files.write_all(out, text.encode("utf-8"))
    except OSError as exc:
        log.warning("could not write %s.meta: %s", media_path, exc.strerror)
