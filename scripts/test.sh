#!/bin/sh
# The test command: venv + test extra, ffmpeg when missing, ruff, vermin (3.8), pytest; then
# pytest a second time on Python 3.8 with the oldest supported libraries (requirements-oldest.txt).
set -eu
cd "$(dirname "$0")/.."
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
# The plugin tests run inside OpenPLi's enigma2 tree, which runs on Python 3.8-3.10 (3.11
# removed gettext.install(codeset=)): the main pass uses Python 3.10 (PATH or pyenv).
py310=""
for candidate in python3.10 "${PYENV_ROOT:-$HOME/.pyenv}"/versions/3.10*/bin/python3.10; do
    if "$candidate" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 10))' >/dev/null 2>&1; then
        py310=$candidate; break
    fi
done
if [ -z "$py310" ]; then
    echo "test.sh: python3.10 not found (not on PATH, no pyenv 3.10.x): the plugin tests need" \
        "a Python the enigma2 tree runs on" >&2
    exit 1
fi
PYTHON=$py310 sh scripts/env.sh test
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

# --- second pass: Python 3.8 + the oldest supported Twisted/requests/urllib3/cryptography -------
# A working python3.8: on PATH, or one of pyenv's versions (a pyenv shim on PATH fails when 3.8
# is not among the selected versions, so every candidate is run before it is trusted).
is_py38() { "$1" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 8))' >/dev/null 2>&1; }
py38=""
for candidate in python3.8 "${PYENV_ROOT:-$HOME/.pyenv}"/versions/3.8*/bin/python3.8; do
    if is_py38 "$candidate"; then py38=$candidate; break; fi
done
if [ -z "$py38" ]; then
    if [ "${CI:-}" = true ]; then
        echo "test.sh: python3.8 not found (not on PATH, no pyenv 3.8.x): CI must run the" \
            "Python 3.8 pass with the oldest supported libraries" >&2
        exit 1
    fi
    echo "test.sh: NOTICE: python3.8 not found; skipped the second pass (Python 3.8 with the" \
        "oldest supported libraries, requirements-oldest.txt)" >&2
    exit 0
fi
# .venv38 is rebuilt whenever requirements-oldest.txt changed, so no stale package stays in it.
# The project goes in with --no-deps: pip never upgrades a pin; pip check then proves that the
# pins satisfy setup.py's install_requires.
pip38() { .venv38/bin/python -m pip -q --disable-pip-version-check "$@"; }
if ! cmp -s requirements-oldest.txt .venv38/requirements-oldest.txt || ! is_py38 .venv38/bin/python; then
    rm -rf .venv38
    "$py38" -m venv .venv38
    pip38 install wheel==0.45.1    # Twisted 20.3.0 comes as an sdist: build it into a wheel
    pip38 install -r requirements-oldest.txt
    cp requirements-oldest.txt .venv38/requirements-oldest.txt
fi
pip38 install --no-deps -e .
.venv38/bin/python -m pip check
echo "test.sh: second pass: $(.venv38/bin/python -c 'import sys, twisted, requests, urllib3, cryptography
print("Python %d.%d.%d" % sys.version_info[:3], "Twisted", twisted.__version__, "requests",
      requests.__version__, "urllib3", urllib3.__version__, "cryptography", cryptography.__version__)')"
.venv38/bin/python -m pytest -q "$@"
