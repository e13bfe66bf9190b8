#!/bin/sh
# The test command: venv + test extra, ffmpeg when missing, ruff, vermin (3.8), pytest.
set -eu
cd "$(dirname "$0")/.."
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
sh scripts/env.sh test
# ffmpeg/ffprobe make and check the media; ar and dpkg-deb read the .ipk; msgfmt cross-checks .mo
need=""
command -v ffmpeg >/dev/null 2>&1 && command -v ffprobe >/dev/null 2>&1 || need="$need ffmpeg"
command -v ar >/dev/null 2>&1 || need="$need binutils"
command -v dpkg-deb >/dev/null 2>&1 || need="$need dpkg"
command -v msgfmt >/dev/null 2>&1 || need="$need gettext"
if [ -n "$need" ]; then
    as_root apt-get update -qq && as_root apt-get install -y -qq $need
fi
.venv/bin/ruff check .
.venv/bin/vermin -t=3.8- --no-tips --violations --no-parse-comments src Plugins ipk bench
.venv/bin/python -m pytest -q "$@"
