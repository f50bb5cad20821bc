"""The optimistic write loop's bounds (stores/writeloop.py), without a backend."""

from __future__ import annotations

import time

import pytest

from agent_datastore.core.settings import Settings
from agent_datastore.stores.writeloop import Contention, LostRace


def test_a_time_bound_loop_gives_up_after_its_seconds_and_its_attempts():
    tries: list[float] = []

    def attempt(stored: object) -> None:
        tries.append(time.monotonic())
        raise LostRace()

    contention = Contention(attempts=3, base=0.001, cap=0.002, seconds=0.2)
    with pytest.raises(TimeoutError):
        contention.retry(attempt, None, lambda race: None, lambda: TimeoutError("busy"))
    assert len(tries) > 3  # past its attempts: the seconds are the bound
    assert 0.2 <= tries[-1] - tries[0] < 1.0


def test_dynamodb_gives_up_on_a_hot_key_within_the_request_budget():
    # The worst case of a lost race every time: the attempts' floor of backoffs (each at most
    # min(cap, base * 2**n)) must fit in the seconds, and the last backoff after them in the
    # request budget; otherwise the floor of attempts, not the seconds, decides how long it runs.
    from agent_datastore.stores.dynamodb.store import DynamoDBStore

    contention = DynamoDBStore.contention
    floor = sum(min(contention.cap, contention.base * 2**lost) for lost in range(1, contention.attempts + 1))
    assert floor <= contention.seconds
    assert contention.seconds + contention.cap < Settings().request_budget_seconds
