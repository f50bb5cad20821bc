"""get_many, set_many and increment (API.md section 4)."""

from __future__ import annotations

import pytest

from agent_datastore.core import errors


def test_get_many(ds):
    ds("set_many", items={"a": 1, "b": None, "c": {"x": [1]}})
    result = ds("get_many", keys=["a", "b", "zz", "c", "a"])
    assert result == {"values": {"a": 1, "b": None, "c": {"x": [1]}}, "missing": ["zz"], "unprocessed": []}


def test_get_many_counts_each_returned_record_once(ds):
    ds("set_many", items={"a": 1, "b": 2})
    ds.as_agent("bulk")("get_many", keys=["a", "a", "b"])
    record = ds("get", key="a", include_record=True, track_access=False)["record"]
    assert record["accessCount"] == 1 and record["lastAccessedByAgent"] == "bulk"
    ds("get_many", keys=["a"], track_access=False)
    assert ds("get", key="a", include_record=True, track_access=False)["record"]["accessCount"] == 1


def test_get_many_of_nothing(ds):
    assert ds("get_many", keys=[]) == {"values": {}, "missing": [], "unprocessed": []}


def test_get_many_limits(ds):
    with pytest.raises(errors.TooManyKeys):
        ds("get_many", keys=[f"k{i}" for i in range(101)])
    with pytest.raises(errors.TooManyKeys):
        ds("get_many", keys=["same"] * 101)
    with pytest.raises(errors.InvalidKey):
        ds("get_many", keys=["ok", ""])
    ds("get_many", keys=[f"k{i}" for i in range(100)])


def test_set_many(ds, user_id):
    ds("set", key="a", value=0)
    result = ds("set_many", items={"a": 1, "b": 2}, metadata={"batch": 1}, ttl_seconds=60)
    assert result == {"written": 2, "versions": {"a": 2, "b": 1}}
    record = ds("get", key="b", include_record=True)["record"]
    assert record["metadata"] == {"batch": 1} and record["expiresAt"] is not None


def test_set_many_validates_everything_before_writing(ds):
    with pytest.raises(errors.InvalidKey):
        ds("set_many", items={"good": 1, "": 2})
    with pytest.raises(errors.ValueTooLarge):
        ds("set_many", items={"good": 1, "big": "x" * (1024 * 1024)})
    with pytest.raises(errors.TooManyKeys):
        ds("set_many", items={f"k{i}": i for i in range(101)})
    assert ds("list_keys")["keys"] == []


def test_set_many_metadata_over_limit_after_merge_writes_nothing(ds):
    ds("set", key="a", value=1, metadata={"big": "x" * 9000})
    with pytest.raises(errors.ValueTooLarge):
        ds("set_many", items={"fresh": 1, "a": 2}, metadata={"more": "y" * 9000})
    assert ds("get", key="a")["value"] == 1
    assert ds("get", key="fresh") == {"found": False}


def test_increment_creates_and_adds(ds):
    assert ds("increment", key="n") == {"value": 1, "version": 1}
    assert ds("increment", key="n", by=5) == {"value": 6, "version": 2}
    assert ds("increment", key="n", by=-10) == {"value": -4, "version": 3}
    assert ds("increment", key="n", by=0.5) == {"value": -3.5, "version": 4}
    assert ds("get", key="n")["value"] == -3.5


def test_increment_keeps_creation_fields_and_metadata(ds):
    ds("set", key="n", value=10, metadata={"unit": "calls"})
    ds.as_agent("counter")("increment", key="n")
    record = ds("get", key="n", include_record=True, track_access=False)["record"]
    assert record["value"] == 11
    assert record["metadata"] == {"unit": "calls"}
    assert record["createdByAgent"] == "agent-a"
    assert record["lastAccessedByAgent"] == "counter"


@pytest.mark.parametrize("value", ["7", None, True, [1], {"n": 1}])
def test_increment_of_a_non_number(ds, value):
    ds("set", key="n", value=value)
    with pytest.raises(errors.NotANumber):
        ds("increment", key="n")
    assert ds("get", key="n")["value"] == value


def test_increment_overflow_is_invalid_value(ds):
    ds("set", key="n", value=1.7e308)
    with pytest.raises(errors.InvalidValue):
        ds("increment", key="n", by=1.7e308)
    assert ds("get", key="n")["value"] == 1.7e308


def test_integer_increment_past_the_largest_double_is_invalid_value(ds):
    ds("set", key="n", value=int(1.7e308))
    with pytest.raises(errors.InvalidValue):
        ds("increment", key="n", by=int(1.7e308))
    assert ds("get", key="n")["value"] == int(1.7e308)


def test_large_integers_increment_exactly(ds):
    ds("set", key="n", value=2**53 - 1)
    assert ds("increment", key="n")["value"] == 2**53
