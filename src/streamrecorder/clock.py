"""The recorder's time: one object for its clock readings and its waits, so tests can swap it.

A live recording rides out outages of minutes; a test drives such an outage with a fake clock
(tests/fakeclock.py) in a second or two instead of waiting for it.
"""

import threading
import time


class Clock:
    """Real time: monotonic seconds for intervals, wall-clock seconds for stamps, and a wait
    that an event (the recorder's stop) ends at once."""

    def monotonic(self) -> float:
        return time.monotonic()

    def time(self) -> float:
        return time.time()

    def wait(self, event: threading.Event, seconds: float) -> bool:
        """Sleep up to `seconds`; True as soon as event is set."""
        return event.wait(max(0.0, seconds))


REAL = Clock()
