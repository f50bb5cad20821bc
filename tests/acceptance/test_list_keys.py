"""list_keys: byte order, literal prefixes, stable pages, cursors, include_values."""

from __future__ import annotations

import base64

import pytest

from .conftest import clear_all

KEYS = [
    "a",
    "B",
    "b",
    "a%",
    "a%b",
    "a_",
    "a*",
    "ab",
    "a b",
    "a/b",
    "a:b",
    "a#b",
    "é",
    "e",
    "\uff5e",
    "\U0001f600",
    "\U0001f600x",
    "z",
    "~",
    "\x7f",
    "10",
    "9",
    "日本",
]


def by_bytes(keys):
    return sorted(keys, key=lambda k: k.encode("utf-8"))


def walk(api, body, limit):
    keys, cursor, pages = [], None, 0
    while True:
        page = api.ok("list_keys", {**body, "limit": limit, "cursor": cursor})
        pages += 1
        assert set(page) == {"keys", "next_cursor"}
        assert len(page["keys"]) <= limit
        keys += page["keys"]
        cursor = page["next_cursor"]
        if cursor is None:
            return keys, pages
        assert isinstance(cursor, str) and cursor
        assert pages < 1000


def test_keys_in_utf8_byte_order(api):
    api.ok("set_many", {"items": {k: k for k in KEYS}})
    assert api.ok("list_keys", {}) == {"keys": by_bytes(KEYS), "next_cursor": None}


def test_prefix_is_literal(api):
    api.ok("set_many", {"items": {k: 1 for k in KEYS}})
    cases = {
        "a%": ["a%", "a%b"],
        "a_": ["a_"],
        "a*": ["a*"],
        "a": by_bytes([k for k in KEYS if k.startswith("a")]),
        "é": ["é"],
        "\U0001f600": ["\U0001f600", "\U0001f600x"],
        "a b": ["a b"],
        "A": [],
        "ab": ["ab"],
        "": by_bytes(KEYS),
        "zz": [],
    }
    for prefix, expected in cases.items():
        assert api.ok("list_keys", {"prefix": prefix}) == {"keys": expected, "next_cursor": None}, prefix


def test_prefix_does_not_cross_namespaces(api):
    api.ok("set", {"namespace": "n1", "key": "abc", "value": 1})
    api.ok("set", {"namespace": "n1x", "key": "abc", "value": 1})
    assert api.ok("list_keys", {"namespace": "n1", "prefix": "a"})["keys"] == ["abc"]
    assert api.ok("list_keys", {"namespace": "n", "prefix": ""})["keys"] == []


@pytest.mark.parametrize("limit", [1, 2, 5, 23, 24, 1000])
def test_pages_are_min_of_limit_and_remaining_and_walk_every_key_once(api, limit):
    api.ok("set_many", {"items": {k: 1 for k in KEYS}})
    keys, pages = walk(api, {}, limit)
    assert keys == by_bytes(KEYS)
    full, rest = divmod(len(KEYS), limit)
    assert pages in {full + (1 if rest else 0), full + 1}  # a last empty page is allowed
    first = api.ok("list_keys", {"limit": limit})
    assert len(first["keys"]) == min(limit, len(KEYS))


def test_every_page_is_full_until_the_end(api):
    api.ok("set_many", {"items": {f"k{i:03d}": i for i in range(25)}})
    cursor = None
    sizes = []
    while True:
        page = api.ok("list_keys", {"limit": 7, "cursor": cursor})
        sizes.append(len(page["keys"]))
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert sizes in ([7, 7, 7, 4], [7, 7, 7, 4, 0])


def test_walk_with_prefix(api):
    api.ok("set_many", {"items": {f"p{i:03d}": i for i in range(30)}})
    api.ok("set_many", {"items": {f"q{i:03d}": i for i in range(10)}})
    api.ok("set_many", {"items": {f"o{i:03d}": i for i in range(10)}})
    keys, _ = walk(api, {"prefix": "p"}, 4)
    assert keys == [f"p{i:03d}" for i in range(30)]


def test_more_than_one_default_page(api):
    for start in range(0, 1100, 100):
        api.ok("set_many", {"items": {f"k{i:05d}": i for i in range(start, min(start + 100, 1100))}})
    first = api.ok("list_keys", {})
    assert len(first["keys"]) == 1000 and first["next_cursor"]
    second = api.ok("list_keys", {"cursor": first["next_cursor"]})
    assert second["keys"] == [f"k{i:05d}" for i in range(1000, 1100)]
    assert second["next_cursor"] is None or api.ok("list_keys", {"cursor": second["next_cursor"]}) == {
        "keys": [],
        "next_cursor": None,
    }
    assert api.ok("list_namespaces", {}) == {"namespaces": ["default"]}
    assert api.ok("stats", {})["namespaces"][0]["keys"] == 1100
    assert clear_all(api) == 1100
    assert api.ok("list_namespaces", {}) == {"namespaces": []}


def test_cursor_stays_valid_after_writes_elsewhere(api):
    api.ok("set_many", {"items": {f"k{i}": i for i in range(6)}})
    page = api.ok("list_keys", {"limit": 3})
    api.ok("set", {"namespace": "other", "key": "x", "value": 1})
    rest = api.ok("list_keys", {"limit": 3, "cursor": page["next_cursor"]})
    assert page["keys"] + rest["keys"] == [f"k{i}" for i in range(6)]


def test_cursor_after_deleting_the_last_seen_key(api):
    api.ok("set_many", {"items": {f"k{i}": i for i in range(6)}})
    page = api.ok("list_keys", {"limit": 3})
    api.ok("delete", {"key": "k2"})
    rest = api.ok("list_keys", {"limit": 10, "cursor": page["next_cursor"]})
    assert rest["keys"] == ["k3", "k4", "k5"]


def cursor_for(api, namespace="default"):
    api.ok("set_many", {"namespace": namespace, "items": {"a": 1, "b": 2, "c": 3}})
    cursor = api.ok("list_keys", {"namespace": namespace, "limit": 1})["next_cursor"]
    assert isinstance(cursor, str) and cursor
    return cursor


def test_cursor_from_another_user_is_invalid(new_api):
    alice, bob = new_api(), new_api()
    cursor = cursor_for(alice)
    bob.ok("set_many", {"items": {"a": 1, "b": 2, "c": 3}})
    bob.err("list_keys", {"cursor": cursor}, 400, "invalid_cursor")


def test_cursor_from_another_namespace_is_invalid(api):
    cursor = cursor_for(api, "one")
    api.ok("set_many", {"namespace": "two", "items": {"a": 1, "b": 2, "c": 3}})
    api.err("list_keys", {"namespace": "two", "cursor": cursor}, 400, "invalid_cursor")
    api.err("list_keys", {"cursor": cursor}, 400, "invalid_cursor")
    assert api.ok("list_keys", {"namespace": "one", "cursor": cursor})["keys"] == ["b", "c"]


def test_cursor_with_another_prefix_is_accepted_or_rejected_cleanly(api):
    cursor = cursor_for(api)
    response = api.call("list_keys", {"cursor": cursor, "prefix": "c"})
    assert response.status_code in (200, 400)


def flip(text: str, index: int) -> str:
    char = text[index]
    return text[:index] + ("A" if char != "A" else "B") + text[index + 1 :]


def forged_cursors(real: str) -> list[str]:
    forged = [
        "abc",
        "x",
        " ",
        "null",
        "0",
        "\U0001f600",
        real + "x",
        real[:-1],
        real[: len(real) // 2],
        flip(real, 0),
        flip(real, len(real) // 2),
        flip(real, -1),
        base64.urlsafe_b64encode(b'{"key": "b"}').decode(),
        base64.b64encode(b"default:b").decode(),
        "a" * 5000,
    ]
    return [f for f in forged if f != real]


def test_forged_cursors_are_invalid(api):
    real = cursor_for(api)
    for forged in forged_cursors(real):
        api.err("list_keys", {"cursor": forged}, 400, "invalid_cursor")


def test_empty_cursor_is_invalid_and_null_is_none(api):
    api.ok("set", {"key": "a", "value": 1})
    api.err("list_keys", {"cursor": ""}, 400, "invalid_cursor")
    assert api.ok("list_keys", {"cursor": None}) == {"keys": ["a"], "next_cursor": None}


def test_include_values(api):
    items = {"a": {"x": 1}, "b": [1, 2], "c": None, "d": "", "e": 0}
    api.ok("set_many", {"items": items})
    page = api.ok("list_keys", {"include_values": True})
    assert page == {"keys": ["a", "b", "c", "d", "e"], "next_cursor": None, "values": items}
    page = api.ok("list_keys", {"include_values": True, "limit": 2, "prefix": ""})
    assert page["keys"] == ["a", "b"] and page["values"] == {"a": {"x": 1}, "b": [1, 2]}
    rest = api.ok("list_keys", {"include_values": True, "cursor": page["next_cursor"], "track_access": False})
    assert rest["keys"] == ["c", "d", "e"] and rest["values"] == {"c": None, "d": "", "e": 0}
    counts = {k: api.record(k)["accessCount"] for k in items}
    assert counts == {"a": 2, "b": 2, "c": 1, "d": 1, "e": 1}


def test_include_values_false_has_no_values(api):
    api.ok("set", {"key": "a", "value": 1})
    assert api.ok("list_keys", {"include_values": False}) == {"keys": ["a"], "next_cursor": None}


def test_include_values_on_empty_namespace(api):
    page = api.ok("list_keys", {"include_values": True})
    assert page["keys"] == [] and page["next_cursor"] is None and page.get("values", {}) == {}


EMOJI = "\U0001f600"


@pytest.mark.parametrize("size", [1025, 1100, 1200, 3000], ids=lambda n: f"{n}B")
@pytest.mark.parametrize("char", ["x", EMOJI], ids=["ascii", "emoji"])
def test_prefix_longer_than_any_key_matches_nothing(api, size, char):
    api.ok("set", {"key": "k", "value": 1})
    prefix = char * (size // len(char.encode()))
    assert api.ok("list_keys", {"prefix": prefix}) == {"keys": [], "next_cursor": None}


@pytest.mark.parametrize("size", [257, 1100, 1200, 3000], ids=lambda n: f"{n}B")
@pytest.mark.parametrize("char", ["x", EMOJI], ids=["ascii", "emoji"])
def test_namespace_prefix_longer_than_any_namespace_matches_nothing(api, size, char):
    api.ok("set", {"key": "k", "value": 1})
    prefix = char * (size // len(char.encode()))
    assert api.ok("list_namespaces", {"prefix": prefix}) == {"namespaces": []}


def test_prefix_equal_to_a_longest_key(api):
    keys = [EMOJI * 256, "x" * 1024, "x" * 1023]
    api.ok("set_many", {"items": {k: 1 for k in keys}})
    assert api.ok("list_keys", {"prefix": EMOJI * 256})["keys"] == [EMOJI * 256]
    assert api.ok("list_keys", {"prefix": "x" * 1023})["keys"] == ["x" * 1023, "x" * 1024]
    assert api.ok("list_keys", {"prefix": "x" * 1024})["keys"] == ["x" * 1024]
    page = api.ok("list_keys", {"limit": 1})
    assert api.ok("list_keys", {"limit": 5, "cursor": page["next_cursor"]})["keys"] == by_bytes(keys)[1:]


def test_namespace_prefix_equal_to_a_longest_namespace(api):
    api.ok("set", {"namespace": EMOJI * 64, "key": "k", "value": 1})
    api.ok("set", {"namespace": "n" * 256, "key": "k", "value": 1})
    assert api.ok("list_namespaces", {"prefix": EMOJI * 64}) == {"namespaces": [EMOJI * 64]}
    assert api.ok("list_namespaces", {"prefix": "n" * 256}) == {"namespaces": ["n" * 256]}
