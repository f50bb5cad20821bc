"""TTL: an expired record does not exist for any operation. One wait past expiry per backend.

The server's clock is the real one, so the timing is measured, never assumed: a record written
with `ttl_seconds=T` has expired once T seconds have passed since its write was acknowledged
(the server read its clock before answering), and it is still live at the end of the setup if
the first one written is. A machine too busy to finish the setup within T retries it with a
longer T, so a slow run waits longer instead of failing.
"""

from __future__ import annotations

import time
import uuid

import pytest

from .conftest import Api

TTLS = (2, 8, 30)  # seconds; the next one only when the setup took longer than the one before
SLACK = 0.05  # seconds past the computed expiry (the server keeps milliseconds)


def write_expiring(api: Api, ttl: int) -> float | None:
    """The records the tests look at once expired; the wall time by which every one of them has
    expired, or None when the first one expired before the last was written."""
    for key in ("gone", "for-set", "for-if-version", "for-delete", "for-delete-if", "for-increment", "for-meta"):
        api.ok("set", {"key": key, "value": key, "metadata": {"m": key}, "ttl_seconds": ttl})
    api.ok("get", {"key": "for-set"})
    api.ok("set", {"key": "live", "value": 1})
    api.ok("set", {"key": "rewritten", "value": 1, "ttl_seconds": ttl})
    api.ok("set", {"key": "rewritten", "value": 2})  # no ttl: no expiry
    api.ok("set", {"key": "incremented", "value": 1, "ttl_seconds": ttl})
    api.ok("increment", {"key": "incremented"})  # a write without ttl: no expiry
    api.ok("set_many", {"items": {"batch1": 1, "batch2": 2}, "ttl_seconds": ttl})
    api.ok("set_many", {"namespace": "only-expiring", "items": {"a": 1, "b": 2}, "ttl_seconds": ttl})
    api.ok("increment", {"namespace": "counter", "key": "c", "by": 5, "ttl_seconds": ttl})
    api.ok("set", {"namespace": "mixed", "key": "stays", "value": "s"})
    api.ok("set", {"namespace": "mixed", "key": "goes", "value": "g" * 100, "ttl_seconds": ttl})
    acknowledged = time.time()
    if not api.ok("get", {"key": "gone", "track_access": False})["found"]:
        return None
    return acknowledged + ttl


@pytest.fixture(scope="module")
def expired(server):
    """Records written with a short TTL (and a few rewritten without), then one wait past expiry."""
    for ttl in TTLS:
        api = Api(server.url, f"acc-ttl-{uuid.uuid4().hex}", "ttl")
        expiry = write_expiring(api, ttl)
        if expiry is not None:
            break
        api.close()
    else:
        pytest.fail(f"the setup never finished within a TTL of {TTLS[-1]} s")
    time.sleep(max(0.0, expiry + SLACK - time.time()))
    yield api
    api.close()


def test_expired_get(expired):
    assert expired.ok("get", {"key": "gone"}) == {"found": False}
    assert expired.ok("get", {"key": "gone", "include_record": True}) == {"found": False}


def test_expired_get_many(expired):
    answer = expired.ok("get_many", {"keys": ["gone", "batch1", "batch2", "live", "rewritten"]})
    assert answer == {"values": {"live": 1, "rewritten": 2}, "missing": ["gone", "batch1", "batch2"], "unprocessed": []}


def test_expired_list_keys(expired):
    assert expired.ok("list_keys", {"prefix": "batch"}) == {"keys": [], "next_cursor": None}
    assert expired.ok("list_keys", {"namespace": "mixed"})["keys"] == ["stays"]
    page = expired.ok("list_keys", {"namespace": "mixed", "include_values": True, "track_access": False})
    assert page["keys"] == ["stays"] and page["values"] == {"stays": "s"}
    keys, cursor = [], None
    while True:
        page = expired.ok("list_keys", {"limit": 2, "cursor": cursor})
        keys += page["keys"]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert "gone" not in keys and {"live", "rewritten", "incremented"} <= set(keys)


def test_expired_namespaces_disappear(expired):
    names = expired.ok("list_namespaces", {})["namespaces"]
    assert "only-expiring" not in names and "counter" not in names
    assert "default" in names and "mixed" in names
    assert expired.ok("stats", {"namespace": "only-expiring"}) == {"namespaces": []}
    assert expired.ok("stats", {"namespace": "counter"}) == {"namespaces": []}


def test_expired_records_leave_stats(expired):
    row = expired.ok("stats", {"namespace": "mixed"})["namespaces"][0]
    assert row["keys"] == 1
    assert row["bytes"] == len('"s"') + len("{}")


def test_rewrite_without_ttl_removed_expiry(expired):
    assert expired.ok("get", {"key": "rewritten"})["value"] == 2
    assert expired.record("rewritten")["expiresAt"] is None


def test_increment_without_ttl_removed_expiry(expired):
    assert expired.ok("get", {"key": "incremented"})["value"] == 2
    assert expired.record("incremented")["expiresAt"] is None


def test_set_after_expiry_creates_a_new_record(expired):
    assert expired.ok("set", {"key": "for-set", "value": "again"}) == {"version": 1, "created": True}
    record = expired.record("for-set")
    assert record["accessCount"] == 0 and record["version"] == 1 and record["createdByAgent"] == "ttl"
    assert record["metadata"] == {}  # the expired record's metadata is gone too


def test_if_version_after_expiry_sees_zero(expired):
    error = expired.err("set", {"key": "for-if-version", "value": 1, "if_version": 1}, 409, "version_conflict")
    assert error["details"]["current_version"] == 0
    assert expired.ok("set", {"key": "for-if-version", "value": 1, "if_version": 0}) == {"version": 1, "created": True}


def test_delete_after_expiry(expired):
    assert expired.ok("delete", {"key": "for-delete"}) == {"deleted": False}
    assert expired.ok("delete", {"key": "for-delete-if", "if_version": 0}) == {"deleted": False}


def test_increment_after_expiry_starts_over(expired):
    assert expired.ok("increment", {"key": "for-increment", "by": 3}) == {"value": 3, "version": 1}
    assert expired.ok("increment", {"namespace": "counter", "key": "c"}) == {"value": 1, "version": 1}


def test_set_many_after_expiry_creates(expired):
    answer = expired.ok("set_many", {"items": {"for-meta": 1}})
    assert answer == {"written": 1, "versions": {"for-meta": 1}}
    assert expired.record("for-meta")["metadata"] == {}


def test_clear_does_not_count_expired(expired):
    api = expired
    assert api.ok("clear", {"namespace": "only-expiring"}) == {"deleted": 0}
    assert api.ok("clear", {"namespace": "mixed"}) == {"deleted": 1}
