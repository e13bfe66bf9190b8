"""Plugin descriptors and entry functions only; the screens live in screens.py."""

from typing import Any, List

from Plugins.Plugin import PluginDescriptor

from . import _


def main(session: Any, **kwargs: Any) -> None:
    """Plugin browser and extensions menu (which lists only one-positional-argument functions)."""
    from .screens import StreamRecorderMain
    session.open(StreamRecorderMain)


def record_watching(session: Any, **kwargs: Any) -> None:
    """Extensions menu: record the online channel that is playing and watch the recording."""
    from .watching import record_service
    record_service(session)


def record_channel(session: Any, service: Any = None, **kwargs: Any) -> None:
    """Channel list context menu (ChannelContextMenu.runPlugin passes the selected service)."""
    from .watching import record_service
    if service is not None:
        record_service(session, service)


def record_selected_event(session: Any, selectedevent: Any = None, **kwargs: Any) -> None:
    """EPG lists (EPGSelection, GraphMultiEPG: the parameter name `selectedevent` lists it
    there) pass (event, ServiceReference): a timer for that programme."""
    from .timer_screens import timer_from_event
    if selectedevent:
        timer_from_event(session, selectedevent[1], selectedevent[0])


def record_event(session: Any, service: Any = None, event: Any = None, **kwargs: Any) -> None:
    """EventView passes service and event; the InfoBar's EPG menu neither: then the programme
    now on the channel that plays."""
    from .timer_screens import timer_from_event, timer_from_current
    if event is not None:
        timer_from_event(session, service, event)
    else:
        timer_from_current(session)


def wakeup() -> int:
    """enigma2 asks at shutdown when to wake the box: the next timer's start, or -1."""
    from .timers import next_wakeup
    return next_wakeup()


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
        from .timers import session_started as timers_started
        timers_started(session)


def Plugins(**kwargs: Any) -> List[PluginDescriptor]:  # noqa: N802 - the name enigma2 calls
    name = _("Stream Recorder")
    description = _("Record online streams and watch them while they download")
    timer_description = _("A timer that records this programme of an online channel")
    return [
        PluginDescriptor(name=name, description=description,
                         where=PluginDescriptor.WHERE_PLUGINMENU, icon="plugin.png", fnc=main),
        PluginDescriptor(name=name, description=description,
                         where=PluginDescriptor.WHERE_EXTENSIONSMENU, fnc=main),
        PluginDescriptor(name=_("Record this online channel"), description=description,
                         where=PluginDescriptor.WHERE_EXTENSIONSMENU, fnc=record_watching),
        PluginDescriptor(name=_("Record this online channel"), description=description,
                         where=PluginDescriptor.WHERE_CHANNEL_CONTEXT_MENU, fnc=record_channel),
        PluginDescriptor(where=PluginDescriptor.WHERE_AUTOSTART, fnc=autostart,
                         wakeupfnc=wakeup),
        PluginDescriptor(where=PluginDescriptor.WHERE_SESSIONSTART, fnc=sessionstart),
        PluginDescriptor(name=_("Record with StreamRecorder"), description=timer_description,
                         where=PluginDescriptor.WHERE_EVENTINFO, fnc=record_selected_event),
        PluginDescriptor(name=_("Record with StreamRecorder"), description=timer_description,
                         where=PluginDescriptor.WHERE_EVENTINFO, fnc=record_event),
    ]
