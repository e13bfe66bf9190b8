"""Large buffers made on one thread of their own (see BufferAllocator)."""

import queue
import threading
from typing import Optional


class BufferAllocator:
    """Makes the large body buffers of all download threads on one thread of its own.

    glibc gives each thread a heap of its own (an arena) and frees memory into the heap it came
    from. Once a freed buffer of a few MB has raised its dynamic mmap threshold (64-bit), it keeps
    freed memory of that size in the heap instead of giving it back to the system, so segment
    buffers made by N download threads would leave up to N segments of memory behind: RSS would
    grow with the worker count although the byte budget bounds the live buffers. Made by one
    thread, they all come from one heap and the next buffer reuses the space of the last one.
    Nothing process-wide is changed (no mallopt). Buffers below `large` are made by the caller;
    after close(), all are. The thread starts with the first request and ends on close() or
    after `idle` seconds without one.
    """

    def __init__(self, large: int = 1 << 20, name: str = "streamrecorder-alloc",
                 idle: float = 2.0) -> None:
        self.large = large
        self.name = name
        self.idle = idle
        self._lock = threading.Lock()
        self._requests: queue.Queue = queue.Queue()  # of _Allocation, None to end
        self._thread: Optional[threading.Thread] = None
        self._closed = False

    def bytearray(self, size: int) -> bytearray:
        """A zero-filled bytearray of `size` bytes."""
        if size < self.large:
            return bytearray(size)
        request = _Allocation(size)
        with self._lock:
            if self._closed:
                return bytearray(size)
            if self._thread is None:
                self._thread = threading.Thread(target=self._work, name=self.name, daemon=True)
                self._thread.start()
            self._requests.put(request)
        request.done.wait()
        if request.error is not None:
            raise request.error
        buf, request.buf = request.buf, None
        assert buf is not None
        return buf

    def _work(self) -> None:
        while True:
            try:
                request = self._requests.get(timeout=self.idle)
            except queue.Empty:
                with self._lock:  # requests are put under the lock: none is left unserved
                    if self._requests.empty():
                        self._thread = None
                        return
                continue
            if request is None:
                return
            try:
                request.buf = bytearray(request.size)
            except MemoryError as exc:
                request.error = exc
            request.done.set()

    def close(self) -> None:
        """End the thread once the requests made so far are served (later ones: the caller's)."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            if self._thread is not None:
                self._requests.put(None)


class _Allocation:
    def __init__(self, size: int) -> None:
        self.size = size
        self.buf: Optional[bytearray] = None
        self.error: Optional[BaseException] = None
        self.done = threading.Event()
