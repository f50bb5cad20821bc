"""CouchDB batches at the round-trip floor (issue 12): pages by bytes, not by a fixed number of
documents. Requests are counted with an httpx request hook on the store's own client."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest

from agent_datastore.api.service import DataStoreService, parse_request, value_budget
from agent_datastore.core.errors import BackendUnavailable
from agent_datastore.core.identity import Identity
from agent_datastore.core.records import Scope, now_ms
from agent_datastore.core.settings import Settings
from agent_datastore.stores.couchdb.layout import SIZES_ID
from agent_datastore.stores.couchdb.store import CouchDBStore

ME = Identity("batch-user", "batch-agent")
KEYS = [f"k{i:03d}" for i in range(100)]


class Requests:
    """Every request the store sends: (what it addressed, its JSON body)."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, Any]] = []

    def __call__(self, request: httpx.Request) -> None:
        body = json.loads(request.content) if request.content else None
        self.sent.append((request.url.path.rsplit("/", 1)[-1], body))

    def take(self) -> list[tuple[str, Any]]:
        sent, self.sent = self.sent, []
        return sent


@pytest.fixture
def store(couchdb: str, database: str) -> Iterator[CouchDBStore]:
    store = CouchDBStore(couchdb, database)
    yield store
    store.close()


@pytest.fixture
def requests(store: CouchDBStore) -> Requests:
    seen = Requests()
    store.client.event_hooks["request"] = [seen]
    return seen


def call(store: CouchDBStore, operation: str, **body: Any) -> dict[str, Any]:
    service = DataStoreService(store, Settings(auth="none"))
    return service.execute(operation, parse_request(operation, body), ME, time.monotonic() + 60)


def test_100_small_values_take_at_most_3_round_trips_each_way(store: CouchDBStore, requests: Requests) -> None:
    items = {key: {"i": i, "text": "x" * 200} for i, key in enumerate(KEYS)}
    assert call(store, "set_many", items=items)["written"] == 100
    assert [path for path, _ in requests.take()] == ["sizes", "_bulk_docs"]  # all new: nothing to read
    assert call(store, "set_many", items=items)["versions"] == dict.fromkeys(KEYS, 2)
    assert [path for path, _ in requests.take()] == ["sizes", "_all_docs", "_bulk_docs"]
    answer = call(store, "get_many", keys=[*KEYS[:99], "missing"])
    assert answer == {"values": {key: items[key] for key in KEYS[:99]}, "missing": ["missing"], "unprocessed": []}
    assert [path for path, _ in requests.take()] == ["sizes", "_all_docs", "_bulk_docs"]
    call(store, "get_many", keys=KEYS, track_access=False)
    assert [path for path, _ in requests.take()] == ["sizes", "_all_docs"]
    # Each tracked read counted exactly once.
    records = call(store, "list_keys", include_records=True, track_access=False)["records"]
    assert {key: records[key]["accessCount"] for key in KEYS} == {key: int(key != KEYS[99]) for key in KEYS}


def test_reading_stops_at_the_response_budget(store: CouchDBStore, requests: Requests) -> None:
    value = "v" * 300_000
    for key in KEYS[:30]:  # 9 MB: more than one response holds
        call(store, "set", key=key, value=value)
    requests.take()
    answer = call(store, "get_many", keys=KEYS[:30], track_access=False)
    fitted = len(answer["values"])
    assert 15 <= fitted < 30 and answer["unprocessed"] == KEYS[fitted:30]
    sent = requests.take()
    read = [key for path, body in sent if path == "_all_docs" for key in body["keys"]]
    assert len(read) == fitted + 1  # what fits, and the one after it that does not
    assert all(len(body["keys"]) <= 4 for path, body in sent if path == "_all_docs")  # pages of ~1 MiB


def test_concurrent_tracked_batches_count_every_read_once(store: CouchDBStore) -> None:
    call(store, "set_many", items={key: key for key in KEYS[:20]})

    def read(_: int) -> int:
        return len(call(store, "get_many", keys=KEYS[:20])["values"])

    with ThreadPoolExecutor(8) as pool:
        assert list(pool.map(read, range(24))) == [20] * 24
    records = call(store, "list_keys", include_records=True, track_access=False)["records"]
    assert {record["accessCount"] for record in records.values()} == {24}


def test_a_database_made_before_the_sizes_view_gets_it_on_first_use(store: CouchDBStore) -> None:
    store.create()
    store.http.delete_doc(SIZES_ID, str(store.http.get_doc(SIZES_ID)["_rev"]))  # as an older version left it
    call(store, "set", key="a", value=1)
    assert store.http.get_doc(SIZES_ID) is None
    assert call(store, "get_many", keys=["a"])["values"] == {"a": 1}  # the view was installed, then read
    assert store.http.get_doc(SIZES_ID) is not None
    assert call(store, "set_many", items={"b": 2})["versions"] == {"b": 1}


def test_a_design_document_that_cannot_be_written_leaves_the_503_naming_admin_create(
    store: CouchDBStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    store.create()
    store.http.delete_doc(SIZES_ID, str(store.http.get_doc(SIZES_ID)["_rev"]))
    call(store, "set", key="a", value=1)

    def refused(doc: dict[str, Any], rev: str | None) -> str:  # credentials without admin rights
        raise BackendUnavailable("CouchDB refused the configured credentials (403)")

    monkeypatch.setattr(store.http, "put_doc", refused)
    with pytest.raises(BackendUnavailable, match="admin create"):
        store.get_many(Scope(ME.user_id, "default"), ["a"], reader=None, now=now_ms(), max_bytes=value_budget(["a"]))
    monkeypatch.undo()
    store.create()  # `agent-datastore admin create`, idempotent
    assert call(store, "get_many", keys=["a"])["values"] == {"a": 1}
