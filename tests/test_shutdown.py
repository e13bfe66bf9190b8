"""Reactor shutdown is bounded although the recorder runs on the reactor's thread pool, which
Twisted joins without a limit (architecture.md, "Runtime model"): a real reactor and Manager in
a subprocess, a recording whose requests go through a resolver's adapter that blocks forever on
a socket of its own (to a loopback server that accepts and never answers), in send() or in a
body that is not a urllib3 one, then reactor.stop(); the recorder leaves the blocked call at
once, its stop message arrives and the process exits in time."""

import os
import subprocess
import sys
import time

import pytest

EXIT_BOUND_S = 20.0
SRC = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "src")

SCRIPT = r"""
import socket
import sys
import threading
import time

import requests
from twisted.internet import reactor

from streamrecorder.manager import Manager

mode, rec_dir = sys.argv[1], sys.argv[2]

# Accepts (in the kernel's backlog) and never answers.
listener = socket.socket()
listener.bind(("127.0.0.1", 0))
listener.listen(8)
address = listener.getsockname()


def silent_socket():
    sock = socket.create_connection(address)  # no timeout: recv() blocks for ever
    sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    return sock


class SilentBody:
    # Not a urllib3 response: the recorder finds no socket to shut down.
    def __init__(self):
        self.sock = silent_socket()

    def read(self, *args, **kwargs):
        return self.sock.recv(65536)

    def close(self):
        pass


class ResolverAdapter(requests.adapters.BaseAdapter):
    def send(self, request, **kwargs):
        print("send", flush=True)
        if mode == "send":
            silent_socket().recv(1)  # blocks for ever
        resp = requests.Response()
        resp.status_code = 200
        resp.headers["Content-Type"] = "video/mp4"
        resp.raw = SilentBody()
        resp.url = request.url
        resp.request = request
        return resp

    def close(self):
        pass


session = requests.Session()
session.mount("http://", ResolverAdapter())
manager = Manager(shutdown_timeout=2.0)
manager.subscribe(lambda message: print(message[0], flush=True))
manager.record_stream({"resolved_url": "http://127.0.0.1:%d/v.mp4" % address[1],
                       "recorder_id": "mp4", "rec_dir": rec_dir, "session": session})

def report_pool():
    # the recorder holds a reactor pool thread; the calls it cannot interrupt run on helpers
    print("pool-busy=%d" % len(reactor.getThreadPool().working), flush=True)
    print("helpers=%s" % ",".join(sorted(t.name for t in threading.enumerate()
                                          if t.name.startswith("streamrecorder"))), flush=True)


reactor.callLater(0.9, report_pool)
reactor.callLater(1.0, reactor.stop)
reactor.run()
print("reactor stopped", flush=True)
"""


def run_script(mode, rec_dir):
    env = dict(os.environ, PYTHONPATH=SRC + os.pathsep + os.environ.get("PYTHONPATH", ""))
    proc = subprocess.Popen([sys.executable, "-c", SCRIPT, mode, str(rec_dir)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    t0 = time.monotonic()
    try:
        out, err = proc.communicate(timeout=EXIT_BOUND_S)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
        pytest.fail("the process did not exit within %.0f s after reactor.stop()\nstdout:\n%s\n"
                    "stderr:\n%s" % (EXIT_BOUND_S, out, err[-3000:]))
    took = time.monotonic() - t0
    assert proc.returncode == 0, err[-3000:]
    lines = out.split()
    assert "send" in lines and lines[-1] == "stopped", out
    return lines, took, err


def test_exit_is_bounded_when_the_adapter_send_never_returns(tmp_path):
    """send() blocks in the resolver's own socket: stop() leaves it at once (the stop message
    still arrives) and the blocked call holds up nothing."""
    lines, took, err = run_script("send", tmp_path)
    assert "pool-busy=1" in lines, lines
    assert "helpers=streamrecorder-adapter" in lines, lines
    assert "stop" in lines, (lines, err[-3000:])
    assert "did not stop before shutdown" not in err, err[-3000:]
    assert took < 10.0, took


def test_exit_is_bounded_when_a_body_read_cannot_be_reached(tmp_path):
    """The body comes from a raw stream the recorder has no socket for: its reads run on a
    helper that stop() leaves at once, so the stop message arrives and the pool thread ends."""
    lines, took, err = run_script("body", tmp_path)
    assert "pool-busy=1" in lines, lines
    assert "helpers=streamrecorder-body" in lines, lines
    assert "stop" in lines, (lines, err[-3000:])
    assert "did not stop before shutdown" not in err, err[-3000:]
    assert took < 10.0, took
