"""The Enigma2 layer's screens, settings, stream list, skins, translations and file keeping, on
OpenPLi's real enigma2 tree (plugin_harness.py): the plugin is loaded by enigma2's plugin list,
opened from the blue extensions menu and driven with remote-control keys.

The helpers at the top are what a user does with the remote; test_plugin_storage.py uses them
too.
"""

import ast
import gettext
import json
import locale
import os
import shutil
import subprocess
import sys
import time
import xml.etree.ElementTree as ET

import pytest
import pytest_twisted

from plugin_harness import *  # noqa: F401,F403 - fixtures: receiver, reactor_guard
from plugin_harness import PLUGIN_DIR, REPO, load_tree

PLUGIN_NAME = "Stream Recorder"

# What test_plugin_storage.py takes from here (fixtures and the remote's helpers).
__all__ = ["enigma2_plugins", "started", "push", "choose", "choice_key",
           "answer_yes_no", "type_on_keyboard", "enter_text", "select_entry", "enter_number",
           "pick_folder", "open_plugin", "start_plugins", "names", "saved", "PLUGIN_NAME"]


# --- what a user does with the remote -------------------------------------------------------
async def push(rx, *keys):
    """Press keys one after the other (keyids.py names), then let the GUI settle."""
    for key in keys:
        rx.press(key)
    await rx.settle()


def choice_key(box, wanted):
    """The remote key of a ChoiceBox entry: by its value, or by its exact text."""
    for key, entry in box.keymap.items():
        if entry[1] == wanted or entry[0] == wanted:
            return "KEY_" + key.upper()
    raise AssertionError("%r is not offered in %r" % (wanted, [e[0] for e in box.keymap.values()]))


async def choose(rx, wanted):
    """Answer the ChoiceBox on top with the key of the entry `wanted` (value or text)."""
    from Screens.ChoiceBox import ChoiceBox
    await push(rx, choice_key(rx.top(ChoiceBox), wanted))


async def answer_yes_no(rx, yes):
    """Move the cursor of the yes/no MessageBox on top to the answer and press OK."""
    from Screens.MessageBox import MessageBox
    box = rx.top(MessageBox)
    assert box.type == MessageBox.TYPE_YESNO, box.text
    for _ in box.list:
        if box["list"].getCurrent()[1] is yes:
            break
        rx.press("KEY_DOWN")
    assert box["list"].getCurrent()[1] is yes
    await push(rx, "KEY_OK")


def type_on_keyboard(rx, text):
    """Type text with the remote on the VirtualKeyBoard on top, key by key as a user does:
    BLUE (caps lock) to the level that has the character, DOWN to its row, RIGHT to its key,
    OK."""
    from Screens.VirtualKeyBoard import SPACE, VirtualKeyBoard
    keyboard = rx.top(VirtualKeyBoard)

    def label():
        row, column = divmod(keyboard.selectedKey, keyboard.keyboardWidth)
        return keyboard.keyList[keyboard.shiftLevel][row][column]

    for char in text:
        wanted = SPACE if char == " " else char
        levels = [n for n, rows in enumerate(keyboard.keyList) if any(wanted in row for row in rows)]
        assert levels, "%r is not on the keyboard" % char
        for _ in range(keyboard.shiftLevels):
            if keyboard.shiftLevel == levels[0]:
                break
            rx.press("KEY_BLUE")
        rows = keyboard.keyList[keyboard.shiftLevel]
        row = next(n for n, keys in enumerate(rows) if wanted in keys)
        for _ in rows:
            if keyboard.selectedKey // keyboard.keyboardWidth == row:
                break
            rx.press("KEY_DOWN")
        for _ in range(2 * keyboard.keyboardWidth):
            if label() == wanted:
                break
            rx.press("KEY_RIGHT")
        assert label() == wanted, (char, label())
        rx.press("KEY_OK")


async def enter_text(rx, text):
    """The VirtualKeyBoard on top: erase what it shows, type text, GREEN."""
    from Screens.VirtualKeyBoard import VirtualKeyBoard
    keyboard = rx.top(VirtualKeyBoard)
    rx.press("KEY_PVR")  # TextEditActions "erase"
    assert keyboard["text"].getText() == ""
    type_on_keyboard(rx, text)
    assert keyboard["text"].getText() == text
    await push(rx, "KEY_GREEN")


async def select_entry(rx, screen, element):
    """Move the cursor of a setup list (ConfigList) to the entry of element with UP/DOWN."""
    elements = [entry[1] for entry in screen["config"].list]
    assert element in elements, "%r is not shown" % element
    key = "KEY_DOWN" if elements.index(element) > screen["config"].getCurrentIndex() else "KEY_UP"
    for _ in elements:
        if screen["config"].getCurrent()[1] is element:
            break
        rx.press(key)
    assert screen["config"].getCurrent()[1] is element
    await rx.settle(1)


async def enter_number(rx, screen, element, number):
    """A ConfigInteger: to its first digit with LEFT, then every digit of its field."""
    await select_entry(rx, screen, element)
    width = len(str(element.limits[0][1]))
    for _ in range(width):
        rx.press("KEY_LEFT")
    for digit in str(number).rjust(width, "0"):
        rx.press("KEY_" + digit)
    assert element.value == number
    await rx.settle(1)


async def pick_folder(rx, target):
    """In the LocationBox on top: walk the folder list to target (OK enters a folder, the
    parent entry goes up), highlight target and press GREEN."""
    from Screens.LocationBox import LocationBox
    box = rx.top(LocationBox)
    target = target.rstrip("/") + "/"
    for _ in range(40):
        files = box["filelist"]
        entries = [entry[0][0] for entry in files.getFileList()]
        if target in entries:
            step, key = target, "KEY_GREEN"
        else:
            here = files.getCurrentDirectory() or "/"
            inward = [p for p in entries if p and target.startswith(p) and len(p) > len(here)]
            step, key = (inward or [entries[0]])[0], "KEY_OK"  # entries[0]: <Parent directory>
        for _ in entries:
            if files.getSelection()[0] == step:
                break
            rx.press("KEY_DOWN")
        assert files.getSelection()[0] == step
        await push(rx, key)
        if key == "KEY_GREEN":
            return
    raise AssertionError("the LocationBox never showed %s" % target)


async def open_plugin(rx):
    """BLUE on the InfoBar (enigma2's extensions menu), then the plugin's entry; waits for
    the stream list and the left-over search."""
    from Plugins.Extensions.StreamRecorder.screens import StreamRecorderMain
    from Screens.InfoBar import InfoBar
    rx.top(InfoBar)
    await push(rx, "KEY_BLUE")
    await choose(rx, PLUGIN_NAME)
    opened = rx.find(StreamRecorderMain)
    assert len(opened) == 1, rx.stack()
    main = opened[0]  # on top, or below the left-over question
    await main.loading
    await main.leftover_check
    await rx.settle()
    return main


def start_plugins(rx):
    """What enigma2 does at start: read the plugin folders (WHERE_AUTOSTART runs with reason
    0), then give each WHERE_SESSIONSTART plugin the session (StartEnigma's Session)."""
    from Components.PluginComponent import plugins
    from Plugins.Plugin import PluginDescriptor
    plugins.readPluginList(str(REPO / "Plugins"))
    ours = [p for p in plugins.pluginList if p.path == str(PLUGIN_DIR)]
    assert len(ours) == 8, plugins.pluginList
    for p in plugins.getPlugins(PluginDescriptor.WHERE_SESSIONSTART):
        p(reason=0, session=rx.session)
    return ours


@pytest.fixture
def enigma2_plugins(receiver):
    """The receiver; enigma2's plugin list is emptied after the test (without WHERE_AUTOSTART
    reason 1: the harness stops what is left)."""
    from Components.PluginComponent import plugins
    yield receiver
    plugins.clearPluginList()


@pytest.fixture
def started(enigma2_plugins):
    """The receiver with the plugin loaded as enigma2 loads it at start."""
    start_plugins(enigma2_plugins)
    return enigma2_plugins


def saved(rx):
    return json.loads(rx.streams_file.read_text(encoding="utf-8"))["streams"]


def names(folder):
    return sorted(os.listdir(folder)) if os.path.isdir(folder) else []


# --- descriptors ----------------------------------------------------------------------------
@pytest_twisted.ensureDeferred
async def test_plugin_descriptors(enigma2_plugins):
    from Plugins.Extensions.StreamRecorder import controller, plugin
    from Plugins.Extensions.StreamRecorder.screens import StreamRecorderMain
    from Plugins.Plugin import PluginDescriptor
    from Screens.InfoBar import InfoBar
    rx = enigma2_plugins
    wheres = [d.where for d in plugin.Plugins(path=str(PLUGIN_DIR))]
    assert wheres == [[PluginDescriptor.WHERE_PLUGINMENU], [PluginDescriptor.WHERE_EXTENSIONSMENU],
                      [PluginDescriptor.WHERE_EXTENSIONSMENU],
                      [PluginDescriptor.WHERE_CHANNEL_CONTEXT_MENU],
                      [PluginDescriptor.WHERE_AUTOSTART], [PluginDescriptor.WHERE_SESSIONSTART],
                      [PluginDescriptor.WHERE_EVENTINFO], [PluginDescriptor.WHERE_EVENTINFO]]
    # enigma2 loads it at start (autostart) and starts it with the session: nothing runs while
    # nothing is enabled.
    browser, extensions, _watching, _channel, _autostart, _sessionstart, *_epg = start_plugins(rx)
    assert controller._controller is None
    icon = browser.icon  # what the plugin browser shows, loaded from the plugin's folder
    assert (icon.size().width(), icon.size().height()) == (100, 40)
    assert (PLUGIN_DIR / browser.iconstr).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # The extensions menu (BLUE) lists it (enigma2 lists only functions with one positional
    # parameter there) and it opens the main screen.
    assert extensions.name == PLUGIN_NAME
    main = await open_plugin(rx)
    assert isinstance(main, StreamRecorderMain)
    await push(rx, "KEY_EXIT")
    assert isinstance(rx.top(), InfoBar)
    # plugin.py only declares: it imports nothing but the descriptor class and typing.
    tree = ast.parse((PLUGIN_DIR / "plugin.py").read_text())
    imports = {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    assert imports <= {"typing", "Plugins.Plugin", None, "screens", "controller", "watching",
                       "timer_screens", "timers"}, imports


# --- the stream list ------------------------------------------------------------------------
@pytest_twisted.ensureDeferred
async def test_add_edit_delete_streams_with_keys(started, reactor_guard):
    from Plugins.Extensions.StreamRecorder.screens import StreamEditScreen
    from Screens.InfoBar import InfoBar
    from Screens.MessageBox import MessageBox
    from Screens.VirtualKeyBoard import VirtualKeyBoard
    rx = started
    main = await open_plugin(rx)
    assert main["streams"].list == []
    await push(rx, "KEY_GREEN")
    await enter_text(rx, "  Evening news ")
    url_box = rx.top(VirtualKeyBoard)
    assert url_box["text"].getText() == "https://"
    await enter_text(rx, "http://example.com/news/master.m3u8")
    await main.store.idle()
    assert saved(rx) == [{"name": "Evening news", "url": "http://example.com/news/master.m3u8",
                          "recorder": "auto"}]
    assert main["streams"].list == [("Evening news", "http://example.com/news/master.m3u8")]

    # A second one, with a bad URL first: refused with a message, nothing saved.
    await push(rx, "KEY_GREEN")
    await enter_text(rx, "Film")
    await enter_text(rx, "ftp://example.com/film.mp4")
    error = rx.top(MessageBox)
    assert error.type == MessageBox.TYPE_ERROR and "ftp://example.com/film.mp4" in error.text
    await push(rx, "KEY_OK")
    assert rx.top() is main and len(saved(rx)) == 1
    await push(rx, "KEY_GREEN")
    await enter_text(rx, "Film")
    await enter_text(rx, "https://example.com/film.mp4")
    await main.store.idle()
    assert [s["name"] for s in saved(rx)] == ["Evening news", "Film"]
    assert main["streams"].getIndex() == 1

    # Edit the film: a new name through the keyboard, the recorder with RIGHT, GREEN saves.
    await push(rx, "KEY_YELLOW")
    editor = rx.top(StreamEditScreen)
    assert [e[1].value for e in editor["config"].list] == [
        "Film", "https://example.com/film.mp4", "auto"]
    await select_entry(rx, editor, editor.name)
    await push(rx, "KEY_OK")
    await enter_text(rx, "Film (director's cut)")
    assert rx.top() is editor
    await select_entry(rx, editor, editor.recorder)
    await push(rx, "KEY_RIGHT")
    assert editor.recorder.value == "mp4"
    await push(rx, "KEY_GREEN")
    assert rx.top() is main
    await main.store.idle()
    assert saved(rx)[1] == {"name": "Film (director's cut)", "url": "https://example.com/film.mp4",
                            "recorder": "mp4"}

    # Delete asks first; "no" keeps it, "yes" removes it.
    await push(rx, "KEY_RED")
    question = rx.top(MessageBox)
    assert question.type == MessageBox.TYPE_YESNO and "Film (director's cut)" in question.text
    await answer_yes_no(rx, False)
    await main.store.idle()
    assert len(saved(rx)) == 2
    await push(rx, "KEY_RED")
    await answer_yes_no(rx, True)
    await main.store.idle()
    assert [s["name"] for s in saved(rx)] == ["Evening news"]
    assert main["streams"].list == [("Evening news", "http://example.com/news/master.m3u8")]
    await push(rx, "KEY_EXIT")
    assert isinstance(rx.top(), InfoBar)


@pytest_twisted.ensureDeferred
async def test_stream_list_is_written_atomically(tmp_path, monkeypatch):
    load_tree()
    from Plugins.Extensions.StreamRecorder import streams
    folder = tmp_path / "streamrecorder"
    path = str(folder / "streams.json")
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

    def stored():
        return json.loads((folder / "streams.json").read_text(encoding="utf-8"))["streams"]

    monkeypatch.setattr(os, "fsync", spy_fsync)
    monkeypatch.setattr(os, "replace", spy_replace)
    store.add("One", "http://example.com/1.mp4")
    await store.save()
    kinds = [e[0] for e in events]
    assert kinds[:3] == ["fsync", "replace", "fsync"], kinds  # file, rename, folder
    _, src, dst, content = events[1]
    assert dst == path and os.path.dirname(src) == os.path.dirname(path) and src != path
    assert content["streams"][0]["name"] == "One"
    assert names(folder) == ["streams.json"]

    # Many quick saves: serialised, the newest list wins.
    for n in range(2, 12):
        store.add("Stream %d" % n, "http://example.com/%d.mp4" % n)
        store.save()
    await store.idle()
    assert len(stored()) == 11

    # A failing write leaves the previous file whole and no temporary file behind.
    def broken_replace(src, dst):
        raise OSError(28, "No space left on device")
    monkeypatch.setattr(os, "replace", broken_replace)
    store.remove(0)
    with pytest.raises(OSError):
        await store.save()
    assert len(stored()) == 11
    assert names(folder) == ["streams.json"]

    # A broken file is set aside, not overwritten by an empty list.
    monkeypatch.setattr(os, "replace", real_replace)
    (folder / "streams.json").write_text("{not json")
    assert await streams.StreamStore(path).load() == []
    assert (folder / "streams.json.bad").read_text() == "{not json"


# --- settings -------------------------------------------------------------------------------
@pytest_twisted.ensureDeferred
async def test_settings_screen(started, reactor_guard):
    from Components.config import configfile
    from Plugins.Extensions.StreamRecorder import config as cfg
    from Plugins.Extensions.StreamRecorder.settings import StreamRecorderSettings
    from Screens.LocationBox import LocationBox
    from Screens.MessageBox import MessageBox
    rx = started
    s = rx.settings
    assert s.verify_tls.value is True and s.on_exit.value == "ask"
    assert s.user_agent.value.startswith("Mozilla/5.0")
    main = await open_plugin(rx)
    await push(rx, "KEY_MENU")
    screen = rx.top(StreamRecorderSettings)
    shown = [entry[1] for entry in screen["config"].list]
    for element in (s.rec_dir, s.movie_dir, s.buffering, s.parallel, s.quality, s.allow_transcode,
                    s.on_exit, s.user_agent, s.audio_language, s.verify_tls):
        assert element in shown
    # No folder configured: the storage found on a worker thread is proposed.
    assert await rx.until(lambda: s.rec_dir.value == str(rx.hdd / "streamrecorder"))
    assert screen["config"].getCurrent()[1] is s.rec_dir
    assert "hard disk" in screen["description"].getText()
    # A folder in RAM is refused with a message.
    await push(rx, "KEY_OK")
    rx.top(LocationBox)
    await pick_folder(rx, str(rx.ram_dir))
    assert await rx.until(lambda: isinstance(rx.top(), MessageBox))
    assert "RAM" in rx.top().text
    await push(rx, "KEY_OK")
    assert rx.top() is screen and s.rec_dir.value == str(rx.hdd / "streamrecorder")
    (rx.hdd / "rec").mkdir()
    await push(rx, "KEY_OK")
    await pick_folder(rx, str(rx.hdd / "rec"))
    assert await rx.until(lambda: s.rec_dir.value == str(rx.hdd / "rec") + "/")
    # TLS verification off with RIGHT; the user agent through the keyboard; GREEN saves.
    await select_entry(rx, screen, s.verify_tls)
    await push(rx, "KEY_RIGHT")
    await select_entry(rx, screen, s.user_agent)
    await push(rx, "KEY_OK")
    await enter_text(rx, "TestAgent/1.0")
    assert rx.top() is screen
    await push(rx, "KEY_GREEN")
    assert rx.top() is main
    assert s.verify_tls.value is False and s.user_agent.value == "TestAgent/1.0"
    written = open(configfile.CONFIG_FILE, encoding="utf-8").read().splitlines()
    assert "config.plugins.streamrecorder.verify_tls=%s" % s.verify_tls.tostring(False) in written
    assert "config.plugins.streamrecorder.user_agent=TestAgent/1.0" in written
    assert cfg.recorder_options() == {"user_agent": "TestAgent/1.0", "verify_tls": False,
                                      "parallel": 4, "allow_transcode": False,
                                      "audio_language": None, "reserve_bytes": 500_000_000}
    s.quality.value = "720"
    s.audio_language.value = "de"
    assert cfg.recorder_options()["audio_language"] == "de"
    defaults = cfg.resolve_defaults()
    assert defaults["quality"] == 720 and defaults["audio_language"] == "de"
    assert defaults["recorder_id"] == "auto" and defaults["buffering"] == 5


@pytest_twisted.ensureDeferred
async def test_movie_folder_follows_enigma2s_default(started):
    """Kept recordings go where enigma2 keeps movies (config.usage.default_path) unless the
    user chose another folder in the plugin's settings."""
    from Components.config import config
    from Plugins.Extensions.StreamRecorder.controller import get_controller
    rx = started
    assert config.usage.default_path.value == str(rx.movie_dir) + "/"
    assert get_controller().movie_dir().rstrip("/") == str(rx.movie_dir)
    other = rx.hdd / "films"
    config.usage.default_path.value = str(other) + "/"
    assert get_controller().movie_dir().rstrip("/") == str(other)


def test_storage_never_ram_and_only_mounted(receiver, monkeypatch, tmp_path):
    from Plugins.Extensions.StreamRecorder import storage
    rx = receiver
    assert storage.find_default() == str(rx.hdd / "streamrecorder")
    assert storage.prepare_folder(None) == str(rx.hdd / "streamrecorder")
    assert (rx.hdd / "streamrecorder").is_dir()
    with pytest.raises(storage.StorageError) as err:
        storage.prepare_folder(str(rx.ram_dir / "rec"))
    assert err.value.kind == "ram" and not (rx.ram_dir / "rec").exists()
    # /media/usb exists but nothing is mounted there (it lives on the root file system).
    usb = tmp_path / "media" / "usb"
    usb.mkdir()
    monkeypatch.setattr(storage, "MEDIA_ROOTS", (str(usb),))
    assert storage.find_default() is None
    with pytest.raises(storage.StorageError) as err:
        storage.prepare_folder(None)
    assert err.value.kind == "none"
    monkeypatch.setattr(storage, "MIN_FREE_BYTES", 1 << 62)
    monkeypatch.setattr(storage, "MEDIA_ROOTS", (str(rx.hdd),))
    assert storage.find_default() is None  # mounted, but full


# --- skins ----------------------------------------------------------------------------------
def _open_screens(rx):
    """The plugin's screens as enigma2 opens them (skin applied by skin.py), one over the
    other: main screen, stream editor, settings, a question."""
    from Plugins.Extensions.StreamRecorder.question import Question
    from Plugins.Extensions.StreamRecorder.screens import StreamEditScreen, StreamRecorderMain
    from Plugins.Extensions.StreamRecorder.settings import StreamRecorderSettings
    main = rx.session.open(StreamRecorderMain)
    editor = rx.session.open(StreamEditScreen, {"name": "a", "url": "http://x/", "recorder": "auto"})
    setup = rx.session.open(StreamRecorderSettings)
    question = rx.session.open(Question, title="Keep it?", list=[("Yes", "yes"), ("No", "no")])
    from Plugins.Extensions.StreamRecorder.source_screens import StreamSourcesScreen
    sources = rx.session.open(StreamSourcesScreen)
    from Plugins.Extensions.StreamRecorder.end_question import NumberBox
    ends = rx.session.open(Question, layout="StreamRecorderEndQuestion", title="Until when?",
                           list=[("For 30 minutes", 30), ("Until I stop it", "open")])
    number = rx.session.open(NumberBox, title="Minutes to record:", text="120")
    from Plugins.Extensions.StreamRecorder.timer_screens import StreamTimerEdit, StreamTimerList
    timer_list = rx.session.open(StreamTimerList)
    timer_edit = rx.session.open(StreamTimerEdit, None)
    return {"StreamRecorderTimers": timer_list, "StreamRecorderTimerEdit": timer_edit,
            "StreamRecorderEndQuestion": ends, "StreamRecorderNumberBox": number,
            "StreamRecorderMain": main, "StreamRecorderEdit": editor,
            "StreamRecorderSettings": setup, "StreamRecorderQuestion": question,
            "StreamRecorderSources": sources}


def _skin_screens(name):
    root = ET.parse(str(PLUGIN_DIR / name)).getroot()
    return {s.get("name"): s for s in root.iter("screen")}


@pytest_twisted.ensureDeferred
async def test_skins_for_hd_and_fhd_match_the_screens(receiver):
    import enigma
    from Plugins.Extensions.StreamRecorder import skins
    from Plugins.Extensions.StreamRecorder.screens import StreamRecorderMain
    rx = receiver
    instances = _open_screens(rx)
    await rx.settle()
    sizes = {}
    for name in ("skin_hd.xml", "skin_fhd.xml"):
        found = _skin_screens(name)
        assert set(found) == set(instances)
        for screen_name, element in found.items():
            widgets = {w.get("name") or w.get("source") for w in element.iter("widget")}
            assert widgets <= set(instances[screen_name]), (name, screen_name, widgets)
        sizes[name] = found["StreamRecorderMain"].get("size")
    assert sizes == {"skin_hd.xml": "1100,620", "skin_fhd.xml": "1650,930"}
    # skin.py laid the screens out from skin_hd.xml on the 1280x720 OSD...
    main = instances["StreamRecorderMain"]
    assert main.instance.size() == enigma.eSize(1100, 620)
    assert main["status"].instance.size() == enigma.eSize(790, 165)
    for _ in instances:
        await push(rx, "KEY_EXIT")
    # ...and from skin_fhd.xml on a 1920x1080 one.
    enigma.set_desktop_size(1920, 1080)
    fhd = rx.session.open(StreamRecorderMain)
    await rx.settle()
    assert fhd.instance.size() == enigma.eSize(1650, 930)
    assert skins.skin_file(1280).endswith("skin_hd.xml")
    assert isinstance(fhd, StreamRecorderMain)
    # No layout in Python: no positions or sizes in the plugin's modules.
    for source in PLUGIN_DIR.glob("*.py"):
        assert "position=" not in source.read_text(), source


@pytest_twisted.ensureDeferred
async def test_skins_place_every_element_of_the_screens(receiver):
    """Every GUI element a screen has gets a place in the skin (skin.py reports the others
    as "Skin is missing element"): ConfigListScreen's HelpWindow (where the number-entry help
    appears), and the VKeyIcon that shows when TEXT opens the keyboard."""
    rx = receiver
    instances = _open_screens(rx)
    await rx.settle()
    from Components.GUIComponent import GUIComponent
    for name, screen in instances.items():
        unplaced = sorted(key for key in screen if isinstance(screen[key], GUIComponent)
                          and not screen[key].skinAttributes)
        assert unplaced == [], (name, unplaced)
    for skin_name in ("skin_hd.xml", "skin_fhd.xml"):
        for name, element in _skin_screens(skin_name).items():
            if "config" in instances[name]:
                sources = {w.get("source") for w in element.iter("widget")}
                assert "VKeyIcon" in sources, (skin_name, name)


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


@pytest.fixture(scope="session")
def compiled_locale(tmp_path_factory):
    """The plugin's catalogues compiled with GNU msgfmt into a temporary locale folder (as the
    package build installs them), plus a German enigma2 catalogue for enigma2's own switch."""
    msgfmt = shutil.which("msgfmt")
    if msgfmt is None:
        pytest.fail("msgfmt (GNU gettext) is missing: scripts/test.sh installs it "
                    "(apt-get install -y gettext)", pytrace=False)
    root = tmp_path_factory.mktemp("locale")
    for po in (PLUGIN_DIR / "locale").glob("*/LC_MESSAGES/*.po"):
        mo = root / "plugin" / po.relative_to(PLUGIN_DIR / "locale").with_suffix(".mo")
        mo.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run([msgfmt, "--check", "-o", str(mo), str(po)], check=True)
    enigma2_po = root / "enigma2.po"
    enigma2_po.write_text('msgid ""\nmsgstr "Content-Type: text/plain; charset=UTF-8\\n"\n\n'
                          'msgid "Yes"\nmsgstr "Ja"\n', encoding="utf-8")
    (root / "enigma2" / "de" / "LC_MESSAGES").mkdir(parents=True)
    subprocess.run([msgfmt, "-o", str(root / "enigma2" / "de" / "LC_MESSAGES" / "enigma2.mo"),
                    str(enigma2_po)], check=True)
    return root


def _catalogue(compiled_locale, lang="de"):
    path = compiled_locale / "plugin" / lang / "LC_MESSAGES" / "StreamRecorder.mo"
    with open(path, "rb") as f:
        return {k: v for k, v in gettext.GNUTranslations(f)._catalog.items() if k}


def test_german_catalogue_is_complete(compiled_locale):
    catalogue = _catalogue(compiled_locale)
    for msgid, msgstr in catalogue.items():
        singular = msgid[0] if isinstance(msgid, tuple) else msgid  # (msgid, n) of a plural
        assert singular.count("%") == msgstr.count("%"), msgid
    missing = sorted(_translatable_strings() - set(catalogue))
    assert missing == []


@pytest_twisted.ensureDeferred
async def test_german_is_used_when_enigma2_switches_to_german(receiver, compiled_locale,
                                                               monkeypatch):
    import builtins
    import Plugins.Extensions.StreamRecorder as package
    from Components.Language import language
    from Plugins.Extensions.StreamRecorder import plugin, texts
    from Plugins.Extensions.StreamRecorder.screens import StreamRecorderMain
    from Tools import Directories
    rx = receiver
    # enigma2 switches the GUI to German with its own catalogue (SCOPE_LANGUAGE); what that
    # changes in the process is put back after the test.
    for name in ("LANGUAGE", "LC_TIME", "GST_SUBTITLE_ENCODING"):
        monkeypatch.setenv(name, os.environ.get(name, ""))
    for name in ("_", "ngettext", "pgettext"):
        monkeypatch.setattr(builtins, name, getattr(builtins, name))
    monkeypatch.setattr(language, "activeLanguage", language.activeLanguage)
    monkeypatch.setattr(language, "catalog", language.catalog)
    monkeypatch.setitem(Directories.defaultPaths, Directories.SCOPE_LANGUAGE,
                        (str(compiled_locale / "enigma2") + "/", Directories.PATH_DONTCREATE))
    categories = (locale.LC_CTYPE, locale.LC_COLLATE, locale.LC_TIME, locale.LC_MONETARY,
                  locale.LC_MESSAGES, locale.LC_NUMERIC)
    saved_locale = [(category, locale.setlocale(category)) for category in categories]
    try:
        language.activateLanguage("de_DE")
        assert language.getLanguage() == "de_DE" and builtins._("Yes") == "Ja"
        # The plugin's catalogue where the installed package has it (compiled by msgfmt).
        package.locale_init(str(compiled_locale / "plugin"))
        assert package._("Delete") == "Löschen"
        assert "Zugriff verweigert" in texts.error_text("forbidden")
        assert plugin.Plugins()[0].name == "Stream Recorder"
        main = rx.session.open(StreamRecorderMain)
        await rx.settle()
        assert main["key_green"].text == "Hinzufügen"
        await push(rx, "KEY_EXIT")
    finally:
        package.locale_init()
        for category, value in saved_locale:
            locale.setlocale(category, value)
    assert package._("Delete") == "Delete"


def test_importing_the_plugin_leaves_the_environment_alone():
    """enigma2 sets LANGUAGE for every plugin (Components/Language.py); the plugin reads the
    language and never writes the process environment the other plugins share."""
    code = (
        "import os, sys\n"
        "sys.path.insert(0, %r)\n"
        "import e2tree\n"
        "e2tree.load()\n"
        "before = dict(os.environ)\n"
        "import Plugins.Extensions.StreamRecorder.plugin\n"
        "from Components.Language import language\n"
        "for callback in language.callbacks:\n"
        "    callback()\n"
        "changed = {k: os.environ.get(k) for k in set(before) | set(os.environ)\n"
        "           if before.get(k) != os.environ.get(k)}\n"
        "print('CHANGED', changed)\n") % str(REPO / "tests")
    env = dict(os.environ, LANGUAGE="de_DE:de", PYTHONDONTWRITEBYTECODE="1",
               PYTHONPATH=os.pathsep.join([str(REPO / "src"), os.environ.get("PYTHONPATH", "")]))
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            env=env, timeout=60, cwd=str(REPO))
    lines = [line for line in result.stdout.splitlines() if line.startswith("CHANGED ")]
    assert lines, result.stdout[-2000:] + result.stderr[-2000:]
    assert lines[-1] == "CHANGED {}"


# --- words for the viewer -------------------------------------------------------------------
def test_every_error_id_has_its_own_words():
    load_tree()
    from Plugins.Extensions.StreamRecorder import texts
    from streamrecorder.errors import ERROR_IDS
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


def test_status_lines():
    load_tree()
    from Plugins.Extensions.StreamRecorder import texts
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
    load_tree()
    from Plugins.Extensions.StreamRecorder import recordings
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
    assert names(rec) == ["notes.txt", "stream_2.ts"]  # the empty section is left behind
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
    assert names(rec) == ["notes.txt"]


# --- image differences ----------------------------------------------------------------------
@pytest_twisted.ensureDeferred
async def test_compat_timer_on_both_timer_apis(receiver):
    from enigma import eTimer
    from Plugins.Extensions.StreamRecorder import compat
    rx = receiver
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
    assert await rx.until(lambda: len(fired) == 2, timeout=2)
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
