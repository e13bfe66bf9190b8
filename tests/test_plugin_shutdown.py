"""enigma2's shutdown is bounded while a recording hangs where stop() cannot reach it.

In a subprocess (a real reactor, as enigma2 runs it): the real tree loads the plugin through
PluginComponent.readPluginList, a recording starts whose requests go through an adapter a
resolver mounted on its session and whose send() never returns, then StartEnigma's end runs:
the reactor stops (Twisted joins its pool threads, without a limit), then plugins.shutdown()
(the plugin's WHERE_AUTOSTART reason 1). The process must end within the bound.
"""

import subprocess
import sys
import time
from pathlib import Path

from plugin_harness import PLUGIN_DIR, load_tree

EXIT_BOUND_S = 30.0
TESTS = Path(__file__).resolve().parent

SCRIPT = r"""
import os, sys, threading, time
tests, plugin_dir, work = sys.argv[1:4]
sys.path.insert(0, tests)
import e2tree
e2tree.load()
import requests
from twisted.internet import reactor
from Components.config import config
from Components.PluginComponent import plugins
from Tools.Directories import SCOPE_PLUGINS, resolveFilename

folder = resolveFilename(SCOPE_PLUGINS)
os.makedirs(os.path.join(folder, "Extensions"), exist_ok=True)
os.symlink(plugin_dir, os.path.join(folder, "Extensions", "StreamRecorder"))
plugins.readPluginList(folder)
from Plugins.Plugin import PluginDescriptor
assert [p.name for p in plugins.getPlugins(PluginDescriptor.WHERE_PLUGINMENU)] == ["Stream Recorder"]
from Plugins.Extensions.StreamRecorder import storage
from Plugins.Extensions.StreamRecorder.controller import get_controller
storage.RAM_PATHS = ()
storage.MIN_FREE_BYTES = 1
config.usage.default_path.value = os.path.join(work, "movie") + "/"
session = e2tree.new_session()

entered = threading.Event()


class ResolverAdapter(requests.adapters.BaseAdapter):
    # A resolver's own transport: the recorder cannot reach the read inside it.
    def send(self, request, **kwargs):
        entered.set()
        threading.Event().wait()

    def close(self):
        pass


resolver_session = requests.Session()
resolver_session.mount("http://", ResolverAdapter())


def record():
    get_controller().record_and_play(session, {
        "resolved_url": "http://127.0.0.1:9/live.m3u8", "recorder_id": "hls_basic",
        "session": resolver_session, "rec_dir": os.path.join(work, "rec"), "title": "Hanging"},
        watch=False, ask_end=False)
    wait_for_hang()


def wait_for_hang():
    if entered.is_set():
        print("HANGING", flush=True)
        reactor.stop()  # GUI restart / deep standby: enigma2 leaves its main loop
    else:
        reactor.callLater(0.05, wait_for_hang)


reactor.callWhenRunning(record)
reactor.run(installSignalHandlers=False)
print("REACTOR-STOPPED", flush=True)
plugins.shutdown()  # StartEnigma: after runScreenTest() returns
print("PLUGINS-SHUT-DOWN", flush=True)
"""


def test_shutdown_ends_while_a_resolver_read_hangs(tmp_path):
    load_tree()  # fails with the reason when the tree is missing
    started = time.monotonic()
    try:
        done = subprocess.run([sys.executable, "-c", SCRIPT, str(TESTS), str(PLUGIN_DIR), str(tmp_path)],
                              capture_output=True, text=True, timeout=EXIT_BOUND_S)
    except subprocess.TimeoutExpired as exc:
        out = exc.stdout or b""
        raise AssertionError("enigma2 did not end within %.0f s of the reactor stopping; output:\n%s"
                             % (EXIT_BOUND_S, out.decode(errors="replace")[-3000:])) from None
    took = time.monotonic() - started
    lines = done.stdout.splitlines()
    assert done.returncode == 0, done.stderr[-3000:]
    assert "HANGING" in lines, done.stdout[-3000:]
    assert "REACTOR-STOPPED" in lines and "PLUGINS-SHUT-DOWN" in lines, done.stdout[-3000:]
    assert took < EXIT_BOUND_S
