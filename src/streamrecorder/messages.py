"""Builders for the start/progress/stop messages (architecture.md) and their throttling."""

import time
from typing import Any, Callable, List, Optional

Message = List[Any]


def start_message(url: str, rec_file: str, recorder_type: str,
                  section_index: int = 0, segment_index: int = 0) -> Message:
    """`start`: rec_file already holds playable data."""
    return ["start", {
        "url": url, "rec_file": rec_file, "section_index": section_index,
        "segment_index": segment_index, "recorder": {"type": recorder_type},
    }]


def progress_message(recorder_type: str, *, section_index: int = 0, segment_index: int = 0,
                     bytes_done: int = 0, total_bytes: Optional[int] = None,
                     percent: Optional[float] = None, speed_bps: float = 0.0,
                     eta_s: Optional[float] = None, media_s: float = 0.0,
                     skipped_segments: int = 0) -> Message:
    return ["progress", {
        "recorder": {"type": recorder_type}, "section_index": section_index,
        "segment_index": segment_index, "bytes": bytes_done, "total_bytes": total_bytes,
        "percent": None if percent is None else round(percent, 1),
        "speed_bps": int(speed_bps), "eta_s": None if eta_s is None else round(eta_s, 1),
        "media_s": round(media_s, 2), "skipped_segments": skipped_segments,
    }]


def stop_message(recorder_type: str, reason: str, error_id: Optional[str] = None, msg: str = "",
                 channel: str = "", rec_dir: str = "", skipped_segments: int = 0,
                 missing_s: float = 0.0) -> Message:
    """`stop`: sent exactly once per recording by the recorder's thread as it exits.

    missing_s: seconds of media known to be missing (skipped segments, EXT-X-GAP segments)."""
    return ["stop", {
        "reason": reason, "error_id": error_id, "msg": msg, "channel": channel,
        "rec_dir": rec_dir, "skipped_segments": skipped_segments,
        "missing_s": round(missing_s, 1),
        "recorder": {"type": recorder_type},
    }]


class ProgressThrottle:
    """Decides when a progress message is due: percent moved >= 2 points or >= 3 s passed."""

    def __init__(self, clock: Callable[[], float] = time.monotonic,
                 min_points: float = 2.0, interval: float = 3.0) -> None:
        self._clock = clock
        self._min_points = min_points
        self._interval = interval
        self._last_time: Optional[float] = None
        self._last_percent: Optional[float] = None

    def due(self, percent: Optional[float]) -> bool:
        now = self._clock()
        if self._last_time is None:
            ok = True
        elif now - self._last_time >= self._interval:
            ok = True
        else:
            ok = (percent is not None and self._last_percent is not None
                  and percent - self._last_percent >= self._min_points)
        if ok:
            self._last_time = now
            self._last_percent = percent
        return ok


class SpeedMeter:
    """Download speed over a sliding window of a few seconds."""

    def __init__(self, clock: Callable[[], float] = time.monotonic, window: float = 5.0) -> None:
        self._clock = clock
        self._window = window
        self._samples: List[Any] = []
        self._started = clock()

    def add(self, total_bytes: int) -> None:
        now = self._clock()
        self._samples.append((now, total_bytes))
        while len(self._samples) > 2 and now - self._samples[0][0] > self._window:
            self._samples.pop(0)

    def bps(self) -> float:
        if len(self._samples) < 2:
            if self._samples:
                elapsed = self._samples[-1][0] - self._started
                return self._samples[-1][1] / elapsed if elapsed > 0 else 0.0
            return 0.0
        (t0, b0), (t1, b1) = self._samples[0], self._samples[-1]
        return (b1 - b0) / (t1 - t0) if t1 > t0 else 0.0


class ProgressReporter:
    """The one place progress messages are assembled: throttled, with speed and ETA.

    ETA comes from the share done so far (`done`, 0..1) and the time since the reporter began;
    a recording of unknown length (live) has neither percent nor ETA."""

    def __init__(self, send: Callable[[Message], None],
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._send = send
        self._clock = clock
        self._began = clock()
        self._throttle = ProgressThrottle(clock)
        self._speed = SpeedMeter(clock)

    def report(self, recorder_type: str, *, force: bool = False, done: Optional[float] = None,
               bytes_done: int = 0, total_bytes: Optional[int] = None, section_index: int = 0,
               segment_index: int = 0, media_s: float = 0.0, skipped_segments: int = 0) -> None:
        """Send a progress message when one is due (always with force)."""
        done = None if done is None else max(0.0, min(1.0, done))
        percent = None if done is None else 100.0 * done
        if not force and not self._throttle.due(percent):
            return
        self._speed.add(bytes_done)
        eta = None
        if done:
            eta = (self._clock() - self._began) * (1.0 - done) / done
        self._send(progress_message(
            recorder_type, section_index=section_index, segment_index=segment_index,
            bytes_done=bytes_done, total_bytes=total_bytes, percent=percent,
            speed_bps=self._speed.bps(), eta_s=eta, media_s=media_s,
            skipped_segments=skipped_segments))


def is_message(obj: Any) -> bool:
    """True for a well-formed message list: [type, dict]."""
    return (isinstance(obj, list) and len(obj) == 2 and isinstance(obj[0], str)
            and isinstance(obj[1], dict))
