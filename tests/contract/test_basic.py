"""get / set / delete and the record fields (API.md sections 2 and 4)."""

from __future__ import annotations

import re

import pytest

from agent_datastore.core import errors

TS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


def test_set_then_get_returns_the_value(ds):
    assert ds("set", key="my-key", value={"result": "some data"}) == {"version": 1, "created": True}
    assert ds("get", key="my-key") == {"found": True, "value": {"result": "some data"}}


def test_missing_key_is_not_found_not_an_error(ds):
    assert ds("get", key="nope") == {"found": False}


@pytest.mark.parametrize("value", [None, 0, "", False, [], {}, 0.5, -7, "text", [1, "two", None]])
def test_falsy_and_scalar_values_come_back_as_themselves(ds, value):
    ds("set", key="k", value=value)
    assert ds("get", key="k") == {"found": True, "value": value}


def test_numbers_round_trip_exactly(ds):
    value = {"max": 2**53, "neg": -(2**53), "pi": 3.141592653589793, "tiny": 5e-324, "big": 1.7976931348623157e308}
    ds("set", key="n", value=value)
    got = ds("get", key="n")["value"]
    assert got == value
    assert isinstance(got["max"], int) and isinstance(got["pi"], float)


def test_object_key_order_is_preserved(ds):
    value = {"z": 1, "a": 2, "m": {"y": 1, "b": 2}}
    ds("set", key="o", value=value)
    got = ds("get", key="o")["value"]
    assert list(got) == ["z", "a", "m"] and list(got["m"]) == ["y", "b"]


@pytest.mark.parametrize(
    "key",
    ["a/b/c", "a:b", "#hash", "100%", "with space", "emoji-😀", "ünïcödé", "a" * 1024, "é" * 512, "/", ":"],
)
def test_any_character_but_nul_is_a_valid_key(ds, key):
    ds("set", key=key, value=key)
    assert ds("get", key=key)["value"] == key
    assert key in ds("list_keys", prefix=key[:1])["keys"]


def test_record_fields_on_create(ds, user_id):
    ds("set", key="r", value=1)
    record = ds("get", key="r", include_record=True)["record"]
    assert record["userId"] == user_id
    assert record["namespace"] == "default"
    assert record["key"] == "r"
    assert record["value"] == 1
    assert record["metadata"] == {}
    assert record["createdByAgent"] == "agent-a"
    assert record["lastAccessedByAgent"] == "agent-a"
    assert record["accessCount"] == 1  # as it stands after this read
    assert record["version"] == 1
    assert record["expiresAt"] is None
    assert TS.match(record["createdAt"]) and record["createdAt"] == record["updatedAt"]


def test_overwrite_keeps_creation_fields_and_bumps_version(ds, clock):
    ds("set", key="r", value=1, metadata={"a": 1, "b": 2})
    ds("get", key="r")
    clock.advance(1.5)
    other = ds.as_agent("agent-b")
    assert other("set", key="r", value=2, metadata={"b": None, "c": 3}) == {"version": 2, "created": False}
    record = other("get", key="r", include_record=True, track_access=False)["record"]
    assert record["value"] == 2
    assert record["metadata"] == {"a": 1, "c": 3}
    assert record["createdByAgent"] == "agent-a"
    assert record["lastAccessedByAgent"] == "agent-b"
    assert record["accessCount"] == 1
    assert record["version"] == 2
    assert record["updatedAt"] > record["createdAt"]


def test_overwrite_without_metadata_keeps_it(ds):
    ds("set", key="r", value=1, metadata={"tag": "x"})
    ds("set", key="r", value=2)
    assert ds("get", key="r", include_record=True)["record"]["metadata"] == {"tag": "x"}


def test_null_metadata_members_are_dropped_on_create(ds):
    ds("set", key="r", value=1, metadata={"keep": 1, "drop": None})
    assert ds("get", key="r", include_record=True)["record"]["metadata"] == {"keep": 1}


def test_merged_metadata_over_16kib_is_refused_and_nothing_written(ds):
    ds("set", key="r", value="old", metadata={"a": "x" * 9000})
    with pytest.raises(errors.ValueTooLarge):
        ds("set", key="r", value="new", metadata={"b": "y" * 9000})
    record = ds("get", key="r", include_record=True, track_access=False)["record"]
    assert record["value"] == "old" and record["version"] == 1 and list(record["metadata"]) == ["a"]


def test_reads_count_and_track_the_reader(ds):
    ds("set", key="r", value=1)
    ds("get", key="r")
    ds.as_agent("reader-2")("get", key="r")
    record = ds("get", key="r", include_record=True, track_access=False)["record"]
    assert record["accessCount"] == 2
    assert record["lastAccessedByAgent"] == "reader-2"


def test_listing_and_stats_are_not_reads(ds):
    ds("set", key="r", value=1)
    ds("list_keys")
    ds("list_namespaces")
    ds("stats")
    assert ds("get", key="r", include_record=True)["record"]["accessCount"] == 1


def test_delete(ds):
    ds("set", key="d", value=1)
    assert ds("delete", key="d") == {"deleted": True}
    assert ds("get", key="d") == {"found": False}
    assert ds("delete", key="d") == {"deleted": False}


def test_recreated_key_starts_fresh(ds):
    ds("set", key="d", value=1)
    ds("set", key="d", value=2)
    ds("get", key="d")
    ds("delete", key="d")
    assert ds("set", key="d", value=3) == {"version": 1, "created": True}
    record = ds("get", key="d", include_record=True)["record"]
    assert record["accessCount"] == 1 and record["version"] == 1


def test_namespaces_are_separate(ds):
    ds("set", key="k", value="default")
    ds("set", namespace="api-cache", key="k", value="cache")
    assert ds("get", key="k")["value"] == "default"
    assert ds("get", namespace="api-cache", key="k")["value"] == "cache"
    ds("delete", namespace="api-cache", key="k")
    assert ds("get", key="k")["value"] == "default"


def test_users_never_see_each_other(ds):
    other = ds.as_agent("agent-x", user="someone-else-" + ds.identity.user_id)
    ds("set", namespace="shared", key="secret", value=1)
    assert other("get", namespace="shared", key="secret") == {"found": False}
    assert other("list_keys", namespace="shared")["keys"] == []
    assert other("list_namespaces")["namespaces"] == []
    assert other("delete", namespace="shared", key="secret") == {"deleted": False}
    assert other("clear", namespace="shared")["deleted"] == 0
    assert ds("get", namespace="shared", key="secret")["found"]


@pytest.mark.parametrize(
    ("user_a", "ns_a", "user_b", "ns_b"),
    [("a:b", "c", "a", "b:c"), ("a", "b/c", "a/b", "c"), ("a#b", "c", "a", "b#c"), ("x\u0001", "y", "x", "\u0001y")],
)
def test_layout_is_unambiguous(service, user_id, user_a, ns_a, user_b, ns_b):
    from agent_datastore.core.identity import Identity

    from .conftest import Client

    first = Client(service, Identity(user_id + user_a, "a"))
    second = Client(service, Identity(user_id + user_b, "b"))
    first("set", namespace=ns_a, key="k", value="first")
    assert second("get", namespace=ns_b, key="k") == {"found": False}
    second("set", namespace=ns_b, key="k", value="second")
    assert first("get", namespace=ns_a, key="k")["value"] == "first"
    assert first("list_namespaces")["namespaces"] == [ns_a]
    assert second("list_namespaces")["namespaces"] == [ns_b]
