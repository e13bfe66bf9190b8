"""Stand-in for Components.Task (OpenPLi): Job, Task, JobManager and the global job_manager.

The parts the plugin uses keep OpenPLi's behaviour: the manager runs one job at a time
(`AddJob` starts it when nothing else runs), `getPendingJobs()` lists the active and the
queued jobs, a task reports its end through `finish(aborted=False)`, `abort()` on a job aborts
its current task, and a failed job goes to `onFail(job, task, problems)`.
"""


class CList(list):
    """Tools.CList.CList: a list of callables called together."""

    def __call__(self, *args, **kwargs):
        for func in list(self):
            func(*args, **kwargs)


class Job:
    NOT_STARTED, IN_PROGRESS, FINISHED, FAILED = range(4)

    def __init__(self, name):
        self.tasks = []
        self.resident_tasks = []
        self.workspace = "/tmp"
        self.current_task = 0
        self.callback = None
        self.name = name
        self.finished = False
        self.end = 100
        self.weightScale = 1
        self.afterEvent = None
        self.state_changed = CList()
        self.status = self.NOT_STARTED
        self.onSuccess = None

    def getProgress(self):
        if self.current_task == len(self.tasks):
            return self.end
        t = self.tasks[self.current_task]
        done = sum(task.weighting for task in self.tasks[:self.current_task])
        return int((t.weighting * t.progress / float(t.end) + done) * self.weightScale)

    progress = property(getProgress)

    def getStatustext(self):
        return {self.NOT_STARTED: "Waiting", self.IN_PROGRESS: "In progress",
                self.FINISHED: "Finished", self.FAILED: "Failed"}[self.status]

    def task_progress_changed_CB(self):
        self.state_changed()

    def addTask(self, task):
        task.job = self
        task.task_progress_changed = self.task_progress_changed_CB
        self.tasks.append(task)

    def start(self, callback):
        assert self.callback is None
        self.callback = callback
        self.restart()

    def restart(self):
        self.status = self.IN_PROGRESS
        self.state_changed()
        self.runNext()
        self.weightScale = self.end / float(sum(t.weighting for t in self.tasks) or 1)

    def runNext(self):
        if self.current_task == len(self.tasks):
            self.status = self.FINISHED
            self.state_changed()
            self.callback(self, None, [])
            self.callback = None
        else:
            self.tasks[self.current_task].run(self.taskCallback)
            self.state_changed()

    def taskCallback(self, task, res, stay_resident=False):
        if len(res):
            self.status = self.FAILED
            self.state_changed()
            self.callback(self, task, res)
        if not res:
            self.state_changed()
            self.current_task += 1
            self.runNext()

    def abort(self):
        if self.current_task < len(self.tasks):
            self.tasks[self.current_task].abort()

    def cancel(self):
        self.abort()


class Condition:
    RECOVERABLE = False

    def getErrorMessage(self, task):
        return "An unknown error occurred!"


class AbortedPostcondition(Condition):
    def getErrorMessage(self, task):
        return "Cancelled upon user request"


class Task:
    def __init__(self, job, name):
        self.name = name
        self.immediate_preconditions = []
        self.global_preconditions = []
        self.postconditions = []
        self.returncode = None
        self.job = None
        self.end = 100
        self.weighting = 100
        self.__progress = 0
        self.cmd = None
        self.cmdline = None
        self.task_progress_changed = None
        self.callback = None
        job.addTask(self)

    def run(self, callback):
        self.callback = callback
        try:
            self.prepare()
            self._run()
        except Exception:  # noqa: BLE001 - OpenPLi turns it into a failed postcondition
            self.finish()

    def prepare(self):
        pass

    def _run(self):
        # OpenPLi: a task without a command line finishes at once; subclasses override this.
        if self.cmd is None and self.cmdline is None:
            self.finish()

    def cleanup(self, failed):
        pass

    def abort(self):
        self.finish(aborted=True)

    def finish(self, aborted=False):
        self.afterRun()
        not_met = [AbortedPostcondition()] if aborted else [
            c for c in self.postconditions if not c.check(self)]
        self.cleanup(not_met)
        self.callback(self, not_met)

    def afterRun(self):
        pass

    def getProgress(self):
        return self.__progress

    def setProgress(self, progress):
        self.__progress = max(0, min(self.end, progress))
        if self.task_progress_changed:
            self.task_progress_changed()

    progress = property(getProgress, setProgress)


class JobManager:
    def __init__(self):
        self.active_jobs = []
        self.failed_jobs = []
        self.job_classes = []
        self.in_background = False
        self.visible = False
        self.active_job = None

    def AddJob(self, job, onSuccess=None, onFail=None):
        job.onSuccess = onSuccess
        job.onFail = self.notifyFailed if onFail is None else onFail
        self.active_jobs.append(job)
        self.kick()

    def kick(self):
        if self.active_job is None and self.active_jobs:
            self.active_job = self.active_jobs.pop(0)
            self.active_job.start(self.jobDone)

    def notifyFailed(self, job, task, problems):
        # OpenPLi shows a notification; the stand-in remembers it for the tests.
        self.notified = getattr(self, "notified", []) + [(job, problems)]
        return False

    def jobDone(self, job, task, problems):
        if problems:
            if not job.onFail(job, task, problems):
                self.errorCB(False)
        else:
            self.active_job = None
            if job.onSuccess:
                job.onSuccess(job)
            self.kick()

    def errorCB(self, answer):
        self.failed_jobs.append(self.active_job)
        self.active_job = None
        self.kick()

    def getPendingJobs(self):
        pending = []
        if self.active_job:
            pending.append(self.active_job)
        return pending + self.active_jobs


job_manager = JobManager()
