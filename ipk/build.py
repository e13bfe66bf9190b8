#!/usr/bin/env python3
"""Build the Enigma2 package: dist/enigma2-plugin-extensions-streamrecorder_<version>_all.ipk.

    python ipk/build.py [--out DIR]

The package holds the plugin folder, the core package `streamrecorder` (without the desktop-only
demo and dev server), gettext catalogues compiled from the .po files by GNU msgfmt (needed at build
time: apt-get install gettext), and the m3u8 library
copied from the pinned release installed in this Python (never downloaded) as
`streamrecorder._vendor.m3u8`. The result is reproducible: fixed mtimes (SOURCE_DATE_EPOCH or a
constant), sorted members owned by root, gzip streams without a name or time stamp (msgfmt writes
the same .mo for the same .po).
"""

import argparse
import ast
import base64
import gzip
import hashlib
import importlib.metadata
import importlib.util
import io
import os
import re
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path, PurePosixPath
from typing import Dict, Iterator, List, NamedTuple, Optional, Sequence, Tuple

REPO = Path(__file__).resolve().parent.parent
CONTROL_DIR = REPO / "ipk" / "CONTROL"
PLUGIN_SRC = REPO / "Plugins" / "Extensions" / "StreamRecorder"
CORE_SRC = REPO / "src" / "streamrecorder"

PACKAGE = "enigma2-plugin-extensions-streamrecorder"
E2_PYTHON = "usr/lib/enigma2/python"
PLUGIN_DEST = E2_PYTHON + "/Plugins/Extensions/StreamRecorder"
CORE_DEST = E2_PYTHON + "/streamrecorder"
VENDOR_DEST = CORE_DEST + "/_vendor"
M3U8_VERSION = "6.0.0"

# 2024-01-01T00:00:00Z: the mtime of every member when SOURCE_DATE_EPOCH is not set.
DEFAULT_EPOCH = 1704067200

MAINTAINER = "StreamRecorder developers <streamrecorder@users.noreply.github.com>"
DESCRIPTION = "Record online streams (MP4, HLS) and watch them while they download"
# Runtime needs, by the names both OpenPLi and OpenATV (oe-alliance) feeds use. Both images split
# Python's standard library by the oe-core manifest; the entries below are the split packages of
# the modules the shipped code imports, plus the libraries it imports. The enigma2 recipes of both
# images already pull most of them, so on a receiver they cost nothing. Notes: OpenPLi's own
# manifest puts dataclasses (used by m3u8 and the core) into python3-profile; concurrent.futures is in
# python3-asyncio; the core uses twisted.internet only (python3-twisted-core, not -web).
DEPENDS = (
    "python3-core",
    "python3-asyncio",       # concurrent.futures
    "python3-compression",   # gzip (m3u8)
    "python3-datetime",
    "python3-io",            # socket, ssl, tempfile
    "python3-json",
    "python3-logging",
    "python3-math",          # random
    "python3-netclient",     # http.client, urllib.request
    "python3-numbers",       # decimal (m3u8)
    "python3-profile",       # dataclasses on OpenPLi
    "python3-xml",           # the skin files
    "python3-requests",
    "python3-urllib3",       # imported directly by the core's HTTP client
    "python3-twisted-core",
    "python3-cryptography",  # AES-128 HLS decryption (there is no ffmpeg fallback)
)
# ffmpeg: the core's ffmpeg paths (fMP4/CMAF segments, separate audio renditions, transcoding).
RECOMMENDS = ("ffmpeg",)

SCRIPTS = ("postinst", "prerm", "postrm")
SKIP_DIRS = {"__pycache__", "tests", "test", ".git", ".mypy_cache", ".pytest_cache", ".ruff_cache"}
SKIP_SUFFIXES = (".pyc", ".pyo", ".po", ".pot", ".mo", ".orig", ".rej", ".swp", ".bak", "~")
CORE_EXCLUDE = {"demo", "devserver.py", "_vendor"}   # desktop-only; _vendor is generated here


class BuildError(Exception):
    """A reason the package cannot be built; main() prints it without a traceback."""


class Entry(NamedTuple):
    data: bytes
    mode: int


Files = Dict[str, Entry]   # archive path (no leading "./") -> content


# --- version and time -----------------------------------------------------------------------
def read_version(init_py: Path = CORE_SRC / "__init__.py") -> str:
    """`__version__` from the core package's __init__.py, without importing it."""
    for node in ast.parse(init_py.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.Assign) and any(
                isinstance(t, ast.Name) and t.id == "__version__" for t in node.targets):
            value = ast.literal_eval(node.value)
            if isinstance(value, str) and re.fullmatch(r"[0-9][A-Za-z0-9.+~-]*", value):
                return value
            raise BuildError("%s: __version__ %r is not a package version" % (init_py, value))
    raise BuildError("%s has no __version__" % init_py)


def build_epoch() -> int:
    value = os.environ.get("SOURCE_DATE_EPOCH", "").strip()
    if not value:
        return DEFAULT_EPOCH
    if not value.isdigit():
        raise BuildError("SOURCE_DATE_EPOCH must be a whole number of seconds, not %r" % value)
    return int(value)


# --- gettext: .po -> .mo (GNU msgfmt) ------------------------------------------------------
def find_msgfmt() -> str:
    path = shutil.which("msgfmt")
    if path is None:
        raise BuildError("GNU msgfmt is missing: it compiles the translations (.po -> .mo); "
                         "apt-get install gettext")
    return path


def compile_mo(po: Path, msgfmt: Optional[str] = None) -> bytes:
    """The .mo GNU msgfmt writes for po (with --check: format strings, header); fuzzy and
    untranslated entries are left out. Same .po and msgfmt, same bytes."""
    msgfmt = msgfmt or find_msgfmt()
    env = dict(os.environ, LC_ALL="C")
    try:
        proc = subprocess.run([msgfmt, "--check", "-o", "-", str(po)], capture_output=True,
                              env=env, timeout=120)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise BuildError("cannot run %s: %s" % (msgfmt, exc)) from None
    if proc.returncode != 0 or not proc.stdout:
        raise BuildError("msgfmt failed on %s: %s" % (
            po, proc.stderr.decode("utf-8", "replace").strip() or "exit status %d" % proc.returncode))
    return proc.stdout


# --- collecting the files -------------------------------------------------------------------
def _skipped(path: Path) -> bool:
    return path.name.startswith(".") or path.name.endswith(SKIP_SUFFIXES)


def _walk(root: Path, exclude: Sequence[str] = ()) -> Iterator[Path]:
    """Files under root in sorted order, without caches, tests, hidden files and the `exclude`
    paths (relative to root, e.g. "demo" or "devserver.py")."""
    for dirpath, dirnames, filenames in os.walk(str(root)):
        here = Path(dirpath)
        rel = here.relative_to(root)
        dirnames[:] = sorted(d for d in dirnames if d not in SKIP_DIRS and not d.startswith(".")
                             and (rel / d).as_posix() not in exclude)
        for name in sorted(filenames):
            path = here / name
            if (rel / name).as_posix() not in exclude and not _skipped(path) and path.is_file():
                yield path


def _entry(path: Path) -> Entry:
    return Entry(path.read_bytes(), 0o755 if os.stat(str(path)).st_mode & 0o111 else 0o644)


def collect_plugin(files: Files) -> None:
    """The plugin folder as it is now, with every .po compiled to a .mo beside it (msgfmt)."""
    if not (PLUGIN_SRC / "plugin.py").is_file():
        raise BuildError("%s/plugin.py is missing" % PLUGIN_SRC)
    for path in _walk(PLUGIN_SRC):
        files[PLUGIN_DEST + "/" + path.relative_to(PLUGIN_SRC).as_posix()] = _entry(path)
    pos = [po for po in sorted(PLUGIN_SRC.rglob("*.po"))
           if not any(part in SKIP_DIRS for part in po.relative_to(PLUGIN_SRC).parts)]
    msgfmt = find_msgfmt() if pos else None
    for po in pos:
        rel = po.relative_to(PLUGIN_SRC).with_suffix(".mo").as_posix()
        files[PLUGIN_DEST + "/" + rel] = Entry(compile_mo(po, msgfmt), 0o644)


def collect_core(files: Files) -> None:
    """src/streamrecorder without the desktop-only demo and dev server."""
    for path in _walk(CORE_SRC, exclude=sorted(CORE_EXCLUDE)):
        files[CORE_DEST + "/" + path.relative_to(CORE_SRC).as_posix()] = _entry(path)


def _m3u8_release() -> Tuple[Path, importlib.metadata.Distribution]:
    """The installed m3u8 package folder and its distribution, checked against the pin."""
    spec = importlib.util.find_spec("m3u8")
    if spec is None or not spec.submodule_search_locations:
        raise BuildError("m3u8 %s is not installed in this Python (%s); run the build with the "
                         "project's venv (.venv/bin/python ipk/build.py, or make ipk) or "
                         "pip install m3u8==%s" % (M3U8_VERSION, sys.executable, M3U8_VERSION))
    package_dir = Path(list(spec.submodule_search_locations)[0]).resolve()
    try:
        dist = importlib.metadata.distribution("m3u8")
    except importlib.metadata.PackageNotFoundError:
        raise BuildError("m3u8 at %s has no installed metadata (no dist-info)" % package_dir) from None
    if dist.version != M3U8_VERSION:
        raise BuildError("the package bundles m3u8==%s, but %s is installed (%s); "
                         "pip install m3u8==%s" % (M3U8_VERSION, dist.version, package_dir, M3U8_VERSION))
    init = Path(str(dist.locate_file("m3u8/__init__.py"))).resolve()
    if init.parent != package_dir:
        raise BuildError("the m3u8 imported from %s is not the m3u8 %s distribution at %s"
                         % (package_dir, M3U8_VERSION, init.parent))
    return package_dir, dist


def _check_record(dist: importlib.metadata.Distribution, package_dir: Path) -> None:
    """Every file of the release is unchanged since pip installed it (hashes in RECORD)."""
    for item in dist.files or ():
        if item.parts[0] != "m3u8" or item.hash is None:
            continue
        path = Path(str(dist.locate_file(item)))
        digest = hashlib.new(item.hash.mode, path.read_bytes()).digest()
        if base64.urlsafe_b64encode(digest).rstrip(b"=").decode() != item.hash.value:
            raise BuildError("%s differs from the m3u8 %s release (RECORD hash)" % (path, M3U8_VERSION))


def _licence(dist: importlib.metadata.Distribution) -> bytes:
    for item in dist.files or ():
        if ".dist-info" in item.parts[0] and item.name.upper().startswith(("LICENSE", "LICENCE", "COPYING")):
            return Path(str(dist.locate_file(item))).read_bytes()
    raise BuildError("the m3u8 %s dist-info has no LICENSE file" % M3U8_VERSION)


_FROM_M3U8 = re.compile(r"^(\s*)from\s+m3u8((?:\.\w+)*)\s+import\b")
_IMPORT_M3U8 = re.compile(r"^(\s*)import\s+m3u8\s*(#.*)?$")


def relative_m3u8_imports(source: str, depth: int) -> str:
    """Rewrite `from m3u8[.x] import ...` / `import m3u8` in a module `depth` folders below the
    package root so the copy imports itself relatively."""
    dots = "." * (depth + 1)
    out = []
    for line in source.splitlines(keepends=True):
        match = _FROM_M3U8.match(line)
        if match:
            target = dots + match.group(2).lstrip(".") if match.group(2) else dots
            line = "%sfrom %s import%s" % (match.group(1), target, line[match.end():])
        else:
            match = _IMPORT_M3U8.match(line)
            if match:
                newline = line[len(line.rstrip("\r\n")):]
                line = "%sfrom %s import m3u8%s" % (match.group(1), "." * (depth + 2), newline)
        out.append(line)
    return "".join(out)


def absolute_m3u8_imports(source: str, filename: str) -> List[str]:
    """`file:line` of every absolute import of m3u8 (or a submodule) in source."""
    found = []
    for node in ast.walk(ast.parse(source, filename)):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        else:
            continue
        if any(n == "m3u8" or n.startswith("m3u8.") for n in names):
            found.append("%s:%d" % (filename, node.lineno))
    return found


def collect_m3u8(files: Files) -> None:
    """The pinned m3u8 release as streamrecorder._vendor.m3u8, with its licence."""
    package_dir, dist = _m3u8_release()
    _check_record(dist, package_dir)
    dest = VENDOR_DEST + "/m3u8"
    files[VENDOR_DEST + "/__init__.py"] = Entry(
        ('"""Third-party libraries bundled at build time: m3u8 %s (MIT, see m3u8/LICENSE)."""\n'
         % M3U8_VERSION).encode(), 0o644)
    for path in _walk(package_dir):
        rel = path.relative_to(package_dir)
        data = path.read_bytes()
        if path.suffix == ".py":
            text = relative_m3u8_imports(data.decode("utf-8"), len(rel.parts) - 1)
            left = absolute_m3u8_imports(text, "m3u8/" + rel.as_posix())
            if left:
                raise BuildError("absolute m3u8 imports left in the bundled copy: " + ", ".join(left))
            data = text.encode("utf-8")
        files[dest + "/" + rel.as_posix()] = Entry(data, 0o644)
    files[dest + "/LICENSE"] = Entry(_licence(dist), 0o644)


def _source_name(path: str) -> str:
    """The repo path an archive path was taken from (for messages)."""
    for dest, src in ((CORE_DEST, CORE_SRC), (PLUGIN_DEST, PLUGIN_SRC)):
        if path.startswith(dest + "/"):
            return (src / path[len(dest) + 1:]).relative_to(REPO).as_posix()
    return path


def check_no_direct_m3u8(files: Files) -> None:
    """The core and plugin reach m3u8 only through streamrecorder._m3u8 (else a receiver without
    a system m3u8 would fail, or another plugin's m3u8 would be used unchecked)."""
    offenders = []
    for path, entry in sorted(files.items()):
        if path.endswith(".py") and not path.startswith(VENDOR_DEST + "/") \
                and path != CORE_DEST + "/_m3u8.py":
            offenders += absolute_m3u8_imports(entry.data.decode("utf-8"), _source_name(path))
    if offenders:
        raise BuildError("import m3u8 through streamrecorder._m3u8 - `from ._m3u8 import m3u8` in "
                         "src/streamrecorder/*.py, `from .._m3u8 import m3u8` one folder down - not "
                         "directly: " + ", ".join(offenders))


def collect_data() -> Files:
    files: Files = {}
    collect_plugin(files)
    collect_core(files)
    if CORE_DEST + "/_m3u8.py" not in files:
        raise BuildError("src/streamrecorder/_m3u8.py is missing")
    collect_m3u8(files)
    check_no_direct_m3u8(files)
    return files


# --- the control part -----------------------------------------------------------------------
def control_text(version: str) -> str:
    fields = [
        ("Package", PACKAGE),
        ("Version", version),
        ("Architecture", "all"),
        ("Maintainer", MAINTAINER),
        ("Section", "extra"),
        ("Priority", "optional"),
        ("Depends", ", ".join(DEPENDS)),
        ("Recommends", ", ".join(RECOMMENDS)),
        ("Description", DESCRIPTION),
    ]
    return "".join("%s: %s\n" % field for field in fields)


def collect_control(version: str) -> Files:
    files: Files = {"control": Entry(control_text(version).encode(), 0o644)}
    for name in SCRIPTS:
        path = CONTROL_DIR / name
        data = path.read_bytes()
        if not data.startswith(b"#!/bin/sh\n"):
            raise BuildError("%s must start with #!/bin/sh" % path)
        files[name] = Entry(data, 0o755)
    return files


# --- archives -------------------------------------------------------------------------------
def _sort_key(path: str) -> Tuple[str, ...]:
    return tuple(PurePosixPath(path).parts)


def tar_gz(files: Files, mtime: int) -> bytes:
    """A gzip'ed tar of files (plus their parent folders), members "./..." in sorted order."""
    dirs = {""}
    for path in files:
        parent = PurePosixPath(path).parent
        while str(parent) != ".":
            dirs.add(str(parent))
            parent = parent.parent
    members = sorted([(d, None) for d in dirs] + list(files.items()),
                     key=lambda item: _sort_key(item[0]))
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.GNU_FORMAT) as tar:
        for path, entry in members:
            info = tarfile.TarInfo("./" + path if path else ".")
            info.mtime = mtime
            info.uid = info.gid = 0
            info.uname = info.gname = "root"
            if entry is None:
                info.type = tarfile.DIRTYPE
                info.mode = 0o755
                tar.addfile(info)
            else:
                info.mode = entry.mode
                info.size = len(entry.data)
                tar.addfile(info, io.BytesIO(entry.data))
    out = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=out, compresslevel=9, mtime=0) as gz:
        gz.write(raw.getvalue())
    return out.getvalue()


def ar_archive(members: Sequence[Tuple[str, bytes]], mtime: int) -> bytes:
    """A System V / GNU ar archive as dpkg writes it: 60-byte headers, root-owned, 0644."""
    out = [b"!<arch>\n"]
    for name, data in members:
        if len(name) > 16 or "/" in name:
            raise BuildError("ar member name %r does not fit" % name)
        header = b"%-16s%-12d%-6d%-6d%-8s%-10d`\n" % (name.encode("ascii"), mtime, 0, 0, b"100644",
                                                       len(data))
        assert len(header) == 60
        out += [header, data, b"\n" if len(data) % 2 else b""]
    return b"".join(out)


def ipk_name(version: str) -> str:
    return "%s_%s_all.ipk" % (PACKAGE, version)


def build(out_dir: Path) -> Path:
    """Write the .ipk into out_dir and return its path."""
    version = read_version()
    mtime = build_epoch()
    control = tar_gz(collect_control(version), mtime)
    data = tar_gz(collect_data(), mtime)
    blob = ar_archive([("debian-binary", b"2.0\n"), ("control.tar.gz", control),
                       ("data.tar.gz", data)], mtime)
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / ipk_name(version)
    tmp = target.with_name(target.name + ".part")
    tmp.write_bytes(blob)
    os.replace(str(tmp), str(target))
    return target


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description="Build the StreamRecorder .ipk for Enigma2.")
    parser.add_argument("--out", default=str(REPO / "dist"), help="output folder (default: dist)")
    args = parser.parse_args(argv)
    try:
        path = build(Path(args.out))
    except BuildError as exc:
        print("ipk build failed: %s" % exc, file=sys.stderr)
        return 1
    print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
