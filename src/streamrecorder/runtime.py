"""How a recorder runs: blocking work on the reactor's thread pool, messages on the reactor thread."""

from typing import Any, Callable


class Runtime:
    """Thin seam over the Twisted reactor, so recorders never touch the reactor directly."""

    def __init__(self, reactor: Any = None) -> None:
        if reactor is None:
            from twisted.internet import reactor as default_reactor
            reactor = default_reactor
        self.reactor = reactor

    def run_in_thread(self, func: Callable[..., Any], *args: Any) -> None:
        """Run blocking work on the reactor's thread pool."""
        self.reactor.callInThread(func, *args)

    def call_on_reactor(self, func: Callable[..., Any], *args: Any) -> None:
        """Hop back onto the reactor thread (safe from any thread)."""
        self.reactor.callFromThread(func, *args)

    def in_reactor_thread(self) -> bool:
        from twisted.python import threadable
        return bool(threadable.isInIOThread())
