"""Exception types that carry the error_id of the stop message (architecture.md)."""

from typing import Optional


class RecorderError(Exception):
    """Base of every error a recorder reports; `error_id` goes into the stop message."""

    error_id = "failure"

    def __init__(self, msg: str = "", error_id: Optional[str] = None) -> None:
        super().__init__(msg)
        if error_id is not None:
            self.error_id = error_id


class DrmProtectedError(RecorderError):
    error_id = "drm_protected"


class StreamTimeoutError(RecorderError):
    """A server or playlist that stopped answering or changing."""

    error_id = "timeout"


class ForbiddenError(RecorderError):
    """HTTP 401/403."""

    error_id = "forbidden"


class NotFoundError(RecorderError):
    """HTTP 404/410."""

    error_id = "not_found"


class InvalidStreamError(RecorderError):
    """Nothing playable arrived (HTML instead of a playlist, garbage segments, ...)."""

    error_id = "invalid_stream"


class DiskFullError(RecorderError):
    error_id = "disk_full"


class FileTooLargeError(RecorderError):
    error_id = "file_too_large"


class TlsError(RecorderError):
    error_id = "tls"


class FfmpegMissingError(RecorderError):
    error_id = "ffmpeg_missing"


class UnsupportedCodecError(RecorderError):
    error_id = "unsupported_codec"


class StopRequested(Exception):
    """Raised inside a recorder thread when stop() was called; ends the recording as reason user."""


ERROR_IDS = (
    "failure", "drm_protected", "timeout", "forbidden", "not_found", "invalid_stream",
    "disk_full", "file_too_large", "tls", "ffmpeg_missing", "unsupported_codec",
)
