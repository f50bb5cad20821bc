"""The pure record rules and cursor encoding."""

from __future__ import annotations

import pytest

from agent_datastore.core import cursor, errors
from agent_datastore.core.records import Record, Scope, Write, apply_read, apply_write, format_ts, parse_ts

SCOPE = Scope("u", "ns")


def test_timestamps_are_rfc3339_utc_with_milliseconds():
    assert format_ts(0) == "1970-01-01T00:00:00.000Z"
    assert format_ts(1_796_040_000_007) == "2026-11-30T12:00:00.007Z"
    assert parse_ts("2026-11-30T12:00:00.007Z") == 1_796_040_000_007
    assert parse_ts("2026-11-30T12:00:00.007") == 1_796_040_000_007  # no zone: UTC
    assert format_ts(None) is None


def test_create_then_overwrite():
    created = apply_write(SCOPE, "k", None, Write("1", "a", {"x": 1, "gone": None}, 500), 100)
    assert (created.version, created.created_at, created.metadata, created.expires_at) == (1, 100, {"x": 1}, 500)
    read = apply_read(created, "reader")
    updated = apply_write(SCOPE, "k", read, Write("2", "b", {"x": None, "y": 2}), 200)
    assert updated.version == 2 and updated.metadata == {"y": 2} and updated.expires_at is None
    assert (updated.created_at, updated.created_by_agent, updated.access_count) == (100, "a", 1)
    assert (updated.updated_at, updated.last_accessed_by_agent) == (200, "b")


def test_version_conflict_carries_the_current_version():
    record = Record("u", "ns", "k", "1", version=3)
    with pytest.raises(errors.VersionConflict) as caught:
        apply_write(SCOPE, "k", record, Write("2", "a", if_version=2), 1)
    assert caught.value.current_version == 3 and "version 3, not 2" in caught.value.message


def test_record_dict_round_trip():
    record = Record("u", "ns", "k", '{"b":1,"a":2}', {"m": 1}, "a", "b", 4, 1000, 2000, 2, 3000)
    assert Record.from_dict(record.to_dict()) == record


def test_cursor_is_bound_to_user_and_namespace():
    token = cursor.encode(b"secret", SCOPE, "key/é")
    assert cursor.decode(b"secret", SCOPE, token) == "key/é"
    for scope in (Scope("u", "other"), Scope("other", "ns")):
        with pytest.raises(errors.InvalidCursor):
            cursor.decode(b"secret", scope, token)
    with pytest.raises(errors.InvalidCursor):
        cursor.decode(b"other-secret", SCOPE, token)
    with pytest.raises(errors.InvalidCursor):
        cursor.decode(b"secret", SCOPE, "ü")


def test_stored_fields_round_trip():
    from agent_datastore.core.records import STORED_FIELDS, record_from_fields, stored_fields

    record = Record("u", "ns", "k", '{"b":1,"a":2}', {"m": [1]}, "a", "b", 4, 1000, 2000, 2, 3000)
    fields = stored_fields(record)
    assert tuple(fields) == STORED_FIELDS and fields["size"] == record.size
    assert record_from_fields(SCOPE, "k", record.value_json, fields) == record
