"""Keep or delete a finished recording's files (blocking: run these on a worker thread).

"Keep" has to survive the next recording, whose cleanup empties rec_dir's stream_<n> files: the
files move into the movie folder under the recording's title, each with an enigma2 .meta file so
the movie list shows the title. "Delete" removes only the files the recorder owns.
"""

import os
import re
import shutil
import time
from typing import List, Tuple

from streamrecorder import files, state
from streamrecorder.meta import meta_text  # noqa: F401

MAIN_FILE = re.compile(r"stream_(\d+)\.(ts|mp4)\Z")
# Characters FAT/exFAT (USB sticks) refuse, and control characters.
UNSAFE = re.compile(r'[\x00-\x1f\x7f:?*"<>|\\/]')
MAX_TITLE_BYTES = 120  # leaves room for " - YYYY-MM-DD HH-MM (nn)_n.ts.meta" within 255 bytes
SERVICE_TYPES = {".ts": 1, ".mp4": 4097}


def main_files(rec_dir: str) -> List[Tuple[int, str]]:
    """(section, path) of the non-empty stream_<n>.ts/.mp4 files in rec_dir, by section."""
    found = []
    for path in files.owned_files(rec_dir):
        match = MAIN_FILE.match(os.path.basename(path))
        if match and os.path.isfile(path) and not os.path.islink(path) and os.path.getsize(path) > 0:
            found.append((int(match.group(1)), path))
    return sorted(found)


def safe_title(title: str, max_bytes: int = MAX_TITLE_BYTES) -> str:
    """A file name part that FAT accepts: no : ? * " < > | \\ /, bounded length, not empty."""
    text = UNSAFE.sub(" ", title or "")
    text = re.sub(r"\s+", " ", text).strip().strip(".").strip()
    encoded = text.encode("utf-8")
    if len(encoded) > max_bytes:
        text = encoded[:max_bytes].decode("utf-8", "ignore").rstrip(" .")
    return text or "StreamRecorder"


def stamp(started_at: float) -> str:
    return time.strftime("%Y-%m-%d %H-%M", time.localtime(started_at))


def _unique(folder: str, stem: str, ext: str) -> str:
    """folder/stem+ext, or with _2, _3 ... when that name (or its .meta) is taken."""
    candidate, n = stem, 1
    while any(os.path.lexists(os.path.join(folder, candidate + ext + extra))
              for extra in ("", ".meta", ".ap", ".cuts")) \
            or os.path.lexists(os.path.join(folder, candidate + ".eit")):
        n += 1
        candidate = "%s_%d" % (stem, n)
    return os.path.join(folder, candidate + ext)


def keep(rec_dir: str, movie_dir: str, title: str, started_at: float,
         description: str = "", eit: bytes = b"") -> List[str]:
    """Move the recording into movie_dir as "<title> - <date> (n).ext" with .meta (and
    enigma2's .eit event file, "<name>.eit", when eit is given); the new paths."""
    sections = main_files(rec_dir)
    if not sections:
        return []
    os.makedirs(movie_dir, exist_ok=True)
    base = "%s - %s" % (safe_title(title), stamp(started_at))
    kept = []
    for number, (_section, path) in enumerate(sections, 1):
        ext = os.path.splitext(path)[1]
        stem = base if number == 1 else "%s (%d)" % (base, number)
        target = _unique(movie_dir, stem, ext)
        size = os.path.getsize(path)
        shutil.move(path, target)
        for sibling in (".ap", ".cuts"):  # seeking index; enigma2's cue sheet (last position)
            if os.path.isfile(path + sibling) and not os.path.islink(path + sibling):
                shutil.move(path + sibling, target + sibling)
        if os.path.lexists(path + ".meta"):
            os.unlink(path + ".meta")
        shown = title if number == 1 else "%s (%d)" % (title, number)
        with open(target + ".meta", "w", encoding="utf-8") as f:
            f.write(meta_text(SERVICE_TYPES.get(ext, 1), shown, description, started_at, size))
        if eit:
            with open(os.path.splitext(target)[0] + ".eit", "wb") as f:
                f.write(eit)
        kept.append(target)
    state.remove(rec_dir)  # what a continued recording would need goes with the kept files
    return kept


def delete(rec_dir: str) -> int:
    """Remove the stream_<n> files the recorder owns in rec_dir, nothing else."""
    return files.cleanup(rec_dir)

