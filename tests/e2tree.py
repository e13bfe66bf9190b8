"""Loads OpenPLi's real enigma2 Python tree (../shared/enigma2/openpli) for the plugin tests.

The tree runs as StartEnigma.py prepares it, minus what needs a receiver or the network:
`import Screens.InfoBar` first, the skin, keymaps and usage config initialised, the real
`Navigation`, and the real `Session` class taken from StartEnigma.py's source with `ast`
(importing StartEnigma.py would start its geolocation look-up and the main loop). The only
stand-in is the C++ `enigma` module (tests/e2/enigma.py).

Nothing is written under the tree: bytecode is off for its modules and enigma2's data,
config and plugin folders resolve into a temporary root whose data folder links to the tree.
"""

import ast
import builtins
import gettext
import os
import re
import struct
import sys
import tempfile
import zlib
from pathlib import Path
from typing import Any, Dict, Optional

REPO = Path(__file__).resolve().parent.parent
STANDIN = Path(__file__).resolve().parent / "e2"
TREE_ENV = "STREAMRECORDER_ENIGMA2_TREE"

_state: Dict[str, Any] = {}


def tree_root() -> Path:
    """The OpenPLi tree: $STREAMRECORDER_ENIGMA2_TREE or ../shared/enigma2/openpli."""
    return Path(os.environ.get(TREE_ENV) or (REPO.parent / "shared" / "enigma2" / "openpli")).resolve()


class TreeMissing(RuntimeError):
    pass


def check_tree() -> Path:
    if sys.version_info >= (3, 11):
        raise TreeMissing(
            "OpenPLi's enigma2 tree (commit 19b7dc8a5dc1) runs on Python 3.8 to 3.10: its "
            "Components/Language.py calls gettext.install(codeset=...), which Python 3.11 removed. "
            "Run the plugin tests with Python 3.10 or 3.8 (scripts/test.sh does).")
    root = tree_root()
    if not (root / "lib" / "python" / "StartEnigma.py").is_file():
        raise TreeMissing(
            "The plugin tests run inside OpenPLi's enigma2 Python tree, which is not at %s. "
            "Put the tree there (../shared/enigma2/openpli beside the checkout) or set %s "
            "to its folder." % (root, TREE_ENV))
    return root


def placeholder_png() -> bytes:
    """A valid 1x1 transparent PNG."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    header = struct.pack(">IIBBBBB", 1, 1, 8, 6, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0\0\0\0\0"))
            + chunk(b"IEND", b""))


def _mirror_data(tree: Path, share: Path) -> None:
    """/usr/share/enigma2 as a mirror of the tree's data/ (each file a link to the read-only
    tree). The tree keeps skin_default/skin.xml but not its pictures: skin.py refuses a skin
    whose pictures are missing, so each missing one is a 1x1 picture here (a layout comes from
    the skin's positions and sizes, never from a picture's pixels)."""
    data = tree / "data"
    for folder, _dirs, names in os.walk(str(data)):
        target = share / "enigma2" / os.path.relpath(folder, str(data))
        target.mkdir(parents=True, exist_ok=True)
        for name in names:
            os.symlink(os.path.join(folder, name), str(target / name))
    skin_dir = share / "enigma2" / "skin_default"
    source = (data / "skin_default" / "skin.xml").read_text(encoding="utf-8")
    for value in re.findall(r'"([^":]+\.(?:png|svg))(?::[^"]*)?"', source):
        for name in value.split(","):
            picture = skin_dir / name
            if not picture.exists() and not (share / "enigma2" / name).exists():
                picture.parent.mkdir(parents=True, exist_ok=True)
                picture.write_bytes(placeholder_png())


def _layout(root: Path, tree: Path) -> Dict[str, str]:
    """A receiver's folders in a temporary root; data and fonts link into the tree (read only)."""
    share, etc, lib = root / "usr" / "share", root / "etc", root / "usr" / "lib"
    (share).mkdir(parents=True)
    _mirror_data(tree, share)
    os.symlink(str(tree / "data" / "fonts"), str(share / "fonts"))
    (etc / "enigma2").mkdir(parents=True)
    plugins = lib / "enigma2" / "python" / "Plugins"
    plugins.mkdir(parents=True)
    (root / "var").mkdir()
    return {"datadir": str(share), "libdir": str(lib), "sysconfdir": str(etc),
            "bindir": str(root / "usr" / "bin"), "localstatedir": str(root / "var"),
            "prefix": str(root / "usr")}


def _builtins() -> None:
    # enigma2 installs these before any screen module is imported (Components/Language.py).
    builtins._ = gettext.gettext  # type: ignore[attr-defined]
    builtins.ngettext = gettext.ngettext  # type: ignore[attr-defined]
    builtins.pgettext = lambda context, text: text  # type: ignore[attr-defined]


def load(extensions: Optional[Path] = None) -> Dict[str, Any]:
    """Import the tree once per process; returns the loaded pieces (idempotent).

    extensions: the folder whose plugins join the tree's Plugins.Extensions (default: this
    repository's; the package test passes the unpacked .ipk's)."""
    if _state:
        return _state
    tree = check_tree()
    sys.dont_write_bytecode = True  # nothing may be written under the (read-only) tree
    root = Path(tempfile.mkdtemp(prefix="e2root-"))
    for path in (str(tree / "lib" / "python"), str(STANDIN)):
        if path not in sys.path:
            sys.path.insert(0, path)
    import enigma
    assert Path(enigma.__file__).resolve().parent == STANDIN, enigma.__file__
    enigma.ENV.update(_layout(root, tree))
    _builtins()
    _init_tree(Path(extensions) if extensions else REPO / "Plugins" / "Extensions")
    _state.update(root=root, tree=tree, enigma=enigma, Session=_session_class(tree))
    return _state


def _init_tree(extensions: Path) -> None:
    """What StartEnigma.py runs before the first screen, less network, hardware and wizards."""
    import Screens.InfoBar  # noqa: F401 - first, as StartEnigma imports it
    import Plugins
    import Plugins.Extensions
    ours = str(extensions)
    if ours not in Plugins.Extensions.__path__:
        Plugins.Extensions.__path__.append(ours)
    import enigma
    import skin
    from Components.config import config
    from Tools.Directories import InitFallbackFiles
    InitFallbackFiles()
    skin.loadSkinData(enigma.getDesktop(0))
    import Components.AVSwitch
    Components.AVSwitch.InitAVSwitch()
    import Components.RecordingConfig
    Components.RecordingConfig.InitRecordingConfig()
    import Components.UsageConfig
    # InitUsageConfig's NTP check runs `ntpdate-sync && sleep 5 && grep ... /var/log/messages`
    # through os.system (UsageConfig.py:817,822): no receiver command runs on the test host.
    real_system, os.system = os.system, (lambda command: 256)
    try:
        Components.UsageConfig.InitUsageConfig()
    finally:
        os.system = real_system
    import keymapparser
    keymapparser.readKeymap(config.usage.keymap.value)
    import Components.ParentalControl
    Components.ParentalControl.InitParentalControl()
    import Screens.Standby  # noqa: F401
    from GlobalActions import globalActionMap  # noqa: F401 - binds GlobalActions
    _startenigma_settings()


def _startenigma_settings() -> None:
    """The `config.misc.*` settings StartEnigma.py defines at module level, from its source."""
    source = (tree_root() / "lib" / "python" / "StartEnigma.py").read_text()
    import Components.config as c
    from Tools.Directories import SCOPE_CURRENT_SKIN, resolveFilename
    namespace = dict(vars(c), resolveFilename=resolveFilename, SCOPE_CURRENT_SKIN=SCOPE_CURRENT_SKIN)
    for node in ast.parse(source).body:
        target = ast.get_source_segment(source, node.targets[0]) if isinstance(node, ast.Assign) else ""
        if (target or "").startswith("config.misc."):
            exec(compile(ast.Module(body=[node], type_ignores=[]), "StartEnigma.py", "exec"), namespace)


def _session_class(tree: Path) -> Any:
    """`class Session` from StartEnigma.py's source, compiled in a namespace of its imports."""
    source = (tree / "lib" / "python" / "StartEnigma.py").read_text()
    module = ast.parse(source)
    node = next(n for n in module.body if isinstance(n, ast.ClassDef) and n.name == "Session")
    import enigma
    from Components.PluginComponent import plugins
    from Plugins.Plugin import PluginDescriptor
    from Screens.SessionGlobals import SessionGlobals
    from Screens.SimpleSummary import SimpleSummary
    from skin import readSkin
    namespace: Dict[str, Any] = {"enigma": enigma, "plugins": plugins, "PluginDescriptor": PluginDescriptor,
                                 "SessionGlobals": SessionGlobals, "SimpleSummary": SimpleSummary,
                                 "readSkin": readSkin, "__name__": "StartEnigma"}
    code = compile(ast.Module(body=[node], type_ignores=[]), str(tree / "lib/python/StartEnigma.py"), "exec")
    exec(code, namespace)  # noqa: S102 - the tree's own class, compiled from its source
    return namespace["Session"]


def new_session(first_screen: Optional[Any] = None) -> Any:
    """A Navigation and a Session as runScreenTest makes them; opens first_screen (InfoBar)."""
    state = load()
    import enigma
    import NavigationInstance
    from Navigation import Navigation
    NavigationInstance.instance = None
    nav = Navigation()
    session = state["Session"](desktop=enigma.getDesktop(0), summary_desktop=None, navigation=nav)
    if first_screen is not None:
        session.open(first_screen)
    return session


def close_screens(session: Any) -> None:
    """Close every dialog above the InfoBar, top first, without their callbacks (a test's or
    a picture's end); enigma2 never closes its InfoBar."""
    from Screens.InfoBar import InfoBar
    while session.current_dialog is not None and not isinstance(session.current_dialog, InfoBar):
        dialog = session.current_dialog
        dialog.callback = None
        session.in_exec = True
        session.execEnd()
        dialog.doClose()
        session.current_dialog = None
        if session.dialog_stack:
            session.current_dialog, _shown = session.dialog_stack.pop()
            session.in_exec = False
            session.execBegin(first=False, do_show=False)
    session.nav.stopService()
