"""Stand-in for Screens.Standby (OpenPLi): Standby and TryQuitMainloop.

Standby, as OpenPLi's StandbyScreen does: when a file plays in a screen that can pause its
service (a MoviePlayer), that screen is paused and resumed on leaving standby; otherwise the
playing service is stopped and played again on leaving. Nothing else is closed.
TryQuitMainloop asks (YES/NO) when job_manager has pending jobs, then stops the service and
calls enigma.quitMainloop(retvalue); without a reason it quits at once.
"""

import enigma
from Components.Task import job_manager
from Screens.MessageBox import MessageBox
from Screens.Screen import Screen

QUIT_SHUTDOWN = 1
QUIT_REBOOT = 2
QUIT_RESTART = 3

inStandby = None


class Standby(Screen):
    def __init__(self, session, StandbyCounterIncrease=True):
        Screen.__init__(self, session)
        self.skinName = "Standby"
        self.prev_running_service = session.nav.getCurrentlyPlayingServiceOrGroup()
        self.paused_service = None
        self.paused_action = False
        service = self.prev_running_service and self.prev_running_service.toString()
        if service and "%3a//" not in service and service.rsplit(":", 1)[1].startswith("/"):
            dialog = session.current_dialog
            if hasattr(dialog, "pauseService") and hasattr(dialog, "unPauseService"):
                self.paused_service = dialog
                self.paused_action = dialog.seekstate == dialog.SEEK_STATE_PLAY
                if self.paused_action:
                    dialog.pauseService()
        if not self.paused_service and session.nav.getCurrentlyPlayingServiceOrGroup():
            session.nav.stopService()
        self.onFirstExecBegin.append(self.__entered)
        self.onClose.append(self.__left)

    def __entered(self):
        global inStandby
        inStandby = self

    def __left(self):
        global inStandby
        inStandby = None
        if self.paused_service:
            if self.paused_action:
                self.paused_service.unPauseService()
        elif self.prev_running_service:
            self.session.nav.playService(self.prev_running_service)

    def Power(self):
        self.close(True)


def getReasons(session, retvalue=QUIT_SHUTDOWN):
    jobs = job_manager.getPendingJobs()
    if len(jobs) == 1:
        job = jobs[0]
        return "%s: %s (%d%%)" % (job.getStatustext(), job.name,
                                  int(100 * job.progress / float(job.end)))
    if jobs:
        return "%d jobs are running in the background!" % len(jobs)
    return ""


class TryQuitMainloop(MessageBox):
    def __init__(self, session, retvalue=QUIT_SHUTDOWN, timeout=-1, default_yes=False,
                 check_reasons=True):
        self.retval = retvalue
        reason = check_reasons and getReasons(session, retvalue)
        text = {QUIT_SHUTDOWN: "Really shutdown now?", QUIT_REBOOT: "Really reboot now?",
                QUIT_RESTART: "Really restart now?"}.get(retvalue)
        MessageBox.__init__(self, session, "%s\n%s" % (reason, text) if reason else "",
                            type=MessageBox.TYPE_YESNO, timeout=timeout, default=default_yes)
        self.asked = bool(reason and text)
        if not self.asked:
            self.close(True)  # closes on its first execBegin, as OpenPLi's zero-size screen does

    def close(self, value=None):
        if not self.execing:
            MessageBox.close(self, value)  # Screen.close() repeats it on the next execBegin
            return
        if value:
            self.session.nav.stopService()
            enigma.quitMainloop(self.retval)
        MessageBox.close(self, value)
