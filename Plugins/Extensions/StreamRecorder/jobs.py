"""A running recording in enigma2's list of background jobs (Components.Task).

enigma2 asks before a deep standby, reboot or GUI restart while `job_manager.getPendingJobs()`
is not empty (Screens/Standby.py TryQuitMainloop), and the task list (Screens/TaskView.py,
InfoBarGenerics) shows those jobs with their progress and can abort them.

The job manager runs one job at a time, so a recording that went through AddJob would hold up
every other job (a movie copy, a download of another plugin) for as long as it records. The
recording is therefore listed, not queued: getPendingJobs() of the one job_manager instance
also returns the running recordings, and the manager never starts or waits for them.
"""

from typing import Any, Callable, List, Optional

from Components.Task import Job, Task, job_manager

from . import _

# Kept on the job_manager instance: a reloaded plugin module must find the same list.
_REGISTRY = "_streamrecorder_jobs"


class RecordingTask(Task):
    """Runs from the start of a recording until its stop message; never a command line."""

    def __init__(self, job: Job, on_abort: Callable[[], Any]) -> None:
        Task.__init__(self, job, _("Recording"))
        self.on_abort = on_abort
        self.done = False

    def abort(self) -> None:
        # The job list's "abort" stops the recording; the job leaves the list with the
        # recorder's stop message, once the recording has really finished.
        if not self.done:
            self.on_abort()


class RecordingJob(Job):
    """One recording in enigma2's job list; recording_ended() once the stop message is in."""

    def __init__(self, title: str, on_abort: Callable[[], Any]) -> None:
        Job.__init__(self, _("Stream Recorder: %s") % title)
        self.task = RecordingTask(self, on_abort)
        self.status = self.IN_PROGRESS

    def set_percent(self, percent: Optional[float]) -> None:
        if percent is not None:
            self.task.setProgress(int(percent))

    def recording_ended(self) -> None:
        """The stop message is in (Job.end and Task.end are enigma2's progress maximum)."""
        self.task.done = True
        self.status = self.FINISHED
        listed = _listed()
        if self in listed:
            listed.remove(self)
        self.state_changed()


def _listed() -> List[RecordingJob]:
    listed = getattr(job_manager, _REGISTRY, None)
    if listed is None:
        listed = []
        setattr(job_manager, _REGISTRY, listed)
        original = job_manager.getPendingJobs

        def pending_jobs() -> List[Any]:
            return original() + list(listed)

        job_manager.getPendingJobs = pending_jobs
    return listed


def register(title: str, on_abort: Callable[[], Any]) -> RecordingJob:
    """List a starting recording among enigma2's background jobs."""
    job = RecordingJob(title, on_abort)
    _listed().append(job)
    return job
