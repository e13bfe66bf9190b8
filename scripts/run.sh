#!/bin/sh
# The main job: serve the bundled sample streams on 127.0.0.1 and record them into ./recordings/.
set -eu
cd "$(dirname "$0")/.."
sh scripts/env.sh
exec .venv/bin/streamrecorder demo "$@"
