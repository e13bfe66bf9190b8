"""A fake clock for recorders (streamrecorder.clock.Clock): real time plus an offset the test
moves forward, so minutes of a recording pass in a second of real time."""

import threading
import time

from streamrecorder.clock import Clock

# A wait looks at the clock this often, so an advance() ends it soon.
SLICE_S = 0.01


class FakeClock(Clock):
    """monotonic() and time() run with real time plus `offset`; advance() moves both on, and a
    wait ends when its fake deadline has passed (or the event is set, at once)."""

    def __init__(self) -> None:
        self._offset = 0.0
        self._lock = threading.Lock()

    @property
    def offset(self) -> float:
        with self._lock:
            return self._offset

    def advance(self, seconds: float) -> None:
        with self._lock:
            self._offset += seconds

    def monotonic(self) -> float:
        return time.monotonic() + self.offset

    def time(self) -> float:
        return time.time() + self.offset

    def wait(self, event: threading.Event, seconds: float) -> bool:
        deadline = self.monotonic() + max(0.0, seconds)
        while not event.is_set():
            left = deadline - self.monotonic()
            if left <= 0:
                return False
            event.wait(min(left, SLICE_S))
        return True
