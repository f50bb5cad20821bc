"""list_keys include_records and refresh_ttl on reads (API.md sections 2 and 4), black-box over HTTP.

TTLs here are 600 s and expiry is never waited for: an asserted expiry is bracketed by this machine's
clock read around the request that set it (the server runs on the same machine), with slack.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest

from .conftest import MIB, parse_time

RECORD_MEMBERS = {
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
TTL = 600
SLACK = timedelta(seconds=5)


def moved_to(record, before, after, ttl=TTL):
    """Whether the record expires `ttl` seconds after an instant between `before` and `after`."""
    expires = parse_time(record["expiresAt"])
    return before - SLACK + timedelta(seconds=ttl) <= expires <= after + SLACK + timedelta(seconds=ttl)


def now():
    return datetime.now(UTC)


def test_include_records_carries_each_whole_record_and_counts_no_read(api):
    api.ok("set", {"key": "a", "value": {"n": [1, 2.5]}, "metadata": {"m": "x"}})
    api.ok("set", {"key": "b", "value": "bee", "ttl_seconds": TTL})
    api.ok("get", {"key": "a"})  # one read
    page = api.ok("list_keys", {"include_records": True})
    assert set(page) == {"keys", "next_cursor", "records"}
    assert page["keys"] == ["a", "b"] and page["next_cursor"] is None
    for key, record in page["records"].items():
        assert set(record) == RECORD_MEMBERS
        assert record == api.record(key)
    a, b = page["records"]["a"], page["records"]["b"]
    assert (a["value"], a["metadata"], a["accessCount"], a["userId"]) == ({"n": [1, 2.5]}, {"m": "x"}, 1, api.user)
    assert b["value"] == "bee" and b["expiresAt"] is not None
    api.ok("list_keys", {"include_records": True, "track_access": True})
    assert api.record("a")["accessCount"] == 1  # listing records is not a read


def test_with_include_values_too_only_records_are_carried(api):
    api.ok("set_many", {"items": {"x": 1, "y": [2]}})
    page = api.ok("list_keys", {"include_records": True, "include_values": True, "limit": 1})
    assert set(page) == {"keys", "next_cursor", "records"}
    assert page["keys"] == ["x"] and page["records"]["x"]["value"] == 1
    rest = api.ok("list_keys", {"include_records": True, "include_values": True, "cursor": page["next_cursor"]})
    assert rest["keys"] == ["y"] and rest["records"]["y"]["value"] == [2] and rest["next_cursor"] is None
    assert api.record("x")["accessCount"] == 0


def test_pages_of_large_records_stay_under_6_mib(api):
    value = "r" * (MIB - 2)
    keys = [f"big{i}" for i in range(7)]
    api.ok("set_many", {"items": {k: value for k in keys[:4]}, "metadata": {"pad": "p" * 8000}})
    api.ok("set_many", {"items": {k: value for k in keys[4:]}, "metadata": {"pad": "p" * 8000}})
    seen, cursor = [], None
    while True:
        body = {"include_records": True, **({"cursor": cursor} if cursor else {})}
        response = api.call("list_keys", body)
        assert response.status_code == 200 and len(response.content) <= 6 * MIB
        page = response.json()
        assert list(page["records"]) == page["keys"] and len(page["keys"]) <= 5
        assert all(record["value"] == value for record in page["records"].values())
        seen += page["keys"]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == keys


def test_refresh_ttl_moves_the_expiry_only(api):
    api.ok("set", {"key": "t", "value": 1, "metadata": {"m": 1}, "ttl_seconds": TTL})
    written = api.record("t")
    time.sleep(0.05)
    before = now()
    answer = api.ok("get", {"key": "t", "refresh_ttl": True, "include_record": True})
    after = now()
    record = answer["record"]
    assert moved_to(record, before, after)
    assert parse_time(record["expiresAt"]) > parse_time(written["expiresAt"])
    for member in ("version", "updatedAt", "createdAt", "value", "metadata"):
        assert record[member] == written[member], member
    assert record["accessCount"] == written["accessCount"] + 1
    assert api.record("t") == record


def test_refresh_ttl_leaves_a_record_without_ttl_alone_and_works_without_tracking(api):
    api.ok("set", {"key": "plain", "value": 1})
    api.ok("set", {"key": "t", "value": 2, "ttl_seconds": TTL})
    plain = api.record("plain")
    before = now()
    assert api.ok("get", {"key": "plain", "refresh_ttl": True, "track_access": False}) == {"found": True, "value": 1}
    assert api.ok("get", {"key": "t", "refresh_ttl": True, "track_access": False}) == {"found": True, "value": 2}
    after = now()
    assert api.record("plain") == plain and plain["expiresAt"] is None
    record = api.record("t")
    assert moved_to(record, before, after) and record["accessCount"] == 0
    assert api.ok("get", {"key": "absent", "refresh_ttl": True}) == {"found": False}


def test_refresh_ttl_on_get_many_and_on_listed_records(api):
    api.ok("set_many", {"items": {"a": 1, "b": 2}, "ttl_seconds": TTL})
    api.ok("set", {"key": "c", "value": 3})
    time.sleep(0.05)
    before = now()
    answer = api.ok("get_many", {"keys": ["a", "c", "zz"], "refresh_ttl": True})
    after = now()
    assert answer == {"values": {"a": 1, "c": 3}, "missing": ["zz"], "unprocessed": []}
    assert moved_to(api.record("a"), before, after) and api.record("c")["expiresAt"] is None
    b_before = api.record("b")
    time.sleep(0.05)
    before = now()
    page = api.ok("list_keys", {"include_records": True, "refresh_ttl": True})
    after = now()
    assert moved_to(page["records"]["b"], before, after)
    assert parse_time(page["records"]["b"]["expiresAt"]) > parse_time(b_before["expiresAt"])
    assert page["records"]["b"]["accessCount"] == 0 and api.record("b") == page["records"]["b"]


@pytest.mark.parametrize(
    ("operation", "body"),
    [
        ("get", {"key": "k", "refresh_ttl": "yes"}),
        ("get", {"key": "k", "refresh_ttl": 1}),
        ("get_many", {"keys": ["k"], "refresh_ttl": "true"}),
        ("list_keys", {"include_records": 1}),
        ("list_keys", {"include_records": "true"}),
        ("list_keys", {"include_records": True, "refresh_ttl": 0}),
        ("list_keys", {"include_record": True}),  # the member of get, not of list_keys
        ("get_many", {"keys": ["k"], "include_records": True}),
    ],
)
def test_wrong_member_types_and_misplaced_members_are_invalid_request(api, operation, body):
    api.err(operation, body, 400, "invalid_request")


def test_null_flags_count_as_absent(api):
    api.ok("set", {"key": "t", "value": 1, "ttl_seconds": TTL})
    written = api.record("t")
    assert api.ok("get", {"key": "t", "refresh_ttl": None, "track_access": False})["found"]
    assert api.ok("list_keys", {"include_records": None, "refresh_ttl": None}) == {"keys": ["t"], "next_cursor": None}
    assert api.record("t") == written
