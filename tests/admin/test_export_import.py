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


GOOD = {
    "userId": "u",
    "namespace": "n",
    "key": "k",
    "value": 1,
    "createdAt": "2026-11-30T12:00:00.000Z",
    "updatedAt": "2026-11-30T12:00:00.000Z",
}


def test_a_rejected_line_names_its_number_and_the_field_at_fault(target):
    def bad(**change: object) -> str:
        return json.dumps({name: value for name, value in {**GOOD, **change}.items() if value != "<absent>"})

    lines = [
        bad(createdAt="<absent>"),
        '{"userId": "u",',
        "[1, 2]",
        bad(version="2"),
        bad(key=7),
        bad(updatedAt="yesterday"),
        bad(accessCount=True),
        bad(metadata=[1]),
        bad(ttlSeconds=0),
        bad(key="ok"),
    ]
    result = operations.import_ndjson(target, io.StringIO("\n".join(lines) + "\n"))
    assert result.imported == 1
    assert result.errors == [
        "line 1: missing field 'createdAt'",
        "line 2: not JSON (Expecting property name enclosed in double quotes at column 16)",
        "line 3: a line must be a JSON object, not an array",
        "line 4: field 'version' must be an integer or null, not a string",
        "line 5: field 'key' must be a string, not an integer",
        "line 6: field 'updatedAt' is not an RFC 3339 timestamp: 'yesterday'",
        "line 7: field 'accessCount' must be an integer or null, not a boolean",
        "line 8: field 'metadata' must be an object or null, not an array",
        "line 9: ttlSeconds must be a positive integer, not 0",
    ]


def test_the_import_command_prints_the_rejected_line_and_field(tmp_path):
    import os
    import subprocess
    import sys

    dump = tmp_path / "dump.ndjson"
    dump.write_text(json.dumps({**GOOD, "createdAt": None}) + "\n" + json.dumps(GOOD) + "\n", encoding="utf-8")
    env = {**os.environ, "STORE_BACKEND": "sqlite", "SQLITE_PATH": str(tmp_path / "s.sqlite3")}
    run = subprocess.run(
        [sys.executable, "-m", "agent_datastore", "admin", "import", str(dump)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert run.returncode == 1, run.stderr
    assert "Traceback" not in run.stderr
    assert run.stdout.splitlines() == [
        "imported 1, unchanged 0, skipped 0",
        "rejected: line 1: field 'createdAt' must be a string, not null",
    ]
