"""list_keys, list_namespaces, clear and stats (API.md section 4)."""

from __future__ import annotations

import pytest

from agent_datastore.core import errors

# Code-point order would put U+FFFD before U+1F600; so does UTF-8 byte order.
KEYS = ["B", "a", "a/b", "a:b", "a%", "ab", "é", "\ufffd", "😀", "~", " "]


def byte_order(keys):
    return sorted(keys, key=lambda key: key.encode("utf-8"))


def test_keys_come_in_utf8_byte_order(ds):
    for key in KEYS:
        ds("set", key=key, value=1)
    assert ds("list_keys") == {"keys": byte_order(KEYS), "next_cursor": None}


def test_prefix_is_literal(ds):
    for key in ["a%b", "a%", "ab", "a_b", "a", "b"]:
        ds("set", key=key, value=1)
    assert ds("list_keys", prefix="a%")["keys"] == ["a%", "a%b"]
    assert ds("list_keys", prefix="a_")["keys"] == ["a_b"]
    assert ds("list_keys", prefix="zz")["keys"] == []


def test_pages_cover_every_key_exactly_once(ds):
    keys = [f"k{index:03d}" for index in range(23)]
    ds("set_many", items={key: index for index, key in enumerate(keys)})
    seen, cursor, pages = [], None, 0
    while True:
        page = ds("list_keys", limit=5, cursor=cursor)
        assert len(page["keys"]) <= 5
        seen += page["keys"]
        pages += 1
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == keys
    assert pages in (5, 6)


def test_full_page_then_null_cursor_when_exhausted(ds):
    ds("set_many", items={"a": 1, "b": 2})
    first = ds("list_keys", limit=2)
    assert first["keys"] == ["a", "b"]
    if first["next_cursor"] is not None:
        assert ds("list_keys", limit=2, cursor=first["next_cursor"]) == {"keys": [], "next_cursor": None}
    assert ds("list_keys", limit=3) == {"keys": ["a", "b"], "next_cursor": None}


def test_paging_with_prefix(ds):
    ds("set_many", items={f"p/{i}": i for i in range(5)} | {"q": 1, "o": 1})
    page = ds("list_keys", prefix="p/", limit=3)
    rest = ds("list_keys", prefix="p/", limit=3, cursor=page["next_cursor"])
    assert page["keys"] + rest["keys"] == [f"p/{i}" for i in range(5)]
    assert rest["next_cursor"] is None


def test_cursor_from_another_namespace_or_user_is_refused(ds):
    ds("set_many", items={"a": 1, "b": 2})
    cursor = ds("list_keys", limit=1)["next_cursor"]
    with pytest.raises(errors.InvalidCursor):
        ds("list_keys", namespace="other", limit=1, cursor=cursor)
    with pytest.raises(errors.InvalidCursor):
        ds.as_agent("x", user="other-user")("list_keys", limit=1, cursor=cursor)
    for forged in ["garbage", "", "!!!!", cursor[:-1] + ("A" if cursor[-1] != "A" else "B")]:
        with pytest.raises(errors.InvalidCursor):
            ds("list_keys", limit=1, cursor=forged)


def test_include_values_returns_values_and_counts_reads(ds):
    ds("set_many", items={"a": 1, "b": [2]})
    assert ds("list_keys", include_values=True) == {
        "keys": ["a", "b"],
        "next_cursor": None,
        "values": {"a": 1, "b": [2]},
    }
    assert ds("get", key="a", include_record=True, track_access=False)["record"]["accessCount"] == 1
    ds("list_keys", include_values=True, track_access=False)
    assert ds("get", key="b", include_record=True, track_access=False)["record"]["accessCount"] == 1


def test_list_namespaces(ds):
    for namespace in ["files:my-org/my-repo", "cache:github", "summary:my-org/my-repo", "results:job-42"]:
        ds("set", namespace=namespace, key="k", value=1)
    assert ds("list_namespaces")["namespaces"] == sorted(
        ["files:my-org/my-repo", "cache:github", "summary:my-org/my-repo", "results:job-42"]
    )
    assert ds("list_namespaces", prefix="summary:")["namespaces"] == ["summary:my-org/my-repo"]


def test_emptied_namespace_disappears(ds):
    ds("set", namespace="tmp", key="a", value=1)
    ds("set", namespace="tmp", key="b", value=1)
    ds("delete", namespace="tmp", key="a")
    assert ds("list_namespaces")["namespaces"] == ["tmp"]
    ds("delete", namespace="tmp", key="b")
    assert ds("list_namespaces")["namespaces"] == []
    ds("set", namespace="tmp2", key="a", value=1)
    ds("clear", namespace="tmp2")
    assert ds("list_namespaces")["namespaces"] == []
    assert ds("stats")["namespaces"] == []


def test_clear_deletes_only_that_namespace(ds):
    ds("set_many", items={f"k{i}": i for i in range(30)})
    ds("set", namespace="keep", key="k", value=1)
    result = ds("clear")
    assert result["deleted"] == 30 and result.get("done", True) is True
    assert ds("clear") == {"deleted": 0}
    assert ds("list_keys")["keys"] == []
    assert ds("get", namespace="keep", key="k")["found"]


def test_stats(ds):
    ds("set", namespace="s", key="a", value={"x": 1}, metadata={"m": "v"})
    ds("set", namespace="s", key="b", value="hello")
    ds("set", namespace="t", key="a", value=1)
    last = ds("get", namespace="s", key="b", include_record=True)["record"]["updatedAt"]
    stats = ds("stats")["namespaces"]
    assert [row["namespace"] for row in stats] == ["s", "t"]
    s = stats[0]
    assert s["keys"] == 2
    assert s["bytes"] == len('{"x":1}') + len('{"m":"v"}') + len('"hello"') + len("{}")
    assert s["updatedAt"] == last
    assert ds("stats", namespace="t")["namespaces"] == [stats[1]]
    assert ds("stats", namespace="nothing")["namespaces"] == []


def test_stats_follow_overwrites_and_deletes(ds):
    ds("set", namespace="s", key="a", value="x" * 100)
    ds("set", namespace="s", key="a", value="x")
    ds("set", namespace="s", key="b", value=1)
    ds("delete", namespace="s", key="b")
    (row,) = ds("stats", namespace="s")["namespaces"]
    assert row["keys"] == 1 and row["bytes"] == len('"x"') + len("{}")


def test_clear_resumes_when_out_of_time(ds, service):
    import time

    from agent_datastore.api.service import parse_request

    for batch in range(6):
        ds("set_many", namespace="big", items={f"k{batch}-{i:03d}": i for i in range(100)})
    total, calls = 0, 0
    while True:
        # A deadline already passed: every call does one backend batch and stops.
        answer = service.execute(
            "clear", parse_request("clear", {"namespace": "big"}), ds.identity, time.monotonic() - 1
        )
        calls += 1
        total += answer["deleted"]
        remaining = len(ds("list_keys", namespace="big")["keys"])
        assert remaining == 600 - total
        if answer.get("done", True):
            assert "done" not in answer and remaining == 0
            break
        assert answer == {"deleted": answer["deleted"], "done": False} and answer["deleted"] > 0
        assert calls < 700
    assert total == 600
    assert ds("list_namespaces")["namespaces"] == []


def test_stats_updated_at_is_not_moved_by_deletes(ds, clock):
    ds("set", namespace="s", key="a", value=1)
    clock.advance(1)
    ds("set_many", namespace="s", items={"b": 2, "c": 3})
    written = ds("get", namespace="s", key="b", include_record=True, track_access=False)["record"]["updatedAt"]
    clock.advance(1)
    ds("delete", namespace="s", key="b")
    clock.advance(1)
    ds("clear", namespace="other")
    assert ds("stats", namespace="s")["namespaces"][0]["updatedAt"] == written


@pytest.mark.parametrize("size", [1025, 1200, 3000])
def test_prefixes_longer_than_any_key_or_namespace_match_nothing(ds, size):
    ds("set", key="k" * 1024, value=1)
    assert ds("list_keys", prefix="k" * size) == {"keys": [], "next_cursor": None}
    assert ds("list_keys", prefix="😀" * (size // 4 + 1)) == {"keys": [], "next_cursor": None}
    assert ds("list_namespaces", prefix="d" * size) == {"namespaces": []}
    assert ds("list_namespaces", prefix="😀" * (size // 4 + 1)) == {"namespaces": []}
