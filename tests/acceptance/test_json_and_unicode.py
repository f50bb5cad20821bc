"""Numbers round-trip exactly, key order is kept, any character but NUL works in keys and namespaces."""

from __future__ import annotations

import json

import pytest

NUMBERS = [
    2**53,
    -(2**53),
    2**53 - 1,
    0,
    -1,
    0.1,
    0.30000000000000004,
    1e-300,
    5e-324,
    1.7976931348623157e308,
    -2.5e-10,
    123456789.123456789,
    1e21,
    1e22,
]


@pytest.mark.parametrize("number", NUMBERS, ids=repr)
def test_numbers_round_trip(api, number):
    api.ok("set", {"key": "n", "value": number, "metadata": {"n": number}})
    got = api.ok("get", {"key": "n"})["value"]
    assert got == number and type(got) is type(number)
    assert api.record("n")["metadata"] == {"n": number}
    assert api.ok("get_many", {"keys": ["n"]})["values"]["n"] == number
    assert api.ok("list_keys", {"include_values": True})["values"]["n"] == number


def test_numbers_inside_structures_and_batches(api):
    value = {"list": NUMBERS, "nested": {"big": 2**53, "float": 0.1}}
    api.ok("set_many", {"items": {"a": value, "b": NUMBERS}})
    answer = api.ok("get_many", {"keys": ["a", "b"]})["values"]
    assert answer == {"a": value, "b": NUMBERS}
    assert [type(x) for x in answer["b"]] == [type(x) for x in NUMBERS]


def test_float_with_integer_value_stays_a_number(api):
    api.ok("set", raw='{"key": "f", "value": [1.0, 2.50, 1e2, -0.0, 10E-1]}')
    got = api.ok("get", {"key": "f"})["value"]
    assert got == [1.0, 2.5, 100.0, 0.0, 1.0]


def test_integers_stay_integers_in_raw_text(api):
    api.ok("set", {"key": "i", "value": [9007199254740992, -9007199254740992, 12]})
    text = api.call("get", {"key": "i"}).text
    assert "9007199254740992" in text and "-9007199254740992" in text
    assert "9007199254740992.0" not in text and "e+15" not in text.lower()


def test_object_key_order_is_preserved(api):
    value = {"z": 1, "a": 2, "m": {"y": 1, "b": 2, "\U0001f600": 3, "A": 4}, "1": [{"q": 1, "p": 2}]}
    api.ok("set", {"key": "o", "value": value, "metadata": {"zz": 1, "aa": 2}})
    got = json.loads(api.call("get", {"key": "o"}).text)["value"]
    assert json.dumps(got) == json.dumps(value)
    record = api.record("o")
    assert list(record["metadata"]) == ["zz", "aa"]
    assert json.dumps(record["value"]) == json.dumps(value)
    assert json.dumps(api.ok("get_many", {"keys": ["o"]})["values"]["o"]) == json.dumps(value)


def test_unicode_strings_round_trip(api):
    value = {"emoji": "\U0001f600\U0001f680", "cjk": "日本語", "rtl": "שלום", "ctrl": "\x01\t\n\x7f", "q": '"\\/'}
    api.ok("set", {"key": "u", "value": value})
    assert api.ok("get", {"key": "u"})["value"] == value


KEYS = [
    "a/b/c",
    "/leading",
    "trailing/",
    "//",
    "a:b",
    ":",
    "::",
    "a#b",
    "#",
    "100%",
    "%2F",
    "%",
    "%%",
    "a b",
    " ",
    "  lead",
    "\U0001f600",
    "\U0001f468\u200d\U0001f469\u200d\U0001f467",
    "ключ",
    "日本",
    "tab\there",
    "new\nline",
    "back\\slash",
    'quote"d',
    "?x=1&y=2",
    "..",
    ".",
    "a.b",
    "$",
    "[x]",
    "{x}",
    "*",
    "+",
    "~",
    "e\u0301",
    "\u00e9",
    "\ufeff",
    "\u2028",
    "\ud7ff",
    "\ue000",
    "\U0010ffff",
]


def test_unicode_keys(api):
    assert len(set(KEYS)) == len(KEYS)
    for key in KEYS:
        assert api.ok("set", {"key": key, "value": key}) == {"version": 1, "created": True}, key
    for key in KEYS:
        assert api.ok("get", {"key": key}) == {"found": True, "value": key}, key
    assert api.ok("list_keys", {})["keys"] == sorted(KEYS, key=lambda k: k.encode())
    answer = api.ok("get_many", {"keys": KEYS})
    assert answer["values"] == {k: k for k in KEYS} and answer["missing"] == []
    for key in KEYS:
        assert api.ok("increment", {"namespace": "n", "key": key}) == {"value": 1, "version": 1}, key
        assert api.record(key)["key"] == key
    for key in KEYS:
        assert api.ok("delete", {"key": key}) == {"deleted": True}, key
    assert api.ok("list_keys", {}) == {"keys": [], "next_cursor": None}


NAMESPACES = ["files:my-org/my-repo", "a/b", "x#y", "100%", "\U0001f600", "a b", "ns:", ":ns", "é", "e\u0301", "%2F"]


def test_unicode_namespaces(api):
    for namespace in NAMESPACES:
        api.ok("set", {"namespace": namespace, "key": "k:1", "value": namespace})
    assert api.ok("list_namespaces", {})["namespaces"] == sorted(NAMESPACES, key=lambda n: n.encode())
    for namespace in NAMESPACES:
        assert api.ok("get", {"namespace": namespace, "key": "k:1"})["value"] == namespace
        assert api.ok("list_keys", {"namespace": namespace})["keys"] == ["k:1"]
        assert api.record("k:1", namespace)["namespace"] == namespace
    stats = api.ok("stats", {})["namespaces"]
    assert [row["namespace"] for row in stats] == sorted(NAMESPACES, key=lambda n: n.encode())
    assert all(row["keys"] == 1 for row in stats)
    for namespace in NAMESPACES:
        assert api.ok("clear", {"namespace": namespace}) == {"deleted": 1}
    assert api.ok("list_namespaces", {}) == {"namespaces": []}


def test_normalisation_forms_are_different_keys(api):
    api.ok("set", {"key": "\u00e9", "value": "nfc"})
    api.ok("set", {"key": "e\u0301", "value": "nfd"})
    assert api.ok("get", {"key": "\u00e9"})["value"] == "nfc"
    assert api.ok("get", {"key": "e\u0301"})["value"] == "nfd"
    assert api.ok("list_keys", {})["keys"] == ["e\u0301", "\u00e9"]


def test_case_sensitive_keys(api):
    api.ok("set", {"key": "Key", "value": 1})
    api.ok("set", {"key": "key", "value": 2})
    assert api.ok("get_many", {"keys": ["Key", "key", "KEY"]}) == {
        "values": {"Key": 1, "key": 2},
        "missing": ["KEY"],
        "unprocessed": [],
    }


def test_prefix_with_unicode_and_specials(api):
    api.ok("set_many", {"items": {k: 1 for k in KEYS}})
    assert api.ok("list_keys", {"prefix": "%"})["keys"] == ["%", "%%", "%2F"]
    assert api.ok("list_keys", {"prefix": "/"})["keys"] == ["//", "/leading"]
    assert api.ok("list_keys", {"prefix": "\U0001f600"})["keys"] == ["\U0001f600"]
    assert api.ok("list_keys", {"prefix": "e"})["keys"] == ["e\u0301"]
