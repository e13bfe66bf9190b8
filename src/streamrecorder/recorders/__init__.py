"""Recorder classes by recorder id."""
