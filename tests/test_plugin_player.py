"""The player's decisions, driven by scripted core messages (start/progress/stop) in order.

A scripted Manager stands in for the core here so every ordering can be set up exactly; the
flow tests run the same code against the real recorders and the loopback server.
"""

import pytest
import pytest_twisted
from twisted.internet import defer

from helpers import until
from plugin_harness import *  # noqa: F401,F403 - fixtures: enigma_env, reactor_guard
from plugin_harness import install_enigma_stubs, press

install_enigma_stubs()

from fake_session import is_closed  # noqa: E402
from enigma import eServiceReference, iPlayableService  # noqa: E402
from Plugins.Extensions.StreamRecorder import controller as controller_module  # noqa: E402
from Plugins.Extensions.StreamRecorder.player import StreamRecorderPlayer  # noqa: E402
from Screens.ChoiceBox import ChoiceBox  # noqa: E402
from Screens.MessageBox import MessageBox  # noqa: E402

pytestmark = pytest.mark.usefixtures("reactor_guard")


class ScriptedManager:
    """Manager's public surface; the test decides which messages arrive and when."""

    def __init__(self, runtime=None, recorder_types=None, recorder_options=None):
        self.recorder_options = dict(recorder_options or {})
        self.subscribers = []
        self.started = []
        self.running = False
        self.stop_calls = 0

    def subscribe(self, sink):
        self.subscribers.append(sink)

    def unsubscribe(self, sink):
        self.subscribers.remove(sink)

    def record_stream(self, resolve_result):
        self.started.append(dict(resolve_result))
        self.running = True
        return True

    def emit(self, kind, **data):
        if kind == "stop":
            self.running = False
        for sink in list(self.subscribers):
            sink([kind, data])

    def stop(self):
        self.stop_calls += 1
        if self.running:
            self.emit("stop", reason="user", error_id=None, msg="stopped")
        return True

    def stopped(self):
        return defer.succeed(None)

    def close(self):
        pass


@pytest.fixture
def scripted(enigma_env):
    ctrl = controller_module.Controller(manager_factory=ScriptedManager)
    controller_module._controller = ctrl
    return ctrl


async def start_watching(env, ctrl, name="stream_0.ts", **rr):
    env.rec_dir.mkdir(parents=True, exist_ok=True)
    ctrl.record_and_play(env.session, dict({"resolved_url": "http://example.com/x.m3u8",
                                            "title": "Scripted"}, **rr))
    assert await until(lambda: ctrl._manager is not None and ctrl.manager.started)
    manager = ctrl.manager
    (env.rec_dir / name).write_bytes(b"G" * 188 * 10)
    manager.emit("start", url="http://example.com/x.m3u8", rec_file=str(env.rec_dir / name),
                 section_index=0, segment_index=4, recorder={"type": "hls_live"})
    player = env.session.top(StreamRecorderPlayer)
    return manager, player


def progress(manager, section, size):
    manager.emit("progress", recorder={"type": "hls_live"}, section_index=section,
                 segment_index=1, bytes=size, total_bytes=None, percent=None, speed_bps=1000,
                 eta_s=None, media_s=1.0, skipped_segments=0)


def ts_ref(env, n):
    return eServiceReference(1, 0, str(env.rec_dir / ("stream_%d.ts" % n)))


@pytest_twisted.ensureDeferred
async def test_resume_switch_and_normal_end(enigma_env, scripted):
    env, ctrl = enigma_env, scripted
    manager, player = await start_watching(env, ctrl)
    nav = env.session.nav
    assert manager.started[0]["rec_dir"] == str(env.rec_dir)
    assert manager.recorder_options["verify_tls"] is True
    assert player.skinName == ["StreamRecorderPlayer", "MoviePlayer"]
    assert nav.getCurrentlyPlayingServiceReference() == ts_ref(env, 0)
    assert nav.getCurrentlyPlayingServiceReference().getName() == "Scripted"
    progress(manager, 0, 5000)

    # Buffer ran dry: stay, then resume once the recorder reports more bytes.
    nav.dispatch(iPlayableService.evEOF)
    assert player.waiting and player.seekstate == player.SEEK_STATE_EOF and not is_closed(player)
    assert nav.getCurrentService().pause().paused  # InfoBarSeek paused it at the EOF
    nav.dispatch(iPlayableService.evEOF)  # servicedvb retries: more EOFs change nothing
    progress(manager, 0, 5000)
    assert player.waiting
    progress(manager, 0, 9000)
    assert not player.waiting and player.seekstate == player.SEEK_STATE_PLAY
    assert not nav.getCurrentService().pause().paused

    # stream_1.ts starts while stream_0.ts still plays: no switch until stream_0.ts ends.
    manager.emit("start", url="u", rec_file=str(env.rec_dir / "stream_1.ts"), section_index=1,
                 segment_index=9, recorder={"type": "hls_live"})
    assert nav.getCurrentlyPlayingServiceReference() == ts_ref(env, 0)
    nav.dispatch(iPlayableService.evEOF)
    assert player.section == 1 and nav.getCurrentlyPlayingServiceReference() == ts_ref(env, 1)

    # At the end of stream_1.ts while recording: wait; the stop lets it play the rest ...
    nav.dispatch(iPlayableService.evEOF)
    assert player.waiting
    manager.emit("stop", reason="complete", error_id=None, msg="")
    assert not player.waiting and not is_closed(player)
    # ... and the next EOF closes the player normally, restoring the live service.
    nav.dispatch(iPlayableService.evEOF)
    assert is_closed(player) and nav.getCurrentlyPlayingServiceReference() == env.live_service()
    question = env.session.top(ChoiceBox)
    assert "Keep the recording of Scripted?" in question.text
    (env.rec_dir / "stream_1.ts").write_bytes(b"G" * 188)
    question.choose("delete")
    await ctrl.idle()
    assert sorted(p.name for p in env.rec_dir.iterdir()) == []
    assert all(on_reactor for _ref, on_reactor in nav.played)


@pytest_twisted.ensureDeferred
async def test_next_section_started_while_waiting_switches_at_once(enigma_env, scripted):
    env, ctrl = enigma_env, scripted
    manager, player = await start_watching(env, ctrl)
    env.session.nav.dispatch(iPlayableService.evEOF)
    assert player.waiting
    manager.emit("start", url="u", rec_file=str(env.rec_dir / "stream_1.ts"), section_index=1,
                 segment_index=3, recorder={"type": "hls_live"})
    assert player.section == 1 and not player.waiting
    assert env.session.nav.getCurrentlyPlayingServiceReference() == ts_ref(env, 1)
    # A later section while running in the background never opens a player.
    press(player, "leavePlayerOnExit")  # hides the infobar
    press(player, "leavePlayerOnExit")
    env.session.top(ChoiceBox).choose("background")
    manager.emit("start", url="u", rec_file=str(env.rec_dir / "stream_2.ts"), section_index=2,
                 segment_index=7, recorder={"type": "hls_live"})
    assert len(env.session.ever_opened(StreamRecorderPlayer)) == 1
    assert env.session.nav.getCurrentlyPlayingServiceReference() == env.live_service()
    manager.emit("stop", reason="complete", error_id=None, msg="")
    await ctrl.idle()
    kept = sorted(p.name for p in env.movie_dir.iterdir())
    assert len(kept) == 2 and kept[0].startswith("Scripted - ")  # only stream_0.ts had data


@pytest_twisted.ensureDeferred
async def test_mp4_resume_reopens_and_seeks_back(enigma_env, scripted):
    env, ctrl = enigma_env, scripted
    manager, player = await start_watching(env, ctrl, name="stream_0.mp4")
    nav = env.session.nav
    mp4 = eServiceReference(4097, 0, str(env.rec_dir / "stream_0.mp4"))
    assert nav.getCurrentlyPlayingServiceReference() == mp4
    nav.getCurrentService().seek().position = 90000 * 42
    nav.dispatch(iPlayableService.evEOF)
    assert player.waiting
    plays = len(nav.played)
    progress(manager, 0, 10 << 20)
    assert len(nav.played) == plays + 1 and nav.played[-1][0] == mp4
    assert await until(lambda: nav.getCurrentService().seek().seeks == [90000 * 42], 3)


@pytest_twisted.ensureDeferred
async def test_error_while_watching_shows_words_over_the_player(enigma_env, scripted):
    env, ctrl = enigma_env, scripted
    manager, player = await start_watching(env, ctrl)
    manager.emit("stop", reason="error", error_id="timeout", msg="no answer from example.com")
    box = env.session.top(MessageBox)
    assert box.type == MessageBox.TYPE_ERROR and box.text.startswith("Network timeout")
    # EOF while the message is on top: the player is not active and decides afterwards.
    env.session.nav.dispatch(iPlayableService.evEOF)
    assert not is_closed(player)
    box.close()
    assert not is_closed(player)  # handled just after the player is active again
    assert await until(lambda: is_closed(player), 2)
    assert env.session.nav.getCurrentlyPlayingServiceReference() == env.live_service()
    env.session.top(ChoiceBox).choose("keep")
    await ctrl.idle()
    assert len(list(env.movie_dir.iterdir())) == 2
    assert "Network timeout" in ctrl.status()["last_result"] or "saved" in ctrl.status()["last_result"]


@pytest_twisted.ensureDeferred
async def test_exit_policy_from_settings_needs_no_question(enigma_env, scripted):
    env, ctrl = enigma_env, scripted
    env.settings.on_exit.value = "delete"
    manager, player = await start_watching(env, ctrl)
    press(player, "leavePlayer")  # STOP key
    assert is_closed(player) and manager.stop_calls == 1
    await ctrl.idle()
    assert not (env.rec_dir / "stream_0.ts").exists()
    assert not env.session.find(ChoiceBox)
