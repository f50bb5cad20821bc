"""`stores.fairlock.FairLock`, the stripes the write loop and the Firestore client queue on:
waiters get it in the order they asked, a releasing thread cannot take it back ahead of them,
its owner may take it again."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

from agent_datastore.stores.fairlock import FairLock


def queued(lock: Any, count: int) -> None:
    deadline = time.monotonic() + 10
    while len(lock._waiters) < count:
        assert time.monotonic() < deadline, "the waiters never queued"
        time.sleep(0.001)


def test_a_releasing_thread_does_not_take_it_back_ahead_of_a_waiter() -> None:
    lock, order = FairLock(), []

    def waiter() -> None:
        with lock:
            order.append("waiter")

    for _ in range(20):  # an unfair lock lets the releasing thread win nearly every time
        order.clear()
        lock.__enter__()
        thread = threading.Thread(target=waiter)
        thread.start()
        queued(lock, 1)
        lock.__exit__(None, None, None)
        with lock:
            order.append("releaser")
        thread.join(10)
        assert order == ["waiter", "releaser"]


def test_waiters_get_it_in_the_order_they_asked() -> None:
    lock, order = FairLock(), []

    def waiter(index: int) -> None:
        with lock:
            order.append(index)

    threads = [threading.Thread(target=waiter, args=(index,)) for index in range(8)]
    with lock:
        for index, thread in enumerate(threads):
            thread.start()
            queued(lock, index + 1)  # each one asks after the one before
    for thread in threads:
        thread.join(10)
    assert order == list(range(8))
    assert lock._owner is None and not lock._waiters


def test_its_owner_may_take_it_again() -> None:
    lock = FairLock()
    with lock, lock, lock:
        assert lock._depth == 3
    assert lock._owner is None
    taken = threading.Event()

    def other() -> None:
        with lock:
            taken.set()

    thread = threading.Thread(target=other)
    thread.start()
    thread.join(10)
    assert taken.is_set()  # released fully: nobody is left waiting on a depth never undone


def test_only_its_owner_may_release_it() -> None:
    lock = FairLock()
    with pytest.raises(RuntimeError, match="does not hold it"):
        lock.__exit__(None, None, None)
    with lock:
        errors = []

        def intruder() -> None:
            try:
                lock.__exit__(None, None, None)
            except RuntimeError as exc:
                errors.append(exc)

        thread = threading.Thread(target=intruder)
        thread.start()
        thread.join(10)
        assert errors and lock._owner == threading.get_ident()
