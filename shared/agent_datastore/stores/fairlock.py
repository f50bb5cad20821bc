"""`FairLock`: a reentrant lock granted in the order it was asked for.

The stores' striped locks queue a process's writes of one record (stores/writeloop.py, the
Firestore client's transactions). `threading.Lock` and `RLock` are not fair: a thread that
releases one and asks again at once usually gets it back before the threads already waiting
are woken, so under a hot key some writes wait many turns (20 threads x 50 increments of one
key through one store: p99 1.9-2.1 s for a median of 0.63-0.68 s with an RLock, 0.85-1.04 s
for 0.68-0.73 s with this lock; docs/scale.md). Here the releasing thread hands the lock to
the longest waiter.
"""

from __future__ import annotations

import threading
from collections import deque
from types import TracebackType


class FairLock:
    """Reentrant (the owner may take it again) and first come, first served among waiters."""

    def __init__(self) -> None:
        self._mutex = threading.Lock()  # guards the fields below; held only for a few steps
        self._owner: int | None = None
        self._depth = 0
        self._waiters: deque[tuple[int, threading.Lock]] = deque()

    def __enter__(self) -> FairLock:
        me = threading.get_ident()
        with self._mutex:
            if self._owner == me:
                self._depth += 1
                return self
            if self._owner is None:
                self._owner, self._depth = me, 1
                return self
            gate = threading.Lock()
            gate.acquire()
            self._waiters.append((me, gate))
        gate.acquire()  # released by the owner that hands the lock over (it made this thread the owner)
        return self

    def __exit__(
        self, kind: type[BaseException] | None, value: BaseException | None, traceback: TracebackType | None
    ) -> None:
        with self._mutex:
            if self._owner != threading.get_ident():
                raise RuntimeError("FairLock released by a thread that does not hold it")
            self._depth -= 1
            if self._depth:
                return
            if self._waiters:
                self._owner, gate = self._waiters.popleft()
                self._depth = 1
                gate.release()
            else:
                self._owner = None
