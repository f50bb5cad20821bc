"""Expiry: an expired record does not exist for any operation (API.md section 2)."""

from __future__ import annotations

import pytest

from agent_datastore.core import errors
from agent_datastore.core.records import parse_ts


def test_record_expires_at_the_instant(ds, clock):
    ds("set", key="t", value=1, ttl_seconds=10)
    record = ds("get", key="t", include_record=True)["record"]
    assert parse_ts(record["expiresAt"]) - parse_ts(record["updatedAt"]) == 10_000
    clock.advance(9.9)
    assert ds("get", key="t")["found"]
    clock.advance(0.1)
    assert ds("get", key="t") == {"found": False}


def test_expired_record_is_gone_everywhere(ds, clock):
    ds("set", namespace="ttl", key="t", value=1, ttl_seconds=5)
    ds("set", namespace="ttl", key="keep", value=1)
    ds("set", namespace="gone", key="t", value=1, ttl_seconds=5)
    clock.advance(6)
    assert ds("list_keys", namespace="ttl")["keys"] == ["keep"]
    assert ds("get_many", namespace="ttl", keys=["t"]) == {"values": {}, "missing": ["t"], "unprocessed": []}
    assert ds("list_namespaces")["namespaces"] == ["ttl"]
    assert [row["namespace"] for row in ds("stats")["namespaces"]] == ["ttl"]
    assert ds("stats", namespace="ttl")["namespaces"][0]["keys"] == 1
    assert ds("delete", namespace="ttl", key="t") == {"deleted": False}
    with pytest.raises(errors.VersionConflict) as caught:
        ds("set", namespace="ttl", key="t", value=2, if_version=1)
    assert caught.value.details["current_version"] == 0


def test_write_after_expiry_creates_afresh(ds, clock):
    ds("set", key="t", value=1, ttl_seconds=5)
    ds("get", key="t")
    clock.advance(6)
    assert ds("set", key="t", value=2, if_version=0) == {"version": 1, "created": True}
    assert ds("get", key="t", include_record=True)["record"]["accessCount"] == 1


def test_increment_of_expired_key_starts_from_zero(ds, clock):
    ds("set", key="n", value=41, ttl_seconds=5)
    clock.advance(6)
    assert ds("increment", key="n") == {"value": 1, "version": 1}


def test_overwrite_without_ttl_removes_expiry(ds, clock):
    ds("set", key="t", value=1, ttl_seconds=5)
    ds("set", key="t", value=2)
    clock.advance(10)
    assert ds("get", key="t", include_record=True)["record"]["expiresAt"] is None


def test_clear_does_not_count_expired_keys(ds, clock):
    ds("set", key="a", value=1, ttl_seconds=5)
    ds("set", key="b", value=1)
    clock.advance(6)
    assert ds("clear")["deleted"] == 1
