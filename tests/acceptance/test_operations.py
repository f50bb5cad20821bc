"""Every row of the operation table and the record rules of API.md section 2."""

from __future__ import annotations

import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest

from .conftest import compact, parse_time


def test_set_then_get_round_trips_every_json_type(api):
    values = {
        "object": {"result": "some data", "n": [1, 2, {"x": None}]},
        "array": [1, "two", None, True, 3.5],
        "string": "hello",
        "empty-string": "",
        "int": 42,
        "zero": 0,
        "negative": -7,
        "float": 2.5,
        "true": True,
        "false": False,
        "null": None,
        "empty-object": {},
        "empty-array": [],
    }
    for key, value in values.items():
        assert api.ok("set", {"key": key, "value": value}) == {"version": 1, "created": True}
    for key, value in values.items():
        answer = api.ok("get", {"key": key})
        assert answer == {"found": True, "value": value}, key
        assert type(answer["value"]) is type(value), key


def test_get_missing_key_is_found_false(api):
    assert api.ok("get", {"key": "nope"}) == {"found": False}
    assert api.ok("get", {"key": "nope", "include_record": True}) == {"found": False}


def test_set_overwrite_answers_created_false_and_bumps_version(api):
    assert api.ok("set", {"key": "k", "value": 1}) == {"version": 1, "created": True}
    assert api.ok("set", {"key": "k", "value": 2}) == {"version": 2, "created": False}
    assert api.ok("set", {"key": "k", "value": 2}) == {"version": 3, "created": False}
    assert api.ok("get", {"key": "k"})["value"] == 2


def test_namespace_defaults_to_default_and_namespaces_are_separate(api):
    api.ok("set", {"key": "k", "value": "in-default"})
    api.ok("set", {"namespace": "other", "key": "k", "value": "in-other"})
    assert api.ok("get", {"namespace": "default", "key": "k"})["value"] == "in-default"
    assert api.ok("get", {"key": "k"})["value"] == "in-default"
    assert api.ok("get", {"namespace": "other", "key": "k"})["value"] == "in-other"
    assert api.ok("list_keys", {})["keys"] == ["k"]
    assert api.ok("list_keys", {"namespace": "other"})["keys"] == ["k"]


def test_include_record_has_every_field_as_it_stands_after_the_read(api):
    before = time.time()
    api.ok("set", {"namespace": "ns", "key": "k", "value": {"a": 1}})
    answer = api.ok("get", {"namespace": "ns", "key": "k", "include_record": True})
    assert set(answer) == {"found", "value", "record"}
    assert answer["value"] == {"a": 1}
    record = answer["record"]
    assert set(record) == {
        "userId",
        "namespace",
        "key",
        "value",
        "metadata",
        "createdByAgent",
        "lastAccessedByAgent",
        "accessCount",
        "createdAt",
        "updatedAt",
        "version",
        "expiresAt",
    }
    assert record["userId"] == api.user
    assert record["namespace"] == "ns"
    assert record["key"] == "k"
    assert record["value"] == {"a": 1}
    assert record["metadata"] == {}
    assert record["createdByAgent"] == "acceptance"
    assert record["lastAccessedByAgent"] == "acceptance"
    assert record["accessCount"] == 1  # as it stands after this read
    assert record["version"] == 1
    assert record["expiresAt"] is None
    created = parse_time(record["createdAt"])
    assert parse_time(record["updatedAt"]) == created
    assert abs(created.timestamp() - before) < 60


def test_access_count_counts_reads_only(api):
    api.ok("set", {"key": "k", "value": 1})
    assert api.record("k")["accessCount"] == 0
    for _ in range(3):
        api.ok("get", {"key": "k"})
    assert api.record("k")["accessCount"] == 3
    api.ok("get", {"key": "k", "track_access": False})
    api.ok("list_keys", {})
    api.ok("list_namespaces", {})
    api.ok("stats", {})
    assert api.record("k")["accessCount"] == 3
    api.ok("get_many", {"keys": ["k"]})
    assert api.record("k")["accessCount"] == 4
    api.ok("get_many", {"keys": ["k"], "track_access": False})
    assert api.record("k")["accessCount"] == 4
    api.ok("list_keys", {"include_values": True})
    assert api.record("k")["accessCount"] == 5
    api.ok("list_keys", {"include_values": True, "track_access": False})
    assert api.record("k")["accessCount"] == 5
    api.ok("get", {"key": "k", "track_access": True})
    assert api.record("k")["accessCount"] == 6


def test_include_record_without_tracking_shows_unchanged_count(api):
    api.ok("set", {"key": "k", "value": 1})
    api.ok("get", {"key": "k"})
    assert api.ok("get", {"key": "k", "include_record": True, "track_access": False})["record"]["accessCount"] == 1
    assert api.ok("get", {"key": "k", "include_record": True})["record"]["accessCount"] == 2


def test_concurrent_reads_add_exactly_n(api):
    api.ok("set", {"key": "k", "value": 1})
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda _: api.ok("get", {"key": "k"}), range(20)))
    assert api.record("k")["accessCount"] == 20


def test_agents_create_read_and_overwrite(new_api):
    user = f"acc-{uuid.uuid4().hex}"
    alice, bob, carol = new_api(user, "alice"), new_api(user, "bob"), new_api(user, "carol")
    alice.ok("set", {"key": "k", "value": 1, "metadata": {"m": 1}})
    created = alice.record("k")
    bob.ok("get", {"key": "k"})
    bob.ok("get", {"key": "k"})
    record = alice.record("k")
    assert record["createdByAgent"] == "alice" and record["lastAccessedByAgent"] == "bob"
    assert record["accessCount"] == 2
    time.sleep(0.01)
    assert carol.ok("set", {"key": "k", "value": 2}) == {"version": 2, "created": False}
    record = alice.record("k")
    assert record["createdByAgent"] == "alice"
    assert record["lastAccessedByAgent"] == "carol"
    assert record["accessCount"] == 2  # kept by an overwrite
    assert record["createdAt"] == created["createdAt"]
    assert parse_time(record["updatedAt"]) > parse_time(created["updatedAt"])
    assert record["metadata"] == {"m": 1}
    assert record["version"] == 2
    assert record["value"] == 2
    bob.ok("get_many", {"keys": ["k"]})
    assert alice.record("k")["lastAccessedByAgent"] == "bob"
    carol.ok("list_keys", {"include_values": True})
    assert alice.record("k")["lastAccessedByAgent"] == "carol"


def test_track_access_false_does_not_touch_last_accessed(new_api):
    user = f"acc-{uuid.uuid4().hex}"
    alice, bob = new_api(user, "alice"), new_api(user, "bob")
    alice.ok("set", {"key": "k", "value": 1})
    bob.ok("get", {"key": "k", "track_access": False})
    bob.ok("get_many", {"keys": ["k"], "track_access": False})
    record = alice.record("k")
    assert record["lastAccessedByAgent"] == "alice" and record["accessCount"] == 0


def test_default_identity_is_local_and_api(new_api):
    anonymous = new_api(None, None)
    namespace = f"acc-{uuid.uuid4().hex}"
    anonymous.ok("set", {"namespace": namespace, "key": "k", "value": 1})
    record = anonymous.record("k", namespace)
    assert record["userId"] == "local"
    assert record["createdByAgent"] == "api"
    local = new_api("local", None)
    assert local.ok("get", {"namespace": namespace, "key": "k"}) == {"found": True, "value": 1}
    anonymous.ok("clear", {"namespace": namespace})


def test_metadata_merge_rules(api):
    api.ok("set", {"key": "k", "value": 1, "metadata": {"a": 1, "b": None, "c": {"x": 1}}})
    assert api.record("k")["metadata"] == {"a": 1, "c": {"x": 1}}  # nulls dropped on create
    api.ok("set", {"key": "k", "value": 2})
    assert api.record("k")["metadata"] == {"a": 1, "c": {"x": 1}}  # no metadata: kept
    api.ok("set", {"key": "k", "value": 3, "metadata": {}})
    assert api.record("k")["metadata"] == {"a": 1, "c": {"x": 1}}  # empty: nothing to merge
    api.ok("set", {"key": "k", "value": 4, "metadata": {"a": None, "c": {"y": 2}, "d": "new"}})
    assert api.record("k")["metadata"] == {"c": {"y": 2}, "d": "new"}  # top-level merge, null removes
    api.ok("set", {"key": "k", "value": 5, "metadata": None})
    assert api.record("k")["metadata"] == {"c": {"y": 2}, "d": "new"}  # null metadata counts as absent
    api.ok("set", {"key": "k", "value": 6, "metadata": {"absent": None}})
    assert api.record("k")["metadata"] == {"c": {"y": 2}, "d": "new"}


def test_metadata_defaults_to_empty_object(api):
    api.ok("set", {"key": "k", "value": 1, "metadata": {"only": None}})
    assert api.record("k")["metadata"] == {}


def test_expires_at_follows_each_write(api):
    api.ok("set", {"key": "k", "value": 1, "ttl_seconds": 3600})
    record = api.record("k")
    expires = parse_time(record["expiresAt"])
    delta = expires - parse_time(record["updatedAt"])
    assert timedelta(seconds=3599) <= delta <= timedelta(seconds=3601)
    api.ok("set", {"key": "k", "value": 2})
    assert api.record("k")["expiresAt"] is None  # none asked: no expiry
    api.ok("set", {"key": "k", "value": 3, "ttl_seconds": 60, "metadata": {"m": 1}})
    record = api.record("k")
    delta = parse_time(record["expiresAt"]) - parse_time(record["updatedAt"])
    assert timedelta(seconds=59) <= delta <= timedelta(seconds=61)
    api.ok("set", {"key": "k", "value": 4, "ttl_seconds": None})
    assert api.record("k")["expiresAt"] is None


def test_delete(api):
    api.ok("set", {"key": "k", "value": 1})
    assert api.ok("delete", {"key": "k"}) == {"deleted": True}
    assert api.ok("get", {"key": "k"}) == {"found": False}
    assert api.ok("delete", {"key": "k"}) == {"deleted": False}
    assert api.ok("delete", {"namespace": "never", "key": "k"}) == {"deleted": False}
    assert api.ok("set", {"key": "k", "value": 2}) == {"version": 1, "created": True}
    record = api.record("k")
    assert record["accessCount"] == 0 and record["version"] == 1


def test_delete_only_touches_its_key(api):
    api.ok("set_many", {"items": {"a": 1, "b": 2}})
    api.ok("set", {"namespace": "x", "key": "a", "value": 3})
    api.ok("delete", {"key": "a"})
    assert api.ok("list_keys", {})["keys"] == ["b"]
    assert api.ok("get", {"namespace": "x", "key": "a"})["value"] == 3


def test_clear(api):
    api.ok("set_many", {"namespace": "c", "items": {f"k{i}": i for i in range(25)}})
    api.ok("set", {"namespace": "keep", "key": "k", "value": 1})
    api.ok("set", {"key": "k", "value": 1})
    assert api.ok("clear", {"namespace": "c"}) == {"deleted": 25}
    assert api.ok("clear", {"namespace": "c"}) == {"deleted": 0}
    assert api.ok("list_keys", {"namespace": "c"}) == {"keys": [], "next_cursor": None}
    assert api.ok("get", {"namespace": "c", "key": "k1"}) == {"found": False}
    assert api.ok("list_namespaces", {}) == {"namespaces": ["default", "keep"]}
    assert api.ok("get", {"namespace": "keep", "key": "k"})["value"] == 1
    assert api.ok("clear", {"namespace": "never-used"}) == {"deleted": 0}


def test_clear_defaults_to_default_namespace(api):
    api.ok("set", {"key": "k", "value": 1})
    api.ok("set", {"namespace": "other", "key": "k", "value": 1})
    assert api.ok("clear", {}) == {"deleted": 1}
    assert api.ok("list_namespaces", {}) == {"namespaces": ["other"]}


def test_clear_then_write_again(api):
    api.ok("set", {"namespace": "c", "key": "k", "value": 1})
    api.ok("set", {"namespace": "c", "key": "k", "value": 2})
    api.ok("clear", {"namespace": "c"})
    assert api.ok("set", {"namespace": "c", "key": "k", "value": 3}) == {"version": 1, "created": True}
    assert api.ok("list_namespaces", {}) == {"namespaces": ["c"]}


def test_list_namespaces_sorted_by_bytes_with_prefix(api):
    names = ["b", "a", "B", "files:my-org/my-repo", "files:other", "é", "\uff5e", "😀", "a b"]
    for name in names:
        api.ok("set", {"namespace": name, "key": "k", "value": 1})
    expected = sorted(names, key=lambda n: n.encode("utf-8"))
    assert api.ok("list_namespaces", {}) == {"namespaces": expected}
    assert api.ok("list_namespaces", {"prefix": "files:"}) == {"namespaces": ["files:my-org/my-repo", "files:other"]}
    assert api.ok("list_namespaces", {"prefix": "a"}) == {"namespaces": ["a", "a b"]}
    assert api.ok("list_namespaces", {"prefix": "zzz"}) == {"namespaces": []}
    assert api.ok("list_namespaces", {"prefix": None}) == {"namespaces": expected}
    assert api.ok("list_namespaces", {"prefix": ""}) == {"namespaces": expected}


def test_emptied_namespace_disappears(api):
    api.ok("set", {"namespace": "one", "key": "a", "value": 1})
    api.ok("set", {"namespace": "one", "key": "b", "value": 1})
    api.ok("set", {"namespace": "two", "key": "a", "value": 1})
    api.ok("delete", {"namespace": "one", "key": "a"})
    assert api.ok("list_namespaces", {})["namespaces"] == ["one", "two"]
    api.ok("delete", {"namespace": "one", "key": "b"})
    assert api.ok("list_namespaces", {})["namespaces"] == ["two"]
    assert api.ok("stats", {})["namespaces"][0]["namespace"] == "two"
    assert api.ok("stats", {"namespace": "one"}) == {"namespaces": []}
    api.ok("set", {"namespace": "one", "key": "c", "value": 1})
    assert api.ok("list_namespaces", {})["namespaces"] == ["one", "two"]


def test_list_namespaces_for_new_user_is_empty(api):
    assert api.ok("list_namespaces", {}) == {"namespaces": []}
    assert api.ok("stats", {}) == {"namespaces": []}


def test_stats_counts_keys_bytes_and_latest_write(api):
    a_value, a_meta = {"text": "héllo", "n": [1, 2.5]}, {"tag": "t"}
    api.ok("set", {"namespace": "s1", "key": "a", "value": a_value, "metadata": a_meta})
    api.ok("set", {"namespace": "s1", "key": "b", "value": "xyz"})
    api.ok("set", {"namespace": "s2", "key": "a", "value": 12345})
    stats = api.ok("stats", {})
    assert [row["namespace"] for row in stats["namespaces"]] == ["s1", "s2"]
    s1, s2 = stats["namespaces"]
    assert set(s1) == {"namespace", "keys", "bytes", "updatedAt"}
    assert s1["keys"] == 2 and s2["keys"] == 1
    assert s1["bytes"] == len(compact(a_value)) + len(compact(a_meta)) + len(compact("xyz")) + len(compact({}))
    assert s2["bytes"] == len(compact(12345)) + len(compact({}))
    latest = api.record("b", "s1")["updatedAt"]
    assert s1["updatedAt"] == latest
    assert api.ok("stats", {"namespace": "s2"}) == {"namespaces": [s2]}
    assert api.ok("stats", {"namespace": "nothing"}) == {"namespaces": []}
    assert api.ok("stats", {"namespace": None})["namespaces"] == [s1, s2]


def test_stats_follows_overwrites_increments_and_deletes(api):
    api.ok("set", {"namespace": "s", "key": "a", "value": "x" * 100})
    api.ok("set", {"namespace": "s", "key": "a", "value": "x"})
    row = api.ok("stats", {"namespace": "s"})["namespaces"][0]
    assert row["keys"] == 1 and row["bytes"] == len(compact("x")) + 2
    api.ok("increment", {"namespace": "s", "key": "n", "by": 5})
    row = api.ok("stats", {"namespace": "s"})["namespaces"][0]
    assert row["keys"] == 2 and row["bytes"] == len(compact("x")) + 2 + len(compact(5)) + 2
    assert row["updatedAt"] == api.record("n", "s")["updatedAt"]
    api.ok("delete", {"namespace": "s", "key": "a"})
    row = api.ok("stats", {"namespace": "s"})["namespaces"][0]
    assert row["keys"] == 1 and row["bytes"] == len(compact(5)) + 2


def test_increment(api):
    assert api.ok("increment", {"key": "n"}) == {"value": 1, "version": 1}
    assert api.ok("increment", {"key": "n"}) == {"value": 2, "version": 2}
    assert api.ok("increment", {"key": "n", "by": 40}) == {"value": 42, "version": 3}
    assert api.ok("increment", {"key": "n", "by": -50}) == {"value": -8, "version": 4}
    assert api.ok("increment", {"key": "n", "by": None}) == {"value": -7, "version": 5}
    assert api.ok("get", {"key": "n"}) == {"found": True, "value": -7}
    assert api.ok("increment", {"namespace": "other", "key": "n", "by": 0}) == {"value": 0, "version": 1}


def test_increment_integer_and_float(api):
    answer = api.ok("increment", {"key": "i", "by": 3})
    assert answer["value"] == 3 and type(answer["value"]) is int
    answer = api.ok("increment", {"key": "f", "by": 0.5})
    assert answer["value"] == 0.5
    answer = api.ok("increment", {"key": "f", "by": 0.25})
    assert answer["value"] == 0.75
    answer = api.ok("increment", {"key": "i", "by": 0.5})
    assert answer["value"] == 3.5 and type(answer["value"]) is float
    api.ok("set", {"key": "g", "value": 1.5})
    assert api.ok("increment", {"key": "g", "by": 2})["value"] == 3.5
    api.ok("set", {"key": "big", "value": 2**53 - 1})
    answer = api.ok("increment", {"key": "big"})
    assert answer["value"] == 2**53 and type(answer["value"]) is int
    assert api.ok("get", {"key": "big"})["value"] == 2**53


def test_increment_is_a_write(new_api):
    user = f"acc-{uuid.uuid4().hex}"
    alice, bob = new_api(user, "alice"), new_api(user, "bob")
    alice.ok("set", {"key": "n", "value": 10, "metadata": {"m": 1}})
    alice.ok("get", {"key": "n"})
    before = alice.record("n")
    time.sleep(0.01)
    assert bob.ok("increment", {"key": "n", "by": 5}) == {"value": 15, "version": 2}
    after = alice.record("n")
    assert after["value"] == 15 and after["version"] == 2
    assert after["metadata"] == {"m": 1}
    assert after["createdAt"] == before["createdAt"] and after["createdByAgent"] == "alice"
    assert after["accessCount"] == 1
    assert after["lastAccessedByAgent"] == "bob"
    assert parse_time(after["updatedAt"]) > parse_time(before["updatedAt"])
    created = bob.ok("increment", {"key": "fresh"})
    assert created == {"value": 1, "version": 1}
    record = alice.record("fresh")
    assert record["createdByAgent"] == "bob" and record["metadata"] == {} and record["accessCount"] == 0


def test_increment_ttl(api):
    api.ok("increment", {"key": "n", "ttl_seconds": 100})
    record = api.record("n")
    delta = parse_time(record["expiresAt"]) - parse_time(record["updatedAt"])
    assert timedelta(seconds=99) <= delta <= timedelta(seconds=101)
    api.ok("increment", {"key": "n"})
    assert api.record("n")["expiresAt"] is None  # a write without ttl_seconds: no expiry


@pytest.mark.parametrize("value", ["1", [1], {"n": 1}, True, None, "", False])
def test_increment_non_number_is_not_a_number(api, value):
    api.ok("set", {"key": "k", "value": value, "metadata": {"m": 1}})
    error = api.err("increment", {"key": "k"}, 409, "not_a_number")
    assert error["message"]
    record = api.record("k")
    assert record["value"] == value and record["version"] == 1


@pytest.mark.parametrize("by", ["1", True, [1], {"n": 1}])
def test_increment_by_must_be_a_number(api, by):
    api.err("increment", {"key": "k", "by": by}, 400, "invalid_request")
    assert api.ok("get", {"key": "k"}) == {"found": False}


def test_increment_overflow_is_invalid_value(api):
    api.ok("set", {"key": "k", "value": 1.7e308})
    api.err("increment", {"key": "k", "by": 1.7e308}, 400, "invalid_value")
    assert api.record("k")["value"] == 1.7e308
    assert api.record("k")["version"] == 1


def test_concurrent_increments_on_missing_key(api):
    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(lambda _: api.ok("increment", {"key": "c"}), range(16)))
    assert sorted(r["value"] for r in results) == list(range(1, 17))
    assert api.ok("get", {"key": "c"})["value"] == 16
    assert api.record("c")["version"] == 16


def test_concurrent_overwrites_and_reads_keep_accounting(new_api):
    writer = new_api(agent="w")
    writer.ok("set", {"key": "k", "value": 0, "metadata": {"keep": 1}})

    def work(i):
        if i % 2:
            writer.ok("set", {"key": "k", "value": i, "metadata": {f"m{i}": i}})
        else:
            writer.ok("get", {"key": "k"})

    with ThreadPoolExecutor(10) as pool:
        list(pool.map(work, range(60)))
    record = writer.record("k")
    assert record["version"] == 31
    assert record["metadata"] == {"keep": 1, **{f"m{i}": i for i in range(1, 60, 2)}}
    assert record["accessCount"] == 30


def test_concurrent_increments_and_reads_keep_accounting(new_api):
    api = new_api()
    api.ok("set", {"key": "k", "value": 0})

    def work(i):
        api.ok("increment" if i % 2 else "get", {"key": "k"})

    with ThreadPoolExecutor(10) as pool:
        list(pool.map(work, range(60)))
    record = api.record("k")
    assert record["value"] == 30 and record["version"] == 31
    assert record["accessCount"] == 30


def test_concurrent_overwrites_merge_all_metadata(api):
    api.ok("set", {"key": "k", "value": 0, "metadata": {"keep": 1}})
    with ThreadPoolExecutor(10) as pool:
        list(pool.map(lambda i: api.ok("set", {"key": "k", "value": i, "metadata": {f"m{i}": i}}), range(20)))
    record = api.record("k")
    assert record["version"] == 21
    assert record["metadata"] == {"keep": 1, **{f"m{i}": i for i in range(20)}}


def test_users_are_isolated(new_api):
    alice, mallory = new_api(), new_api()
    alice.ok("set", {"namespace": "ns", "key": "secret", "value": "alice's"})
    assert mallory.ok("get", {"namespace": "ns", "key": "secret"}) == {"found": False}
    assert mallory.ok("get_many", {"namespace": "ns", "keys": ["secret"]})["missing"] == ["secret"]
    assert mallory.ok("list_keys", {"namespace": "ns"}) == {"keys": [], "next_cursor": None}
    assert mallory.ok("list_namespaces", {}) == {"namespaces": []}
    assert mallory.ok("stats", {}) == {"namespaces": []}
    assert mallory.ok("delete", {"namespace": "ns", "key": "secret"}) == {"deleted": False}
    assert mallory.ok("clear", {"namespace": "ns"}) == {"deleted": 0}
    assert mallory.ok("set", {"namespace": "ns", "key": "secret", "value": "mine"}) == {"version": 1, "created": True}
    assert mallory.ok("increment", {"namespace": "ns", "key": "n"}) == {"value": 1, "version": 1}
    assert alice.ok("get", {"namespace": "ns", "key": "secret"}) == {"found": True, "value": "alice's"}
    assert alice.record("secret", "ns")["version"] == 1
    assert alice.ok("list_keys", {"namespace": "ns"})["keys"] == ["secret"]


def test_separator_characters_in_user_and_namespace_do_not_collide(new_api):
    base = f"acc-{uuid.uuid4().hex}"
    first, second = new_api(f"{base}:b"), new_api(base)
    first.ok("set", {"namespace": "c", "key": "k", "value": "first"})
    assert second.ok("get", {"namespace": "b:c", "key": "k"}) == {"found": False}
    second.ok("set", {"namespace": "b:c", "key": "k", "value": "second"})
    assert first.ok("get", {"namespace": "c", "key": "k"})["value"] == "first"
    assert second.ok("list_namespaces", {}) == {"namespaces": ["b:c"]}
    assert first.ok("list_namespaces", {}) == {"namespaces": ["c"]}
    api = first
    api.ok("set", {"namespace": "a", "key": "b:c", "value": 1})
    api.ok("set", {"namespace": "a:b", "key": "c", "value": 2})
    assert api.ok("list_keys", {"namespace": "a"})["keys"] == ["b:c"]
    assert api.ok("list_keys", {"namespace": "a:b"})["keys"] == ["c"]
    assert api.ok("clear", {"namespace": "a"}) == {"deleted": 1}
    assert api.ok("get", {"namespace": "a:b", "key": "c"})["value"] == 2


def test_user_prefix_does_not_leak(new_api):
    base = f"acc-{uuid.uuid4().hex}"
    short, longer = new_api(base), new_api(base + "x")
    longer.ok("set", {"key": "k", "value": 1})
    assert short.ok("list_namespaces", {}) == {"namespaces": []}
    assert short.ok("list_keys", {}) == {"keys": [], "next_cursor": None}
    assert short.ok("stats", {}) == {"namespaces": []}


def test_get_without_include_record_has_no_record(api):
    api.ok("set", {"key": "k", "value": 1})
    assert api.ok("get", {"key": "k", "include_record": False}) == {"found": True, "value": 1}


def test_updated_at_is_monotonic_over_quick_rewrites(api):
    stamps = []
    for i in range(15):
        api.ok("set", {"key": "k", "value": i})
        record = api.record("k")
        assert parse_time(record["createdAt"]) <= parse_time(record["updatedAt"])
        stamps.append(parse_time(record["updatedAt"]))
    assert stamps == sorted(stamps)


def test_stats_updated_at_is_not_moved_by_deletes(api, backend):
    api.ok("set", {"namespace": "s", "key": "a", "value": 1})
    time.sleep(0.01)
    api.ok("set_many", {"namespace": "s", "items": {"b": 2}})
    newest = api.record("b", "s")["updatedAt"]
    assert api.ok("stats", {"namespace": "s"})["namespaces"][0]["updatedAt"] == newest
    api.ok("delete", {"namespace": "s", "key": "b"})
    row = api.ok("stats", {"namespace": "s"})["namespaces"][0]
    if backend == "couchdb":  # docs/contract-notes.md: CouchDB derives it from the live records
        assert row["updatedAt"] in (newest, api.record("a", "s")["updatedAt"])
    else:
        assert row["updatedAt"] == newest


def test_get_many_lists_in_request_order(api):
    api.ok("set_many", {"items": {"a": 1, "b": 2, "c": 3}})
    answer = api.ok("get_many", {"keys": ["c", "x", "a", "c", "y", "b", "x"]})
    assert list(answer["values"]) == ["c", "a", "b"]
    assert answer["missing"] == ["x", "y"]


ODD_MEMBERS = {"": 1, ".": 2, "a.b": 3, "__name__": 4, "`x`": 5, "$": 6, "a/b": 7, "*": 8, "_id": 9, "_rev": 10}


def test_odd_object_member_names_round_trip(api):
    value = {**ODD_MEMBERS, "nested": dict(ODD_MEMBERS), "list": [dict(ODD_MEMBERS)]}
    api.ok("set", {"key": "k", "value": value, "metadata": dict(ODD_MEMBERS)})
    assert api.ok("get", {"key": "k"})["value"] == value
    assert api.record("k")["metadata"] == ODD_MEMBERS
    api.ok("set", {"key": "k", "value": 1, "metadata": {"a.b": None, "": None, "_id": "new", "__name__": None}})
    expected = {k: v for k, v in ODD_MEMBERS.items() if k not in ("a.b", "", "__name__")} | {"_id": "new"}
    assert api.record("k")["metadata"] == expected
    api.ok("set_many", {"items": {"m": value}, "metadata": {"_rev": 1, ".": None}})
    assert api.record("m")["metadata"] == {"_rev": 1}
    assert api.ok("get_many", {"keys": ["m"]})["values"]["m"] == value


def test_odd_keys_do_not_clash_with_backend_internals(api):
    keys = ["_id", "_rev", "_design/x", "__name__", "_all_docs", "_local/x", ".", "..", "__.*__", "registry", "meta"]
    api.ok("set_many", {"items": {k: k for k in keys}})
    api.ok("set_many", {"namespace": "_design", "items": {k: k for k in keys}})
    assert api.ok("list_keys", {})["keys"] == sorted(keys, key=str.encode)
    assert api.ok("get_many", {"keys": keys})["values"] == {k: k for k in keys}
    assert api.ok("list_namespaces", {}) == {"namespaces": ["_design", "default"]}
    assert api.ok("stats", {"namespace": "_design"})["namespaces"][0]["keys"] == len(keys)
    assert api.ok("clear", {"namespace": "_design"}) == {"deleted": len(keys)}
