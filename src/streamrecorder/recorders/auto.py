"""`auto`: detect the recorder id on the recorder thread, then record with that recorder."""

import logging
from typing import Any, Dict, Type

from ..detect import detect
from ..hls.plan import Planner
from ..http import RetryPolicy
from .base import BaseRecorder
from .hls import HlsBasicRecorder, HlsLiveRecorder
from .hls_m4s import HlsM4sRecorder
from .mp4 import Mp4Recorder

# The recorder ids of architecture.md and their recorders.
RECORDERS: Dict[str, Type[BaseRecorder]] = {
    "mp4": Mp4Recorder, "hls_basic": HlsBasicRecorder, "hls_live": HlsLiveRecorder,
    "hls_m4s": HlsM4sRecorder}

log = logging.getLogger(__name__)


class AutoRecorder(BaseRecorder):
    """Looks at the URL's content, then hands the recording (and its plan) to the matching
    recorder, so nothing is fetched or decided twice."""

    recorder_type = "auto"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._options = kwargs
        self.retry = kwargs.get("retry") or RetryPolicy(
            attempts=3, base=0.5, cap=4.0, sleep=lambda seconds: self.stop_event.wait(seconds))

    def record_start(self, resolve_result: Dict[str, Any]) -> None:
        assert self.http is not None
        recorder_id, plan = detect(self.url, Planner(self.http, self.options, self.retry))
        log.info("auto: %s looks like %s", self.url, recorder_id)
        inner = RECORDERS[recorder_id](**self._options)
        inner.plan = plan
        self.delegate(inner, dict(resolve_result, recorder_id=recorder_id))
