"""if_version: optimistic concurrency on set and delete."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor


def conflict(api, operation, body, current):
    error = api.err(operation, body, 409, "version_conflict")
    assert error["details"]["current_version"] == current, error
    assert type(error["details"]["current_version"]) is int
    return error


def test_if_version_zero_creates_only_when_absent(api):
    assert api.ok("set", {"key": "k", "value": 1, "if_version": 0}) == {"version": 1, "created": True}
    conflict(api, "set", {"key": "k", "value": 2, "if_version": 0}, 1)
    assert api.ok("get", {"key": "k"})["value"] == 1


def test_if_version_match_writes(api):
    api.ok("set", {"key": "k", "value": 1, "metadata": {"a": 1}})
    assert api.ok("set", {"key": "k", "value": 2, "if_version": 1}) == {"version": 2, "created": False}
    assert api.ok("set", {"key": "k", "value": 3, "if_version": 2, "metadata": {"b": 2}}) == {
        "version": 3,
        "created": False,
    }
    record = api.record("k")
    assert record["value"] == 3 and record["metadata"] == {"a": 1, "b": 2}


def test_if_version_mismatch_changes_nothing(new_api):
    api = new_api(agent="first")
    api.ok("set", {"key": "k", "value": 1, "metadata": {"a": 1}, "ttl_seconds": 3600})
    api.ok("set", {"key": "k", "value": 2})
    before = api.record("k")
    other = new_api(api.user, "second")
    for wrong in (1, 3, 99):
        conflict(other, "set", {"key": "k", "value": 9, "if_version": wrong, "metadata": {"x": 1}}, 2)
        conflict(other, "delete", {"key": "k", "if_version": wrong}, 2)
    assert api.record("k") == before


def test_if_version_on_absent_key(api):
    conflict(api, "set", {"key": "k", "value": 1, "if_version": 1}, 0)
    conflict(api, "set", {"key": "k", "value": 1, "if_version": 5}, 0)
    conflict(api, "delete", {"key": "k", "if_version": 1}, 0)
    assert api.ok("get", {"key": "k"}) == {"found": False}
    assert api.ok("list_namespaces", {}) == {"namespaces": []}


def test_delete_if_version(api):
    api.ok("set", {"key": "k", "value": 1})
    api.ok("set", {"key": "k", "value": 2})
    conflict(api, "delete", {"key": "k", "if_version": 0}, 2)  # 0: only if absent
    assert api.ok("delete", {"key": "k", "if_version": 2}) == {"deleted": True}
    assert api.ok("get", {"key": "k"}) == {"found": False}
    assert api.ok("delete", {"key": "k", "if_version": 0}) == {"deleted": False}
    assert api.ok("delete", {"key": "never", "if_version": 0}) == {"deleted": False}


def test_version_conflict_error_body(api):
    api.ok("set", {"key": "a", "value": 1})
    api.ok("set", {"key": "a", "value": 1})
    api.ok("set", {"key": "a", "value": 1})
    error = conflict(api, "set", {"key": "a", "value": 2, "if_version": 2}, 3)
    assert error["details"] == {"current_version": 3}


def test_if_version_after_delete_starts_over(api):
    api.ok("set", {"key": "k", "value": 1})
    api.ok("set", {"key": "k", "value": 2})
    api.ok("delete", {"key": "k"})
    conflict(api, "set", {"key": "k", "value": 1, "if_version": 2}, 0)
    assert api.ok("set", {"key": "k", "value": 3, "if_version": 0}) == {"version": 1, "created": True}


def test_increment_bumps_the_version_if_version_sees(api):
    api.ok("increment", {"key": "n"})
    api.ok("increment", {"key": "n"})
    conflict(api, "set", {"key": "n", "value": 0, "if_version": 1}, 2)
    assert api.ok("set", {"key": "n", "value": 0, "if_version": 2}) == {"version": 3, "created": False}


def test_concurrent_if_version_writers_exactly_one_wins(api):
    api.ok("set", {"key": "k", "value": 0})

    def attempt(i):
        return api.call("set", {"key": "k", "value": i, "if_version": 1}).status_code

    with ThreadPoolExecutor(8) as pool:
        statuses = list(pool.map(attempt, range(1, 9)))
    assert sorted(statuses) == [200] + [409] * 7
    assert api.record("k")["version"] == 2


def test_concurrent_create_if_absent_exactly_one_wins(api):
    def attempt(i):
        return api.call("set", {"key": "new", "value": i, "if_version": 0}).status_code

    with ThreadPoolExecutor(8) as pool:
        statuses = list(pool.map(attempt, range(8)))
    assert sorted(statuses) == [200] + [409] * 7
    assert api.record("new")["version"] == 1
