"""export -> import gives identical records (every field), on another backend; re-import changes nothing."""

from __future__ import annotations

import io
import json
from dataclasses import replace

from agent_datastore.admin import ndjson, operations
from agent_datastore.core.records import Record, Scope

from .conftest import call, populate, snapshot

USERS = ["alice", "bob:x", "carol/ü"]


def test_export_then_import_into_another_backend_is_identical(source, target):
    populate(source, USERS)
    out = io.StringIO()
    result = operations.export(source, out)
    lines = out.getvalue().splitlines()
    assert result.records == len(lines) == 3 * 6
    fields = {"userId", "namespace", "key", "value", "metadata", "createdByAgent", "lastAccessedByAgent"}
    fields |= {"accessCount", "createdAt", "updatedAt", "version", "expiresAt"}
    # A record written with ttl_seconds also carries the TTL it keeps for refresh_ttl.
    rows = [json.loads(line) for line in lines]
    assert all(set(row) == fields | ({"ttlSeconds"} if row["expiresAt"] else set()) for row in rows)
    assert [row["ttlSeconds"] for row in rows if row["expiresAt"]] == [3600] * 3

    imported = operations.import_ndjson(target, io.StringIO(out.getvalue()))
    assert (imported.imported, imported.unchanged, imported.errors) == (18, 0, [])
    assert snapshot(target, USERS) == snapshot(source, USERS)  # Record equality: every field

    again = operations.import_ndjson(target, io.StringIO(out.getvalue()))
    assert (again.imported, again.unchanged) == (0, 18)
    assert snapshot(target, USERS) == snapshot(source, USERS)
    # The registry came along: stats equal on both sides.
    for user in USERS:
        assert target.stats(user, namespace=None, now=0) == source.stats(user, namespace=None, now=0)


def test_export_of_one_user_or_namespace(source):
    populate(source, USERS)
    out = io.StringIO()
    operations.export(source, out, user_id="bob:x", namespace="cache:github")
    records = [Record.from_dict(json.loads(line)) for line in out.getvalue().splitlines()]
    assert [(r.user_id, r.namespace, r.key) for r in records] == [
        ("bob:x", "cache:github", "%20 #"),
        ("bob:x", "cache:github", "a:b/c"),
        ("bob:x", "cache:github", "é😀"),
    ]


def test_export_resumes_after_the_last_complete_line(source, tmp_path):
    populate(source, USERS)
    full = io.StringIO()
    operations.export(source, full)
    expected = full.getvalue()
    # An export killed part-way: 7 complete lines and a torn eighth.
    path = tmp_path / "dump.ndjson"
    lines = expected.splitlines(keepends=True)
    path.write_text("".join(lines[:7]) + lines[7][:20], encoding="utf-8")
    after = ndjson.resume_file(str(path))
    assert after == tuple(json.loads(lines[6])[name] for name in ("userId", "namespace", "key"))
    with path.open("a", encoding="utf-8") as handle:
        result = operations.export(source, handle, after=after)
    assert result.records == len(lines) - 7
    assert path.read_text(encoding="utf-8") == expected


def test_import_reports_bad_lines_and_keeps_going(target):
    good = ndjson.record_line(
        Record("u", "n", "k", "1", {}, "a", "a", 0, 1_700_000_000_000, 1_700_000_000_000, 1, None)
    )
    result = operations.import_ndjson(target, io.StringIO('{"userId": "u"}\nnot json\n' + good))
    assert result.imported == 1 and len(result.errors) == 2
    assert result.errors[0].startswith("line 1") and result.errors[1].startswith("line 2")
    assert target.get(Scope("u", "n"), "k", reader=None, now=1_700_000_000_001) is not None


def test_import_replaces_a_newer_stored_record_verbatim(source, target):
    populate(source, ["alice"])
    out = io.StringIO()
    operations.export(source, out)
    operations.import_ndjson(target, io.StringIO(out.getvalue()))
    call(target, "alice", "other", "set", namespace="stats", key="runs", value="changed")
    result = operations.import_ndjson(target, io.StringIO(out.getvalue()))
    assert (result.imported, result.unchanged) == (1, 5)
    assert snapshot(target, ["alice"]) == snapshot(source, ["alice"])
    (runs,) = [r for r in target.scan("alice", "stats")]
    assert runs == replace(runs, value_json="3", version=1)
