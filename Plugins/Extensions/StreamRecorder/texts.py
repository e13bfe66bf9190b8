"""Words for the viewer: error texts per error_id and the status area's lines."""

import os
from typing import Any, Dict, List, Optional

from . import _

RECORDER_NAMES = {
    "mp4": "MP4", "hls_basic": "HLS", "hls_live": "HLS live", "hls_m4s": "HLS (fMP4)", "auto": "auto",
}


def error_text(error_id: Optional[str], detail: str = "") -> str:
    """What went wrong, in words a viewer understands (error_ids of architecture.md)."""
    texts = {
        "drm_protected": _("This stream is copy-protected (DRM). It cannot be recorded."),
        "forbidden": _("Access denied: the server refused this stream. It may need a login, "
                       "or it is not available in your country."),
        "not_found": _("The stream was not found on the server. It may have been removed, "
                       "or the link has expired."),
        "timeout": _("Network timeout: the server stopped answering. Check the internet "
                     "connection or try again later."),
        "invalid_stream": _("This address does not lead to a video stream the recorder knows "
                            "(neither MP4 nor HLS)."),
        "disk_full": _("The recording disk is full, or its free space reached the reserve "
                       "set in the settings (Keep free on the device). Delete old recordings "
                       "or choose another recording folder in the settings."),
        "file_too_large": _("The recording became too large for the file system of the "
                            "recording disk (FAT32 allows at most 4 GB per file)."),
        "tls": _("The secure connection failed: the server's certificate could not be "
                 "verified. If you trust this server, switch off certificate checks in the "
                 "settings."),
        "ffmpeg_missing": _("This stream needs ffmpeg, which is not installed on the receiver."),
        "unsupported_codec": _("This stream uses a video or audio format the receiver cannot "
                               "play."),
    }
    text = texts.get(error_id or "", _("The recording failed."))
    if detail:
        text += "\n\n" + _("Details: %s") % detail
    return text


def storage_text(kind: str, path: str = "") -> str:
    if kind == "ram":
        return _("The recording folder %s is in the receiver's memory (RAM), which is far too "
                 "small for recordings. Please choose a folder on a hard disk or USB stick.") % path
    if kind == "unwritable":
        return _("The recording folder %s cannot be written. Please choose another one.") % path
    return _("No hard disk or USB storage with free space was found. Please connect storage "
             "and choose a recording folder in the settings.")


def human_bytes(count: Optional[float]) -> str:
    value = float(count or 0)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            return ("%d %s" if unit == "B" else "%.1f %s") % (value, unit)
        value /= 1024
    return "%.1f GB" % value


def human_duration(seconds: Optional[float]) -> str:
    total = int(seconds or 0)
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    return "%d:%02d:%02d" % (hours, minutes, secs)


def status_lines(status: Dict[str, Any]) -> str:
    """The status area: state, recorder, section/segment, bytes, speed, media time, %, ETA."""
    state = status.get("state", "idle")
    title = status.get("title") or ""
    if state == "idle":
        last = status.get("last_result")
        return last or _("No recording is running.")
    head = {
        "preparing": _("Preparing: %s"), "starting": _("Connecting: %s"),
        "recording": _("Recording: %s"), "stopping": _("Stopping: %s"),
    }.get(state, "%s") % title
    if status.get("end"):
        head += ", " + status["end"]  # "until 21:45": the end chosen when it was started
    lines = [head]
    progress = status.get("progress")
    recorder = status.get("recorder")
    if progress:
        recorder = (progress.get("recorder") or {}).get("type") or recorder
    if recorder:
        lines.append(_("Recorder: %s") % RECORDER_NAMES.get(recorder, recorder))
    if progress:
        lines.append(_("Section %(section)d, segment %(segment)d") % {
            "section": progress.get("section_index", 0) + 1,
            "segment": progress.get("segment_index", 0)})
        size = human_bytes(progress.get("bytes"))
        if progress.get("total_bytes"):
            size += " / " + human_bytes(progress["total_bytes"])
        lines.append(_("%(size)s at %(speed)s/s") % {
            "size": size, "speed": human_bytes(progress.get("speed_bps"))})
        if progress.get("media_s"):
            lines.append(_("Media time: %s") % human_duration(progress["media_s"]))
        if progress.get("percent") is not None:
            line = "%d %%" % int(progress["percent"])
            if progress.get("eta_s") is not None:
                line += " - " + _("%s left") % human_duration(progress["eta_s"])
            lines.append(line)
    return "\n".join(lines)


def percent_of(status: Dict[str, Any]) -> int:
    progress = status.get("progress") or {}
    percent = progress.get("percent")
    return int(percent) if percent is not None else 0


def keep_result_text(paths: List[str]) -> str:
    names = "\n".join(os.path.basename(p) for p in paths)
    return _("The recording was saved in the movie folder:") + "\n" + names
