"""Files of a recording that never got its keep/delete decision (GUI restart, crash, power cut).

The controller keeps or deletes every recording it sees end, so stream_<n> files that are in the
recording folder while nothing records and no decision is pending come from a recording whose
end the GUI did not see. They are offered to the user; nothing here deletes anything.
Blocking (directory listing, stat, reading the .meta): run on a worker thread.
"""

import os
from typing import List, NamedTuple, Optional, Union

from streamrecorder import state as rec_state

from . import recordings, storage
from . import config as cfg


class Leftover(NamedTuple):
    rec_dir: str
    count: int  # main files (sections), without their .ap/.meta
    size: int  # bytes
    started_at: float  # from the .meta, else the oldest file's modification time
    title: str  # from stream_0's .meta, "" when there is none
    description: str
    state: Optional[rec_state.RecordingState] = None  # stream_state.json: whose stream, if known


def _meta(path: str) -> list:
    """The lines of enigma2's .meta next to path (name on line 2, creation time on line 4)."""
    try:
        with open(path + ".meta", encoding="utf-8", errors="replace") as f:
            return f.read(4096).split("\n")
    except OSError:
        return []


def find(rec_dir: Optional[str]) -> Optional[Leftover]:
    """What is left in rec_dir, or None when there are no non-empty stream_<n> files."""
    if not rec_dir:
        return None
    sections = recordings.main_files(rec_dir)
    if not sections:
        return None
    paths = [path for _section, path in sections]
    stats = [os.stat(path) for path in paths]
    meta = _meta(paths[0])
    title = meta[1].strip() if len(meta) > 1 else ""
    description = meta[2].strip() if len(meta) > 2 else ""
    started = min(st.st_mtime for st in stats)
    if len(meta) > 3 and meta[3].strip().isdigit() and int(meta[3]) > 0:
        started = float(meta[3])
    return Leftover(rec_dir, len(paths), sum(st.st_size for st in stats), started, title,
                    description, rec_state.read(rec_dir))


def configured_dir() -> Optional[str]:
    """The configured (or automatic) recording folder; None when there is none."""
    return cfg.settings.rec_dir.value or storage.find_default()


def find_configured() -> Optional[Leftover]:
    """The configured (or automatic) recording folder's left-overs."""
    return find(configured_dir())


def keep(found: Union[Leftover, str, None], movie_dir: str, default_title: str) -> List[str]:
    """Move a Leftover (or whatever is left in a folder) to movie_dir; the kept paths."""
    if isinstance(found, str):
        found = find(found)
    if found is None:
        return []
    return recordings.keep(found.rec_dir, movie_dir, found.title or default_title,
                           found.started_at, found.description)
