"""The plugin's small JSON files (saved streams, timers): read with a broken file set aside,
written atomically."""

import json
import logging
import os
import tempfile
from typing import Any

log = logging.getLogger(__name__)


def read_json(path: str) -> Any:
    """The JSON value in path; None when missing. A broken file is set aside as .bad (never
    overwritten, so a hand edit gone wrong can be repaired) and None returned."""
    try:
        with open(path, "rb") as f:
            return json.loads(f.read().decode("utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        log.error("StreamRecorder: cannot read %s (%s); keeping it as %s.bad", path, exc, path)
        try:
            os.replace(path, path + ".bad")
        except OSError:
            pass
        return None


def write_atomic(path: str, data: bytes) -> None:
    """Temp file in the same folder + fsync + os.replace (+ fsync of the folder)."""
    folder = os.path.dirname(path) or "."
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".%s." % os.path.basename(path), suffix=".tmp", dir=folder)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    try:
        dir_fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(dir_fd)  # the rename itself must reach the disk too
    except OSError:
        pass
    finally:
        os.close(dir_fd)
