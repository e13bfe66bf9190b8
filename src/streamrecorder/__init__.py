"""StreamRecorder: record online video streams into growing, playable files."""

__version__ = "0.1.0"
