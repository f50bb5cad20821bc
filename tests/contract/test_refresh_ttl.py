"""refresh_ttl: a read moves the expiry of a record written with ttl_seconds to now + that TTL (API.md section 4).

The server clock is the contract fixture's `clock` (real time plus an offset the tests move), and the
TTLs are long enough that the real time a test takes cannot decide an outcome: each expiry asserted is
bracketed by clock readings taken around the call that set it.
"""

from __future__ import annotations

import threading
from dataclasses import replace

from agent_datastore.core.identity import Identity
from agent_datastore.core.records import Scope, format_ts, parse_ts

from .conftest import Client

TTL = 600  # seconds


def stored(ds, key, namespace="default"):
    return ds("get", namespace=namespace, key=key, include_record=True, track_access=False)["record"]


def expiry_of(record):
    return parse_ts(record["expiresAt"])


def refreshed_between(record, before, after, ttl=TTL):
    """Whether the record's expiry is now + `ttl` for a `now` read between `before` and `after`."""
    return before + ttl * 1000 <= expiry_of(record) <= after + ttl * 1000


def test_get_moves_the_expiry_and_nothing_else(ds, clock):
    ds("set", key="t", value={"v": 1}, metadata={"m": 1}, ttl_seconds=TTL)
    written = stored(ds, "t")
    clock.advance(400)
    before = clock()
    answer = ds("get", key="t", include_record=True, refresh_ttl=True)
    after = clock()
    assert answer["value"] == {"v": 1}
    record = answer["record"]
    assert refreshed_between(record, before, after)
    assert expiry_of(record) > expiry_of(written) + 399_000
    # A write of the expiry only: version, updatedAt, value and metadata stay; the read is counted.
    unchanged = ("version", "updatedAt", "createdAt", "value", "metadata", "createdByAgent")
    assert {name: record[name] for name in unchanged} == {name: written[name] for name in unchanged}
    assert record["accessCount"] == written["accessCount"] + 1
    assert stored(ds, "t") == record  # stored as answered
    # Without the refresh it would have expired 600 s after the write; it now lives 600 s from the read.
    clock.advance(300)
    assert ds("get", key="t", track_access=False)["found"]
    clock.advance(301)
    assert ds("get", key="t") == {"found": False}


def test_a_record_without_ttl_is_unchanged(ds, clock):
    ds("set", key="forever", value=1)
    ds("set", key="forever", value=2, metadata={"m": 1})
    written = stored(ds, "forever")
    answer = ds("get", key="forever", include_record=True, refresh_ttl=True, track_access=False)
    assert answer["record"] == written and written["expiresAt"] is None
    ds("get", key="forever", refresh_ttl=True)
    assert stored(ds, "forever") == {**written, "accessCount": 1}
    clock.advance(10 * TTL)
    assert stored(ds, "forever")["expiresAt"] is None


def test_an_overwrite_without_ttl_is_a_record_without_ttl(ds, clock):
    ds("set", key="k", value=1, ttl_seconds=TTL)
    ds("set", key="k", value=2)
    ds("get", key="k", refresh_ttl=True)
    assert stored(ds, "k")["expiresAt"] is None
    ds("increment", key="n", ttl_seconds=TTL)
    ds("increment", key="n")  # a write without ttl_seconds: no expiry, nothing to refresh
    ds("get", key="n", refresh_ttl=True)
    assert stored(ds, "n")["expiresAt"] is None


def test_refresh_uses_the_ttl_of_the_latest_write(ds, clock):
    ds("set", key="k", value=1, ttl_seconds=60)
    ds("set", key="k", value=2, ttl_seconds=TTL)
    ds("increment", key="n", ttl_seconds=60)
    ds("increment", key="n", by=2, ttl_seconds=TTL)
    ds("set_many", items={"a": 1, "b": 2}, ttl_seconds=TTL)
    clock.advance(50)
    before = clock()
    for key in ("k", "n", "a"):
        ds("get", key=key, refresh_ttl=True)
    after = clock()
    for key in ("k", "n", "a"):
        assert refreshed_between(stored(ds, key), before, after)


def test_with_track_access_false_the_expiry_still_moves_and_no_read_is_counted(ds, clock):
    ds("set", key="t", value=1, ttl_seconds=TTL)
    clock.advance(100)
    before = clock()
    assert ds("get", key="t", track_access=False, refresh_ttl=True) == {"found": True, "value": 1}
    after = clock()
    record = stored(ds, "t")
    assert refreshed_between(record, before, after)
    assert (record["accessCount"], record["lastAccessedByAgent"], record["version"]) == (0, "agent-a", 1)


def test_an_expired_record_is_not_brought_back(ds, clock):
    ds("set", key="t", value=1, ttl_seconds=60)
    clock.advance(61)
    assert ds("get", key="t", refresh_ttl=True) == {"found": False}
    assert ds("get_many", keys=["t"], refresh_ttl=True) == {"values": {}, "missing": ["t"], "unprocessed": []}
    assert ds("list_keys", include_records=True, refresh_ttl=True)["records"] == {}
    assert ds("get", key="t") == {"found": False}
    assert ds("set", key="t", value=2, if_version=0) == {"version": 1, "created": True}


def test_get_many_refreshes_each_record_read(ds, clock):
    ds("set_many", items={"a": 1, "b": 2}, ttl_seconds=TTL)
    ds("set", key="plain", value=3)
    ds("set", key="short", value=4, ttl_seconds=60)
    clock.advance(50)
    for track_access in (True, False):
        before = clock()
        answer = ds(
            "get_many", keys=["a", "plain", "missing", "b", "short"], refresh_ttl=True, track_access=track_access
        )
        after = clock()
        assert answer == {"values": {"a": 1, "plain": 3, "b": 2, "short": 4}, "missing": ["missing"], "unprocessed": []}
        assert refreshed_between(stored(ds, "a"), before, after)
        assert refreshed_between(stored(ds, "b"), before, after)
        assert refreshed_between(stored(ds, "short"), before, after, ttl=60)
        assert stored(ds, "plain")["expiresAt"] is None
    assert [stored(ds, key)["accessCount"] for key in ("a", "plain", "b", "short")] == [1, 1, 1, 1]
    assert {stored(ds, key)["version"] for key in ("a", "plain", "b", "short")} == {1}


def test_list_keys_refreshes_the_records_it_carries(ds, clock):
    ds("set_many", items={"a": 1, "b": 2}, ttl_seconds=TTL)
    ds("set", key="plain", value=3)
    clock.advance(200)
    before = clock()
    page = ds("list_keys", include_records=True, refresh_ttl=True)
    after = clock()
    assert page["keys"] == ["a", "b", "plain"]
    for key in ("a", "b"):
        assert refreshed_between(page["records"][key], before, after)
        assert stored(ds, key) == page["records"][key]
        assert page["records"][key]["accessCount"] == 0  # still a listing, not a read
    assert page["records"]["plain"]["expiresAt"] is None
    clock.advance(200)
    before = clock()
    page = ds("list_keys", include_values=True, refresh_ttl=True)
    after = clock()
    assert page["values"] == {"a": 1, "b": 2, "plain": 3}
    assert refreshed_between(stored(ds, "a"), before, after) and stored(ds, "a")["accessCount"] == 1
    # Without include_records or include_values a listing reads no record, so it refreshes none.
    clock.advance(200)
    ds("list_keys", refresh_ttl=True)
    assert refreshed_between(stored(ds, "a"), before, after)


def test_a_refreshed_record_outlives_its_first_expiry_everywhere(ds, clock):
    ds("set", namespace="kept", key="gone", value=1, ttl_seconds=60)
    ds("set", namespace="kept", key="k", value="v" * 100, ttl_seconds=60)  # the latest write
    written = stored(ds, "k", "kept")
    clock.advance(50)
    ds("get", namespace="kept", key="k", refresh_ttl=True, track_access=False)
    clock.advance(20)  # past the first expiry of both; only "k" was refreshed
    assert ds("list_namespaces")["namespaces"] == ["kept"]
    (row,) = ds("stats", namespace="kept")["namespaces"]
    # A refresh is not a write of a value: stats' updatedAt stays that of the last write.
    assert (row["keys"], row["bytes"], row["updatedAt"]) == (1, 102 + 2, written["updatedAt"])
    assert ds("list_keys", namespace="kept")["keys"] == ["k"]
    assert ds("get", namespace="kept", key="k")["value"] == "v" * 100


def test_a_record_stored_without_a_kept_ttl_is_left_as_it_is(ds, store, user_id, clock):
    # As written before records kept their TTL (or imported from such an export): an expiry, no TTL.
    ds("set", key="old", value=1, ttl_seconds=TTL)
    scope = Scope(user_id, "default")
    (record,) = [record for record in store.scan(user_id) if record.key == "old"]
    assert record.ttl_seconds == TTL
    store.restore(replace(record, ttl_seconds=None))
    clock.advance(100)
    ds("get", key="old", refresh_ttl=True)
    ds("get_many", keys=["old"], refresh_ttl=True, track_access=False)
    ds("list_keys", include_records=True, refresh_ttl=True)
    after = store.get(scope, "old", reader=None, now=clock())
    assert after is not None and after.expires_at == record.expires_at and after.ttl_seconds is None
    assert format_ts(after.expires_at) == stored(ds, "old")["expiresAt"]


def test_a_read_only_credential_may_refresh(service, user_id, clock):
    writer = Client(service, Identity(user_id, "writer"))
    reader = Client(service, Identity(user_id, "reader", read_only=True))
    writer("set", key="t", value=1, ttl_seconds=TTL)
    clock.advance(100)
    before = clock()
    assert reader("get", key="t", refresh_ttl=True)["found"]
    assert refreshed_between(stored(writer, "t"), before, clock())


def test_a_concurrent_set_is_never_undone_by_a_refresh(ds, clock):
    # Each write asks for a different TTL (1000 s apart): a refresh computed from a stale version would
    # leave a stale value, version or TTL behind, and a lost count would show in accessCount.
    writes, refreshes = 12, 24
    ds("set", key="k", value=0, ttl_seconds=1000)
    errors: list[BaseException] = []

    def writer() -> None:
        try:
            for index in range(1, writes):
                ds.as_agent("writer")("set", key="k", value=index, ttl_seconds=1000 * (index + 1))
        except BaseException as exc:  # reported below
            errors.append(exc)

    def refresher(agent: str) -> None:
        try:
            for _ in range(refreshes // 2):
                assert ds.as_agent(agent)(
                    "get_many" if agent == "many" else "get",
                    refresh_ttl=True,
                    **({"keys": ["k"]} if agent == "many" else {"key": "k"}),
                )
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=writer)] + [
        threading.Thread(target=refresher, args=(a,)) for a in ("one", "many")
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors
    end = clock()
    record = stored(ds, "k")
    last_ttl_ms = 1000 * writes * 1000
    assert (record["value"], record["version"]) == (writes - 1, writes)
    assert record["accessCount"] == refreshes
    # The expiry is the last write's, or a later refresh of it: always now + the last write's TTL.
    assert parse_ts(record["updatedAt"]) <= expiry_of(record) - last_ttl_ms <= end
