#!/bin/sh
# The test command: venv + test extra, ffmpeg when missing, ruff, vermin (3.8), pytest.
set -eu
cd "$(dirname "$0")/.."
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
sh scripts/env.sh test
if ! command -v ffmpeg >/dev/null 2>&1 || ! command -v ffprobe >/dev/null 2>&1; then
    as_root apt-get update -qq && as_root apt-get install -y -qq ffmpeg
fi
.venv/bin/ruff check .
.venv/bin/vermin -t=3.8- --no-tips --violations --no-parse-comments src Plugins ipk bench
.venv/bin/python -m pytest -q "$@"
