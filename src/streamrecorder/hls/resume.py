"""Where a continued HLS recording (continue_recording) goes on, from stream_state.json."""

import logging
from typing import List, Optional

from .. import files, state
from ..errors import RecorderError
from .playlist import Segment

log = logging.getLogger(__name__)


def earlier(rec_dir: str, url: str, original_url: Optional[str], live: bool,
            ) -> Optional[state.RecordingState]:
    """The state of the earlier recording of this stream in rec_dir. A VOD cannot go on
    without it (RecorderError, before anything is deleted); a live stream can (None)."""
    saved = state.read(rec_dir)
    if saved is not None and not saved.same_stream(url, original_url):
        if not live:
            raise RecorderError("cannot continue: the earlier recording in %s is of another "
                                "stream (%s); nothing was deleted" % (rec_dir, saved.url))
        log.info("the earlier recording in %s is of another stream: new sections only", rec_dir)
        return None
    if saved is None and not live:
        raise RecorderError("cannot continue this VOD: %s holds no %s of an earlier recording; "
                            "nothing was deleted" % (rec_dir, files.STATE_NAME))
    return saved


def vod_rest(saved: Optional[state.RecordingState], segs: List[Segment]) -> List[Segment]:
    """The VOD's segments after the last one the earlier recording wrote (all without one)."""
    if saved is None:
        return segs
    if not saved.live and saved.playlist_index is not None:
        return segs[saved.playlist_index + 1:]
    if saved.media_sequence is not None:  # a live event that has become a VOD
        return [s for s in segs if s.media_sequence > saved.media_sequence]
    raise RecorderError("cannot continue this VOD: %s does not say which segment the earlier "
                        "recording wrote last; nothing was deleted" % files.STATE_NAME)


def live_start(saved: Optional[state.RecordingState], segs: List[Segment],
               at_edge: List[Segment]) -> List[Segment]:
    """The first segments of a continued live recording: after the last one recorded when the
    playlist still lists it (nothing twice, the restart's gap filled), else at the edge."""
    after = saved.media_sequence if saved is not None else None
    if after is not None and any(s.media_sequence == after for s in segs):
        return [s for s in segs if s.media_sequence > after]
    return at_edge
