"""Benchmark the storage work per segment: SectionWriter (free-space check, .ap index, .meta)
against the same joining and writing without it (what a section file cost before).

Run: .venv/bin/python bench/section_write.py [--rounds 7] [--max-overhead 0.15]
Uses the ~56 MB of segments bench/ts_join.py generates (cached in the temp dir). Both variants
write into a temporary folder on the same file system; the ratio compares their medians.
Exits 1 when the storage work costs more than --max-overhead of the baseline's time.
"""

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import List

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "bench"))

from ts_join import segments  # noqa: E402

from streamrecorder import files  # noqa: E402
from streamrecorder.hls.sections import SectionWriter  # noqa: E402
from streamrecorder.ts import SectionJoiner  # noqa: E402
from streamrecorder.ts.apindex import read_ap  # noqa: E402
from streamrecorder.ts.packets import align  # noqa: E402
from streamrecorder.volume import Volume  # noqa: E402


def baseline(datas: List[bytes], folder: str) -> float:
    """Join and write, nothing else."""
    start = time.perf_counter()
    out = files.open_output(folder, "stream_0.ts")
    joiner = SectionJoiner()
    for data in datas:
        files.write_all(out, joiner.push_packets(align(data)))
    out.close()
    return time.perf_counter() - start


def with_storage(datas: List[bytes], folder: str) -> float:
    """SectionWriter: resolution probe, reserve check (real statvfs), .ap entry, .meta."""
    start = time.perf_counter()
    writer = SectionWriter(folder, Volume(folder, reserve_bytes=1_000_000), "bench")
    for data in datas:
        writer.write(data)
    writer.close()
    return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--max-overhead", type=float, default=0.15)
    args = parser.parse_args()
    datas = [p.read_bytes() for p in segments()]
    total = sum(len(d) for d in datas)
    base_times, storage_times = [], []
    with tempfile.TemporaryDirectory() as folder:
        for _ in range(args.rounds):
            base_times.append(baseline(datas, folder))
            storage_times.append(with_storage(datas, folder))
        entries = len(read_ap(os.path.join(folder, "stream_0.ts.ap")))
    base = sorted(base_times)[len(base_times) // 2]
    storage = sorted(storage_times)[len(storage_times) // 2]
    overhead = storage / base - 1
    print("section_write: %d segments, %.1f MB, %d .ap entries, python %s"
          % (len(datas), total / 1e6, entries, sys.version.split()[0]))
    print("join + write:                 %8.1f MB/s (median of %d)" % (total / base / 1e6,
                                                                       args.rounds))
    print("SectionWriter (reserve, .ap): %8.1f MB/s" % (total / storage / 1e6))
    print("ratio SectionWriter/baseline time: %.3f (storage work: %+.1f%%)"
          % (storage / base, overhead * 100))
    if entries != len(datas):
        print("FAIL: %d .ap entries for %d segments" % (entries, len(datas)), file=sys.stderr)
        return 1
    if overhead > args.max_overhead:
        print("FAIL: more than %.0f%% over the baseline" % (args.max_overhead * 100),
              file=sys.stderr)
        return 1
    print("OK: <= %.0f%% over the baseline" % (args.max_overhead * 100))
    return 0


if __name__ == "__main__":
    sys.exit(main())
