"""`auto`: detect the recorder id on the recorder thread, then record with that recorder."""

import logging
from typing import Any, Dict, Optional

from ..detect import detect
from .base import BaseRecorder

log = logging.getLogger(__name__)


class AutoRecorder(BaseRecorder):
    """Looks at the URL's content, then hands the recording to the matching recorder."""

    recorder_type = "auto"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._options = kwargs
        self.inner: Optional[BaseRecorder] = None

    def record_start(self, resolve_result: Dict[str, Any]) -> None:
        from ..manager import default_recorder_types
        recorder_id = detect(self.url, self.http, resolve_result.get("quality", "best"))
        log.info("auto: %s looks like %s", self.url, recorder_id)
        cls = default_recorder_types()[recorder_id]
        inner = cls(**self._options)
        inner.runtime = self.runtime
        inner.emit_to = self.emit_to
        inner.stop_event = self.stop_event
        inner.http = self.http
        inner.url, inner.rec_dir = self.url, self.rec_dir
        inner.duration, inner.started_at = self.duration, self.started_at
        self.recorder_type = inner.recorder_type
        self.inner = inner
        try:
            inner.record_start(dict(resolve_result, recorder_id=recorder_id))
        finally:
            self.skipped_segments = inner.skipped_segments

    def stop(self) -> bool:
        super().stop()
        if self.inner is not None:
            self.inner.stop()
        return True

    def release(self) -> None:
        if self.inner is not None:
            self.inner.release()
