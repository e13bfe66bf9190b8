"""OK on a text entry of a ConfigListScreen opens enigma2's virtual keyboard (a remote has no
letters); on any other entry it steps the value as RIGHT does."""

from typing import Any, Optional

from Components.config import ConfigText
from Screens.VirtualKeyBoard import VirtualKeyBoard


class TextEntry:
    """Mixin for a ConfigListScreen (before it in the bases)."""

    def keyOK(self) -> None:
        current = self["config"].getCurrent()
        if current is not None and isinstance(current[1], ConfigText):
            element = current[1]
            self.session.openWithCallback(lambda text: self._typed(element, text),
                                          VirtualKeyBoard, title=current[0], text=element.value)
        elif current is not None:
            self.keyRight()

    def _typed(self, element: Any, text: Optional[str]) -> None:
        if text is not None:
            element.value = text.strip()
            self["config"].invalidateCurrent()
