"""`auto`: detect the recorder id on the recorder thread, then record with that recorder."""

import logging
from typing import Any, Dict

from ..detect import detect
from .base import BaseRecorder

log = logging.getLogger(__name__)


class AutoRecorder(BaseRecorder):
    """Looks at the URL's content, then hands the recording to the matching recorder."""

    recorder_type = "auto"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._options = kwargs

    def record_start(self, resolve_result: Dict[str, Any]) -> None:
        from ..manager import default_recorder_types
        recorder_id = detect(self.url, self.http, resolve_result.get("quality", "best"))
        log.info("auto: %s looks like %s", self.url, recorder_id)
        inner = default_recorder_types()[recorder_id](**self._options)
        self.delegate(inner, dict(resolve_result, recorder_id=recorder_id))
