"""Command line: `python -m streamrecorder record URL ...` and `streamrecorder demo`."""

import argparse
import logging
import sys
from typing import Any, Dict, List, Optional

from .console import ConsolePrinter, JsonPrinter, exit_code, run_recordings, size_text
from .errors import RecorderError
from .http import check_header_value

RECORDER_CHOICES = ("auto", "mp4", "hls_basic", "hls_live", "hls_m4s")


def quality_arg(value: str) -> Any:
    """best, worst, a height (720, 720p) or a label (SD, HD, FHD, UHD, 4K); empty means best."""
    from .options import parse_quality
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
    rec.add_argument("--audio-language", metavar="LANG",
                     help="audio rendition to record when the stream offers several (de, deu, en)")
    rec.add_argument("--allow-transcode", action="store_true",
                     help="transcode (slowly) when no variant has codecs a receiver decodes")
    rec.add_argument("--show-ads", action="store_true",
                     help="keep ad segments (dropped by default)")
    rec.add_argument("--reserve-mb", type=non_negative_int, default=500, metavar="N",
                     help="keep N MB free on the recording's disk: the recording ends "
                          "(disk_full) there (default 500, 0 = off)")
    rec.add_argument("-v", "--verbose", action="count", default=0, dest="verbose_sub",
                     help="more log output")
    demo = sub.add_parser("demo", help="record the bundled sample streams from a local server")
    demo.add_argument("-o", "--output", default="recordings")
    demo.add_argument("--json", action="store_true")
    return parser


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
    if args.audio_language:
        rr["audio_language"] = args.audio_language
    if args.allow_transcode:
        rr["allow_transcode"] = True
    if args.show_ads:
        rr["show_ads"] = True
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
        if not path.endswith((".ap", ".meta", "stream_state.json")):
            print("%s  %s" % (path, size_text(os.path.getsize(path))))


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
