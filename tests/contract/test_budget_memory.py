"""`get_many` stops reading once the response budget is spent (issue 12): the memory a call of
20 x 1 MB values takes in this process is at most about twice the ~6 MB page it returns,
not the 20 MB asked for. Measured with tracemalloc around the store's call."""

from __future__ import annotations

import tracemalloc

import pytest

from agent_datastore.api.service import value_budget
from agent_datastore.core.records import Scope

VALUES = 20


@pytest.mark.parametrize("reader", [None, "agent-a"], ids=["untracked", "tracked"])
def test_get_many_of_1_mb_values_takes_at_most_twice_the_memory_of_its_answer(ds, store, clock, user_id, reader):
    value = "x" * 1_000_000
    keys = [f"big-{n:02d}" for n in range(VALUES)]
    for key in keys:
        ds("set", key=key, value=value)
    tracemalloc.start()
    try:
        result = store.get_many(
            Scope(user_id, "default"), keys, reader=reader, now=clock(), max_bytes=value_budget(keys)
        )
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    returned = sum(len(record.value_json) for record in result.found.values())
    assert 4 <= len(result.found) < VALUES and result.unprocessed == keys[len(result.found) :]
    assert peak <= 2 * returned, f"peak {peak / 2**20:.1f} MiB for an answer of {returned / 2**20:.1f} MiB"
