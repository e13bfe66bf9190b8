"""Shared pytest set-up: media fixtures (ffmpeg-made, once per run) and the loopback server."""

from media import *  # noqa: F401,F403  (session fixtures: generated TS/MP4/HLS media)
