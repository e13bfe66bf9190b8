"""ffmpeg as a child process: probe the installed binary once, build commands, run and reap it.

Receivers ship ffmpeg 4.x to 7.x, so a command is built from what the installed binary reports
(`-version`, `-h full`, `-protocols`, `-encoders`), never from a fixed version's option list.
A running ffmpeg lives in its own process group; its stderr is drained continuously into a bounded
buffer (no pipe deadlock) and its `-progress pipe:1` blocks are parsed on a reader thread.
"""

import collections
import logging
import os
import queue
import re
import shutil
import signal
import subprocess
import threading
import time
from dataclasses import dataclass, field
from typing import (Any, Callable, Deque, Dict, FrozenSet, Iterable, List, Optional, Sequence, Tuple,
                    Type)

import requests

from .errors import (DiskFullError, FfmpegMissingError, FileTooLargeError, ForbiddenError,
                     InvalidStreamError, NotFoundError, RecorderError, StreamTimeoutError,
                     TlsError, UnsupportedCodecError)
from .http import check_header_value, redact

log = logging.getLogger(__name__)

INSTALL_HINT = "install ffmpeg on the receiver (e.g. `opkg install ffmpeg`)"
PROBE_TIMEOUT = 20.0
# Protocols an HLS input may use: playlists and segments over HTTP(S), AES-128 via crypto.
HLS_PROTOCOLS = ("http", "https", "tcp", "tls", "crypto")
# Fixed PIDs, so every recording of every stream looks alike to the receiver's player.
VIDEO_START_PID = 0x100
PMT_START_PID = 0x1000
RW_TIMEOUT_S = 20.0
RECONNECT_DELAY_MAX_S = 5
STDERR_TAIL = 80
TERMINATE_GRACE_S = 5.0
SECOND_SIGTERM_AFTER_S = 0.5


# --- probing ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class FfmpegInfo:
    """What one installed ffmpeg binary is and supports."""

    path: str
    version: Optional[Tuple[int, int]]   # (major, minor); None for git builds
    version_line: str
    options: FrozenSet[str] = frozenset()
    protocols: FrozenSet[str] = frozenset()   # input protocols
    encoders: FrozenSet[str] = frozenset()

    def supports(self, option: str) -> bool:
        """Does any context (global, format, protocol, codec) know `-option`?"""
        return option.lstrip("-") in self.options

    def has_protocol(self, name: str) -> bool:
        # An ffmpeg whose list could not be read is trusted rather than refused.
        return not self.protocols or name in self.protocols

    def has_encoder(self, name: str) -> bool:
        return name in self.encoders


_probe_lock = threading.Lock()
_probe_cache: Dict[Tuple[str, float, int], FfmpegInfo] = {}

_VERSION_RE = re.compile(r"^\S+ version\s+n?(\d+)\.(\d+)")
_OPTION_RE = re.compile(r"^\s*-([A-Za-z0-9][A-Za-z0-9_:]*)")
_ENCODER_RE = re.compile(r"^\s*[VASDFXB.]{6}\s+(\S+)")


def find_binary(path: str = "ffmpeg") -> str:
    """Absolute path of the ffmpeg to run; FfmpegMissingError when there is none."""
    found = shutil.which(path)
    if not found:
        where = "on PATH" if os.sep not in path else "at %s" % path
        raise FfmpegMissingError("ffmpeg is not installed (no %r %s): %s" % (
            os.path.basename(path), where, INSTALL_HINT))
    return os.path.abspath(found)


def probe(path: str = "ffmpeg") -> FfmpegInfo:
    """Probe the installed ffmpeg once (per binary file): version, options, protocols, encoders."""
    binary = find_binary(path)
    try:
        st = os.stat(binary)
    except OSError as exc:
        raise FfmpegMissingError("cannot use ffmpeg at %s: %s" % (binary, exc.strerror)) from None
    key = (binary, st.st_mtime, st.st_size)
    with _probe_lock:
        info = _probe_cache.get(key)
        if info is None:
            info = _probe_uncached(binary)
            _probe_cache[key] = info
            log.info("ffmpeg %s at %s: %d options, protocols %s", _version_text(info), binary,
                     len(info.options), ",".join(sorted(info.protocols & set(HLS_PROTOCOLS))))
    return info


def _version_text(info: FfmpegInfo) -> str:
    return "%d.%d" % info.version if info.version else "(unknown version)"


def _run_probe(binary: str, *args: str) -> str:
    try:
        proc = subprocess.run([binary, "-hide_banner", *args], stdin=subprocess.DEVNULL,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              timeout=PROBE_TIMEOUT, check=False)
    except (FileNotFoundError, PermissionError, NotADirectoryError) as exc:
        raise FfmpegMissingError("cannot run ffmpeg at %s (%s): %s" % (
            binary, exc.strerror or exc, INSTALL_HINT)) from None
    except subprocess.TimeoutExpired:
        raise RecorderError("ffmpeg at %s did not answer `%s` within %d s"
                            % (binary, " ".join(args), PROBE_TIMEOUT)) from None
    return proc.stdout.decode("utf-8", "replace")


def _probe_uncached(binary: str) -> FfmpegInfo:
    first = (_run_probe(binary, "-version").strip().splitlines() or [""])[0]
    if " version " not in first:
        raise FfmpegMissingError("%s does not look like ffmpeg (it printed %r): %s"
                                 % (binary, first[:80], INSTALL_HINT))
    match = _VERSION_RE.match(first)
    version = (int(match.group(1)), int(match.group(2))) if match else None
    return FfmpegInfo(
        path=binary, version=version, version_line=first,
        options=parse_options(_run_probe(binary, "-h", "full")),
        protocols=parse_input_protocols(_run_probe(binary, "-protocols")),
        encoders=parse_encoders(_run_probe(binary, "-encoders")))


def parse_options(help_text: str) -> FrozenSet[str]:
    """Option names in `ffmpeg -h full` output (global lines and every AVOption context)."""
    names = set()
    for line in help_text.splitlines():
        match = _OPTION_RE.match(line)
        if match:
            names.add(match.group(1))
    return frozenset(names)


def parse_input_protocols(text: str) -> FrozenSet[str]:
    """Names listed under 'Input:' in `ffmpeg -protocols`."""
    names = set()
    section = None
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.endswith(":"):
            section = stripped[:-1].lower()
        elif section == "input" and stripped and " " not in stripped:
            names.add(stripped)
    return frozenset(names)


def parse_encoders(text: str) -> FrozenSet[str]:
    names = set()
    past_legend = False
    for line in text.splitlines():
        if line.strip().startswith("------"):
            past_legend = True
            continue
        match = _ENCODER_RE.match(line) if past_legend else None
        if match:
            names.add(match.group(1))
    return frozenset(names)


# --- commands -----------------------------------------------------------------------------------

_TOKEN_RE = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+\Z")


def parse_header_lines(text: str) -> List[Tuple[str, str]]:
    """'Name: value\\r\\n...' (a resolve_result's ffmpeg_headers) -> [(name, value)]."""
    pairs = []
    for line in str(text or "").replace("\r\n", "\n").split("\n"):
        if not line.strip():
            continue
        name, sep, value = line.partition(":")
        name, value = name.strip(), value.strip()
        if not sep or not _TOKEN_RE.match(name):
            raise RecorderError("malformed header line in ffmpeg_headers: %r" % line[:60])
        check_header_value(name, value)
        pairs.append((name, value))
    return pairs


def header_block(pairs: Iterable[Tuple[str, str]]) -> str:
    """The `-headers` value; a CR/LF inside a name or value is refused, never passed through."""
    lines = []
    for name, value in pairs:
        check_header_value(name, value)
        if not _TOKEN_RE.match(str(name)):
            raise RecorderError("invalid HTTP header name %r" % str(name)[:60])
        lines.append("%s: %s\r\n" % (name, value))
    return "".join(lines)


@dataclass
class HttpInput:
    """One HLS media playlist ffmpeg reads, with what its HTTP requests need."""

    url: str
    headers: Sequence[Tuple[str, str]] = ()
    user_agent: Optional[str] = None
    verify_tls: bool = True
    ca_file: Optional[str] = None
    extra_protocols: Sequence[str] = ()      # e.g. "data" for inline keys
    live_start_index: Optional[int] = None   # set for live playlists only


def input_args(info: FfmpegInfo, spec: HttpInput) -> List[str]:
    """Input options (they must precede their `-i`) followed by `-i URL`."""
    scheme = spec.url.split(":", 1)[0].lower()
    if scheme not in ("http", "https"):
        raise RecorderError("ffmpeg input must be http(s): %s" % redact(spec.url))
    if not info.has_protocol(scheme):
        raise RecorderError("the installed ffmpeg (%s) has no %s support: %s cannot be recorded"
                            % (_version_text(info), scheme, redact(spec.url)))
    protocols = [p for p in list(HLS_PROTOCOLS) + list(spec.extra_protocols) if info.has_protocol(p)]
    args = ["-protocol_whitelist", ",".join(dict.fromkeys(protocols))]
    if info.supports("reconnect"):
        args += ["-reconnect", "1"]
        for name in ("reconnect_streamed", "reconnect_on_network_error"):
            if info.supports(name):
                args += ["-" + name, "1"]
        if info.supports("reconnect_delay_max"):
            args += ["-reconnect_delay_max", str(RECONNECT_DELAY_MAX_S)]
    if info.supports("rw_timeout"):
        args += ["-rw_timeout", str(int(RW_TIMEOUT_S * 1e6))]
    # Only an https input consumes the TLS options; ffmpeg refuses options nothing consumed.
    if scheme == "https" and spec.verify_tls and info.supports("tls_verify"):
        args += ["-tls_verify", "1"]
        if spec.ca_file and info.supports("ca_file"):
            args += ["-ca_file", spec.ca_file]
    if spec.user_agent:
        check_header_value("User-Agent", spec.user_agent)
        args += ["-user_agent", spec.user_agent]
    block = header_block(spec.headers)
    if block:
        args += ["-headers", block]
    if spec.live_start_index is not None and info.supports("live_start_index"):
        args += ["-live_start_index", str(int(spec.live_start_index))]
    return args + ["-i", spec.url]


class PlaylistServer:
    """Serves playlists ffmpeg reads on loopback (http://127.0.0.1:PORT/<token>/<name>): the
    recorder's own rewrite of a media playlist (e.g. with the ad segments left out). Each request
    calls the playlist's function, so a live playlist is rewritten on every reload."""

    def __init__(self) -> None:
        import http.server
        import secrets

        self._pages: Dict[str, Callable[[], bytes]] = {}
        self._token = secrets.token_hex(8)
        pages = self._pages
        token = self._token

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (http.server's name)
                prefix = "/%s/" % token
                page = pages.get(self.path[len(prefix):]) if self.path.startswith(prefix) else None
                if page is None:
                    self.send_error(404)
                    return
                try:
                    body = page()
                except Exception as exc:  # the origin failed: ffmpeg sees a server error
                    log.warning("rewritten playlist not served: %s", exc)
                    self.send_error(502)
                    return
                self.send_response(200)
                self.send_header("Content-Type", "application/vnd.apple.mpegurl")
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Cache-Control", "no-store")
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:  # noqa: A002
                log.debug("playlist server: " + format, *args)

        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={
            "poll_interval": 0.2}, name="playlist-server", daemon=True)
        self._thread.start()

    def publish(self, name: str, page: Callable[[], bytes]) -> str:
        """The loopback URL at which page() is served."""
        self._pages[name] = page
        return "http://127.0.0.1:%d/%s/%s" % (self._server.server_address[1], self._token, name)

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(2)


COPY_CODECS = ("-c", "copy")


def transcode_args(info: FfmpegInfo, video: bool, audio: Optional[str]) -> List[str]:
    """Codec options for the fallback: H.264 baseline <= 720p (video) and/or `audio` encoder."""
    args: List[str] = []
    if video:
        if not info.has_encoder("libx264"):
            raise UnsupportedCodecError("transcoding needs the libx264 encoder, which the installed "
                                        "ffmpeg lacks")
        args += ["-c:v", "libx264", "-preset", "ultrafast", "-profile:v", "baseline",
                 "-pix_fmt", "yuv420p", "-vf", "scale=-2:'min(720,ih)'"]
    else:
        args += ["-c:v", "copy"]
    if audio:
        if not info.has_encoder(audio):
            raise UnsupportedCodecError("transcoding the audio needs the %s encoder, which the "
                                        "installed ffmpeg lacks" % audio)
        args += ["-c:a", audio, "-b:a", "128k"]
    else:
        args += ["-c:a", "copy"]
    return args


def mpegts_output_args(info: FfmpegInfo) -> List[str]:
    """A growing, playable TS: packets flushed as they come, PIDs fixed."""
    args = ["-f", "mpegts"]
    if info.supports("max_muxing_queue_size"):
        args += ["-max_muxing_queue_size", "4096"]
    for name, value in (("flush_packets", "1"), ("mpegts_start_pid", str(VIDEO_START_PID)),
                        ("mpegts_pmt_start_pid", str(PMT_START_PID))):
        if info.supports(name):
            args += ["-" + name, value]
    return args


def build_command(info: FfmpegInfo, inputs: Sequence[HttpInput], maps: Sequence[str],
                  codec_args: Sequence[str], output: str) -> List[str]:
    """The whole argv: global options, inputs, maps, codecs, mpegts output to `output`."""
    argv = [info.path, "-hide_banner", "-nostdin", "-nostats", "-loglevel", "info",
            "-progress", "pipe:1"]
    for spec in inputs:
        argv += input_args(info, spec)
    return argv + list(maps) + list(codec_args) + mpegts_output_args(info) + [output]


def hls_command(info: FfmpegInfo, video: HttpInput, audio: Optional[HttpInput],
                transcode_video: bool, transcode_audio: Optional[str], output: str) -> List[str]:
    """HLS media playlist(s) into one MPEG-TS: video with its muxed audio, or video plus a
    separate audio rendition; copied, or transcoded where the receiver cannot decode."""
    inputs = [video]
    if audio is not None:
        inputs.append(audio)
        maps = ["-map", "0:v?", "-map", "1:a"]  # '?': an audio-only variant has no video
    else:
        maps = ["-map", "0:v?", "-map", "0:a?"]
    if transcode_video or transcode_audio:
        codec_args = transcode_args(info, transcode_video, transcode_audio)
    else:
        codec_args = list(COPY_CODECS)
    return build_command(info, inputs, maps, codec_args, output)


# Session headers ffmpeg sets itself or that would break it (it cannot decode brotli).
_SKIP_HEADERS = frozenset(("user-agent", "accept-encoding", "connection", "host", "content-length",
                           "range", "keep-alive", "transfer-encoding"))


def session_input(session: Any, url: str, extra_headers: Sequence[Tuple[str, str]] = (),
                  verify: Any = True, inline_keys: bool = False,
                  live_start_index: Optional[int] = None,
                  origin: Optional[str] = None) -> HttpInput:
    """An input that sends what the requests session sends: its headers and the cookies for
    origin (the stream's own URL when ffmpeg reads a rewritten playlist at url, else url);
    extra_headers (a resolve_result's ffmpeg_headers) win over the session's."""
    pairs: List[Tuple[str, str]] = []
    for name, value in session.headers.items():
        lname = name.lower()
        if lname in _SKIP_HEADERS or (lname == "accept" and value == "*/*") or value is None:
            continue
        pairs.append((str(name), str(value)))
    if not any(n.lower() == "cookie" for n, _ in pairs):
        prepared = requests.Request("GET", origin or url).prepare()
        cookie = requests.cookies.get_cookie_header(session.cookies, prepared)
        if cookie:
            pairs.append(("Cookie", cookie))
    user_agent = session.headers.get("User-Agent")
    for name, value in extra_headers:
        if name.lower() == "user-agent":
            user_agent = value
            continue
        pairs = [(n, v) for n, v in pairs if n.lower() != name.lower()] + [(name, value)]
    return HttpInput(url=url, headers=pairs, user_agent=user_agent, verify_tls=bool(verify),
                     ca_file=verify if isinstance(verify, str) else None,
                     extra_protocols=("data",) if inline_keys else (),
                     live_start_index=live_start_index)


def describe_command(argv: Sequence[str]) -> str:
    """argv for logs: header values hidden (tokens, cookies), URL queries redacted."""
    out = []
    hide_next = False
    for arg in argv:
        if hide_next:
            out.append("<%d header(s)>" % arg.count("\r\n"))
            hide_next = False
            continue
        hide_next = arg in ("-headers", "-cookies")
        out.append(redact(arg) if arg.startswith(("http://", "https://")) else arg)
    return " ".join(_quote(a) for a in out)


def _quote(arg: str) -> str:
    return arg if arg and not re.search(r"[\s'\"\\]", arg) else "'%s'" % arg.replace("'", "'\\''")


# --- -progress output ---------------------------------------------------------------------------

@dataclass
class Progress:
    """One `-progress` block."""

    out_time: Optional[float] = None   # seconds of media written
    total_size: Optional[int] = None   # bytes written
    speed: Optional[float] = None      # times real time
    end: bool = False                  # progress=end: ffmpeg is finishing
    fields: Dict[str, str] = field(default_factory=dict)


def _clock_seconds(text: str) -> Optional[float]:
    match = re.match(r"^(-?)(\d+):(\d{2}):(\d{2}(?:\.\d+)?)$", text.strip())
    if not match:
        return None
    value = int(match.group(2)) * 3600 + int(match.group(3)) * 60 + float(match.group(4))
    return -value if match.group(1) else value


def _number(text: Optional[str], kind: Type = int) -> Optional[float]:
    if text is None:
        return None
    try:
        return kind(text.strip().rstrip("x"))
    except ValueError:  # "N/A"
        return None


class ProgressParser:
    """Turns `-progress` key=value lines into Progress blocks (one per `progress=` line)."""

    def __init__(self) -> None:
        self._fields: Dict[str, str] = {}

    def feed(self, line: str) -> Optional[Progress]:
        key, sep, value = line.strip().partition("=")
        if not sep:
            return None
        if key != "progress":
            self._fields[key.strip()] = value.strip()
            return None
        fields, self._fields = self._fields, {}
        out_time = None
        us = _number(fields.get("out_time_us"))
        if us is None:
            # ffmpeg before 4.x wrote microseconds into out_time_ms (sic); out_time is clock text
            us = _number(fields.get("out_time_ms"))
        if us is not None:
            out_time = us / 1e6
        elif "out_time" in fields:
            out_time = _clock_seconds(fields["out_time"])
        if out_time is not None:
            out_time = max(0.0, out_time)
        size = _number(fields.get("total_size"))
        return Progress(out_time=out_time, total_size=int(size) if size is not None else None,
                        speed=_number(fields.get("speed"), float), end=value.strip() == "end",
                        fields=fields)


# --- stderr -------------------------------------------------------------------------------------

_URL_RE = re.compile(r"https?://[^\s'\"]+")
# Per-segment chatter of the hls demuxer, left out of error messages.
_NOISE_RE = re.compile(r"Opening '.*' for reading|^\s*Skip \(|^\s*$")
_RULES: Sequence[Tuple[Type[RecorderError], "re.Pattern[str]", str]] = (
    (ForbiddenError, re.compile(r"\b40[13]\b.*(?:Forbidden|Unauthori[sz]ed|access denied)|"
                                r"HTTP error 40[13]", re.I), "access denied"),
    (NotFoundError, re.compile(r"\b(?:404|410)\b.*(?:Not Found|Gone)|HTTP error 4(?:04|10)",
                               re.I), "not found"),
    (TlsError, re.compile(r"certificate|handshake|SSL routines|TLS (?:error|alert)|"
                          r"Error in the (?:pull|push) function", re.I), "TLS failure"),
    (UnsupportedCodecError, re.compile(r"Could not find tag for codec|not currently supported "
                                       r"in container|Decoder \(codec .*\) not found|"
                                       r"Unknown encoder|Encoder .* not found", re.I),
     "codec not supported"),
    (DiskFullError, re.compile(r"No space left on device", re.I), "disk full"),
    (FileTooLargeError, re.compile(r"File too large", re.I), "file too large"),
    (StreamTimeoutError, re.compile(r"timed out|Connection timeout", re.I), "timeout"),
    (InvalidStreamError, re.compile(r"Invalid data found when processing input|"
                                    r"could not find codec parameters|"
                                    r"does not contain any stream|moov atom not found", re.I),
     "no playable media"),
)
# Lines saying the hls demuxer skipped media (it goes on without it).
_SKIP_RE = re.compile(r"Failed to open segment(?: (\d+))?(?: of playlist (\d+))?|"
                      r"skipping (\d+) segments? ahead", re.I)


def clean_line(line: str) -> str:
    """A stderr line fit for logs and messages: URL queries redacted, ffmpeg's '@ 0x..' dropped."""
    line = _URL_RE.sub(lambda m: redact(m.group(0)), line.rstrip())
    return re.sub(r" @ 0x[0-9a-f]+\]", "]", line)


def skipped_in_line(line: str) -> Tuple[int, Optional[str]]:
    """(segments the hls demuxer says it skipped, a key naming the segment or None).

    ffmpeg may report one failed segment several times; the key lets a caller count it once.
    """
    match = _SKIP_RE.search(line)
    if not match:
        return 0, None
    if match.group(3):
        return int(match.group(3)), None
    if match.group(1):
        return 1, "%s/%s" % (match.group(2) or "?", match.group(1))
    return 1, None


def error_from_output(lines: Sequence[str], returncode: Optional[int]) -> RecorderError:
    """The RecorderError (with its error_id) a failed ffmpeg run's stderr tail points to."""
    useful = [clean_line(x) for x in lines if not _NOISE_RE.search(x)]
    tail = "; ".join(useful[-5:]) or "no output"
    for cls, pattern, what in _RULES:
        if any(pattern.search(x) for x in useful):
            return cls("ffmpeg: %s (exit code %s): %s" % (what, returncode, tail))
    return RecorderError("ffmpeg failed (exit code %s): %s" % (returncode, tail))


# --- the child process --------------------------------------------------------------------------

class FfmpegProcess:
    """A running ffmpeg in its own process group; stderr drained, `-progress` parsed, reaped once.

    terminate() and kill() may be called from any thread and never block; wait/stop/reap belong
    to the thread that owns the process.
    """

    def __init__(self, argv: Sequence[str], pass_fds: Sequence[int] = (),
                 on_stderr: Optional[Callable[[str], None]] = None,
                 tail_lines: int = STDERR_TAIL) -> None:
        self.argv = list(argv)
        self._on_stderr = on_stderr
        self._tail: Deque[str] = collections.deque(maxlen=tail_lines)
        self._progress = queue.Queue()  # Progress blocks, then None at the end
        self._lock = threading.Lock()
        self.returncode: Optional[int] = None
        self.progress_done = False
        try:
            self.proc = subprocess.Popen(
                self.argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                stderr=subprocess.PIPE, pass_fds=tuple(pass_fds), close_fds=True,
                start_new_session=True)
        except (FileNotFoundError, PermissionError, NotADirectoryError) as exc:
            raise FfmpegMissingError("cannot run ffmpeg (%s): %s" % (exc.strerror or exc,
                                                                      INSTALL_HINT)) from None
        self.pid = self.proc.pid
        log.debug("ffmpeg started (pid %d)", self.pid)
        self._threads = [
            threading.Thread(target=self._drain_stderr, name="streamrecorder-ffmpeg-stderr",
                             daemon=True),
            threading.Thread(target=self._read_progress, name="streamrecorder-ffmpeg-progress",
                             daemon=True),
        ]
        for thread in self._threads:
            thread.start()

    # --- reader threads
    def _drain_stderr(self) -> None:
        assert self.proc.stderr is not None
        for raw in iter(self.proc.stderr.readline, b""):
            # ffmpeg ends its status line with \r; split those too
            for piece in raw.decode("utf-8", "replace").replace("\r", "\n").split("\n"):
                if not piece.strip():
                    continue
                self._tail.append(piece)
                if self._on_stderr is not None:
                    try:
                        self._on_stderr(piece)
                    except Exception:  # noqa: BLE001 - the drain must go on, or ffmpeg blocks
                        log.exception("ffmpeg stderr hook failed")
        self.proc.stderr.close()

    def _read_progress(self) -> None:
        assert self.proc.stdout is not None
        parser = ProgressParser()
        try:
            for raw in iter(self.proc.stdout.readline, b""):
                block = parser.feed(raw.decode("utf-8", "replace"))
                if block is not None:
                    self._progress.put(block)
        finally:
            self.proc.stdout.close()
            self._progress.put(None)

    def next_progress(self, timeout: float) -> Optional[Progress]:
        """The next progress block, or None after `timeout` (or once stdout has ended)."""
        if self.progress_done:
            time.sleep(min(timeout, 0.05))
            return None
        try:
            block = self._progress.get(timeout=timeout)
        except queue.Empty:
            return None
        if block is None:
            self.progress_done = True
        return block

    def stderr_tail(self) -> List[str]:
        return list(self._tail)

    # --- signals (any thread, non-blocking)
    def terminate(self) -> None:
        """Ask ffmpeg to finish (SIGTERM to its group): it flushes and closes the output."""
        self._signal(signal.SIGTERM)

    def kill(self) -> None:
        self._signal(signal.SIGKILL)

    def _signal(self, sig: int) -> None:
        with self._lock:
            if self.returncode is not None:
                return  # reaped: the pid may belong to someone else now
            try:
                os.killpg(self.pid, sig)
            except (ProcessLookupError, PermissionError):
                pass

    # --- waiting and reaping (owner thread)
    def exited(self) -> bool:
        """Has ffmpeg exited? Does not reap, so its group id stays valid for a final kill."""
        if self.returncode is not None:
            return True
        try:
            info = os.waitid(os.P_PID, self.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT)
        except ChildProcessError:
            return True
        return info is not None

    def wait_exit(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while not self.exited():
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.02)
        return True

    def reap(self) -> int:
        """Collect the exited ffmpeg: kill what is left of its group, wait, join the readers."""
        with self._lock:
            if self.returncode is None:
                try:
                    os.killpg(self.pid, signal.SIGKILL)  # leftovers; the leader is a zombie
                except (ProcessLookupError, PermissionError):
                    pass
                self.returncode = self.proc.wait()
        for thread in self._threads:
            thread.join(5)
        log.debug("ffmpeg (pid %d) reaped, exit code %s", self.pid, self.returncode)
        return self.returncode

    def stop(self, grace: float = TERMINATE_GRACE_S) -> int:
        """Terminate, kill after `grace` seconds if needed, reap; returns the exit code."""
        if self.returncode is not None:
            return self.returncode
        if not self.exited():
            # ffmpeg checks the first SIGTERM between packets only; while it waits inside a read
            # (a live playlist that stopped moving) the second one interrupts that I/O. Both let
            # it finish the output cleanly; a third would still be graceful, a fourth not.
            self.terminate()
            if not self.wait_exit(min(SECOND_SIGTERM_AFTER_S, grace)):
                self.terminate()
                if not self.wait_exit(max(0.0, grace - SECOND_SIGTERM_AFTER_S)):
                    log.warning("ffmpeg (pid %d) ignored SIGTERM for %.0f s: killing it",
                                self.pid, grace)
                    self.kill()
                    self.wait_exit(5.0)
        return self.reap()
