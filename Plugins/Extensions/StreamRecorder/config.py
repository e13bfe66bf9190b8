"""config.plugins.streamrecorder: the user's settings, and how they turn into recorder input."""

import secrets
from typing import Any, Dict, Optional, Tuple

from Components.config import (ConfigDirectory, ConfigInteger, ConfigSelection, ConfigSelectionNumber,
                               ConfigSubsection, ConfigText, ConfigYesNo, config, configfile)
from streamrecorder.http import DEFAULT_USER_AGENT

from . import _

FALLBACK_MOVIE_DIR = "/media/hdd/movie/"  # only where enigma2 has no default movie folder
DEFAULT_CONTROL_PORT = 8765
DEFAULT_CONTROL_PATH = "/tmp/streamrecorder.sock"
MIN_TOKEN_LENGTH = 8  # what streamrecorder.control.ControlServer accepts

class FolderSetting(ConfigDirectory):
    """A folder whose empty value means a default, shown in words instead of enigma2's
    "List of storage devices"."""

    def __init__(self, empty_text: str) -> None:
        ConfigDirectory.__init__(self, default="")
        self.empty_text = empty_text

    def getMulti(self, selected: Any) -> Any:  # noqa: N802 - enigma2's name
        if not self.value:
            return "mtext"[1 - selected:], self.empty_text, []
        return ConfigDirectory.getMulti(self, selected)


config.plugins.streamrecorder = ConfigSubsection()
settings = config.plugins.streamrecorder
# Empty means "automatic": a streamrecorder folder on the first mounted hard disk or USB stick.
settings.rec_dir = FolderSetting(_("automatic (hard disk or USB stick)"))
# Empty means enigma2's own default movie folder (config.usage.default_path), followed when
# the user changes it there.
settings.movie_dir = FolderSetting(_("enigma2's movie folder"))
settings.buffering = ConfigInteger(default=5, limits=(1, 30))
settings.parallel = ConfigInteger(default=4, limits=(1, 8))
settings.quality = ConfigSelection(default="best", choices=[
    ("best", _("best available")), ("2160", "2160p"), ("1080", "1080p"), ("720", "720p"),
    ("576", "576p"), ("480", "480p"), ("worst", _("lowest"))])
settings.allow_transcode = ConfigYesNo(default=False)
# "Record what I'm watching": the live stream is stopped while it is recorded (one connection),
# unless this says to keep it playing.
settings.keep_live = ConfigYesNo(default=False)
settings.on_exit = ConfigSelection(default="ask", choices=[
    ("ask", _("ask")), ("keep", _("keep the recording")), ("delete", _("delete the recording"))])
# A browser's user agent is longer than the list row: show a window of it beside its label.
settings.user_agent = ConfigText(default=DEFAULT_USER_AGENT, fixed_size=False, visible_width=40)
settings.audio_language = ConfigSelection(default="auto", choices=[
    ("auto", _("as the stream says")), ("de", "Deutsch"), ("en", "English"), ("fr", "Français"),
    ("it", "Italiano"), ("es", "Español"), ("nl", "Nederlands"), ("pl", "Polski"),
    ("tr", "Türkçe"), ("ru", "Русский")])
settings.verify_tls = ConfigYesNo(default=True)
# Stream timers made from an EPG event start this many minutes early and end this many late.
settings.margin_before = ConfigSelectionNumber(0, 120, 1, default=5, wraparound=True)
settings.margin_after = ConfigSelectionNumber(0, 240, 1, default=10, wraparound=True)
# The recorder stops with disk_full before the device has less than this left (MB).
settings.reserve_mb = ConfigInteger(default=500, limits=(0, 100000))
# The local control socket (issue 7): off until the user enables it.
settings.control_enabled = ConfigYesNo(default=False)
settings.control_kind = ConfigSelection(default="tcp", choices=[
    ("tcp", _("TCP port on 127.0.0.1")), ("unix", _("Unix socket"))])
settings.control_port = ConfigInteger(default=DEFAULT_CONTROL_PORT, limits=(1024, 65535))
settings.control_path = ConfigText(default=DEFAULT_CONTROL_PATH, fixed_size=False)
# Shared with the controlling program; generated when the socket is first enabled.
settings.control_token = ConfigText(default="", fixed_size=False)


def movie_dir() -> str:
    """Where kept recordings go: the plugin's setting, else enigma2's default movie folder."""
    # enigma2 sets up config.usage (UsageConfig) at start-up, before any plugin is loaded.
    return settings.movie_dir.value or config.usage.default_path.value or FALLBACK_MOVIE_DIR


def recorder_options() -> Dict[str, Any]:
    """Constructor options for every recorder (Manager(recorder_options=...)); recorders ignore
    the ones meant for other types (parallel, audio_language, allow_transcode are HLS options)."""
    language = settings.audio_language.value
    return {
        "user_agent": settings.user_agent.value.strip() or DEFAULT_USER_AGENT,
        "verify_tls": bool(settings.verify_tls.value),
        "parallel": int(settings.parallel.value),
        "allow_transcode": bool(settings.allow_transcode.value),
        "audio_language": None if language == "auto" else language,
        "reserve_bytes": int(settings.reserve_mb.value) * 1_000_000,
    }


def resolve_defaults() -> Dict[str, Any]:
    """resolve_result keys taken from the settings when the resolver did not set them (the
    recorder options are repeated here for recorders that read them per recording)."""
    quality: Any = settings.quality.value
    if quality.isdigit():
        quality = int(quality)
    result: Dict[str, Any] = {
        "recorder_id": "auto",
        "buffering": int(settings.buffering.value),
        "parallel": int(settings.parallel.value),
        "quality": quality,
        "allow_transcode": bool(settings.allow_transcode.value),
    }
    if settings.audio_language.value != "auto":
        result["audio_language"] = settings.audio_language.value
    return result


def new_token() -> str:
    """24 random URL-safe characters (144 bits) from the system's secure generator."""
    return secrets.token_urlsafe(18)


def ensure_token() -> str:
    """The control token; a new random one when the socket is enabled without a usable one."""
    token = settings.control_token.value.strip()
    if len(token) < MIN_TOKEN_LENGTH:
        token = new_token()
        settings.control_token.value = token
        settings.control_token.save()
        configfile.save()  # the other program must keep working after a restart
    return token


def control_address() -> Optional[Tuple[str, Any]]:
    """("tcp", port) or ("unix", path) when the control socket is enabled, else None."""
    if not settings.control_enabled.value:
        return None
    if settings.control_kind.value == "unix":
        return ("unix", settings.control_path.value.strip() or DEFAULT_CONTROL_PATH)
    return ("tcp", int(settings.control_port.value))


def streams_file() -> str:
    """The saved streams: /etc/enigma2/streamrecorder/streams.json on a receiver."""
    from Tools.Directories import SCOPE_CONFIG, resolveFilename
    return resolveFilename(SCOPE_CONFIG, "streamrecorder/streams.json")
