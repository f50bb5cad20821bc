"""The limits table of API.md section 3, at its exact boundaries."""

from __future__ import annotations

import json

import pytest

from .conftest import KIB, MIB, compact

EMOJI = "\U0001f600"  # 4 bytes of UTF-8


def nested(depth: int, kind: str = "list") -> object:
    value: object = 0 if kind == "scalar" else ([] if kind == "list" else {})
    for _ in range(depth - 1):
        value = [value] if kind == "list" else {"a": value}
    return value


def test_nesting_helper():
    assert json.dumps(nested(1)) == "[]"
    assert json.dumps(nested(2, "object")) == '{"a": {}}'


# --- keys ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "key",
    ["x" * 1024, EMOJI * 256, "é" * 512, "x" * 1022 + "é", "a", " ", "\x01", "\t\n", "/", "%", "#", ":"],
    ids=["ascii-1024", "emoji-1024", "e-acute-1024", "mixed-1024", "one", "space", "ctrl", "ws", "/", "%", "#", ":"],
)
def test_valid_keys(api, key):
    assert len(key.encode("utf-8")) <= 1024
    assert api.ok("set", {"key": key, "value": key}) == {"version": 1, "created": True}
    assert api.ok("get", {"key": key}) == {"found": True, "value": key}
    assert api.ok("list_keys", {})["keys"] == [key]
    assert api.ok("get_many", {"keys": [key]})["values"] == {key: key}
    assert api.ok("increment", {"namespace": "n", "key": key}) == {"value": 1, "version": 1}
    assert api.ok("delete", {"key": key}) == {"deleted": True}


@pytest.mark.parametrize(
    "key",
    ["x" * 1025, EMOJI * 256 + "x", "é" * 512 + "x", "x" * 1023 + "é", "", "a\x00b", "\x00", "\ud800", "a\udfffb"],
    ids=["ascii-1025", "emoji-1025", "e-acute-1025", "mixed-1025", "empty", "nul-inside", "nul", "lone-hi", "lone-lo"],
)
@pytest.mark.parametrize("operation", ["get", "set", "delete", "increment"])
def test_invalid_keys(api, key, operation):
    body = {"key": key, "value": 1} if operation == "set" else {"key": key}
    api.err(operation, body, 400, "invalid_key")
    assert api.ok("list_namespaces", {}) == {"namespaces": []}


@pytest.mark.parametrize("key", [1, None, [], {}, True], ids=["int", "null", "list", "object", "bool"])
def test_key_of_wrong_type_is_invalid_key(api, key):
    api.err("set", {"key": key, "value": 1}, 400, "invalid_key")
    api.err("get", {"key": key}, 400, "invalid_key")


@pytest.mark.parametrize("operation", ["get", "set", "delete", "increment"])
def test_missing_key_is_invalid_request(api, operation):
    body = {"value": 1} if operation == "set" else {}
    api.err(operation, body, 400, "invalid_request")


def test_missing_value_is_invalid_request(api):
    api.err("set", {"key": "k"}, 400, "invalid_request")
    assert api.ok("get", {"key": "k"}) == {"found": False}


def test_invalid_key_in_batches(api):
    api.err("get_many", {"keys": ["ok", ""]}, 400, "invalid_key")
    api.err("get_many", {"keys": ["ok", "x" * 1025]}, 400, "invalid_key")
    api.err("get_many", {"keys": ["ok", 5]}, 400, "invalid_key")
    api.err("set_many", {"items": {"ok": 1, "": 2}}, 400, "invalid_key")
    api.err("set_many", {"items": {"ok": 1, "a\x00": 2}}, 400, "invalid_key")
    api.err("set_many", {"items": {"ok": 1, "x" * 1025: 2}}, 400, "invalid_key")
    assert api.ok("get", {"key": "ok"}) == {"found": False}


# --- namespaces ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "namespace",
    ["n" * 256, EMOJI * 64, "é" * 128, "files:my-org/my-repo", "a b#c%d", "x"],
    ids=["ascii-256", "emoji-256", "e-acute-256", "files", "chars", "one"],
)
def test_valid_namespaces(api, namespace):
    api.ok("set", {"namespace": namespace, "key": "k", "value": 1})
    assert api.ok("get", {"namespace": namespace, "key": "k"})["value"] == 1
    assert api.ok("list_namespaces", {}) == {"namespaces": [namespace]}
    assert api.ok("stats", {"namespace": namespace})["namespaces"][0]["namespace"] == namespace
    assert api.ok("clear", {"namespace": namespace}) == {"deleted": 1}


INVALID_NAMESPACES = pytest.mark.parametrize(
    "namespace",
    ["n" * 257, EMOJI * 64 + "n", "é" * 128 + "n", "", "a\x00", "\udc00", 5, [], {}, True],
    ids=["ascii-257", "emoji-257", "e-acute-257", "empty", "nul", "lone", "int", "list", "object", "bool"],
)


@INVALID_NAMESPACES
@pytest.mark.parametrize(
    ("operation", "body"),
    [
        ("get", {"key": "k"}),
        ("set", {"key": "k", "value": 1}),
        ("delete", {"key": "k"}),
        ("list_keys", {}),
        ("clear", {}),
        ("get_many", {"keys": ["k"]}),
        ("set_many", {"items": {"k": 1}}),
        ("increment", {"key": "k"}),
        ("stats", {}),
    ],
    ids=lambda x: x if isinstance(x, str) else "",
)
def test_invalid_namespaces(api, namespace, operation, body):
    api.err(operation, {**body, "namespace": namespace}, 400, "invalid_namespace")
    assert api.ok("list_namespaces", {}) == {"namespaces": []}


# --- values -------------------------------------------------------------------------------------


def test_value_of_exactly_one_mib_works_and_one_byte_more_does_not(api):
    # "é" is 2 bytes of UTF-8 but 6 in an ASCII-escaped body: the measure is compact UTF-8 JSON.
    overhead = len(compact({"text": "", "n": [1, 2]}))
    chars, odd = divmod(MIB - overhead, 2)
    value = {"text": "é" * chars + "x" * odd, "n": [1, 2]}
    assert len(compact(value)) == MIB
    pretty = json.dumps({"key": "big", "value": value}, indent=4, ensure_ascii=True)
    assert api.ok("set", raw=pretty) == {"version": 1, "created": True}
    assert api.ok("get", {"key": "big"}) == {"found": True, "value": value}
    record = api.record("big")
    assert record["value"] == value
    stats = api.ok("stats", {})["namespaces"][0]
    assert stats["bytes"] == MIB + 2
    too_big = {"text": value["text"] + "x", "n": [1, 2]}
    assert len(compact(too_big)) == MIB + 1
    api.err("set", {"key": "big", "value": too_big}, 413, "value_too_large")
    api.err("set", {"key": "other", "value": too_big}, 413, "value_too_large")
    api.err("set_many", {"items": {"small": 1, "other": too_big}}, 413, "value_too_large")
    assert api.ok("get", {"key": "big", "track_access": False})["value"] == value
    assert api.ok("list_keys", {}) == {"keys": ["big"], "next_cursor": None}
    # a full-size value through set_many and get_many too
    assert api.ok("set_many", {"items": {"big2": value}}) == {"written": 1, "versions": {"big2": 1}}
    assert api.ok("get_many", {"keys": ["big", "big2"]})["values"] == {"big": value, "big2": value}


def test_string_value_at_one_mib(api):
    value = "x" * (MIB - 2)
    api.ok("set", {"key": "s", "value": value})
    assert api.ok("get", {"key": "s"})["value"] == value
    api.err("set", {"key": "s", "value": value + "y"}, 413, "value_too_large")
    assert api.record("s")["version"] == 1


# --- metadata -----------------------------------------------------------------------------------


def meta_of_size(size: int, name: str = "m") -> dict[str, str]:
    base = len(compact({name: ""}))
    return {name: "x" * (size - base)}


def test_metadata_of_exactly_16_kib(api):
    metadata = meta_of_size(16 * KIB)
    assert len(compact(metadata)) == 16 * KIB
    api.ok("set", {"key": "k", "value": 1, "metadata": metadata})
    assert api.record("k")["metadata"] == metadata
    api.err("set", {"key": "j", "value": 1, "metadata": meta_of_size(16 * KIB + 1)}, 413, "value_too_large")
    assert api.ok("get", {"key": "j"}) == {"found": False}


def test_metadata_measured_as_utf8(api):
    metadata = {"m": "é" * ((16 * KIB - 8) // 2)}
    assert len(compact(metadata)) == 16 * KIB
    api.ok("set", {"key": "k", "value": 1, "metadata": metadata})


def test_metadata_as_given_counts_null_members(api):
    metadata = {**meta_of_size(16 * KIB - 120), "drop": None, "pad": "y" * 100}
    assert len(compact(metadata)) > 16 * KIB
    assert len(compact({k: v for k, v in metadata.items() if v is not None})) <= 16 * KIB
    api.err("set", {"key": "k", "value": 1, "metadata": metadata}, 413, "value_too_large")
    assert api.ok("get", {"key": "k"}) == {"found": False}


def test_metadata_after_merging_over_16_kib_writes_nothing(api):
    api.ok("set", {"key": "k", "value": "old", "metadata": meta_of_size(10 * KIB, "a")})
    error = api.err("set", {"key": "k", "value": "new", "metadata": meta_of_size(7 * KIB, "b")}, 413, "value_too_large")
    assert error["message"]
    record = api.record("k")
    assert record["value"] == "old" and record["version"] == 1 and list(record["metadata"]) == ["a"]
    # replacing a member keeps it under the limit
    api.ok("set", {"key": "k", "value": "new", "metadata": meta_of_size(10 * KIB, "a")})
    # removing one while adding another: merged size is what counts
    api.ok("set", {"key": "k", "value": "newer", "metadata": {"a": None, **meta_of_size(15 * KIB, "b")}})
    assert list(api.record("k")["metadata"]) == ["b"]


def test_merged_metadata_of_exactly_16_kib(api):
    first = meta_of_size(8 * KIB, "a")
    api.ok("set", {"key": "k", "value": 1, "metadata": first})
    # merged = {"a": ..., "b": ...}: one comma joins them, one pair of braces is shared
    second_size = 16 * KIB - len(compact(first)) + 1
    second = meta_of_size(second_size, "b")
    assert len(compact({**first, **second})) == 16 * KIB
    api.ok("set", {"key": "k", "value": 2, "metadata": second})
    api.err("set", {"key": "k", "value": 3, "metadata": {"c": 1}}, 413, "value_too_large")
    assert api.record("k")["version"] == 2


@pytest.mark.parametrize("metadata", [[], "x", 1, True], ids=["list", "string", "int", "bool"])
def test_metadata_must_be_an_object(api, metadata):
    api.err("set", {"key": "k", "value": 1, "metadata": metadata}, 400, "invalid_request")
    api.err("set_many", {"items": {"k": 1}, "metadata": metadata}, 400, "invalid_request")


# --- nesting ------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["list", "object"])
def test_value_depth_64_ok_65_not(api, kind):
    deep = nested(64, kind)
    api.ok("set", {"key": "k", "value": deep})
    assert api.ok("get", {"key": "k"})["value"] == deep
    api.err("set", {"key": "k", "value": nested(65, kind)}, 400, "invalid_value")
    api.err("set", {"key": "j", "value": [1, nested(64, kind)]}, 400, "invalid_value")
    api.err("set_many", {"items": {"a": 1, "j": nested(65, kind)}}, 400, "invalid_value")
    assert api.record("k")["version"] == 1
    assert api.ok("get_many", {"keys": ["a", "j"]})["missing"] == ["a", "j"]


def test_metadata_depth(api):
    # metadata is itself the object at depth 1
    api.ok("set", {"key": "k", "value": 1, "metadata": {"a": nested(63)}})
    api.err("set", {"key": "j", "value": 1, "metadata": {"a": nested(64)}}, 400, "invalid_value")
    api.err("set_many", {"items": {"j": 1}, "metadata": {"a": nested(64)}}, 400, "invalid_value")
    assert api.ok("get", {"key": "j"}) == {"found": False}


@pytest.mark.parametrize("count", [1000, 100_000])
def test_absurd_nesting_is_invalid_value(api, count):
    raw = '{"key": "k", "value": ' + "[" * count + "]" * count + "}"
    api.err("set", None, 400, "invalid_value", raw=raw)
    raw = '{"key": "k", "value": ' + "[" * count + "}"
    response = api.call("set", raw=raw)
    assert response.status_code == 400 and response.json()["error"]["code"] in {"invalid_value", "invalid_json"}


# --- numbers and strings ------------------------------------------------------------------------


def bodies(text: str) -> list[tuple[str, str]]:
    """Raw request bodies with TEXT spliced into a value, an object key, metadata and a batch item."""
    return [
        ("set", '{"key": "k", "value": TEXT}'),
        ("set", '{"key": "k", "value": {"a": [TEXT]}}'),
        ("set", '{"key": "k", "value": 1, "metadata": {"a": TEXT}}'),
        ("set_many", '{"items": {"a": 1, "b": TEXT}}'),
        ("set_many", '{"items": {"a": 1}, "metadata": {"a": TEXT}}'),
    ]


@pytest.mark.parametrize("number", ["1e400", "-1e400", "NaN", "Infinity", "-Infinity"])
def test_non_finite_numbers_are_invalid_value(api, number):
    for operation, raw in bodies(number):
        api.err(operation, None, 400, "invalid_value", raw=raw.replace("TEXT", number))
    api.err("increment", None, 400, "invalid_value", raw='{"key": "k", "by": TEXT}'.replace("TEXT", number))
    assert api.ok("list_namespaces", {}) == {"namespaces": []}


@pytest.mark.parametrize("text", ["\\ud800", "a\\udc00b", "\\udfff\\ud800"])
def test_lone_surrogates_in_values_are_invalid_value(api, text):
    for operation, raw in bodies(f'"{text}"'):
        api.err(operation, None, 400, "invalid_value", raw=raw.replace("TEXT", f'"{text}"'))
    api.err("set", None, 400, "invalid_value", raw='{"key": "k", "value": {"TEXT": 1}}'.replace("TEXT", text))
    assert api.ok("list_namespaces", {}) == {"namespaces": []}


def test_escaped_surrogate_pair_is_fine(api):
    api.ok("set", raw='{"key": "k", "value": "\\ud83d\\ude00"}')
    assert api.ok("get", {"key": "k"})["value"] == EMOJI


# --- member types -------------------------------------------------------------------------------

NOT_INTEGERS = pytest.mark.parametrize("bad", [2.0, 1.5, True, False, "2", [2], {}], ids=str)


@NOT_INTEGERS
def test_limit_must_be_integer(api, bad):
    api.err("list_keys", {"limit": bad}, 400, "invalid_request")


@NOT_INTEGERS
def test_ttl_seconds_must_be_integer(api, bad):
    api.err("set", {"key": "k", "value": 1, "ttl_seconds": bad}, 400, "invalid_request")
    api.err("set_many", {"items": {"k": 1}, "ttl_seconds": bad}, 400, "invalid_request")
    api.err("increment", {"key": "k", "ttl_seconds": bad}, 400, "invalid_request")
    assert api.ok("get", {"key": "k"}) == {"found": False}


@NOT_INTEGERS
def test_if_version_must_be_integer(api, bad):
    api.ok("set", {"key": "k", "value": 1})
    api.err("set", {"key": "k", "value": 2, "if_version": bad}, 400, "invalid_request")
    api.err("delete", {"key": "k", "if_version": bad}, 400, "invalid_request")
    assert api.record("k")["version"] == 1


def test_if_version_must_not_be_negative(api):
    api.err("set", {"key": "k", "value": 2, "if_version": -1}, 400, "invalid_request")
    api.err("delete", {"key": "k", "if_version": -1}, 400, "invalid_request")
    assert api.ok("get", {"key": "k"}) == {"found": False}


@pytest.mark.parametrize("ttl", [0, -1, 31_536_001, 10**20])
def test_ttl_out_of_range(api, ttl):
    api.err("set", {"key": "k", "value": 1, "ttl_seconds": ttl}, 400, "invalid_request")
    api.err("set_many", {"items": {"k": 1}, "ttl_seconds": ttl}, 400, "invalid_request")
    api.err("increment", {"key": "k", "ttl_seconds": ttl}, 400, "invalid_request")
    assert api.ok("get", {"key": "k"}) == {"found": False}


@pytest.mark.parametrize("ttl", [1, 31_536_000])
def test_ttl_bounds_accepted(api, ttl):
    api.ok("set", {"key": "k", "value": 1, "ttl_seconds": ttl})
    api.ok("set_many", {"items": {"m": 1}, "ttl_seconds": ttl})
    assert api.ok("increment", {"key": "n", "ttl_seconds": ttl}) == {"value": 1, "version": 1}
    if ttl > 1:
        assert api.record("n")["expiresAt"] is not None
        assert api.ok("get_many", {"keys": ["k", "m"]})["missing"] == []


@pytest.mark.parametrize("limit", [0, -1, 1001, 10**12])
def test_limit_out_of_range(api, limit):
    api.err("list_keys", {"limit": limit}, 400, "invalid_request")


def test_limit_bounds(api):
    api.ok("set_many", {"items": {f"k{i:02d}": i for i in range(3)}})
    assert api.ok("list_keys", {"limit": 1})["keys"] == ["k00"]
    assert api.ok("list_keys", {"limit": 1000}) == {"keys": ["k00", "k01", "k02"], "next_cursor": None}


def test_null_optional_members_count_as_absent(api):
    assert api.ok("set", {"key": "k", "value": 1, "namespace": None, "metadata": None, "ttl_seconds": None}) == {
        "version": 1,
        "created": True,
    }
    assert api.ok("set", {"key": "k", "value": 2, "if_version": None}) == {"version": 2, "created": False}
    assert api.ok("get", {"key": "k", "namespace": None, "include_record": None, "track_access": None}) == {
        "found": True,
        "value": 2,
    }
    assert api.record("k")["accessCount"] == 1
    assert api.ok(
        "list_keys",
        {
            "namespace": None,
            "prefix": None,
            "limit": None,
            "cursor": None,
            "include_values": None,
            "track_access": None,
        },
    ) == {"keys": ["k"], "next_cursor": None}
    assert api.ok("get_many", {"keys": ["k"], "namespace": None, "track_access": None})["values"] == {"k": 2}
    assert api.ok("set_many", {"items": {"m": 1}, "namespace": None, "metadata": None, "ttl_seconds": None}) == {
        "written": 1,
        "versions": {"m": 1},
    }
    assert api.ok("increment", {"key": "n", "namespace": None, "by": None, "ttl_seconds": None}) == {
        "value": 1,
        "version": 1,
    }
    assert api.ok("list_namespaces", {"prefix": None}) == {"namespaces": ["default"]}
    assert api.ok("stats", {"namespace": None})["namespaces"][0]["keys"] == 3
    assert api.ok("delete", {"key": "k", "namespace": None, "if_version": None}) == {"deleted": True}
    assert api.ok("clear", {"namespace": None}) == {"deleted": 2}


@pytest.mark.parametrize(
    ("operation", "body"),
    [
        ("get", {"key": "k", "include_record": "yes"}),
        ("get", {"key": "k", "track_access": 1}),
        ("list_keys", {"prefix": 1}),
        ("list_keys", {"include_values": "true"}),
        ("list_namespaces", {"prefix": []}),
        ("get_many", {"keys": "k"}),
        ("get_many", {"keys": {"k": 1}}),
        ("get_many", {}),
        ("set_many", {"items": [["k", 1]]}),
        ("set_many", {"items": "k"}),
        ("set_many", {}),
        ("increment", {"key": "k", "by": "1"}),
    ],
)
def test_wrong_member_types_are_invalid_request(api, operation, body):
    api.err(operation, body, 400, "invalid_request")


@pytest.mark.parametrize("cursor", [1, [], {}, True])
def test_non_string_cursor_is_invalid_cursor(api, cursor):
    api.err("list_keys", {"cursor": cursor}, 400, "invalid_cursor")


# --- batch sizes --------------------------------------------------------------------------------


def test_get_many_100_keys_ok_101_not(api):
    api.ok("set_many", {"items": {f"k{i}": i for i in range(100)}})
    answer = api.ok("get_many", {"keys": [f"k{i}" for i in range(100)]})
    assert answer["values"] == {f"k{i}": i for i in range(100)}
    assert answer["missing"] == [] and answer["unprocessed"] == []
    api.err("get_many", {"keys": [f"k{i}" for i in range(101)]}, 400, "too_many_keys")
    api.err("get_many", {"keys": ["k0"] * 101}, 400, "too_many_keys")  # duplicates count
    answer = api.ok("get_many", {"keys": ["k0"] * 100})
    assert answer == {"values": {"k0": 0}, "missing": [], "unprocessed": []}
    assert api.record("k0")["accessCount"] == 2  # read once per request


def test_set_many_100_items_ok_101_not(api):
    answer = api.ok("set_many", {"items": {f"k{i}": i for i in range(100)}})
    assert answer["written"] == 100 and answer["versions"] == {f"k{i}": 1 for i in range(100)}
    api.err("set_many", {"namespace": "x", "items": {f"k{i}": i for i in range(101)}}, 400, "too_many_keys")
    assert api.ok("list_namespaces", {}) == {"namespaces": ["default"]}
    assert len(api.ok("list_keys", {})["keys"]) == 100


# --- request and response size ------------------------------------------------------------------


def test_request_body_of_exactly_6_mib_is_accepted_one_byte_more_is_not(api):
    head = '{"key": "k", "value": 1'
    body = head + " " * (6 * MIB - len(head) - 1) + "}"
    assert len(body.encode()) == 6 * MIB
    assert api.ok("set", raw=body) == {"version": 1, "created": True}
    body = head + " " * (6 * MIB - len(head)) + "}"
    api.err("set", None, 413, "payload_too_large", raw=body)
    assert api.record("k")["version"] == 1


def test_huge_request_body_is_payload_too_large(api):
    api.err("set_many", None, 413, "payload_too_large", raw=json.dumps({"items": {"a": "x" * (7 * MIB)}}))
    api.err("get", None, 413, "payload_too_large", raw=b"x" * (7 * MIB))
    assert api.ok("list_namespaces", {}) == {"namespaces": []}


def test_get_many_returns_what_fits_and_lists_the_rest_as_unprocessed(api):
    value = "v" * (MIB - 2)
    keys = [f"big{i}" for i in range(7)]
    api.ok("set_many", {"items": {k: value for k in keys[:4]}})
    api.ok("set_many", {"items": {k: value for k in keys[4:]}})
    response = api.call("get_many", {"keys": [*keys, "absent"]})
    assert response.status_code == 200
    assert len(response.content) <= 6 * MIB
    answer = response.json()
    assert answer["missing"] in ([], ["absent"])  # "absent" may be left unprocessed
    assert answer["unprocessed"], "7 MiB cannot fit in a 6 MiB response"
    assert set(answer["values"]) | set(answer["unprocessed"]) | set(answer["missing"]) == {*keys, "absent"}
    assert not set(answer["values"]) & set(answer["unprocessed"])
    assert all(v == value for v in answer["values"].values())
    assert answer["unprocessed"] == [k for k in [*keys, "absent"] if k in answer["unprocessed"]]  # request order
    # the SDK asks again for the rest
    again = api.ok("get_many", {"keys": answer["unprocessed"]})
    assert set(again["values"]) == set(answer["unprocessed"]) - {"absent"} and again["unprocessed"] == []
    # list_keys with include_values: pages stay under 6 MiB, every key once
    seen, cursor = [], None
    while True:
        response = api.call("list_keys", {"include_values": True, "cursor": cursor, "track_access": False})
        assert response.status_code == 200 and len(response.content) <= 6 * MIB
        page = response.json()
        assert set(page["values"]) == set(page["keys"])
        seen += page["keys"]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == sorted(keys)
