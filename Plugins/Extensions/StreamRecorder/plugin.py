"""Plugin descriptors and entry functions only; the screens live in screens.py."""

from typing import Any, List

from Plugins.Plugin import PluginDescriptor

from . import _


def main(session: Any, **kwargs: Any) -> None:
    """Plugin browser and extensions menu (which lists only one-positional-argument functions)."""
    from .screens import StreamRecorderMain
    session.open(StreamRecorderMain)


def autostart(reason: int, **kwargs: Any) -> None:
    """reason 1: enigma2 quits (plugins.shutdown() after the reactor has stopped); the user has
    confirmed (our recording is a pending job): stop the recorder and let it close its files."""
    if reason == 1:
        from .controller import shutdown
        shutdown()


def sessionstart(reason: int, session: Any = None, **kwargs: Any) -> None:
    """The GUI session exists: the control socket opens here when it is enabled."""
    if reason == 0 and session is not None:
        from .controller import session_started
        session_started(session)


def Plugins(**kwargs: Any) -> List[PluginDescriptor]:  # noqa: N802 - the name enigma2 calls
    name = _("Stream Recorder")
    description = _("Record online streams and watch them while they download")
    return [
        PluginDescriptor(name=name, description=description,
                         where=PluginDescriptor.WHERE_PLUGINMENU, icon="plugin.png", fnc=main),
        PluginDescriptor(name=name, description=description,
                         where=PluginDescriptor.WHERE_EXTENSIONSMENU, fnc=main),
        PluginDescriptor(where=PluginDescriptor.WHERE_AUTOSTART, fnc=autostart),
        PluginDescriptor(where=PluginDescriptor.WHERE_SESSIONSTART, fnc=sessionstart),
    ]
