"""Command line: `python -m streamrecorder record URL ...` and `streamrecorder demo`."""

import argparse
import json
import logging
import sys
from typing import Any, Dict, List, Optional, TextIO

from .errors import RecorderError
from .http import check_header_value
from .messages import Message

RECORDER_CHOICES = ("auto", "mp4", "hls_basic", "hls_live", "hls_m4s")


def quality_arg(value: str) -> Any:
    """best, worst, a height (720, 720p) or a label (SD, HD, FHD, UHD, 4K); empty means best."""
    from .hls.variants import parse_quality
    try:
        return parse_quality(value)
    except ValueError:
        raise argparse.ArgumentTypeError(
            "unknown quality %r: use best, worst, a maximum height such as 720 or 720p, "
            "or one of SD (576), HD (720), FHD (1080), UHD or 4K (2160)" % value) from None


def header_arg(value: str) -> tuple:
    name, sep, val = value.partition(":")
    if not sep or not name.strip():
        raise argparse.ArgumentTypeError("header must look like 'Name: value'")
    try:
        check_header_value(name.strip(), val.strip())
    except RecorderError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return name.strip(), val.strip()


def positive_int(value: str) -> int:
    if not value.isdigit() or int(value) < 1:
        raise argparse.ArgumentTypeError("expected a whole number >= 1")
    return int(value)


def non_negative_int(value: str) -> int:
    if not value.isdigit():
        raise argparse.ArgumentTypeError("expected a whole number >= 0")
    return int(value)


def positive_float(value: str) -> float:
    try:
        number = float(value)
    except ValueError:
        number = -1.0
    if number <= 0:
        raise argparse.ArgumentTypeError("expected a number of seconds > 0")
    return number


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="streamrecorder",
                                     description="Record online video (MP4, HLS) into files.")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more log output")
    sub = parser.add_subparsers(dest="command")
    rec = sub.add_parser("record", help="record a stream URL")
    rec.add_argument("url")
    rec.add_argument("-o", "--output", default="recordings", help="recording folder")
    rec.add_argument("--recorder", choices=RECORDER_CHOICES, default="auto")
    rec.add_argument("--buffering", type=positive_int, default=5,
                     help="segments on disk before playback may start")
    rec.add_argument("-H", "--header", type=header_arg, action="append", default=[],
                     metavar="'Name: value'", help="extra HTTP header (repeatable)")
    rec.add_argument("--duration", type=positive_float, help="stop after SECONDS")
    rec.add_argument("--json", action="store_true", help="one JSON message per line on stdout")
    rec.add_argument("--quality", type=quality_arg, default="best",
                     help="best (default), worst, a maximum height (720, 720p) "
                          "or SD, HD, FHD, UHD, 4K")
    rec.add_argument("--parallel", type=positive_int, default=None,
                     help="parallel segment downloads (HLS; default 4)")
    rec.add_argument("--reserve-mb", type=non_negative_int, default=500, metavar="N",
                     help="keep N MB free on the recording's disk: the recording ends "
                          "(disk_full) there (default 500, 0 = off)")
    rec.add_argument("-v", "--verbose", action="count", default=0, dest="verbose_sub",
                     help="more log output")
    demo = sub.add_parser("demo", help="record the bundled sample streams from a local server")
    demo.add_argument("-o", "--output", default="recordings")
    demo.add_argument("--json", action="store_true")
    return parser


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


def _size(n: float) -> str:
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
    parts = [bar, _size(body.get("bytes") or 0), "%s/s" % _size(body.get("speed_bps") or 0)]
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


def record_command(args: argparse.Namespace) -> int:
    from .files import prepare_rec_dir
    try:
        rec_dir = prepare_rec_dir(args.output)
    except RecorderError as exc:
        print("error [%s]: %s" % (exc.error_id, exc), file=sys.stderr)
        return 1
    import requests
    session = requests.Session()
    for name, value in args.header:
        session.headers[name] = value
    rr: Dict[str, Any] = {
        "resolved_url": args.url, "recorder_id": args.recorder, "rec_dir": rec_dir,
        "session": session, "buffering": args.buffering, "quality": args.quality,
    }
    if args.duration:
        rr["duration"] = args.duration
    if args.parallel:
        rr["parallel"] = args.parallel
    printer = JsonPrinter() if args.json else ConsolePrinter()
    stops = run_recordings([rr], printer, {"reserve_bytes": args.reserve_mb * 1_000_000})
    stop = stops[-1] if stops else None
    if stop is not None and stop[1].get("error_id") and args.json:
        # (without --json the ConsolePrinter already said it on stderr)
        print("error [%s]: %s" % (stop[1]["error_id"], stop[1]["msg"]), file=sys.stderr)
    if stop is not None and not args.json:
        _print_files(rec_dir)
    return exit_code(stop)


def _print_files(rec_dir: str) -> None:
    import os

    from .files import owned_files
    for path in owned_files(rec_dir):
        if not path.endswith((".ap", ".meta")):
            print("%s  %s" % (path, _size(os.path.getsize(path))))


def main(argv: Optional[List[str]] = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    verbose = args.verbose + getattr(args, "verbose_sub", 0)
    logging.basicConfig(level=logging.WARNING if not verbose else
                        (logging.INFO if verbose == 1 else logging.DEBUG),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
                        stream=sys.stderr)
    if args.command == "record":
        return record_command(args)
    if args.command == "demo":
        from .demo import demo_command
        return demo_command(args)
    parser.print_help(sys.stderr)
    return 2
