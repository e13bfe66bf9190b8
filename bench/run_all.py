"""Run every benchmark in bench/ (each as its own process), then print a summary table.

Run: .venv/bin/python bench/run_all.py [--quick] [NAME ...]
Each bench/*.py except this one runs with the project's venv python; its output is shown as it
comes. --quick passes shorter settings to the benchmarks listed in QUICK_ARGS (the others run as
usual). Exits 1 when any benchmark exits non-zero (missed its goal or failed).
"""

import argparse
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Dict, List, Tuple

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
# Shorter settings per benchmark for --quick (each keeps its goal).
QUICK_ARGS: Dict[str, List[str]] = {
    "hls_live_cpu": ["--seconds", "20"],
    "hls_parallel": ["--rounds", "1"],
    "m4s_remux_vs_transcode": ["--seconds", "10"],
    "memory": ["--seconds", "24"],
    "mp4_throughput": ["--size-mb", "128"],
    "section_write": ["--rounds", "3"],
    "ts_join": ["--rounds", "3"],
}


def python() -> str:
    venv = ROOT / ".venv" / "bin" / "python"
    return str(venv) if venv.exists() else sys.executable


def run_one(path: Path, quick: bool, timeout: float) -> Tuple[int, float, str]:
    """(exit code, seconds, last output line); the output is echoed while it runs."""
    cmd = [python(), str(path)] + (QUICK_ARGS.get(path.stem, []) if quick else [])
    shown = " ".join([str(path.relative_to(ROOT))] + cmd[2:])
    print("=== %s: %s" % (path.stem, shown), flush=True)
    start = time.monotonic()
    last = ""
    proc = subprocess.Popen(cmd, cwd=str(ROOT), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, bufsize=1)
    assert proc.stdout is not None
    timed_out = threading.Event()

    def kill() -> None:
        timed_out.set()
        proc.kill()

    timer = threading.Timer(timeout, kill)
    timer.start()
    try:
        for line in proc.stdout:
            sys.stdout.write(line)
            sys.stdout.flush()
            if line.strip():
                last = line.strip()
        code = proc.wait()
    except KeyboardInterrupt:
        proc.kill()
        proc.wait()
        raise
    finally:
        timer.cancel()
        proc.stdout.close()
    if timed_out.is_set():
        last = "timed out after %.0f s" % timeout
    seconds = time.monotonic() - start
    print("=== %s: exit %d after %.1f s\n" % (path.stem, code, seconds), flush=True)
    return code, seconds, last


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help="shorter runs where supported: %s" % ", ".join(
                            "%s %s" % (k, " ".join(v)) for k, v in sorted(QUICK_ARGS.items())))
    parser.add_argument("--timeout", type=float, default=1800.0, help="seconds per benchmark")
    parser.add_argument("names", nargs="*", help="run only these (file names without .py)")
    args = parser.parse_args()
    scripts = sorted(p for p in BENCH.glob("*.py") if p.resolve() != Path(__file__).resolve())
    if args.names:
        unknown = set(args.names) - {p.stem for p in scripts}
        if unknown:
            print("unknown benchmark(s): %s" % ", ".join(sorted(unknown)), file=sys.stderr)
            return 2
        scripts = [p for p in scripts if p.stem in args.names]
    results = []
    for path in scripts:
        code, seconds, last = run_one(path, args.quick, args.timeout)
        results.append((path.stem, code, seconds, last))
    width = max([len(r[0]) for r in results] + [9])
    print("summary%s:" % (" (--quick)" if args.quick else ""))
    print("%-*s  %-6s  %4s  %8s  %s" % (width, "benchmark", "result", "exit", "seconds", "last line"))
    for name, code, seconds, last in results:
        print("%-*s  %-6s  %4d  %8.1f  %s" % (width, name, "ok" if code == 0 else "FAILED", code,
                                             seconds, last[:100]))
    failed = [r[0] for r in results if r[1] != 0]
    print("%d of %d passed%s" % (len(results) - len(failed), len(results),
                                 "; failed: " + ", ".join(failed) if failed else ""))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
