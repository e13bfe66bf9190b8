"""The Enigma2 layer's screens, settings, stream list, skins, translations and file keeping."""

import ast
import inspect
import json
import os
import struct
import time
import xml.etree.ElementTree as ET

import pytest
import pytest_twisted

from helpers import until
from plugin_harness import *  # noqa: F401,F403 - fixtures: enigma_env, reactor_guard
from plugin_harness import PLUGIN_DIR, compile_po, install_enigma_stubs, press

install_enigma_stubs()

from Components.config import configfile  # noqa: E402
from Plugins.Extensions.StreamRecorder import (  # noqa: E402
    _, compat, plugin, recordings, screens, settings, skins, storage, streams, texts,
)
from Plugins.Extensions.StreamRecorder.screens import StreamEditScreen, StreamRecorderMain  # noqa: E402
from Screens.LocationBox import LocationBox  # noqa: E402
from Screens.MessageBox import MessageBox  # noqa: E402
from Screens.VirtualKeyBoard import VirtualKeyBoard  # noqa: E402
from streamrecorder.errors import ERROR_IDS  # noqa: E402


async def open_main(env):
    plugin.main(env.session)
    main = env.session.top(StreamRecorderMain)
    await main.loading
    return main


def saved(env):
    return json.loads(env.streams_file.read_text(encoding="utf-8"))["streams"]


# --- descriptors ----------------------------------------------------------------------------
def test_plugin_descriptors(enigma_env):
    from Plugins.Plugin import PluginDescriptor
    descriptors = plugin.Plugins(path=str(PLUGIN_DIR))
    wheres = [d.where for d in descriptors]
    assert wheres == [[PluginDescriptor.WHERE_PLUGINMENU], [PluginDescriptor.WHERE_EXTENSIONSMENU],
                      [PluginDescriptor.WHERE_AUTOSTART], [PluginDescriptor.WHERE_SESSIONSTART]]
    browser, extensions, autostart, sessionstart = descriptors
    # enigma2 calls these at load/quit and at session start; nothing runs when nothing is enabled.
    autostart(reason=0)
    sessionstart(reason=0, session=enigma_env.session)
    from Plugins.Extensions.StreamRecorder import controller
    assert controller._controller is None
    icon = PLUGIN_DIR / browser.iconstr
    data = icon.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and struct.unpack(">II", data[16:24]) == (100, 40)
    # The extensions menu only lists functions with exactly one positional parameter.
    assert extensions.fnc.__code__.co_argcount == 1
    params = inspect.signature(extensions.fnc).parameters.values()
    assert [p.kind for p in params] == [inspect.Parameter.POSITIONAL_OR_KEYWORD,
                                        inspect.Parameter.VAR_KEYWORD]
    extensions(session=enigma_env.session)  # how enigma2 calls it
    assert isinstance(enigma_env.session.top(), StreamRecorderMain)
    # plugin.py only declares: it imports nothing but the descriptor class and typing.
    tree = ast.parse((PLUGIN_DIR / "plugin.py").read_text())
    imports = {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    assert imports <= {"typing", "Plugins.Plugin", None, "screens", "controller"}, imports


# --- the stream list ------------------------------------------------------------------------
@pytest_twisted.ensureDeferred
async def test_add_edit_delete_streams_with_keys(enigma_env, reactor_guard):
    env = enigma_env
    main = await open_main(env)
    assert main["streams"].list == []
    press(main, "green")
    env.session.top(VirtualKeyBoard).close("  Evening news ")
    url_box = env.session.top(VirtualKeyBoard)
    assert url_box.value == "https://"
    url_box.close("http://example.com/news/master.m3u8")
    await main.store.idle()
    assert saved(env) == [{"name": "Evening news", "url": "http://example.com/news/master.m3u8",
                           "recorder": "auto"}]
    assert main["streams"].list == [("Evening news", "http://example.com/news/master.m3u8")]

    # A second one, with a bad URL first: refused with a message, nothing saved.
    press(main, "green")
    env.session.top(VirtualKeyBoard).close("Film")
    env.session.top(VirtualKeyBoard).close("ftp://example.com/film.mp4")
    error = env.session.top(MessageBox)
    assert error.type == MessageBox.TYPE_ERROR and "ftp://example.com/film.mp4" in error.text
    error.close()
    press(main, "green")
    env.session.top(VirtualKeyBoard).close("Film")
    env.session.top(VirtualKeyBoard).close("https://example.com/film.mp4")
    await main.store.idle()
    assert [s["name"] for s in saved(env)] == ["Evening news", "Film"]
    assert main["streams"].getIndex() == 1

    # Edit the film: new name through the keyboard, recorder via RIGHT, save with green.
    press(main, "yellow")
    editor = env.session.top(StreamEditScreen)
    assert [e[1].value for e in editor["config"].list] == [
        "Film", "https://example.com/film.mp4", "auto"]
    press(editor, "ok")
    env.session.top(VirtualKeyBoard).close("Film (director's cut)")
    editor["config"].setCurrentIndex(2)
    press(editor, "right")
    press(editor, "green")
    assert env.session.top() is main
    await main.store.idle()
    assert saved(env)[1] == {"name": "Film (director's cut)", "url": "https://example.com/film.mp4",
                             "recorder": "mp4"}

    # Delete asks first; "no" keeps it, "yes" removes it.
    press(main, "red")
    question = env.session.top(MessageBox)
    assert question.type == MessageBox.TYPE_YESNO and "Film (director's cut)" in question.text
    question.close(False)
    await main.store.idle()
    assert len(saved(env)) == 2
    press(main, "red")
    env.session.top(MessageBox).close(True)
    await main.store.idle()
    assert [s["name"] for s in saved(env)] == ["Evening news"]
    assert main["streams"].list == [("Evening news", "http://example.com/news/master.m3u8")]
    press(main, "cancel")
    assert env.session.top() is None


@pytest_twisted.ensureDeferred
async def test_stream_list_is_written_atomically(enigma_env, monkeypatch):
    path = str(enigma_env.streams_file)
    store = streams.StreamStore(path)
    events = []
    real_fsync, real_replace = os.fsync, os.replace

    def spy_fsync(fd):
        events.append(("fsync", fd))
        return real_fsync(fd)

    def spy_replace(src, dst):
        with open(src, "rb") as f:
            events.append(("replace", src, dst, json.loads(f.read().decode())))
        return real_replace(src, dst)

    monkeypatch.setattr(os, "fsync", spy_fsync)
    monkeypatch.setattr(os, "replace", spy_replace)
    store.add("One", "http://example.com/1.mp4")
    await store.save()
    kinds = [e[0] for e in events]
    assert kinds[:3] == ["fsync", "replace", "fsync"], kinds  # file, rename, folder
    _, src, dst, content = events[1]
    assert dst == path and os.path.dirname(src) == os.path.dirname(path) and src != path
    assert content["streams"][0]["name"] == "One"
    assert sorted(os.listdir(os.path.dirname(path))) == ["streams.json"]

    # Many quick saves: serialised, the newest list wins.
    for n in range(2, 12):
        store.add("Stream %d" % n, "http://example.com/%d.mp4" % n)
        store.save()
    await store.idle()
    assert len(saved(enigma_env)) == 11

    # A failing write leaves the previous file whole and no temporary file behind.
    def broken_replace(src, dst):
        raise OSError(28, "No space left on device")
    monkeypatch.setattr(os, "replace", broken_replace)
    store.remove(0)
    with pytest.raises(OSError):
        await store.save()
    assert len(saved(enigma_env)) == 11
    assert sorted(os.listdir(os.path.dirname(path))) == ["streams.json"]

    # A broken file is set aside, not overwritten by an empty list.
    monkeypatch.setattr(os, "replace", real_replace)
    enigma_env.streams_file.write_text("{not json")
    assert await streams.StreamStore(path).load() == []
    assert (enigma_env.streams_file.parent / "streams.json.bad").read_text() == "{not json"


# --- settings -------------------------------------------------------------------------------
@pytest_twisted.ensureDeferred
async def test_settings_screen(enigma_env, reactor_guard):
    env = enigma_env
    s = env.settings
    assert s.verify_tls.value is True and s.on_exit.value == "ask"
    assert s.user_agent.value.startswith("Mozilla/5.0")
    main = await open_main(env)
    press(main, "menu")
    screen = env.session.top(settings.StreamRecorderSettings)
    names = [entry[1] for entry in screen["config"].list]
    for element in (s.rec_dir, s.movie_dir, s.buffering, s.parallel, s.quality, s.allow_transcode,
                    s.on_exit, s.user_agent, s.audio_language, s.verify_tls):
        assert element in names
    # No folder configured: the storage found on a worker thread is proposed.
    assert await until(lambda: s.rec_dir.value == str(env.hdd / "streamrecorder"))
    assert "hard disk" in screen["description"].text
    # A folder in RAM is refused with a message.
    screen["config"].setCurrentIndex(0)
    press(screen, "ok")
    env.session.top(LocationBox).close(str(env.ram_dir) + "/")
    assert await until(lambda: isinstance(env.session.top(), MessageBox))
    assert "RAM" in env.session.top().text
    env.session.top().close()
    assert s.rec_dir.value == str(env.hdd / "streamrecorder")
    press(screen, "ok")
    env.session.top(LocationBox).close(str(env.hdd / "rec") + "/")
    assert await until(lambda: s.rec_dir.value == str(env.hdd / "rec") + "/")
    # TLS verification off with RIGHT; the user agent through the keyboard; save.
    screen["config"].setCurrentIndex(names.index(s.verify_tls))
    press(screen, "right")
    screen["config"].setCurrentIndex(names.index(s.user_agent))
    press(screen, "ok")
    env.session.top(VirtualKeyBoard).close("TestAgent/1.0")
    saves = configfile.saves
    press(screen, "green")
    assert env.session.top() is main and configfile.saves == saves + 1
    assert s.verify_tls.saved_value == "false" and s.user_agent.value == "TestAgent/1.0"
    from Plugins.Extensions.StreamRecorder import config as cfg
    assert cfg.recorder_options() == {"user_agent": "TestAgent/1.0", "verify_tls": False,
                                      "parallel": 4, "allow_transcode": False,
                                      "audio_language": None, "reserve_bytes": 500_000_000}
    s.quality.value = "720"
    s.audio_language.value = "de"
    assert cfg.recorder_options()["audio_language"] == "de"
    defaults = cfg.resolve_defaults()
    assert defaults["quality"] == 720 and defaults["audio_language"] == "de"
    assert defaults["recorder_id"] == "auto" and defaults["buffering"] == 5


def test_storage_never_ram_and_only_mounted(enigma_env, monkeypatch, tmp_path):
    env = enigma_env
    assert storage.find_default() == str(env.hdd / "streamrecorder")
    assert storage.prepare_folder(None) == str(env.hdd / "streamrecorder")
    assert (env.hdd / "streamrecorder").is_dir()
    with pytest.raises(storage.StorageError) as err:
        storage.prepare_folder(str(env.ram_dir / "rec"))
    assert err.value.kind == "ram" and not (env.ram_dir / "rec").exists()
    # /media/usb exists but nothing is mounted there (it lives on the root file system).
    usb = tmp_path / "media" / "usb"
    usb.mkdir()
    monkeypatch.setattr(storage, "MEDIA_ROOTS", (str(usb),))
    assert storage.find_default() is None
    with pytest.raises(storage.StorageError) as err:
        storage.prepare_folder(None)
    assert err.value.kind == "none"
    monkeypatch.setattr(storage, "MIN_FREE_BYTES", 1 << 62)
    monkeypatch.setattr(storage, "MEDIA_ROOTS", (str(env.hdd),))
    assert storage.find_default() is None  # mounted, but full


# --- skins ----------------------------------------------------------------------------------
def test_skins_for_hd_and_fhd_match_the_screens(enigma_env):
    from enigma import set_desktop_size
    main = StreamRecorderMain(enigma_env.session)
    editor = StreamEditScreen(enigma_env.session, {"name": "a", "url": "http://x/", "recorder": "auto"})
    setup = settings.StreamRecorderSettings(enigma_env.session)
    instances = {"StreamRecorderMain": main, "StreamRecorderEdit": editor,
                 "StreamRecorderSettings": setup}
    sizes = {}
    for name in ("skin_hd.xml", "skin_fhd.xml"):
        root = ET.parse(str(PLUGIN_DIR / name)).getroot()
        found = {s.get("name"): s for s in root.iter("screen")}
        assert set(found) == set(instances)
        for screen_name, element in found.items():
            widgets = {w.get("name") or w.get("source") for w in element.iter("widget")}
            assert widgets <= set(instances[screen_name]), (name, screen_name, widgets)
        sizes[name] = found["StreamRecorderMain"].get("size")
    assert sizes == {"skin_hd.xml": "1100,620", "skin_fhd.xml": "1650,930"}
    assert 'size="1100,620"' in main.skin
    set_desktop_size(1920, 1080)
    assert 'size="1650,930"' in StreamRecorderMain(enigma_env.session).skin
    assert skins.skin_file(1280).endswith("skin_hd.xml")
    # No layout in Python: no positions or sizes in the plugin's modules.
    for source in PLUGIN_DIR.glob("*.py"):
        assert "position=" not in source.read_text(), source


# --- translations ---------------------------------------------------------------------------
def _translatable_strings():
    found = set()
    for source in PLUGIN_DIR.glob("*.py"):
        for node in ast.walk(ast.parse(source.read_text(encoding="utf-8"))):
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
                    and node.func.id == "_" and node.args
                    and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str)):
                found.add(node.args[0].value)
    return found


def test_german_catalogue_is_complete_and_used(enigma_env, tmp_path):
    from Components.Language import language
    import Plugins.Extensions.StreamRecorder as package
    catalogue = compile_po(PLUGIN_DIR / "locale" / "de" / "LC_MESSAGES" / "StreamRecorder.po",
                           tmp_path / "locale" / "de" / "LC_MESSAGES" / "StreamRecorder.mo")
    missing = sorted(_translatable_strings() - set(catalogue))
    assert not missing, missing
    for msgid, msgstr in catalogue.items():
        assert msgid.count("%") == msgstr.count("%"), msgid
    language.activateLanguage("de_DE")
    package.locale_init(str(tmp_path / "locale"))
    try:
        assert _("Delete") == "Löschen"
        assert "Zugriff verweigert" in texts.error_text("forbidden")
        assert plugin.Plugins()[0].name == "Stream Recorder"
        assert screens.StreamRecorderMain(enigma_env.session)["key_green"].text == "Hinzufügen"
    finally:
        language.activateLanguage("en_EN")
        package.locale_init()
    assert _("Delete") == "Delete"


# --- words for the viewer -------------------------------------------------------------------
def test_every_error_id_has_its_own_words(enigma_env):
    generic = texts.error_text(None)
    seen = set()
    for error_id in ERROR_IDS:
        text = texts.error_text(error_id)
        assert text and (text != generic or error_id == "failure"), error_id
        seen.add(text)
    assert len(seen) == len(ERROR_IDS)
    assert "DRM" in texts.error_text("drm_protected")
    assert "Access denied" in texts.error_text("forbidden")
    assert "certificate" in texts.error_text("tls") and "settings" in texts.error_text("tls")
    assert texts.error_text("timeout", "no answer from x").endswith("Details: no answer from x")


def test_status_lines(enigma_env):
    assert texts.status_lines({"state": "idle", "last_result": ""}) == "No recording is running."
    text = texts.status_lines({"state": "recording", "title": "News", "progress": {
        "recorder": {"type": "hls_live"}, "section_index": 1, "segment_index": 42,
        "bytes": 3 << 20, "total_bytes": None, "percent": None, "speed_bps": 1 << 20,
        "eta_s": None, "media_s": 83.0, "skipped_segments": 0}})
    assert text.splitlines() == ["Recording: News", "Recorder: HLS live", "Section 2, segment 42",
                                 "3.0 MB at 1.0 MB/s", "Media time: 0:01:23"]
    text = texts.status_lines({"state": "recording", "title": "Film", "progress": {
        "recorder": {"type": "mp4"}, "section_index": 0, "segment_index": 0, "bytes": 1000,
        "total_bytes": 4000, "percent": 25.0, "speed_bps": 500, "eta_s": 6.0, "media_s": 0}})
    assert "1000 B / 3.9 KB at 500 B/s" in text and "25 % - 0:00:06 left" in text


# --- keeping and deleting files -------------------------------------------------------------
def test_keep_moves_sections_with_meta_and_delete_removes_only_owned(tmp_path):
    rec, movies = tmp_path / "rec", tmp_path / "movie"
    rec.mkdir()
    for name, size in (("stream_0.ts", 1880), ("stream_0.ts.ap", 16), ("stream_1.ts", 3760),
                       ("stream_10.ts", 188), ("stream_2.ts", 0), ("notes.txt", 5)):
        (rec / name).write_bytes(b"G" * size)
    started = time.mktime((2024, 5, 17, 20, 15, 0, 0, 0, -1))
    title = 'News: "today" <live>|a/b\\c?*'
    kept = recordings.keep(str(rec), str(movies), title, started, "http://example.com/x.m3u8")
    base = recordings.safe_title(title) + " - 2024-05-17 20-15"
    assert [os.path.basename(p) for p in kept] == [base + ".ts", base + " (2).ts", base + " (3).ts"]
    for bad in ':?*"<>|\\':
        assert bad not in base
    assert (movies / (base + ".ts")).stat().st_size == 1880
    assert (movies / (base + " (2).ts")).stat().st_size == 3760  # stream_1 before stream_10
    assert (movies / (base + ".ts.ap")).is_file()
    meta = (movies / (base + ".ts.meta")).read_text().split("\n")
    assert meta[:4] == ["1:0:0:0:0:0:0:0:0:0:", title, "http://example.com/x.m3u8", str(int(started))]
    assert meta[6] == "1880" and meta[8] == "188"
    assert (movies / (base + " (2).ts.meta")).read_text().split("\n")[1] == title + " (2)"
    assert sorted(os.listdir(rec)) == ["notes.txt", "stream_2.ts"]  # empty section left behind
    # Same title and minute again: unique names, nothing overwritten.
    (rec / "stream_0.ts").write_bytes(b"x" * 10)
    again = recordings.keep(str(rec), str(movies), title, started)
    assert [os.path.basename(p) for p in again] == [base + "_2.ts"]
    assert (movies / (base + ".ts")).stat().st_size == 1880
    # MP4 recordings get the gstreamer service type in their .meta.
    (rec / "stream_0.mp4").write_bytes(b"x" * 10)
    mp4 = recordings.keep(str(rec), str(movies), "Film", started)
    assert (movies / (os.path.basename(mp4[0]) + ".meta")).read_text().startswith(
        "4097:0:0:0:0:0:0:0:0:0:\nFilm\n")
    # Long titles are bounded (FAT/ext4 allow 255 bytes per name).
    long_name = recordings.safe_title("Ü" * 400)
    assert len(long_name.encode()) <= recordings.MAX_TITLE_BYTES
    assert recordings.safe_title(" ..:: ") == "StreamRecorder"
    # Delete removes only the recorder's own files.
    assert recordings.delete(str(rec)) == 1
    assert sorted(os.listdir(rec)) == ["notes.txt"]


# --- image differences ----------------------------------------------------------------------
@pytest_twisted.ensureDeferred
async def test_compat_timer_on_both_timer_apis(enigma_env):
    from enigma import eTimer
    fired = []
    timer = compat.Timer(lambda: fired.append("openpli"))
    timer.start(10, True)

    class Signal:
        def __init__(self):
            self.funcs = []

        def connect(self, func):
            self.funcs.append(func)
            return ("connection", func)

    class DreamTimer:
        """DreamOS-style: no callback list, only timeout.connect()."""

        def __init__(self):
            self.timeout = Signal()
            self._inner = eTimer()
            self._inner.callback.append(lambda: [f() for f in self.timeout.funcs])

        def start(self, msec, single):
            self._inner.start(msec, single)

        def stop(self):
            self._inner.stop()

        def isActive(self):
            return self._inner.isActive()

    dream = compat.Timer(lambda: fired.append("dream"), factory=DreamTimer)
    assert dream._conn is not None
    dream.start(10, True)
    assert await until(lambda: len(fired) == 2, timeout=2)
    assert sorted(fired) == ["dream", "openpli"]
    assert compat.desktop_width() == 1280


# --- the guard itself -----------------------------------------------------------------------
def test_reactor_guard_catches_blocking_plugin_code(monkeypatch):
    import socket
    import threading
    from plugin_harness import ReactorGuard
    guard = ReactorGuard()
    guard.install(monkeypatch)
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    # Code compiled as if it lived in the plugin folder, run on the reactor thread.
    code = compile(
        "import socket, threading\n"
        "t = threading.Thread(target=lambda: None)\n"
        "t.start()\n"
        "t.join()\n"
        "s = socket.create_connection(address)\n"
        "s.close()\n", str(PLUGIN_DIR / "blocking_example.py"), "exec")
    exec(code, {"address": listener.getsockname()})
    kinds = [v.split(" on the reactor thread")[0].split(" ")[0] for v in guard.violations]
    assert kinds == ["join", "DNS", "socket"], guard.violations
    # The same calls from test code, or from plugin code on a worker thread, are fine.
    thread = threading.Thread(target=lambda: exec(code, {"address": listener.getsockname()}))
    thread.start()
    thread.join()
    listener.close()
    assert len(guard.violations) == 3
