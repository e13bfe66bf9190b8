"""Streams without typing, on OpenPLi's real enigma2 tree: the stream channels of the user's
bouquets and m3u lists, grouped ("Channels and lists", TV on the main screen), and "Record
this online channel" (extensions menu, channel list context menu).

Real loopback server that answers only requests with the channel's header (403 otherwise),
real HLS recordings of ffmpeg-made TS segments, the real player; keys through rx.press.
"""

import json

import pytest
import pytest_twisted

from hls_server import publish_vod
from plugin_harness import *  # noqa: F401,F403 - fixtures: receiver, reactor_guard
from plugin_harness import LIVE_SERVICE, REPO, Watch
from streamrecorder.devserver import Fault

pytestmark = pytest.mark.usefixtures("reactor_guard")


@pytest.fixture
def rx(receiver, reactor_guard, monkeypatch):
    """The receiver with its DVB channel playing; playback at 20x; /media is the test's."""
    import enigma
    from Plugins.Extensions.StreamRecorder import sources
    monkeypatch.setattr(enigma, "PLAY_SPEED", 20.0)
    monkeypatch.setattr(sources, "MEDIA_DIR", str(receiver.root / "media"))
    receiver.watch = Watch(receiver, monkeypatch)
    receiver.settings.on_exit.value = "delete"  # no question when the player ends
    receiver.settings.buffering.value = 1
    return receiver


@pytest.fixture
def loaded_plugins(rx):
    """The plugin in enigma2's plugin list, as read at start (the extensions menu shows it)."""
    from Components.PluginComponent import plugins
    plugins.readPluginList(str(REPO / "Plugins"))
    yield rx
    plugins.clearPluginList()


def bouquet_ref(service_type, server, path, ua, name=None):
    """A bouquet line's reference as enigma2 writes it: the URL encoded, headers after '#'."""
    url = server.url(path).replace(":", "%3a")
    return "%d:0:1:0:0:0:0:0:0:0:%s#User-Agent=%s%s" % (service_type, url, ua,
                                                         ":" + name if name else "")


def write_sources(rx, server):
    """bouquets.tv -> two user bouquets (streams + a DVB channel + a marker; DVB only), an m3u
    list on a USB stick, an HLS playlist that is no channel list, one saved stream."""
    (rx.config_dir / "bouquets.tv").write_text(
        "#NAME User - bouquets (TV)\n"
        '#SERVICE 1:7:1:0:0:0:0:0:0:0:FROM BOUQUET "userbouquet.iptv.tv" ORDER BY bouquet\n'
        '#SERVICE 1:7:1:0:0:0:0:0:0:0:FROM BOUQUET "userbouquet.sat.tv" ORDER BY bouquet\n')
    (rx.config_dir / "userbouquet.iptv.tv").write_text(
        "#NAME My IPTV\n"
        "#SERVICE 1:64:0:0:0:0:0:0:0:0::--- News ---\n#DESCRIPTION --- News ---\n"
        "#SERVICE %s\n#DESCRIPTION Das Erste HD\n"
        "#SERVICE %s\n"
        "#SERVICE 1:0:19:283D:3FB:1:C00000:0:0:0:\n#DESCRIPTION ZDF HD (satellite)\n"
        % (bouquet_ref(4097, server, "/tv/index.m3u8", "BoxUA/1"),
           bouquet_ref(1, server, "/sport/index.m3u8", "BoxUA/1", "Sport 1")))
    (rx.config_dir / "userbouquet.sat.tv").write_text(
        "#NAME Satellite\n#SERVICE 1:0:19:283D:3FB:1:C00000:0:0:0:\n#DESCRIPTION ZDF HD\n")
    lists = rx.root / "media" / "usb" / "iptv"
    lists.mkdir(parents=True)
    (lists / "world.m3u").write_text(
        "#EXTM3U\n"
        '#EXTINF:-1 tvg-name="N24" group-title="News",News 24\n'
        "#EXTVLCOPT:http-user-agent=ListUA/2\n"
        "#EXTVLCOPT:http-referrer=http://portal.example/\n"
        "%s\n"
        '#EXTINF:-1 group-title="Music",Radio One\n'
        "%s|User-Agent=KodiUA&verifypeer=false\n"
        '#EXTINF:-1 group-title="Music",Not over HTTP\nrtmp://example.org/live\n'
        % (server.url("/m3u/index.m3u8"), server.url("/radio/index.m3u8")))
    (rx.hdd / "film.m3u8").write_text("#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:2,\nseg.ts\n")
    rx.streams_file.parent.mkdir(parents=True, exist_ok=True)
    rx.streams_file.write_text(json.dumps({"version": 1, "streams": [
        {"name": "Saved one", "url": server.url("/saved.mp4"), "recorder": "auto"}]}))


async def open_sources(rx):
    """The main screen from the plugin's entry, then TV: the channels and lists once read."""
    from Plugins.Extensions.StreamRecorder.source_screens import StreamSourcesScreen
    await rx.open_main()
    rx.press("KEY_TV")
    await rx.settle()
    screen = rx.top(StreamSourcesScreen)
    await screen.loading
    return screen


def rows(screen):
    return [row[0] for row in screen["list"].list]


def requests_to(server, prefix):
    return [r for r in server.requests if r.path.startswith(prefix)]


async def record_until_stopped(rx):
    """The question every recording from the GUI asks first (how long): until it is stopped."""
    from Plugins.Extensions.StreamRecorder import ends
    from Plugins.Extensions.StreamRecorder.question import Question
    await rx.settle()
    rx.choose(rx.top(Question), ends.OPEN)
    await rx.settle()


def playing(rx):
    return rx.nav.getCurrentlyPlayingServiceReference()


# --- channels and lists ---------------------------------------------------------------------
@pytest.mark.parametrize("group, channel, prefix, headers", [
    ("My IPTV", "Das Erste HD", "/tv/", {"User-Agent": "BoxUA/1"}),
    ("world.m3u: News", "News 24", "/m3u/",
     {"User-Agent": "ListUA/2", "Referer": "http://portal.example/"}),
])
@pytest_twisted.ensureDeferred
async def test_channels_grouped_and_ok_records_with_headers(rx, server, media_ts, group, channel,
                                                            prefix, headers):
    """TV on the main screen lists the bouquets with stream channels, the m3u list's groups and
    the saved streams; DVB channels, markers, a DVB-only bouquet, a non-HTTP entry and an HLS
    playlist are left out. OK on a channel records it: every request carries the channel's
    headers (the server refuses any other), and the player plays the recording."""
    from enigma import eServiceReference
    url = publish_vod(server, prefix.strip("/"), media_ts["continuous"][:2])
    assert url.startswith(server.url(prefix))
    server.add_fault(Fault("^" + prefix, require_header=("User-Agent", headers["User-Agent"])))
    write_sources(rx, server)
    screen = await open_sources(rx)
    assert rows(screen) == ["My IPTV", "world.m3u: News", "world.m3u: Music", "Saved streams"]
    assert screen["list"].list[0][1].startswith("2 channels")
    assert screen["status"].getText() == ""

    for _ in range(rows(screen).index(group)):
        rx.press("KEY_DOWN")
    rx.press("KEY_OK")
    await rx.settle()
    assert screen["heading"].getText() == group
    expected = {"My IPTV": ["Das Erste HD", "Sport 1"], "world.m3u: News": ["News 24"]}
    assert rows(screen) == expected[group]
    assert screen["list"].list[0][1] == "127.0.0.1"  # the server, never the path or headers
    rx.press("KEY_OK")
    await record_until_stopped(rx)

    player = await rx.wait_player()
    recording = eServiceReference(1, 0, str(rx.rec_dir / "stream_0.ts"))
    assert player.cur_service == recording and playing(rx) == recording
    assert rx.controller.job.title == channel
    job = rx.controller.job
    assert await rx.until(lambda: job.stop is not None, 15)
    assert job.stop["reason"] == "complete", job.stop
    seen = requests_to(server, prefix)
    assert len(seen) >= 3  # the playlist and both segments
    for request in seen:
        for name, value in headers.items():
            assert request.headers.get(name) == value, (request.path, request.headers)
    assert await rx.until(lambda: player not in rx.stack(), 10), rx.stack()
    await rx.settle()
    # EXIT goes back from the channels to the groups, then closes the list.
    assert rx.top() is screen
    rx.press("KEY_EXIT")
    await rx.settle()
    assert rows(screen)[0] == "My IPTV" and rx.top() is screen
    rx.press("KEY_EXIT")
    await rx.settle()
    assert screen not in rx.stack()


@pytest_twisted.ensureDeferred
async def test_no_lists_says_where_they_are_looked_for(rx, monkeypatch):
    """No bouquet, list or saved stream: the screen says so and where it looked. The folders
    are read on a worker thread, never on the reactor (the GUI) thread."""
    from twisted.python import threadable
    from Plugins.Extensions.StreamRecorder import sources
    on_reactor = []
    read_all = sources.read_all

    def watched(*args):
        on_reactor.append(threadable.isInIOThread())
        return read_all(*args)
    monkeypatch.setattr(sources, "read_all", watched)
    screen = await open_sources(rx)
    assert on_reactor == [False]
    assert rows(screen) == []
    text = screen["status"].getText()
    assert text.startswith("No stream channels found.")
    assert str(rx.config_dir) in text and "/media/" in text
    rx.press("KEY_OK")  # nothing to open: nothing happens
    await rx.settle()
    assert rx.top() is screen and not rx.controller.busy()


# --- record what I'm watching ------------------------------------------------------------------
@pytest_twisted.ensureDeferred
async def test_record_the_stream_channel_being_watched(loaded_plugins, server, media_ts,
                                                       monkeypatch):
    """A stream channel plays; BLUE (extensions menu) -> "Record this online channel": the
    live stream stops before the recording's first request, the player plays the recording
    with the channel's header on every request, and once it has ended the channel plays
    live again."""
    from enigma import eServiceReference
    from Screens.ChoiceBox import ChoiceBox
    from Screens.InfoBar import InfoBar
    rx = loaded_plugins
    publish_vod(server, "tv", media_ts["continuous"][:2])
    server.add_fault(Fault("^/tv/", require_header=("User-Agent", "BoxUA/1")))
    live = eServiceReference(bouquet_ref(4097, server, "/tv/index.m3u8", "BoxUA/1", "Das Erste"))
    rx.nav.playService(live)
    await rx.settle()
    assert playing(rx) == live
    stops = []
    stop_service = rx.nav.stopService

    def stop():
        stops.append(len(server.requests))
        stop_service()
    monkeypatch.setattr(rx.nav, "stopService", stop)

    rx.top(InfoBar)
    rx.press("KEY_BLUE")
    await rx.settle()
    box = rx.top(ChoiceBox)
    keys = [k for k, entry in box.keymap.items() if entry[0] == "Record this online channel"]
    assert keys, [entry[0] for entry in box.keymap.values()]
    rx.press("KEY_" + keys[0].upper())
    await record_until_stopped(rx)

    player = await rx.wait_player()
    assert stops and stops[0] == 0, stops  # stopped before anything was requested
    recording = eServiceReference(1, 0, str(rx.rec_dir / "stream_0.ts"))
    assert player.cur_service == recording and playing(rx) == recording
    job = rx.controller.job
    assert job.title == "Das Erste"
    assert await rx.until(lambda: job.stop is not None, 15)
    assert job.stop["reason"] == "complete", job.stop
    assert all(r.headers.get("User-Agent") == "BoxUA/1" for r in requests_to(server, "/tv/"))
    assert await rx.until(lambda: player not in rx.stack(), 10), rx.stack()
    assert await rx.until(lambda: playing(rx) == live, 5), playing(rx)


@pytest_twisted.ensureDeferred
async def test_keep_live_channel_setting(rx, server, media_ts):
    """With "Keep the live channel playing" the stream is not stopped for the recording; the
    player gives it back when it closes."""
    from enigma import eServiceReference
    from Plugins.Extensions.StreamRecorder import plugin
    publish_vod(server, "tv", media_ts["continuous"][:2])
    live = eServiceReference(bouquet_ref(4097, server, "/tv/index.m3u8", "BoxUA/1", "Das Erste"))
    rx.nav.playService(live)
    rx.settings.keep_live.value = True
    plugin.record_watching(session=rx.session)
    await record_until_stopped(rx)
    player = await rx.wait_player()
    assert player.live_service == live  # still playing when the player opened
    job = rx.controller.job
    assert await rx.until(lambda: job.stop is not None, 15)
    assert await rx.until(lambda: player not in rx.stack(), 10), rx.stack()
    assert playing(rx) == live


@pytest.mark.parametrize("entry", ["extensions", "channel_menu"])
@pytest_twisted.ensureDeferred
async def test_dvb_channel_is_not_recorded(rx, server, entry):
    """A DVB channel (the extensions menu while it plays, or chosen in the channel list's
    context menu) is not an online stream: a message says so, nothing is recorded or stopped."""
    from enigma import eServiceReference
    from Plugins.Extensions.StreamRecorder import plugin
    from Screens.MessageBox import MessageBox
    assert playing(rx) == rx.live_service()
    if entry == "extensions":
        plugin.record_watching(session=rx.session)
        first = "The current channel is not an online stream"
    else:
        plugin.record_channel(session=rx.session, service=eServiceReference(LIVE_SERVICE))
        first = "This channel is not an online stream"
    await rx.settle()
    box = rx.top(MessageBox)
    assert box.text.startswith(first), box.text
    rx.press("KEY_OK")
    await rx.settle()
    assert rx.top() is not box
    assert not rx.controller.busy() and rx.controller.job is None
    assert server.requests == [] and playing(rx) == rx.live_service()


# --- what the lists hold -------------------------------------------------------------------------
def test_broken_and_odd_lists_are_read_without_errors(receiver, tmp_path):
    """A bouquet named but missing, a binary bouquet, an over-large list, broken m3u entries
    and a folder that is a file: what can be read is listed, the rest is left out quietly."""
    from streamrecorder import streamurl
    from Plugins.Extensions.StreamRecorder import sources
    root = tmp_path / "lists"  # beside the receiver's own folders
    config, media = root / "etc", root / "media"
    config.mkdir(parents=True)
    (config / "bouquets.tv").write_text(
        '#SERVICE 1:7:1:0:0:0:0:0:0:0:FROM BOUQUET "userbouquet.gone.tv" ORDER BY bouquet\n'
        '#SERVICE 1:7:1:0:0:0:0:0:0:0:FROM BOUQUET "userbouquet.bin.tv" ORDER BY bouquet\n'
        '#SERVICE 1:7:1:0:0:0:0:0:0:0:FROM BOUQUET "userbouquet.ok.tv" ORDER BY bouquet\n')
    (config / "userbouquet.bin.tv").write_bytes(bytes(range(256)) * 8)
    (config / "userbouquet.ok.tv").write_text(
        "#SERVICE 4097:0:1:0:0:0:0:0:0:0:https%3a//a.example/x.m3u8\n"  # no name: the host
        "#SERVICE 4097:0:1:0:0:0:0:0:0:0:rtsp%3a//a.example/x:RTSP\n"  # not http(s)
        "#SERVICE 5001:0:1:0:0:0:0:0:0:0:http%3a//b.example/y%0d%0aInjected%3a%201.ts:CRLF\n")  # refused
    (media / "usb").mkdir(parents=True)
    (media / "usb" / "streams").write_text("a file where a folder is looked for")
    (media / "usb" / "big.m3u").write_bytes(b"#EXTM3U\n" + b"#" * (sources.MAX_LIST_BYTES + 1))
    (media / "usb" / "odd.m3u8").write_text(
        '#EXTM3U\n#EXTINF:-1 tvg-name="Nord, Süd" group-title="Regional",Nord-Süd TV\n'
        "#EXTVLCOPT:http-user-agent=Odd UA/1.0\n"
        "http://c.example/ns.m3u8\n"
        "#EXTINF:-1,Missing URL\n#EXTINF:-1,No scheme\nc.example/none.m3u8\n")
    groups = sources.read_all(str(config), str(root / "streams.json"), "Saved", str(media))
    assert [(g.name, [c.name for c in g.channels]) for g in groups] == [
        ("userbouquet.ok.tv", ["a.example"]), ("odd.m3u8: Regional", ["Nord-Süd TV"])]
    headers = streamurl.parse(groups[1].channels[0].url).headers
    assert headers == (("User-Agent", "Odd UA/1.0"),)


@pytest_twisted.ensureDeferred
async def test_channel_menu_records_the_chosen_stream_channel(rx, server, media_ts):
    """The channel list's context menu passes the selected channel (ChannelContextMenu.runPlugin:
    fnc(session=..., service=...)): a stream channel is recorded and watched while a DVB
    channel plays; the DVB channel holds no connection, so the player gives it back at the end."""
    from enigma import eServiceReference
    from Plugins.Extensions.StreamRecorder import plugin
    publish_vod(server, "tv", media_ts["continuous"][:2])
    server.add_fault(Fault("^/tv/", require_header=("User-Agent", "BoxUA/1")))
    chosen = eServiceReference(bouquet_ref(4097, server, "/tv/index.m3u8", "BoxUA/1", "Arte"))
    assert playing(rx) == rx.live_service()
    plugin.record_channel(session=rx.session, service=chosen)
    await record_until_stopped(rx)
    player = await rx.wait_player()
    assert player.live_service == rx.live_service()
    job = rx.controller.job
    assert job.title == "Arte"
    assert await rx.until(lambda: job.stop is not None, 15)
    assert job.stop["reason"] == "complete", job.stop
    assert requests_to(server, "/tv/")
    assert all(r.headers.get("User-Agent") == "BoxUA/1" for r in requests_to(server, "/tv/"))
    assert await rx.until(lambda: player not in rx.stack(), 10), rx.stack()
    await rx.settle()
    assert playing(rx) == rx.live_service()
