"""A running recording as an enigma2 background job (Components.Task).

enigma2 asks before a deep standby, reboot or GUI restart while `job_manager.getPendingJobs()`
is not empty (Screens/Standby.py getReasons/TryQuitMainloop): registering the recording there
gives the same "really shut down?" question as for enigma2's own jobs, and the task list
(Screens/TaskView.py) shows it with its progress and can abort it.
"""

from typing import Any, Callable, Optional

from Components.Task import Job, Task, job_manager

from . import _


class RecordingTask(Task):
    """Runs from the start of a recording until its stop message; never a command line."""

    def __init__(self, job: Job, on_abort: Callable[[], Any]) -> None:
        Task.__init__(self, job, _("Recording"))
        self.on_abort = on_abort
        self.done = False

    def _run(self) -> None:
        pass  # nothing to launch: the core records; recording_ended() is called on its stop message

    def abort(self) -> None:
        # Aborting from the task list stops the recording; the task ends with its stop message,
        # so the job shows "in progress" until the recorder has really finished.
        if not self.done:
            self.on_abort()

    def recording_ended(self) -> None:
        if not self.done and self.callback is not None:
            self.done = True
            self.finish()
        self.done = True


class RecordingJob(Job):
    """One recording in enigma2's job list; recording_ended() once the recorder's stop message is in."""

    def __init__(self, title: str, on_abort: Callable[[], Any]) -> None:
        Job.__init__(self, _("Stream Recorder: %s") % title)
        self.task = RecordingTask(self, on_abort)

    def set_percent(self, percent: Optional[float]) -> None:
        if percent is not None:
            self.task.setProgress(int(percent))

    def recording_ended(self) -> None:
        """The stop message is in (Job.end and Task.end are enigma2's progress maximum)."""
        if self.task.callback is not None:
            self.task.recording_ended()
        else:
            # Still queued behind another job: take it out, it has nothing left to do.
            self.task.done = True
            if self in job_manager.active_jobs:
                job_manager.active_jobs.remove(self)


def _quiet_failure(job: Any, task: Any, problems: Any) -> bool:
    """The controller shows its own error words; no second notification from the job manager."""
    return False


def register(title: str, on_abort: Callable[[], Any]) -> RecordingJob:
    job = RecordingJob(title, on_abort)
    job_manager.AddJob(job, onFail=_quiet_failure)
    return job
