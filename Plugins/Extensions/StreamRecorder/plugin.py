"""Plugin descriptors and entry functions only; the screens live in screens.py."""

from typing import Any, List

from Plugins.Plugin import PluginDescriptor

from . import _


def main(session: Any, **kwargs: Any) -> None:
    """Plugin browser and extensions menu (which lists only one-positional-argument functions)."""
    from .screens import StreamRecorderMain
    session.open(StreamRecorderMain)


def Plugins(**kwargs: Any) -> List[PluginDescriptor]:  # noqa: N802 - the name enigma2 calls
    name = _("Stream Recorder")
    description = _("Record online streams and watch them while they download")
    return [
        PluginDescriptor(name=name, description=description,
                         where=PluginDescriptor.WHERE_PLUGINMENU, icon="plugin.png", fnc=main),
        PluginDescriptor(name=name, description=description,
                         where=PluginDescriptor.WHERE_EXTENSIONSMENU, fnc=main),
    ]
