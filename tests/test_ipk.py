"""The .ipk: its ar/tar format read by the real Debian tools, the control fields, reproducible
bytes, the contents, and an install into a temporary root used by a fresh Python that sees only
that root, the standard library and the packages the control file depends on."""

import gettext
import importlib.metadata
import importlib.util
import io
import json
import os
import re
import shutil
import struct
import subprocess
import sys
import tarfile
from pathlib import Path, PurePosixPath
from typing import Dict, List, Tuple

import pytest

import e2tree

from hls_server import publish_vod

REPO = Path(__file__).resolve().parent.parent
BUILD_PY = REPO / "ipk" / "build.py"
TESTS = Path(__file__).resolve().parent
PO_FILES = sorted((REPO / "Plugins" / "Extensions" / "StreamRecorder").rglob("*.po"))
SAMPLES = REPO / "src" / "streamrecorder" / "demo" / "sample"


def _load_builder():
    spec = importlib.util.spec_from_file_location("ipk_build", str(BUILD_PY))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


builder = _load_builder()


# The tools the package tests need, and the Debian/Ubuntu package of each (scripts/test.sh
# installs them): a missing one fails the tests, never skips them.
TOOL_PACKAGES = {"dpkg-deb": "dpkg", "ar": "binutils", "msgfmt": "gettext"}


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.fail("%s is needed for the package tests: apt-get install %s (scripts/test.sh "
                    "installs it)" % (name, TOOL_PACKAGES[name]), pytrace=False)
    return path


def msgfmt_mo(po: Path, out: Path) -> bytes:
    """GNU msgfmt's own .mo of po, compiled here independently of the builder."""
    subprocess.run([_tool("msgfmt"), "--check", "-o", str(out), str(po)], check=True, timeout=60)
    return out.read_bytes()


def mo_entries(mo: bytes) -> List[Tuple[str, str]]:
    """(original, translation) pairs of a GNU .mo (little-endian, as msgfmt writes here)."""
    magic, _revision, count, ids, strs = struct.unpack_from("<5I", mo)
    assert magic == 0x950412DE
    pairs = []
    for i in range(count):
        (n, at), (m, at2) = struct.unpack_from("<2I", mo, ids + 8 * i), \
            struct.unpack_from("<2I", mo, strs + 8 * i)
        pairs.append((mo[at:at + n].decode("utf-8"), mo[at2:at2 + m].decode("utf-8")))
    return pairs


def _env_without_epoch() -> Dict[str, str]:
    env = dict(os.environ)
    env.pop("SOURCE_DATE_EPOCH", None)
    return env


def run_build(out_dir: Path, env: Dict[str, str]) -> Path:
    """The documented command, as a user runs it."""
    proc = subprocess.run([sys.executable, str(BUILD_PY), "--out", str(out_dir)], env=env,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    path = Path(proc.stdout.strip())
    assert path.parent == out_dir and path.is_file()
    return path


def ar_members(blob: bytes) -> List[Tuple[bytes, Dict[str, bytes]]]:
    """(header fields, data) of each member, checking the 60-byte headers and even padding."""
    assert blob.startswith(b"!<arch>\n")
    pos, members = 8, []
    while pos < len(blob):
        header = blob[pos:pos + 60]
        assert len(header) == 60 and header[58:60] == b"`\n", header
        fields = {"name": header[:16].rstrip(), "mtime": header[16:28].rstrip(),
                  "uid": header[28:34].rstrip(), "gid": header[34:40].rstrip(),
                  "mode": header[40:48].rstrip(), "size": header[48:58].rstrip()}
        size = int(fields["size"])
        members.append((fields, blob[pos + 60:pos + 60 + size]))
        pos += 60 + size
        if size % 2:
            assert blob[pos:pos + 1] == b"\n"
            pos += 1
    assert pos == len(blob)
    return members


def tar_entries(gz: bytes) -> List[tarfile.TarInfo]:
    with tarfile.open(fileobj=io.BytesIO(gz), mode="r:gz") as tar:
        return tar.getmembers()


def tar_file(gz: bytes, name: str) -> bytes:
    with tarfile.open(fileobj=io.BytesIO(gz), mode="r:gz") as tar:
        return tar.extractfile(name).read()


@pytest.fixture(scope="module")
def ipk(tmp_path_factory) -> Path:
    return run_build(tmp_path_factory.mktemp("dist"), _env_without_epoch())


@pytest.fixture(scope="module")
def parts(ipk) -> Dict[str, bytes]:
    return {fields["name"].decode(): data for fields, data in ar_members(ipk.read_bytes())}


@pytest.fixture(scope="module")
def installed(ipk, tmp_path_factory) -> Path:
    """The package unpacked by dpkg-deb into an empty root; returns root/usr/lib/enigma2/python."""
    root = tmp_path_factory.mktemp("rootfs")
    subprocess.run([_tool("dpkg-deb"), "-x", str(ipk), str(root)], check=True, timeout=60)
    return root / builder.E2_PYTHON


# --- the fresh interpreter ------------------------------------------------------------------
def _top_levels(dist: importlib.metadata.Distribution) -> Dict[str, Path]:
    tops = {}
    for item in dist.files or ():
        top = item.parts[0]
        if top == ".." or top == "__pycache__" or top.endswith((".dist-info", ".egg-info", ".pth")):
            continue
        tops[top] = Path(str(dist.locate_file(top)))
    return tops


@pytest.fixture(scope="module")
def deps_dir(tmp_path_factory) -> Path:
    """Links to the installed distributions the package depends on (requests, twisted, and the
    optional cryptography) and their requirements - one by one, never the whole site-packages."""
    target = tmp_path_factory.mktemp("deps")
    todo, seen = ["requests", "twisted", "cryptography"], set()
    while todo:
        name = todo.pop()
        try:
            dist = importlib.metadata.distribution(name)
        except importlib.metadata.PackageNotFoundError:
            continue
        key = dist.metadata["Name"].lower().replace("_", "-").replace(".", "-")
        if key in seen:
            continue
        seen.add(key)
        for text in dist.requires or ():
            if "extra" not in text.partition(";")[2]:    # optional extras are not needed
                todo.append(re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)", text).group(1))
        for top, source in _top_levels(dist).items():
            link = target / top
            if not link.exists():
                link.symlink_to(source)
    names = {p.name for p in target.iterdir()}
    assert {"requests", "twisted", "cryptography"} <= names
    assert not names & {"m3u8", "streamrecorder", "m3u8.py"}, names
    return target


def fresh_env(*paths: Path, home: Path) -> Dict[str, str]:
    """Environment for `python -S`: no site-packages, PYTHONPATH = exactly `paths`."""
    return {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(home), "LANG": "C.UTF-8",
            "PYTHONPATH": os.pathsep.join(str(p) for p in paths), "PYTHONNOUSERSITE": "1",
            "PYTHONDONTWRITEBYTECODE": "1"}


PROBE = r'''
import importlib.util, json, os, sys, sysconfig
args = json.loads(sys.argv[1])
report = {"path": sys.path}
try:
    import m3u8
    report["system_m3u8"] = m3u8.__file__
except ImportError:
    report["system_m3u8"] = None
# The unpacked package's plugin joins OpenPLi's real tree, as opkg puts it beside enigma2's own.
sys.path.insert(0, args["tests"])
import e2tree
e2tree.load(extensions=args["extensions"])
import Plugins.Extensions
from Plugins.Plugin import PluginDescriptor
report["extensions_path"] = [str(p) for p in Plugins.Extensions.__path__]
from Plugins.Extensions.StreamRecorder import plugin, _, ngettext
result = plugin.Plugins(path=os.path.dirname(plugin.__file__))
result = result if isinstance(result, list) else [result]
report["plugin_file"] = plugin.__file__
report["descriptors"] = [{"name": d.name, "where": d.where, "icon": d.iconstr,
                          "callable": callable(d.fnc)} for d in result]
report["where"] = {w: getattr(PluginDescriptor, w) for w in ("WHERE_PLUGINMENU", "WHERE_EXTENSIONSMENU")}
from Components.Language import language
language.activateLanguage("de_DE")
report["german"] = [_(text) for text in args["singular"]]
report["german_plural"] = [ngettext(one, many, n) for one, many, n in args["plural"]]
import streamrecorder
from streamrecorder._m3u8 import m3u8 as bundled
report["core"] = streamrecorder.__file__
report["m3u8"] = bundled.__file__
report["m3u8_name"] = bundled.__name__
playlist = bundled.loads("#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:2.0,\na.ts\n#EXT-X-ENDLIST\n")
report["segments"] = [segment.uri for segment in playlist.segments]
report["top_level_m3u8"] = "m3u8" in sys.modules
stdlib = [sysconfig.get_paths()[k] for k in ("stdlib", "platstdlib")]
allowed = [os.path.realpath(p) for p in args["allowed"]] + stdlib
report["foreign_modules"] = sorted(
    "%s=%s" % (name, module.__file__) for name, module in list(sys.modules.items())
    if getattr(module, "__file__", None)
    and not any(os.path.abspath(module.__file__).startswith(p + os.sep) for p in args["allowed"])
    and not any(os.path.realpath(module.__file__).startswith(p + os.sep) for p in stdlib))
print(json.dumps(report))
'''


def _po_samples(tmp_path: Path) -> Tuple[List[str], List[Tuple[str, str, int]], List[str],
                                        List[str]]:
    """Translated entries of the plugin's German catalogue, as GNU msgfmt compiles it (fuzzy and
    untranslated entries left out): (singular ids, plural cases, their expected translations)."""
    singular, plural, want_singular, want_plural = [], [], [], []
    for po in PO_FILES:
        if po.parent.parent.name != "de":
            continue
        for original, translation in mo_entries(msgfmt_mo(po, tmp_path / "samples.mo")):
            if not original or "\x04" in original:          # the header; contexts
                continue
            if "\0" not in original:
                singular.append(original)
                want_singular.append(translation)
            else:
                one, many = original.split("\0")
                forms = translation.split("\0")
                for n, form in ((1, 0), (5, 1)):
                    plural.append((one, many, n))
                    want_plural.append(forms[min(form, len(forms) - 1)])
    assert singular, "the German catalogue has no translated entries"
    return singular, plural, want_singular, want_plural


def test_installed_plugin_and_core_run_from_the_package_alone(installed, deps_dir, tmp_path):
    """A fresh interpreter with only the unpacked root, the stdlib, the Depends and OpenPLi's
    real tree (with the enigma stand-in): no venv m3u8, no repo src. The plugin loads from the
    package, translates, and the core uses the bundled m3u8."""
    tree = e2tree.check_tree()
    singular, plural, want_singular, want_plural = _po_samples(tmp_path)
    extensions = installed / "Plugins" / "Extensions"
    paths = [installed, deps_dir, tree / "lib" / "python", TESTS]
    args = {"tests": str(TESTS), "extensions": str(extensions), "singular": singular,
            "plural": plural, "allowed": [str(p) for p in paths]}
    proc = subprocess.run([sys.executable, "-S", "-c", PROBE, json.dumps(args)],
                          env=fresh_env(installed, deps_dir, home=tmp_path), cwd=str(tmp_path),
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads(proc.stdout.splitlines()[-1])
    assert report["system_m3u8"] is None, "m3u8 must not be importable in the clean process"
    assert not any(str(REPO / "src") in p or "site-packages" in p for p in report["path"])
    assert report["foreign_modules"] == []
    assert Path(report["core"]).parent == installed / "streamrecorder"
    assert report["m3u8_name"] == "streamrecorder._vendor.m3u8"
    assert Path(report["m3u8"]) == installed / "streamrecorder" / "_vendor" / "m3u8" / "__init__.py"
    assert report["segments"] == ["a.ts"]
    assert report["top_level_m3u8"] is False, "the bundled copy must not register as `m3u8`"
    plugin_dir = extensions / "StreamRecorder"
    assert Path(report["plugin_file"]) == plugin_dir / "plugin.py"
    assert str(extensions) in report["extensions_path"]
    wheres = [w for d in report["descriptors"] for w in d["where"]]
    assert report["where"]["WHERE_PLUGINMENU"] in wheres
    assert report["where"]["WHERE_EXTENSIONSMENU"] in wheres
    assert all(d["name"] and d["callable"] for d in report["descriptors"])
    for d in report["descriptors"]:
        assert d["icon"] is None or (plugin_dir / d["icon"]).is_file()
    assert report["german"] == want_singular
    assert report["german_plural"] == want_plural


def _record(installed: Path, deps_dir: Path, tmp_path: Path, url: str, recorder: str):
    out = tmp_path / "rec"
    proc = subprocess.run(
        [sys.executable, "-S", "-m", "streamrecorder", "record", url, "-o", str(out), "--json",
         "--recorder", recorder, "--reserve-mb", "1"],
        env=fresh_env(installed, deps_dir, home=tmp_path), cwd=str(tmp_path),
        capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    messages = [json.loads(line) for line in proc.stdout.splitlines()]
    assert messages[-1][0] == "stop" and messages[-1][1]["reason"] == "complete", messages[-1]
    return out, messages


def test_installed_cli_records_mp4_from_loopback(installed, deps_dir, server, mp4_media, tmp_path):
    data = mp4_media["faststart"].read_bytes()
    server.put("/clip.mp4", data)
    out, messages = _record(installed, deps_dir, tmp_path, server.url("/clip.mp4"), "mp4")
    assert [m[0] for m in messages].count("start") == 1
    assert (out / "stream_0.mp4").read_bytes() == data


def test_installed_cli_records_hls_with_the_bundled_m3u8(installed, deps_dir, server, tmp_path):
    importlib.import_module("streamrecorder.recorders.hls")   # fails (not skips) when it cannot
    # The source tree has it, so the installed copy must import it too (e.g. find its m3u8).
    probe = subprocess.run([sys.executable, "-S", "-c", "import streamrecorder.recorders.hls"],
                           env=fresh_env(installed, deps_dir, home=tmp_path), cwd=str(tmp_path),
                           capture_output=True, text=True, timeout=30)
    assert probe.returncode == 0, probe.stderr
    segments = [SAMPLES / ("a_%d.ts" % i) for i in range(3)]
    url = publish_vod(server, "vod", segments, durations={i: 2.0 for i in range(3)})
    out, _ = _record(installed, deps_dir, tmp_path, url, "hls_basic")
    written = out / "stream_0.ts"
    assert written.is_file() and written.stat().st_size > sum(p.stat().st_size for p in segments) // 2


@pytest.mark.parametrize("fake, chosen", [
    ('__version__ = "6.1.0"\nclass M3U8: pass\ndef loads(text): return M3U8()\n', "system"),
    ('__version__ = "2.0.1"\nclass M3U8: pass\ndef loads(text): return M3U8()\n', "bundled"),
    ('__version__ = "6.0.0"\nclass M3U8: pass\n', "bundled"),
    ('class M3U8: pass\ndef loads(text): return M3U8()\n', "bundled"),
    ('raise RuntimeError("broken install")\n', "bundled"),
])
def test_shim_prefers_a_suitable_system_m3u8(installed, tmp_path, fake, chosen):
    site = tmp_path / "site"
    (site / "m3u8").mkdir(parents=True)
    (site / "m3u8" / "__init__.py").write_text(fake)
    code = "from streamrecorder._m3u8 import m3u8; print(m3u8.__name__, m3u8.__file__)"
    proc = subprocess.run([sys.executable, "-S", "-c", code], env=fresh_env(site, installed, home=tmp_path),
                          cwd=str(tmp_path), capture_output=True, text=True, timeout=30)
    assert proc.returncode == 0, proc.stderr
    name, path = proc.stdout.split()
    if chosen == "system":
        assert (name, Path(path)) == ("m3u8", site / "m3u8" / "__init__.py")
    else:
        assert name == "streamrecorder._vendor.m3u8" and path.startswith(str(installed) + os.sep)


# --- format ---------------------------------------------------------------------------------
def test_file_name_carries_the_core_version(ipk):
    import streamrecorder
    assert builder.read_version() == streamrecorder.__version__
    assert ipk.name == "enigma2-plugin-extensions-streamrecorder_%s_all.ipk" % streamrecorder.__version__


def test_ar_layout(ipk, parts):
    proc = subprocess.run([_tool("ar"), "t", str(ipk)], capture_output=True, text=True, check=True)
    assert proc.stdout.split() == ["debian-binary", "control.tar.gz", "data.tar.gz"]
    for fields, _data in ar_members(ipk.read_bytes()):
        assert (fields["uid"], fields["gid"], fields["mode"]) == (b"0", b"0", b"100644")
        assert int(fields["mtime"]) == builder.DEFAULT_EPOCH
    assert parts["debian-binary"] == b"2.0\n"
    for name in ("control.tar.gz", "data.tar.gz"):
        gz = parts[name]
        assert gz[:3] == b"\x1f\x8b\x08"
        assert not gz[3] & 0x08, "%s: the gzip header names a file" % name
        assert gz[4:8] == b"\0\0\0\0", "%s: the gzip header carries a time" % name


def test_control_fields(ipk):
    info = subprocess.run([_tool("dpkg-deb"), "--info", str(ipk)], capture_output=True, text=True)
    assert info.returncode == 0, info.stderr
    for script in ("postinst", "prerm", "postrm"):
        assert script in info.stdout
    proc = subprocess.run([_tool("dpkg-deb"), "--field", str(ipk)], capture_output=True, text=True,
                          check=True)
    fields = dict(line.split(": ", 1) for line in proc.stdout.splitlines())
    import streamrecorder
    assert fields == {
        "Package": "enigma2-plugin-extensions-streamrecorder",
        "Version": streamrecorder.__version__,
        "Architecture": "all",
        "Maintainer": builder.MAINTAINER,
        "Section": "extra",
        "Priority": "optional",
        "Depends": ", ".join(builder.DEPENDS),
        "Recommends": "ffmpeg",
        "Description": builder.DESCRIPTION,
    }
    depends = fields["Depends"].split(", ")
    assert {"python3-core", "python3-requests", "python3-twisted-core"} <= set(depends)
    assert not any("m3u8" in d for d in depends)
    assert "<" in fields["Maintainer"] and fields["Maintainer"].endswith(">")


def test_maintainer_scripts(parts, tmp_path):
    scripts = {}
    for info in tar_entries(parts["control.tar.gz"]):
        if info.isfile() and info.name != "./control":
            assert info.mode == 0o755, info.name
            scripts[info.name[2:]] = tar_file(parts["control.tar.gz"], info.name)
    assert sorted(scripts) == ["postinst", "postrm", "prerm"]
    root = tmp_path / "root"
    plugin, core = root / builder.PLUGIN_DEST, root / builder.CORE_DEST

    def make_caches() -> None:
        for folder in (plugin / "__pycache__", core / "__pycache__", core / "hls" / "__pycache__"):
            folder.mkdir(parents=True, exist_ok=True)
            (folder / "x.cpython-311.pyc").write_bytes(b"stale")

    def run(name: str, arg: str) -> str:
        path = tmp_path / name
        path.write_bytes(scripts[name])
        assert scripts[name].startswith(b"#!/bin/sh\n") and scripts[name].rstrip().endswith(b"exit 0")
        proc = subprocess.run(["sh", str(path), arg], env=dict(os.environ, D=str(root)),
                              capture_output=True, text=True, timeout=30)
        assert proc.returncode == 0, proc.stderr
        assert not list(root.rglob("__pycache__")), name
        return proc.stdout

    make_caches()
    (core / "keep.py").write_text("")
    assert "Restart the GUI" in run("postinst", "configure")
    make_caches()
    run("prerm", "remove")
    make_caches()
    assert run("postrm", "upgrade") == ""
    assert (core / "keep.py").exists()
    (core / "keep.py").unlink()          # the package manager removed the files
    make_caches()
    assert "Restart the GUI" in run("postrm", "remove")
    assert not plugin.exists() and not core.exists()


def test_two_builds_are_identical_and_follow_source_date_epoch(ipk, tmp_path, monkeypatch):
    monkeypatch.delenv("SOURCE_DATE_EPOCH", raising=False)
    again = builder.build(tmp_path / "again")
    assert again.read_bytes() == ipk.read_bytes()
    other = run_build(tmp_path / "epoch", dict(_env_without_epoch(), SOURCE_DATE_EPOCH="1600000000"))
    data = {f["name"]: d for f, d in ar_members(other.read_bytes())}[b"data.tar.gz"]
    assert {info.mtime for info in tar_entries(data)} == {1600000000}
    assert other.read_bytes() != ipk.read_bytes()


# --- contents -------------------------------------------------------------------------------
def _expected_sources() -> Dict[str, Path]:
    """Archive path -> repo file for everything taken from the repo as it is."""
    expected = {}
    trees = [(REPO / "src" / "streamrecorder", builder.CORE_DEST, ("demo", "_vendor", "devserver.py")),
             (REPO / "Plugins" / "Extensions" / "StreamRecorder", builder.PLUGIN_DEST, ())]
    for root, dest, excluded in trees:
        for path in root.rglob("*"):
            rel = path.relative_to(root)
            if not path.is_file() or rel.parts[0] in excluded \
                    or set(rel.parts) & builder.SKIP_DIRS or any(p.startswith(".") for p in rel.parts) \
                    or path.name.endswith(builder.SKIP_SUFFIXES):
                continue
            expected[dest + "/" + rel.as_posix()] = path
    assert any(name.endswith("/plugin.py") for name in expected)
    assert any(name.endswith("/streamrecorder/cli.py") for name in expected)
    return expected


def test_data_members(ipk, parts):
    entries = tar_entries(parts["data.tar.gz"])
    names = [info.name for info in entries]
    listing = subprocess.run([_tool("dpkg-deb"), "--contents", str(ipk)], capture_output=True,
                             text=True, check=True).stdout
    assert [line.split()[-1].rstrip("/") for line in listing.splitlines()] == \
        [n.rstrip("/") for n in names]
    assert names == sorted(names, key=lambda n: PurePosixPath(n).parts)
    for info in entries:
        assert (info.uid, info.gid, info.uname, info.gname) == (0, 0, "root", "root"), info.name
        assert info.mtime == builder.DEFAULT_EPOCH
        assert info.mode in ((0o755,) if info.isdir() else (0o644, 0o755)), info.name
        parts_ = PurePosixPath(info.name).parts
        assert not {"__pycache__", "tests", "test", "demo"} & set(parts_), info.name
        assert not info.name.endswith((".pyc", ".po", ".pot")) and not info.name.endswith("devserver.py")
    files = {info.name[2:]: info for info in entries if info.isfile()}
    for name in files:
        assert name.startswith((builder.PLUGIN_DEST + "/", builder.CORE_DEST + "/")), name
    for name, source in _expected_sources().items():
        assert name in files, "%s is missing from the package" % name
        assert tar_file(parts["data.tar.gz"], "./" + name) == source.read_bytes()
        assert files[name].mode == (0o755 if source.stat().st_mode & 0o111 else 0o644), name
    for po in PO_FILES:
        rel = po.relative_to(REPO / "Plugins" / "Extensions" / "StreamRecorder").with_suffix(".mo")
        assert builder.PLUGIN_DEST + "/" + rel.as_posix() in files
    assert builder.E2_PYTHON + "/Plugins/__init__.py" not in files


def test_bundled_m3u8_is_the_pinned_release_with_relative_imports(installed):
    dist = importlib.metadata.distribution("m3u8")
    assert dist.version == "6.0.0"
    release = Path(str(dist.locate_file("m3u8")))
    vendored = installed / "streamrecorder" / "_vendor" / "m3u8"
    assert sorted(p.name for p in vendored.iterdir()) == sorted(
        ["LICENSE"] + [p.name for p in release.iterdir() if p.name != "__pycache__"])
    licence = [f for f in dist.files if f.name == "LICENSE"][0]
    assert (vendored / "LICENSE").read_bytes() == Path(str(dist.locate_file(licence))).read_bytes()
    for path in sorted(vendored.glob("*.py")):
        text = path.read_text()
        assert builder.absolute_m3u8_imports(text, path.name) == []
        original = (release / path.name).read_text().splitlines()
        changed = [(a, b) for a, b in zip(original, text.splitlines()) if a != b]
        assert len(original) == len(text.splitlines())
        assert all(a.lstrip().startswith(("from m3u8", "import m3u8")) and b.lstrip().startswith("from .")
                   for a, b in changed), changed


def _vermin() -> Path:
    """vermin of this venv (the test extra), else of the main .venv (the Python 3.8 pass of
    scripts/test.sh runs in .venv38, which holds only the pinned oldest libraries)."""
    for folder in (Path(sys.executable).parent, REPO / ".venv" / "bin"):
        if (folder / "vermin").is_file():
            return folder / "vermin"
    found = shutil.which("vermin")
    if found is None:
        pytest.fail("vermin is missing: pip install -e '.[test]' (scripts/test.sh installs it)",
                    pytrace=False)
    return Path(found)


def test_shipped_python_is_3_8_compatible(installed):
    vermin = _vermin()
    proc = subprocess.run([str(vermin), "-t=3.8-", "--no-tips", "--violations", "--no-parse-comments",
                           str(installed)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr


# --- the builder's parts --------------------------------------------------------------------
PO_SAMPLE = r"""# a comment
msgid ""
msgstr ""
"Project-Id-Version: sample\n"
"Language: de\n"
"MIME-Version: 1.0\n"
"Content-Type: text/plain; charset=UTF-8\n"
"Content-Transfer-Encoding: 8bit\n"
"Plural-Forms: nplurals=2; plural=(n != 1);\n"

msgid "Save"
msgstr "Speichern"

#. a multi-line entry with escapes
msgid ""
"Line one\n"
"with \"quotes\"\ttab"
msgstr ""
"Zeile eins\n"
"mit \"Anführungszeichen\"\tTab"

msgctxt "button"
msgid "Open"
msgstr "Öffnen"

msgid "Open"
msgstr "Offen"

msgid "%d file"
msgid_plural "%d files"
msgstr[0] "%d Datei"
msgstr[1] "%d Dateien"

#, fuzzy, python-format
msgid "Guess %s"
msgstr "Geraten %s"

msgid "Untranslated"
msgstr ""

#~ msgid "Old"
#~ msgstr "Alt"
"""


def test_catalogues_are_gnu_msgfmt_output(parts, tmp_path):
    """The build compiles with GNU msgfmt: each packaged .mo is msgfmt's own output, byte for
    byte, and the sample's contexts, plurals, fuzzy entries and escapes come out right."""
    po = tmp_path / "sample.po"
    po.write_text(PO_SAMPLE, encoding="utf-8")
    mo = builder.compile_mo(po)
    assert mo == msgfmt_mo(po, tmp_path / "sample.mo")
    catalogue = gettext.GNUTranslations(io.BytesIO(mo))
    assert catalogue.gettext("Save") == "Speichern"
    assert catalogue.gettext('Line one\nwith "quotes"\ttab') == 'Zeile eins\nmit "Anführungszeichen"\tTab'
    assert catalogue.pgettext("button", "Open") == "Öffnen"
    assert catalogue.gettext("Open") == "Offen"
    assert catalogue.ngettext("%d file", "%d files", 1) == "%d Datei"
    assert catalogue.ngettext("%d file", "%d files", 3) == "%d Dateien"
    assert catalogue.gettext("Guess %s") == "Guess %s"          # fuzzy: left out
    assert catalogue.gettext("Untranslated") == "Untranslated"
    assert catalogue.gettext("Old") == "Old"
    assert catalogue.charset() == "UTF-8"
    assert PO_FILES
    for source in PO_FILES:
        rel = source.relative_to(REPO / "Plugins" / "Extensions" / "StreamRecorder").with_suffix(".mo")
        packaged = tar_file(parts["data.tar.gz"], "./%s/%s" % (builder.PLUGIN_DEST, rel.as_posix()))
        assert packaged == msgfmt_mo(source, tmp_path / "plugin.mo"), rel


@pytest.mark.parametrize("text", ['msgid "a"\n', 'msgid "a"\nmsgstr "b\n', 'msgid "a"\nmsgstr "\\q"\n',
                                  'msgid "a"\nmsgid_plural "b"\nmsgstr "c"\n', '"orphan"\n',
                                  '#, python-format\nmsgid "%s and %d"\nmsgstr "%s"\n'])
def test_broken_po_fails_the_build(text, tmp_path):
    po = tmp_path / "broken.po"
    po.write_text(text, encoding="utf-8")
    with pytest.raises(builder.BuildError, match="msgfmt failed on .*broken.po: .*broken.po:"):
        builder.compile_mo(po)


def test_build_without_msgfmt_says_what_to_install(tmp_path):
    """msgfmt is looked up on PATH; without it the build stops with the package to install."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    env = dict(_env_without_epoch(), PATH=str(bin_dir))
    proc = subprocess.run([sys.executable, str(BUILD_PY), "--out", str(tmp_path / "dist")], env=env,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "msgfmt" in proc.stderr and "apt-get install gettext" in proc.stderr, proc.stderr
    assert "Traceback" not in proc.stderr
    assert not (tmp_path / "dist").exists() or not list((tmp_path / "dist").iterdir())


def test_import_rewrite_covers_every_form():
    source = ("from m3u8 import protocol\nfrom m3u8.model import (\n    M3U8,\n)\n"
              "import m3u8\nimport m3u8io\nfrom m3u8x import y\n")
    assert builder.relative_m3u8_imports(source, 0) == (
        "from . import protocol\nfrom .model import (\n    M3U8,\n)\n"
        "from .. import m3u8\nimport m3u8io\nfrom m3u8x import y\n")
    deeper = builder.relative_m3u8_imports("from m3u8.parser import parse\n", 1)
    assert deeper == "from ..parser import parse\n"
    found = builder.absolute_m3u8_imports("import m3u8.model as m\nfrom m3u8 import x\n", "f")
    assert found == ["f:1", "f:2"]


def test_build_refuses_another_m3u8_release_and_direct_imports(monkeypatch):
    monkeypatch.setattr(builder, "M3U8_VERSION", "9.9.9")
    with pytest.raises(builder.BuildError, match="m3u8==9.9.9"):
        builder.collect_m3u8({})
    files = {builder.CORE_DEST + "/hls/playlist.py": builder.Entry(b"import m3u8\n", 0o644),
             builder.CORE_DEST + "/_m3u8.py": builder.Entry(b"import m3u8\n", 0o644)}
    with pytest.raises(builder.BuildError, match="src/streamrecorder/hls/playlist.py:1$"):
        builder.check_no_direct_m3u8(files)
