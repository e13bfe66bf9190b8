"""Test media generated with ffmpeg at test time (session-scoped fixtures)."""
