"""`DataStoreStore` on the SDK calls it is written against but this tree's SDK lacks yet:
`DataStore.iter_records`, and `refresh_ttl` on `get_record` / `get_many` (include_records/refresh_ttl,
in progress elsewhere). A fake client with those methods, over a dict, records every call, so the
adapter's record path is checked now; test_langgraph.py runs the same store over the real SDK.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

from langgraph.store.base import GetOp, SearchOp

from agent_datastore_sdk import Record
from agent_datastore_sdk.langgraph import DataStoreStore

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


class FakeClient:
    """The future SDK surface the adapter uses, over {namespace: {key: (value, expires_at)}}."""

    yielded = 0  # records handed out by iter_records, all views together

    def __init__(self, data: dict[str, dict[str, Any]], calls: list[tuple[Any, ...]], namespace: str = "") -> None:
        self.data, self.calls, self.namespace = data, calls, namespace

    def use_namespace(self, namespace: str) -> Any:
        return type(self)(self.data, self.calls, namespace)

    def _record(self, key: str) -> Record | None:
        if key not in self.data.get(self.namespace, {}):
            return None
        value, expires = self.data[self.namespace][key]
        return Record(self.namespace, key, value, {}, "a", "a", 0, NOW, NOW, 1, expires, "u")

    def list_namespaces(self, prefix: str | None = None) -> list[str]:
        self.calls.append(("list_namespaces", prefix))
        return sorted(name for name, items in self.data.items() if items and name.startswith(prefix or ""))

    def iter_records(self, prefix: str | None = None) -> Iterator[Record]:
        self.calls.append(("iter_records", self.namespace))
        for key in sorted(self.data.get(self.namespace, {})):
            FakeClient.yielded += 1
            record = self._record(key)
            assert record is not None
            yield record

    def get_record(self, key: str, *, track_access: bool = True, refresh_ttl: bool = False) -> Record | None:
        self.calls.append(("get_record", self.namespace, key, refresh_ttl))
        return self._record(key)

    def get_many(self, keys: list[str], *, track_access: bool = True, refresh_ttl: bool = False) -> dict[str, Any]:
        self.calls.append(("get_many", self.namespace, tuple(keys), track_access, refresh_ttl))
        return {key: self.data[self.namespace][key][0] for key in keys if key in self.data.get(self.namespace, {})}


class NoGetRefresh(FakeClient):
    """An SDK whose get_record cannot refresh, but whose get_many can."""

    def get_record(self, key: str, *, track_access: bool = True) -> Record | None:  # type: ignore[override]
        self.calls.append(("get_record", self.namespace, key, None))
        return self._record(key)


def make(cls: type[FakeClient] = FakeClient) -> tuple[DataStoreStore, list[tuple[Any, ...]]]:
    later = NOW + timedelta(hours=1)
    data = {
        "langgraph:docs": {f"d{i:02d}": ({"i": i, "even": i % 2 == 0}, later if i < 3 else None) for i in range(20)},
        "langgraph:docs.sub": {"s": ({"i": 99, "even": False}, None)},
        "langgraph:other": {"o": ({"i": 0, "even": True}, None)},
    }
    calls: list[tuple[Any, ...]] = []
    FakeClient.yielded = 0
    return DataStoreStore(cls(data, calls)), calls  # type: ignore[arg-type]


def test_a_search_is_one_listing_and_one_walk_that_stops_early() -> None:
    store, calls = make()
    assert store._records and store._refresh_get and store._refresh_many
    found = store.search(("docs",), filter={"even": True}, limit=2, offset=1, refresh_ttl=False)
    assert [item.key for item in found] == ["d02", "d04"]
    assert calls == [("list_namespaces", "langgraph:docs"), ("iter_records", "langgraph:docs")]
    assert FakeClient.yielded == 5  # d00..d04: the walk stops at offset + limit matches


def test_a_search_refreshes_only_the_results_that_expire() -> None:
    store, calls = make()
    found = store.search(("docs",), limit=4)
    assert [item.key for item in found] == ["d00", "d01", "d02", "d03"]
    # d00-d02 have a TTL, d03 has none: one get_many for the three, without counting a read.
    assert calls[-1] == ("get_many", "langgraph:docs", ("d00", "d01", "d02"), False, True)
    calls.clear()
    assert [item.key for item in store.search(("docs",), limit=4, offset=18)] == ["d18", "d19", "s"]
    assert [call[0] for call in calls] == ["list_namespaces", "iter_records", "iter_records"]  # no TTL: no refresh
    assert calls[-1] == ("iter_records", "langgraph:docs.sub")  # the walk went on below the namespace


def test_a_get_refreshes_through_get_record_or_else_get_many() -> None:
    store, calls = make()
    assert store.get(("docs",), "d01") is not None
    assert store.get(("docs",), "d01", refresh_ttl=False) is not None
    assert calls == [("get_record", "langgraph:docs", "d01", True), ("get_record", "langgraph:docs", "d01", False)]
    store, calls = make(NoGetRefresh)
    results = store.batch([GetOp(("docs",), "d01"), GetOp(("docs",), "d10"), GetOp(("other",), "o")])
    assert [item.key if item else None for item in results] == ["d01", "d10", "o"]  # type: ignore[union-attr]
    # Only d01 expires: it is refreshed with get_many; the others are left alone.
    assert calls[-1] == ("get_many", "langgraph:docs", ("d01",), False, True)
    assert [call[0] for call in calls].count("get_many") == 1


def test_one_listing_serves_every_search_of_a_batch() -> None:
    store, calls = make()
    results = store.batch(
        [SearchOp(("docs",), limit=1, refresh_ttl=False), SearchOp(("other",), limit=1, refresh_ttl=False)]
    )
    assert [[item.key for item in found] for found in results] == [["d00"], ["o"]]  # type: ignore[union-attr]
    assert [call for call in calls if call[0] == "list_namespaces"] == [("list_namespaces", "langgraph:")]
