"""get_many and set_many."""

from __future__ import annotations

import pytest

from .conftest import KIB

DEEP: object = []
for _ in range(64):
    DEEP = [DEEP]


def test_get_many_values_missing_unprocessed(api):
    api.ok("set_many", {"items": {"a": 1, "b": None, "c": {"x": [1]}}})
    answer = api.ok("get_many", {"keys": ["c", "zz", "a", "b", "yy"]})
    assert answer == {"values": {"c": {"x": [1]}, "a": 1, "b": None}, "missing": ["zz", "yy"], "unprocessed": []}


def test_get_many_duplicates_are_read_once(api):
    api.ok("set", {"key": "a", "value": 1})
    answer = api.ok("get_many", {"keys": ["a", "x", "a", "x", "a"]})
    assert answer == {"values": {"a": 1}, "missing": ["x"], "unprocessed": []}
    assert api.record("a")["accessCount"] == 1


def test_get_many_empty_and_other_namespace(api):
    assert api.ok("get_many", {"keys": []}) == {"values": {}, "missing": [], "unprocessed": []}
    api.ok("set", {"namespace": "n", "key": "a", "value": 1})
    assert api.ok("get_many", {"keys": ["a"]}) == {"values": {}, "missing": ["a"], "unprocessed": []}
    assert api.ok("get_many", {"namespace": "n", "keys": ["a"]})["values"] == {"a": 1}


def test_get_many_counts_each_found_record_once(new_api):
    api = new_api(agent="writer")
    reader = new_api(api.user, "reader")
    api.ok("set_many", {"items": {"a": 1, "b": 2}})
    reader.ok("get_many", {"keys": ["a", "b", "c"]})
    for key in ("a", "b"):
        record = api.record(key)
        assert record["accessCount"] == 1 and record["lastAccessedByAgent"] == "reader"


def test_set_many_creates_and_overwrites(api):
    api.ok("set", {"key": "old", "value": 0, "metadata": {"keep": True}})
    api.ok("set", {"key": "old", "value": 0})
    answer = api.ok("set_many", {"items": {"old": 1, "new": 2}})
    assert answer == {"written": 2, "versions": {"old": 3, "new": 1}}
    assert api.ok("get_many", {"keys": ["old", "new"]})["values"] == {"old": 1, "new": 2}
    old = api.record("old")
    assert old["metadata"] == {"keep": True} and old["accessCount"] == 1
    assert old["createdAt"] <= old["updatedAt"]
    assert api.record("new")["createdByAgent"] == "acceptance"


def test_set_many_metadata_and_ttl_apply_to_every_item(api):
    api.ok("set", {"key": "a", "value": 0, "metadata": {"old": 1, "gone": 2}})
    api.ok("set_many", {"items": {"a": 1, "b": 2}, "metadata": {"tag": "t", "gone": None}, "ttl_seconds": 600})
    a, b = api.record("a"), api.record("b")
    assert a["metadata"] == {"old": 1, "tag": "t"}
    assert b["metadata"] == {"tag": "t"}
    assert a["expiresAt"] is not None and b["expiresAt"] is not None
    api.ok("set_many", {"items": {"a": 3}})
    a = api.record("a")
    assert a["expiresAt"] is None and a["metadata"] == {"old": 1, "tag": "t"}


def test_set_many_empty_items(api):
    assert api.ok("set_many", {"items": {}}) == {"written": 0, "versions": {}}
    assert api.ok("list_namespaces", {}) == {"namespaces": []}


@pytest.mark.parametrize(
    ("bad_items", "status", "code"),
    [
        ({"": 1}, 400, "invalid_key"),
        ({"x" * 1025: 1}, 400, "invalid_key"),
        ({"n\x00": 1}, 400, "invalid_key"),
        ({"deep": DEEP}, 400, "invalid_value"),
        ({"big": "x" * (1024 * KIB)}, 413, "value_too_large"),
    ],
    ids=["empty-key", "long-key", "nul-key", "too-deep", "too-big"],
)
def test_set_many_one_bad_item_writes_nothing(api, bad_items, status, code):
    api.ok("set", {"key": "existing", "value": "before"})
    items = {"existing": "after", "fresh": 1, **bad_items, "later": 2}
    api.err("set_many", {"items": items}, status, code)
    assert api.ok("get_many", {"keys": ["existing", "fresh", "later"], "track_access": False}) == {
        "values": {"existing": "before"},
        "missing": ["fresh", "later"],
        "unprocessed": [],
    }
    assert api.record("existing")["version"] == 1


def test_set_many_merged_metadata_too_large_writes_nothing(api):
    api.ok("set", {"key": "fat", "value": 0, "metadata": {"a": "x" * (10 * KIB)}})
    api.err(
        "set_many",
        {"items": {"thin": 1, "fat": 1, "other": 1}, "metadata": {"b": "y" * (7 * KIB)}},
        413,
        "value_too_large",
    )
    assert api.ok("get_many", {"keys": ["thin", "other"]})["missing"] == ["thin", "other"]
    record = api.record("fat")
    assert record["version"] == 1 and record["value"] == 0 and list(record["metadata"]) == ["a"]


def test_set_many_metadata_too_large_as_given(api):
    api.err("set_many", {"items": {"a": 1}, "metadata": {"m": "x" * (16 * KIB)}}, 413, "value_too_large")
    assert api.ok("get", {"key": "a"}) == {"found": False}


def test_set_many_versions_for_unicode_keys(api):
    items = {"a/b": 1, "c:d": 2, "e#f": 3, "100%": 4, "\U0001f600": 5, " ": 6}
    answer = api.ok("set_many", {"namespace": "files:org/repo", "items": items})
    assert answer == {"written": 6, "versions": {k: 1 for k in items}}
    assert api.ok("get_many", {"namespace": "files:org/repo", "keys": list(items)})["values"] == items
