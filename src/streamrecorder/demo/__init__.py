"""`streamrecorder demo`: record the bundled sample streams from a loopback server."""

import argparse
import os
import sys

from ..console import ConsolePrinter, JsonPrinter, exit_code, run_recordings
from ..devserver import DevServer, Fault
from ..files import owned_files, prepare_rec_dir

SAMPLE_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "sample")


def demo_command(args: argparse.Namespace) -> int:
    """Serve the samples on 127.0.0.1 (with some CDN latency) and record HLS and MP4."""
    out = prepare_rec_dir(args.output)
    server = DevServer(SAMPLE_DIR)
    try:
        # A little latency and a modest rate, so progress and parallel fetching show.
        server.add_fault(Fault(r"\.ts$", latency=0.15))
        server.add_fault(Fault(r"\.mp4$", throttle_bps=400_000))
        jobs = [
            {"resolved_url": server.url("/index.m3u8"), "recorder_id": "auto",
             "rec_dir": os.path.join(out, "hls"), "buffering": 2, "title": "Demo HLS"},
            {"resolved_url": server.url("/sample.mp4"), "recorder_id": "auto",
             "rec_dir": os.path.join(out, "mp4"), "title": "Demo MP4"},
        ]
        printer = JsonPrinter() if args.json else ConsolePrinter()
        if not args.json:
            print("serving the bundled samples at %s" % server.url("/"), file=sys.stderr)
        stops = run_recordings(jobs, printer)
    finally:
        server.close()
    if not args.json:
        for job in jobs:
            for path in owned_files(job["rec_dir"]):
                print("%s  %d bytes" % (path, os.path.getsize(path)))
    codes = [exit_code(stop) for stop in stops]
    return max(codes) if len(codes) == len(jobs) else 1
