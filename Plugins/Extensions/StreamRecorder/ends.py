"""When a recording started from the GUI ends: the choices and their arithmetic.

Every end is an instant (epoch seconds) fixed when the user chooses it; the recording's
`duration` (seconds from its start, which the core enforces) is taken from it when the
recording is launched, so time spent stopping a previous recording counts against it. Pure
logic: `now` is always passed in, so nothing here reads the wall clock.
"""

import datetime
import time
from typing import Any, List, Optional, Tuple

from . import _

MINUTE_CHOICES = (30, 60, 90, 120, 180)
DEFAULT_MINUTES = 120  # highlighted when no programme end is known (see choices())
MAX_MINUTES = 24 * 60  # a typed number above one day is a typo, not a wish
MIN_DURATION_S = 1.0  # the core refuses 0; an end that passed while preparing still stops at once

# Values of the question's entries besides ("minutes", n).
EVENT, ENTER_MINUTES, UNTIL_TIME, OPEN = "event", "enter_minutes", "until_time", "open"


class EndError(ValueError):
    """Typed input that gives no end; its text is shown to the user."""


def for_minutes(minutes: int, now: float) -> float:
    """The end `minutes` after now; refused for 0, negative or more than a day."""
    if not 0 < minutes <= MAX_MINUTES:
        raise EndError(_("Please enter a number of minutes from 1 to %d.") % MAX_MINUTES)
    return now + minutes * 60


def until_clock(hour: int, minute: int, now: float) -> float:
    """hour:minute today (local time), or tomorrow when it is not after now."""
    if not (0 <= hour < 24 and 0 <= minute < 60):
        raise EndError(_("%02d:%02d is not a time of day.") % (hour, minute))
    day = datetime.datetime.fromtimestamp(now).date()
    end = _local(day, hour, minute)
    if end <= now:
        end = _local(day + datetime.timedelta(days=1), hour, minute)
    return end


def _local(day: datetime.date, hour: int, minute: int) -> float:
    # mktime with isdst -1 asks the C library, so a DST change between today and tomorrow
    # gives the wall-clock time the user typed, not 24 hours later.
    return time.mktime((day.year, day.month, day.day, hour, minute, 0, 0, 0, -1))


def parse_minutes(text: Optional[str]) -> int:
    """The number typed in the minutes box (EndError when it is not a positive number)."""
    digits = (text or "").strip()
    if not digits.isdigit() or int(digits) <= 0:
        raise EndError(_("Please enter a number of minutes from 1 to %d.") % MAX_MINUTES)
    return int(digits)


def parse_clock(text: Optional[str]) -> Tuple[int, int]:
    """Hour and minute from "HHMM" (the number keys) or "HH:MM"."""
    digits = (text or "").strip().replace(":", "")
    if len(digits) not in (3, 4) or not digits.isdigit():
        raise EndError(_("Please enter the time as four digits, for example 2145 for 21:45."))
    hour, minute = int(digits[:-2]), int(digits[-2:])
    if not (0 <= hour < 24 and 0 <= minute < 60):
        raise EndError(_("%02d:%02d is not a time of day.") % (hour, minute))
    return hour, minute


def clock_digits(moment: float) -> str:
    """"2145" for 21:45: what the time box shows first (typed digits replace it)."""
    local = datetime.datetime.fromtimestamp(moment)
    return "%02d%02d" % (local.hour, local.minute)


def event_end(event: Any, now: float) -> Optional[float]:
    """The end of an EPG event (eServiceEvent: getBeginTime, getDuration) when still ahead."""
    if event is None:
        return None
    end = float(event.getBeginTime() + event.getDuration())
    return end if end > now else None


def event_end_ahead(end: Optional[float], now: float) -> bool:
    """The programme's end chosen in the question is still to come."""
    return end is not None and end > now


def duration_at(end: Optional[float], now: float) -> Optional[float]:
    """The resolve_result's duration for a recording launched at now (None: no end)."""
    if end is None:
        return None
    return max(MIN_DURATION_S, end - now)


def clock_text(end: float, now: float) -> str:
    """21:45 when the end is today, "tomorrow 21:45" otherwise (no end is further away)."""
    moment = datetime.datetime.fromtimestamp(end)
    text = "%02d:%02d" % (moment.hour, moment.minute)
    if moment.date() == datetime.datetime.fromtimestamp(now).date():
        return text
    return _("tomorrow %s") % text


def until_text(end: Optional[float], now: float) -> str:
    """What the status shows about the end: "until 21:45" or "until stopped"."""
    if end is None:
        return _("until stopped")
    return _("until %s") % clock_text(end, now)


def choices(now: float, programme_end: Optional[float] = None) -> Tuple[List[Tuple[str, Any]], int]:
    """The question's entries (text, value) and the index of the highlighted one.

    The programme's end is offered (and highlighted) only when an EPG event is known. Whether a
    stream is live or a video of known length is only learnt by the recorder after the start,
    so the open end is always offered, worded for both, but never highlighted: a 24/7 stream
    must not record until the disk is full because OK was pressed twice."""
    entries: List[Tuple[str, Any]] = []
    if programme_end is not None:
        entries.append((_("Until the end of the programme (%s)") % clock_text(programme_end, now),
                        EVENT))
    for minutes in MINUTE_CHOICES:
        entries.append((_("For %(minutes)d minutes (until %(end)s)") % {
            "minutes": minutes, "end": clock_text(now + minutes * 60, now)}, ("minutes", minutes)))
    entries.append((_("For a number of minutes I enter"), ENTER_MINUTES))
    entries.append((_("Until a time I enter"), UNTIL_TIME))
    entries.append((_("Until the video ends or I stop it"), OPEN))
    default = 0 if programme_end is not None else entries.index(
        next(e for e in entries if e[1] == ("minutes", DEFAULT_MINUTES)))
    return entries, default
