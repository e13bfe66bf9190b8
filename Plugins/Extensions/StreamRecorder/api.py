"""For other plugins: record a resolved stream and watch it while it downloads.

    from Plugins.Extensions.StreamRecorder.api import record_and_play
    record_and_play(session, {"resolved_url": url, "title": "Evening news"})

resolve_result follows architecture.md; `recorder_id` defaults to "auto" and `rec_dir` to the
configured recording folder. The player opens once the first data is playable.
"""

from typing import Any, Dict

from streamrecorder.manager import Manager

from .controller import get_controller


def record_and_play(session: Any, resolve_result: Dict[str, Any]) -> bool:
    """Start recording resolve_result and open the player on its first `start` message.
    Nothing is asked: the recording ends with the stream, its `duration`, or a stop."""
    return get_controller().record_and_play(session, dict(resolve_result), watch=True,
                                            ask_end=False)


def stop_recording(session: Any) -> bool:
    """Stop the running recording (keep/delete as configured); False when none runs."""
    return get_controller().stop_recording(session)


def get_manager() -> Manager:
    """The plugin's single Manager (e.g. to subscribe to its messages)."""
    return get_controller().manager
