"""A terminal's view of recordings: the printers, exit codes, and the reactor run that waits
for each recording's stop message (the `record` and `demo` commands share them)."""

import json
import sys
from typing import Any, Dict, List, Optional, TextIO

from .messages import Message


class ConsolePrinter:
    """Human output: a progress bar on stderr, start/stop lines, a summary."""

    def __init__(self, out: TextIO = sys.stderr) -> None:
        self.out = out
        self.bar_shown = False

    def __call__(self, message: Message) -> None:
        kind, body = message
        if kind == "progress":
            self.out.write("\r" + format_progress(body))
            self.bar_shown = True
        elif kind == "start":
            self._line("playable now: %s (section %d)" % (body["rec_file"], body["section_index"]))
        elif kind == "stop":
            self._line(format_stop(body))
        self.out.flush()

    def _line(self, text: str) -> None:
        if self.bar_shown:
            self.out.write("\n")
            self.bar_shown = False
        self.out.write(text + "\n")


class JsonPrinter:
    """`--json`: every message as one JSON line on stdout, nothing else there."""

    def __init__(self, out: TextIO = sys.stdout) -> None:
        self.out = out

    def __call__(self, message: Message) -> None:
        self.out.write(json.dumps(message) + "\n")
        self.out.flush()


def size_text(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return ("%d %s" if unit == "B" else "%.1f %s") % (n, unit)
        n /= 1000.0
    return str(n)


def format_progress(body: Dict[str, Any]) -> str:
    percent = body.get("percent")
    width = 24
    if percent is not None:
        filled = int(width * min(100.0, percent) / 100)
        bar = "[" + "#" * filled + "-" * (width - filled) + "] %5.1f%%" % percent
    else:
        bar = "[recording]"
    parts = [bar, size_text(body.get("bytes") or 0), "%s/s" % size_text(body.get("speed_bps") or 0)]
    if body.get("eta_s") is not None:
        parts.append("ETA %ds" % body["eta_s"])
    if body.get("media_s"):
        parts.append("media %.0fs" % body["media_s"])
    parts.append("section %d seg %d" % (body.get("section_index", 0), body.get("segment_index", 0)))
    if body.get("skipped_segments"):
        parts.append("skipped %d" % body["skipped_segments"])
    return "  ".join(parts) + "   "


def format_stop(body: Dict[str, Any]) -> str:
    if body["reason"] == "error":
        return "recording failed [%s]: %s" % (body["error_id"], body["msg"])
    text = "recording %s" % ("complete" if body["reason"] == "complete" else "stopped")
    if body.get("error_id"):  # stopped before anything playable arrived: no file
        return "%s [%s]: %s" % (text, body["error_id"], body["msg"])
    if body.get("skipped_segments"):
        text += " (%d segment(s) could not be fetched)" % body["skipped_segments"]
    return text


def exit_code(stop: Optional[Message]) -> int:
    """0 complete/user, 3 complete/user with skipped segments, 1 error or a stop before
    anything playable arrived (an error_id; architecture.md)."""
    if stop is None:
        return 1
    body = stop[1]
    if body["reason"] == "error" or body.get("error_id"):
        return 1
    return 3 if body.get("skipped_segments") else 0


def run_recordings(resolve_results: List[Dict[str, Any]], printer: Any,
                   recorder_options: Optional[Dict[str, Any]] = None) -> List[Message]:
    """Run the reactor until each recording (one after the other) has sent its stop message."""
    from twisted.internet import error, reactor

    from .manager import Manager

    manager = Manager(recorder_options=recorder_options)
    manager.subscribe(printer)
    stops: List[Message] = []
    queue = list(resolve_results)

    def stop_reactor() -> None:
        try:
            reactor.stop()
        except error.ReactorNotRunning:
            pass

    def next_recording(_: Any = None) -> None:
        if not queue:
            stop_reactor()
            return
        if not manager.record_stream(queue.pop(0)):
            stop_reactor()
            return
        manager.stopped().addCallback(collect)

    def collect(message: Optional[Message]) -> None:
        if message is not None:
            stops.append(message)
        if message is None or message[1]["reason"] != "complete":
            queue.clear()
        next_recording()

    reactor.callWhenRunning(next_recording)
    reactor.run()
    return stops
