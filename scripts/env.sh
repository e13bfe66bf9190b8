#!/bin/sh
# Creates .venv and installs the package (with the extras named in $1, e.g. "test") into it.
set -eu
cd "$(dirname "$0")/.."
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
if ! python3 -m venv --help >/dev/null 2>&1 || ! python3 -c "import ensurepip" >/dev/null 2>&1; then
    as_root apt-get update -qq && as_root apt-get install -y -qq python3-venv
fi
# $PYTHON (default python3) makes the venv; a venv of another Python is made anew.
python=${PYTHON:-python3}
want=$("$python" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
have=$(.venv/bin/python -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null || true)
[ "$want" = "$have" ] || { rm -rf .venv; "$python" -m venv .venv; }
extras=${1:-}
spec="."
[ -n "$extras" ] && spec=".[$extras]"
.venv/bin/python -m pip install -q --disable-pip-version-check -e "$spec"
