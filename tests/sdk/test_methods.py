"""Every `DataStore` method, over every transport, against the real handlers.

- http: the SDK with a capability token, straight to a real server process (token auth);
- proxy: the SDK with no credential, through a real sandbox proxy process;
- inprocess: the core's direct-invocation handlers in this process;
- lambda: a real boto3 Lambda client whose invocations run the real handlers.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from agent_datastore.api.app import Api
from agent_datastore.stores.memory import MemoryStore
from agent_datastore_sdk import (
    AsyncDataStore,
    Call,
    DataStore,
    InvalidKey,
    InvalidNamespace,
    InvalidValue,
    NotANumber,
    ValueTooLarge,
    VersionConflict,
)
from agent_datastore_sdk.transports.aws import LambdaTransport
from agent_datastore_sdk.transports.inprocess import InProcessTransport
from tests.sdk.conftest import handler_invoker, lambda_client, mint, running_proxy

TRANSPORTS = ["http", "proxy", "inprocess", "lambda"]
MIB = 1024 * 1024


@pytest.fixture(scope="module")
def shared_api() -> Api:
    return Api(store=MemoryStore())


@pytest.fixture(params=TRANSPORTS)
def transport_name(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def data_store(transport_name: str, server: Any, user_id: str, shared_api: Api) -> Iterator[DataStore]:
    agent = "method-agent"
    if transport_name == "http":
        with DataStore(server.url, mint(user_id, agent)) as store:
            yield store
    elif transport_name == "proxy":
        with running_proxy(server.url, "--user", user_id, "--agent", agent) as proxy, DataStore(proxy.url) as store:
            yield store
    elif transport_name == "inprocess":
        yield DataStore(transport=InProcessTransport(user_id, agent, api=shared_api))
    else:
        harness = lambda_client(handler_invoker(shared_api))
        yield DataStore(transport=LambdaTransport(user_id, agent, client=harness.client))


def test_get_set_and_the_default(data_store: DataStore) -> None:
    assert data_store.set("my-key", {"result": "some data"}) == 1
    assert data_store.get("my-key") == {"result": "some data"}
    assert data_store.get("missing") is None
    assert data_store.get("counter", 0) == 0  # default passed positionally
    assert data_store.get("missing", default=[]) == []
    # A stored falsy value is returned as itself, never replaced by the default.
    for key, value in {"none": None, "zero": 0, "empty": "", "false": False, "list": []}.items():
        data_store.set(key, value)
        assert data_store.get(key, "DEFAULT") == value
        assert type(data_store.get(key, "DEFAULT")) is type(value)
    assert data_store.set("my-key", [1, 2.5, "x", {"n": None}]) == 2
    assert data_store.get("my-key") == [1, 2.5, "x", {"n": None}]


def test_set_with_if_version_and_ttl(data_store: DataStore) -> None:
    assert data_store.set("k", "a", if_version=0) == 1
    with pytest.raises(VersionConflict) as conflict:
        data_store.set("k", "b", if_version=0)
    assert conflict.value.current_version == 1
    assert conflict.value.status == 409 and conflict.value.code == "version_conflict"
    assert data_store.set("k", "b", if_version=1) == 2
    with pytest.raises(VersionConflict) as conflict:
        data_store.set("absent", "x", if_version=3)
    assert conflict.value.current_version == 0
    before = datetime.now(UTC)
    data_store.set("short", "lived", ttl=120)
    record = data_store.get_record("short")
    assert record is not None and record.expires_at is not None
    assert before + timedelta(seconds=119) <= record.expires_at <= datetime.now(UTC) + timedelta(seconds=121)
    data_store.set("short", "lived", ttl=timedelta(hours=1))
    record = data_store.get_record("short")
    assert record is not None and record.expires_at is not None
    assert record.expires_at - record.updated_at == timedelta(hours=1)
    data_store.set("short", "forever")  # a write without ttl removes the expiry
    record = data_store.get_record("short")
    assert record is not None and record.expires_at is None


def test_metadata_and_get_record(data_store: DataStore, user_id: str) -> None:
    assert data_store.get_record("nothing") is None
    data_store.set("doc", {"v": 1}, {"source": "github", "tmp": 1})
    data_store.set("doc", {"v": 2}, metadata={"tmp": None, "lang": "py"})
    record = data_store.get_record("doc")
    assert record is not None
    assert record.value == {"v": 2}
    assert record.metadata == {"source": "github", "lang": "py"}
    assert record.version == 2
    assert record.user_id == user_id
    assert record.namespace == "default" and record.key == "doc"
    assert record.created_by_agent == "method-agent"
    assert record.last_accessed_by_agent == "method-agent"
    assert record.access_count == 1  # this read counted
    assert data_store.get("doc", track_access=False) == {"v": 2}
    again = data_store.get_record("doc", track_access=False)
    assert again is not None and again.access_count == 1


def test_delete(data_store: DataStore) -> None:
    data_store.set("gone", 1)
    assert data_store.delete("gone") is True
    assert data_store.delete("gone") is False
    assert data_store.get("gone", "default") == "default"
    data_store.set("guarded", 1)
    with pytest.raises(VersionConflict) as conflict:
        data_store.delete("guarded", if_version=5)
    assert conflict.value.current_version == 1
    assert data_store.delete("guarded", if_version=1) is True


def test_list_keys_follows_every_page_and_iter_keys_is_lazy(data_store: DataStore) -> None:
    keys = [f"item-{i:05d}" for i in range(1203)]
    assert data_store.set_many({key: i for i, key in enumerate(keys)}) == 1203
    data_store.set("other", True)
    listed = data_store.list_keys()
    assert listed == sorted([*keys, "other"])  # more than one 1000-key page
    assert data_store.list_keys("item-0119") == [f"item-0119{d}" for d in range(10)]
    assert data_store.list_keys("nope") == []
    iterator = data_store.iter_keys("item-", page_size=500)
    assert next(iterator) == "item-00000"
    assert list(iterator) == keys[1:]


def test_list_keys_prefix_is_literal(data_store: DataStore) -> None:
    for key in ["a%", "a%b", "ab", "a_", "files/x", "files:y", "ü", "🙂"]:
        data_store.set(key, key)
    assert data_store.list_keys("a%") == ["a%", "a%b"]
    assert data_store.list_keys("files/") == ["files/x"]
    assert data_store.list_keys() == sorted(data_store.list_keys(), key=lambda k: k.encode())


def test_namespaces_and_use_namespace(data_store: DataStore) -> None:
    cache = data_store.use_namespace("api-cache")
    assert cache.namespace == "api-cache"
    assert cache._transport is data_store._transport  # the same connection
    cache.set("k", "cached")
    data_store.set("k", "default")
    data_store.use_namespace("files:my-org/my-repo").set("README.md", "# hi")
    assert cache.get("k") == "cached" and data_store.get("k") == "default"
    assert data_store.list_namespaces() == ["api-cache", "default", "files:my-org/my-repo"]
    assert data_store.list_namespaces("files:") == ["files:my-org/my-repo"]
    assert cache.list_keys() == ["k"]
    cache.close()  # a namespace view does not close the shared connection
    assert data_store.get("k") == "default"
    assert cache.clear() == 1
    assert data_store.list_namespaces() == ["default", "files:my-org/my-repo"]


def test_clear(data_store: DataStore) -> None:
    scratch = data_store.use_namespace("scratch")
    scratch.set_many({f"k{i}": i for i in range(250)})
    assert scratch.clear() == 250
    assert scratch.clear() == 0
    assert scratch.list_keys() == []


def test_get_many(data_store: DataStore) -> None:
    data_store.set_many({f"k{i}": {"i": i} for i in range(150)})
    data_store.set("null", None)
    asked = [f"k{i}" for i in range(0, 300, 2)] + ["k0", "null", "absent"]  # > 100 keys, a duplicate
    found = data_store.get_many(asked)
    expected = {f"k{i}": {"i": i} for i in range(0, 150, 2)}
    expected["null"] = None
    assert found == expected
    assert list(found) == list(expected)  # in the order asked
    assert data_store.get_many([]) == {}
    with pytest.raises(InvalidKey):
        data_store.get_many(["ok", ""])


def test_set_many(data_store: DataStore) -> None:
    assert data_store.set_many({}) == 0
    assert data_store.set_many({f"k{i}": i for i in range(230)}, {"batch": 1}) == 230
    record = data_store.get_record("k229")
    assert record is not None and record.value == 229 and record.metadata == {"batch": 1}
    assert data_store.set_many([("pair", 1), ("pair2", 2)]) == 2
    assert data_store.get_many(["pair", "pair2"]) == {"pair": 1, "pair2": 2}
    with_ttl = data_store.use_namespace("ttl")
    assert with_ttl.set_many({"t": 1}, ttl=60) == 1
    record = with_ttl.get_record("t")
    assert record is not None and record.expires_at is not None


def test_set_many_splits_bodies_over_6_mib(data_store: DataStore, transport_name: str) -> None:
    if transport_name == "lambda":
        pytest.skip("the same split is exercised over HTTP, where a 6 MiB body is refused")
    big = "x" * (MIB - 100)
    items = {f"big{i}": big for i in range(8)}  # ~8 MiB: one request would be refused with 413
    assert data_store.set_many(items) == 8
    assert data_store.get_many(list(items)) == items


def test_set_many_checks_every_item_before_writing(data_store: DataStore) -> None:
    items: dict[str, Any] = {f"k{i}": i for i in range(150)}
    items["bad"] = "x" * (MIB + 1)  # in the second chunk
    with pytest.raises(ValueTooLarge):
        data_store.set_many(items)
    assert data_store.list_keys() == []  # the first chunk was not written either
    with pytest.raises(InvalidKey):
        data_store.set_many({**{f"k{i}": i for i in range(150)}, "": 1})
    assert data_store.list_keys() == []


def test_get_all(data_store: DataStore) -> None:
    assert data_store.get_all() == {}
    values = {f"doc-{i:04d}": {"n": i, "pad": "p" * 100} for i in range(1100)}
    data_store.set_many(values)
    data_store.set("zz", None)
    everything = data_store.get_all()
    assert everything == {**values, "zz": None}
    assert list(everything) == sorted(everything)
    assert data_store.get_all("doc-000") == {f"doc-000{i}": values[f"doc-000{i}"] for i in range(10)}


def test_increment(data_store: DataStore) -> None:
    assert data_store.increment("counter") == 1
    assert data_store.increment("counter") == 2
    assert data_store.increment("counter", 10) == 12
    assert data_store.increment("counter", by=-2) == 10
    assert data_store.increment("float", 0.5) == 0.5
    assert data_store.get("counter") == 10
    data_store.set("text", "abc")
    with pytest.raises(NotANumber):
        data_store.increment("text")
    with pytest.raises(TypeError):
        data_store.increment("counter", "1")  # type: ignore[arg-type]


def test_stats(data_store: DataStore) -> None:
    assert data_store.stats() == []
    data_store.set("a", {"x": 1})
    data_store.use_namespace("other").set_many({"b": 1, "c": 2})
    rows = {row.namespace: row for row in data_store.stats()}
    assert set(rows) == {"default", "other"}
    assert rows["default"].keys == 1 and rows["other"].keys == 2
    assert rows["default"].bytes == len('{"x":1}') + len("{}")
    assert rows["other"].updated_at is not None
    assert [row.namespace for row in data_store.stats("other")] == ["other"]


def test_contract_errors_are_typed(data_store: DataStore) -> None:
    with pytest.raises(InvalidKey) as invalid:
        data_store.get("")
    assert invalid.value.status == 400 and invalid.value.request_id
    with pytest.raises(InvalidNamespace):
        data_store.use_namespace("").get("k")
    with pytest.raises(ValueTooLarge):
        data_store.set("big", "x" * MIB)
    with pytest.raises(InvalidValue):
        data_store.set("nan", float("nan"))
    with pytest.raises(ValueError):  # the 400 family are ValueErrors too
        data_store.set("x" * 1025, 1)


class CountingTransport:
    def __init__(self, inner: Any) -> None:
        self.inner, self.calls = inner, []

    def call(self, call: Call) -> dict[str, Any]:
        self.calls.append(call)
        return self.inner.call(call)  # type: ignore[no-any-return]

    def close(self) -> None:
        pass


def test_not_json_serialisable_is_a_type_error_before_sending(data_store: DataStore) -> None:
    counting = CountingTransport(data_store._transport)
    store = DataStore(transport=counting)
    for value in [{1, 2}, object(), b"bytes", {"nested": datetime.now()}]:
        with pytest.raises(TypeError):
            store.set("k", value)
        with pytest.raises(TypeError):
            store.set_many({"a": 1, "b": value})
    with pytest.raises(TypeError):
        store.set("k", 1, metadata={"when": datetime.now()})
    assert counting.calls == []
    assert store.get("k", "absent") == "absent"


def test_iter_records_walks_every_page_without_counting_reads(data_store: DataStore, user_id: str) -> None:
    data_store.set_many({f"doc-{i:02d}": {"n": i} for i in range(7)}, {"src": "sdk"})
    data_store.set("other", [1], ttl=600)
    counting = CountingTransport(data_store._transport)
    paged = DataStore(transport=counting)
    iterator = paged.iter_records("doc-", page_size=3)
    first = next(iterator)
    assert len(counting.calls) == 1  # lazy: one page asked so far
    records = [first, *iterator]
    assert [call.operation for call in counting.calls] == ["list_keys"] * 3
    assert all(call.body.get("include_records") is True and call.body["limit"] == 3 for call in counting.calls)
    assert [record.key for record in records] == [f"doc-{i:02d}" for i in range(7)]
    assert [record.value for record in records] == [{"n": i} for i in range(7)]
    assert all(record.metadata == {"src": "sdk"} and record.user_id == user_id for record in records)
    assert all(record.access_count == 0 and record.version == 1 for record in records)
    (other,) = [record for record in paged.iter_records() if record.key == "other"]
    assert other.value == [1] and other.expires_at is not None
    assert list(paged.iter_records("nothing")) == []
    again = data_store.get_record("doc-00", track_access=False)
    assert again is not None and again.access_count == 0  # listing records is not a read


def test_refresh_ttl_on_get_get_many_get_record_and_iter_records(data_store: DataStore) -> None:
    data_store.set_many({"a": 1, "b": 2}, ttl=600)
    data_store.set("plain", 3)

    def stored(key: str) -> Any:
        record = data_store.get_record(key, track_access=False)
        assert record is not None
        return record

    written = {key: stored(key) for key in ("a", "b", "plain")}
    time.sleep(0.02)  # a refreshed expiry is measured from a later instant than the write's
    assert data_store.get("a", refresh_ttl=True) == 1
    assert stored("a").expires_at > written["a"].expires_at
    assert data_store.get_many(["b", "plain", "missing"], refresh_ttl=True, track_access=False) == {"b": 2, "plain": 3}
    assert stored("b").expires_at > written["b"].expires_at
    assert stored("plain").expires_at is None
    before = stored("a").expires_at
    time.sleep(0.02)
    record = data_store.get_record("a", refresh_ttl=True)
    assert record is not None and record.expires_at > before
    assert (record.version, record.updated_at) == (1, written["a"].updated_at)  # a write of the expiry only
    before = stored("b").expires_at
    time.sleep(0.02)
    listed = {record.key: record for record in data_store.iter_records(refresh_ttl=True)}
    assert listed["b"].expires_at > before and stored("b").expires_at == listed["b"].expires_at


def test_async_iter_records_and_refresh_ttl(shared_api: Api, user_id: str) -> None:
    import asyncio

    async def run() -> None:
        store = AsyncDataStore(transport=InProcessTransport(user_id, "async-agent", api=shared_api))
        await store.set_many({f"k{i}": i for i in range(5)}, ttl=600)
        before = await store.get_record("k0", track_access=False)
        await asyncio.sleep(0.02)
        assert await store.get("k0", refresh_ttl=True) == 0
        after = await store.get_record("k0", track_access=False)
        assert before is not None and after is not None
        assert before.expires_at is not None and after.expires_at is not None
        assert after.expires_at > before.expires_at
        assert await store.get_many(["k1"], refresh_ttl=True) == {"k1": 1}
        records = [record async for record in store.iter_records(page_size=2, refresh_ttl=True)]
        assert [record.key for record in records] == [f"k{i}" for i in range(5)]
        assert all(record.value == i for i, record in enumerate(records))
        assert (await store.get_record("k4", refresh_ttl=True)) is not None

    asyncio.run(run())
