"""The plugin's questions (stop, keep, leave the player, left-overs): a ChoiceBox in the
plugin's own skin. The stock ChoiceBox of a skin has a question label two lines high, which
cuts the plugin's longer questions (what is left over, how big, why); this one gives the
question the room the skin allows and closes the gap under a short one."""

from typing import Any

from enigma import ePoint, eSize, getDesktop
from Screens.ChoiceBox import ChoiceBox

from . import _, skins


class Question(ChoiceBox):
    def __init__(self, session: Any, layout: str = "StreamRecorderQuestion", **kwargs: Any) -> None:
        """layout: the plugin's skin screen (a longer list of answers needs a taller one)."""
        kwargs.setdefault("windowTitle", _("Stream Recorder"))
        ChoiceBox.__init__(self, session, **kwargs)
        self.skinName = [layout]
        self.skin = skins.get(layout)
        self.onLayoutFinish.append(self._fit)

    def _fit(self) -> None:
        """Shrink the question label to its text and the window with it, centred again."""
        label = self["text"].instance
        if label is None or self.instance is None:
            return
        room = label.size()
        spare = room.height() - min(label.calculateSize().height(), room.height())
        if spare <= 0:
            return
        label.resize(eSize(room.width(), room.height() - spare))
        entries = self["list"].instance
        entries.move(ePoint(entries.position().x(), entries.position().y() - spare))
        size = self.instance.size()
        size = eSize(size.width(), size.height() - spare)
        self.instance.resize(size)
        desktop = getDesktop(0).size()
        self.instance.move(ePoint((desktop.width() - size.width()) // 2,
                                  (desktop.height() - size.height()) // 2))
